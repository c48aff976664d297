"""Exercises of lesson 09, each naming the classic mistake it catches: SRDiff's residual target with its ×2 rescale
and clip (Eq. 09.1), the image back from a residual with up(y) added (Eq. 09.2), a frozen encoder that really stays
frozen (no weight moves, no statistic changes), and DiffIR's prior loss through the whole unrolled chain, not a
random-t loss (Eq. 09.4)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...models.diffir import PriorDenoiser, PriorDiffusion
from . import Exercise, Mismatch, close, register, run_check

__all__ = ["check_srdiff_target", "check_residual_to_image", "check_frozen_encoder", "check_unrolled_prior_loss"]


def _none(out):
    if out is None:
        raise Mismatch("your function returned None: did you forget `return`?")


def _pair(g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    hr = torch.rand(3, 1, 8, 8, generator=g, dtype=torch.float64) * 2 - 1
    up = (hr + 0.45 * torch.randn(hr.shape, generator=g, dtype=torch.float64)).clamp(-1, 1)
    return hr, up


def _test_srdiff_target(fn) -> None:
    hr, up = _pair(torch.Generator().manual_seed(91))
    out = fn(hr.clone(), up.clone())
    _none(out)
    if not isinstance(out, torch.Tensor) or out.shape != hr.shape:
        raise Mismatch(
            "return a tensor shaped like hr {hr_shape}, got {isinstance_out}.",
            hr_shape=tuple(hr.shape),
            isinstance_out=tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__,
        )
    r = hr - up
    if close(out, (2 * r).clamp(-1, 1)):
        return
    if close(out, r):
        raise Mismatch(
            "that is the plain residual HR − up(y): SRDiff doubles it first (its std of ≈ 0.1 on photos would "
            "drown in the unit-variance noise), then clips — x_r = clip(2 (HR − up(y)), −1, 1) (Eq. 09.1)."
        )
    if close(out, 2 * r):
        raise Mismatch(
            "doubled but not clipped: {r:.2f} > 1 here. The process assumes x₀ in "
            "[−1, 1]; SRDiff clips the doubled residual (Eq. 09.1).",
            r=float((2 * r).abs().max()),
        )
    if close(out, (-2 * r).clamp(-1, 1)):
        raise Mismatch(
            "the sign is flipped: the residual is what must be *added* to up(y), HR − up(y), not up(y) − HR."
        )
    if close(out, (r / 2).clamp(-1, 1)) or close(out, r / 2):
        raise Mismatch("halved instead of doubled: residual_scale 0.5 means x_r = (HR − up(y)) / 0.5 (Eq. 09.1).")
    if close(out, (2 * hr).clamp(-1, 1)):
        raise Mismatch("that is the HR image rescaled, not the residual: subtract up(y) first.")
    raise Mismatch("expected clip(2 (HR − up(y)), −1, 1) (Eq. 09.1).")


def _test_residual_to_image(fn) -> None:
    g = torch.Generator().manual_seed(92)
    hr, up = _pair(g)
    x_r = (2 * (hr - up) + 0.5 * torch.randn(hr.shape, generator=g, dtype=torch.float64)).clamp(-1, 1)  # a "sample"
    out = fn(x_r.clone(), up.clone())
    _none(out)
    if not isinstance(out, torch.Tensor) or out.shape != hr.shape:
        raise Mismatch(
            "return a tensor shaped like x_r {hr_shape}, got {isinstance_out}.",
            hr_shape=tuple(hr.shape),
            isinstance_out=tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__,
        )
    want = (up + x_r / 2).clamp(-1, 1)
    if close(out, want):
        return
    if close(out, x_r / 2) or close(out, x_r):
        raise Mismatch(
            "you forgot to add up(y) back: a residual model's sample is only the missing detail — the image "
            "is up(y) + x̂_r / 2 (Eq. 09.2). (A grey, edge-only picture is this mistake's signature.)"
        )
    if close(out, (up + 2 * x_r).clamp(-1, 1)) or close(out, up + 2 * x_r):
        raise Mismatch("the residual was doubled again: undo Eq. 09.1's ×2 — up(y) + x̂_r / 2 (Eq. 09.2).")
    if close(out, (up + x_r).clamp(-1, 1)) or close(out, up + x_r):
        raise Mismatch("the ×2 of Eq. 09.1 is not undone: the detail comes out twice as strong — up(y) + x̂_r / 2.")
    if close(out, up + x_r / 2):
        raise Mismatch("right but not clipped: the image must stay in [−1, 1] (clip after adding up(y)).")
    raise Mismatch("expected clip(up(y) + x̂_r / 2, −1, 1) (Eq. 09.2).")


class _Encoder(nn.Module):
    """A tiny encoder with a BatchNorm (its running statistics change in train mode) and a convolution."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.norm = nn.BatchNorm2d(4)

    def forward(self, y):
        return F.relu(self.norm(self.conv(y)))


