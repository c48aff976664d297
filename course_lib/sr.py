"""Super-resolution with a conditioned diffusion model (workflow layer; lesson 04 · 超分辨率).

* :func:`consistency_projection` — Eq. 04.4: x̂ ← x̂ − A⁺(A x̂ − y), A the area downsampling by s and
  A⁺ the nearest-neighbour upsampling (A A⁺ = I, so A of the result is exactly y);
* :func:`consistency_psnr` — Eq. 04.5: PSNR(A x̂, y), how well an SR output explains its own input;
* :func:`super_resolve` — sample x̂_HR ~ p_θ(x | y) with DDPM or DDIM, optionally projecting every step's
  x̂_0 (Eq. 04.4), with the clip to [-1, 1] done in image space (a residual model's x̂_0 is mapped to
  the image, clipped, projected and mapped back);
* :class:`TiledDenoiser` — the same network on overlapping tiles of a large image, its outputs blended with
  smooth weights **at every step**, so the tiles share one x_t and no seam appears;
* :func:`upscale` — an image file or array of any size in, a uint8 array out; a command line::

      python -m course_lib.sr in.png out.png --scale 4          # 1-channel → digits model, RGB → photos model
      python -m course_lib.sr in.png out.png --model photos_sr3 --steps 20 --seed 1 --project --overwrite

  A pixel limit with a time estimate guards against hour-long runs; an existing output is never overwritten
  without ``--overwrite``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from .checkpoints import CheckpointError
from .data import downsample, upsample
from .device import get_device, make_generator
from .diffusion import GaussianDiffusion
from .metrics import psnr
from .models import SR3

__all__ = [
    "DEFAULT_MODELS",
    "consistency_projection",
    "consistency_psnr",
    "super_resolve",
    "TiledDenoiser",
    "pad_to_tile",
    "load_sr_model",
    "read_image",
    "upscale",
    "estimate_seconds",
    "main",
]

#: the shipped model ``upscale`` picks for an image with this many channels
DEFAULT_MODELS = {1: "digits_sr3_concat", 3: "photos_sr3"}
#: LR tile side each shipped model was trained at (``upscale`` tiles larger inputs at this size)
DEFAULT_TILES = {"digits_sr3_concat": 8, "digits_sr3_encoder": 8, "photos_sr3": 16}
DEFAULT_MAX_PIXELS = 1024 * 1024
#: rounds of projection and clipping per sampling step (see :func:`consistency_projection`)
PROJECTION_ITERATIONS = 10


# ----------------------------------------------------------------- consistency
def _check_pair(x: torch.Tensor, lr: torch.Tensor, scale: int, name: str = "x") -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        raise ValueError(f"{name} must be a (B, C, H, W) tensor, got {getattr(x, 'shape', type(x).__name__)}")
    if not isinstance(lr, torch.Tensor) or lr.dim() != 4:
        raise ValueError(f"lr must be a (B, C, h, w) tensor, got {getattr(lr, 'shape', type(lr).__name__)}")
    expected = (*lr.shape[:2], lr.shape[-2] * scale, lr.shape[-1] * scale)
    if tuple(x.shape) != expected:
        raise ValueError(f"{name} must have shape {expected} (lr {tuple(lr.shape)} at scale {scale}), got {tuple(x.shape)}")


def consistency_projection(x: torch.Tensor, lr: torch.Tensor, scale: int, clip: bool = False, iterations: int = 1) -> torch.Tensor:
    """Eq. 04.4: x − A⁺(A x − y), the closest image to x whose area-downsampling is y.

    A shifts each s × s block by the same amount so that its mean becomes the LR pixel; the detail within
    the block is kept. With ``clip=True`` the result must also stay in [-1, 1]: the projection and the clip
    alternate ``iterations`` times (projections onto two convex sets, POCS; both contain the true HR image,
    so the alternation converges towards a point in both — about 43 dB of consistency after 10 rounds even
    for a badly wrong x).

    Args:
        x: ``(B, C, H, W)`` an HR estimate; lr: ``(B, C, H/s, W/s)`` the LR input y; scale: s.
        clip, iterations: see above.

    Returns:
        ``(B, C, H, W)``; without ``clip``, ``downsample(result, s, "area") == lr`` up to rounding.
    """
    _check_pair(x, lr, scale)
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"iterations must be a positive int, got {iterations!r}")
    for _ in range(iterations if clip else 1):
        x = x - upsample(downsample(x, scale, "area") - lr, scale, "nearest")
        if clip:
            x = x.clamp(-1.0, 1.0)
    return x


def consistency_psnr(sr: torch.Tensor, lr: torch.Tensor, scale: int) -> torch.Tensor:
    """Eq. 04.5: PSNR(A x̂, y) in dB per image, ``(B,)`` (A = area downsampling, the degradation that made y)."""
    _check_pair(sr, lr, scale, "sr")
    return psnr(downsample(sr, scale, "area"), lr)


# -------------------------------------------------------------------- sampling
def _image_x0_fn(model: SR3, lr: torch.Tensor, project: bool) -> Callable[[torch.Tensor], torch.Tensor]:
    """x̂_0 → image → clip (→ Eq. 04.4) → x̂_0: the clip and the projection act on the HR image."""

    def fn(x0: torch.Tensor) -> torch.Tensor:
        img = model.to_image(x0, lr)  # clipped to [-1, 1]
        if project:
            img = consistency_projection(img, lr, model.scale, clip=True, iterations=PROJECTION_ITERATIONS)
        return model.target(img, lr)

    return fn


@torch.no_grad()
def super_resolve(
    model: SR3 | "TiledDenoiser",
    diffusion: GaussianDiffusion,
    lr: torch.Tensor,
    sampler: str = "ddim",
    steps: int | None = None,
    eta: float = 0.0,
    project: bool = False,
    generator: torch.Generator | None = None,
    seed: int | None = None,
    record_every: int | None = None,
    progress: bool = True,
    prediction: str | None = None,
    x_T: torch.Tensor | None = None,
):
    """Sample x̂_HR ~ p_θ(x | y) (Eq. 04.1–04.3), optionally with the consistency projection (Eq. 04.4).

    Args:
        model: an :class:`SR3` (or a :class:`TiledDenoiser` around one), in eval mode.
        diffusion: its :class:`GaussianDiffusion` (same device).
        lr: ``(B, C, h, w)`` LR inputs y in [-1, 1], on the diffusion's device.
        sampler, steps, eta: as :meth:`GaussianDiffusion.sample` (``steps=None``: 50 for DDIM, the full
            ancestral chain of T steps for DDPM).
        project: apply Eq. 04.4 to every step's x̂_0.
        generator / seed: the random draws (x_T and, for DDPM or η > 0, every step's noise); ``seed``
            makes a generator on the right device.
        prediction: the network's output type (default: the model's ``prediction``).
        x_T: the starting noise ``(B, C, s·h, s·w)`` instead of a draw from ``generator`` (e.g. one seed per
            image, so that a result does not depend on which batch the image was in).

    Returns:
        ``(B, C, s·h, s·w)`` in [-1, 1]; with ``record_every``, ``(sr, trajectory)`` where the
        trajectory's ``x0`` frames are HR images (``to_image`` applied) and ``x_t`` the raw states.
    """
    sr3 = model.model if isinstance(model, TiledDenoiser) else model
    if not isinstance(sr3, SR3):
        raise TypeError(f"model must be an SR3 (or a TiledDenoiser around one), got {type(model).__name__}")
    sr3._check_lr(lr)
    if generator is None:
        generator = make_generator(0 if seed is None else seed, diffusion.betas.device)
    lr = lr.to(diffusion.betas.device)
    shape = (lr.shape[0], lr.shape[1], lr.shape[2] * sr3.scale, lr.shape[3] * sr3.scale)
    out = diffusion.sample(model, shape, cond=lr, sampler=sampler, steps=steps, eta=eta, generator=generator,
                           progress=progress, record_every=record_every, clip_x0=False,
                           prediction=prediction or sr3.prediction, x_T=x_T,
                           x0_fn=_image_x0_fn(sr3, lr, project))
    if record_every is None:
        return sr3.to_image(out, lr)
    x0, traj = out
    traj["x0"] = torch.stack([sr3.to_image(frame.to(lr.device), lr).float().cpu() for frame in traj["x0"]])
    traj["lr"] = lr.float().cpu()
    return sr3.to_image(x0, lr), traj


# ---------------------------------------------------------------------- tiling
def _starts(size: int, tile: int, stride: int) -> list[int]:
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile, stride)) + [size - tile]
    return sorted(set(starts))


def _window(n: int, overlap: int, device: torch.device) -> torch.Tensor:
    """1-D blending weights: a raised-cosine ramp over ``overlap`` pixels at each end, 1 in between (> 0 everywhere)."""
    w = torch.ones(n, device=device)
    if overlap > 0:
        ramp = 0.5 - 0.5 * torch.cos(math.pi * (torch.arange(overlap, device=device) + 0.5) / overlap)
        w[:overlap] = ramp
        w[n - overlap:] = torch.minimum(w[n - overlap:], ramp.flip(0))
    return w


class TiledDenoiser(nn.Module):
    """Run an :class:`SR3` on overlapping LR tiles of ``tile × tile`` (HR ``s·tile``) and blend its outputs.

    ``forward(x_t (B, C, H, W), t (B,), lr (B, C, H/s, W/s)) → (B, C, H, W)``: every tile of x_t and the matching
    tile of y go through the network (in batches of ``batch``); the outputs are averaged with raised-cosine
    weights that ramp over the ``overlap``. Because this happens at every sampling step on one shared x_t,
    neighbouring tiles agree and no seam appears. Inputs no larger than one tile pass straight through.
    """

    def __init__(self, model: SR3, tile: int, overlap: int | None = None, batch: int = 64):
        super().__init__()
        if isinstance(tile, bool) or not isinstance(tile, int) or tile < 2:
            raise ValueError(f"tile must be an int >= 2 (LR pixels), got {tile!r}")
        overlap = tile // 4 if overlap is None else overlap
        if not 0 <= overlap < tile:
            raise ValueError(f"overlap must be in 0 … tile − 1 = {tile - 1}, got {overlap}")
        self.model, self.tile, self.overlap, self.batch = model, tile, overlap, int(batch)
        self.scale = model.scale

    def tiles(self, h: int, w: int) -> list[tuple[int, int]]:
        """LR ``(top, left)`` of every tile covering an ``h × w`` LR image."""
        stride = self.tile - self.overlap
        return [(a, b) for a in _starts(h, self.tile, stride) for b in _starts(w, self.tile, stride)]

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, lr: torch.Tensor) -> torch.Tensor:
        B, C, h, w = lr.shape
        if h <= self.tile and w <= self.tile:
            return self.model(x_t, t, lr)
        if h < self.tile or w < self.tile:
            raise ValueError(f"an LR image of {h}x{w} is smaller than the tile ({self.tile}) on one side; pad it first")
        s, T_ = self.scale, self.tile
        H = T_ * s
        win = _window(H, self.overlap * s, x_t.device)
        weight2d = win[:, None] * win[None, :]
        out = torch.zeros_like(x_t, dtype=torch.float32)
        norm = torch.zeros((1, 1, *x_t.shape[-2:]), device=x_t.device)
        coords = self.tiles(h, w)
        for i in range(0, len(coords), max(1, self.batch // B)):
            chunk = coords[i : i + max(1, self.batch // B)]
            xs = torch.cat([x_t[:, :, a * s : a * s + H, b * s : b * s + H] for a, b in chunk])
            ys = torch.cat([lr[:, :, a : a + T_, b : b + T_] for a, b in chunk])
            ts = t.repeat(len(chunk))
            pred = self.model(xs, ts, ys).float()
            for k, (a, b) in enumerate(chunk):
                out[:, :, a * s : a * s + H, b * s : b * s + H] += pred[k * B : (k + 1) * B] * weight2d
                norm[:, :, a * s : a * s + H, b * s : b * s + H] += weight2d
        return (out / norm).to(x_t.dtype)


def pad_to_tile(lr: torch.Tensor, tile: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad ``(B, C, h, w)`` on the bottom and right (replicating the edge) to at least ``tile`` on each side.

    Returns the padded tensor and the original ``(h, w)``; crop the SR result to ``(s·h, s·w)`` afterwards.
    """
    h, w = lr.shape[-2:]
    ph, pw = max(0, tile - h), max(0, tile - w)
    if ph or pw:
        lr = torch.nn.functional.pad(lr, (0, pw, 0, ph), mode="replicate")
    return lr, (h, w)


