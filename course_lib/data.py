"""Data for super-resolution · 数据与退化 (lesson 00).

Conventions
-----------
* Images in the model range **[-1, 1]** (uint8 ``v`` ↦ ``v / 127.5 − 1``), float32,
  channels first: one image ``(C, H, W)``, a batch ``(B, C, H, W)``.
* The **degradation** (退化) that makes a low-resolution input from a high-resolution
  image, Eq. 00.1:  y = D_s(k_σ ⊛ x) + n,  with

  - k_σ an optional Gaussian blur of standard deviation σ (in HR pixels; σ = 0: none),
  - D_s downsampling by the integer scale s, either ``"area"`` (the mean of each s × s
    block: an exact box filter, the course default) or ``"bicubic"`` (Keys cubic,
    a = −0.5, **with** antialiasing: the kernel is widened by s; identical to PIL's
    ``Image.resize(..., BICUBIC)`` and the kernel of MATLAB's ``imresize``),
  - n optional Gaussian noise of standard deviation ``noise_std`` (in [-1, 1] units),
    drawn with an explicit generator, then the result is clipped to [-1, 1].

* Every dataset yields ``(hr, lr)`` pairs: ``hr`` ``(C, H, W)`` and
  ``lr`` ``(C, H / s, W / s)``, both in [-1, 1].

Files are read from ``data/`` next to the package (``COURSE_DATA_DIR`` overrides it)
and checked against ``data/manifest.json`` (sha256) before use.
"""

from __future__ import annotations

import functools
import io
import json
import os
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from .checkpoints import sha256_file

__all__ = [
    "data_dir",
    "load_manifest",
    "write_cached",
    "verify_file",
    "load_digits",
    "photo_paths",
    "load_image",
    "to_tensor",
    "to_uint8",
    "gaussian_blur",
    "downsample",
    "degrade",
    "upsample",
    "DigitsSR",
    "ImageFolderSR",
    "PhotosSR",
    "IMAGE_EXTENSIONS",
    "DataFileError",
    "toy_points",
    "TOY_SETS",
    "register_data_file",
    "files_table",
    "write_npz",
]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
DOWNSAMPLE_KERNELS = ("area", "bicubic")
UPSAMPLE_MODES = ("bicubic", "bilinear", "nearest")


class DataFileError(RuntimeError):
    """A data file is missing, corrupt, or does not match its recorded sha256."""


# --------------------------------------------------------------------------- files
def data_dir() -> Path:
    """The folder holding the course data (``data/`` at the repository root, or ``$COURSE_DATA_DIR``)."""
    env = os.environ.get("COURSE_DATA_DIR")
    path = Path(env) if env else Path(__file__).resolve().parent.parent / "data"
    if not path.is_dir():
        raise DataFileError(
            f"the course data folder {path} does not exist; run from a clone of the course "
            "repository or set COURSE_DATA_DIR to its data/ folder"
        )
    return path


