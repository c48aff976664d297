"""Speed figures for this machine: ``python -m course_lib.benchmark`` (``make benchmark``).

Prints (never asserts) the wall time of DDIM-50 for 64 digits with the shipped model (the course's goal on
a 2-core CPU: ≤ 15 s), DDPM time per step, and training throughput in images per second.
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
