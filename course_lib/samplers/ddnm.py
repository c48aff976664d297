"""Zero-shot restoration with an unconditional model · 零样本复原 (process layer; lesson 08): DDNM's step as an x̂₀ hook,
the posterior sampler it needs, and RePaint's time travel.

**DDNM** (Wang, Yu & Zhang, ICLR 2023). For a linear degradation y = A x (+ n) with a pseudo-inverse A† (A A† = I on
y's space), any image splits into a range part A†A x, fixed by y, and a null-space part (I − A†A) x, invisible to A:
x = A†A x + (I − A†A) x. At every step of an unconditional sampler DDNM keeps the network's null-space part and puts
y's range part in its place (Eq. 08.3; DDNM Eq. 13):

    x̂₀′ = x̂₀ − A†(A x̂₀ − y) = A†y + (I − A†A) x̂₀,         so A x̂₀′ = y exactly,

then continues the step from x̂₀′: x_{t'} ~ q(x_{t'} | x_t, x̂₀′) (Eq. 08.4). For area SR this is lesson 04's projection
(Eq. 04.5) — what differs is the prior, an unconditional model that never saw y.

**DDNM+** (noisy y = A x + n, n ~ N(0, σ_y² I)): the correction carries n into x̂₀′ with the weight a_t of x̂₀ in the
posterior mean, so DDNM+ corrects only as much as the step's own noise can hide (DDNM Eq. 19): with σ_t the posterior
standard deviation of the step (Eq. 08.5),

    σ_t ≥ a_t σ_y:  λ_t = 1,                 γ_t = √(σ_t² − a_t² σ_y²)
    σ_t < a_t σ_y:  λ_t = σ_t / (a_t σ_y),   γ_t = 0
    x̂₀′ = x̂₀ − λ_t A†(A x̂₀ − y),   x_{t'} = μ_t(x_t, x̂₀′) + γ_t z.

This needs a sampler whose posterior mean μ does not change when the noise does: :class:`PosteriorSampler` (DDPM's
posterior on a strided grid; for the plain DDNM step it equals DDIM with η = 1, a test checks it). σ_y is in the
units of y: on [-1, 1] images it is **twice** the [0, 1]-scale value (the official code doubles it too).

**Time travel** (RePaint, Lugmayr et al., CVPR 2022): every ``travel_length`` steps go back up the chain by as many
steps, ``travel_repeat − 1`` times, re-noising with q(x_{t+L} | x_t), so the null-space content made early can adapt
to the range content fixed later. :func:`repaint_schedule` is diffusers' ``RePaintScheduler`` schedule.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from ..checks import check_int
from ..diffusion import extract
from .base import alpha_bar_at, fresh_noise, SpacedSampler, StepContext, StepOutput, X0Transform
from .registry import register_sampler

__all__ = ["PosteriorSampler", "repaint_schedule", "posterior_coefficients", "ddnm_transform"]


def repaint_schedule(steps: int, jump_length: int = 10, jump_n_sample: int = 10) -> list[int]:
    """RePaint's time-travel schedule on ``steps`` grid points (indices, 0 = the last): down one at a time; at every
    ``jump_length``-th index (below ``steps − jump_length``) go back up ``jump_length`` indices, ``jump_n_sample − 1``
    times. The indices diffusers' ``RePaintScheduler.set_timesteps`` produces before scaling to times."""
    for name, v, low in (("steps", steps, 1), ("jump_length", jump_length, 1), ("jump_n_sample", jump_n_sample, 1)):
        check_int(v, name, low=low)
    jumps = {j: jump_n_sample - 1 for j in range(0, steps - jump_length, jump_length)}
    out, t = [], steps
    while t >= 1:
        t -= 1
        out.append(t)
        if jumps.get(t, 0) > 0:
            jumps[t] -= 1
            for _ in range(jump_length):
                t += 1
                out.append(t)
    return out