@functools.lru_cache(maxsize=4)
def _manifest(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise DataFileError(f"{path} is missing; regenerate the data with `make data`") from err
    except json.JSONDecodeError as err:
        raise DataFileError(f"{path} is not valid JSON ({err}); restore it with `git checkout -- data/`") from err


def load_manifest() -> dict:
    """The parsed ``data/manifest.json``: ``{"files": {relative_path: {"sha256": …, …}}}``."""
    return _manifest(data_dir() / "manifest.json")


@functools.lru_cache(maxsize=64)
def _verified(path: Path, size: int, mtime_ns: int, expected: str) -> bool:
    return sha256_file(path) == expected


def write_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """Like ``np.savez_compressed`` but with fixed zip timestamps, so the same arrays give the same bytes (and sha256)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue())


def verify_file(relpath: str) -> Path:
    """Return the absolute path of a data file after checking its sha256 against the manifest.

    Raises ``DataFileError`` naming the file when it is missing, not in the manifest, or
    its content differs from the recorded hash (a corrupt or modified file).
    """
    root = data_dir()
    files = load_manifest().get("files", {})
    if relpath not in files:
        raise DataFileError(f"{relpath!r} is not listed in {root / 'manifest.json'}")
    path = root / relpath
    if not path.is_file():
        raise DataFileError(f"data file {path} is missing; restore it with `git checkout -- data/` or `make data`")
    expected = files[relpath]["sha256"]
    st = path.stat()
    if not _verified(path, st.st_size, st.st_mtime_ns, expected):
        raise DataFileError(
            f"data file {path} does not match its sha256 in manifest.json (expected {expected[:16]}…): "
            "it is corrupt or was modified; restore it with `git checkout -- data/` or `make data`"
        )
    return path


def files_table(manifest: dict) -> str:
    """The Markdown table of ``data/README.md``: one row per manifest entry (file, description, source, licence, sha256)."""
    rows = ["| file | description | source | licence | sha256 |", "|---|---|---|---|---|"]
    for rel, meta in manifest["files"].items():
        rows.append(f"| `{rel}` | {meta['description']} | {meta['source']} | {meta['licence']} | `{meta['sha256']}` |")
    return "\n".join(rows)


def register_data_file(relpath: str, meta: dict) -> None:
    """Add or update one entry of ``data/manifest.json`` and rewrite the table of ``data/README.md`` between its
    ``files:start/end`` markers. ``meta`` gives ``description``, ``source`` and ``licence``; ``sha256`` and
    ``bytes`` are computed from the file when absent."""
    missing = {"description", "source", "licence"} - set(meta)
    if missing:
        raise ValueError(f"meta for {relpath!r} lacks {sorted(missing)}")
    root = data_dir()
    file = root / relpath
    meta = {"sha256": meta.get("sha256") or sha256_file(file), "bytes": meta.get("bytes") or file.stat().st_size, **meta}
    path = root / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"files": {}}
    manifest["files"][relpath] = meta
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    _manifest.cache_clear()
    readme = root / "README.md"
    start, end = "<!-- files:start -->", "<!-- files:end -->"
    text = readme.read_text(encoding="utf-8") if readme.exists() else f"# data/\n\n{start}\n{end}\n"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        tail = rest.split(end, 1)[1]
        readme.write_text(f"{head}{start}\n{files_table(manifest)}\n{end}{tail}", encoding="utf-8")


def write_cached(json_relpath: str, result: dict, npz_relpath: str, arrays: dict[str, np.ndarray], source: str,
                 descriptions: tuple[str, str]) -> None:
    """Write a cached evaluation — ``result`` as JSON, ``arrays`` as a reproducible npz — under ``data/`` and register
    both in the manifest with the same ``source`` (the command and hardware) and the course's licence. The JSON is
    written to a temporary file first, so an interrupted run never leaves half a file."""
    out = data_dir() / json_relpath
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    tmp.replace(out)
    write_npz(data_dir() / npz_relpath, arrays)
    for rel, description in zip((json_relpath, npz_relpath), descriptions):
        register_data_file(rel, {"description": description, "source": source, "licence": "MIT (computed by the course)"})
    print(f"wrote {out} and {data_dir() / npz_relpath}")


def load_digits(split: str) -> tuple[np.ndarray, np.ndarray]:
    """The digits dataset: ``(images, labels)`` of one split.

    Args:
        split: ``"train"`` (4,000 digits) or ``"test"`` (1,000 digits).

    Returns:
        ``images`` uint8 ``(N, 32, 32)`` and ``labels`` uint8 ``(N,)``.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    path = verify_file("digits.npz")
    with np.load(path, allow_pickle=False) as z:
        return z[f"x_{split}"], z[f"y_{split}"]


def photo_paths(split: str) -> list[Path]:
    """Paths of the photos of one split (``"train"`` or ``"test"``), sorted by name, hashes verified."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    prefix = f"photos/{split}/"
    names = sorted(rel for rel in load_manifest()["files"] if rel.startswith(prefix))
    return [verify_file(rel) for rel in names]


def load_image(path: str | os.PathLike, channels: int = 3) -> np.ndarray:
    """Read an image file as uint8 ``(H, W, channels)`` (``channels`` 1: grayscale, 3: RGB)."""
    from PIL import Image, UnidentifiedImageError

    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file {path} does not exist")
    try:
        with Image.open(path) as im:
            arr = np.asarray(im.convert("L" if channels == 1 else "RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise ValueError(f"{path} is not a readable image file ({err})") from err
    return arr[..., None] if channels == 1 else arr


# ------------------------------------------------------------- toy 2-D data
TOY_SETS = ("spiral", "moons", "rings")


def toy_points(name: str = "spiral", n: int = 10_000, seed: int = 0) -> torch.Tensor:
    """2-D point clouds for lesson 02's toy denoiser, roughly within [-2, 2]² (about unit variance, like the
    noise they are mixed with): ``(n, 2)`` float32.

    ``"spiral"`` (a 1.5-turn spiral), ``"moons"`` (two interleaved half circles), ``"rings"`` (two circles);
    each with a little Gaussian jitter, drawn from ``seed``.
    """
    if name not in TOY_SETS:
        raise ValueError(f"name must be one of {TOY_SETS}, got {name!r}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(n, generator=g)
    if name == "spiral":
        theta = 3 * np.pi * u.sqrt() + 0.5
        pts = torch.stack([theta * torch.cos(theta), theta * torch.sin(theta)], 1) / (3 * np.pi + 0.5)
    elif name == "moons":
        upper = torch.rand(n, generator=g) < 0.5
        ang = np.pi * u
        x = torch.where(upper, torch.cos(ang), 1 - torch.cos(ang)) - 0.5
        y = torch.where(upper, torch.sin(ang), 0.5 - torch.sin(ang)) - 0.25
        pts = torch.stack([x, y], 1) * 0.9
    else:
        radius = torch.where(torch.rand(n, generator=g) < 0.5, 0.4, 0.85)
        ang = 2 * np.pi * u
        pts = torch.stack([radius * torch.cos(ang), radius * torch.sin(ang)], 1)
    return (2.0 * pts + 0.04 * torch.randn(n, 2, generator=g)).float()


# ---------------------------------------------------------------- conversions
def to_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 image(s) to float32 in [-1, 1], channels first.

    Accepts ``(H, W)`` and ``(H, W, C)`` → ``(C, H, W)``; ``(N, H, W)`` is read as a
    stack of grayscale images → ``(N, 1, H, W)``.
    """
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        got = image.dtype if isinstance(image, np.ndarray) else type(image).__name__
        raise TypeError(f"image must be a uint8 numpy array, got {got}")
    t = torch.from_numpy(image.astype(np.float32)) / 127.5 - 1.0
    if image.ndim == 2:
        return t[None]
    if image.ndim == 3 and image.shape[-1] in (1, 3):
        return t.permute(2, 0, 1).contiguous()
    if image.ndim == 3:
        return t[:, None]
    raise ValueError(f"image must have shape (H, W), (H, W, C) or (N, H, W), got {image.shape}")


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """[-1, 1] tensor ``(C, H, W)`` or ``(B, C, H, W)`` to uint8 channels-last ``(H, W, C)`` / ``(B, H, W, C)``.

    Values are clipped to [-1, 1] and rounded to the nearest level.
    """
    if not isinstance(x, torch.Tensor) or x.dim() not in (3, 4):
        raise ValueError(f"x must be a tensor of shape (C, H, W) or (B, C, H, W), got {getattr(x, 'shape', x)}")
    y = ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return y.movedim(-3, -1).cpu().numpy()


