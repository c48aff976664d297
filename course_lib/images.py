"""Images in and out (ground layer): the one uint8 ↔ [-1, 1] conversion, the one image reader, the one writer.

Conventions, said once: images in the model range **[-1, 1]** (uint8 ``v`` ↦ ``v / 127.5 − 1``), float32,
channels first — one image ``(C, H, W)``, a batch ``(B, C, H, W)``; uint8 arrays are channels last,
``(H, W, C)`` or ``(B, H, W, C)``, as Pillow and matplotlib want them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from .checks import check_int
from .files import atomic_write

__all__ = [
    "IMAGE_EXTENSIONS",
    "to_tensor",
    "to_uint8",
    "uint8_to_model",
    "read_image",
    "image_size",
    "write_image",
    "jpeg_round_trip",
    "MODEL_RANGE",
    "RANGE_SLACK",
    "to_model_range",
    "check_finite",
    "check_model_range",
]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
#: the range every network of the course sees its images in
MODEL_RANGE = (-1.0, 1.0)
#: how far beyond it an input may stray (a resize's overshoot, rounding) before it is taken for another range
RANGE_SLACK = 0.1


def to_model_range(x: torch.Tensor, low: float = 0.0, high: float = 255.0) -> torch.Tensor:
    """Values in [``low``, ``high``] (8-bit ``[0, 255]`` by default; ``low=0, high=1`` for [0, 1] floats) mapped to the
    model range [-1, 1]: ``2 (x − low) / (high − low) − 1`` (for uint8 this is :func:`uint8_to_model`)."""
    if not high > low:
        raise ValueError(f"high: expected a number above low = {low!r}, got {high!r}")
    return (torch.as_tensor(x).to(torch.float32) - low) * (2.0 / (high - low)) - 1.0


def check_finite(x: torch.Tensor, name: str = "y", expected: str = "finite values") -> torch.Tensor:
    """A ``ValueError`` naming ``name`` when ``x`` (real or complex) holds NaN or ±inf: how many of each, and where to
    look. Returns ``x``."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name}: expected a tensor of {expected}, got {type(x).__name__}")
    finite = torch.isfinite(x)
    if not bool(finite.all()):
        nan = int(torch.isnan(x).sum())
        raise ValueError(
            f"{name}: expected {expected}, got {nan} NaN and {int((~finite).sum()) - nan} "
            f"infinite of {x.numel()}; find where they came from (a division by zero, a failed read)"
        )
    return x


