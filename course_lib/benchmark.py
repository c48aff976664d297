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

from .device import describe_device, get_device, make_generator
from .train import Trainer, load_pretrained


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.benchmark", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--train-steps", type=int, default=20)
    args = parser.parse_args(argv)
    device = get_device(args.device) if args.device else get_device()
    print(f"device: {describe_device(device)}")

    model, diffusion, config = load_pretrained("digits_unet", device)
    shape = (64, 1, 32, 32)
    diffusion.sample(model, shape, sampler="ddim", steps=2, generator=make_generator(0, device), progress=False)  # warm-up
    _sync(device)
    start = time.perf_counter()
    diffusion.sample(model, shape, sampler="ddim", steps=50, generator=make_generator(0, device), progress=False)
    _sync(device)
    ddim = time.perf_counter() - start
    print(f"DDIM-50, 64 digits:          {ddim:6.2f} s   ({ddim / 50 * 1000:.0f} ms per network evaluation; goal on a 2-core CPU: <= 15 s)")
    print(f"DDPM-1000, 64 digits (est.): {ddim / 50 * 1000:6.0f} s")

    trainer = Trainer({**config, "batch_size": 64}, device=device)
    trainer.train(steps=3, progress=False)  # warm-up
    _sync(device)
    start = time.perf_counter()
    trainer.train(steps=args.train_steps, progress=False)
    _sync(device)
    secs = time.perf_counter() - start
    print(f"training, batch 64:          {args.train_steps * 64 / secs:6.0f} images/s ({secs / args.train_steps * 1000:.0f} ms per step)")
    _benchmark_sr(device)
    return 0


def _benchmark_sr(device: torch.device) -> None:
    from .data import DigitsSR, PhotosSR
    from .sr import DEFAULT_TILES, TiledDenoiser, load_sr_model, super_resolve

    model, diffusion, _ = load_sr_model("digits_sr3_concat", device)
    _, lr = DigitsSR("test", 4).tensors(range(0, 1000, 1000 // 64))
    lr = lr[:64].to(device)
    super_resolve(model, diffusion, lr, steps=2, progress=False)  # warm-up
    for project in (False, True):
        _sync(device)
        start = time.perf_counter()
        super_resolve(model, diffusion, lr, steps=50, project=project, seed=0, progress=False)
        _sync(device)
        label = "SR x4, DDIM-50, 64 digits" + (" + projection" if project else "")
        print(f"{label + ':':40s}{time.perf_counter() - start:6.2f} s")
    model, diffusion, _ = load_sr_model("photos_sr3", device)
    _, plr = PhotosSR("test", scale=2, patch_size=256, mode="grid").tensors([0])
    tiled = TiledDenoiser(model, DEFAULT_TILES["photos_sr3"])
    _sync(device)
    start = time.perf_counter()
    super_resolve(tiled, diffusion, plr.to(device), steps=50, seed=0, progress=False)
    _sync(device)
    print(f"{'SR x2, DDIM-50, one 256x256 photo:':40s}{time.perf_counter() - start:6.2f} s   ({len(tiled.tiles(128, 128))} tiles)")


if __name__ == "__main__":
    raise SystemExit(main())