# ---------------------------------------------------------------- degradation
def _check_batch(x: torch.Tensor, name: str = "x") -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (B, C, H, W), got {type(x).__name__}")
    if x.dim() != 4:
        raise ValueError(f"{name} must have shape (B, C, H, W), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor in [-1, 1], got dtype {x.dtype}")


def _check_scale(scale: object) -> int:
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
        raise ValueError(f"scale must be a positive int, got {scale!r}")
    return int(scale)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur with a normalised Gaussian k_σ (Eq. 00.1), radius ⌈3σ⌉, reflect padding.

    Args:
        x: ``(B, C, H, W)``.
        sigma: standard deviation in pixels; 0 returns ``x`` unchanged.

    Returns:
        ``(B, C, H, W)`` in ``x``'s dtype.
    """
    _check_batch(x)
    if not sigma >= 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    if sigma == 0:
        return x
    radius = max(1, int(np.ceil(3 * sigma)))
    if radius >= min(x.shape[-2:]):
        raise ValueError(f"sigma={sigma} needs a {2 * radius + 1}-pixel kernel, too large for a {tuple(x.shape[-2:])} image")
    coords = torch.arange(-radius, radius + 1, device=x.device, dtype=torch.float32)
    k = torch.exp(-(coords**2) / (2 * sigma**2))
    k = (k / k.sum()).to(x.dtype)
    c = x.shape[1]
    xp = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    xp = F.conv2d(xp, k.reshape(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(xp, k.reshape(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def downsample(x: torch.Tensor, scale: int, kernel: str = "area") -> torch.Tensor:
    """D_s of Eq. 00.1: downsample by the integer ``scale`` with the ``"area"`` or ``"bicubic"`` kernel.

    Args:
        x: ``(B, C, H, W)`` with H and W divisible by ``scale``.

    Returns:
        ``(B, C, H / scale, W / scale)``.
    """
    _check_batch(x)
    scale = _check_scale(scale)
    if kernel not in DOWNSAMPLE_KERNELS:
        raise ValueError(f"kernel must be one of {DOWNSAMPLE_KERNELS}, got {kernel!r}")
    h, w = x.shape[-2:]
    if h % scale or w % scale:
        raise ValueError(f"image size {h}x{w} is not divisible by scale={scale}; crop it to a multiple of {scale}")
    if scale == 1:
        return x
    if kernel == "area":
        return F.avg_pool2d(x, scale)
    return F.interpolate(x, size=(h // scale, w // scale), mode="bicubic", align_corners=False, antialias=True)


def degrade(
    hr: torch.Tensor,
    scale: int,
    kernel: str = "area",
    blur_sigma: float = 0.0,
    noise_std: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The degradation of Eq. 00.1: y = clip(D_s(k_σ ⊛ x) + n, −1, 1).

    Args:
        hr: ``(B, C, H, W)`` in [-1, 1], H and W divisible by ``scale``.
        scale: integer downsampling factor s (e.g. 2 or 4).
        kernel: ``"area"`` (block mean) or ``"bicubic"`` (antialiased).
        blur_sigma: σ of the Gaussian blur before downsampling, in HR pixels.
        noise_std: standard deviation of the added Gaussian noise, in [-1, 1] units.
        generator: torch generator on ``hr``'s device for the noise draw.

    Returns:
        ``(B, C, H / s, W / s)`` low-resolution images in [-1, 1]. Without blur and noise
        the result is not clipped (area downsampling of [-1, 1] data stays in range).
    """
    _check_batch(hr, "hr")
    if not noise_std >= 0:
        raise ValueError(f"noise_std must be >= 0, got {noise_std}")
    lr = downsample(gaussian_blur(hr, blur_sigma), scale, kernel)
    if noise_std > 0:
        lr = lr + noise_std * torch.randn(lr.shape, generator=generator, device=lr.device, dtype=lr.dtype)
    if noise_std > 0 or kernel == "bicubic":
        lr = lr.clamp(-1.0, 1.0)
    return lr


