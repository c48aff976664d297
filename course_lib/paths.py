"""The linear probability path of flow matching and rectified flow · 流匹配的线性概率路径 (lesson 11).

Lesson 11 derives the second process of the course, beside lesson 01's :class:`~course_lib.diffusion.GaussianDiffusion`:

* Eq. 11.1  the path  x_t = (1 − t)·x₀ + t·x₁,  t ∈ [0, 1]: **t = 0 is the data** x₀, **t = 1 the source** x₁ = σ_s·ε
            (σ_s = 1: pure noise; a small σ_s around the upsampled LR image: lesson 11's LR → HR path). diffusers'
            ``FlowMatchEulerDiscreteScheduler`` writes the same path with σ for t: x_σ = (1 − σ)·x₀ + σ·noise.
* Eq. 11.2  the conditional velocity  u_t(x | x₀, x₁) = dx_t/dt = x₁ − x₀ (it points from the data to the source;
            sampling integrates from t = 1 down to t = 0)
* Eq. 11.3  the marginal velocity  u_t(x) = E[x₁ − x₀ | x_t = x]
* Eq. 11.4  the conditional flow-matching loss  L_CFM = E_{t, x₀, x₁} ‖v_θ(x_t, t) − (x₁ − x₀)‖², whose gradient in θ
            equals that of the marginal loss E ‖v_θ(x_t, t) − u_t(x_t)‖² (Lipman et al., ICLR 2023, Theorem 2)
* Eq. 11.5  the Euler step of the flow ODE (:mod:`course_lib.samplers.flow`)
* Eq. 11.6  straightness  S = ∫₀¹ E ‖(x₁ − x₀) − v(x_t, t)‖² dt (Liu et al., ICLR 2023, Eq. 9) along a trajectory,
            and its excess length  ∑‖Δx‖ / ‖x₁ − x₀‖ − 1 (:func:`straightness`)
* Eq. 11.7  the dictionary (字典) between the velocity, x̂₀ and the source:  x̂₀ = x_t − t·v,  x̂₁ = x_t + (1 − t)·v,
            v = (x̂₁ − x_t)/(1 − t) = (x_t − x̂₀)/t;  with σ_s = 1, ε̂ = x̂₁ and the score ∇log p_t(x) = −ε̂ / t
* Eq. 11.8  lesson 01's VP path is the linear path rescaled: x_t^VP / (√ᾱ + √(1 − ᾱ)) lies on Eq. 11.1 at
            t = √(1 − ᾱ) / (√ᾱ + √(1 − ᾱ)), so a trained ε-model defines a velocity v = ε̂ − x̂₀ (:func:`vp_to_linear`);
            Eq. 11.9 and 11.10 are the second-order steps of :mod:`course_lib.samplers.flow`

The training times t follow a **time distribution** (:func:`sample_times`): uniform (Lipman et al.; Liu et al.) or
SD3's logit-normal (Esser et al., ICML 2024, §3.1), and sampling may **shift** its grid (:func:`shift_times`, SD3's
σ' = s·σ / (1 + (s − 1)·σ)). The network sees t scaled by ``time_scale`` (1000, as SD3 and diffusers feed σ·1000),
so the same sinusoidal embedding serves both processes.

:class:`GaussianMixture` is lesson 11's 2-D data set whose marginal velocity (Eq. 11.3) has a closed form: the check
that the conditional loss's gradient is the marginal loss's runs against it.

The path knows nothing about networks: its :meth:`LinearPath.loss` takes any callable ``model(x_t, t, cond)``.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_number
from .device import randn

__all__ = [
    "LinearPath",
    "TIME_DISTRIBUTIONS",
    "sample_times",
    "shift_times",
    "vp_to_linear",
    "velocity_from_eps",
    "straightness",
    "GaussianMixture",
]

#: the distributions of the training times t (:func:`sample_times`)
TIME_DISTRIBUTIONS = ("uniform", "logit_normal")


def sample_times(
    n: int,
    distribution: str = "uniform",
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    mean: float = 0.0,
    std: float = 1.0,
) -> torch.Tensor:
    """``n`` training times in (0, 1): uniform, or SD3's logit-normal t = sigmoid(m + s·z), z ~ N(0, 1) (more weight
    on the middle of the path, where the velocity is hardest to predict).

    Returns:
        ``(n,)`` float32 on ``device``.
    """
    if distribution not in TIME_DISTRIBUTIONS:
        raise ValueError(f"time_distribution must be one of {TIME_DISTRIBUTIONS}, got {distribution!r}")
    if distribution == "uniform":
        return torch.rand(n, generator=generator, device=device)
    return torch.sigmoid(mean + std * torch.randn(n, generator=generator, device=device))


def shift_times(t: torch.Tensor, shift: float = 1.0) -> torch.Tensor:
    """SD3's time shift (Esser et al. 2024, Eq. 23; diffusers' ``shift``): t' = s·t / (1 + (s − 1)·t). s > 1 spends
    more of the steps near the source (high noise), s < 1 near the data; s = 1 changes nothing; 0 and 1 stay put."""
    check_number(shift, "shift", low=0, low_open=True)
    return shift * t / (1 + (shift - 1) * t)


def vp_to_linear(alpha_bar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 11.8: the VP state x^VP = √ᾱ x₀ + √(1 − ᾱ) ε divided by ``scale`` = √ᾱ + √(1 − ᾱ) lies on the linear path
    at ``t`` = √(1 − ᾱ) / scale. Returns ``(t, scale)`` (shapes of ``alpha_bar``)."""
    a, s = alpha_bar.sqrt(), (1 - alpha_bar).sqrt()
    return s / (a + s), a + s