# ------------------------------------------------------------------- loading
def load_sr_model(name: str, device: torch.device | str | None = None) -> tuple[SR3, GaussianDiffusion, dict]:
    """A shipped SR model ``(SR3 in eval mode, diffusion, config)``; a missing or corrupt file is a CheckpointError."""
    from .train import load_pretrained

    model, diffusion, config = load_pretrained(name, device)
    if not isinstance(model, SR3):
        raise CheckpointError(f"{name!r} is not a super-resolution model (its kind is {config['model']['kind']!r})")
    return model, diffusion, config


def read_image(image: str | os.PathLike | np.ndarray) -> np.ndarray:
    """An image file or array as uint8 ``(H, W)`` (grayscale) or ``(H, W, 3)`` (RGB), with clear errors.

    Files: PNG, JPEG, … read by Pillow; palette images become RGB, ``LA`` becomes ``L``. Arrays: uint8
    ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)``, or floats in [0, 1].
    """
    if isinstance(image, (str, os.PathLike)):
        from PIL import Image, UnidentifiedImageError

        path = Path(image)
        if not path.is_file():
            raise FileNotFoundError(f"input image {str(path)!r} does not exist")
        if path.stat().st_size == 0:
            raise ValueError(f"input image {str(path)!r} is an empty file")
        try:
            with Image.open(path) as im:
                im.load()
                if im.mode in ("P", "PA"):
                    im = im.convert("RGBA" if "transparency" in im.info or im.mode == "PA" else "RGB")
                if im.mode == "LA":
                    im = im.convert("L")
                if im.mode in ("I;16", "I", "F"):
                    raise ValueError(f"input image {str(path)!r} has {im.mode} pixels; save it as 8-bit grayscale or RGB")
                if im.mode == "RGBA":
                    raise ValueError(f"input image {str(path)!r} has 4 channels (RGBA); the models take 1 (grayscale) "
                                     "or 3 (RGB) channels: drop the alpha channel first")
                if im.mode not in ("L", "RGB"):
                    im = im.convert("RGB")
                arr = np.asarray(im)
        except (UnidentifiedImageError, OSError, SyntaxError) as err:
            raise ValueError(f"input image {str(path)!r} is not a readable image file ({err})") from err
        return arr.copy()
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a file path or a numpy array, got {type(image).__name__}")
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
            raise ValueError(f"a float image must lie in [0, 1] without NaN, got [{np.nanmin(arr):.3g}, {np.nanmax(arr):.3g}]")
        return np.round(arr * 255).astype(np.uint8)
    raise ValueError(f"image must be uint8 or float in [0, 1], got dtype {arr.dtype}")


