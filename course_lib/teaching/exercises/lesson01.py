"""Exercises of lesson 01: ᾱ from β (Eq. 01.2), q_sample (Eq. 01.3) and the SNR crossing (Eq. 01.4)."""

from __future__ import annotations

import torch

from ...schedules import make_beta_schedule
from . import Exercise, Mismatch, close, register, run_check

__all__ = ["check_alpha_bars", "check_q_sample", "check_snr_crossing"]


def _betas() -> torch.Tensor:
    return make_beta_schedule("linear", 1000)


def _test_alpha_bars(fn) -> None:
    betas = _betas()
    out = fn(betas.clone())
    if out is None:
        raise Mismatch("your function returned None: did you forget `return`?")
    if not isinstance(out, torch.Tensor):
        raise Mismatch("return a torch.Tensor of shape (T,), got {out_type}.", out_type=type(out).__name__)
    ref = torch.cumprod(1 - betas, 0)
    if out.shape != ref.shape:
        raise Mismatch(
            "expected shape {ref_shape} (one ᾱ per timestep), got {out_shape}.",
            ref_shape=tuple(ref.shape),
            out_shape=tuple(out.shape),
        )
    out = out.double()
    if close(out, ref, atol=1e-6):
        return
    if close(out, torch.cumprod(betas, 0), atol=1e-12):
        raise Mismatch("you multiplied the β's: ᾱ_t is the product of α_s = 1 − β_s.")
    if close(out, torch.cumsum(1 - betas, 0), atol=1e-6):
        raise Mismatch("you added the α's: ᾱ_t is their product (torch.cumprod), not their sum.")
    if close(out, 1 - torch.cumsum(betas, 0), atol=1e-6):
        raise Mismatch("1 − Σβ is only the first-order approximation of ∏(1 − β): multiply the α's instead.")
    shifted = torch.cat([torch.ones(1, dtype=ref.dtype), ref[:-1]])
    if close(out, shifted, atol=1e-6):
        raise Mismatch("off by one: your ᾱ[0] is 1, but in code ᾱ[0] = α[0] = 1 − β[0] (the paper's ᾱ_1).")
    if close(out, torch.cumprod(1 - betas.flip(0), 0), atol=1e-6) or close(out, ref.flip(0), atol=1e-6):
        raise Mismatch("your ᾱ runs backwards: it must start near 1 at t = 0 and fall towards 0 at t = T − 1.")
    raise Mismatch("ᾱ at t = 499 is {out:.5f} where {ref:.5f} was expected.", out=out[499].item(), ref=ref[499].item())


def _test_q_sample(fn) -> None:
    betas = _betas()
    alpha_bars = torch.cumprod(1 - betas, 0).float()
    g = torch.Generator().manual_seed(11)
    t = torch.tensor([0, 150, 499, 999])
    x0 = torch.rand(4, 1, 8, 8, generator=g) * 2 - 1
    noise = torch.randn(4, 1, 8, 8, generator=g)
    out = fn(x0.clone(), t.clone(), noise.clone(), alpha_bars.clone())
    if out is None:
        raise Mismatch("your function returned None: did you forget `return`?")
    if not isinstance(out, torch.Tensor):
        raise Mismatch("return a torch.Tensor, got {out_type}.", out_type=type(out).__name__)
    if out.shape != x0.shape:
        raise Mismatch(
            "x_t must have the shape of x0, {x0_shape}, got {out_shape}: reshape "
            "ᾱ[t] to (B, 1, 1, 1) so it multiplies each image, e.g. "
            "alpha_bars[t].view(-1, 1, 1, 1).",
            x0_shape=tuple(x0.shape),
            out_shape=tuple(out.shape),
        )

    def make(sig, nse):
        shape = (-1, 1, 1, 1)
        return sig.view(shape) * x0 + nse.view(shape) * noise

    ab = alpha_bars[t]
    ref = make(ab.sqrt(), (1 - ab).sqrt())
    if close(out, ref):
        return
    # A zero image isolates the noise coefficient: std(x_t) = √(1 − ᾱ_t).
    zero_out = fn(torch.zeros_like(x0), t.clone(), noise.clone(), alpha_bars.clone())
    k = 2  # t = 499
    got_std = (zero_out[k] / noise[k]).median().item() if isinstance(zero_out, torch.Tensor) else float("nan")
    want_std = (1 - ab[k]).sqrt().item()
    if close(out, make(ab.sqrt(), 1 - ab)):
        raise Mismatch(
            "your x_t has noise std {got_std:.3f} where {want_std:.3f} was "
            "expected — did you use 1 − ᾱ (the variance) instead of √(1 − ᾱ) (the "
            "standard deviation)?",
            got_std=got_std,
            want_std=want_std,
        )
    if close(out, make(ab, (1 - ab).sqrt())):
        raise Mismatch("the signal coefficient is √ᾱ_t, not ᾱ_t: you forgot a square root on x0's factor.")
    if close(out, make(ab, 1 - ab)):
        raise Mismatch("both coefficients need a square root: x_t = √ᾱ_t · x0 + √(1 − ᾱ_t) · ε.")
    for shift, word in ((-1, "t − 1"), (1, "t + 1")):
        ab_s = alpha_bars[(t + shift).clamp(0, len(alpha_bars) - 1)]
        if close(out, make(ab_s.sqrt(), (1 - ab_s).sqrt())):
            raise Mismatch(
                "off by one: you used ᾱ[{word}]. In code t is 0-based and ᾱ[t] already belongs to step t.", word=word
            )
    betas_f = betas.float()[t]
    if close(out, make((1 - betas_f).sqrt(), betas_f.sqrt())):
        raise Mismatch(
            "that is one step of the chain (β_t, Eq. 01.1); the closed form uses the cumulative ᾱ_t (Eq. 01.3)."
        )
    raise Mismatch(
        "for t = 499 your x_t has noise std {got_std:.3f} where {want_std:.3f} was expected.",
        got_std=got_std,
        want_std=want_std,
    )