def velocity_from_eps(x_vp: torch.Tensor, eps: torch.Tensor, alpha_bar: torch.Tensor) -> torch.Tensor:
    """The velocity a VP ε-model implies on the linear path (Eq. 11.8 with Eq. 02.2): x̂₀ = (x − √(1 − ᾱ) ε̂)/√ᾱ and
    v = ε̂ − x̂₀. ``x_vp``, ``eps`` ``(B, ...)``; ``alpha_bar`` broadcastable to them."""
    x0 = (x_vp - (1 - alpha_bar).sqrt() * eps) / alpha_bar.sqrt()
    return eps - x0


def straightness(trajectory: torch.Tensor) -> dict[str, torch.Tensor]:
    """How straight a sampled trajectory is (Eq. 11.6), per sample.

    Args:
        trajectory: ``(K, B, ...)`` states from the source (index 0, t = 1) to the end (index K − 1, t = 0) on the
            linear path's coordinates, at equally spaced times.

    Returns:
        ``{"excess_length": (B,), "straightness": (B,)}``: the polygon's length over the straight segment between its
        ends, minus 1 (0 for a straight line), and Liu et al.'s S: the mean over the K − 1 steps of
        ‖(x_end − x_start) − Δx/Δt‖² per dimension (0 for a straight line walked at constant speed).
    """
    if not isinstance(trajectory, torch.Tensor) or trajectory.dim() < 3 or trajectory.shape[0] < 2:
        got = tuple(trajectory.shape) if isinstance(trajectory, torch.Tensor) else type(trajectory).__name__
        raise ValueError(f"trajectory must have shape (K >= 2, B, ...), got {got}")
    x = trajectory.double().flatten(2)
    steps = x[1:] - x[:-1]  # (K − 1, B, D)
    chord = x[-1] - x[0]
    length = steps.norm(dim=-1).sum(0)
    excess = length / chord.norm(dim=-1).clamp_min(1e-12) - 1
    speed = steps * (x.shape[0] - 1)  # Δx / Δt with Δt = 1 / (K − 1), moving towards the data
    s = ((speed - chord) ** 2).mean(-1).mean(0)
    return {"excess_length": excess.float(), "straightness": s.float()}


