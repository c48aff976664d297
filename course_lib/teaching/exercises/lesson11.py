"""Exercises of lesson 11, each naming the classic mistake it catches: the path's ends swapped (t = 0 must be the
data, Eq. 11.1), the velocity's sign or direction swapped (Eq. 11.2), Euler stepping the wrong way (Eq. 11.5), reflow
pairs drawn independently instead of coupled, and the v ↔ ε ↔ x̂₀ conversions without their factors (Eq. 11.7)."""

from __future__ import annotations

import torch

from . import Exercise, Mismatch, close, expect_tensor, register, run_check

__all__ = ["check_path", "check_velocity_target", "check_euler_step", "check_reflow_pairs", "check_v_to_eps_x0"]


def _case(seed: int):
    g = torch.Generator().manual_seed(seed)
    x0 = torch.randn(4, 1, 3, 3, generator=g, dtype=torch.float64)
    x1 = torch.randn(4, 1, 3, 3, generator=g, dtype=torch.float64)
    t = torch.tensor([0.1, 0.3, 0.6, 0.9], dtype=torch.float64)
    return x0, x1, t, t.reshape(-1, 1, 1, 1)


def _test_path(fn) -> None:
    x0, x1, t, tt = _case(111)
    out = fn(x0.clone(), x1.clone(), t.clone())
    expect_tensor(out, x0.shape, "x_t, shaped like x0")
    if close(out, (1 - tt) * x0 + tt * x1):
        return
    if close(out, tt * x0 + (1 - tt) * x1):
        raise Mismatch(
            "the ends are swapped: at t = 0 the path must be the data x₀ and at t = 1 the source x₁ — the course's "
            "and diffusers' convention (x_σ = (1 − σ)·x₀ + σ·noise). Some papers (Lipman et al.) run the other way: "
            "read which end is which before you copy a formula (Eq. 11.1)."
        )
    if close(out, (1 - tt) ** 0.5 * x0 + tt**0.5 * x1) or close(out, (1 - tt**2) ** 0.5 * x0 + tt * x1):
        raise Mismatch("square roots: that is a variance-preserving mix (lesson 01); the flow's path is linear in t.")
    raise Mismatch("expected x_t = (1 − t)·x₀ + t·x₁ with t shaped (B, 1, 1, 1) to broadcast (Eq. 11.1).")


def _test_velocity_target(fn) -> None:
    x0, x1, _, _ = _case(112)
    out = fn(x0.clone(), x1.clone())
    expect_tensor(out, x0.shape, "the target velocity, shaped like x0")
    if close(out, x1 - x0):
        return
    if close(out, x0 - x1):
        raise Mismatch(
            "the sign is swapped: dx_t/dt = x₁ − x₀ for x_t = (1 − t)x₀ + t·x₁ — it points from the data to the "
            "source, and sampling walks it backwards, from t = 1 to 0 (Eq. 11.2)."
        )
    if close(out, x1):
        raise Mismatch("that is the noise, lesson 02's ε target: the flow regresses the velocity x₁ − x₀ (Eq. 11.2).")
    if close(out, x0):
        raise Mismatch("that is the data, an x₀ target: the flow regresses the velocity x₁ − x₀ (Eq. 11.2).")
    raise Mismatch("expected the conditional velocity x₁ − x₀ (Eq. 11.2).")


def _test_euler_step(fn) -> None:
    x0, x1, _, _ = _case(113)
    v = x1 - x0
    x, t, t_next = 0.4 * x0 + 0.6 * x1, 0.6, 0.35
    out = fn(x.clone(), v.clone(), t, t_next)
    expect_tensor(out, x.shape, "the state at t_next")
    want = x + (t_next - t) * v
    if close(out, want):
        return
    if close(out, x + (t - t_next) * v):
        raise Mismatch(
            "Euler stepped the wrong way: sampling goes from t to t_next < t, so dt = t_next − t is negative and "
            "x moves against v, towards the data: x + (t_next − t)·v (Eq. 11.5)."
        )
    if close(out, x - v) or close(out, x + v):
        raise Mismatch("a whole unit step: multiply v by the step's length t_next − t.")
    if close(out, x - t * v):
        raise Mismatch("that is x̂₀ = x_t − t·v, the jump all the way to t = 0 (Eq. 11.7), not a step to t_next.")
    raise Mismatch("expected x + (t_next − t)·v (Eq. 11.5).")


def _solver(x1: torch.Tensor) -> torch.Tensor:
    """A deterministic 'trained flow' for the reflow check: a fixed nonlinear map of each source to its end."""
    return torch.tanh(1.5 * x1.flip(-1)) + 0.1 * x1


