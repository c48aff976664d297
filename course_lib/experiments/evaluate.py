"""Lesson 04's cached evaluation of the SR models — a view of the harness: ``python -m course_lib.evaluate``.

Sampling hundreds of test images takes longer than a lesson may, so this script takes the harness's outputs
(:mod:`course_lib.engine.harness`: the same test images, per-image seeds and measures as every other method) and stores
small files that lesson 04 loads (and re-checks live on a few images):

* ``data/cache/sr_eval.json`` — per method (bicubic; each SR3 model raw and with the consistency projection) the
  mean and standard deviation over the test images of PSNR and SSIM to HR, consistency PSNR (Eq. 04.1), the
  high-frequency ratio (Eq. 04.6), the digit classifier's agreement with its call on HR (digits), the per-image
  values, and the wall time per image on the machine that ran it;
* ``data/cache/sr_samples.npz`` — uint8 picture grids: one test digit of each class through every method,
  8 samples (seeds) for one LR digit, and crops of the 4 test photos.

The digits are :data:`EVAL_INDICES`: every other test digit, 50 of each class (the split is sorted by class). Every
image ``i`` starts from its own noise x_T (seed ``SEED_BASE + i``), so its result does not depend on the batch it
was sampled in: the lesson reproduces cached values exactly.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from ..engine.pretrained import load_classifier
from ..datasets import DigitsSR
from ..device import describe_hardware, get_device
from ..files import verify_file, write_cached
from ..engine.harness import (
    DIVERSITY_INDEX,
    EVAL_INDICES,
    LIVE_INDICES,
    SAMPLE_OFFSET,
    SEED_BASE,
    SHOW_INDICES,
    TASKS,
    WORK,
    Entry,
    Work,
    image_noise,
    image_seeds,
    measure,
    outputs,
    sample_noise,
    value_stats,
)
from ..images import to_uint8
from ..metrics import pixel_diversity
from ..engine.pretrained import load

from ..engine.harness import DDIM50

__all__ = [
    "ROWS",
    "DIGIT_MODELS",
    "PHOTO_MODEL",
    "SEED_BASE",
    "SAMPLE_OFFSET",
    "EVAL_INDICES",
    "SHOW_INDICES",
    "LIVE_INDICES",
    "DIVERSITY_INDEX",
    "image_noise",
    "sample_noise",
    "value_stats",
    "cached_values",
    "load_sr_eval",
    "load_sr_samples",
    "main",
]

DIGIT_MODELS = ("digits_sr3_concat", "digits_sr3_encoder")
PHOTO_MODEL = "photos_sr3"
EVAL_PATH = "cache/sr_eval.json"
SAMPLES_PATH = "cache/sr_samples.npz"

#: lessons 04–05's rows of the landscape table (:mod:`course_lib.experiments.landscape`): bicubic, SRCNN, the
#: regression U-Net and the SR3-style models on digits and photos
ROWS = (
    Entry("bicubic", "digits_x4", None),
    Entry("SRCNN", "digits_x4", "digits_srcnn"),
    Entry("regression U-Net", "digits_x4", "digits_regression_unet"),
    Entry("SR3 concat DDPM-1000", "digits_x4", "digits_sr3_concat", {"sampler": "ddpm"}, noise="shared"),
    Entry("SR3 concat DDIM-50", "digits_x4", "digits_sr3_concat", DDIM50, diversity=8),
    Entry("SR3 concat DDIM-50 + projection", "digits_x4", "digits_sr3_concat", {**DDIM50, "project": True}),
    Entry("mean of 8 SR3 concat samples", "digits_x4", "digits_sr3_concat", DDIM50, samples=8),
    Entry("SR3 encoder DDIM-50", "digits_x4", "digits_sr3_encoder", DDIM50, diversity=8),
    Entry("SR3 encoder DDIM-50 + projection", "digits_x4", "digits_sr3_encoder", {**DDIM50, "project": True}),
    Entry("bicubic", "photos_x2", None),
    Entry("SRCNN", "photos_x2", "photos_srcnn"),
    Entry("SR3 DDIM-50", "photos_x2", "photos_sr3", DDIM50),
    Entry("SR3 DDIM-50 + projection", "photos_x2", "photos_sr3", {**DDIM50, "project": True}),
)


def _entry(task: str, method: str, steps: int) -> Entry:
    """The harness entry behind one of this cache's method names (``"bicubic"``, ``"NAME"``, ``"NAME +
    projection"``)."""
    if method == "bicubic":
        return Entry("bicubic", task, None)
    name, _, extra = method.partition(" + ")
    return Entry(
        method, task, name, {"sampler": "ddim", "steps": steps, **({"project": True} if extra == "projection" else {})}
    )


def _summary(m: dict, seconds: float, n: int) -> dict:
    out = {"n": n, "seconds_per_image": round(seconds / n, 4)}
    out.update({key: value_stats(v) for key, v in m.items()})
    return out


def cached_values(entry: dict, key: str, indices) -> torch.Tensor:
    """The cached per-image values of ``key`` (e.g. ``"psnr"``) for test-split ``indices`` (all in the evaluated
    set)."""
    where = {int(i): k for k, i in enumerate(entry["indices"])}
    missing = [int(i) for i in indices if int(i) not in where]
    if missing:
        raise ValueError(f"test digits {missing[:5]} were not evaluated; the cache holds {len(where)} indices")
    return torch.tensor([entry[key]["values"][where[int(i)]] for i in indices])


