"""DDIM · 确定性采样 (Song, Meng & Ermon, ICLR 2021): big deterministic jumps with the DDPM network (lesson 02).

DDIM keeps DDPM's marginals q(x_t | x_0) but uses a non-Markovian forward process (the "implicit" model), whose
reverse step from t to any earlier t' is their Eq. 12 — our Eq. 02.6:

    x_{t'} = √ᾱ_{t'} · (x_t − √(1 − ᾱ_t) ε̂) / √ᾱ_t  +  √(1 − ᾱ_{t'} − σ²) · ε̂  +  σ z
             └── "predicted x₀" (Eq. 02.2) ──┘        └ "direction pointing to x_t" ┘  └ noise ┘

with σ = η √((1 − ᾱ_{t'}) / (1 − ᾱ_t)) · √(1 − ᾱ_t / ᾱ_{t'}), their Eq. 16 (part of our Eq. 02.6). η = 0 is
deterministic
(the probability-flow ODE's first-order step); η = 1 gives DDPM's posterior variance on the sub-chain.
Names follow diffusers' ``DDIMScheduler`` (``timesteps``, ``step``, ``prev_sample``, ``pred_original_sample``).
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from ..diffusion import extract
from .base import (SPACINGS, SpacedSampler, StepOutput, X0Transform, alpha_bar_at, ddim_timesteps, fresh_noise,
                   karras_timesteps, make_timesteps)
from .registry import register_sampler

__all__ = ["DDIMSampler", "SpacedSampler", "ddim_timesteps", "karras_timesteps", "make_timesteps", "ddim_update",
           "ddim_invert", "SPACINGS"]

@register_sampler
class DDIMSampler(SpacedSampler):
    """DDIM (Eq. 02.6; DDIM Eq. 12) with noise level η (σ(η) of Eq. 02.6; DDIM Eq. 16); one network evaluation per step.

    Args:
        process, steps, prediction: see :class:`~course_lib.samplers.base.Sampler` (default 50 steps).
        eta: η ≥ 0; 0 is deterministic.
        spacing: ``"trailing"``, ``"leading"`` (:func:`ddim_timesteps`) or ``"karras"`` (:func:`karras_timesteps`).
        clip_sample: clip x̂₀ to [-1, 1] before anything else, as diffusers' ``DDIMScheduler(clip_sample=True)`` does
            (with ``use_clipped_model_output``: ε̂ is re-derived from the clipped x̂₀). Lesson 02's images use it.
    """

    name = "ddim"
    default_steps = 50

    def __init__(self, process, steps: int | None = None, prediction: str = "eps", eta: float = 0.0,
                 spacing: str = "trailing",
                 clip_sample: bool = False):
        if not eta >= 0:
            raise ValueError(f"eta must be >= 0, got {eta}")
        self.eta, self.clip_sample = float(eta), bool(clip_sample)
        super().__init__(process, steps, prediction, spacing)
        self.stochastic = self.eta > 0

    def step(self, model_output: torch.Tensor, t: int, t_prev: int, x_t: torch.Tensor, *,
             generator: torch.Generator | Sequence[torch.Generator] | None = None,
             x0_transform: X0Transform | None = None, model: Callable | None = None,
             noise: torch.Tensor | None = None) -> StepOutput:
        """One DDIM step from ``t`` to ``t_prev`` (−1 ≤ t_prev < t): Eq. 02.6 with its σ(η)."""
        self.check_pair(t, t_prev)
        p, t_vec = self.process, self._t(t, x_t)
        eps, x0 = p.eps_and_x0(model_output, x_t, t_vec, self.prediction)                 # Eq. 02.2 (or 02.3 for v)
        ab_t = extract(p.alpha_bars, t_vec, x_t)                                          # ᾱ_t
        ab_prev = alpha_bar_at(p, self._t(t_prev, x_t), x_t)                              # ᾱ_{t'}, 1 at t' = −1
        sigma = self.eta * ((1 - ab_prev) / (1 - ab_t) * (1 - ab_t / ab_prev)).clamp(min=0).sqrt()  # σ(η), DDIM Eq. 16
        noisy, x0_step = self.eta > 0, None  # x0_step None: the update takes the x̂₀ that ε̂ implies (Eq. 12 as written)
        if x0_transform is None:
            if self.clip_sample:  # diffusers' clip_sample, as DDIMScheduler computes it
                x0 = (x_t - (1 - ab_t).sqrt() * eps) / ab_t.sqrt() if self.prediction == "eps" else x0   # Eq. 02.2
                x0 = x0.clamp(-1.0, 1.0)
                eps = (x_t - ab_t.sqrt() * x0) / (1 - ab_t).sqrt()                             # the ε̂ it implies
            if self.clip_sample or self.prediction != "eps":
                x0_step = x0  # an x₀- or v-network's own x̂₀: no round trip through ε̂, which loses digits where ᾱ_t ≈ 0
        else:
            ctx = self._context(t, t_prev, x_t, eps, sigma)
            x0 = x0_transform(x0.clamp(-1.0, 1.0) if self.clip_sample else x0, ctx)         # the x̂₀ hook
            noisy, sigma = noisy or ctx.sigma is not sigma, ctx.sigma
            eps = p.predict_eps_from_x0(x_t, t_vec, x0)                                   # the ε̂ x̂₀ implies (Eq. 02.2)
        z = fresh_noise(x_t, generator, noise) if noisy else None                         # z ~ N(0, I), or `noise`
        return StepOutput(ddim_update(x_t, eps, ab_t, ab_prev, sigma, z, x0_step), x0)


def ddim_update(x_t: torch.Tensor, eps: torch.Tensor, ab_t: torch.Tensor, ab_prev: torch.Tensor, sigma: torch.Tensor,
                z: torch.Tensor | None = None, x0: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 02.6 (DDIM Eq. 12) written, as the paper does, in ε̂ alone: ``(B, ...)`` x at t' from x_t and ε̂.

    ``ab_t``, ``ab_prev`` (ᾱ_t, ᾱ_{t'}) and ``sigma`` broadcast as ``(B, 1, …, 1)``; ``z`` is the fresh noise
    (``None``: no noise term, as for η = 0); ``x0``: the predicted x₀ when it is given (clipped), else the one ε̂
    implies."""
    if x0 is None:
        x0 = (x_t - (1 - ab_t).sqrt() * eps) / ab_t.sqrt()                                # "predicted x₀"
    direction = (1 - ab_prev - sigma**2).clamp(min=0).sqrt() * eps                        # "direction pointing to x_t"
    x_prev = ab_prev.sqrt() * x0 + direction                                              # Eq. 02.6 (DDIM 12)
    return x_prev if z is None else x_prev + sigma * z                                    # + σ z