def upsample(lr: torch.Tensor, scale: int, mode: str = "bicubic") -> torch.Tensor:
    """Upsample by ``scale`` (the bicubic baseline with ``mode="bicubic"``), clipped to [-1, 1].

    Args:
        lr: ``(B, C, h, w)``.
        mode: ``"bicubic"`` (Keys, a = −0.5, pixel centres aligned as ``align_corners=False``: the
            same as PIL's ``BICUBIC`` and MATLAB's ``imresize``), ``"bilinear"`` or ``"nearest"``.

    Returns:
        ``(B, C, h · scale, w · scale)``.
    """
    _check_batch(lr, "lr")
    scale = _check_scale(scale)
    if mode not in UPSAMPLE_MODES:
        raise ValueError(f"mode must be one of {UPSAMPLE_MODES}, got {mode!r}")
    if scale == 1:
        return lr
    size = (lr.shape[-2] * scale, lr.shape[-1] * scale)
    if mode == "nearest":
        return F.interpolate(lr, size=size, mode="nearest")
    # antialias=True selects the a = -0.5 cubic kernel (PIL / MATLAB); plain torch bicubic uses a = -0.75
    return F.interpolate(lr, size=size, mode=mode, align_corners=False, antialias=True).clamp(-1.0, 1.0)