def posterior_coefficients(alpha_bar: torch.Tensor,
                           alpha_bar_prev: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """DDPM's posterior q(x_{t'} | x_t, x₀) = N(a x₀ + b x_t, σ² I) between two grid points t' < t (Eq. 08.4: Eq. 02.1
    with
    α = ᾱ_t/ᾱ_{t'} for the whole stride): ``(a, b, σ)``, each shaped like its inputs; at t' = −1 (ᾱ_{t'} = 1),
    a = 1, b = 0, σ = 0."""
    alpha = alpha_bar / alpha_bar_prev
    beta = 1 - alpha
    a = alpha_bar_prev.sqrt() * beta / (1 - alpha_bar)                 # weight of x̂₀
    b = alpha.sqrt() * (1 - alpha_bar_prev) / (1 - alpha_bar)          # weight of x_t
    sigma = (beta * (1 - alpha_bar_prev) / (1 - alpha_bar)).clamp(min=0).sqrt()
    return a, b, sigma


@register_sampler
class PosteriorSampler(SpacedSampler):
    """DDPM's posterior step on a strided grid, its mean and its noise kept apart: x_{t'} = a x̂₀ + b x_t + σ z
    (:func:`posterior_coefficients`); an x̂₀ hook may set ``ctx.sigma`` (DDNM+) without moving the mean.

    Args:
        process, steps, prediction: see :class:`~course_lib.samplers.base.Sampler` (default 100 steps).
        spacing: as :class:`~course_lib.samplers.ddim.DDIMSampler` (default ``"leading"``: times k·T/steps, RePaint's).
        travel_length, travel_repeat: time travel (:func:`repaint_schedule`): jump back ``travel_length`` grid
            points, ``travel_repeat − 1`` times at each jump point; ``travel_repeat = 1`` (default) never jumps.
            Each step back up is a re-noising, not a network evaluation.
    """

    name = "posterior"
    default_steps = 100
    default_spacing = "leading"
    stochastic = True

    def __init__(self, process, steps: int | None = None, prediction: str = "eps", spacing: str | None = None,
                 travel_length: int = 10, travel_repeat: int = 1):
        for name, v in (("travel_length", travel_length), ("travel_repeat", travel_repeat)):
            check_int(v, name, low=1)
        self.travel_length, self.travel_repeat = travel_length, travel_repeat
        super().__init__(process, steps, prediction, spacing)

    @classmethod
    def nfe_for(cls, steps: int, travel_length: int = 10, travel_repeat: int = 1, **options) -> int:
        """One evaluation per step down: ``steps`` plus the steps re-done after each jump back."""
        schedule = repaint_schedule(steps, travel_length, travel_repeat)
        return sum(1 for a, b in zip(schedule, schedule[1:] + [-1]) if b < a)

    def pairs(self) -> list[tuple[int, int]]:
        """The steps as ``(t, t')``: down the grid, with RePaint's jumps back up when time travel is on."""
        if self.travel_repeat == 1:
            return super().pairs()
        grid = list(self.timesteps)[::-1]  # grid[i]: the time of index i (0 = the last step)
        idx = repaint_schedule(self.steps, self.travel_length, self.travel_repeat)
        times = [grid[i] for i in idx]
        return list(zip(times, times[1:] + [-1]))

    def step(self, model_output: torch.Tensor, t: int, t_prev: int, x_t: torch.Tensor, *,
             generator: torch.Generator | Sequence[torch.Generator] | None = None,
             x0_transform: X0Transform | None = None, model: Callable | None = None,
             noise: torch.Tensor | None = None) -> StepOutput:
        """One posterior step from t to t' (−1 ≤ t' < t): x̂₀ (Eq. 02.2), the hook, then a x̂₀ + b x_t + σ z."""
        self.check_pair(t, t_prev)
        p, t_vec = self.process, self._t(t, x_t)
        eps, x0 = p.eps_and_x0(model_output, x_t, t_vec, self.prediction)
        ab_t = extract(p.alpha_bars, t_vec, x_t)
        ab_prev = alpha_bar_at(p, self._t(t_prev, x_t), x_t)
        a, b, sigma = posterior_coefficients(ab_t, ab_prev)
        if x0_transform is not None:
            ctx = self._context(t, t_prev, x_t, eps, sigma)
            x0 = x0_transform(x0, ctx)
            sigma = ctx.sigma
        mean = a * x0 + b * x_t
        if t_prev < 0:
            return StepOutput(mean, x0)
        z = fresh_noise(x_t, generator, noise)
        return StepOutput(mean + sigma * z, x0)


def ddnm_transform(operator, y: torch.Tensor, sigma_y: float = 0.0) -> X0Transform:
    """DDNM's range–null-space step as an x̂₀ hook (see the module docstring): ``x̂₀ − λ A†(A x̂₀ − y)``.

    Args:
        operator: any object with ``A(x)`` and ``A_pinv(y)`` (:class:`~course_lib.operators.AreaOperator`,
            :class:`~course_lib.operators.MaskOperator`, :class:`~course_lib.operators.FourierOperator`).
        y: the measurements, in the operator's output space and in the images' units ([-1, 1]).
        sigma_y: the noise of y in the same units (twice the [0, 1]-scale value); 0: plain DDNM (λ = 1, the step's
            noise unchanged); > 0: DDNM+, which also sets the step's noise to γ_t — use it with
            :class:`PosteriorSampler`, whose mean does not depend on the noise.
    """
    if not sigma_y >= 0:
        raise ValueError(f"sigma_y must be >= 0 (in y's units: [-1, 1] images), got {sigma_y!r}")
    A, A_pinv = operator.A, operator.A_pinv

    def transform(x0: torch.Tensor, ctx: StepContext) -> torch.Tensor:
        if sigma_y == 0:
            return x0 - A_pinv(A(x0) - y)                                   # DDNM Eq. 13
        a, _, _ = posterior_coefficients(ctx.alpha_bar, ctx.alpha_bar_prev)
        sigma = ctx.sigma
        hidden = sigma >= a * sigma_y
        lam = torch.where(hidden, torch.ones_like(sigma), sigma / (a * sigma_y))       # DDNM Eq. 19
        ctx.sigma = torch.where(hidden, (sigma**2 - (a * sigma_y) ** 2).clamp(min=0).sqrt(), torch.zeros_like(sigma))
        return x0 - lam * A_pinv(A(x0) - y)                                # DDNM Eq. 17

    return transform
