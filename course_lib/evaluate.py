"""Cached evaluations of the SR models (workflow layer; lesson 04): ``python -m course_lib.evaluate``.

Sampling hundreds of test images takes longer than a lesson may, so this script does it once and stores
small files that lesson 04 loads (and re-checks live on a few images):

* ``data/cache/sr_eval.json`` — per method (bicubic; each SR model raw and with the consistency
  projection) the mean and standard deviation over the test images of PSNR and SSIM to HR, consistency
  PSNR (Eq. 04.5), the high-frequency ratio (Eq. 04.6), the digit classifier's agreement with its call on
  HR (digits), the per-image values, and the wall time per image on the machine that ran it;
* ``data/cache/sr_samples.npz`` — uint8 picture grids: one test digit of each class through every method,
  8 samples (seeds) for one LR digit, and crops of the 4 test photos.

The digits are :data:`EVAL_INDICES`: every other test digit, 50 of each class (the split is sorted by class).

Every image ``i`` starts from its own noise x_T drawn with seed ``SEED_BASE + i`` (:func:`image_noise`), so its
result does not depend on the batch it was sampled in: the lesson reproduces cached values exactly.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch

from .classifier import load_classifier
from .data import DigitsSR, PhotosSR, to_uint8, upsample, write_cached
from .device import get_device
from .metrics import high_frequency_ratio, psnr, ssim
from .sr import TiledDenoiser, consistency_psnr, load_sr_model, super_resolve

__all__ = ["DIGIT_MODELS", "PHOTO_MODEL", "SEED_BASE", "SAMPLE_OFFSET", "EVAL_INDICES", "SHOW_INDICES", "LIVE_INDICES",
           "image_noise", "sample_noise", "sample_batched", "value_stats", "evaluate_method", "cached_values", "load_sr_eval",
           "load_sr_samples", "main"]

DIGIT_MODELS = ("digits_sr3_concat", "digits_sr3_encoder")
PHOTO_MODEL = "photos_sr3"
SEED_BASE = 1000
SAMPLE_OFFSET = 100_000  # sample k of image i starts from seed SEED_BASE + i + k · SAMPLE_OFFSET
#: the test split is sorted by digit (100 of each): every other image gives 500 digits, 50 of each class
EVAL_INDICES = tuple(range(0, 1000, 2))
#: one test digit of each class (the picture grids), and 16 for the lesson's live runs (all in EVAL_INDICES)
SHOW_INDICES = tuple(100 * k for k in range(10))
LIVE_INDICES = tuple(100 * (k % 10) + 2 * (k // 10) for k in range(16))
DIVERSITY_INDEX = 400  # the test digit (a 4) whose 8 samples the lesson shows
EVAL_PATH = "cache/sr_eval.json"
SAMPLES_PATH = "cache/sr_samples.npz"


def image_noise(indices, shape: tuple[int, int, int], device: torch.device | str, seed_offset: int = 0) -> torch.Tensor:
    """x_T for images ``indices``: ``(len(indices), *shape)``, image ``i`` drawn from seed ``SEED_BASE + i + seed_offset``.

    Drawn on the CPU and moved to ``device``, so the same image gets the same noise on cpu, cuda and mps (their
    generators differ) and cached results can be reproduced on any of them."""
    out = []
    for i in indices:
        g = torch.Generator().manual_seed(SEED_BASE + int(i) + seed_offset)
        out.append(torch.randn(shape, generator=g))
    return torch.stack(out).to(device)


def sample_noise(index: int, samples: int, shape: tuple[int, int, int], device: torch.device | str) -> torch.Tensor:
    """x_T of samples 0 … ``samples`` − 1 of one image: ``(samples, *shape)``, sample k from seed offset
    ``SAMPLE_OFFSET · k`` (sample 0 is the image's :func:`image_noise`)."""
    return torch.cat([image_noise([index], shape, device, seed_offset=SAMPLE_OFFSET * k) for k in range(samples)])


def sample_batched(model, diffusion, lr: torch.Tensor, indices, k: int = 0, batch: int = 250, **kwargs) -> torch.Tensor:
    """Sample k (0, 1, …) of every image: ``super_resolve`` on ``lr`` ``(N, C, h, w)`` (test-split ``indices``),
    ``batch`` images at a time, each from its own noise (seed offset ``SAMPLE_OFFSET · k``), so a result does not
    depend on the batch. ``kwargs`` go to :func:`super_resolve` (``steps``, ``project``, ``sampler``, ``generator``,
    ``progress``). Returns ``(N, C, s·h, s·w)``."""
    scale = (model.model if isinstance(model, TiledDenoiser) else model).scale
    shape = (lr.shape[1], lr.shape[2] * scale, lr.shape[3] * scale)
    outs = []
    for s in range(0, len(indices), batch):
        x_T = image_noise(list(indices[s : s + batch]), shape, diffusion.betas.device, seed_offset=SAMPLE_OFFSET * int(k))
        outs.append(super_resolve(model, diffusion, lr[s : s + batch], x_T=x_T, **kwargs))
    return torch.cat(outs)


def _metrics(sr: torch.Tensor, hr: torch.Tensor, lr: torch.Tensor, scale: int, classifier=None) -> dict[str, torch.Tensor]:
    m = {
        "psnr": psnr(sr, hr),
        "ssim": ssim(sr, hr),
        "consistency": consistency_psnr(sr, lr, scale),
        "hf_ratio": high_frequency_ratio(sr, hr, scale),
    }
    if classifier is not None:
        with torch.no_grad():
            m["agreement"] = (classifier(sr).argmax(1) == classifier(hr).argmax(1)).float()
    return m


def evaluate_method(method: str, hr: torch.Tensor, lr: torch.Tensor, indices, models: dict, steps: int = 50,
                    classifier=None, batch: int = 250, progress: bool = False) -> tuple[torch.Tensor, dict]:
    """Run one method on ``(hr, lr)`` and measure it.

    Args:
        method: ``"bicubic"``, ``"NAME"`` (raw DDIM-``steps``) or ``"NAME + projection"``.
        hr, lr: ``(N, C, H, W)`` and ``(N, C, H/s, W/s)`` test pairs; indices: their test-split indices (for the noise).
        models: ``{NAME: (SR3, diffusion)}``.

    Returns:
        ``(sr (N, C, H, W), {"psnr": (N,), "ssim", "consistency", "hf_ratio"[, "agreement"], "seconds": float})``.
    """
    scale = hr.shape[-1] // lr.shape[-1]
    start = time.perf_counter()
    if method == "bicubic":
        sr = upsample(lr, scale, "bicubic")
    else:
        name, _, extra = method.partition(" + ")
        model, diffusion = models[name]
        sr = sample_batched(model, diffusion, lr, indices, batch=batch, steps=steps, project=extra == "projection", progress=progress)
    seconds = time.perf_counter() - start
    m = _metrics(sr, hr, lr, scale, classifier)
    m["seconds"] = seconds
    return sr, m


def value_stats(v: torch.Tensor) -> dict:
    """How the caches store a per-image measure ``(N,)``: mean and sd (4 decimals) and every value (3 decimals)."""
    v = v.float().cpu()
    return {"mean": round(float(v.mean()), 4), "sd": round(float(v.std()), 4) if v.numel() > 1 else 0.0,
            "values": [round(float(a), 3) for a in v]}


def _summary(m: dict, n: int) -> dict:
    out = {"n": n, "seconds_per_image": round(m["seconds"] / n, 4)}
    out.update({key: value_stats(v) for key, v in m.items() if key != "seconds"})
    return out


def cached_values(entry: dict, key: str, indices) -> torch.Tensor:
    """The cached per-image values of ``key`` (e.g. ``"psnr"``) for test-split ``indices`` (all in the evaluated set)."""
    where = {int(i): k for k, i in enumerate(entry["indices"])}
    missing = [int(i) for i in indices if int(i) not in where]
    if missing:
        raise ValueError(f"test digits {missing[:5]} were not evaluated; the cache holds {len(where)} indices")
    return torch.tensor([entry[key]["values"][where[int(i)]] for i in indices])


def load_sr_eval() -> dict:
    """The cached evaluation (``data/cache/sr_eval.json``), hash-checked."""
    from .data import verify_file

    return json.loads(verify_file(EVAL_PATH).read_text(encoding="utf-8"))


def load_sr_samples() -> dict[str, np.ndarray]:
    """The cached uint8 picture grids (``data/cache/sr_samples.npz``), hash-checked."""
    from .data import verify_file

    with np.load(verify_file(SAMPLES_PATH)) as f:
        return {k: f[k] for k in f.files}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--digits", type=int, default=len(EVAL_INDICES), help="number of test digits (the first N of EVAL_INDICES)")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--device", default=None)
    args = parser.parse_args(argv)
    device = get_device(args.device) if args.device else get_device()
    torch.manual_seed(0)
    hardware = f"{platform.processor() or platform.machine()} ({device.type}), torch {torch.__version__}, {torch.get_num_threads()} threads"
    print(f"evaluating on {hardware}")
    result: dict = {"steps": args.steps, "sampler": "ddim", "eta": 0.0, "seed_base": SEED_BASE, "hardware": hardware, "digits": {}, "photos": {}}
    samples: dict[str, np.ndarray] = {}

    # ---- digits x4
    classifier = load_classifier(device=device)
    ds = DigitsSR("test", scale=4)
    indices = list(EVAL_INDICES[: args.digits])
    hr, lr = (t.to(device) for t in ds.tensors(indices))
    models = {name: load_sr_model(name, device)[:2] for name in DIGIT_MODELS}
    methods = ["bicubic"] + [f"{n}{extra}" for n in DIGIT_MODELS for extra in ("", " + projection")]
    show = [indices.index(i) for i in SHOW_INDICES if i in indices]
    samples["digits_hr"] = to_uint8(hr[show])
    samples["digits_lr"] = to_uint8(lr[show])
    for method in methods:
        sr, m = evaluate_method(method, hr, lr, indices, models, args.steps, classifier)
        result["digits"][method] = {**_summary(m, len(indices)), "indices": indices}
        samples[f"digits::{method}"] = to_uint8(sr[show])
        r = result["digits"][method]
        print(f"digits {method:38s} PSNR {r['psnr']['mean']:6.2f}  consistency {r['consistency']['mean']:6.2f}  "
              f"agreement {r['agreement']['mean']:.3f}  HF ratio {r['hf_ratio']['mean']:.2f}  {r['seconds_per_image'] * 1000:.0f} ms/image")
    with torch.no_grad():
        result["digits_classifier_accuracy_on_hr"] = round(float((classifier(hr).argmax(1).cpu() == torch.as_tensor(ds.labels[indices]).long()).float().mean()), 4)
    # diversity: 8 samples of one LR digit
    model, diffusion = models[DIGIT_MODELS[0]]
    i = DIVERSITY_INDEX
    _, lr_i = ds.tensors([i])
    lr_rep = lr_i.to(device).repeat(8, 1, 1, 1)
    x_T = sample_noise(i, 8, tuple(hr.shape[1:]), device)
    div = super_resolve(model, diffusion, lr_rep, steps=args.steps, x_T=x_T, progress=False)
    samples["digits_diversity"] = to_uint8(div)
    result["digits_diversity"] = {"index": i, "pixel_sd_mean": round(float(((div + 1) / 2).std(dim=0).mean()), 4)}

    # ---- photos x2 (whole 256 x 256 test photos, tiled as upscale does)
    from .sr import DEFAULT_TILES, TiledDenoiser

    pds = PhotosSR("test", scale=2, patch_size=256, mode="grid")
    phr, plr = (t.to(device) for t in pds.tensors())
    model, diffusion = load_sr_model(PHOTO_MODEL, device)[:2]
    tiled = TiledDenoiser(model, DEFAULT_TILES[PHOTO_MODEL])
    crop = (slice(None), slice(None), slice(80, 176), slice(80, 176))
    samples["photos_hr"] = to_uint8(phr[crop])
    samples["photos_lr"] = to_uint8(plr[:, :, 40:88, 40:88])
    for method in ("bicubic", PHOTO_MODEL, f"{PHOTO_MODEL} + projection"):
        sr, m = evaluate_method(method, phr, plr, list(range(len(pds))), {PHOTO_MODEL: (tiled, diffusion)}, args.steps, batch=1)
        result["photos"][method] = _summary(m, len(pds))
        result["photos"][method]["names"] = list(pds.sources)
        samples[f"photos::{method}"] = to_uint8(sr[crop])
        r = result["photos"][method]
        print(f"photos {method:25s} PSNR {r['psnr']['mean']:6.2f}  consistency {r['consistency']['mean']:6.2f}  "
              f"HF ratio {r['hf_ratio']['mean']:.2f}  {r['seconds_per_image']:.1f} s/image")

    source = f"python -m course_lib.evaluate --digits {args.digits} --steps {args.steps} ({hardware})"
    write_cached(EVAL_PATH, result, SAMPLES_PATH, samples, source,
                 ("lesson 04: metrics of bicubic and the SR3 models (raw, projected) on the test splits",
                  "lesson 04: uint8 picture grids of the same evaluation"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