def load_sr_eval() -> dict:
    """The cached evaluation (``data/cache/sr_eval.json``), hash-checked."""
    return json.loads(verify_file(EVAL_PATH).read_text(encoding="utf-8"))


def load_sr_samples() -> dict[str, np.ndarray]:
    """The cached uint8 picture grids (``data/cache/sr_samples.npz``), hash-checked."""
    with np.load(verify_file(SAMPLES_PATH)) as f:
        return {k: f[k] for k in f.files}


def main(argv: list[str] | None = None) -> int:
    """Write lesson 04's cache from the harness's outputs (computed here if missing; see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m course_lib.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--digits", type=int, default=len(EVAL_INDICES), help="number of test digits (the first N of EVAL_INDICES)"
    )
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--device", default=None)
    parser.add_argument("--work", default=str(WORK), help="folder for the harness's per-output files (resumable)")
    args = parser.parse_args(argv)
    device = get_device(args.device)
    torch.manual_seed(0)
    hardware = describe_hardware(device)
    print(f"evaluating on {hardware}")
    result: dict = {
        "steps": args.steps,
        "sampler": "ddim",
        "eta": 0.0,
        "seed_base": SEED_BASE,
        "hardware": hardware,
        "digits": {},
        "photos": {},
    }
    samples: dict[str, np.ndarray] = {}
    root = Path(args.work) if args.digits == len(EVAL_INDICES) else Path(args.work) / f"first_{args.digits}"

    # ---- digits x4
    classifier = load_classifier(device=device)
    ds = DigitsSR("test", scale=4)
    indices = list(EVAL_INDICES[: args.digits])
    hr, y = (t.to(device) for t in ds.tensors(indices))
    work = Work(root, "digits_x4")
    methods = ["bicubic"] + [f"{n}{extra}" for n in DIGIT_MODELS for extra in ("", " + projection")]
    show = [indices.index(i) for i in SHOW_INDICES if i in indices]
    samples["digits_hr"] = to_uint8(hr[show])
    samples["digits_lr"] = to_uint8(y[show])
    for method in methods:
        sr, seconds, _ = outputs(_entry("digits_x4", method, args.steps), work, hr, y, indices, device)
        sr = sr.to(device)
        result["digits"][method] = {
            **_summary(measure(sr, hr, y, 4, classifier), seconds, len(indices)),
            "indices": indices,
        }
        samples[f"digits::{method}"] = to_uint8(sr[show])
        r = result["digits"][method]
        print(
            f"digits {method:38s} PSNR {r['psnr']['mean']:6.2f}  consistency {r['consistency']['mean']:6.2f}  "
            f"agreement {r['agreement']['mean']:.3f}  HF ratio {r['hf_ratio']['mean']:.2f}  "
            f"{r['seconds_per_image'] * 1000:.0f} ms/image"
        )
    with torch.no_grad():
        result["digits_classifier_accuracy_on_hr"] = round(
            float((classifier(hr).argmax(1).cpu() == torch.as_tensor(ds.labels[indices]).long()).float().mean()), 4
        )
    # diversity: 8 samples of one LR digit, in one batch
    shipped = load(DIGIT_MODELS[0], device)
    i = DIVERSITY_INDEX
    _, y_i = ds.tensors([i])
    seeds = [image_seeds([i], k)[0] for k in range(8)]
    div = shipped.restore(y_i.to(device).repeat(8, 1, 1, 1), seeds=seeds, sampler="ddim", steps=args.steps)
    samples["digits_diversity"] = to_uint8(div)
    result["digits_diversity"] = {"index": i, "pixel_sd_mean": round(float(pixel_diversity(div[:, None])[0]), 4)}

    # ---- photos x2 (whole 256 x 256 test photos, tiled as upscale does)
    phr, py, pidx, names = TASKS["photos_x2"].load(device)
    work = Work(Path(args.work), "photos_x2")
    crop = (slice(None), slice(None), slice(80, 176), slice(80, 176))
    samples["photos_hr"] = to_uint8(phr[crop])
    samples["photos_lr"] = to_uint8(py[:, :, 40:88, 40:88])
    for method in ("bicubic", PHOTO_MODEL, f"{PHOTO_MODEL} + projection"):
        sr, seconds, _ = outputs(_entry("photos_x2", method, args.steps), work, phr, py, pidx, device)
        sr = sr.to(device)
        result["photos"][method] = _summary(measure(sr, phr, py, 2), seconds, len(pidx))
        result["photos"][method]["names"] = names
        samples[f"photos::{method}"] = to_uint8(sr[crop])
        r = result["photos"][method]
        print(
            f"photos {method:25s} PSNR {r['psnr']['mean']:6.2f}  consistency {r['consistency']['mean']:6.2f}  "
            f"HF ratio {r['hf_ratio']['mean']:.2f}  {r['seconds_per_image']:.1f} s/image"
        )

    source = f"python -m course_lib.evaluate --digits {args.digits} --steps {args.steps} ({hardware})"
    write_cached(
        EVAL_PATH,
        result,
        SAMPLES_PATH,
        samples,
        source,
        (
            "lesson 04: metrics of bicubic and the SR3 models (raw, projected) on the test splits",
            "lesson 04: uint8 picture grids of the same evaluation",
        ),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
