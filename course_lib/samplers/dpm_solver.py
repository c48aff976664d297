"""DPM-Solver++(2M) · 多步高阶求解器 (Lu, Zhou, Bao, Chen, Li & Zhu, "DPM-Solver++: Fast Solver for Guided Sampling of
Diffusion Probabilistic Models", arXiv 2022 / MIR 2025; after DPM-Solver, NeurIPS 2022; lesson 06).

The probability-flow ODE (Eq. 06.6) has a linear part that can be integrated exactly. In the half log-SNR
λ_t = log(α_t/σ_t) (α_t = √ᾱ_t, σ_t = √(1 − ᾱ_t)) and with the data prediction x̂₀, its exact solution from t to t' is

    x_{t'} = (σ_{t'}/σ_t) x_t + σ_{t'} ∫_{λ_t}^{λ_{t'}} e^{λ} x̂₀(λ) dλ,

and DPM-Solver++ approximates x̂₀(λ) inside the integral. First order (x̂₀ constant) is DDIM η = 0. The **2M**
multistep method (Eq. 06.9) reuses the previous step's x̂₀ for a linear fit, with h = λ_{t'} − λ_t, r = h_prev / h:

    D = (1 + 1/(2r)) x̂₀_t − (1/(2r)) x̂₀_prev,     x_{t'} = (σ_{t'}/σ_t) x_t − α_{t'} (e^{−h} − 1) D

— one network evaluation per step, second order. The first step has no history (first order); the last step, to
σ = 0, is first order too (its h is infinite): it returns x̂₀, as diffusers' ``final_sigmas_type="zero"`` does.

Reference: ``huggingface/diffusers`` ``schedulers/scheduling_dpmsolver_multistep.py``
(``multistep_dpm_solver_second_order_update``, ``algorithm_type="dpmsolver++"``, ``solver_type="midpoint"``), which
``tests/test_new_samplers.py`` matches; ``LuChengTHU/dpm-solver``.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from ..diffusion import extract
from .base import SpacedSampler, StepOutput, X0Transform
from .registry import register_sampler

__all__ = ["DPMSolverPP2MSampler"]


@register_sampler
class DPMSolverPP2MSampler(SpacedSampler):
    """DPM-Solver++(2M): the multistep second-order ODE solver in data prediction (Eq. 06.9); one evaluation per step.

    Args:
        process, steps, prediction: see :class:`~course_lib.samplers.base.Sampler` (default 20 steps).
        spacing: ``"trailing"`` (default), ``"leading"`` or ``"karras"``
        (:func:`~course_lib.samplers.ddim.make_timesteps`).
    """

    name = "dpmpp_2m"
    default_steps = 20

    def __init__(self, process, steps: int | None = None, prediction: str = "eps", spacing: str = "trailing"):
        super().__init__(process, steps, prediction, spacing)
        self._prev: tuple[torch.Tensor, torch.Tensor] | None = None  # (x̂₀, λ) of the previous step

    def reset(self) -> None:
        """Forget the previous step's x̂₀."""
        self._prev = None

    def step(self, model_output: torch.Tensor, t: int, t_prev: int, x_t: torch.Tensor, *,
             generator: torch.Generator | Sequence[torch.Generator] | None = None,
             x0_transform: X0Transform | None = None, model: Callable | None = None,
             noise: torch.Tensor | None = None) -> StepOutput:
        """One DPM-Solver++(2M) step from ``t`` to ``t_prev`` (Eq. 06.9)."""
        self.check_pair(t, t_prev)
        _, x0 = self.predict(model_output, t, t_prev, x_t, x0_transform)
        ab_t = extract(self.process.alpha_bars, self._t(t, x_t), x_t)
        lam_t = 0.5 * (ab_t.log() - (1 - ab_t).log())                                   # λ_t = log(α_t/σ_t)
        if t_prev < 0:  # to σ = 0: h = ∞, first order: x₀ = x̂₀
            self._prev = (x0, lam_t)
            return StepOutput(x0, x0)
        ab_s = extract(self.process.alpha_bars, self._t(t_prev, x_t), x_t)
        lam_s = 0.5 * (ab_s.log() - (1 - ab_s).log())
        h = lam_s - lam_t
        if self._prev is None:
            D = x0                                                                       # first order (= DDIM η = 0)
        else:
            x0_prev, lam_prev = self._prev
            r = (lam_t - lam_prev) / h                                                   # r = h_prev / h
            D = x0 + (x0 - x0_prev) / (2 * r)                                         # (1 + 1/2r) x̂₀ − (1/2r) x̂₀_prev
        self._prev = (x0, lam_t)
        sigma_ratio = ((1 - ab_s) / (1 - ab_t)).sqrt()
        x_prev = sigma_ratio * x_t - ab_s.sqrt() * torch.expm1(-h) * D                     # Eq. 06.9
        return StepOutput(x_prev, D)