class LinearPath(nn.Module):
    """The linear path of Eq. 11.1 with its loss (Eq. 11.4) and the dictionary (Eq. 11.7).

    Args:
        source_noise: σ_s, the standard deviation of the source x₁ = σ_s·ε (1: noise → data; small: lesson 11's
            LR → HR path, where the data are the residual over the upsampled LR image).
        time_scale: what t is multiplied by before the network sees it (1000: the range the sinusoidal time
            embedding was built for; SD3 and diffusers do the same).
        time_distribution: the training times, ``"uniform"`` or ``"logit_normal"`` (:func:`sample_times`).

    A buffer (``sigma_source``) carries the device: ``path.to(device)`` as for the Gaussian process.
    """

    sigma_source: torch.Tensor

    def __init__(self, source_noise: float = 1.0, time_scale: float = 1000.0, time_distribution: str = "uniform"):
        super().__init__()
        check_number(source_noise, "source_noise", low=0, low_open=True)
        check_number(time_scale, "time_scale", low=0, low_open=True)
        if time_distribution not in TIME_DISTRIBUTIONS:
            raise ValueError(f"time_distribution must be one of {TIME_DISTRIBUTIONS}, got {time_distribution!r}")
        self.source_noise, self.time_scale, self.time_distribution = (
            float(source_noise),
            float(time_scale),
            time_distribution,
        )
        self.register_buffer("sigma_source", torch.tensor(float(source_noise)))

    @property
    def device(self) -> torch.device:
        """The device of the path's buffer (where samplers put their states)."""
        return self.sigma_source.device

    def extra_repr(self) -> str:
        return (
            f"source_noise={self.source_noise:g}, time_scale={self.time_scale:g}, "
            f"time_distribution={self.time_distribution!r}"
        )

    # ------------------------------------------------------------------ checks
    @staticmethod
    def _t(t, like: torch.Tensor) -> torch.Tensor:
        """``t`` as ``(B, 1, …, 1)`` in ``like``'s dtype, checked to lie in [0, 1]."""
        if not isinstance(t, torch.Tensor):
            t = torch.tensor(float(t), device=like.device)
        if t.dim() == 0:
            t = t.expand(like.shape[0])
        if t.shape != (like.shape[0],):
            raise ValueError(
                f"t must be a float or have shape ({like.shape[0]},) to match the batch, got {tuple(t.shape)}"
            )
        if not t.is_floating_point():
            raise TypeError(f"t must be a float tensor of times in [0, 1] (t = 0 is the data), got dtype {t.dtype}")
        if t.numel() and (not torch.isfinite(t).all() or t.min() < 0 or t.max() > 1):
            raise ValueError(
                f"t must lie in [0, 1] (t = 0 is the data, 1 the source), got {t.min().item():g} … {t.max().item():g}"
            )
        return t.reshape(-1, *([1] * (like.dim() - 1))).to(like.dtype)

    def network_time(self, t: torch.Tensor) -> torch.Tensor:
        """What the network is given for times ``t`` ``(B,)`` in [0, 1]: ``t · time_scale`` (float)."""
        return t.float() * self.time_scale

    # ------------------------------------------------------------------ the path
    def source(self, shape, generator=None, device=None, dtype=torch.float32) -> torch.Tensor:
        """A draw of the source x₁ = σ_s·ε of ``shape`` (one generator, or one per image)."""
        return self.source_noise * randn(tuple(shape), generator, device or self.device, dtype)

    def q_sample(self, x0: torch.Tensor, t, x1: torch.Tensor) -> torch.Tensor:
        """Eq. 11.1: x_t = (1 − t)·x₀ + t·x₁. ``x0``, ``x1`` ``(B, ...)``; ``t`` ``(B,)`` or a float in [0, 1]."""
        if x1.shape != x0.shape:
            raise ValueError(f"x1 must have x0's shape {tuple(x0.shape)}, got {tuple(x1.shape)}")
        tt = self._t(t, x0)
        return (1 - tt) * x0 + tt * x1

    @staticmethod
    def velocity(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        """Eq. 11.2: the conditional velocity u = x₁ − x₀ (the training target)."""
        return x1 - x0

    def predict_x0(self, x_t: torch.Tensor, t, v: torch.Tensor) -> torch.Tensor:
        """Eq. 11.7: x̂₀ = x_t − t·v (walk the rest of the way to t = 0 in a straight line)."""
        return x_t - self._t(t, x_t) * v

    def predict_x1(self, x_t: torch.Tensor, t, v: torch.Tensor) -> torch.Tensor:
        """Eq. 11.7: x̂₁ = x_t + (1 − t)·v (walk back up to t = 1); with σ_s = 1 this is ε̂."""
        return x_t + (1 - self._t(t, x_t)) * v

    def velocity_from_x0(self, x_t: torch.Tensor, t, x0: torch.Tensor) -> torch.Tensor:
        """Eq. 11.7 solved for v: v = (x_t − x̂₀)/t (t > 0)."""
        return (x_t - x0) / self._t(t, x_t).clamp_min(1e-12)

    def velocity_from_x1(self, x_t: torch.Tensor, t, x1: torch.Tensor) -> torch.Tensor:
        """Eq. 11.7 solved for v: v = (x̂₁ − x_t)/(1 − t) (t < 1)."""
        return (x1 - x_t) / (1 - self._t(t, x_t)).clamp_min(1e-12)

    def score(self, x_t: torch.Tensor, t, v: torch.Tensor) -> torch.Tensor:
        """Eq. 11.7: ∇log p_t(x) = −(x_t − (1 − t)x̂₀) / (σ_s t)² = −x̂₁ / (σ_s² t) (Tweedie on the Gaussian
        q(x_t | x₀) = N((1 − t)x₀, (σ_s t)² I)); t > 0."""
        tt = self._t(t, x_t).clamp_min(1e-12)
        return -self.predict_x1(x_t, t, v) / (self.source_noise**2 * tt)

    # ------------------------------------------------------------------ training
    def loss(
        self,
        model: Callable,
        x0: torch.Tensor,
        cond=None,
        t: torch.Tensor | None = None,
        x1: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        reduction: str = "mean",
    ) -> torch.Tensor:
        """Eq. 11.4: L_CFM = E ‖v_θ(x_t, t, cond) − (x₁ − x₀)‖².

        Args:
            model: any callable ``model(x_t (B, ...), t·time_scale (B,) float, cond) -> (B, ...)``.
            x0: ``(B, ...)`` data.
            t: ``(B,)`` times in [0, 1]; drawn from the path's time distribution when ``None``.
            x1: ``(B, ...)`` the source paired with x₀ (reflow's coupled pairs); drawn independently when ``None``.
            generator: for the draws of t and x₁.
            reduction: ``"mean"`` or ``"none"`` (one loss per sample).
        """
        if reduction not in ("mean", "none"):
            raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
        if not isinstance(x0, torch.Tensor) or not x0.is_floating_point() or x0.dim() < 1:
            raise TypeError(
                f"x0 must be a floating-point tensor (B, ...), got {getattr(x0, 'shape', type(x0).__name__)}"
            )
        if t is None:
            t = sample_times(x0.shape[0], self.time_distribution, generator, x0.device)
        if x1 is None:
            x1 = self.source(x0.shape, generator, x0.device, x0.dtype)
        x_t = self.q_sample(x0, t, x1)
        out = model(x_t, self.network_time(t), cond)
        if not isinstance(out, torch.Tensor) or out.shape != x0.shape:
            raise ValueError(
                f"the model must return a tensor of x0's shape {tuple(x0.shape)}, got "
                f"{getattr(out, 'shape', type(out).__name__)}"
            )
        per_sample = F.mse_loss(out.float(), self.velocity(x0, x1).float(), reduction="none").flatten(1).mean(1)
        return per_sample.mean() if reduction == "mean" else per_sample


class GaussianMixture:
    """Data x₀ ~ ∑_k π_k N(μ_k, s² I) on the linear path from x₁ ~ N(0, σ_s² I): Eq. 11.3 in closed form.

    Given the component k, (x₀, x₁) are independent Gaussians, so x_t | k ~ N((1 − t)μ_k, τ_t² I) with
    τ_t² = (1 − t)² s² + t² σ_s², and (Gaussian conditioning)

        E[x₀ | x_t, k] = μ_k + (1 − t) s² / τ_t² · (x_t − (1 − t)μ_k),
        E[x₁ | x_t, k] = t σ_s² / τ_t² · (x_t − (1 − t)μ_k);

    the marginal velocity is u_t(x) = ∑_k w_k(x) (E[x₁ | x, k] − E[x₀ | x, k]) with
    w_k(x) ∝ π_k N(x; (1 − t)μ_k, τ_t² I).

    Args:
        means: ``(K, D)`` the component means μ_k; std: s; weights: ``(K,)`` π (uniform when ``None``);
        source_noise: σ_s of the source.
    """

    def __init__(
        self, means: torch.Tensor, std: float = 0.1, weights: torch.Tensor | None = None, source_noise: float = 1.0
    ):
        means = torch.as_tensor(means, dtype=torch.float64)
        if means.dim() != 2:
            raise ValueError(f"means must have shape (K, D), got {tuple(means.shape)}")
        check_number(std, "std", low=0, low_open=True)
        check_number(source_noise, "source_noise", low=0, low_open=True)
        weights = (
            torch.full((means.shape[0],), 1 / means.shape[0], dtype=torch.float64)
            if weights is None
            else (torch.as_tensor(weights, dtype=torch.float64))
        )
        if weights.shape != (means.shape[0],) or (weights < 0).any() or abs(float(weights.sum()) - 1) > 1e-6:
            raise ValueError(f"weights must be ({means.shape[0]},) non-negative and sum to 1, got {weights.tolist()}")
        self.means, self.std, self.weights, self.source_noise = means, float(std), weights, float(source_noise)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` draws of x₀, ``(n, D)`` float32."""
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        z = torch.randn(n, self.means.shape[1], generator=generator, dtype=torch.float64)
        return (self.means[k] + self.std * z).float()

    def posterior(self, x: torch.Tensor, t) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(w (B, K), E[x₀ | x_t, k] (B, K, D), E[x₁ | x_t, k] (B, K, D))`` at points ``x`` ``(B, D)``, time ``t``."""
        x = x.double()
        t = (
            torch.as_tensor(t, dtype=torch.float64).reshape(-1, 1, 1)
            if torch.is_tensor(t)
            else torch.tensor(float(t), dtype=torch.float64).reshape(1, 1, 1)
        )
        centre = (1 - t) * self.means[None]  # (B|1, K, D)
        tau2 = (1 - t) ** 2 * self.std**2 + t**2 * self.source_noise**2  # (B|1, 1, 1)
        diff = x[:, None, :] - centre  # (B, K, D)
        log_w = (
            self.weights.log()[None] - 0.5 * (diff**2).sum(-1) / tau2[..., 0] - 0.5 * x.shape[1] * tau2[..., 0].log()
        )
        w = torch.softmax(log_w, dim=1)
        e_x0 = self.means[None] + (1 - t) * self.std**2 / tau2 * diff
        e_x1 = t * self.source_noise**2 / tau2 * diff
        return w, e_x0, e_x1

    def marginal_velocity(self, x: torch.Tensor, t) -> torch.Tensor:
        """Eq. 11.3 in closed form: u_t(x) = E[x₁ − x₀ | x_t = x], ``(B, D)`` float32."""
        w, e_x0, e_x1 = self.posterior(x, t)
        return (w[..., None] * (e_x1 - e_x0)).sum(1).float()
