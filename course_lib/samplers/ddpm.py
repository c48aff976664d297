"""DDPM ancestral sampling · 祖先采样 (Ho, Jain & Abbeel, NeurIPS 2020; Algorithm 2): lesson 02.

Each step draws x_{t−1} from the posterior q(x_{t−1} | x_t, x̂₀) with the network's guess x̂₀ in place of x₀:

    x_{t−1} = μ̃_t(x̂₀, x_t) + σ_t z,   μ̃_t = √ᾱ_{t−1} β_t / (1 − ᾱ_t) · x̂₀ + √α_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · x_t

(Eq. 02.5 with the posterior mean of Eq. 02.1), σ_t² = β̃_t (the posterior variance, DDPM's "fixed small") or
β_t ("fixed large"); no noise at the last step. With fewer than T steps the chain is *respaced*: each step then is
DDIM with η = 1 (Eq. 02.6), which is DDPM on the sub-chain of the chosen timesteps.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from ..diffusion import extract
from .base import ddim_timesteps, fresh_noise, Sampler, StepOutput, X0Transform
from .ddim import DDIMSampler
from .registry import register_sampler

__all__ = ["DDPMSampler", "VARIANCES"]

VARIANCES = ("posterior", "beta")


@register_sampler
class DDPMSampler(Sampler):
    """Ancestral DDPM (Eq. 02.5); all T steps by default, one network evaluation each, fresh noise every step.

    Args:
        process, steps, prediction: see :class:`~course_lib.samplers.base.Sampler`; ``steps < T`` respaces the chain
            (trailing timesteps, each step DDIM with η = 1).
        variance: σ_t² = β̃_t (``"posterior"``, Eq. 02.1) or β_t (``"beta"``).
        clip_sample: clip x̂₀ to [-1, 1] before the posterior mean (and before any x̂₀ transform), as diffusers'
            ``DDPMScheduler(clip_sample=True)``.
    """

    name = "ddpm"
    default_steps = None
    stochastic = True

    def __init__(self, process, steps: int | None = None, prediction: str = "eps", variance: str = "posterior",
                 clip_sample: bool = False):
        if variance not in VARIANCES:
            raise ValueError(f"variance must be one of {VARIANCES}, got {variance!r}")
        self.variance, self.clip_sample = variance, bool(clip_sample)
        super().__init__(process, steps, prediction)
        self.ancestral = self.steps == process.num_timesteps
        self._respaced = (None if self.ancestral
                          else DDIMSampler(process, self.steps, prediction, eta=1.0, clip_sample=clip_sample))

    def make_timesteps(self) -> list[int]:
        """T − 1 … 0 for the full chain; the trailing DDIM timesteps when respaced."""
        T = self.process.num_timesteps
        return list(range(T - 1, -1, -1)) if self.steps == T else ddim_timesteps(T, self.steps)

    def step(self, model_output: torch.Tensor, t: int, t_prev: int, x_t: torch.Tensor, *,
             generator: torch.Generator | Sequence[torch.Generator] | None = None,
             x0_transform: X0Transform | None = None, model: Callable | None = None,
             noise: torch.Tensor | None = None) -> StepOutput:
        """x_{t−1} = μ̃_t(x̂₀, x_t) + σ_t z (Eq. 02.5); a respaced chain steps by DDIM with η = 1 instead."""
        if not self.ancestral:
            return self._respaced.step(model_output, t, t_prev, x_t, generator=generator, x0_transform=x0_transform,
                                       noise=noise)
        if t_prev != t - 1:
            raise ValueError(f"an ancestral step goes from t to t - 1, got t={t}, t_prev={t_prev}")
        p, t_vec = self.process, self._t(t, x_t)
        eps, x0 = p.eps_and_x0(model_output, x_t, t_vec, self.prediction)                # Eq. 02.2 (or 02.3 for v)
        var = p.posterior_variance if self.variance == "posterior" else p.betas
        sigma = extract(var, t_vec, x_t).sqrt()                                          # σ_t = √β̃_t (or √β_t)
        if self.clip_sample:
            x0 = x0.clamp(-1.0, 1.0)                                                     # x̂₀ in the data range
        if x0_transform is not None:
            ctx = self._context(t, t_prev, x_t, eps, sigma)
            x0 = x0_transform(x0, ctx)                                                   # the x̂₀ hook
            sigma = ctx.sigma
        mean, _ = p.q_posterior(x0, x_t, t_vec)                                          # μ̃_t(x̂₀, x_t), Eq. 02.1
        z = fresh_noise(x_t, generator, noise)  # z ~ N(0, I)
        nonzero = (t_vec > 0).reshape(-1, *([1] * (x_t.dim() - 1))).to(x_t.dtype)        # no noise at the last step
        return StepOutput(mean + nonzero * sigma * z, x0)                                # Eq. 02.5
