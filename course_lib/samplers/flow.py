"""Samplers of the linear path · 流匹配采样器 (lesson 11): the flow ODE dx/dt = v_θ(x, t) from t = 1 down to t = 0.

The process is a :class:`~course_lib.paths.LinearPath` (Eq. 11.1); the network predicts the velocity v (Eq. 11.2,
``prediction="velocity"``); the times are floats in [0, 1], ``steps`` + 1 of them from 1 to 0, evenly spaced and
optionally shifted (:func:`flow_timesteps`, SD3's shift). Three solvers of one signature, driven by the one loop:

* ``"flow_euler"`` — Eq. 11.5  x_{t'} = x_t + (t' − t)·v_θ(x_t, t): one evaluation per step. diffusers'
  ``FlowMatchEulerDiscreteScheduler.step`` computes exactly this (``prev_sample = sample + (σ_next − σ)·model_output``);
  the last step to t' = 0 lands on x̂₀ = x_t − t·v (Eq. 11.7): one step from the source is "predict x̂₀".
* ``"flow_heun"`` — Eq. 11.9  Heun's method (the trapezoid): an Euler step to t', the velocity there, then
  x_{t'} = x_t + (t' − t)·(v(x_t, t) + v(x̃, t'))/2 — 2 evaluations per step, except the last, to t' = 0, which is
  Euler (Karras et al. 2022, Algorithm 1; diffusers' Heun schedulers): at t = 0 the marginal velocity is
  E[x₁ − x₀ | x₀ = x] = −x, nothing like the (x − x̂₀)/t just above it, so a corrector evaluated there spoils the last
  step. NFE = 2·steps − 1, as lesson 06's Heun.
* ``"flow_midpoint"`` — Eq. 11.10  the explicit midpoint rule: the velocity at the half step, x_{t'} = x_t +
  (t' − t)·v(x_t + (t_m − t)·v(x_t, t), t_m) with t_m = (t + t')/2 — 2 evaluations per step.

The x̂₀ hook of every sampler (clipping, SR3's image-space clip and projection) acts here too: the step's x̂₀ = x_t −
t·v is transformed and the velocity re-derived from it, v = (x_t − x̂₀)/t (Eq. 11.7), before the step is taken.
"""

from __future__ import annotations

from typing import Callable

import torch

from ..checks import check_int, check_number
from ..paths import LinearPath, shift_times
from .base import Sampler, StepContext, StepOutput, X0Transform
from .registry import register_sampler

__all__ = ["FlowSampler", "FlowEulerSampler", "FlowHeunSampler", "FlowMidpointSampler", "flow_timesteps",
           "FLOW_PREDICTION", "euler_trajectory"]

#: what a flow network outputs: the velocity of Eq. 11.2
FLOW_PREDICTION = "velocity"


def flow_timesteps(steps: int, shift: float = 1.0) -> list[float]:
    """The ``steps`` + 1 times of a flow run, from 1 (the source) to 0 (the data): ``linspace(1, 0, steps + 1)``
    after SD3's shift (:func:`course_lib.paths.shift_times`)."""
    check_int(steps, "steps", low=1)
    grid = torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64)
    return [float(v) for v in shift_times(grid, shift)]


