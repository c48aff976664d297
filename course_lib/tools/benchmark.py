"""Speed figures for this machine: ``python -m course_lib.benchmark`` (``make benchmark``).

Prints (never asserts) the wall time of DDIM-50 for 64 digits with the shipped model (the course's goal on
a 2-core CPU: ≤ 15 s), DDPM time per step, training throughput in images per second, and super-resolution
speed: DDIM-50 for 64 digits ×4 (with and without the projection) and one 256 × 256 photo ×2 (tiled).
Lesson 04's quality figures are printed by ``python -m course_lib.evaluate``.
"""

from __future__ import annotations

import argparse
import time

import torch

from ..device import describe_device, get_device, make_generator
from ..samplers import generate
from ..engine.pretrained import load, load_pretrained
from ..engine.train import Trainer


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def training_ms_per_step(
    config, device: torch.device | str | None = None, steps: int = 4, batch_size: int = 64, warmup: int = 1
) -> float:
    """Wall time of one training step of ``config`` (a :class:`~course_lib.engine.train.TrainConfig`) at ``batch_size``,
    in
    ms: a fresh :class:`Trainer`, ``warmup`` untimed steps, then the mean over ``steps`` (what lessons 04–05 and
    ``make benchmark`` print; the lessons compare methods by it because recorded training times include whatever
    else shared the machine)."""
    if steps < 1 or warmup < 0:
        raise ValueError(f"steps must be >= 1 and warmup >= 0, got steps={steps}, warmup={warmup}")
    device = get_device(device)
    config = {**config, "batch_size": batch_size} if isinstance(config, dict) else config.replace(batch_size=batch_size)
    trainer = Trainer(config, device=device)
    if warmup:
        trainer.train(steps=warmup, progress=False)
    _sync(device)
    start = time.perf_counter()
    trainer.train(steps=steps, progress=False)
    _sync(device)
    return 1000 * (time.perf_counter() - start) / steps


def main(argv: list[str] | None = None) -> int:
    """``python -m course_lib.benchmark``: print sampling, training and SR speed on this machine."""
    parser = argparse.ArgumentParser(prog="python -m course_lib.benchmark", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--train-steps", type=int, default=20)
    args = parser.parse_args(argv)
    device = get_device(args.device)
    print(f"device: {describe_device(device)}")

    model, diffusion, config = load_pretrained("digits_unet", device)
    shape = (64, 1, 32, 32)
    generate(
        model, diffusion, shape, sampler="ddim", steps=2, generator=make_generator(0, device), progress=False
    )  # warm-up
    _sync(device)
    start = time.perf_counter()
    generate(model, diffusion, shape, sampler="ddim", steps=50, generator=make_generator(0, device), progress=False)
    _sync(device)
    ddim = time.perf_counter() - start
    print(
        f"DDIM-50, 64 digits:          {ddim:6.2f} s   ({ddim / 50 * 1000:.0f} ms per network evaluation; goal on a "
        "2-core CPU: <= 15 s)"
    )
    print(f"DDPM-1000, 64 digits (est.): {ddim / 50 * 1000:6.0f} s")

    ms = training_ms_per_step(config, device, steps=args.train_steps, warmup=3)
    print(f"training, batch 64:          {64_000 / ms:6.0f} images/s ({ms:.0f} ms per step)")
    _benchmark_sr(device)
    return 0


def _benchmark_sr(device: torch.device) -> None:
    from ..datasets import DigitsSR, PhotosSR
    from ..methods.sr3 import super_resolve
    from ..models import TiledDenoiser

    model, diffusion, _ = load_pretrained("digits_sr3_concat", device)
    _, y = DigitsSR("test", 4).tensors(range(0, 1000, 1000 // 64))
    y = y[:64].to(device)
    super_resolve(model, diffusion, y, steps=2, progress=False)  # warm-up
    for project in (False, True):
        _sync(device)
        start = time.perf_counter()
        super_resolve(model, diffusion, y, steps=50, project=project, seed=0, progress=False)
        _sync(device)
        label = "SR x4, DDIM-50, 64 digits" + (" + projection" if project else "")
        print(f"{label + ':':40s}{time.perf_counter() - start:6.2f} s")
    photos = load("photos_sr3", device)
    _, py = PhotosSR("test", scale=2, patch_size=256, mode="grid").tensors([0])
    tiled = TiledDenoiser(photos.model, photos.config.model.tile)
    _sync(device)
    start = time.perf_counter()
    super_resolve(tiled, photos.process, py.to(device), steps=50, seed=0, progress=False)
    _sync(device)
    print(
        f"{'SR x2, DDIM-50, one 256x256 photo:':40s}{time.perf_counter() - start:6.2f} s   "
        f"({len(tiled.tiles(128, 128))} tiles)"
    )


if __name__ == "__main__":
    raise SystemExit(main())
