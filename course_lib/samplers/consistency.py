"""Multistep consistency sampling · 一致性模型采样 (Song, Dhariwal, Chen & Sutskever, "Consistency Models", ICML 2023,
Algorithm 1; Luo et al., "Latent Consistency Models", 2023; lesson 06).

A consistency model f_θ(x_t, t) maps any point of a probability-flow trajectory to the trajectory's start, x̂₀, in one
evaluation. One step: x̂₀ = f_θ(x_T, T). More steps trade time for quality: **re-noise** x̂₀ to the next, lower time
with fresh noise, x_{t'} = √ᾱ_{t'} x̂₀ + √(1 − ᾱ_{t'}) z (Eq. 01.3), and apply f_θ again; the last step returns x̂₀
(no noise). The network must output x̂₀ (``prediction="x0"``): the consistency parameterisation (Eq. 06.10) lives
in the model, not here.

Reference: ``openai/consistency_models`` ``cm/karras_diffusion.py`` (``stochastic_iterative_sampler``); diffusers'
``schedulers/scheduling_lcm.py`` (``step``: denoise, then ``add_noise`` to the previous timestep unless last).
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from .base import alpha_bar_at, fresh_noise, SpacedSampler, StepOutput, X0Transform
from .registry import register_sampler

__all__ = ["ConsistencySampler"]


@register_sampler
class ConsistencySampler(SpacedSampler):
    """Multistep consistency sampling: x̂₀ = f_θ(x_t, t), then re-noise to t' (one evaluation per step).

    Args:
        process, steps, prediction: see :class:`~course_lib.samplers.base.Sampler` (default 1 step; the network
            must predict x₀).
        spacing: ``"trailing"`` (default: 999, 749, 499, 249 for 4 steps), ``"leading"`` or ``"karras"``.
    """

    name = "consistency"
    default_steps = 1
    stochastic = True

    def __init__(self, process, steps: int | None = None, prediction: str = "x0", spacing: str = "trailing"):
        super().__init__(process, steps, prediction, spacing)
        self.stochastic = self.steps > 1  # one step draws no noise after x_T

    def step(self, model_output: torch.Tensor, t: int, t_prev: int, x_t: torch.Tensor, *,
             generator: torch.Generator | Sequence[torch.Generator] | None = None,
             x0_transform: X0Transform | None = None, model: Callable | None = None,
             noise: torch.Tensor | None = None) -> StepOutput:
        """x̂₀ from the model; to ``t_prev = -1`` return it, else x_{t'} = √ᾱ_{t'} x̂₀ + √(1 − ᾱ_{t'}) z."""
        self.check_pair(t, t_prev)
        _, x0 = self.predict(model_output, t, t_prev, x_t, x0_transform)
        if t_prev < 0:
            return StepOutput(x0, x0)
        ab = alpha_bar_at(self.process, self._t(t_prev, x_t), x_t)
        z = fresh_noise(x_t, generator, noise)
        return StepOutput(ab.sqrt() * x0 + (1 - ab).sqrt() * z, x0)