def estimate_seconds(model: SR3, tile: int, lr_shape: tuple[int, int], steps: int, device: torch.device, passes: int = 1) -> float:
    """Time one batch of tiles through the network here and scale it to ``steps`` steps over the whole image."""
    tiler = TiledDenoiser(model, tile)
    h, w = max(lr_shape[0], tile), max(lr_shape[1], tile)
    n_tiles = len(tiler.tiles(h, w))
    n = min(n_tiles, tiler.batch)
    C = model.channels
    x = torch.zeros(n, C, tile * model.scale, tile * model.scale, device=device)
    y = torch.zeros(n, C, tile, tile, device=device)
    t = torch.full((n,), 10, device=device, dtype=torch.long)
    with torch.no_grad():
        model(x, t, y)  # warm-up
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        model(x, t, y)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    per_tile = (time.perf_counter() - start) / n
    total = 0.0
    for k in range(passes):  # each pass works on an image s^k times larger
        hk, wk = h * model.scale**k, w * model.scale**k
        total += per_tile * len(tiler.tiles(hk, wk)) * steps
    return total


def upscale(
    image: str | os.PathLike | np.ndarray,
    model: str | tuple[SR3, GaussianDiffusion] | None = None,
    scale: int | None = None,
    sampler: str = "ddim",
    steps: int | None = 50,
    eta: float = 0.0,
    seed: int = 0,
    project: bool = False,
    tile: int | None = None,
    overlap: int | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> np.ndarray:
    """Super-resolve an image of any size with a shipped (or given) SR model.

    Args:
        image: a file path or an array (see :func:`read_image`): grayscale or RGB.
        model: a shipped model's name, ``(SR3, diffusion)``, or ``None`` to pick by channels
            (:data:`DEFAULT_MODELS`: 1-channel → digits, RGB → photos).
        scale: the total factor (default: the model's). A power of the model's factor runs it repeatedly
            (×4 with a ×2 model = two passes).
        sampler, steps, eta, seed, project: as :func:`super_resolve`.
        tile, overlap: LR tile side and overlap (default: the side the model was trained at, and a quarter of it).
        max_pixels: refuse outputs with more pixels than this, with an estimate of the time it would take
            (``None``: no limit).

    Returns:
        uint8 ``(s·H, s·W)`` or ``(s·H, s·W, 3)``.
    """
    arr = read_image(image)
    channels = 1 if arr.ndim == 2 else 3
    device = torch.device(device) if device is not None else get_device()
    if model is None:
        model = DEFAULT_MODELS[channels]
    name = model if isinstance(model, str) else None
    if isinstance(model, str):
        sr3, diffusion, _ = load_sr_model(model, device)
    else:
        sr3, diffusion = model
    if sr3.channels != channels:
        raise ValueError(f"the image has {channels} channel{'s' if channels > 1 else ''} but the model "
                         f"{name or 'given'} takes {sr3.channels}; pick a model for {'grayscale' if channels == 1 else 'RGB'} "
                         f"images (e.g. {DEFAULT_MODELS[channels]!r})")
    scale = sr3.scale if scale is None else scale
    passes = 0
    if isinstance(scale, int) and not isinstance(scale, bool) and scale >= sr3.scale:
        s = scale
        while s > 1 and s % sr3.scale == 0:
            s //= sr3.scale
            passes += 1
        if s != 1:
            passes = 0
    if passes == 0:
        raise ValueError(f"scale must be a power of the model's factor {sr3.scale} (e.g. {sr3.scale} or {sr3.scale ** 2}), got {scale!r}")
    tile = tile or DEFAULT_TILES.get(name or "", 32)
    H, W = arr.shape[0] * scale, arr.shape[1] * scale
    n_steps = steps if steps is not None else diffusion.num_timesteps
    if max_pixels is not None and H * W > max_pixels:
        est = estimate_seconds(sr3, tile, arr.shape[:2], n_steps, device, passes)
        raise ValueError(f"the output would be {W}x{H} = {H * W:,} pixels, above max_pixels={max_pixels:,}; "
                         f"it would take about {est / 60:.1f} min on {device.type} with {n_steps} steps. "
                         "Pass a larger max_pixels (--max-pixels) to run it anyway, or fewer steps.")
    x = torch.from_numpy(arr).to(device=device, dtype=torch.float32) / 127.5 - 1.0
    x = x[None, None] if channels == 1 else x.permute(2, 0, 1)[None]
    gen = make_generator(seed, device)
    for _ in range(passes):
        x, (h, w) = pad_to_tile(x, tile)  # images smaller than a tile: pad (replicate), crop after
        tiled = TiledDenoiser(sr3, tile, overlap)
        out = super_resolve(tiled, diffusion, x, sampler=sampler, steps=steps, eta=eta, project=project,
                            generator=gen, progress=progress)
        x = out[..., : h * sr3.scale, : w * sr3.scale]
    img = ((x[0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()
    return img[0].numpy() if channels == 1 else img.permute(1, 2, 0).numpy()


def _write_image(arr: np.ndarray, out: Path, overwrite: bool) -> None:
    from PIL import Image

    if out.exists() and not overwrite:
        raise FileExistsError(f"output {str(out)!r} exists; pass --overwrite to replace it")
    if out.suffix.lower() not in (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"):
        raise ValueError(f"output {str(out)!r} needs an image extension (.png, .jpg, …)")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=out.suffix)
    os.close(fd)
    try:
        Image.fromarray(arr).save(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.sr", description="Upscale an image with a course SR diffusion model.")
    parser.add_argument("input", help="input image (PNG, JPEG, …; grayscale or RGB)")
    parser.add_argument("output", help="output image path (never overwritten without --overwrite)")
    parser.add_argument("--scale", type=int, default=None, help="total factor (default: the model's; a power of it runs the model repeatedly)")
    parser.add_argument("--model", default=None, help=f"shipped model (default by channels: {DEFAULT_MODELS})")
    parser.add_argument("--sampler", choices=("ddim", "ddpm"), default="ddim")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--eta", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--project", action="store_true", help="consistency projection at every step (Eq. 04.4)")
    parser.add_argument("--tile", type=int, default=None, help="LR tile side (default: the model's training size)")
    parser.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, help="refuse larger outputs (0: no limit)")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: COURSE_DEVICE or the best available)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    args = parser.parse_args(argv)
    out = Path(args.output)
    try:
        if out.exists() and not args.overwrite:
            raise FileExistsError(f"output {str(out)!r} exists; pass --overwrite to replace it")
        device = get_device(args.device) if args.device else get_device()
        start = time.perf_counter()
        arr = upscale(args.input, model=args.model, scale=args.scale, sampler=args.sampler, steps=args.steps, eta=args.eta,
                      seed=args.seed, project=args.project, tile=args.tile, max_pixels=args.max_pixels or None, device=device)
        _write_image(arr, out, args.overwrite)
    except (ValueError, FileNotFoundError, FileExistsError, CheckpointError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {out} ({arr.shape[1]}x{arr.shape[0]}) in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