def _test_frozen_encoder(fn) -> None:
    g = torch.Generator().manual_seed(93)
    torch.manual_seed(93)
    enc = _Encoder()
    head = nn.Conv2d(4, 1, 1)
    out = fn(enc)
    _none(out)
    if out is not enc:
        raise Mismatch("return the encoder you were given (frozen in place), not a new module.")
    before = {k: v.clone() for k, v in enc.state_dict().items()}
    opt = torch.optim.AdamW([*enc.parameters(), *head.parameters()], lr=0.1, weight_decay=0.1)
    y = torch.randn(4, 1, 8, 8, generator=g)
    with torch.enable_grad():  # checks run under no_grad
        loss = head(enc(y)).pow(2).mean() + 1.0
        loss.backward()
    opt.step()
    moved = [
        k
        for k, v in enc.state_dict().items()
        if "running" not in k and "num_batches" not in k and not torch.equal(v, before[k])
    ]
    stats = [
        k
        for k, v in enc.state_dict().items()
        if ("running" in k or "num_batches" in k) and not torch.equal(v, before[k])
    ]
    if moved:
        raise Mismatch(
            "after one optimiser step the encoder's {moved} moved: eval() changes "
            "how layers behave, not whether they train. Freeze the weights: "
            "requires_grad_(False) on every parameter.",
            moved=', '.join(moved),
        )
    if stats:
        raise Mismatch(
            "no weight moved, but a forward pass changed the BatchNorm's running statistics: the encoder is "
            "still in train mode. Call eval() too (and keep it there when the model calls train())."
        )
    # the model around it calls train() at every training step, and nn.Module.train() reaches every child
    parent = nn.Sequential(enc, head).train()
    before = {k: v.clone() for k, v in enc.state_dict().items()}
    with torch.no_grad():
        parent(torch.randn(4, 1, 8, 8, generator=g))
    if enc.training or any(not torch.equal(v, before[k]) for k, v in enc.state_dict().items()):
        raise Mismatch(
            "frozen at first, but the model around it called train(), which reaches every child: the encoder went "
            "back to train mode and its BatchNorm statistics moved. Keep it in eval: give it a train() that stays "
            "in eval (course_lib's SRDiffUNet overrides train() for this), e.g. encoder.train = lambda mode=True: "
            "encoder."
        )


def _reference_loss(denoiser, prior, z_s1, c, noise):
    z = prior.reverse(denoiser, prior.q_sample(z_s1, noise), c)
    return F.l1_loss(z, z_s1)


