"""The Gaussian diffusion process · 扩散过程.

Lesson 01 derives the forward process (前向扩散过程) implemented here:

* Eq. 01.1  one step of the chain  q(x_t | x_{t-1}) = N(√(1 − β_t) x_{t-1}, β_t I)
* Eq. 01.2  α_t = 1 − β_t,  ᾱ_t = ∏_{s ≤ t} α_s
* Eq. 01.3  the closed form  q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I),
            sampled as  x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε,  ε ~ N(0, I)
* Eq. 01.4  the signal-to-noise ratio  SNR(t) = ᾱ_t / (1 − ᾱ_t)

Lesson 02 adds the reverse process (反向生成过程):

* Eq. 02.1  the posterior  q(x_{t-1} | x_t, x_0) = N(μ̃_t, β̃_t I),
            μ̃_t = √ᾱ_{t-1} β_t / (1 − ᾱ_t) · x_0 + √α_t (1 − ᾱ_{t-1}) / (1 − ᾱ_t) · x_t,
            β̃_t = (1 − ᾱ_{t-1}) / (1 − ᾱ_t) · β_t
* Eq. 02.2  x̂_0 = (x_t − √(1 − ᾱ_t) ε) / √ᾱ_t  and back  ε = (x_t − √ᾱ_t x_0) / √(1 − ᾱ_t)
* Eq. 02.3  the v-parameterisation  v = √ᾱ_t ε − √(1 − ᾱ_t) x_0
* Eq. 02.4  L_simple = E_{x_0, ε, t} ‖ε − ε_θ(x_t, t)‖²
* Eq. 02.5  one ancestral (DDPM) step  x_{t-1} = μ̃_t(x̂_0, x_t) + σ_t z,  σ_t² = β̃_t (or β_t)
* Eq. 02.6  one DDIM step  x_{t'} = √ᾱ_{t'} x̂_0 + √(1 − ᾱ_{t'} − σ²) ε̂ + σ z,
            σ = η √((1 − ᾱ_{t'}) / (1 − ᾱ_t)) √(1 − ᾱ_t / ᾱ_{t'})

Index convention (said once, plainly): timesteps in code are integers
``0 … T-1``; papers count ``1 … T``. ``alpha_bars[t]`` is the paper's ᾱ_{t+1}
(the ``alphas_cumprod`` convention of the diffusers library), so ``q_sample(x0, t)``
returns the paper's x_{t+1}: the image after ``t + 1`` noising steps.

The process knows nothing about networks: later lessons pass any callable
``eps_model(x_t, t, cond)`` to it.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["GaussianDiffusion", "extract", "PREDICTIONS", "SAMPLERS", "ddim_timesteps"]

PREDICTIONS = ("eps", "x0", "v")
SAMPLERS = ("ddpm", "ddim")


def ddim_timesteps(T: int, steps: int) -> list[int]:
    """The DDIM timesteps, evenly spaced and starting at T − 1 ("trailing" spacing).

    ``round(arange(T, 0, -T / steps)) − 1``: for T = 1000, steps = 50 → 999, 979, …, 19.
    Starting at T − 1 matters: the sampler then begins from (almost) pure noise, as training saw it;
    the older "leading" spacing (0, 20, …, 980) starts at 980, where ᾱ is not yet ≈ 0.

    Returns:
        list of ``steps`` decreasing ints in ``0 … T-1``.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= T:
        raise ValueError(f"steps must be an int in 1 … {T} (T), got {steps!r}")
    ts = torch.round(torch.arange(T, 0, -T / steps, dtype=torch.float64)).long() - 1
    return ts.tolist()


