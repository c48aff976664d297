"""The SDE view of diffusion · 随机微分方程视角 (process layer; Song et al., "Score-Based Generative Modeling through
Stochastic Differential Equations", ICLR 2021; lesson 06).

DDPM's chain of T small steps is a discretisation of the **variance-preserving SDE** (VP-SDE, 方差保持 SDE), in a
continuous time t ∈ [0, 1] (Eq. 06.1; Song et al. Eq. 11):

    dx = −½ β(t) x dt + √β(t) dw,       ᾱ(t) = exp(−∫₀ᵗ β(s) ds),  i.e.  β(t) = −d log ᾱ(t) / dt   (Eq. 06.2)

so that q(x_t | x_0) = N(√ᾱ(t) x_0, (1 − ᾱ(t)) I), the continuous twin of Eq. 01.3. Two schedules have a closed form:

* ``"linear"`` (Song et al.'s VP-SDE; DDPM's linear β): β(t) = β_min + t (β_max − β_min), β_min = 0.1, β_max = 20, and
  log ᾱ(t) = −½ t² (β_max − β_min) − t β_min (score_sde's ``log_mean_coeff`` is half of it: log √ᾱ). DDPM's β_i = β(t_i)
  / N is its Euler discretisation: the two ᾱ
  agree up to O(Σ β_i²) (``tests/test_sde.py``).
* ``"cosine"`` (Nichol & Dhariwal 2021, Eq. 01.6; **the shipped digits models use it**): ᾱ(t) = f(t) / f(0) with
  f(t) = cos²((t + s)/(1 + s) · π/2), hence β(t) = π/(1 + s) · tan((t + s)/(1 + s) · π/2), which diverges as t → 1.
  The discrete schedule clips β at 0.999, so its last index sits at a t just below 1 where β is finite.

**Time ↔ index · 时间与离散步的换算.** A network trained on the discrete chain knows 0-based indices i = 0 … T − 1,
each with its ᾱ_i. The continuous time of index i is the t with ᾱ(t) = ᾱ_i (:meth:`VPSDE.index_to_t`), and a
continuous t maps back to the index whose ᾱ is nearest (:meth:`VPSDE.t_to_index`). The shortcut t · (T − 1) of
score_sde's code is right only for the linear SDE with T = N, never for the cosine schedule.

**Score and Tweedie · 分数与 Tweedie 公式** (Eq. 06.3). The score of the noisy marginal is s(x, t) = ∇ log p_t(x) =
−ε̂ / √(1 − ᾱ(t)), and x̂₀ = E[x₀ | x_t] = (x_t + (1 − ᾱ) s) / √ᾱ — the x̂₀ of Eq. 02.2, the posterior mean of lesson 05.

Everything here is pure tensor code: no network, no NumPy, any device (schedules are computed in the dtype and on the
device of the ``t`` they are given).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch

from .checks import check_int
from .device import randn
from .diffusion import GaussianDiffusion

__all__ = [
    "VPSDE",
    "score_from_eps",
    "eps_from_score",
    "tweedie_x0",
    "em_step",
    "pf_ode_derivative",
    "langevin_dynamics",
    "SDE_SCHEDULES",
]

SDE_SCHEDULES = ("linear", "cosine")


def _as_tensor(t, like: torch.Tensor | None = None) -> torch.Tensor:
    if isinstance(t, torch.Tensor):
        return t if t.is_floating_point() else t.double()
    return torch.as_tensor(
        t, dtype=torch.float64 if like is None else like.dtype, device=None if like is None else like.device
    )


class VPSDE:
    """The variance-preserving SDE of a schedule (Eq. 06.1, Eq. 06.2).

    Args:
        schedule: ``"linear"`` (β_min + t (β_max − β_min)) or ``"cosine"`` (Eq. 01.6 in continuous time).
        beta_min, beta_max: the linear schedule's ends (Song et al.: 0.1 and 20).
        s: the cosine schedule's offset (0.008).

    All methods take ``t`` as a float tensor (or number) in [0, 1] and return tensors of its shape.
    """

    def __init__(self, schedule: str = "linear", beta_min: float = 0.1, beta_max: float = 20.0, s: float = 0.008):
        if schedule not in SDE_SCHEDULES:
            raise ValueError(f"schedule must be one of {SDE_SCHEDULES}, got {schedule!r}")
        if schedule == "linear" and not 0 <= beta_min < beta_max:
            raise ValueError(f"beta_min and beta_max must satisfy 0 <= beta_min < beta_max, got {beta_min}, {beta_max}")
        if schedule == "cosine" and not s > 0:
            raise ValueError(f"s must be positive, got {s}")
        self.schedule, self.beta_min, self.beta_max, self.s = schedule, float(beta_min), float(beta_max), float(s)

    def __repr__(self) -> str:
        if self.schedule == "linear":
            return f"VPSDE('linear', beta_min={self.beta_min}, beta_max={self.beta_max})"
        return f"VPSDE('cosine', s={self.s})"

    # ------------------------------------------------------------------ the schedule in continuous time
    def _angle(self, t: torch.Tensor) -> torch.Tensor:
        return (t + self.s) / (1 + self.s) * (math.pi / 2)

    def log_alpha_bar(self, t) -> torch.Tensor:
        """log ᾱ(t) = −∫₀ᵗ β (Eq. 06.2); linear: −½t²(β_max − β_min) − tβ_min; cosine: log f(t) − log f(0)."""
        t = _as_tensor(t)
        if self.schedule == "linear":
            return -0.5 * t**2 * (self.beta_max - self.beta_min) - t * self.beta_min
        f0 = math.cos(self.s / (1 + self.s) * math.pi / 2) ** 2
        return 2 * torch.log(torch.cos(self._angle(t)).clamp(min=1e-30)) - math.log(f0)

    def alpha_bar(self, t) -> torch.Tensor:
        """ᾱ(t) = m(t)², the signal fraction at time t (Eq. 06.2)."""
        return self.log_alpha_bar(t).exp()

    def beta(self, t) -> torch.Tensor:
        """β(t) = −d log ᾱ / dt (Eq. 06.2): linear β_min + t(β_max − β_min); cosine π/(1+s) · tan((t+s)/(1+s) · π/2)."""
        t = _as_tensor(t)
        if self.schedule == "linear":
            return self.beta_min + t * (self.beta_max - self.beta_min)
        return math.pi / (1 + self.s) * torch.tan(self._angle(t))

    def marginal(self, t) -> tuple[torch.Tensor, torch.Tensor]:
        """(m(t), σ(t)) = (√ᾱ(t), √(1 − ᾱ(t))): x_t = m x₀ + σ ε (the continuous Eq. 01.3)."""
        ab = self.alpha_bar(t)
        return ab.sqrt(), (1 - ab).clamp(min=0).sqrt()

    def t_of_alpha_bar(self, alpha_bar) -> torch.Tensor:
        """The time t with ᾱ(t) = ``alpha_bar`` (the inverse of Eq. 06.2; ᾱ in (0, 1])."""
        ab = _as_tensor(alpha_bar)
        if not bool(((ab > 0) & (ab <= 1)).all()):
            raise ValueError("alpha_bar must lie in (0, 1]")
        L = -ab.log()  # = t β_min + ½ t² (β_max − β_min) for the linear SDE
        if self.schedule == "linear":
            a, b = 0.5 * (self.beta_max - self.beta_min), self.beta_min
            return (-b + (b * b + 4 * a * L).sqrt()) / (2 * a)
        f0 = math.cos(self.s / (1 + self.s) * math.pi / 2) ** 2
        angle = torch.acos((ab * f0).sqrt().clamp(max=1.0))
        return angle / (math.pi / 2) * (1 + self.s) - self.s

    # ------------------------------------------------------------------ the discrete chain, located in continuous time
    def index_to_t(self, process: GaussianDiffusion, index=None) -> torch.Tensor:
        """Continuous times of 0-based indices (all T when ``index`` is None): the t with ᾱ(t) = ᾱ_index.

        For the cosine schedule this is (i + 1)/T except at the clipped last index; for the linear SDE and DDPM's
        linear β it is close to (i + 1)/T. It is never i/(T − 1) in general (the t ↔ index pitfall)."""
        ab = process.alpha_bars.double()
        if index is not None:
            ab = ab[torch.as_tensor(index, device=ab.device, dtype=torch.long)]
        return self.t_of_alpha_bar(ab)

    def t_to_index(self, process: GaussianDiffusion, t) -> torch.Tensor:
        """The 0-based index whose ᾱ_i is nearest to ᾱ(t) in log ᾱ (``t`` a tensor; returns long of its shape)."""
        t = _as_tensor(t).to(process.alpha_bars.device)
        log_ab = process.alpha_bars.double().log()  # decreasing in i
        target = self.log_alpha_bar(t.double())
        # searchsorted needs increasing values: use −log ᾱ
        neg = -log_ab
        hi = torch.searchsorted(neg, -target).clamp(max=len(neg) - 1)
        lo = (hi - 1).clamp(min=0)
        pick_lo = (neg[hi] - (-target)).abs() > (neg[lo] - (-target)).abs()
        return torch.where(pick_lo, lo, hi)

    @classmethod
    def for_process(
        cls, process: GaussianDiffusion, schedules: Sequence[str] = SDE_SCHEDULES, rtol: float = 0.1
    ) -> "VPSDE":
        """The closed-form VP-SDE whose ᾱ(t) matches ``process`` at t_i = (i + 1)/T (DDPM linear → the linear SDE
        with β_min = T·β_1, β_max = T·β_T; cosine → the cosine SDE), checked on the unclipped indices.

        Raises:
            ValueError: if neither closed form matches within ``rtol`` in log ᾱ (then the process has no analytic
                VP-SDE here).
        """
        if not isinstance(process, GaussianDiffusion):
            raise TypeError(f"process must be a GaussianDiffusion, got {type(process).__name__}")
        T = process.num_timesteps
        log_ab = process.alpha_bars.double().cpu().log()
        ti = torch.arange(1, T + 1, dtype=torch.float64) / T
        keep = process.betas.double().cpu() < 0.999 - 1e-9  # the clipped end of the cosine schedule is excluded
        best, err_best = None, math.inf
        for name in schedules:
            if name == "linear":
                b = process.betas.double().cpu()
                if not b[0] < b[-1]:
                    continue
                sde = cls("linear", beta_min=float(b[0] * T), beta_max=float(b[-1] * T))
            else:
                sde = cls("cosine")
            err = ((sde.log_alpha_bar(ti) - log_ab).abs() / log_ab.abs().clamp(min=1e-3))[keep].max().item()
            if err < err_best:
                best, err_best = sde, err
        if err_best > rtol:
            raise ValueError(
                f"process: no VP-SDE of {tuple(schedules)} matches its ᾱ (closest: relative error "
                f"{err_best:.3g} in log ᾱ, allowed {rtol})"
            )
        return best


# ---------------------------------------------------------------------- score, Tweedie, steps
def score_from_eps(eps: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """s(x, t) = −ε̂ / σ_t, σ_t = √(1 − ᾱ_t) (Eq. 06.3): the score points *against* the noise."""
    return -eps / std


def eps_from_score(score: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """ε̂ = −σ_t s (Eq. 06.3 solved for ε̂)."""
    return -std * score


def tweedie_x0(x_t: torch.Tensor, score: torch.Tensor, alpha_bar: torch.Tensor) -> torch.Tensor:
    """Tweedie's formula (Eq. 06.3): E[x₀ | x_t] = (x_t + (1 − ᾱ) s) / √ᾱ — the x̂₀ of Eq. 02.2."""
    return (x_t + (1 - alpha_bar) * score) / alpha_bar.sqrt()