def _snr_crossing_ref(alpha_bars: torch.Tensor, level: float) -> int:
    snr = alpha_bars / (1 - alpha_bars)
    return int(torch.nonzero(snr < level)[0])


def _test_snr_crossing(fn) -> None:
    for name in ("linear", "cosine"):
        alpha_bars = torch.cumprod(1 - make_beta_schedule(name, 1000), 0)
        for level in (1.0, 0.1):
            ref = _snr_crossing_ref(alpha_bars, level)
            out = fn(alpha_bars.clone(), level)
            if out is None:
                raise Mismatch("your function returned None: did you forget `return`?")
            try:
                out = int(out)
            except (TypeError, ValueError):
                raise Mismatch("return one integer timestep, got {out_type}.", out_type=type(out).__name__) from None
            if out == ref:
                continue
            if out == ref + 1:
                raise Mismatch(
                    "off by one ({name}, level {level}): you returned {out}, a 1-based "
                    "step; return the 0-based index {ref}.",
                    name=name,
                    level=level,
                    out=out,
                    ref=ref,
                )
            if out == ref - 1:
                raise Mismatch(
                    "off by one ({name}, level {level}): {out} is the last t with SNR ≥ "
                    "level; return the first t with SNR < level, {ref}.",
                    name=name,
                    level=level,
                    out=out,
                    ref=ref,
                )
            sqrt_ref = int(torch.nonzero((alpha_bars / (1 - alpha_bars)).sqrt() < level)[0])
            if out == sqrt_ref:
                raise Mismatch("SNR is a ratio of variances, ᾱ / (1 − ᾱ), not of standard deviations.")
            raise Mismatch(
                "for the {name} schedule and level {level} you returned t = {out}; expected {ref}.",
                name=name,
                level=level,
                out=out,
                ref=ref,
            )


ALPHA_BARS = register(Exercise("01", 1, "alpha_bars_from_betas", _test_alpha_bars))
Q_SAMPLE = register(Exercise("01", 2, "q_sample_by_hand", _test_q_sample))
SNR_CROSSING = register(Exercise("01", 3, "snr_crossing", _test_snr_crossing))


def check_alpha_bars(fn):
    """Check ``fn(betas (T,)) -> alpha_bars (T,)`` (Eq. 01.2)."""
    return run_check(ALPHA_BARS, fn)


def check_q_sample(fn):
    """Check ``fn(x0 (B,C,H,W), t (B,), noise (B,C,H,W), alpha_bars (T,)) -> x_t`` (Eq. 01.3)."""
    return run_check(Q_SAMPLE, fn)


def check_snr_crossing(fn):
    """Check ``fn(alpha_bars (T,), level) -> int``: the first 0-based t with SNR(t) < level (Eq. 01.4)."""
    return run_check(SNR_CROSSING, fn)