def extract(values: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Gather ``values[t]`` and shape it to broadcast against ``like``.

    Args:
        values: ``(T,)`` per-timestep coefficients.
        t: ``(B,)`` integer timesteps.
        like: ``(B, ...)`` tensor whose rank and dtype the result follows.

    Returns:
        ``(B, 1, ..., 1)`` tensor in ``like``'s dtype.
    """
    out = values.gather(0, t)
    return out.reshape(t.shape[0], *([1] * (like.dim() - 1))).to(like.dtype)


class GaussianDiffusion(nn.Module):
    """The forward process of DDPM for a given β schedule.

    Args:
        betas: ``(T,)`` noise schedule, e.g. from :func:`course_lib.schedules.make_beta_schedule`.
            Values must lie in (0, 1).

    Buffers (float32, computed in float64 and moved with ``.to(device)``):
        ``betas`` β, ``alphas`` α = 1 − β, ``alpha_bars`` ᾱ (Eq. 01.2),
        ``sqrt_alpha_bars`` √ᾱ and ``sqrt_one_minus_alpha_bars`` √(1 − ᾱ) (Eq. 01.3),
        ``alpha_bars_prev`` ᾱ_{t-1} (1 at t = 0), ``posterior_variance`` β̃ and the two
        posterior-mean coefficients (Eq. 02.1).
    """

    betas: torch.Tensor
    alphas: torch.Tensor
    alpha_bars: torch.Tensor
    sqrt_alpha_bars: torch.Tensor
    sqrt_one_minus_alpha_bars: torch.Tensor
    alpha_bars_prev: torch.Tensor
    posterior_variance: torch.Tensor
    posterior_mean_coef_x0: torch.Tensor
    posterior_mean_coef_xt: torch.Tensor

    def __init__(self, betas: torch.Tensor):
        super().__init__()
        if not isinstance(betas, torch.Tensor):
            raise TypeError(f"betas must be a torch.Tensor of shape (T,), got {type(betas).__name__}")
        if betas.dim() != 1 or betas.numel() < 2:
            raise ValueError(f"betas must have shape (T,) with T >= 2, got shape {tuple(betas.shape)}")
        if not betas.is_floating_point():
            raise TypeError(f"betas must be a floating-point tensor, got dtype {betas.dtype}")
        b64 = betas.detach().to(device="cpu", dtype=torch.float64)
        if not torch.isfinite(b64).all() or (b64 <= 0).any() or (b64 >= 1).any():
            raise ValueError(
                f"betas must lie in (0, 1); got min {b64.min().item():g}, max {b64.max().item():g}"
            )
        alphas = 1.0 - b64  # Eq. 01.2
        alpha_bars = torch.cumprod(alphas, dim=0)  # Eq. 01.2
        alpha_bars_prev = torch.cat([torch.ones(1, dtype=torch.float64), alpha_bars[:-1]])  # ᾱ_{t-1}, 1 at t = 0
        posterior_variance = (1.0 - alpha_bars_prev) / (1.0 - alpha_bars) * b64  # Eq. 02.1
        for name, value in {
            "alpha_bars_prev": alpha_bars_prev,
            "posterior_variance": posterior_variance,
            "posterior_mean_coef_x0": alpha_bars_prev.sqrt() * b64 / (1.0 - alpha_bars),  # Eq. 02.1
            "posterior_mean_coef_xt": alphas.sqrt() * (1.0 - alpha_bars_prev) / (1.0 - alpha_bars),  # Eq. 02.1
            "betas": b64,
            "alphas": alphas,
            "alpha_bars": alpha_bars,
            "sqrt_alpha_bars": alpha_bars.sqrt(),
            "sqrt_one_minus_alpha_bars": (1.0 - alpha_bars).sqrt(),
        }.items():
            self.register_buffer(name, value.to(torch.float32))

    @property
    def num_timesteps(self) -> int:
        """T, the number of diffusion steps."""
        return self.betas.shape[0]

    def extra_repr(self) -> str:
        return f"T={self.num_timesteps}"

    # ------------------------------------------------------------------ checks
    def _check_x(self, x: torch.Tensor, name: str) -> None:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
        if x.dim() < 1:
            raise ValueError(f"{name} must have a batch dimension (B, ...), got a scalar")
        if x.device != self.betas.device:
            raise ValueError(
                f"{name} is on {x.device} but the diffusion buffers are on {self.betas.device}; "
                f"move one of them (e.g. diffusion.to({str(x.device)!r}))"
            )

    def _check_t(self, t: torch.Tensor, batch: int) -> torch.Tensor:
        if not isinstance(t, torch.Tensor):
            raise TypeError(
                f"t must be an integer torch.Tensor of shape ({batch},), got {type(t).__name__}; "
                "e.g. torch.full((B,), t, dtype=torch.long)"
            )
        if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
            raise TypeError(f"t must be an integer tensor (timesteps 0 … T-1), got dtype {t.dtype}")
        if t.shape != (batch,):
            raise ValueError(f"t must have shape ({batch},) to match the batch, got {tuple(t.shape)}")
        t = t.to(device=self.betas.device, dtype=torch.long)
        if batch:
            lo, hi = int(t.min()), int(t.max())
            if lo < 0 or hi >= self.num_timesteps:
                raise ValueError(
                    f"t must lie in 0 … {self.num_timesteps - 1} (0-based; T = {self.num_timesteps}), "
                    f"got values from {lo} to {hi}"
                )
        return t

    def _noise_like(
        self, x: torch.Tensor, noise: torch.Tensor | None, generator: torch.Generator | None
    ) -> torch.Tensor:
        if noise is None:
            return torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        if not isinstance(noise, torch.Tensor):
            raise TypeError(f"noise must be a torch.Tensor or None, got {type(noise).__name__}")
        if noise.shape != x.shape:
            raise ValueError(f"noise must have the shape of x0, {tuple(x.shape)}, got {tuple(noise.shape)}")
        if noise.device != x.device:
            raise ValueError(f"noise is on {noise.device} but x0 is on {x.device}")
        return noise

    # ---------------------------------------------------------- forward process
    def q_mean_variance(self, x0: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and variance of q(x_t | x_0), Eq. 01.3.

        Args:
            x0: ``(B, ...)`` clean data.
            t: ``(B,)`` integer timesteps in ``0 … T-1``.

        Returns:
            ``mean`` of shape ``(B, ...)`` and ``variance`` of shape ``(B, 1, ..., 1)``.
        """
        self._check_x(x0, "x0")
        t = self._check_t(t, x0.shape[0])
        mean = extract(self.sqrt_alpha_bars, t, x0) * x0
        var = 1.0 - extract(self.alpha_bars, t, x0)
        return mean, var

    def q_sample(
        self,
        x0: torch.Tensor,
        t: torch.Tensor,
        noise: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Sample x_t ~ q(x_t | x_0) in one shot, Eq. 01.3: x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε.

        Args:
            x0: ``(B, ...)`` clean data, typically in [-1, 1].
            t: ``(B,)`` integer timesteps in ``0 … T-1`` (code index; the paper's t + 1).
            noise: ``(B, ...)`` ε; drawn from N(0, I) with ``generator`` when ``None``.
            generator: torch generator on ``x0``'s device for the draw of ``noise``.

        Returns:
            ``(B, ...)`` x_t, in ``x0``'s dtype.
        """
        self._check_x(x0, "x0")
        t = self._check_t(t, x0.shape[0])
        noise = self._noise_like(x0, noise, generator)
        return extract(self.sqrt_alpha_bars, t, x0) * x0 + extract(self.sqrt_one_minus_alpha_bars, t, x0) * noise

    def q_step(
        self,
        x_prev: torch.Tensor,
        t: torch.Tensor,
        noise: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """One step of the forward chain, Eq. 01.1: x_t = √(1 − β_t) x_{t-1} + √β_t ε.

        Args:
            x_prev: ``(B, ...)`` the previous state (the clean image x_0 when ``t`` is 0).
            t: ``(B,)`` integer timesteps of the step taken, in ``0 … T-1``.
            noise: ``(B, ...)`` ε, drawn with ``generator`` when ``None``.

        Returns:
            ``(B, ...)`` x_t.
        """
        self._check_x(x_prev, "x_prev")
        t = self._check_t(t, x_prev.shape[0])
        noise = self._noise_like(x_prev, noise, generator)
        return extract(self.alphas, t, x_prev).sqrt() * x_prev + extract(self.betas, t, x_prev).sqrt() * noise

    def q_sample_chain(
        self,
        x0: torch.Tensor,
        t: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Sample x_t by running the chain of Eq. 01.1 step by step from x_0.

        Slow (``max(t) + 1`` steps) but it is the definition: lesson 01 checks that it
        agrees in distribution with :meth:`q_sample` (Eq. 01.3).

        Args:
            x0: ``(B, ...)`` clean data.
            t: ``(B,)`` integer timesteps in ``0 … T-1``; sample ``b`` takes ``t[b] + 1`` steps.

        Returns:
            ``(B, ...)`` x_t.
        """
        self._check_x(x0, "x0")
        t = self._check_t(t, x0.shape[0])
        x = x0
        steps = int(t.max()) + 1 if t.numel() else 0
        for s in range(steps):
            s_vec = torch.full_like(t, s)
            stepped = self.q_step(x, s_vec, generator=generator)
            active = (s <= t).reshape(-1, *([1] * (x0.dim() - 1)))
            x = torch.where(active, stepped, x)
        return x

    def snr(self, t: torch.Tensor | None = None) -> torch.Tensor:
        """Signal-to-noise ratio, Eq. 01.4: SNR(t) = ᾱ_t / (1 − ᾱ_t).

        Args:
            t: ``(B,)`` integer timesteps, or ``None`` for all T.

        Returns:
            ``(B,)`` or ``(T,)`` float32 tensor.
        """
        if t is None:
            ab = self.alpha_bars
        else:
            batch = t.shape[0] if isinstance(t, torch.Tensor) and t.dim() == 1 else 1
            ab = self.alpha_bars[self._check_t(t, batch)]
        return ab / (1.0 - ab)

    # ---------------------------------------------------------- reverse process
    def q_posterior(self, x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and variance of the posterior q(x_{t-1} | x_t, x_0), Eq. 02.1.

        At t = 0 the previous ᾱ is 1, so the mean is x_0 and the variance 0.

        Args:
            x0, x_t: ``(B, ...)``.
            t: ``(B,)`` integer timesteps in ``0 … T-1``.

        Returns:
            ``mean`` ``(B, ...)`` and ``variance`` ``(B, 1, ..., 1)``.
        """
        self._check_x(x0, "x0")
        self._check_x(x_t, "x_t")
        if x0.shape != x_t.shape:
            raise ValueError(f"x0 and x_t must have the same shape, got {tuple(x0.shape)} and {tuple(x_t.shape)}")
        t = self._check_t(t, x0.shape[0])
        mean = extract(self.posterior_mean_coef_x0, t, x_t) * x0 + extract(self.posterior_mean_coef_xt, t, x_t) * x_t
        return mean, extract(self.posterior_variance, t, x_t)

    def predict_x0_from_eps(self, x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """x̂_0 = (x_t − √(1 − ᾱ_t) ε) / √ᾱ_t, Eq. 02.2. Shapes ``(B, ...)``, t ``(B,)``."""
        self._check_x(x_t, "x_t")
        t = self._check_t(t, x_t.shape[0])
        return (x_t - extract(self.sqrt_one_minus_alpha_bars, t, x_t) * eps) / extract(self.sqrt_alpha_bars, t, x_t)

    def predict_eps_from_x0(self, x_t: torch.Tensor, t: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        """ε = (x_t − √ᾱ_t x_0) / √(1 − ᾱ_t), Eq. 02.2 solved for ε. Shapes ``(B, ...)``, t ``(B,)``."""
        self._check_x(x_t, "x_t")
        t = self._check_t(t, x_t.shape[0])
        return (x_t - extract(self.sqrt_alpha_bars, t, x_t) * x0) / extract(self.sqrt_one_minus_alpha_bars, t, x_t)

    def get_v(self, x0: torch.Tensor, eps: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The v target, Eq. 02.3: v = √ᾱ_t ε − √(1 − ᾱ_t) x_0. Shapes ``(B, ...)``, t ``(B,)``."""
        self._check_x(x0, "x0")
        t = self._check_t(t, x0.shape[0])
        return extract(self.sqrt_alpha_bars, t, x0) * eps - extract(self.sqrt_one_minus_alpha_bars, t, x0) * x0

    def predict_x0_from_v(self, x_t: torch.Tensor, t: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """x_0 = √ᾱ_t x_t − √(1 − ᾱ_t) v (from Eq. 01.3 and Eq. 02.3)."""
        self._check_x(x_t, "x_t")
        t = self._check_t(t, x_t.shape[0])
        return extract(self.sqrt_alpha_bars, t, x_t) * x_t - extract(self.sqrt_one_minus_alpha_bars, t, x_t) * v

    def predict_eps_from_v(self, x_t: torch.Tensor, t: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """ε = √(1 − ᾱ_t) x_t + √ᾱ_t v (from Eq. 01.3 and Eq. 02.3)."""
        self._check_x(x_t, "x_t")
        t = self._check_t(t, x_t.shape[0])
        return extract(self.sqrt_one_minus_alpha_bars, t, x_t) * x_t + extract(self.sqrt_alpha_bars, t, x_t) * v

    def eps_and_x0(
        self, model_out: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor, prediction: str = "eps"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Turn a network output of the given parameterisation into (ε̂, x̂_0) (Eq. 02.2, Eq. 02.3)."""
        _check_prediction(prediction)
        if model_out.shape != x_t.shape:
            raise ValueError(f"the model returned shape {tuple(model_out.shape)}, expected x_t's shape {tuple(x_t.shape)}")
        out = model_out.to(x_t.dtype)
        if prediction == "eps":
            return out, self.predict_x0_from_eps(x_t, t, out)
        if prediction == "x0":
            return self.predict_eps_from_x0(x_t, t, out), out
        return self.predict_eps_from_v(x_t, t, out), self.predict_x0_from_v(x_t, t, out)

    def loss(
        self,
        model: Callable,
        x0: torch.Tensor,
        cond: torch.Tensor | None = None,
        t: torch.Tensor | None = None,
        noise: torch.Tensor | None = None,
        prediction: str = "eps",
        generator: torch.Generator | None = None,
        reduction: str = "mean",
    ) -> torch.Tensor:
        """The training loss, Eq. 02.4: L_simple = E ‖ε − ε_θ(x_t, t, y)‖² (or the x_0 / v target).

        Args:
            model: any callable ``model(x_t (B, ...), t (B,), cond) -> (B, ...)``.
            x0: ``(B, ...)`` clean data.
            cond: the condition passed to the model (``None`` for unconditional models).
            t: ``(B,)`` timesteps; drawn uniformly from ``0 … T-1`` on ``x0``'s device when ``None``.
            noise: ``(B, ...)`` ε; drawn when ``None``.
            prediction: what the network predicts: ``"eps"`` (L_simple), ``"x0"`` or ``"v"``.
            generator: for the draws of ``t`` and ``noise``.
            reduction: ``"mean"`` (a scalar) or ``"none"`` (one loss per sample, ``(B,)``).

        Returns:
            float32 scalar, or ``(B,)`` with ``reduction="none"``.
        """
        _check_prediction(prediction)
        if reduction not in ("mean", "none"):
            raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
        self._check_x(x0, "x0")
        if t is None:
            t = torch.randint(0, self.num_timesteps, (x0.shape[0],), generator=generator, device=x0.device)
        noise = self._noise_like(x0, noise, generator)
        x_t = self.q_sample(x0, t, noise)
        out = model(x_t, t, cond)
        if not isinstance(out, torch.Tensor) or out.shape != x0.shape:
            raise ValueError(f"the model must return a tensor of x0's shape {tuple(x0.shape)}, got {getattr(out, 'shape', type(out).__name__)}")
        target = {"eps": noise, "x0": x0}.get(prediction)
        if target is None:
            target = self.get_v(x0, noise, t)
        per_sample = F.mse_loss(out.float(), target.float(), reduction="none").flatten(1).mean(dim=1)
        return per_sample.mean() if reduction == "mean" else per_sample

    def p_sample(
        self,
        model: Callable,
        x_t: torch.Tensor,
        t: torch.Tensor,
        cond: torch.Tensor | None = None,
        prediction: str = "eps",
        variance: str = "posterior",
        clip_x0: bool = True,
        noise: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        x0_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One ancestral DDPM step, Eq. 02.5: x_{t-1} = μ̃_t(x̂_0, x_t) + σ_t z.

        Args:
            model: ``model(x_t, t, cond)``.
            x_t: ``(B, ...)``; t: ``(B,)`` integer timesteps (no noise is added where t = 0).
            variance: ``"posterior"`` (σ² = β̃_t, Eq. 02.1) or ``"beta"`` (σ² = β_t).
            clip_x0: clip x̂_0 to [-1, 1] before forming the mean.
            x0_fn: a map applied to x̂_0 (after clipping) before forming the mean, e.g. lesson 04's
                consistency projection (Eq. 04.4).

        Returns:
            ``(x_prev, x0_hat)``, both ``(B, ...)``.
        """
        if variance not in ("posterior", "beta"):
            raise ValueError(f"variance must be 'posterior' or 'beta', got {variance!r}")
        self._check_x(x_t, "x_t")
        t = self._check_t(t, x_t.shape[0])
        _, x0 = self.eps_and_x0(model(x_t, t, cond), x_t, t, prediction)
        if clip_x0:
            x0 = x0.clamp(-1.0, 1.0)
        if x0_fn is not None:
            x0 = x0_fn(x0)
        mean, post_var = self.q_posterior(x0, x_t, t)
        var = post_var if variance == "posterior" else extract(self.betas, t, x_t)
        z = self._noise_like(x_t, noise, generator)
        nonzero = (t > 0).reshape(-1, *([1] * (x_t.dim() - 1))).to(x_t.dtype)
        return mean + nonzero * var.sqrt() * z, x0

    def ddim_step(
        self,
        x_t: torch.Tensor,
        t: int | torch.Tensor,
        t_prev: int | torch.Tensor,
        eps: torch.Tensor,
        eta: float = 0.0,
        noise: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        clip_x0: bool = False,
    ) -> torch.Tensor:
        """One DDIM step from t to t_prev < t, Eq. 06 of Song et al. 2021, our Eq. 02.6.

        x̂_0 from ε̂ (Eq. 02.2); σ = η √((1 − ᾱ_{t'}) / (1 − ᾱ_t)) √(1 − ᾱ_t / ᾱ_{t'});
        x_{t'} = √ᾱ_{t'} x̂_0 + √(1 − ᾱ_{t'} − σ²) ε̂ + σ z. ``t_prev = -1`` means "to x_0" (ᾱ = 1).
        η = 0 is deterministic; η = 1 gives the DDPM posterior variance.

        Args:
            x_t, eps: ``(B, ...)``.
            t, t_prev: ints, or ``(B,)`` integer tensors, with −1 ≤ t_prev < t ≤ T − 1.
            eta: η ≥ 0.
            clip_x0: clip x̂_0 to [-1, 1] (and re-derive ε̂ from it, Eq. 02.2).

        Returns:
            ``(B, ...)`` x at t_prev.
        """
        self._check_x(x_t, "x_t")
        if not eta >= 0:
            raise ValueError(f"eta must be >= 0, got {eta}")
        if eps.shape != x_t.shape:
            raise ValueError(f"eps must have x_t's shape {tuple(x_t.shape)}, got {tuple(eps.shape)}")
        B = x_t.shape[0]
        t_vec = self._check_t(torch.full((B,), t, dtype=torch.long, device=x_t.device) if isinstance(t, int) else t, B)
        tp = torch.full((B,), t_prev, dtype=torch.long, device=x_t.device) if isinstance(t_prev, int) else t_prev
        if not isinstance(tp, torch.Tensor) or tp.shape != (B,) or tp.is_floating_point():
            raise TypeError(f"t_prev must be an int or an integer tensor of shape ({B},)")
        tp = tp.to(device=self.betas.device, dtype=torch.long)
        if (tp >= t_vec).any() or (tp < -1).any():
            raise ValueError(f"t_prev must satisfy -1 <= t_prev < t, got t_prev={tp.tolist()} for t={t_vec.tolist()}")
        ab_t = extract(self.alpha_bars, t_vec, x_t)
        ab_prev = torch.where(tp >= 0, self.alpha_bars[tp.clamp(min=0)], torch.ones_like(tp, dtype=self.alpha_bars.dtype))
        ab_prev = ab_prev.reshape(B, *([1] * (x_t.dim() - 1))).to(x_t.dtype)
        x0 = (x_t - (1 - ab_t).sqrt() * eps) / ab_t.sqrt()  # Eq. 02.2
        if clip_x0:
            x0 = x0.clamp(-1.0, 1.0)
            eps = (x_t - ab_t.sqrt() * x0) / (1 - ab_t).sqrt()
        sigma = eta * ((1 - ab_prev) / (1 - ab_t) * (1 - ab_t / ab_prev)).clamp(min=0).sqrt()
        direction = (1 - ab_prev - sigma**2).clamp(min=0).sqrt() * eps
        x_prev = ab_prev.sqrt() * x0 + direction
        if eta > 0:
            x_prev = x_prev + sigma * self._noise_like(x_t, noise, generator)
        return x_prev

    @torch.no_grad()
    def sample(
        self,
        model: Callable,
        shape: tuple[int, ...],
        cond: torch.Tensor | None = None,
        sampler: str = "ddpm",
        steps: int | None = None,
        eta: float = 0.0,
        generator: torch.Generator | None = None,
        progress: bool = True,
        record_every: int | None = None,
        prediction: str = "eps",
        clip_x0: bool = True,
        x_T: torch.Tensor | None = None,
        x0_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ):
        """Generate samples: Algorithm 2 of DDPM (``"ddpm"``) or DDIM (``"ddim"``), Eq. 02.5 / Eq. 02.6.

        Args:
            model: ``model(x_t, t, cond)``; put it in ``eval()`` mode first.
            shape: ``(B, C, H, W)`` of the samples (on the diffusion's device).
            sampler: ``"ddpm"`` (ancestral; all T steps, or with ``steps < T`` the respaced
                version, i.e. DDIM with η = 1) or ``"ddim"`` (``steps`` trailing timesteps, η as given).
            steps: number of network evaluations, 1 … T (default: T for DDPM, 50 for DDIM).
            generator: seeds x_T and every step's noise (on the diffusion's device).
            progress: show a tqdm progress bar.
            record_every: also return the trajectory, recording x_t and x̂_0 every this many steps
                (and at the last step).
            x_T: start from this ``(B, C, H, W)`` instead of fresh noise.
            x0_fn: applied to every step's x̂_0 (after clipping); the step then continues from the
                changed x̂_0 (for DDIM, ε̂ is re-derived from it by Eq. 02.2). Lesson 04 passes the
                consistency projection (Eq. 04.4) here.

        Returns:
            ``x_0`` ``(B, C, H, W)``, or ``(x_0, trajectory)`` when ``record_every`` is set, where
            ``trajectory = {"t": [int], "x_t": (K, B, C, H, W), "x0": (K, B, C, H, W)}`` on the CPU.
        """
        from tqdm.auto import tqdm

        if sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
        _check_prediction(prediction)
        T = self.num_timesteps
        if steps is None:
            steps = T if sampler == "ddpm" else min(50, T)
        if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= T:
            raise ValueError(f"steps must be an int in 1 … {T} (T), got {steps!r}")
        if not eta >= 0:
            raise ValueError(f"eta must be >= 0, got {eta}")
        if record_every is not None and (not isinstance(record_every, int) or record_every < 1):
            raise ValueError(f"record_every must be a positive int or None, got {record_every!r}")
        shape = tuple(int(s) for s in shape)
        device = self.betas.device
        if x_T is None:
            x = torch.randn(shape, generator=generator, device=device)
        else:
            if tuple(x_T.shape) != shape:
                raise ValueError(f"x_T must have shape {shape}, got {tuple(x_T.shape)}")
            x = x_T.to(device)
        ancestral = sampler == "ddpm" and steps == T
        ts = list(range(T - 1, -1, -1)) if ancestral else ddim_timesteps(T, steps)
        eta_used = 1.0 if sampler == "ddpm" else eta
        traj_t, traj_x, traj_x0 = [], [], []
        B = shape[0]
        for i, t in enumerate(tqdm(ts, desc=f"{sampler} sampling", disable=not progress, leave=False)):
            t_vec = torch.full((B,), t, dtype=torch.long, device=device)
            if ancestral:
                x, x0 = self.p_sample(model, x, t_vec, cond, prediction, clip_x0=clip_x0, generator=generator, x0_fn=x0_fn)
            else:
                eps, x0 = self.eps_and_x0(model(x, t_vec, cond), x, t_vec, prediction)
                t_prev = ts[i + 1] if i + 1 < len(ts) else -1
                if x0_fn is None:
                    x = self.ddim_step(x, t, t_prev, eps, eta=eta_used, generator=generator, clip_x0=clip_x0)
                    if clip_x0:
                        x0 = x0.clamp(-1.0, 1.0)
                else:
                    x0 = x0_fn(x0.clamp(-1.0, 1.0) if clip_x0 else x0)
                    eps = self.predict_eps_from_x0(x, t_vec, x0)
                    x = self.ddim_step(x, t, t_prev, eps, eta=eta_used, generator=generator)
            if record_every is not None and (i % record_every == 0 or i == len(ts) - 1):
                traj_t.append(t)
                traj_x.append(x.detach().float().cpu())
                traj_x0.append(x0.detach().float().cpu())
        if record_every is None:
            return x
        return x, {"t": traj_t, "x_t": torch.stack(traj_x), "x0": torch.stack(traj_x0)}


def _check_prediction(prediction: str) -> None:
    if prediction not in PREDICTIONS:
        raise ValueError(f"prediction must be one of {PREDICTIONS}, got {prediction!r}")
