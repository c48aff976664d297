"""CNN vs diffusion, measured side by side (workflow layer; lesson 05): ``python -m course_lib.compare``.

Runs every method on the same test images, measures each the same way, and caches small files that lesson 05
loads (and re-checks live on a few images):

* ``data/cache/cnn_vs_diffusion.json`` — per method, on the 500 evaluation digits (:data:`EVAL_INDICES`, ×4) and
  the 4 test photos (×2): distortion (PSNR, SSIM), consistency (Eq. 04.1), detail (HF ratio, Eq. 04.6),
  fidelity (the digit classifier's agreement with its call on HR), **realism** (Eq. 05.3–05.4, against HR images
  the method never saw), **diversity** (per-pixel spread over 8 samples of one input), and **cost** (parameters,
  network evaluations, seconds per image on the machine that ran it); plus the k-sample-mean curve
  (Eq. 05.5) and the realism sanity checks;
* ``data/cache/cnn_vs_diffusion.npz`` — uint8 pictures of :data:`CURVE_INDICES` through every method (8 SR3
  samples and the mean of 32 included) for the comparer widget, and the per-digit curve values.

Protocol. One-shot methods are deterministic. SR3 sample ``k`` of test digit ``i`` starts from the noise of
:func:`course_lib.experiments.evaluate.image_noise` with seed offset ``100 000 · k``, so sample 0 is the very sample of
lesson 04's evaluation and any image can be reproduced alone. Realism compares a method's outputs on the even
test digits with the HR images of the **odd** test digits (the other half of the split, 50 of each class), and
for photos the left half of each output with the right half of each HR photo and vice versa: the reference set
never contains the image being judged, so the score measures "looks like the data", not "equals the target".

The outputs come from the evaluation harness (:mod:`course_lib.engine.harness`, whose per-output files under
``runs/harness/`` make an interrupted run resume); this module is lesson 05's view of them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from ..engine.pretrained import load_classifier
from .. import stats
from ..datasets import DigitsSR
from ..device import describe_hardware, get_device
from ..files import load_manifest, verify_file, write_cached
from ..engine.harness import (
    DDIM50,
    CURVE_INDICES,
    EVAL_INDICES,
    REFERENCE_INDICES,
    SAMPLE_OFFSET,
    SEED_BASE,
    TASKS,
    WORK,
    Entry,
    digits_outputs,
    Work,
    image_seeds,
    outputs as harness_outputs,
    restore_batched,
    value_stats as _stats,
)
from ..images import to_uint8
from ..metrics import frechet_distance, high_frequency_ratio, patch_distance, pixel_diversity, psnr, ssim
from ..models import count_parameters
from ..operators import consistency_psnr
from ..engine.pretrained import load

__all__ = [
    "CURVE_INDICES",
    "REFERENCE_INDICES",
    "K_MAX",
    "MEAN_K",
    "SAMPLE_OFFSET",
    "SEED_BASE",
    "DIGIT_METHODS",
    "PHOTO_METHODS",
    "DIGIT_ENTRIES",
    "PHOTO_ENTRIES",
    "sample_seeds",
    "sr3_samples",
    "running_mean_psnr",
    "digit_realism",
    "load_comparison",
    "load_comparison_samples",
    "main",
]

SR3_DIGITS = "digits_sr3_concat"
SR3_PHOTOS = "photos_sr3"
K_MAX = 32  # samples per curve digit
MEAN_K = 8  # samples per evaluation digit (diversity, the "mean of 8" row)
DIGIT_METHODS = (
    "bicubic",
    "SRCNN",
    "regression U-Net",
    "SR3 DDPM-1000",
    "SR3 DDIM-50",
    "SR3 DDIM-50 + projection",
    f"mean of {MEAN_K} SR3 samples",
)
PHOTO_METHODS = ("bicubic", "SRCNN", "SR3 DDIM-50", "SR3 DDIM-50 + projection")
COMPARE_PATH = "cache/cnn_vs_diffusion.json"
SAMPLES_PATH = "cache/cnn_vs_diffusion.npz"
#: this cache's method names and the harness entries behind them
DIGIT_ENTRIES = {
    "bicubic": Entry("bicubic", "digits_x4", None),
    "SRCNN": Entry("SRCNN", "digits_x4", "digits_srcnn"),
    "regression U-Net": Entry("regression U-Net", "digits_x4", "digits_regression_unet"),
    "SR3 DDPM-1000": Entry("SR3 DDPM-1000", "digits_x4", SR3_DIGITS, {"sampler": "ddpm"}, noise="shared"),
    "SR3 DDIM-50": Entry("SR3 DDIM-50", "digits_x4", SR3_DIGITS, DDIM50),
    "SR3 DDIM-50 + projection": Entry("SR3 DDIM-50 + projection", "digits_x4", SR3_DIGITS, {**DDIM50, "project": True}),
    f"mean of {MEAN_K} SR3 samples": Entry(
        f"mean of {MEAN_K} SR3 samples", "digits_x4", SR3_DIGITS, DDIM50, samples=MEAN_K
    ),
}
PHOTO_ENTRIES = {
    "bicubic": Entry("bicubic", "photos_x2", None),
    "SRCNN": Entry("SRCNN", "photos_x2", "photos_srcnn"),
    "SR3 DDIM-50": Entry("SR3 DDIM-50", "photos_x2", SR3_PHOTOS, DDIM50),
    "SR3 DDIM-50 + projection": Entry("SR3 DDIM-50 + projection", "photos_x2", SR3_PHOTOS, {**DDIM50, "project": True}),
}


def sample_seeds(index: int, k: int) -> int:
    """The seed of SR3 sample ``k`` (0, 1, …) of test image ``index``
    (:func:`course_lib.engine.harness.image_seeds`)."""
    return image_seeds([index], k)[0]


def sr3_samples(
    model, diffusion, y: torch.Tensor, indices, ks, steps: int = 50, batch: int = 250, progress: bool = False
) -> torch.Tensor:
    """DDIM-``steps`` samples ``k in ks`` of every image: ``(len(ks), N, C, H, W)`` (seeds by :func:`sample_seeds`).

    ``model``: an SR3 network (or a TiledDenoiser around one); ``diffusion``: its process."""
    from ..methods.sr3 import super_resolve

    def restore(yb, seeds, **options):
        return super_resolve(model, diffusion, yb, seeds=seeds, **options)

    return torch.stack([restore_batched(restore, y, indices, k, batch, steps=steps, progress=progress) for k in ks])


def running_mean_psnr(samples: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """PSNR of the mean of the first k samples to ``target``, for k = 1 … K (Eq. 05.5's experiment).

    Args:
        samples: ``(K, N, C, H, W)`` in [-1, 1]; target: ``(N, C, H, W)``.

    Returns:
        ``(K, N)``: row k − 1 is PSNR(mean of samples[:k], target) per image.
    """
    if samples.dim() != 5 or samples.shape[1:] != target.shape:
        raise ValueError(
            f"samples must be (K, N, C, H, W) with (N, C, H, W) = target's {tuple(target.shape)}, got "
            f"{tuple(samples.shape)}"
        )
    ks = torch.arange(1, samples.shape[0] + 1, device=samples.device, dtype=torch.float32).view(-1, 1, 1, 1, 1)
    means = samples.float().cumsum(0) / ks
    return torch.stack([psnr(m, target) for m in means])


@torch.no_grad()
def digit_realism(classifier, images: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Eq. 05.3: Fréchet distance between the classifier's penultimate features of ``images`` and of ``reference``
    (both ``(N, 1, 32, 32)`` in [-1, 1]). Scalar float64; lower = closer to the data."""
    return frechet_distance(classifier.features(images), classifier.features(reference))


#: how many random halves of the digits the delete-half jackknife of the realism comparison draws (stats.set_difference)
REALISM_DRAWS = 40


@torch.no_grad()
def realism_verdicts(classifier, sr3: torch.Tensor, regression: torch.Tensor, reference: torch.Tensor) -> dict:
    """SR3 DDIM-50 − the regression U-Net on the Fréchet distance (Eq. 05.3) and patch SWD (Eq. 05.4), both against
    the same real digits, each with the jackknife interval of :func:`course_lib.stats.set_difference` (the same digits
    left out of both sets, and the same share of the reference) and its verdict (lower is better). No margin was fixed
    before lesson 05 first measured them, so the verdicts are exploratory: better, worse or undecided."""
    feats = {
        k: classifier.features(v).double() for k, v in (("sr3", sr3), ("regression", regression), ("ref", reference))
    }
    fd = stats.set_difference(frechet_distance, feats["sr3"], feats["regression"], feats["ref"], draws=REALISM_DRAWS)
    swd = stats.set_difference(patch_distance, sr3, regression, reference, draws=REALISM_DRAWS)
    return {key: stats.judge(iv, higher_is_better=False).to_dict() for key, iv in (("frechet", fd), ("patch_swd", swd))}


def _digits(device: torch.device, work: Work, result: dict, pictures: dict, progress: bool) -> None:
    classifier = load_classifier(device=device)
    ds = DigitsSR("test", scale=4)
    indices = list(EVAL_INDICES)
    hr, y = (t.to(device) for t in ds.tensors(indices))
    ref_hr, _ = (t.to(device) for t in ds.tensors(list(REFERENCE_INDICES)))
    n = len(indices)
    curve_pos = [indices.index(i) for i in CURVE_INDICES]

    shipped = {name: load(name, device) for name in (SR3_DIGITS, "digits_srcnn", "digits_regression_unet")}
    sr3 = shipped[SR3_DIGITS].model
    srcnn, reg = shipped["digits_srcnn"].model, shipped["digits_regression_unet"].model

    outputs, seconds, nfes = {}, {}, {}
    for name, entry in DIGIT_ENTRIES.items():
        outputs[name], seconds[name], nfes[name] = harness_outputs(entry, work, hr, y, indices, device, progress)
    first = torch.stack(
        [
            harness_outputs(DIGIT_ENTRIES["SR3 DDIM-50"], work, hr, y, indices, device, progress, k=k)[0]
            for k in range(MEAN_K)
        ]
    )
    # samples k = MEAN_K … K_MAX − 1 for the curve digits only
    curve_work = Work(work.root.parent, "digits_x4_curve")
    extra = torch.stack(
        [
            curve_work.get(
                f"{SR3_DIGITS}__ddim50__k{k}",
                lambda k=k: restore_batched(
                    shipped[SR3_DIGITS].restore, y[curve_pos], CURVE_INDICES, k, 250, **DDIM50, progress=progress
                ),
            )[0]
            for k in range(MEAN_K, K_MAX)
        ]
    )
    work.extra_seconds = curve_work.seconds

    params = {"bicubic": 0, "SRCNN": count_parameters(srcnn), "regression U-Net": count_parameters(reg)}
    cost = {
        name: (params.get(name, count_parameters(sr3)), nfes[name]) for name in DIGIT_METHODS
    }  # NFE as the loop counted
    samples_all = first.to(device)
    with torch.no_grad():
        hr_calls = classifier(hr).argmax(1)
        ref_fd = float(digit_realism(classifier, hr, ref_hr))
    result["digits"] = {"indices": indices, "reference_indices": list(REFERENCE_INDICES), "methods": {}}
    for name in DIGIT_METHODS:
        sr = outputs[name].to(device)
        with torch.no_grad():
            agree = (classifier(sr).argmax(1) == hr_calls).float()
        params, nfe = cost[name]
        entry = {
            "psnr": _stats(psnr(sr, hr)),
            "ssim": _stats(ssim(sr, hr)),
            "consistency": _stats(consistency_psnr(sr, y, 4)),
            "hf_ratio": _stats(high_frequency_ratio(sr, hr, 4)),
            "agreement": _stats(agree),
            "frechet": round(float(digit_realism(classifier, sr, ref_hr)), 4),
            "patch_swd": round(float(patch_distance(sr, ref_hr)), 5),
            "parameters": params,
            "nfe": nfe,
            "seconds_per_image": round(seconds[name] / n, 5),
        }
        if name.startswith("SR3 DDIM-50") and "projection" not in name:
            entry["diversity"] = _stats(pixel_diversity(samples_all))
        elif name.startswith(("SR3", "mean of")):
            entry["diversity"] = None  # one sample per digit (or an average: not a sample)
        else:
            entry["diversity"] = {"mean": 0.0, "sd": 0.0, "values": None}  # deterministic
        result["digits"]["methods"][name] = entry
        print(
            f"digits {name:28s} PSNR {entry['psnr']['mean']:6.2f}  SSIM {entry['ssim']['mean']:.3f}  FD "
            f"{entry['frechet']:.3f}  "
            f"patch SWD {entry['patch_swd']:.4f}  agree {entry['agreement']['mean']:.3f}  HF "
            f"{entry['hf_ratio']['mean']:.2f}",
            flush=True,
        )
    half = list(range(0, 500, 2)), list(range(1, 500, 2))
    result["digits"]["sanity"] = {
        "frechet_hr_vs_reference": round(ref_fd, 4),
        "frechet_hr_halves": round(float(digit_realism(classifier, hr[half[0]], hr[half[1]])), 4),
        "frechet_bicubic_vs_reference": result["digits"]["methods"]["bicubic"]["frechet"],
        "patch_swd_hr_vs_reference": round(float(patch_distance(hr, ref_hr)), 5),
        "patch_swd_bicubic_vs_reference": result["digits"]["methods"]["bicubic"]["patch_swd"],
    }
    # how sure is "SR3 is more realistic than the regression U-Net"? the jackknife over the digits (course_lib.stats)
    result["digits"]["sr3_vs_regression"] = realism_verdicts(
        classifier, outputs["SR3 DDIM-50"].to(device), outputs["regression U-Net"].to(device), ref_hr
    )

    # the k-sample curve (Eq. 05.5) on CURVE_INDICES
    curve = torch.cat([first[:, curve_pos], extra]).to(device)  # (K_MAX, 100, 1, 32, 32)
    reg_out = outputs["regression U-Net"][curve_pos].to(device)
    to_reg = running_mean_psnr(curve, reg_out)
    to_hr = running_mean_psnr(curve, hr[curve_pos])
    result["curve"] = {
        "indices": list(CURVE_INDICES),
        "k": list(range(1, K_MAX + 1)),
        "psnr_to_regression": [round(float(v), 4) for v in to_reg.mean(1)],
        "psnr_to_regression_sd": [round(float(v), 4) for v in to_reg.std(1)],
        "psnr_to_hr": [round(float(v), 4) for v in to_hr.mean(1)],
        "psnr_to_hr_sd": [round(float(v), 4) for v in to_hr.std(1)],
        "regression_psnr_to_hr": round(float(psnr(reg_out, hr[curve_pos]).mean()), 4),
    }
    pictures["curve_psnr_to_regression"] = to_reg.cpu().numpy().astype(np.float32)
    pictures["curve_psnr_to_hr"] = to_hr.cpu().numpy().astype(np.float32)
    pictures["hr"] = to_uint8(hr[curve_pos])
    pictures["lr"] = to_uint8(y[curve_pos])
    for key, name in (("bicubic", "bicubic"), ("srcnn", "SRCNN"), ("regression_unet", "regression U-Net")):
        pictures[key] = to_uint8(outputs[name][curve_pos])
    pictures["sr3_samples"] = np.stack([to_uint8(curve[k]) for k in range(MEAN_K)])
    pictures["sr3_mean32"] = to_uint8(curve.mean(0))
    pictures["indices"] = np.asarray(CURVE_INDICES, dtype=np.int16)
    print(
        f"curve: PSNR(mean of k, regression) k=1 {result['curve']['psnr_to_regression'][0]:.2f} -> k=32 "
        f"{result['curve']['psnr_to_regression'][-1]:.2f}; to HR {result['curve']['psnr_to_hr'][0]:.2f} -> "
        f"{result['curve']['psnr_to_hr'][-1]:.2f} (regression {result['curve']['regression_psnr_to_hr']:.2f})",
        flush=True,
    )


def _photos(device: torch.device, work: Work, result: dict) -> None:
    hr, y, indices, names = TASKS["photos_x2"].load(device)
    outputs, seconds, nfes = {}, {}, {}
    for name, entry in PHOTO_ENTRIES.items():
        outputs[name], seconds[name], nfes[name] = harness_outputs(entry, work, hr, y, indices, device)
    params = {"bicubic": 0, "SRCNN": count_parameters(load("photos_srcnn", "cpu").model)}
    sr3_params = count_parameters(load(SR3_PHOTOS, "cpu").model)
    W = hr.shape[-1] // 2
    left, right = (
        (slice(None), slice(None), slice(None), slice(0, W)),
        (slice(None), slice(None), slice(None), slice(W, None)),
    )

    def realism(x: torch.Tensor) -> float:
        """Eq. 05.4 both ways round: left halves of x vs right halves of HR, and right vs left."""
        return 0.5 * float(patch_distance(x[left], hr[right]) + patch_distance(x[right], hr[left]))

    result["photos"] = {"names": names, "methods": {}, "sanity": {"patch_swd_hr_halves": round(realism(hr), 5)}}
    for name in PHOTO_METHODS:
        sr = outputs[name].to(device)
        entry = {
            "psnr": _stats(psnr(sr, hr)),
            "ssim": _stats(ssim(sr, hr)),
            "consistency": _stats(consistency_psnr(sr, y, 2)),
            "hf_ratio": _stats(high_frequency_ratio(sr, hr, 2)),
            "patch_swd": round(realism(sr), 5),
            "parameters": params.get(name, sr3_params),
            "nfe": nfes[name],
            "seconds_per_image": round(seconds[name] / len(indices), 3),
        }
        result["photos"]["methods"][name] = entry
        print(
            f"photos {name:28s} PSNR {entry['psnr']['mean']:6.2f}  patch SWD {entry['patch_swd']:.4f}  HF "
            f"{entry['hf_ratio']['mean']:.2f}",
            flush=True,
        )
    result["photos"]["sanity"]["patch_swd_bicubic"] = result["photos"]["methods"]["bicubic"]["patch_swd"]


def load_comparison() -> dict:
    """The cached comparison (``data/cache/cnn_vs_diffusion.json``), hash-checked."""
    return json.loads(verify_file(COMPARE_PATH).read_text(encoding="utf-8"))


def load_comparison_samples() -> dict[str, np.ndarray]:
    """The cached pictures and per-digit curve values (``data/cache/cnn_vs_diffusion.npz``), hash-checked:
    ``hr``, ``bicubic``, ``srcnn``, ``regression_unet``, ``sr3_mean32`` ``(N, 32, 32, 1)`` uint8, ``lr`` ``(N, 8, 8,
    1)``,
    ``sr3_samples`` ``(8, N, 32, 32, 1)``, ``indices`` ``(N,)``, ``curve_psnr_to_*`` ``(K_MAX, N)`` float32."""
    with np.load(verify_file(SAMPLES_PATH), allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def rejudge(device: torch.device, work_root: Path, progress: bool = False) -> int:
    """Re-judge the cached realism comparison by :func:`realism_verdicts` (issue 26: the earlier bootstrap repeated
    digits and sat above its own estimate). The two sets of outputs are recomputed through the harness (same digits,
    same per-image seeds); their measures must equal the cached ones, or nothing is written."""
    cached = load_comparison()
    digits = cached["digits"]
    data = digits_outputs(
        [DIGIT_ENTRIES[name] for name in ("SR3 DDIM-50", "regression U-Net")], device, work_root, progress
    )
    outputs, ref_hr = data["outputs"], data["reference"]
    classifier = load_classifier(device=device)
    for name, sr in outputs.items():
        again = {
            "patch_swd": round(float(patch_distance(sr, ref_hr)), 5),
            "frechet": round(float(digit_realism(classifier, sr, ref_hr)), 4),
        }
        kept = {key: digits["methods"][name][key] for key in again}
        if again != kept:
            raise SystemExit(f"{name}: the recomputed outputs measure {again}, the cache holds {kept}; not rewritten")
    digits.pop("sr3_minus_regression_frechet", None)
    digits.pop("sr3_minus_regression_patch_swd", None)
    digits["sr3_vs_regression"] = realism_verdicts(
        classifier, outputs["SR3 DDIM-50"], outputs["regression U-Net"], ref_hr
    )
    for key, v in digits["sr3_vs_regression"].items():
        iv = v["interval"]
        print(
            f"SR3 DDIM-50 vs regression U-Net, {key}: {v['verdict']} {iv['estimate']:+.5f} "
            f"[{iv['low']:+.5f}, {iv['high']:+.5f}] (jackknife bias {iv['bias']:+.5f})",
            flush=True,
        )
    source = (
        load_manifest()["files"][COMPARE_PATH]["source"]
        + "; realism re-judged by python -m course_lib.compare --rejudge"
    )
    write_cached(
        COMPARE_PATH,
        cached,
        None,
        None,
        source,
        ("lesson 05: bicubic, SRCNN, regression U-Net and SR3 measured side by side",),
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Write lesson 05's cache from the harness's outputs (computed here if missing; see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m course_lib.compare", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--work", default=str(WORK), help="folder for the harness's per-output files (resumable)")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument(
        "--rejudge",
        action="store_true",
        help="recompute only the realism comparison (stats' protocol) from the harness's outputs, check that they "
        "reproduce the cached patch SWD and Fréchet values, and rewrite that part of the cache",
    )
    args = parser.parse_args(argv)
    device = get_device(args.device)
    if args.rejudge:
        return rejudge(device, Path(args.work), args.progress)
    hardware = describe_hardware(device)
    print(f"comparing on {hardware}", flush=True)
    result: dict = {"hardware": hardware, "steps": 50, "sampler": "ddim", "eta": 0.0, "k_max": K_MAX, "mean_k": MEAN_K}
    pictures: dict[str, np.ndarray] = {}
    works = Work(Path(args.work), "digits_x4"), Work(Path(args.work), "photos_x2")
    _digits(device, works[0], result, pictures, args.progress)
    _photos(device, works[1], result)
    result["compute_seconds"] = round(sum(w.seconds + getattr(w, "extra_seconds", 0.0) for w in works))
    source = f"python -m course_lib.compare ({hardware}; {result['compute_seconds']} s of sampling and inference)"
    write_cached(
        COMPARE_PATH,
        result,
        SAMPLES_PATH,
        pictures,
        source,
        (
            "lesson 05: bicubic, SRCNN, regression U-Net and SR3 measured side by side",
            "lesson 05: pictures of the comparison (uint8) and the k-sample curve per digit",
        ),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