# ------------------------------------------------------------------- datasets
class _SRPairs(Dataset):
    """Shared ``(hr, lr)`` logic: subclasses provide ``_hr(index) -> (C, H, W)`` in [-1, 1]."""

    def __init__(self, scale: int, kernel: str, blur_sigma: float, noise_std: float, seed: int):
        self.scale = _check_scale(scale)
        if kernel not in DOWNSAMPLE_KERNELS:
            raise ValueError(f"kernel must be one of {DOWNSAMPLE_KERNELS}, got {kernel!r}")
        if not blur_sigma >= 0:
            raise ValueError(f"blur_sigma must be >= 0, got {blur_sigma}")
        if not noise_std >= 0:
            raise ValueError(f"noise_std must be >= 0, got {noise_std}")
        self.kernel, self.blur_sigma, self.noise_std, self.seed = kernel, blur_sigma, noise_std, int(seed)

    def _hr(self, index: int) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for a dataset of {len(self)} items")
        index = index % len(self)
        hr = self._hr(index)
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + index) if self.noise_std > 0 else None
        lr = degrade(hr[None], self.scale, self.kernel, self.blur_sigma, self.noise_std, gen)[0]
        return hr, lr

    def tensors(self, indices: Sequence[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """All (or the chosen) pairs stacked: ``hr`` ``(N, C, H, W)`` and ``lr`` ``(N, C, H/s, W/s)``."""
        idx = range(len(self)) if indices is None else indices
        pairs = [self[i] for i in idx]
        if not pairs:
            raise ValueError("indices selects no items")
        return torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])


