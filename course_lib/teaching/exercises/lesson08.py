"""Exercises of lesson 08, each naming the classic mistake it catches: the pseudo-inverse of average pooling (nearest
upsampling, not bicubic and not the transpose; Eq. 08.2), the DDNM loop with the range–null-space step on x̂₀ at
every step (not only on the final image; Eq. 08.3–08.4), DDNM+'s weights with σ_y in the images' units (Eq. 08.5),
and a zero-initialised convolution that joins a ControlNet to its frozen U-Net (Eq. 08.6)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...operators import AreaOperator
from ...samplers.ddnm import posterior_coefficients
from . import Exercise, Mismatch, close, register, run_check

__all__ = ["check_area_pinv", "check_ddnm_loop", "check_ddnm_plus", "check_zero_conv"]


def _none(out):
    if out is None:
        raise Mismatch("your function returned None: did you forget `return`?")


def _test_area_pinv(fn) -> None:
    g = torch.Generator().manual_seed(81)
    for scale in (2, 4):
        y = torch.rand(2, 1, 4, 4, generator=g, dtype=torch.float64) * 2 - 1
        out = fn(y.clone(), scale)
        _none(out)
        if not isinstance(out, torch.Tensor):
            raise Mismatch("return a torch.Tensor, got {out_type}.", out_type=type(out).__name__)
        want_shape = (2, 1, 4 * scale, 4 * scale)
        if tuple(out.shape) != want_shape:
            raise Mismatch(
                "A† maps an LR image (B, C, h, w) to HR size (B, C, {scale}h, "
                "{scale}w): expected {want_shape}, got {out_shape}.",
                scale=scale,
                want_shape=want_shape,
                out_shape=tuple(out.shape),
            )
        ref = y.repeat_interleave(scale, -1).repeat_interleave(scale, -2)
        if close(out, ref):
            continue
        aout = F.avg_pool2d(out.double(), scale)
        bic = F.interpolate(y, scale_factor=scale, mode="bicubic", align_corners=False)
        if close(out, bic) or close(out, bic.clamp(-1, 1)):
            raise Mismatch(
                "bicubic upsampling is not a pseudo-inverse of average pooling: "
                "A(bicubic(y)) differs from y by up to {aout_y:.3f}. A† must satisfy A "
                "A† y = y exactly — replicate each LR pixel over its s × s block "
                "(nearest upsampling).",
                aout_y=float((aout - y).abs().max()),
            )
        if close(out, ref / scale**2):
            raise Mismatch(
                "that is the transpose Aᵀ (each block gets y / s²): A Aᵀ = I / s², not I. The pseudo-inverse "
                "A† = Aᵀ(A Aᵀ)⁻¹ = s² Aᵀ — nearest upsampling without the 1/s² (Eq. 08.2)."
            )
        if close(out, ref * scale**2):
            raise Mismatch(
                "each block is scaled by s²: average pooling takes the *mean* of a block, so A of a block "
                "filled with y is y itself — no factor (Eq. 08.2)."
            )
        if close(aout, y):
            raise Mismatch(
                "A A† y = y holds, but your A† y is not the *minimum-norm* solution: the pseudo-inverse puts "
                "nothing in the null space, i.e. it is constant on each s × s block (nearest upsampling)."
            )
        raise Mismatch(
            "A(your A† y) differs from y by up to {aout_y:.3f}: A† of average "
            "pooling is nearest (replicate) upsampling, with A A† = I.",
            aout_y=float((aout - y).abs().max()),
        )


def _toy_eps(alpha_bars: torch.Tensor, s: float = 0.5):
    """A toy ε̂ that mixes neighbouring pixels non-linearly (so range and null space interact, as in a real network;
    with a per-pixel Gaussian ε̂ projecting once at the end would give the same result as projecting every step)."""

    def eps_model(x, t):
        ab = alpha_bars[t]
        mixed = x + torch.tanh(torch.roll(x, 1, -1) - torch.roll(x, 1, -2))
        return (1 - ab).sqrt() * mixed / (ab * s**2 + 1 - ab)

    return eps_model


def _ddnm_variants(eps_model, x_T, y, op, alpha_bars, timesteps, noises):
    """The right loop and the classic wrong ones, with the same draws."""
    out = {}
    for variant in ("right", "none", "last", "x_t", "clip_before", "clip_after", "ddim"):
        x = x_T.clone()
        for i, t in enumerate(timesteps):
            t_prev = timesteps[i + 1] if i + 1 < len(timesteps) else -1
            ab = alpha_bars[t]
            ab_prev = alpha_bars[t_prev] if t_prev >= 0 else torch.ones((), dtype=ab.dtype)
            x0 = (x - (1 - ab).sqrt() * eps_model(x, t)) / ab.sqrt()
            if variant == "clip_before":
                x0 = x0.clamp(-1, 1)
            if variant in ("right", "clip_before", "clip_after", "ddim"):
                x0 = x0 - op.A_pinv(op.A(x0) - y)
            if variant == "clip_after":
                x0 = x0.clamp(-1, 1)
            if variant == "ddim":  # η = 0: the ε that x̂₀′ implies, no noise
                eps = (x - ab.sqrt() * x0) / (1 - ab).sqrt()
                x = ab_prev.sqrt() * x0 + (1 - ab_prev).sqrt() * eps
                continue
            a, b, sigma = posterior_coefficients(ab, ab_prev)
            x = a * x0 + b * x + (sigma * noises[i] if t_prev >= 0 else 0)
            if variant == "x_t":
                x = x - op.A_pinv(op.A(x) - y)
        if variant == "last":
            x = x - op.A_pinv(op.A(x) - y)
        out[variant] = x
    return out


def _test_ddnm_loop(fn) -> None:
    from ...diffusion import GaussianDiffusion
    from ...schedules import make_beta_schedule

    process = GaussianDiffusion(make_beta_schedule("cosine", 100), dtype=torch.float64)
    alpha_bars = process.alpha_bars
    timesteps = [99, 79, 59, 39, 19, 0]
    g = torch.Generator().manual_seed(82)
    op = AreaOperator(2)
    hr = 0.5 * torch.randn(2, 1, 8, 8, generator=g, dtype=torch.float64)
    y = op.A(hr)
    x_T = torch.randn(hr.shape, generator=g, dtype=torch.float64)
    noises = [torch.randn(hr.shape, generator=g, dtype=torch.float64) for _ in timesteps]
    eps_model = _toy_eps(alpha_bars)
    out = fn(eps_model, x_T.clone(), y.clone(), op, alpha_bars.clone(), list(timesteps), [n.clone() for n in noises])
    _none(out)
    if not isinstance(out, torch.Tensor) or out.shape != hr.shape:
        raise Mismatch(
            "return the final x₀ as a tensor shaped like x_T {hr_shape}, got {isinstance_out}.",
            hr_shape=tuple(hr.shape),
            isinstance_out=tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__,
        )
    v = _ddnm_variants(eps_model, x_T, y, op, alpha_bars, timesteps, noises)
    if close(out, v["right"], atol=1e-6):
        return
    if close(out, v["last"], atol=1e-6):
        raise Mismatch(
            "you projected only the final image: A x̂ = y holds, but the null-space content was generated "
            "without ever seeing y — an unconditional sample with y pasted into its range space. DDNM "
            "replaces the range part of x̂₀ at *every* step (Eq. 08.3), so the next steps build on it."
        )
    if close(out, v["x_t"], atol=1e-6):
        raise Mismatch(
            "you projected the noisy x_{t'}, not x̂₀: y measures the *clean* image, so it belongs with x̂₀; "
            "forcing A x_t = y strips x_t of the noise the next step expects. Correct x̂₀ (Eq. 08.3), then "
            "take the posterior step from it (Eq. 08.4)."
        )
    if close(out, v["clip_before"], atol=1e-6) or close(out, v["clip_after"], atol=1e-6):
        raise Mismatch(
            "you clipped x̂₀ to [−1, 1]: a clip after the range–null-space step breaks A x̂₀ = y, one before it "
            "changes what the step corrects. This loop's only x̂₀ hook is Eq. 08.3 (the course's DDNM, too: "
            "ddnm_transform replaces the clip) — leave x̂₀ unclipped."
        )
    if close(out, v["ddim"], atol=1e-6):
        raise Mismatch(
            "a DDIM step (η = 0: deterministic, the ε that x̂₀′ implies, no noise): DDNM here takes the posterior "
            "step x_{t'} = a x̂₀′ + b x_t + σ z with posterior_coefficients and the noises given (Eq. 08.4; none "
            "on the last step)."
        )
    if close(out, v["none"], atol=1e-6):
        raise Mismatch(
            "this is plain unconditional sampling: y never enters. After x̂₀ = (x_t − √(1 − ᾱ_t) ε̂)/√ᾱ_t "
            "put y's range part in: x̂₀ ← x̂₀ − A†(A x̂₀ − y) (Eq. 08.3)."
        )
    cons = float((op.A(out) - y).abs().max())
    raise Mismatch(
        "your result differs from DDNM's (largest |A x̂ − y| = {cons:.2e}): "
        "per step, x̂₀ from ε̂ (Eq. 02.2), the range–null-space step (Eq. "
        "08.3), then x_{{t'}} = a x̂₀′ + b x_t + σ z with "
        "posterior_coefficients (no noise on the last step, Eq. 08.4).",
        cons=cons,
    )


def _ddnm_plus_ref(sigma_t, a_t, s):
    hidden = sigma_t >= a_t * s
    lam = torch.where(hidden, torch.ones_like(sigma_t), sigma_t / (a_t * s))
    gamma = torch.where(hidden, (sigma_t**2 - (a_t * s) ** 2).clamp(min=0).sqrt(), torch.zeros_like(sigma_t))
    return lam, gamma


def _test_ddnm_plus(fn) -> None:
    sigma_t = torch.tensor([0.5, 0.2, 0.1, 0.05, 0.02, 0.005], dtype=torch.float64)
    a_t = torch.tensor([0.01, 0.1, 0.3, 0.5, 0.8, 0.99], dtype=torch.float64)
    sigma_y01 = 0.1
    out = fn(sigma_t.clone(), a_t.clone(), sigma_y01)
    _none(out)
    if not (isinstance(out, tuple) and len(out) == 2 and all(isinstance(o, torch.Tensor) for o in out)):
        raise Mismatch("return a pair of tensors (lam, gamma), each shaped like sigma_t.")
    lam, gamma = out
    ref = _ddnm_plus_ref(sigma_t, a_t, 2 * sigma_y01)
    if close(lam, ref[0]) and close(gamma, ref[1]):
        return
    undoubled = _ddnm_plus_ref(sigma_t, a_t, sigma_y01)
    if close(lam, undoubled[0]) and close(gamma, undoubled[1]):
        raise Mismatch(
            "σ_y is on the [0, 1] scale but the images are on [-1, 1]: there the noise is twice as large. "
            "Use σ_y = 2 · sigma_y01 (the official code doubles it too) — else DDNM+ corrects with the full "
            "weight where the noise should already have stopped it."
        )
    if close(lam, torch.ones_like(lam)):
        raise Mismatch(
            "λ_t = 1 everywhere is plain DDNM: when the step's own noise σ_t is smaller than the noise the "
            "correction brings in (a_t σ_y), shrink the correction to λ_t = σ_t / (a_t σ_y) (Eq. 08.5)."
        )
    if close(lam, ref[0]) and close(gamma, sigma_t):
        raise Mismatch(
            "λ_t is right, but the step's noise is unchanged: the correction already carries noise of "
            "standard deviation λ_t a_t σ_y into x_{t'}, so add only γ_t = √(σ_t² − (λ_t a_t σ_y)²) "
            "(0 when λ_t < 1)."
        )
    if close(lam, ref[0]) and close(gamma, ref[1] ** 2):
        raise Mismatch("γ_t is a standard deviation: take the square root of σ_t² − (a_t σ_y)².")
    raise Mismatch(
        "not Eq. 08.5: with s = a_t σ_y (σ_y on [-1, 1]): σ_t ≥ s → λ = 1, γ = √(σ_t² − s²); "
        "σ_t < s → λ = σ_t / s, γ = 0."
    )


def _test_zero_conv(fn) -> None:
    from ...models import UNet
    from ...models.controlnet import ControlledUNet

    g = torch.Generator().manual_seed(84)
    conv = fn(16)
    _none(conv)
    if not isinstance(conv, nn.Module):
        raise Mismatch("return an nn.Module (e.g. nn.Conv2d), got {conv_type}.", conv_type=type(conv).__name__)
    x = torch.randn(2, 16, 8, 8, generator=g)
    out = conv(x)
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        raise Mismatch(
            "the convolution must keep the feature's shape {x_shape} (16 → 16 "
            "channels, 1 × 1 kernel), got {isinstance_out}.",
            x_shape=tuple(x.shape),
            isinstance_out=tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__,
        )
    params = list(conv.parameters())
    if not params or not all(p.requires_grad for p in params):
        raise Mismatch("the zero convolution must be trainable (requires_grad): it is what the adapter learns through.")
    if out.abs().max() > 0:
        weight = getattr(conv, "weight", None)
        bias = getattr(conv, "bias", None)
        if weight is not None and weight.abs().max() == 0 and bias is not None and bias.abs().max() > 0:
            raise Mismatch(
                "the weight is zero but the bias is not: the output is then a constant, not 0. Zero both "
                "(nn.init.zeros_ on weight and bias)."
            )
        # what a wrongly initialised adapter does to the frozen model
        base = UNet(in_channels=1, base_channels=16, channel_mults=(1, 2), num_res_blocks=1, attention=False).eval()
        with torch.no_grad():  # "trained" weights: a fresh U-Net outputs 0 (its last layers start at zero)
            for p in base.parameters():
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
        controlled = ControlledUNet(base).eval()
        c = controlled.control
        c.zero_skips = nn.ModuleList(fn(z.in_channels) for z in c.zero_skips)
        c.zero_mid = fn(c.zero_mid.in_channels)
        xt = torch.randn(2, 1, 16, 16, generator=g)
        t = torch.tensor([10, 500])
        cond = torch.randn(2, 1, 16, 16, generator=g)
        gap = float((controlled(xt, t, cond) - base(xt, t, None)).abs().max())
        raise Mismatch(
            "not zero-initialised: it outputs up to {out:.3f} for a random input, "
            "and a ControlNet built with it changes the frozen model's ε̂ by up to "
            "{gap:.3f} before any training — the pipeline must start as the "
            "pretrained model exactly (Eq. 08.6).",
            out=float(out.abs().max()),
            gap=gap,
        )
    target = torch.randn(out.shape, generator=g)
    with torch.enable_grad():  # checks run under no_grad
        loss = ((conv(x) - target) ** 2).mean()
        loss.backward()
    grads = [p.grad for p in params]
    if any(gr is None for gr in grads) or all(float(gr.abs().max()) == 0 for gr in grads):
        raise Mismatch(
            "at zero the convolution gets no gradient, so it would never learn: use an ordinary "
            "convolution whose weights start at 0 (the gradient ∂out/∂W is the input, not 0)."
        )


AREA_PINV = register(Exercise("08", 1, "area_pinv", _test_area_pinv))
DDNM_LOOP = register(Exercise("08", 2, "ddnm_loop", _test_ddnm_loop))
DDNM_PLUS = register(Exercise("08", 3, "ddnm_plus", _test_ddnm_plus))
ZERO_CONV = register(Exercise("08", 4, "zero_conv", _test_zero_conv))


def check_area_pinv(fn):
    """Check ``fn(y (B, C, h, w), scale) -> (B, C, s·h, s·w)``: A† of s × s average pooling (Eq. 08.2)."""
    return run_check(AREA_PINV, fn)


def check_ddnm_loop(fn):
    """Check ``fn(eps_model, x_T, y, op, alpha_bars, timesteps, noises) -> x₀``: DDNM's sampling loop (Eq.
    08.3–08.4)."""
    return run_check(DDNM_LOOP, fn)


def check_ddnm_plus(fn):
    """Check ``fn(sigma_t (B,), a_t (B,), sigma_y01) -> (lam, gamma)``: DDNM+'s weights (Eq. 08.5)."""
    return run_check(DDNM_PLUS, fn)


def check_zero_conv(fn):
    """Check ``fn(channels) -> nn.Module``: a zero-initialised, trainable 1 × 1 convolution (Eq. 08.6)."""
    return run_check(ZERO_CONV, fn)
