"""Upscale an image of any size (workflow layer; lesson 04 · 超分辨率): the ``upscale`` pipeline and its command line.

:func:`upscale` reads an image file or array (:func:`course_lib.images.read_image`), picks a shipped SR model by
channels (or takes the one given), tiles the input at the model's training size (read from its config), runs the
SR method (:func:`course_lib.methods.sr3.super_resolve` on a :class:`~course_lib.models.TiledDenoiser`) once per
power of its scale, and returns uint8. The command line::

    python -m course_lib.sr in.png out.png --scale 4          # 1-channel → digits model, RGB → photos model
    python -m course_lib.sr in.png out.png --model photos_sr3 --steps 20 --seed 1 --project --overwrite

A pixel limit with a time estimate guards against hour-long runs; an existing output is never overwritten without
``--overwrite``, and the output is written atomically.

The core math that used to live here has its own modules: the consistency projection and PSNR in
:mod:`course_lib.operators`, sampling in :mod:`course_lib.methods.sr3`, tiling in :mod:`course_lib.models.tiling`,
image reading in :mod:`course_lib.images`, loading in :mod:`course_lib.engine.pretrained` (the old names here still work
for one release, with a ``DeprecationWarning``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

from ..device import get_device, make_generator
from ..diffusion import GaussianDiffusion
from ..files import CheckpointError
from ..images import read_image as _read_image, to_uint8, uint8_to_model, write_image
from ..methods.sr3 import restore_tiled, super_resolve as _super_resolve
from ..models import SR3, TiledDenoiser as _TiledDenoiser
from ..engine.pretrained import load_sr_model as _load_sr_model

__all__ = ["DEFAULT_MODELS", "DEFAULT_MAX_PIXELS", "upscale", "estimate_seconds", "main"]

#: the shipped model ``upscale`` picks for an image with this many channels
DEFAULT_MODELS = {1: "digits_sr3_concat", 3: "photos_sr3"}
DEFAULT_MAX_PIXELS = 1024 * 1024


def estimate_seconds(
    model: SR3, tile: int, y_shape: tuple[int, int], steps: int, device: torch.device, passes: int = 1
) -> float:
    """Time one batch of tiles through the network here and scale it to ``steps`` steps over the whole image
    (``y_shape``: the LR image's ``(h, w)``; ``passes``: repeated runs for a power of the model's scale)."""
    tiler = _TiledDenoiser(model, tile)
    h, w = max(y_shape[0], tile), max(y_shape[1], tile)
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


def _resolve_model(
    model, channels: int, tile: int | None, device: torch.device
) -> tuple[SR3, GaussianDiffusion, int, str]:
    """``(SR3, process, tile, label)`` from a shipped name, a ``Pretrained``, a ``(model, process, config)`` triple, or
    a
    ``(model, process)`` pair with ``tile`` given — the tile always comes from the model's config or the caller."""
    from ..engine.pretrained import Pretrained

    if model is None:
        model = DEFAULT_MODELS[channels]
    if isinstance(model, str):
        sr3, process, config = _load_sr_model(model, device)
        label = model
    elif isinstance(model, Pretrained):
        sr3, process, config, label = model.model, model.process, model.config, model.name
    elif isinstance(model, (tuple, list)) and len(model) in (2, 3):
        sr3, process, config = (*model, None) if len(model) == 2 else model
        label = "given"
    else:
        raise TypeError(
            "model must be a shipped model's name, a Pretrained, or (SR3, process[, config]), got "
            f"{type(model).__name__}"
        )
    if not isinstance(sr3, SR3):
        raise TypeError(f"model: expected an SR3 network, got {type(sr3).__name__}")
    if sr3.channels != channels:
        raise ValueError(
            f"the image has {channels} channel{'s' if channels > 1 else ''} but the model "
            f"{label} takes {sr3.channels}; pick a model for {'grayscale' if channels == 1 else 'RGB'} "
            f"images (e.g. {DEFAULT_MODELS[channels]!r})"
        )
    if tile is None:
        tile = getattr(getattr(config, "model", None), "tile", None)
        if tile is None:
            raise ValueError(
                "tile: a model given without its config needs tile=… (the LR side it was trained at); "
                "pass the (model, process, config) triple of load_sr_model instead"
            )
    return sr3, process, tile, label