def em_step(
    x: torch.Tensor, score: torch.Tensor, beta: torch.Tensor, dt: float | torch.Tensor, z: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """One Euler–Maruyama step of the reverse VP-SDE (Eq. 06.5; Song et al. Eq. 6) from t to t − dt (dt > 0):

        x' = x + [½ β x + β s] dt + √(β dt) z

    (the drift f − g²s = −½βx − βs integrated backwards; β = β(t) at the step's start). Returns ``(x', mean)``,
    the mean being x' without the noise (score_sde's ``x_mean``; ``z=None`` returns the mean twice)."""
    mean = x + (0.5 * beta * x + beta * score) * dt
    if z is None:
        return mean, mean
    g2dt = beta * dt
    noise_scale = g2dt.sqrt() if isinstance(g2dt, torch.Tensor) else math.sqrt(g2dt)
    return mean + noise_scale * z, mean


def pf_ode_derivative(x: torch.Tensor, score: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """dx/dt of the probability-flow ODE (Eq. 06.6; Song et al. Eq. 13) of the VP-SDE: −½ β(t) (x + s) =
    −½ β(t) (x − ε̂/σ_t). Its solutions share the SDE's marginals p_t, with no noise."""
    return -0.5 * beta * (x + score)


def langevin_dynamics(
    score_fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    step_size: float,
    n_steps: int,
    generator: torch.Generator | Sequence[torch.Generator] | None = None,
    every: int = 0,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Unadjusted Langevin dynamics (Eq. 06.4): x ← x + δ s(x) + √(2δ) z, n times, for a fixed distribution's score.

    Args:
        score_fn: ``x (B, ...) -> ∇ log p(x) (B, ...)``.
        x: ``(B, ...)`` the starting points; step_size: δ > 0; n_steps: ≥ 1.
        generator: for z (one, or one per point); every: record the state every ``every`` steps (0: never).

    Returns:
        (the final points, the recorded states).
    """
    if not step_size > 0:
        raise ValueError(f"step_size must be positive, got {step_size}")
    check_int(n_steps, "n_steps", low=1)
    path = []
    for k in range(n_steps):
        x = x + step_size * score_fn(x) + math.sqrt(2 * step_size) * randn(x.shape, generator, x.device, x.dtype)
        if every and (k + 1) % every == 0:
            path.append(x.clone())
    return x, path
