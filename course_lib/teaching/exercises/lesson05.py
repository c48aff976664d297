"""Exercises of lesson 05: the MSE-optimal guess is the posterior mean (Eq. 05.2), the PSNR of an average of
samples computed by hand (Eq. 00.2 on the mean image), and a numeric prediction of the k = 16 mean's PSNR
(Eq. 05.5) made before the lesson measures it."""

from __future__ import annotations

import math
import numbers

import torch

from . import Exercise, Mismatch, close, psnr01, register, run_check

__all__ = ["check_mse_optimal_guess", "check_psnr_of_mean", "check_k16_prediction", "K16_TOLERANCE_DB"]

#: how close (dB) a prediction of the k = 16 mean's PSNR must be to the measurement to pass
K16_TOLERANCE_DB = 0.5


def _candidates(seed: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    values = torch.rand(4, 1, 6, 6, generator=g) * 2 - 1  # 4 plausible HR images for one input
    weights = torch.tensor([0.1, 0.45, 0.3, 0.15]) * 2.0  # not normalised on purpose: probabilities up to a factor
    return values, weights


def _test_mse_optimal(fn) -> None:
    values, weights = _candidates()
    out = fn(values.clone(), weights.clone())
    if out is None:
        raise Mismatch("your function returned None: did you forget `return`?")
    if not isinstance(out, torch.Tensor):
        raise Mismatch("return a torch.Tensor (one image), got {out_type}.", out_type=type(out).__name__)
    p = weights / weights.sum()
    ref = (p.view(-1, 1, 1, 1) * values).sum(0)
    if out.shape != ref.shape:
        if out.shape == values.shape:
            raise Mismatch(
                "return one image of shape {ref_shape}: sum the weighted candidates over axis 0.",
                ref_shape=tuple(ref.shape),
            )
        raise Mismatch(
            "expected one image of shape {ref_shape}, got {out_shape}.",
            ref_shape=tuple(ref.shape),
            out_shape=tuple(out.shape),
        )
    if close(out, ref):
        return
    if close(out, values[int(weights.argmax())]):
        raise Mismatch(
            "you returned the most probable candidate (the mode). Under the squared error the best single guess "
            "is the probability-weighted mean: expand E‖x − c‖² and set its gradient in c to zero (Eq. 05.2)."
        )
    if close(out, values.mean(0)):
        raise Mismatch("you averaged the candidates with equal weights: weight each by its probability, Σ p_k x_k.")
    if close(out, (weights.view(-1, 1, 1, 1) * values).sum(0)):
        raise Mismatch(
            "the weights do not sum to 1 here: divide by their sum first (p_k = w_k / Σ w), or your guess is scaled."
        )
    if close(out, torch.median(values, dim=0).values) or close(out, torch.median(values, dim=0).values.float()):
        raise Mismatch(
            "the per-pixel median minimises the absolute error, not the squared error: use the weighted mean."
        )
    raise Mismatch("your image differs from the probability-weighted mean Σ p_k x_k / Σ p_k of the candidates.")


def _samples(seed: int = 11) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    hr = torch.rand(3, 1, 8, 8, generator=g) * 2 - 1
    spread = torch.tensor([0.05, 0.2, 0.5]).view(1, 3, 1, 1, 1)
    samples = (hr + spread * torch.randn(5, 3, 1, 8, 8, generator=g)).clamp(-1, 1)  # K = 5 samples of each of 3 images
    return samples, hr


def _test_psnr_of_mean(fn) -> None:
    samples, hr = _samples()
    out = fn(samples.clone(), hr.clone())
    if out is None:
        raise Mismatch("your function returned None: did you forget `return`?")
    out = torch.as_tensor(out, dtype=torch.float64)
    mean = samples.mean(0)
    ref = psnr01(mean, hr).double()
    if out.shape != ref.shape:
        if out.numel() == 1:
            raise Mismatch("return one PSNR per image, shape (B,), not one number for the batch.")
        if out.shape == samples.shape[:1]:
            raise Mismatch(
                "you returned one value per sample: average the K samples (axis 0) into one image per input first."
            )
        raise Mismatch(
            "expected one PSNR per image, shape {ref_shape}, got {out_shape}.",
            ref_shape=tuple(ref.shape),
            out_shape=tuple(out.shape),
        )
    if close(out, ref, atol=1e-3):
        return
    per_sample = torch.stack([psnr01(s, hr) for s in samples]).double()
    if close(out, per_sample.mean(0), atol=1e-3):
        raise Mismatch(
            "you averaged the samples' PSNRs: average the images first, then measure the mean image. "
            "The two differ — averaging cancels the samples' disagreements, which is the point of Eq. 05.5."
        )
    if abs((out - ref).mean().item() + 20 * math.log10(2)) < 0.01:
        raise Mismatch("your PSNR is 6.02 dB too low: the images are in [-1, 1]; map them to [0, 1] first (MAX = 1).")
    if close(out, 2 * ref, atol=1e-3):
        raise Mismatch(
            "twice the expected value: PSNR = 10 · log10(MAX² / MSE), or 20 · log10(MAX / RMSE) — not 20 · log10(1 / "
            "MSE)."
        )
    mse = (((mean + 1) / 2 - (hr + 1) / 2) ** 2).flatten(1).mean(1).double()
    if close(out, mse, atol=1e-6):
        raise Mismatch("that is the mean squared error: PSNR = 10 · log10(1 / MSE) for images in [0, 1].")
    if close(out, psnr01(samples.mean(1), hr).double(), atol=1e-3):
        raise Mismatch("you averaged over axis 1 (the images): the samples are on axis 0, samples.mean(0).")
    raise Mismatch(
        "for the first image you got {out:.2f} dB where {ref:.2f} dB was expected.",
        out=out[0].item(),
        ref=ref[0].item(),
    )


def _k16_facts() -> dict:
    """The cached curve's numbers (mean over the curve digits of per-image PSNR to HR) and, from the cached
    pictures, one sample's MSE and the variance V between 8 samples (on [0, 1]), as the lesson prints them."""
    from ...experiments.compare import load_comparison, load_comparison_samples

    curve = load_comparison()["curve"]
    pictures = load_comparison_samples()
    s8 = torch.from_numpy(pictures["sr3_samples"]).double() / 255
    hr = torch.from_numpy(pictures["hr"]).double() / 255
    mse1 = float(((s8[0] - hr) ** 2).mean())
    var8 = float(s8.var(dim=0).mean())
    return {
        "k1": curve["psnr_to_hr"][0],
        "k16": curve["psnr_to_hr"][15],
        "regression": curve["regression_psnr_to_hr"],
        "mse1": mse1,
        "var8": var8,
        "pooled16": 10 * math.log10(1 / (mse1 - var8 * 15 / 16)),
    }


def _test_k16(fn) -> None:
    value = fn()
    if value is None or value is Ellipsis:
        raise NotImplementedError
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise Mismatch("enter your prediction as a number of dB (e.g. 23.4), got {value!r}.", value=value)
    value = float(value)
    f = _k16_facts()
    if abs(value - f["k16"]) <= K16_TOLERANCE_DB:
        return
    ideal = f["k1"] + 10 * math.log10(2 / (1 + 1 / 16))
    if abs(value - ideal) < 0.1:
        raise Mismatch(
            "{value:.2f} dB is what an exact posterior sampler would give (+2.75 "
            "dB: V = MMSE). Use the measured V instead: here V = {f:.5f} is far "
            "less than half of MSE_1 = {f2:.5f}, so the gain is 10 · log10(MSE_1 / "
            "(MSE_1 − (15/16) V)).",
            value=value,
            f=f['var8'],
            f2=f['mse1'],
        )
    if abs(value - f["pooled16"]) < 0.1:
        raise Mismatch(
            "{value:.2f} dB is the PSNR of the pooled MSE, but the curve averages "
            "per-image PSNRs, which is higher (one sample: {f:.2f} dB per image vs "
            "{log10_f:.2f} dB pooled). Predict the gain, 10 · log10(MSE_1 / "
            "MSE_16), and add it to one sample's per-image mean.",
            value=value,
            f=f['k1'],
            log10_f=10 * math.log10(1 / f['mse1']),
        )
    if value <= f["k1"] + 0.3:
        raise Mismatch(
            "{value:.2f} dB is no better than one sample ({f:.2f} dB), but "
            "averaging helps: the samples disagree where the input is silent, and "
            "the mean cancels part of that disagreement. Eq. 05.5: MSE_k = bias² + "
            "V / k, so MSE_16 = MSE_1 − (15/16) V; the gain is 10 · log10(MSE_1 / "
            "MSE_16) dB.",
            value=value,
            f=f['k1'],
        )
    if value > f["k16"]:
        raise Mismatch(
            "{value:.2f} dB is too optimistic. The mean of k samples tends to the "
            "sampler's own mean, whose error (the bias term of Eq. 05.5) does not "
            "average away: the gain is 10 · log10(MSE_1 / MSE_16) with MSE_16 = "
            "MSE_1 − (15/16) V.",
            value=value,
        )
    raise Mismatch(
        "{value:.2f} dB: more gain than that. Eq. 05.5 with k = 16 removes "
        "15/16 of the variance V from one sample's MSE. Compute the gain 10 · "
        "log10(MSE_1 / MSE_16) and add it to one sample's mean PSNR ({f:.2f} "
        "dB).",
        value=value,
        f=f['k1'],
    )


MSE_OPTIMAL = register(Exercise("05", 1, "mse_optimal_guess", _test_mse_optimal))
PSNR_OF_MEAN = register(Exercise("05", 2, "psnr_of_mean", _test_psnr_of_mean))
K16 = register(Exercise("05", 3, "prediction_k16", _test_k16))


def check_mse_optimal_guess(fn):
    """Check ``fn(candidates (K, C, H, W), weights (K,)) -> (C, H, W)``: the guess with the least expected squared
    error, Σ p_k x_k with p = weights / Σ weights (Eq. 05.2)."""
    return run_check(MSE_OPTIMAL, fn)


def check_psnr_of_mean(fn):
    """Check ``fn(samples (K, B, C, H, W), hr (B, C, H, W)) -> (B,)``: PSNR (dB, images in [-1, 1]) of the mean of the
    K samples of each image."""
    return run_check(PSNR_OF_MEAN, fn)


def check_k16_prediction(prediction):
    """Check a numeric prediction (dB) of the mean over the curve digits of PSNR(mean of 16 SR3 samples, HR),
    against the cached measurement (within :data:`K16_TOLERANCE_DB`). ``prediction`` is a number or a function
    of no arguments that returns one; ``None`` (or a function that raises NotImplementedError) is "not done yet"."""
    return run_check(K16, prediction if callable(prediction) else (lambda: prediction))