def _test_unrolled_prior_loss(fn) -> None:
    g = torch.Generator().manual_seed(94)
    torch.manual_seed(94)
    prior, den = PriorDiffusion(4).double(), PriorDenoiser(8, 32, 3, T=4).double()
    z_s1, c, noise = (torch.randn(5, 8, generator=g, dtype=torch.float64) for _ in range(3))
    calls: list[int] = []
    hook = den.register_forward_hook(lambda m, i, o: calls.append(int(i[1][0])))
    try:
        with torch.enable_grad():
            out = fn(den, prior, z_s1.clone(), c.clone(), noise.clone())
    finally:
        hook.remove()
    _none(out)
    if not isinstance(out, torch.Tensor) or out.dim() != 0:
        raise Mismatch(
            "return the loss, a scalar tensor, got {isinstance_out}.",
            isinstance_out=tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__,
        )
    if len(calls) == 1:
        raise Mismatch(
            "the denoiser ran once: that is DDPM's random-t loss. DiffIR's prior network is trained through "
            "the whole chain — all T = 4 reverse steps from z_T, then L1(ẑ, z_S1) (Eq. 09.4) — because "
            "at sampling its own outputs feed each next step."
        )
    if sorted(calls, reverse=True) != calls or calls != [3, 2, 1, 0]:
        raise Mismatch(
            "the denoiser saw t = {calls}: run the reverse steps t = 3, 2, 1, 0, each once, in that order.", calls=calls
        )
    if not out.requires_grad:
        raise Mismatch(
            "the loss carries no gradient: the chain must stay differentiable (no torch.no_grad, no .detach())"
            " so that every step's network call learns from the final ẑ."
        )
    want = _reference_loss(den, prior, z_s1, c, noise)
    pure = F.l1_loss(prior.reverse(den, noise, c), z_s1)
    # (float64 throughout: the start from pure noise differs from q(z_T | z_S1) by √ᾱ_T ≈ 0.04 of z_S1, a small change)
    if torch.allclose(out.detach(), want.detach(), atol=1e-10, rtol=1e-9):
        # the right value is not enough: the gradient must flow through every step (a .detach() between steps keeps
        # the value and truncates the backpropagation)
        params = list(den.parameters())
        with torch.enable_grad():
            got = torch.autograd.grad(out, params, allow_unused=True)
            ref = torch.autograd.grad(_reference_loss(den, prior, z_s1, c, noise), params)
        if all(a is not None and torch.allclose(a, b, atol=1e-10, rtol=1e-8) for a, b in zip(got, ref)):
            return
        raise Mismatch(
            "the right loss value, but not its gradient: the chain was cut (a .detach() or no_grad between "
            "steps — truncated backpropagation). DiffIR trains the prior network through the whole chain: keep "
            "every step differentiable, so the last step's error reaches the first step's network call."
        )
    if torch.allclose(out.detach(), pure.detach(), atol=1e-10, rtol=1e-9):
        raise Mismatch(
            "the chain starts from pure noise: in training DiffIR starts it from q(z_T | z_S1), "
            "√ᾱ_T z_S1 + √(1 − ᾱ_T) ε (prior.q_sample)."
        )
    z = prior.reverse(den, prior.q_sample(z_s1, noise), c)
    if close(out, F.mse_loss(z, z_s1)):
        raise Mismatch("MSE instead of DiffIR's L1 between ẑ and z_S1 (Eq. 09.4).")
    raise Mismatch(
        "the loss differs from L1(ẑ, z_S1) with ẑ from the four deterministic reverse steps "
        "(z_{t−1} = μ̃_t(z_t, ẑ₀), no noise added: prior.reverse)."
    )


SRDIFF_TARGET = register(Exercise("09", 1, "srdiff_target", _test_srdiff_target))
RESIDUAL_TO_IMAGE = register(Exercise("09", 2, "residual_to_image", _test_residual_to_image))
FROZEN_ENCODER = register(Exercise("09", 3, "frozen_encoder", _test_frozen_encoder))
UNROLLED_PRIOR_LOSS = register(Exercise("09", 4, "unrolled_prior_loss", _test_unrolled_prior_loss))


def check_srdiff_target(fn):
    """Check ``fn(hr, up) -> x_r``: SRDiff's clipped, doubled residual (Eq. 09.1)."""
    return run_check(SRDIFF_TARGET, fn)


def check_residual_to_image(fn):
    """Check ``fn(x_r, up) -> image``: up(y) + x̂_r / 2, clipped (Eq. 09.2)."""
    return run_check(RESIDUAL_TO_IMAGE, fn)


def check_frozen_encoder(fn):
    """Check ``fn(encoder) -> encoder``: frozen in place (no weight trains, no statistic changes)."""
    return run_check(FROZEN_ENCODER, fn)


def check_unrolled_prior_loss(fn):
    """Check ``fn(denoiser, prior, z_s1, c, noise) -> loss``: DiffIR's prior loss through all T steps (Eq. 09.4)."""
    return run_check(UNROLLED_PRIOR_LOSS, fn)
