"""Samplers of the SDE view · 随机微分方程视角的采样器 (Song et al., ICLR 2021; Karras et al., NeurIPS 2022; lesson 06).

Four ways to integrate the same process backwards, all driven by the one loop and counting their evaluations:

* ``"euler_maruyama"`` — the **reverse SDE** (Eq. 06.5) by Euler–Maruyama in the VP time t
  (:func:`course_lib.sde.em_step`),
  then Tweedie's x̂₀ (Eq. 06.3) as the final denoise (score_sde's ``noise_removal``). Stochastic.
* ``"ode_euler"`` — the **probability-flow ODE** (Eq. 06.6) by plain Euler in the VP time t. Deterministic; the naive
  way, kept to show that the variable one integrates in matters.
* ``"euler"`` — the same ODE by Euler after the change of variables x̃ = x/α_t, σ̃_t = σ_t/α_t (Eq. 06.7), where it
  reads dx̃/dσ̃ = ε̂: a step is x̃' = x̃ + (σ̃' − σ̃) ε̂. **This is DDIM η = 0, exactly** (DDIM is the PF-ODE's
  first-order exponential integrator); diffusers' ``EulerDiscreteScheduler`` computes it.
* ``"heun"`` — Heun's second-order method in the same variables (Karras et al. 2022, Algorithm 1; diffusers'
  ``HeunDiscreteScheduler``): 2 evaluations per step, 1 for the last (to σ̃ = 0, Euler): NFE = 2·steps − 1.

The VP-time samplers map each 0-based index to its continuous time through ᾱ (:meth:`course_lib.sde.VPSDE.index_to_t`).
For the cosine schedule β(t) diverges as t → 1 and the discrete schedule clips the last β at 0.999 — a jump from
ᾱ ≈ 2e-6 to ≈ 2e-9, both pure noise — so they **stop at the clipped end**: their grid starts at the last unclipped
index.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from ..diffusion import GaussianDiffusion
from ..sde import VPSDE, em_step, pf_ode_derivative, score_from_eps
from .base import alpha_bar_at, ddim_timesteps, fresh_noise, Sampler, SpacedSampler, StepOutput, X0Transform
from .registry import register_sampler

__all__ = ["EulerMaruyamaSampler", "ProbabilityFlowEulerSampler", "EulerSampler", "HeunSampler", "last_unclipped_index"]


def last_unclipped_index(process: GaussianDiffusion, max_beta: float = 0.999) -> int:
    """The largest index whose β is below the schedule's clip (T − 1 for an unclipped schedule; T − 2 for the
    cosine)."""
    clipped = (process.betas >= max_beta - 1e-9).nonzero()
    return process.num_timesteps - 1 if len(clipped) == 0 else int(clipped.min()) - 1


class _VPTimeSampler(Sampler):
    """Shared by the samplers that step in the VP time t: the SDE, and the grid from the last unclipped index."""

    default_steps = None

    def __init__(self, process, steps: int | None = None, prediction: str = "eps", sde: VPSDE | None = None):
        self.sde = VPSDE.for_process(process) if sde is None else sde
        if not isinstance(self.sde, VPSDE):
            raise TypeError(f"sde must be a VPSDE, got {type(self.sde).__name__}")
        self.start = last_unclipped_index(process)
        if steps is None:
            steps = self.start + 1
        super().__init__(process, steps, prediction)
        self._times = self.sde.index_to_t(process).to(process.betas.device)

    def make_timesteps(self) -> list[int]:
        """``steps`` trailing timesteps over the indices 0 … :func:`last_unclipped_index`."""
        if self.steps > self.start + 1:
            raise ValueError(f"steps must be at most {self.start + 1} (the unclipped indices), got {self.steps}")
        return ddim_timesteps(self.start + 1, self.steps, "trailing")

    def _vp(self, t: int, t_prev: int, like: torch.Tensor):
        """(β(t), dt = t − t', σ_t) as scalars in ``like``'s dtype."""
        tc, tp = self._times[t], self._times[t_prev]
        beta = self.sde.beta(tc).to(like.dtype)
        return beta, (tc - tp).to(like.dtype), (1 - self.process.alpha_bars[t]).sqrt().to(like.dtype)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(steps={self.steps}, prediction={self.prediction!r}, sde={self.sde!r})"


@register_sampler
class EulerMaruyamaSampler(_VPTimeSampler):
    """The reverse VP-SDE (Eq. 06.5) by Euler–Maruyama; Tweedie's x̂₀ at the last step. One evaluation per step.

    Args:
        process, steps, prediction: see :class:`~course_lib.samplers.base.Sampler` (default: every unclipped index).
        sde: the :class:`~course_lib.sde.VPSDE` of the process (default :meth:`VPSDE.for_process`).
    """

    name = "euler_maruyama"
    stochastic = True

    def step(self, model_output: torch.Tensor, t: int, t_prev: int, x_t: torch.Tensor, *,
             generator: torch.Generator | Sequence[torch.Generator] | None = None,
             x0_transform: X0Transform | None = None, model: Callable | None = None,
             noise: torch.Tensor | None = None) -> StepOutput:
        """x' = x + [½βx + βs] dt + √(β dt) z with s = −ε̂/σ_t (Eq. 06.3); to ``t_prev = -1``: x̂₀ (no noise)."""
        self.check_pair(t, t_prev)
        eps, x0 = self.predict(model_output, t, t_prev, x_t, x0_transform)
        if t_prev < 0:
            return StepOutput(x0, x0)                                                     # the final denoise
        beta, dt, std = self._vp(t, t_prev, x_t)
        z = fresh_noise(x_t, generator, noise)
        x_prev, _ = em_step(x_t, score_from_eps(eps, std), beta, dt, z)                  # Eq. 06.5
        return StepOutput(x_prev, x0)


@register_sampler
class ProbabilityFlowEulerSampler(_VPTimeSampler):
    """The probability-flow ODE (Eq. 06.6) by Euler in the VP time t; x̂₀ at the last step. One evaluation per step."""

    name = "ode_euler"

    def step(self, model_output: torch.Tensor, t: int, t_prev: int, x_t: torch.Tensor, *,
             generator: torch.Generator | Sequence[torch.Generator] | None = None,
             x0_transform: X0Transform | None = None, model: Callable | None = None,
             noise: torch.Tensor | None = None) -> StepOutput:
        """x' = x − dt · dx/dt with dx/dt = −½β(t)(x − ε̂/σ_t) (Eq. 06.6); to ``t_prev = -1``: x̂₀."""
        self.check_pair(t, t_prev)
        eps, x0 = self.predict(model_output, t, t_prev, x_t, x0_transform)
        if t_prev < 0:
            return StepOutput(x0, x0)
        beta, dt, std = self._vp(t, t_prev, x_t)
        return StepOutput(x_t - dt * pf_ode_derivative(x_t, score_from_eps(eps, std), beta), x0)


class _SigmaSampler(SpacedSampler):
    """Shared by the samplers in the variables x̃ = x/α, σ̃ = σ/α of Eq. 06.7 (Karras et al. 2022)."""

    default_steps = 50

    def _alpha_sigma(self, t: int, like: torch.Tensor):
        """(α_t, σ̃_t) shaped like ``like``: α = √ᾱ, σ̃ = √((1 − ᾱ)/ᾱ) (0 at t = −1)."""
        ab = alpha_bar_at(self.process, self._t(t, like), like)
        return ab.sqrt(), ((1 - ab) / ab).sqrt()

    @staticmethod
    def _d(x_tilde: torch.Tensor, x0: torch.Tensor, sig: torch.Tensor) -> torch.Tensor:
        """dx̃/dσ̃ = (x̃ − x̂₀)/σ̃ = ε̂ (Eq. 06.7; in x̂₀ form, well conditioned for x₀-networks)."""
        return (x_tilde - x0) / sig


@register_sampler
class EulerSampler(_SigmaSampler):
    """Euler on the PF-ODE in x̃, σ̃ (Eq. 06.7) = DDIM η = 0; diffusers' ``EulerDiscreteScheduler``. One evaluation per
    step.

    Args:
        process, steps, prediction: see :class:`~course_lib.samplers.base.Sampler` (default 50 steps).
        spacing: ``"trailing"`` (default), ``"leading"`` or ``"karras"``
        (:func:`~course_lib.samplers.ddim.make_timesteps`).
    """

    name = "euler"

    def step(self, model_output: torch.Tensor, t: int, t_prev: int, x_t: torch.Tensor, *,
             generator: torch.Generator | Sequence[torch.Generator] | None = None,
             x0_transform: X0Transform | None = None, model: Callable | None = None,
             noise: torch.Tensor | None = None) -> StepOutput:
        """x̃' = x̃ + (σ̃' − σ̃) · (x̃ − x̂₀)/σ̃, back to x' = α' x̃' (Eq. 06.7)."""
        self.check_pair(t, t_prev)
        _, x0 = self.predict(model_output, t, t_prev, x_t, x0_transform)
        a, s = self._alpha_sigma(t, x_t)
        a2, s2 = self._alpha_sigma(t_prev, x_t)
        xt = x_t / a
        return StepOutput(a2 * (xt + (s2 - s) * self._d(xt, x0, s)), x0)


@register_sampler
class HeunSampler(_SigmaSampler):
    """Heun on the PF-ODE in x̃, σ̃ (Eq. 06.7; Karras et al. 2022, Algorithm 1); diffusers' ``HeunDiscreteScheduler``.
    Two evaluations per step (the second through ``model`` at t'), one for the last step to σ̃ = 0.

    Args:
        process, steps, prediction: see :class:`~course_lib.samplers.base.Sampler` (default 25 steps, 49 evaluations).
        spacing: ``"karras"`` (default: Karras et al.'s σ̃ from 80 down, dense at low noise), ``"trailing"`` or
            ``"leading"`` (:func:`~course_lib.samplers.ddim.make_timesteps`).
    """

    name = "heun"
    default_steps = 25

    @classmethod
    def nfe_for(cls, steps: int, **options) -> int:
        """2 evaluations per step, 1 for the last: 2·steps − 1."""
        return 2 * int(steps) - 1
    # from σ̃ = 80, as Karras et al.: from σ̃ ≈ 2·10⁴ the correction (σ̃' − σ̃)(d' − d)/2 explodes
    default_spacing = "karras"

    def step(self, model_output: torch.Tensor, t: int, t_prev: int, x_t: torch.Tensor, *,
             generator: torch.Generator | Sequence[torch.Generator] | None = None,
             x0_transform: X0Transform | None = None, model: Callable | None = None,
             noise: torch.Tensor | None = None) -> StepOutput:
        """Predictor x̃_E = x̃ + (σ̃' − σ̃) d, corrector x̃' = x̃ + (σ̃' − σ̃)(d + d')/2 with d' at (x_E, t')."""
        self.check_pair(t, t_prev)
        _, x0 = self.predict(model_output, t, t_prev, x_t, x0_transform)
        a, s = self._alpha_sigma(t, x_t)
        a2, s2 = self._alpha_sigma(t_prev, x_t)
        xt = x_t / a
        d = self._d(xt, x0, s)
        x_euler = xt + (s2 - s) * d
        if t_prev < 0:                                                                    # σ̃' = 0: Euler (x̂₀)
            return StepOutput(a2 * x_euler, x0)
        if model is None:
            raise ValueError("Heun evaluates the network twice per step: pass model= (the loop does)")
        _, x0_2 = self.predict(model(a2 * x_euler, t_prev), t_prev, t_prev, a2 * x_euler, x0_transform)
        d2 = self._d(x_euler, x0_2, s2)
        return StepOutput(a2 * (xt + (s2 - s) * (d + d2) / 2), x0)