class FlowSampler(Sampler):
    """Base of the flow samplers (see the module docstring).

    Args:
        process: the :class:`~course_lib.paths.LinearPath` the network was trained on.
        steps: number of steps (``default_steps`` when ``None``).
        prediction: must be ``"velocity"`` (read it off the model: ``model.prediction``).
        shift: SD3's time shift s of the grid (1: evenly spaced).

    ``timesteps`` are the ``steps`` times at which a step starts (floats, decreasing from 1); :meth:`pairs` adds the
    end, 0.
    """

    default_steps = 50

    def __init__(self, process: LinearPath, steps: int | None = None, prediction: str = FLOW_PREDICTION,
                 shift: float = 1.0):
        if not isinstance(process, LinearPath):
            raise TypeError(f"process must be a LinearPath (lesson 11's flow), got {type(process).__name__}; "
                            "the samplers of a GaussianDiffusion are 'ddim', 'dpmpp_2m', …")
        if prediction != FLOW_PREDICTION:
            raise ValueError(f"prediction must be {FLOW_PREDICTION!r} for a flow sampler (the network's output is the "
                             f"velocity of Eq. 11.2), got {prediction!r}")
        steps = self.default_steps if steps is None else steps
        check_int(steps, "steps", low=1)
        check_number(shift, "shift", low=0, low_open=True)
        self.process, self.steps, self.prediction, self.shift = process, steps, prediction, float(shift)
        self.nfe = 0
        self._grid = flow_timesteps(steps, shift)
        self.timesteps = self._grid[:-1]

    @property
    def device(self) -> torch.device:
        """Where the path's buffer lives (the loop moves the source there)."""
        return self.process.device

    def model_time(self, t: float, like: torch.Tensor) -> torch.Tensor:
        """The network's time input: ``t · time_scale`` as a ``(B,)`` float tensor (Eq. 11.1's t, scaled)."""
        return self.process.network_time(torch.full((like.shape[0],), float(t), device=like.device))

    def pairs(self) -> list[tuple[float, float]]:
        """``(t, t')`` for every step, the last one to t' = 0."""
        return list(zip(self._grid[:-1], self._grid[1:]))

    def renoise(self, x, t, t_up, generator=None):
        """Not defined: the flow samplers have no time travel (a ``NotImplementedError``)."""
        raise NotImplementedError("a flow sampler does not travel back up the path")

    # ------------------------------------------------------------------ the velocity after the x̂₀ hook
    def velocity(self, v: torch.Tensor, t: float, t_prev: float, x_t: torch.Tensor,
                 x0_transform: X0Transform | None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(v, x̂₀)`` at ``(x_t, t)``: x̂₀ = x_t − t·v (Eq. 11.7); with a hook, x̂₀ is transformed and v re-derived,
        v = (x_t − x̂₀)/t."""
        v = v.to(x_t.dtype)
        x0 = self.process.predict_x0(x_t, t, v)
        if x0_transform is not None and t > 0:
            x0 = x0_transform(x0, self._flow_context(t, t_prev, x_t, v))
            v = self.process.velocity_from_x0(x_t, t, x0)
        return v, x0

    def _flow_context(self, t: float, t_prev: float, x_t: torch.Tensor, v: torch.Tensor) -> StepContext:
        """The hook's context: ``eps`` is x̂₁ (Eq. 11.7), ``alpha_bar`` the VP ᾱ with the same signal-to-noise ratio,
        (1 − t)² / ((1 − t)² + (σ_s t)²), ``sigma`` 0 (the ODE adds no noise)."""
        def ab(s):
            a, n = (1 - s) ** 2, (self.process.source_noise * s) ** 2
            return x_t.new_full((x_t.shape[0],) + (1,) * (x_t.dim() - 1), a / (a + n))

        zero = x_t.new_zeros((x_t.shape[0],) + (1,) * (x_t.dim() - 1))
        return StepContext(t, t_prev, x_t, self.process.predict_x1(x_t, t, v), ab(t), ab(t_prev), zero)

    @staticmethod
    def check_pair(t: float, t_prev: float) -> None:
        """A step goes towards the data: 0 ≤ t' < t ≤ 1 (a ``ValueError`` naming both otherwise)."""
        if not 0 <= t_prev < t <= 1:
            raise ValueError(f"a flow step goes from t to t_prev with 0 <= t_prev < t <= 1, got t={t}, t_prev={t_prev}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(steps={self.steps}, shift={self.shift:g})"


@register_sampler
class FlowEulerSampler(FlowSampler):
    """Euler on the flow ODE, Eq. 11.5 (diffusers' ``FlowMatchEulerDiscreteScheduler``)."""

    name = "flow_euler"

    def step(self, model_output: torch.Tensor, t: float, t_prev: float, x_t: torch.Tensor, *,
             generator=None, x0_transform: X0Transform | None = None, model: Callable | None = None,
             noise: torch.Tensor | None = None) -> StepOutput:
        """One Euler step from t to t_prev < t (Eq. 11.5); ``model_output`` is v_θ(x_t, t)."""
        self.check_pair(t, t_prev)
        v, x0 = self.velocity(model_output, t, t_prev, x_t, x0_transform)
        return StepOutput(x_t + (t_prev - t) * v, x0)  # Eq. 11.5


class _TwoStage(FlowSampler):
    default_steps = 25

    @classmethod
    def nfe_for(cls, steps: int, **options) -> int:
        """Two network evaluations per step."""
        return 2 * int(steps)

    def _second(self, model: Callable | None, x: torch.Tensor, t: float, t_prev: float,
                x0_transform: X0Transform | None) -> torch.Tensor:
        if model is None:
            raise ValueError(f"{self.name} evaluates the network twice per step: pass model= (the loop does)")
        v, _ = self.velocity(model(x, t), t, t_prev, x, x0_transform)
        return v


@register_sampler
class FlowHeunSampler(_TwoStage):
    """Heun's method on the flow ODE, Eq. 11.9: 2 evaluations per step, Euler for the last."""

    name = "flow_heun"

    @classmethod
    def nfe_for(cls, steps: int, **options) -> int:
        """Two network evaluations per step, one for the last (Euler to t = 0)."""
        return 2 * int(steps) - 1

    def step(self, model_output, t, t_prev, x_t, *, generator=None, x0_transform=None, model=None, noise=None):
        """One Heun step (Eq. 11.9), evaluating ``model`` at the predictor's end; Euler when t_prev = 0."""
        self.check_pair(t, t_prev)
        v1, x0 = self.velocity(model_output, t, t_prev, x_t, x0_transform)
        x_euler = x_t + (t_prev - t) * v1  # Eq. 11.5, the predictor
        if t_prev == 0:  # the last step: Euler (see the module docstring)
            return StepOutput(x_euler, x0)
        v2 = self._second(model, x_euler, t_prev, t_prev, x0_transform)
        return StepOutput(x_t + (t_prev - t) * (v1 + v2) / 2, x0)  # Eq. 11.9, the corrector


@register_sampler
class FlowMidpointSampler(_TwoStage):
    """The explicit midpoint rule on the flow ODE, Eq. 11.10: 2 evaluations per step."""

    name = "flow_midpoint"

    def step(self, model_output, t, t_prev, x_t, *, generator=None, x0_transform=None, model=None, noise=None):
        """One midpoint step (Eq. 11.10), evaluating ``model`` at the half step."""
        self.check_pair(t, t_prev)
        v1, x0 = self.velocity(model_output, t, t_prev, x_t, x0_transform)
        t_mid = (t + t_prev) / 2
        v2 = self._second(model, x_t + (t_mid - t) * v1, t_mid, t_prev, x0_transform)
        return StepOutput(x_t + (t_prev - t) * v2, x0)  # Eq. 11.10


def euler_trajectory(model: Callable, process: LinearPath, x1: torch.Tensor, cond=None, steps: int = 50,
                     x0_transform: X0Transform | None = None) -> torch.Tensor:
    """The Euler trajectory from ``x1`` as ``(steps + 1, B, ...)`` states (index 0 = x₁ at t = 1), for
    :func:`course_lib.paths.straightness` (every state kept, on the CPU)."""
    from .loop import Trajectory, sample

    rec = Trajectory(every=1)
    sample(model, FlowEulerSampler(process, steps), x1, cond, x0_transform=x0_transform, callback=rec)
    return torch.cat([x1.detach().float().cpu()[None], rec.x_t])

