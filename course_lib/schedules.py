"""Noise schedules β_t · 噪声调度 (lesson 01).

A schedule is the sequence β_1 … β_T of per-step noise variances of the forward
process (Eq. 01.1). In code it is a float64 tensor of shape ``(T,)`` whose entry
``betas[t]`` is the paper's β_{t+1}: code counts timesteps from 0, papers from 1.

Two schedules are provided:

* ``"linear"`` (Ho et al., NeurIPS 2020), Eq. 01.5: β rises linearly from 1e-4 to
  0.02 when T = 1000. For another T both ends are multiplied by 1000 / T, so that
  the total amount of noise Σ β_t -- and hence ᾱ_T -- stays about the same
  (the scaling of Nichol & Dhariwal, ICML 2021).
* ``"cosine"`` (Nichol & Dhariwal, ICML 2021), Eq. 01.6: ᾱ follows
  f(t) = cos²(((t / T) + s) / (1 + s) · π / 2) with s = 0.008, normalised by f(0);
  β_t = 1 − ᾱ_t / ᾱ_{t−1}, clipped at 0.999 so the last step is not singular.
"""

from __future__ import annotations

import math

import torch

__all__ = ["SCHEDULES", "make_beta_schedule", "linear_beta_schedule", "cosine_beta_schedule"]


def _check_T(T: object) -> int:
    if isinstance(T, bool) or not isinstance(T, int):
        raise TypeError(f"T must be an int number of timesteps, got {type(T).__name__} {T!r}")
    if T < 2:
        raise ValueError(f"T must be at least 2 timesteps, got T={T}")
    return T


def linear_beta_schedule(T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """Linear schedule, Eq. 01.5: β_{t} = β_start' + (t / (T − 1)) (β_end' − β_start'), t = 0 … T−1.

    ``beta_start`` and ``beta_end`` are the values at T = 1000; for other ``T`` both
    are scaled by 1000 / T (β' = β · 1000 / T).

    Returns:
        float64 tensor of shape ``(T,)``.
    """
    T = _check_T(T)
    scale = 1000.0 / T
    lo, hi = beta_start * scale, beta_end * scale
    if not 0.0 < lo < hi < 1.0:
        raise ValueError(
            f"T={T} scales the linear schedule to β from {lo:g} to {hi:g}; "
            "both must lie in (0, 1) with start < end (use a larger T)"
        )
    return torch.linspace(lo, hi, T, dtype=torch.float64)


def cosine_alpha_bar(u: torch.Tensor, s: float = 0.008) -> torch.Tensor:
    """The unnormalised f(u) = cos²(((u + s) / (1 + s)) · π / 2) of Eq. 01.6, with u = t / T in [0, 1]."""
    return torch.cos((u + s) / (1 + s) * math.pi / 2) ** 2


def cosine_beta_schedule(T: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """Cosine schedule, Eq. 01.6 (Nichol & Dhariwal 2021).

    ᾱ(t) = f(t / T) / f(0) for paper steps t = 0 … T, and
    β_t = min(1 − ᾱ(t) / ᾱ(t − 1), ``max_beta``) for t = 1 … T.

    Returns:
        float64 tensor of shape ``(T,)``; entry ``i`` is the paper's β_{i+1}.
    """
    T = _check_T(T)
    if not s > 0:
        raise ValueError(f"s must be positive, got s={s}")
    if not 0 < max_beta < 1:
        raise ValueError(f"max_beta must lie in (0, 1), got {max_beta}")
    u = torch.arange(T + 1, dtype=torch.float64) / T
    f = cosine_alpha_bar(u, s)
    alpha_bar = f / f[0]
    betas = 1.0 - alpha_bar[1:] / alpha_bar[:-1]
    return betas.clamp(min=0.0, max=max_beta)


SCHEDULES = {"linear": linear_beta_schedule, "cosine": cosine_beta_schedule}


def make_beta_schedule(name: str, T: int = 1000) -> torch.Tensor:
    """β_1 … β_T for a schedule chosen by name (Eq. 01.5 ``"linear"``, Eq. 01.6 ``"cosine"``).

    Args:
        name: one of ``SCHEDULES`` (``"linear"``, ``"cosine"``).
        T: number of diffusion steps (≥ 2).

    Returns:
        float64 tensor of shape ``(T,)`` with 0 < β < 1.
    """
    if not isinstance(name, str) or name not in SCHEDULES:
        known = ", ".join(repr(k) for k in SCHEDULES)
        raise ValueError(f"name={name!r} is not a known beta schedule; known schedules: {known}")
    return SCHEDULES[name](T)