class DigitsSR(_SRPairs):
    """Digits as super-resolution pairs: ``hr`` ``(1, 32, 32)``, ``lr`` ``(1, 32/s, 32/s)`` in [-1, 1].

    Args:
        split: ``"train"`` or ``"test"``.
        scale: 2 or 4 (any divisor of 32 works).
        kernel, blur_sigma, noise_std: the degradation of Eq. 00.1.
        seed: seeds the per-item noise draw (item ``i`` always gets the same noise).

    Attributes:
        images: uint8 ``(N, 32, 32)``;  labels: uint8 ``(N,)``, the digit in each image.
    """

    def __init__(
        self,
        split: str = "train",
        scale: int = 4,
        kernel: str = "area",
        blur_sigma: float = 0.0,
        noise_std: float = 0.0,
        seed: int = 0,
    ):
        super().__init__(scale, kernel, blur_sigma, noise_std, seed)
        if 32 % self.scale:
            raise ValueError(f"scale={scale} does not divide the 32x32 digits; use 2, 4, 8 or 16")
        self.split = split
        self.images, self.labels = load_digits(split)
        self._hr_all = to_tensor(self.images)  # (N, 1, 32, 32)

    def __len__(self) -> int:
        return len(self.images)

    def _hr(self, index: int) -> torch.Tensor:
        return self._hr_all[index]

    def tensors(self, indices: Sequence[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        hr = self._hr_all if indices is None else self._hr_all[torch.as_tensor(list(indices), dtype=torch.long)]
        if self.noise_std > 0:
            return super().tensors(indices)
        return hr, degrade(hr, self.scale, self.kernel, self.blur_sigma)


class ImageFolderSR(_SRPairs):
    """Patches from a folder of your own images (e.g. DIV2K) as ``(hr, lr)`` pairs.

    Args:
        root: folder searched recursively for ``IMAGE_EXTENSIONS`` files (sorted by path).
        scale: integer SR factor; ``patch_size`` must be divisible by it.
        patch_size: side of the square HR patches.
        mode: ``"grid"`` -- every non-overlapping patch of every image, row by row (for
            evaluation); ``"random"`` -- ``samples_per_image`` crops per image at positions
            drawn once from ``seed`` (for training; the same items every time).
        channels: 3 (RGB) or 1 (grayscale).
        paths: an explicit list of files instead of searching ``root``.

    Attributes:
        paths: the image files; ``sources[i]``: the file stem patch ``i`` comes from;
        ``positions[i]``: ``(image_index, top, left)``.
    """

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        scale: int = 4,
        patch_size: int = 64,
        mode: str = "random",
        samples_per_image: int = 16,
        channels: int = 3,
        kernel: str = "area",
        blur_sigma: float = 0.0,
        noise_std: float = 0.0,
        seed: int = 0,
        paths: Sequence[str | os.PathLike] | None = None,
        cache_images: int = 16,
    ):
        super().__init__(scale, kernel, blur_sigma, noise_std, seed)
        from PIL import Image, UnidentifiedImageError

        if mode not in ("grid", "random"):
            raise ValueError(f"mode must be 'grid' or 'random', got {mode!r}")
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels!r}")
        if isinstance(patch_size, bool) or not isinstance(patch_size, int) or patch_size < 1:
            raise ValueError(f"patch_size must be a positive int, got {patch_size!r}")
        if patch_size % self.scale:
            raise ValueError(f"patch_size={patch_size} is not divisible by scale={self.scale}")
        if mode == "random" and (not isinstance(samples_per_image, int) or samples_per_image < 1):
            raise ValueError(f"samples_per_image must be a positive int, got {samples_per_image!r}")
        if paths is None:
            if root is None:
                raise ValueError("give root (a folder of images) or paths (a list of image files)")
            root = Path(root)
            if not root.is_dir():
                raise FileNotFoundError(f"root={str(root)!r} is not a folder")
            paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
            if not paths:
                raise ValueError(f"root={str(root)!r} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
        self.paths = [Path(p) for p in paths]
        self.patch_size, self.mode, self.channels = patch_size, mode, channels

        gen = torch.Generator().manual_seed(self.seed)
        self.positions: list[tuple[int, int, int]] = []
        for i, path in enumerate(self.paths):
            try:
                with Image.open(path) as im:
                    w, h = im.size
            except (UnidentifiedImageError, OSError) as err:
                raise ValueError(f"{path} is not a readable image file ({err})") from err
            if h < patch_size or w < patch_size:
                raise ValueError(f"{path} is {w}x{h}, smaller than patch_size={patch_size}")
            if mode == "grid":
                self.positions += [
                    (i, top, left)
                    for top in range(0, h - patch_size + 1, patch_size)
                    for left in range(0, w - patch_size + 1, patch_size)
                ]
            else:
                tops = torch.randint(0, h - patch_size + 1, (samples_per_image,), generator=gen)
                lefts = torch.randint(0, w - patch_size + 1, (samples_per_image,), generator=gen)
                self.positions += [(i, int(a), int(b)) for a, b in zip(tops, lefts)]
        self.sources = [self.paths[i].stem for i, _, _ in self.positions]
        self._load = functools.lru_cache(maxsize=cache_images)(self._load_uncached)

    def _load_uncached(self, image_index: int) -> torch.Tensor:
        return to_tensor(load_image(self.paths[image_index], self.channels))

    def __len__(self) -> int:
        return len(self.positions)

    def _hr(self, index: int) -> torch.Tensor:
        i, top, left = self.positions[index]
        p = self.patch_size
        return self._load(i)[:, top : top + p, left : left + p]


class PhotosSR(ImageFolderSR):
    """The course's photos (``data/photos``) as ``(hr, lr)`` RGB patch pairs, split by source photo.

    Args:
        split: ``"train"`` (8 photos) or ``"test"`` (4 held-out photos: camera, chelsea,
            coffee, gravel); other arguments as :class:`ImageFolderSR`. ``mode`` defaults to
            ``"grid"`` for the test split and ``"random"`` for the train split.
    """

    def __init__(self, split: str = "train", scale: int = 4, patch_size: int = 64, mode: str | None = None, **kwargs):
        self.split = split
        mode = mode or ("grid" if split == "test" else "random")
        super().__init__(paths=photo_paths(split), scale=scale, patch_size=patch_size, mode=mode, **kwargs)
