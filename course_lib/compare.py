"""CNN vs diffusion, measured side by side (workflow layer; lesson 05): ``python -m course_lib.compare``.

Runs every method on the same test images, measures each the same way, and caches small files that lesson 05
loads (and re-checks live on a few images):

* ``data/cache/cnn_vs_diffusion.json`` — per method, on the 500 evaluation digits (:data:`EVAL_INDICES`, ×4) and
  the 4 test photos (×2): distortion (PSNR, SSIM), consistency (Eq. 04.5), detail (HF ratio, Eq. 04.6),
  fidelity (the digit classifier's agreement with its call on HR), **realism** (Eq. 05.4–05.5, against HR images
  the method never saw), **diversity** (per-pixel spread over 8 samples of one input), and **cost** (parameters,
  network evaluations, seconds per image on the machine that ran it); plus the k-sample-mean curve
  (Eq. 05.3) and the realism sanity checks;
* ``data/cache/cnn_vs_diffusion.npz`` — uint8 pictures of :data:`CURVE_INDICES` through every method (8 SR3
  samples and the mean of 32 included) for the comparer widget, and the per-digit curve values.

Protocol. One-shot methods are deterministic. SR3 sample ``k`` of test digit ``i`` starts from the noise of
:func:`course_lib.evaluate.image_noise` with seed offset ``100 000 · k``, so sample 0 is the very sample of
lesson 04's evaluation and any image can be reproduced alone. Realism compares a method's outputs on the even
test digits with the HR images of the **odd** test digits (the other half of the split, 50 of each class), and
for photos the left half of each output with the right half of each HR photo and vice versa: the reference set
never contains the image being judged, so the score measures "looks like the data", not "equals the target".

Intermediate outputs go to ``runs/compare/`` (one file per method), so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from .classifier import load_classifier
from .data import DigitsSR, PhotosSR, to_uint8, upsample, verify_file, write_cached
from .device import get_device
from .evaluate import EVAL_INDICES, SAMPLE_OFFSET, SEED_BASE, sample_batched, value_stats as _stats
from .metrics import frechet_distance, high_frequency_ratio, patch_distance, pixel_diversity, psnr, ssim
from .models import count_parameters
from .sr import DEFAULT_TILES, TiledDenoiser, consistency_psnr, load_sr_model
from .train import load_pretrained

__all__ = ["CURVE_INDICES", "REFERENCE_INDICES", "K_MAX", "MEAN_K", "SAMPLE_OFFSET", "DIGIT_METHODS", "PHOTO_METHODS",
           "sample_seeds", "running_mean_psnr", "digit_realism", "load_comparison", "load_comparison_samples", "main"]

SR3_DIGITS = "digits_sr3_concat"
SR3_PHOTOS = "photos_sr3"
#: the k-sample curve's digits: every 5th evaluation digit, 10 of each class
CURVE_INDICES = EVAL_INDICES[::5]
#: the realism reference: the other half of the test split (odd indices, 50 of each class)
REFERENCE_INDICES = tuple(range(1, 1000, 2))
K_MAX = 32  # samples per curve digit
MEAN_K = 8  # samples per evaluation digit (diversity, the "mean of 8" row)
DIGIT_METHODS = ("bicubic", "SRCNN", "regression U-Net", "SR3 DDPM-1000", "SR3 DDIM-50", "SR3 DDIM-50 + projection",
                 f"mean of {MEAN_K} SR3 samples")
PHOTO_METHODS = ("bicubic", "SRCNN", "SR3 DDIM-50", "SR3 DDIM-50 + projection")
COMPARE_PATH = "cache/cnn_vs_diffusion.json"
SAMPLES_PATH = "cache/cnn_vs_diffusion.npz"
WORK = Path("runs/compare")


def sample_seeds(index: int, k: int) -> int:
    """The seed of SR3 sample ``k`` (0, 1, …) of test image ``index`` (``image_noise``'s convention)."""
    return SEED_BASE + int(index) + SAMPLE_OFFSET * int(k)


def sr3_samples(model, diffusion, lr: torch.Tensor, indices, ks, steps: int = 50, batch: int = 250,
                progress: bool = False) -> torch.Tensor:
    """DDIM-``steps`` samples ``k in ks`` of every image: ``(len(ks), N, C, H, W)`` (seeds by :func:`sample_seeds`)."""
    return torch.stack([sample_batched(model, diffusion, lr, indices, k, batch, steps=steps, progress=progress) for k in ks])


def running_mean_psnr(samples: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """PSNR of the mean of the first k samples to ``target``, for k = 1 … K (Eq. 05.3's experiment).

    Args:
        samples: ``(K, N, C, H, W)`` in [-1, 1]; target: ``(N, C, H, W)``.

    Returns:
        ``(K, N)``: row k − 1 is PSNR(mean of samples[:k], target) per image.
    """
    if samples.dim() != 5 or samples.shape[1:] != target.shape:
        raise ValueError(f"samples must be (K, N, C, H, W) with (N, C, H, W) = target's {tuple(target.shape)}, got {tuple(samples.shape)}")
    ks = torch.arange(1, samples.shape[0] + 1, device=samples.device, dtype=torch.float32).view(-1, 1, 1, 1, 1)
    means = samples.float().cumsum(0) / ks
    return torch.stack([psnr(m, target) for m in means])


@torch.no_grad()
def digit_realism(classifier, images: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Eq. 05.4: Fréchet distance between the classifier's penultimate features of ``images`` and of ``reference``
    (both ``(N, 1, 32, 32)`` in [-1, 1]). Scalar float64; lower = closer to the data."""
    return frechet_distance(classifier.features(images), classifier.features(reference))


def _paired_bootstrap(distance, a: torch.Tensor, b: torch.Tensor, reference: torch.Tensor, draws: int = 200,
                      seed: int = 0) -> dict:
    """Bootstrap ``distance(a, ref) − distance(b, ref)`` over images: each draw resamples the judged images (the same
    indices for ``a`` and ``b``: paired) and the reference. Returns the mean, sd and share of draws below zero."""
    g = torch.Generator().manual_seed(seed)
    diffs = []
    for _ in range(draws):
        i = torch.randint(0, a.shape[0], (a.shape[0],), generator=g).to(a.device)
        j = torch.randint(0, reference.shape[0], (reference.shape[0],), generator=g).to(a.device)
        diffs.append(float(distance(a[i], reference[j]) - distance(b[i], reference[j])))
    d = torch.tensor(diffs)
    return {"mean": round(float(d.mean()), 5), "sd": round(float(d.std()), 5), "share_below_zero": round(float((d < 0).float().mean()), 3),
            "draws": draws}


class _Work:
    """Per-method outputs under ``runs/compare/`` (resume after an interruption)."""

    def __init__(self, root: Path, tag: str):
        self.root = root / tag
        self.root.mkdir(parents=True, exist_ok=True)
        self.seconds = 0.0  # compute time of every output, including those resumed from an earlier run

    def get(self, name: str, make):
        path = self.root / f"{name.replace(' ', '_').replace('/', '_')}.pt"
        if path.exists():
            state = torch.load(path, weights_only=True)
            self.seconds += state["seconds"]
            return state["x"], state["seconds"]
        start = time.perf_counter()
        x = make()
        seconds = time.perf_counter() - start
        self.seconds += seconds
        tmp = path.with_suffix(".tmp")
        torch.save({"x": x.cpu(), "seconds": seconds}, tmp)
        tmp.replace(path)
        print(f"  {name}: {seconds:.0f} s", flush=True)
        return x.cpu(), seconds


def _digits(device: torch.device, work: _Work, result: dict, pictures: dict, progress: bool) -> None:
    classifier = load_classifier(device=device)
    ds = DigitsSR("test", scale=4)
    indices = list(EVAL_INDICES)
    hr, lr = (t.to(device) for t in ds.tensors(indices))
    ref_hr, _ = (t.to(device) for t in ds.tensors(list(REFERENCE_INDICES)))
    n = len(indices)
    curve_pos = [indices.index(i) for i in CURVE_INDICES]

    sr3, diffusion, _ = load_sr_model(SR3_DIGITS, device)
    srcnn = load_pretrained("digits_srcnn", device)[0]
    reg = load_pretrained("digits_regression_unet", device)[0]

    def one_shot(net):
        with torch.no_grad():
            return torch.cat([net(lr[s : s + 250]) for s in range(0, n, 250)])

    outputs, seconds = {}, {}
    outputs["bicubic"], seconds["bicubic"] = work.get("bicubic", lambda: upsample(lr, 4, "bicubic"))
    outputs["SRCNN"], seconds["SRCNN"] = work.get("srcnn", lambda: one_shot(srcnn))
    outputs["regression U-Net"], seconds["regression U-Net"] = work.get("regression_unet", lambda: one_shot(reg))
    # SR3 samples: k = 0 … MEAN_K − 1 for every digit, k = MEAN_K … K_MAX − 1 for the curve digits only
    first, t_first = work.get("sr3_ddim50_k0-7", lambda: sr3_samples(sr3, diffusion, lr, indices, range(MEAN_K), progress=progress))
    extra, t_extra = work.get("sr3_ddim50_curve_k8-31", lambda: sr3_samples(
        sr3, diffusion, lr[curve_pos], CURVE_INDICES, range(MEAN_K, K_MAX), progress=progress))
    outputs["SR3 DDIM-50"], seconds["SR3 DDIM-50"] = first[0], t_first / MEAN_K
    outputs[f"mean of {MEAN_K} SR3 samples"], seconds[f"mean of {MEAN_K} SR3 samples"] = first.mean(0), t_first

    outputs["SR3 DDIM-50 + projection"], seconds["SR3 DDIM-50 + projection"] = work.get(
        "sr3_ddim50_projection", lambda: sample_batched(sr3, diffusion, lr, indices, steps=50, project=True, progress=progress))
    outputs["SR3 DDPM-1000"], seconds["SR3 DDPM-1000"] = work.get(  # the full ancestral chain; one generator for its noise
        "sr3_ddpm1000", lambda: sample_batched(sr3, diffusion, lr, indices, sampler="ddpm",
                                               generator=torch.Generator(device=device).manual_seed(0), progress=progress))

    cost = {"bicubic": (0, 0), "SRCNN": (count_parameters(srcnn), 1), "regression U-Net": (count_parameters(reg), 1),
            "SR3 DDPM-1000": (count_parameters(sr3), diffusion.num_timesteps), "SR3 DDIM-50": (count_parameters(sr3), 50),
            "SR3 DDIM-50 + projection": (count_parameters(sr3), 50), f"mean of {MEAN_K} SR3 samples": (count_parameters(sr3), 50 * MEAN_K)}
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
            "psnr": _stats(psnr(sr, hr)), "ssim": _stats(ssim(sr, hr)), "consistency": _stats(consistency_psnr(sr, lr, 4)),
            "hf_ratio": _stats(high_frequency_ratio(sr, hr, 4)), "agreement": _stats(agree),
            "frechet": round(float(digit_realism(classifier, sr, ref_hr)), 4),
            "patch_swd": round(float(patch_distance(sr, ref_hr)), 5),
            "parameters": params, "nfe": nfe, "seconds_per_image": round(seconds[name] / n, 5),
        }
        if name.startswith("SR3 DDIM-50") and "projection" not in name:
            entry["diversity"] = _stats(pixel_diversity(samples_all))
        elif name.startswith(("SR3", "mean of")):
            entry["diversity"] = None  # one sample per digit (or an average: not a sample)
        else:
            entry["diversity"] = {"mean": 0.0, "sd": 0.0, "values": None}  # deterministic
        result["digits"]["methods"][name] = entry
        print(f"digits {name:28s} PSNR {entry['psnr']['mean']:6.2f}  SSIM {entry['ssim']['mean']:.3f}  FD {entry['frechet']:.3f}  "
              f"patch SWD {entry['patch_swd']:.4f}  agree {entry['agreement']['mean']:.3f}  HF {entry['hf_ratio']['mean']:.2f}", flush=True)
    half = list(range(0, 500, 2)), list(range(1, 500, 2))
    result["digits"]["sanity"] = {
        "frechet_hr_vs_reference": round(ref_fd, 4),
        "frechet_hr_halves": round(float(digit_realism(classifier, hr[half[0]], hr[half[1]])), 4),
        "frechet_bicubic_vs_reference": result["digits"]["methods"]["bicubic"]["frechet"],
        "patch_swd_hr_vs_reference": round(float(patch_distance(hr, ref_hr)), 5),
        "patch_swd_bicubic_vs_reference": result["digits"]["methods"]["bicubic"]["patch_swd"],
    }
    # how sure is "SR3 is more realistic than the regression U-Net"? paired bootstraps over the digits
    with torch.no_grad():
        feats = {k: classifier.features(outputs[k].to(device)).double() for k in ("SR3 DDIM-50", "regression U-Net")}
        result["digits"]["sr3_minus_regression_frechet"] = _paired_bootstrap(
            frechet_distance, feats["SR3 DDIM-50"], feats["regression U-Net"], classifier.features(ref_hr).double())
        result["digits"]["sr3_minus_regression_patch_swd"] = _paired_bootstrap(
            lambda x, r: patch_distance(x, r, repeats=1), outputs["SR3 DDIM-50"].to(device), outputs["regression U-Net"].to(device), ref_hr)

    # the k-sample curve (Eq. 05.3) on CURVE_INDICES
    curve = torch.cat([first[:, curve_pos], extra]).to(device)  # (K_MAX, 100, 1, 32, 32)
    reg_out = outputs["regression U-Net"][curve_pos].to(device)
    to_reg = running_mean_psnr(curve, reg_out)
    to_hr = running_mean_psnr(curve, hr[curve_pos])
    result["curve"] = {"indices": list(CURVE_INDICES), "k": list(range(1, K_MAX + 1)),
                       "psnr_to_regression": [round(float(v), 4) for v in to_reg.mean(1)],
                       "psnr_to_regression_sd": [round(float(v), 4) for v in to_reg.std(1)],
                       "psnr_to_hr": [round(float(v), 4) for v in to_hr.mean(1)],
                       "psnr_to_hr_sd": [round(float(v), 4) for v in to_hr.std(1)],
                       "regression_psnr_to_hr": round(float(psnr(reg_out, hr[curve_pos]).mean()), 4)}
    pictures["curve_psnr_to_regression"] = to_reg.cpu().numpy().astype(np.float32)
    pictures["curve_psnr_to_hr"] = to_hr.cpu().numpy().astype(np.float32)
    pictures["hr"] = to_uint8(hr[curve_pos])
    pictures["lr"] = to_uint8(lr[curve_pos])
    for key, name in (("bicubic", "bicubic"), ("srcnn", "SRCNN"), ("regression_unet", "regression U-Net")):
        pictures[key] = to_uint8(outputs[name][curve_pos])
    pictures["sr3_samples"] = np.stack([to_uint8(curve[k]) for k in range(MEAN_K)])
    pictures["sr3_mean32"] = to_uint8(curve.mean(0))
    pictures["indices"] = np.asarray(CURVE_INDICES, dtype=np.int16)
    print(f"curve: PSNR(mean of k, regression) k=1 {result['curve']['psnr_to_regression'][0]:.2f} -> k=32 "
          f"{result['curve']['psnr_to_regression'][-1]:.2f}; to HR {result['curve']['psnr_to_hr'][0]:.2f} -> "
          f"{result['curve']['psnr_to_hr'][-1]:.2f} (regression {result['curve']['regression_psnr_to_hr']:.2f})", flush=True)


def _photos(device: torch.device, work: _Work, result: dict) -> None:
    pds = PhotosSR("test", scale=2, patch_size=256, mode="grid")
    hr, lr = (t.to(device) for t in pds.tensors())
    model, diffusion, _ = load_sr_model(SR3_PHOTOS, device)
    tiled = TiledDenoiser(model, DEFAULT_TILES[SR3_PHOTOS])

    def sr3(project: bool):
        return lambda: sample_batched(tiled, diffusion, lr, range(len(pds)), batch=1, steps=50, project=project, progress=False)

    outputs, seconds = {}, {}
    srcnn = load_pretrained("photos_srcnn", device)[0]

    def one_shot():
        with torch.no_grad():  # fully convolutional: the whole photo in one pass
            return torch.cat([srcnn(lr[i : i + 1]) for i in range(len(pds))])

    outputs["bicubic"], seconds["bicubic"] = work.get("bicubic", lambda: upsample(lr, 2, "bicubic"))
    outputs["SRCNN"], seconds["SRCNN"] = work.get("srcnn", one_shot)
    outputs["SR3 DDIM-50"], seconds["SR3 DDIM-50"] = work.get("sr3_ddim50", sr3(False))
    outputs["SR3 DDIM-50 + projection"], seconds["SR3 DDIM-50 + projection"] = work.get("sr3_ddim50_projection", sr3(True))
    W = hr.shape[-1] // 2
    left, right = (slice(None), slice(None), slice(None), slice(0, W)), (slice(None), slice(None), slice(None), slice(W, None))

    def realism(x: torch.Tensor) -> float:
        """Eq. 05.5 both ways round: left halves of x vs right halves of HR, and right vs left."""
        return 0.5 * float(patch_distance(x[left], hr[right]) + patch_distance(x[right], hr[left]))

    result["photos"] = {"names": list(pds.sources), "methods": {},
                        "sanity": {"patch_swd_hr_halves": round(realism(hr), 5)}}
    for name in PHOTO_METHODS:
        sr = outputs[name].to(device)
        entry = {"psnr": _stats(psnr(sr, hr)), "ssim": _stats(ssim(sr, hr)), "consistency": _stats(consistency_psnr(sr, lr, 2)),
                 "hf_ratio": _stats(high_frequency_ratio(sr, hr, 2)), "patch_swd": round(realism(sr), 5),
                 "parameters": {"bicubic": 0, "SRCNN": count_parameters(srcnn)}.get(name, count_parameters(model)),
                 "nfe": {"bicubic": 0, "SRCNN": 1}.get(name, 50),
                 "seconds_per_image": round(seconds[name] / len(pds), 3)}
        result["photos"]["methods"][name] = entry
        print(f"photos {name:28s} PSNR {entry['psnr']['mean']:6.2f}  patch SWD {entry['patch_swd']:.4f}  HF {entry['hf_ratio']['mean']:.2f}", flush=True)
    result["photos"]["sanity"]["patch_swd_bicubic"] = result["photos"]["methods"]["bicubic"]["patch_swd"]


def load_comparison() -> dict:
    """The cached comparison (``data/cache/cnn_vs_diffusion.json``), hash-checked."""
    return json.loads(verify_file(COMPARE_PATH).read_text(encoding="utf-8"))


def load_comparison_samples() -> dict[str, np.ndarray]:
    """The cached pictures and per-digit curve values (``data/cache/cnn_vs_diffusion.npz``), hash-checked:
    ``hr``, ``bicubic``, ``srcnn``, ``regression_unet``, ``sr3_mean32`` ``(N, 32, 32, 1)`` uint8, ``lr`` ``(N, 8, 8, 1)``,
    ``sr3_samples`` ``(8, N, 32, 32, 1)``, ``indices`` ``(N,)``, ``curve_psnr_to_*`` ``(K_MAX, N)`` float32."""
    with np.load(verify_file(SAMPLES_PATH), allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.compare", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--work", default=str(WORK), help="folder for per-method outputs (resumable)")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args(argv)
    device = get_device(args.device) if args.device else get_device()
    hardware = f"{platform.processor() or platform.machine()} ({device.type}), torch {torch.__version__}, {torch.get_num_threads()} threads"
    print(f"comparing on {hardware}", flush=True)
    result: dict = {"hardware": hardware, "steps": 50, "sampler": "ddim", "eta": 0.0, "k_max": K_MAX, "mean_k": MEAN_K}
    pictures: dict[str, np.ndarray] = {}
    works = _Work(Path(args.work), "digits"), _Work(Path(args.work), "photos")
    _digits(device, works[0], result, pictures, args.progress)
    _photos(device, works[1], result)
    result["compute_seconds"] = round(sum(w.seconds for w in works))
    source = f"python -m course_lib.compare ({hardware}; {result['compute_seconds']} s of sampling and inference)"
    write_cached(COMPARE_PATH, result, SAMPLES_PATH, pictures, source,
                 ("lesson 05: bicubic, SRCNN, regression U-Net and SR3 measured side by side",
                  "lesson 05: pictures of the comparison (uint8) and the k-sample curve per digit"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