def _test_reflow_pairs(fn) -> None:
    g = torch.Generator().manual_seed(114)
    out = fn(_solver, 64, (2,), g)
    if out is None:
        raise Mismatch("your function returned None: did you forget `return`?")
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise Mismatch("return the pair (x1, x0): the sources and the ends the flow carried them to.")
    x1, x0 = out
    expect_tensor(x1, (64, 2), "x1 (n, *shape)")
    expect_tensor(x0, (64, 2), "x0 (n, *shape)")
    if close(_solver(x1), x0):
        if float(x1.std()) < 0.5 or float(x1.std()) > 1.5:
            raise Mismatch("the sources must be draws of N(0, I), the distribution the flow starts from.")
        return
    if close(_solver(x0), x1):
        raise Mismatch("swapped: return (x1, x0) — the source first, the flow's end second.")
    raise Mismatch(
        "the pairs are not coupled: each x₀ must be the end of the ODE started at *its own* x₁ — draw x₁ once, "
        "solve from it, keep both. Pairing the ends with fresh noise (or shuffled) gives independent pairs again, "
        "whose straight lines cross: reflow would learn nothing new (Liu et al. 2023, §2.2)."
    )


def _test_v_to_eps_x0(fn) -> None:
    x0, x1, t, tt = _case(115)
    x_t, v = (1 - tt) * x0 + tt * x1, x1 - x0
    out = fn(x_t.clone(), t.clone(), v.clone())
    if out is None:
        raise Mismatch("your function returned None: did you forget `return`?")
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise Mismatch("return the pair (eps_hat, x0_hat).")
    eps, x0_hat = out
    expect_tensor(eps, x0.shape, "eps_hat")
    expect_tensor(x0_hat, x0.shape, "x0_hat")
    if close(eps, x1) and close(x0_hat, x0):
        return
    if close(x0_hat, x_t - v) or close(eps, x_t + v):
        raise Mismatch(
            "no factors: from x_t the data are t·v away and the source (1 − t)·v — x̂₀ = x_t − t·v and "
            "ε̂ = x_t + (1 − t)·v (Eq. 11.7)."
        )
    if close(x0_hat, x_t + tt * v) or close(eps, x_t - (1 - tt) * v):
        raise Mismatch("the signs: v points towards the source, so x̂₀ = x_t − t·v and ε̂ = x_t + (1 − t)·v.")
    if close(x0_hat, x_t - (1 - tt) * v) or close(eps, x_t + tt * v):
        raise Mismatch("t and 1 − t swapped: x̂₀ is t·v away from x_t (t = 0 is the data), ε̂ is (1 − t)·v away.")
    if close(eps, x0) and close(x0_hat, x1):
        raise Mismatch("the two are swapped: return (eps_hat, x0_hat).")
    raise Mismatch("expected ε̂ = x_t + (1 − t)·v and x̂₀ = x_t − t·v, with t shaped to broadcast (Eq. 11.7).")


PATH = register(Exercise("11", 1, "path", _test_path))
VELOCITY_TARGET = register(Exercise("11", 2, "velocity_target", _test_velocity_target))
EULER_STEP = register(Exercise("11", 3, "euler_step", _test_euler_step))
REFLOW_PAIRS = register(Exercise("11", 4, "reflow_pairs", _test_reflow_pairs))
V_TO_EPS_X0 = register(Exercise("11", 5, "v_to_eps_x0", _test_v_to_eps_x0))


def check_path(fn):
    """Check ``fn(x0, x1, t) -> x_t``: (1 − t)·x₀ + t·x₁, t = 0 the data (Eq. 11.1)."""
    return run_check(PATH, fn)


def check_velocity_target(fn):
    """Check ``fn(x0, x1) -> v``: the conditional velocity x₁ − x₀ (Eq. 11.2)."""
    return run_check(VELOCITY_TARGET, fn)


def check_euler_step(fn):
    """Check ``fn(x, v, t, t_next) -> x_next``: x + (t_next − t)·v (Eq. 11.5)."""
    return run_check(EULER_STEP, fn)


def check_reflow_pairs(fn):
    """Check ``fn(solve, n, shape, generator) -> (x1, x0)``: coupled pairs, x₀ = solve(x₁) for x₁ ~ N(0, I)."""
    return run_check(REFLOW_PAIRS, fn)


def check_v_to_eps_x0(fn):
    """Check ``fn(x_t, t, v) -> (eps_hat, x0_hat)``: Eq. 11.7's conversions."""
    return run_check(V_TO_EPS_X0, fn)
