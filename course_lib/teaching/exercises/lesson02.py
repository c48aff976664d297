"""Exercises of lesson 02: the loss L_simple (Eq. 02.4) and one reverse step (Eq. 02.5 through Eq. 02.2)."""

from __future__ import annotations

import torch

from ...schedules import make_beta_schedule
from . import Exercise, Mismatch, close, register, run_check

__all__ = ["check_loss", "check_reverse_mean"]


def _setup():
    betas = make_beta_schedule("linear", 1000).float()
    alpha_bars = torch.cumprod(1 - betas.double(), 0).float()
    g = torch.Generator().manual_seed(21)
    x0 = torch.rand(4, 1, 6, 6, generator=g) * 2 - 1
    noise = torch.randn(4, 1, 6, 6, generator=g)
    t = torch.tensor([0, 99, 500, 900])
    return betas, alpha_bars, x0, noise, t


def _model(x_t, t, cond=None):
    """A fixed stand-in for ε_θ: a simple function of x_t and t."""
    return 0.7 * x_t + 1e-3 * t.float().view(-1, 1, 1, 1)


def _test_loss(fn) -> None:
    betas, ab, x0, noise, t = _setup()
    out = fn(_model, x0.clone(), t.clone(), noise.clone(), ab.clone())
    if out is None:
        raise Mismatch("your function returned None: did you forget `return`?")
    out = torch.as_tensor(out)
    if out.numel() != 1:
        raise Mismatch(
            "return one number (the mean over the batch), got shape {out_shape}.", out_shape=tuple(out.shape)
        )
    a = ab[t].view(-1, 1, 1, 1)

    def loss_with(x_t, target, reduce="mean"):
        err = (target - _model(x_t, t)) ** 2
        return err.mean() if reduce == "mean" else err.sum()

    x_t = a.sqrt() * x0 + (1 - a).sqrt() * noise
    ref = loss_with(x_t, noise)
    if close(out.reshape(()), ref, atol=1e-5):
        return
    if close(out.reshape(()), loss_with(x_t, x0), atol=1e-5):
        raise Mismatch("your target is x0: ε-prediction compares the network's output with the noise ε that made x_t.")
    if close(out.reshape(()), loss_with(a * x0 + (1 - a) * noise, noise), atol=1e-5) or close(
        out.reshape(()), loss_with(a.sqrt() * x0 + (1 - a) * noise, noise), atol=1e-5
    ):
        raise Mismatch("x_t is built with square roots: x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε (Eq. 01.3).")
    if close(out.reshape(()), loss_with(x_t, noise, "sum"), atol=1e-3):
        raise Mismatch("you summed the squared errors: L_simple is their mean (torch.mean or F.mse_loss).")
    if close(out.reshape(()), (noise - _model(x_t, t)).abs().mean(), atol=1e-5):
        raise Mismatch("that is the mean absolute error: L_simple squares the error.")
    raise Mismatch("your loss is {out:.5f} where {ref:.5f} was expected.", out=out.item(), ref=ref.item())


def _test_reverse_mean(fn) -> None:
    betas, ab, x0, noise, t = _setup()
    t = torch.tensor([1, 99, 500, 900])
    a = ab[t].view(-1, 1, 1, 1)
    x_t = a.sqrt() * x0 + (1 - a).sqrt() * noise
    eps = noise + 0.1 * torch.randn(noise.shape, generator=torch.Generator().manual_seed(5))
    out = fn(x_t.clone(), t.clone(), eps.clone(), betas.clone(), ab.clone())
    if out is None:
        raise Mismatch("your function returned None: did you forget `return`?")
    if not isinstance(out, torch.Tensor) or out.shape != x_t.shape:
        raise Mismatch(
            "return x_{{t-1}}'s mean with x_t's shape {x_t_shape}, got {getattr_out}.",
            x_t_shape=tuple(x_t.shape),
            getattr_out=getattr(out, 'shape', type(out).__name__),
        )
    b = betas[t].view(-1, 1, 1, 1)
    alpha = 1 - b

    def mean(scale, coef_sign=-1.0, sqrt_of=(1 - a)):
        return scale * (x_t + coef_sign * b / sqrt_of.sqrt() * eps)

    ref = mean(1 / alpha.sqrt())
    if close(out, ref, atol=1e-4):
        return
    if close(out, mean(1 / alpha.sqrt(), +1.0), atol=1e-4):
        raise Mismatch(
            "wrong sign in the posterior mean: the predicted noise is removed, μ = (x_t − β_t / √(1 − ᾱ_t) · ε̂) / √α_t."
        )
    if close(out, mean(1 / a.sqrt()), atol=1e-4):
        raise Mismatch("divide by √α_t (this step's α), not by √ᾱ_t (the cumulative product).")
    if close(out, 1 / alpha.sqrt() * (x_t - b.sqrt() * eps), atol=1e-4):
        raise Mismatch("the noise coefficient is β_t / √(1 − ᾱ_t), not √β_t.")
    if close(out, mean(1.0), atol=1e-4):
        raise Mismatch("you forgot the overall factor 1 / √α_t.")
    raise Mismatch(
        "the mean differs from (x_t − β_t / √(1 − ᾱ_t) · ε̂) / √α_t; check each factor against Eq. 02.1 with Eq. 02.2."
    )


LOSS = register(Exercise("02", 1, "l_simple", _test_loss))
REVERSE = register(Exercise("02", 2, "reverse_mean", _test_reverse_mean))


def check_loss(fn):
    """Check ``fn(model, x0 (B,C,H,W), t (B,), noise, alpha_bars (T,)) -> scalar`` L_simple (Eq. 02.4)."""
    return run_check(LOSS, fn)


def check_reverse_mean(fn):
    """Check ``fn(x_t, t (B,), eps_hat, betas (T,), alpha_bars (T,)) -> (B,C,H,W)``: the mean of one reverse step."""
    return run_check(REVERSE, fn)