@torch.no_grad()
def ddim_invert(model: Callable, process, x0: torch.Tensor, steps: int = 50, cond=None, prediction: str = "eps",
                spacing: str = "trailing", until: int | None = None) -> torch.Tensor:
    """DDIM inversion · DDIM 反演: run the η = 0 ODE *forwards*, image → x_T, on the timesteps of ``steps`` and
    ``spacing`` (:func:`make_timesteps`; sample back with the same).

    Each step goes from x at t (t = −1 for the image) up to the next timestep t' with ε̂ evaluated at (x, t') —
    diffusers' ``DDIMInverseScheduler`` convention: the network never sees ᾱ = 1 — then Eq. 02.6 with σ = 0 from
    the x̂₀ that ε̂ implies. Sampling the result with DDIM of the same steps returns (nearly) the image: the round
    trip is exact only in the limit of small steps, since the inversion uses ε̂ one step ahead.

    Args:
        model: ``model(x, t (B,) long, cond) -> output`` of type ``prediction``; x0: ``(B, ...)`` images in [-1, 1].
        until: stop at the largest timestep ≤ ``until`` (an inversion to t*, lesson 12's editing; sample back with
            :func:`~course_lib.samplers.start_at` of the same ``until``).

    Returns:
        ``(B, ...)`` x at the first timestep (T − 1 for trailing spacing; the largest ≤ ``until`` if given). On the
        cosine schedule the last step up to T − 1 jumps from σ̃ ≈ 30 to σ̃ ≈ 2·10⁴ and x_T is little more than ε̂ of
        the step before; the Karras spacing, which stops at σ̃ = 80, inverts far better (lesson 06 measures both).
    """
    ts = sorted(make_timesteps(process, steps, spacing))
    if until is not None:
        ts = [t for t in ts if t <= until]
        if not ts:
            raise ValueError(f"until={until} is below every timestep of {steps} {spacing} steps")
    x, prev = x0.to(process.betas.device), -1
    for t in ts:
        t_vec = torch.full((x.shape[0],), t, dtype=torch.long, device=x.device)
        ab_prev = alpha_bar_at(process, torch.full_like(t_vec, prev), x)
        ab_t = extract(process.alpha_bars, t_vec, x)
        out = model(x, t_vec, cond)
        if prediction == "eps":
            eps = out.to(x.dtype)
        else:  # ε̂ at (x, t') from the network's x̂₀ or v, as if x were at t'
            eps = process.eps_and_x0(out, x, t_vec, prediction)[0]
        x0_hat = (x - (1 - ab_prev).sqrt() * eps) / ab_prev.sqrt()                      # x̂₀ of the current point
        x = ab_t.sqrt() * x0_hat + (1 - ab_t).sqrt() * eps                                # Eq. 02.6, σ = 0, upwards
        prev = t
    return x
