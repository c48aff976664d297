"""PNDM and PLMS · 伪数值方法 (Liu, Ren, Lin & Zhao, "Pseudo Numerical Methods for Diffusion Models on Manifolds",
ICLR 2022; lesson 06).

DDIM's η = 0 step is the **transfer** φ(x_t, ε, t → t') of PNDM (their Eq. 9; a test checks φ = DDIM). PNDM keeps it
and replaces the one ε̂ by a better estimate of the noise along the step, from the history of ε̂ (never of x):

* **PLMS**, the linear multistep part (their Eq. 12, a 4th-order Adams–Bashforth on ε): Eq. 06.8,
  ε′ = (55 ε_t − 59 ε_{t+δ} + 37 ε_{t+2δ} − 9 ε_{t+3δ}) / 24, then x_{t'} = φ(x_t, ε′, t → t'). One network evaluation
  per step — once four ε are known.
* **The warm-up.** The first three steps have no history. F-PNDM (``warmup="prk"``, the paper's) takes three
  *pseudo Runge–Kutta* steps, each with 4 evaluations (at t, twice at the midpoint, at t'): **12 evaluations for 3
  steps**. LDM's and diffusers' ``skip_prk_steps=True`` (``warmup="plms"``) takes one pseudo improved-Euler step
  (2 evaluations), then Adams–Bashforth of order 2 and 3 until four ε are known. Either way the loop counts every
  evaluation: NFE = steps + 9 (``"prk"``) or steps + 1 (``"plms"``).

Reference: ``luping-liu/PNDM`` ``runner/method.py`` (``gen_order_4``, ``transfer``); ``diffusers``
``schedulers/scheduling_pndm.py`` (``step_prk``, ``step_plms``), which ``tests/test_new_samplers.py`` matches.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from ..diffusion import extract
from .base import alpha_bar_at, SpacedSampler, StepOutput, X0Transform
from .registry import register_sampler

__all__ = ["PNDMSampler", "transfer", "adams_bashforth", "WARMUPS"]

WARMUPS = ("prk", "plms")
#: Adams–Bashforth coefficients on ε, newest first (orders 1–4)
AB_COEFFS = {1: (1.0,), 2: (3 / 2, -1 / 2), 3: (23 / 12, -16 / 12, 5 / 12), 4: (55 / 24, -59 / 24, 37 / 24, -9 / 24)}


def adams_bashforth(history: Sequence[torch.Tensor]) -> torch.Tensor:
    """ε′ from up to four ε̂, oldest first (Eq. 06.8 at order 4; orders 1–3 while the history is short)."""
    if not 1 <= len(history) <= 4:
        raise ValueError(f"history must hold 1 to 4 tensors, got {len(history)}")
    coeffs = AB_COEFFS[len(history)]
    return sum(c * e for c, e in zip(coeffs, reversed(history)))


def transfer(x_t: torch.Tensor, eps: torch.Tensor, ab_t: torch.Tensor, ab_prev: torch.Tensor) -> torch.Tensor:
    """PNDM's transfer φ (Liu et al. Eq. 9), exactly as written there and in diffusers' ``_get_prev_sample``:

        x_{t'} = √(ᾱ_{t'}/ᾱ_t) x_t − (ᾱ_{t'} − ᾱ_t) ε / (ᾱ_t √(1 − ᾱ_{t'}) + √(ᾱ_t (1 − ᾱ_t) ᾱ_{t'}))

    — algebraically DDIM's η = 0 step (Eq. 02.6) in another form (a test checks the two agree)."""
    denom = ab_t * (1 - ab_prev).sqrt() + (ab_t * (1 - ab_t) * ab_prev).sqrt()
    return (ab_prev / ab_t).sqrt() * x_t - (ab_prev - ab_t) * eps / denom


@register_sampler
class PNDMSampler(SpacedSampler):
    """PNDM (F-PNDM, ``warmup="prk"``) or PLMS (``warmup="plms"``): Eq. 06.8 on the history of ε̂, DDIM's transfer.

    Args:
        process, steps, prediction: see :class:`~course_lib.samplers.base.Sampler` (default 50 steps).
        warmup: ``"prk"`` (3 pseudo Runge–Kutta steps, 12 evaluations) or ``"plms"`` (one 2-evaluation step).
        spacing: ``"leading"`` (default, as PNDM's code and diffusers' ``PNDMScheduler``), ``"trailing"`` or
            ``"karras"`` (:func:`~course_lib.samplers.ddim.make_timesteps`). **Not "trailing" on the cosine
            schedule**: its first step leaves t = T − 1, where σ̃ = √((1 − ᾱ)/ᾱ) ≈ 2·10⁴, and the x₀ that the
            combined ε′ implies differs from the network's by σ̃ (ε̂_t − ε′) — a multistep in ε is ill-conditioned
            there (lesson 06 shows it; DPM-Solver++ combines x̂₀ instead and does not care).

    A step with the x̂₀ hook applies it to every evaluation's x̂₀ before ε̂ enters the history.
    """

    name = "pndm"
    default_steps = 50

    def __init__(self, process, steps: int | None = None, prediction: str = "eps", warmup: str = "prk",
                 spacing: str = "leading"):
        if warmup not in WARMUPS:
            raise ValueError(f"warmup must be one of {WARMUPS}, got {warmup!r}")
        self.warmup = warmup
        super().__init__(process, steps, prediction, spacing)
        self.ets: list[torch.Tensor] = []

    @classmethod
    def nfe_for(cls, steps: int, warmup: str = "prk", **options) -> int:
        """steps + 9 for ``"prk"`` (3 warm-up steps of 4 evaluations; fewer when the run is shorter), steps + 1 for
        ``"plms"`` — the last step, to x₀, never evaluates the network a second time."""
        steps = int(steps)
        return steps + (3 * min(3, steps - 1) if warmup == "prk" else min(1, steps - 1))

    def reset(self) -> None:
        """Forget the ε history (a new run starts a new warm-up)."""
        self.ets = []

    def _phi(self, x_t, x0, eps_t, eps_new, t, t_prev):
        """φ(x_t, ε′, t → t') in the well-conditioned x̂₀ form: x̂₀′ = x̂₀ + √((1−ᾱ_t)/ᾱ_t)(ε̂_t − ε′) is the x₀ that
        ε′ implies at (x_t, t), then x_{t'} = √ᾱ_{t'} x̂₀′ + √(1 − ᾱ_{t'}) ε′ (= :func:`transfer`)."""
        ab_t = extract(self.process.alpha_bars, self._t(t, x_t), x_t)
        ab_prev = alpha_bar_at(self.process, self._t(t_prev, x_t), x_t)
        x0_new = x0 if eps_new is eps_t else x0 + ((1 - ab_t) / ab_t).sqrt() * (eps_t - eps_new)
        return ab_prev.sqrt() * x0_new + (1 - ab_prev).sqrt() * eps_new, x0_new

    def step(self, model_output: torch.Tensor, t: int, t_prev: int, x_t: torch.Tensor, *,
             generator: torch.Generator | Sequence[torch.Generator] | None = None,
             x0_transform: X0Transform | None = None, model: Callable | None = None,
             noise: torch.Tensor | None = None) -> StepOutput:
        """One PNDM step from ``t`` to ``t_prev``: a warm-up step (more evaluations through ``model``) or Eq. 06.8."""
        self.check_pair(t, t_prev)
        eps, x0 = self.predict(model_output, t, t_prev, x_t, x0_transform)

        def eps_at(x, s):
            if model is None:
                raise ValueError("PNDM's warm-up evaluates the network within a step: pass model= (the loop does)")
            return self.predict(model(x, s), s, t_prev, x, x0_transform)[0]

        warming = len(self.ets) < (3 if self.warmup == "prk" else 1)
        if warming and t_prev >= 0:
            if self.warmup == "prk":  # pseudo Runge–Kutta (Liu et al. Eq. 13): 4 evaluations
                mid = t - (t - t_prev) // 2
                e2 = eps_at(self._phi(x_t, x0, eps, eps, t, mid)[0], mid)
                e3 = eps_at(self._phi(x_t, x0, eps, e2, t, mid)[0], mid)
                e4 = eps_at(self._phi(x_t, x0, eps, e3, t, t_prev)[0], t_prev)
                eps_new = (eps + 2 * e2 + 2 * e3 + e4) / 6
            else:  # pseudo improved Euler (LDM's PLMS, diffusers' skip_prk_steps): 2 evaluations
                e2 = eps_at(self._phi(x_t, x0, eps, eps, t, t_prev)[0], t_prev)
                eps_new = (eps + e2) / 2
            self.ets.append(eps)
        else:  # linear multistep on the history of ε̂ (Eq. 06.8); first order while the history is empty
            self.ets = (self.ets + [eps])[-4:]
            eps_new = adams_bashforth(self.ets)
        x_prev, x0_used = self._phi(x_t, x0, eps, eps_new, t, t_prev)
        return StepOutput(x_prev, x0_used)

    def __repr__(self) -> str:
        return (f"PNDMSampler(steps={self.steps}, prediction={self.prediction!r}, warmup={self.warmup!r}, "
                f"spacing={self.spacing!r})")
