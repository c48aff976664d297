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

The sampling steps built on these — DDPM's ancestral step (Eq. 02.5) and DDIM's (Eq. 02.6) — are samplers in
:mod:`course_lib.samplers`, driven by one loop; :meth:`GaussianDiffusion.sample` is lesson 02's front door to them.

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

from ._compat import legacy_attribute
from .device import randn

__all__ = ["GaussianDiffusion", "extract", "PREDICTIONS"]

PREDICTIONS = ("eps", "x0", "v")


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
        dtype: the buffers' dtype (float32; float64 for the tests that compare formulas to 1e-12).

    Buffers (float32 by default, computed in float64 and moved with ``.to(device)``):
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

    def __init__(self, betas: torch.Tensor, dtype: torch.dtype = torch.float32):
        super().__init__()
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        if not isinstance(betas, torch.Tensor):
            raise TypeError(f"betas must be a torch.Tensor of shape (T,), got {type(betas).__name__}")
        if betas.dim() != 1 or betas.numel() < 2:
            raise ValueError(f"betas must have shape (T,) with T >= 2, got shape {tuple(betas.shape)}")
        if not betas.is_floating_point():
            raise TypeError(f"betas must be a floating-point tensor, got dtype {betas.dtype}")
        b64 = betas.detach().to(device="cpu", dtype=torch.float64)
        if not torch.isfinite(b64).all() or (b64 <= 0).any() or (b64 >= 1).any():
            raise ValueError(f"betas must lie in (0, 1); got min {b64.min().item():g}, max {b64.max().item():g}")
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
            self.register_buffer(name, value.to(dtype))

    #: the standard deviation of the source x_T (lesson 11's linear path has its own, ``LinearPath.source_noise``)
    source_noise = 1.0

    @property
    def device(self) -> torch.device:
        """The device of the buffers (where samplers put their states)."""
        return self.betas.device

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
            return randn(x.shape, generator, x.device, x.dtype)
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
        check_prediction(prediction)
        if model_out.shape != x_t.shape:
            raise ValueError(
                f"the model returned shape {tuple(model_out.shape)}, expected x_t's shape {tuple(x_t.shape)}"
            )
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
        norm: str = "l2",
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
            norm: ``"l2"`` (the squared error of Eq. 02.4) or ``"l1"`` (the absolute error; SRDiff's choice).

        Returns:
            float32 scalar, or ``(B,)`` with ``reduction="none"``.
        """
        check_prediction(prediction)
        if reduction not in ("mean", "none"):
            raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
        if norm not in ("l2", "l1"):
            raise ValueError(f"norm must be 'l2' or 'l1', got {norm!r}")
        self._check_x(x0, "x0")
        if t is None:
            t = torch.randint(0, self.num_timesteps, (x0.shape[0],), generator=generator, device=x0.device)
        noise = self._noise_like(x0, noise, generator)
        x_t = self.q_sample(x0, t, noise)
        out = model(x_t, t, cond)
        if not isinstance(out, torch.Tensor) or out.shape != x0.shape:
            raise ValueError(
                f"the model must return a tensor of x0's shape {tuple(x0.shape)}, got "
                f"{getattr(out, 'shape', type(out).__name__)}"
            )
        target = {"eps": noise, "x0": x0}.get(prediction)
        if target is None:
            target = self.get_v(x0, noise, t)
        error = F.mse_loss if norm == "l2" else F.l1_loss
        per_sample = error(out.float(), target.float(), reduction="none").flatten(1).mean(dim=1)
        return per_sample.mean() if reduction == "mean" else per_sample

    # ---------------------------------------------------------- sampling front doors
    @torch.no_grad()
    def __getattr__(self, name: str):
        """Buffers and submodules (nn.Module's lookup), then the names of earlier releases (``_compat``)."""
        try:
            return super().__getattr__(name)
        except AttributeError:
            return legacy_attribute(self, "GaussianDiffusion", name)


def check_prediction(prediction: str) -> None:
    """A ``ValueError`` naming ``prediction`` unless it is one of :data:`PREDICTIONS` (``"eps"``, ``"x0"``, ``"v"``)."""
    if prediction not in PREDICTIONS:
        raise ValueError(f"prediction must be one of {PREDICTIONS}, got {prediction!r}")