def check_model_range(x: torch.Tensor, name: str = "y", noise: float = 0.0) -> torch.Tensor:
    """Refuse an input a model would silently misread: a ``ValueError`` naming ``name`` when ``x`` holds NaN or ±inf,
    or values outside [-1, 1] by more than :data:`RANGE_SLACK` (plus 6 σ for inputs with Gaussian noise of ``noise``
    = σ on the [-1, 1] scale), with the range found, the range expected and the fix. Returns ``x``."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        got = x.dtype if isinstance(x, torch.Tensor) else type(x).__name__
        raise TypeError(
            f"{name}: expected a floating-point tensor in the model range [-1, 1], got {got}; "
            f"convert 8-bit images with course_lib.images.to_model_range({name})"
        )
    if x.numel() == 0:
        raise ValueError(f"{name}: expected at least one pixel, got shape {tuple(x.shape)}")
    check_finite(x, name, "finite values in [-1, 1]")
    low, high = float(x.min()), float(x.max())
    slack = RANGE_SLACK + 6 * float(noise)
    if low < MODEL_RANGE[0] - slack or high > MODEL_RANGE[1] + slack:
        guess = " (8-bit values?)" if high > 2 and low >= 0 else ""
        raise ValueError(
            f"{name}: expected values in the model range [-1, 1] (± {slack:g}), got [{low:.4g}, {high:.4g}]"
            f"{guess}; convert with course_lib.images.to_model_range({name}, low, high), e.g. "
            f"to_model_range({name}, 0, 255) for 8-bit values or to_model_range({name}, 0, 1) for [0, 1]"
        )
    return x


def uint8_to_model(a: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 values to float32 in [-1, 1], shape unchanged: ``v / 127.5 − 1`` (the course's one conversion in)."""
    t = torch.from_numpy(np.asarray(a).astype(np.float32)) if isinstance(a, np.ndarray) else a.to(torch.float32)
    return t / 127.5 - 1.0


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 image(s) to float32 in [-1, 1], channels first.

    Accepts ``(H, W)`` and ``(H, W, C)`` → ``(C, H, W)``; ``(N, H, W)`` is read as a
    stack of grayscale images → ``(N, 1, H, W)``; ``(N, H, W, C)`` → ``(N, C, H, W)``.
    """
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        got = image.dtype if isinstance(image, np.ndarray) else type(image).__name__
        raise TypeError(f"image must be a uint8 numpy array, got {got}")
    t = uint8_to_model(image)
    if image.ndim == 2:
        return t[None]
    if image.ndim == 3 and image.shape[-1] in (1, 3):
        return t.permute(2, 0, 1).contiguous()
    if image.ndim == 3:
        return t[:, None]
    if image.ndim == 4 and image.shape[-1] in (1, 3):
        return t.permute(0, 3, 1, 2).contiguous()
    raise ValueError(f"image must have shape (H, W), (H, W, C), (N, H, W) or (N, H, W, C), got {image.shape}")


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """[-1, 1] tensor ``(C, H, W)`` or ``(B, C, H, W)`` to uint8 channels-last ``(H, W, C)`` / ``(B, H, W, C)``.

    Values are clipped to [-1, 1] and rounded to the nearest level (the course's one conversion out).
    """
    if not isinstance(x, torch.Tensor) or x.dim() not in (3, 4):
        raise ValueError(f"x must be a tensor of shape (C, H, W) or (B, C, H, W), got {getattr(x, 'shape', x)}")
    y = ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return y.movedim(-3, -1).cpu().numpy()


def read_image(image: str | os.PathLike | np.ndarray, channels: int | None = None) -> np.ndarray:
    """An image file or array as uint8 ``(H, W, C)``, C = 1 (grayscale) or 3 (RGB), with clear errors.

    Args:
        image: a file (PNG, JPEG, … read by Pillow) or an array: uint8 ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)``,
            or floats in [0, 1].
        channels: ``None`` keeps what the file holds (palette images become RGB, ``LA`` becomes ``L``; 16-bit, float
            and RGBA files are refused, since dropping alpha or bits silently would be a wrong answer); 1 or 3
            converts with Pillow (``L`` / ``RGB``), e.g. for a dataset that needs one kind.

    Returns:
        uint8 ``(H, W, C)``.
    """
    if channels not in (None, 1, 3):
        raise ValueError(f"channels must be None, 1 or 3, got {channels!r}")
    if isinstance(image, (str, os.PathLike)):
        arr = _read_file(Path(image), channels)
    elif isinstance(image, np.ndarray):
        arr = _check_array(image)
        if channels is not None and arr.shape[-1] != channels:
            raise ValueError(f"the image array has {arr.shape[-1]} channel(s), expected channels={channels}")
    else:
        raise TypeError(f"image must be a file path or a numpy array, got {type(image).__name__}")
    return arr[..., None] if arr.ndim == 2 else arr


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(width, height)`` of an image file, read from its header only (a ``ValueError`` if it is not an image)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return im.size
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"{path} is not a readable image file ({err})") from err


def _read_file(path: Path, channels: int | None) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise FileNotFoundError(f"input image {str(path)!r} does not exist")
    if path.stat().st_size == 0:
        raise ValueError(f"input image {str(path)!r} is an empty file")
    try:
        with Image.open(path) as im:
            im.load()
            if channels is not None:
                return np.asarray(im.convert("L" if channels == 1 else "RGB")).copy()
            if im.mode in ("P", "PA"):
                im = im.convert("RGBA" if "transparency" in im.info or im.mode == "PA" else "RGB")
            if im.mode == "LA":
                im = im.convert("L")
            if im.mode in ("I;16", "I", "F"):
                raise ValueError(f"input image {str(path)!r} has {im.mode} pixels; save it as 8-bit grayscale or RGB")
            if im.mode == "RGBA":
                raise ValueError(
                    f"input image {str(path)!r} has 4 channels (RGBA); the models take 1 (grayscale) "
                    "or 3 (RGB) channels: drop the alpha channel first"
                )
            if im.mode not in ("L", "RGB"):
                im = im.convert("RGB")
            return np.asarray(im).copy()
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise ValueError(f"input image {str(path)!r} is not a readable image file ({err})") from err


def _check_array(image: np.ndarray) -> np.ndarray:
    arr = image
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] != 3):
        raise ValueError(f"image must have shape (H, W), (H, W, 1) or (H, W, 3) (1 or 3 channels), got {image.shape}")
    if arr.size == 0:
        raise ValueError(f"image is empty, shape {image.shape}")
    if arr.dtype == np.uint8:
        return arr
    if np.issubdtype(arr.dtype, np.floating):
        if np.isnan(arr).any() or arr.min() < 0 or arr.max() > 1:
            raise ValueError(
                f"a float image must lie in [0, 1] without NaN, got [{np.nanmin(arr):.3g}, {np.nanmax(arr):.3g}]"
            )
        return np.round(arr * 255).astype(np.uint8)
    raise ValueError(f"image must be uint8 or float in [0, 1], got dtype {arr.dtype}")


def write_image(arr: np.ndarray, out: str | os.PathLike, overwrite: bool = False) -> Path:
    """Save uint8 ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)`` to ``out`` atomically; an existing file is kept unless
    ``overwrite`` (a ``FileExistsError`` says so), and ``out`` must have an image extension."""
    from PIL import Image

    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"output {str(out)!r} exists; pass --overwrite to replace it")
    if out.suffix.lower() not in IMAGE_EXTENSIONS:
        raise ValueError(f"output {str(out)!r} needs an image extension (.png, .jpg, …)")
    arr = np.asarray(arr)
    with atomic_write(out) as tmp:
        Image.fromarray(arr[..., 0] if arr.ndim == 3 and arr.shape[-1] == 1 else arr).save(tmp)
    return out


def jpeg_round_trip(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode a uint8 image ``(H, W)`` or ``(H, W, 3)`` as JPEG at ``quality`` (1 … 100, Pillow's scale) and decode
    it again: the compression artefacts of a real-world degradation (lesson 08), same shape and dtype."""
    import io

    from PIL import Image

    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise TypeError(
            f"image must be a uint8 array (H, W) or (H, W, 3), got {getattr(image, 'shape', type(image).__name__)}"
        )
    check_int(quality, "quality", low=1, high=100)
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=int(quality))
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("L" if image.ndim == 2 else "RGB"))