def upscale(
    image: str | os.PathLike | np.ndarray,
    model=None,
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
        image: a file path or an array (see :func:`course_lib.images.read_image`): grayscale or RGB.
        model: a shipped model's name, a :class:`~course_lib.engine.pretrained.Pretrained`, ``(SR3, process, config)``,
        or
            ``None`` to pick by channels (:data:`DEFAULT_MODELS`: 1-channel → digits, RGB → photos).
        scale: the total factor (default: the model's). A power of the model's factor runs it repeatedly
            (×4 with a ×2 model = two passes).
        sampler, steps, eta, seed, project: as :func:`course_lib.methods.sr3.super_resolve`.
        tile, overlap: LR tile side and overlap (default: the side the model was trained at, from its config, and a
            quarter of it).
        max_pixels: refuse outputs with more pixels than this, with an estimate of the time it would take
            (``None``: no limit).

    Returns:
        uint8 ``(s·H, s·W)`` or ``(s·H, s·W, 3)``.
    """
    arr = _read_image(image)
    channels = arr.shape[-1]
    device = get_device(device)
    sr3, diffusion, tile, label = _resolve_model(model, channels, tile, device)
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
        raise ValueError(
            f"scale must be a power of the model's factor {sr3.scale} (e.g. {sr3.scale} or {sr3.scale**2}), got "
            f"{scale!r}"
        )
    H, W = arr.shape[0] * scale, arr.shape[1] * scale
    n_steps = steps if steps is not None else diffusion.num_timesteps
    if max_pixels is not None and H * W > max_pixels:
        est = estimate_seconds(sr3, tile, arr.shape[:2], n_steps, device, passes)
        raise ValueError(
            f"the output would be {W}x{H} = {H * W:,} pixels, above max_pixels={max_pixels:,}; "
            f"it would take about {est / 60:.1f} min on {device.type} with {n_steps} steps. "
            "Pass a larger max_pixels (--max-pixels) to run it anyway, or fewer steps."
        )
    x = uint8_to_model(arr).to(device).permute(2, 0, 1)[None]
    gen = make_generator(seed, device)

    def run(net, y):
        return _super_resolve(
            net, diffusion, y, sampler=sampler, steps=steps, eta=eta, project=project, generator=gen, progress=progress
        )

    for _ in range(passes):  # images smaller than a tile are padded (replicate) and cropped after
        x = restore_tiled(run, sr3, x, tile, overlap, always_tile=True)
    img = to_uint8(x[0])
    return img[..., 0] if channels == 1 else img


def main(argv: list[str] | None = None) -> int:
    """``python -m course_lib.sr IN OUT``: upscale an image file with a shipped model (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m course_lib.sr", description="Upscale an image with a course SR diffusion model."
    )
    parser.add_argument("input", help="input image (PNG, JPEG, …; grayscale or RGB)")
    parser.add_argument("output", help="output image path (never overwritten without --overwrite)")
    parser.add_argument(
        "--scale",
        type=int,
        default=None,
        help="total factor (default: the model's; a power of it runs the model repeatedly)",
    )
    parser.add_argument("--model", default=None, help=f"shipped model (default by channels: {DEFAULT_MODELS})")
    parser.add_argument("--sampler", choices=("ddim", "ddpm"), default="ddim")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--eta", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--project", action="store_true", help="consistency projection at every step (Eq. 04.5)")
    parser.add_argument("--tile", type=int, default=None, help="LR tile side (default: the model's training size)")
    parser.add_argument(
        "--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, help="refuse larger outputs (0: no limit)"
    )
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: COURSE_DEVICE or the best available)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    args = parser.parse_args(argv)
    out = args.output
    try:
        if os.path.exists(out) and not args.overwrite:
            raise FileExistsError(f"output {str(out)!r} exists; pass --overwrite to replace it")
        device = get_device(args.device)
        start = time.perf_counter()
        arr = upscale(
            args.input,
            model=args.model,
            scale=args.scale,
            sampler=args.sampler,
            steps=args.steps,
            eta=args.eta,
            seed=args.seed,
            project=args.project,
            tile=args.tile,
            max_pixels=args.max_pixels or None,
            device=device,
        )
        write_image(arr, out, args.overwrite)
    except (ValueError, FileNotFoundError, FileExistsError, CheckpointError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {out} ({arr.shape[1]}x{arr.shape[0]}) in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
