"""The Gaussian diffusion process · 扩散过程.

Lesson 01 derives the forward process (前向扩散过程) implemented here:

* Eq. 01.1  one step of the chain  q(x_t | x_{t-1}) = N(√(1 − β_t) x_{t-1}, β_t I)
* Eq. 01.2  α_t = 1 − β_t,  ᾱ_t = ∏_{s ≤ t} α_s
* Eq. 01.3  the closed form  q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I),
            sampled as  x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε,  ε ~ N(0, I)
* Eq. 01.4  the signal-to-noise ratio  SNR(t) = ᾱ_t / (1 − ᾱ_t)

Index convention (said once, plainly): timesteps in code are integers
``0 … T-1``; papers count ``1 … T``. ``alpha_bars[t]`` is the paper's ᾱ_{t+1}
(the ``alphas_cumprod`` convention of the diffusers library), so ``q_sample(x0, t)``
returns the paper's x_{t+1}: the image after ``t + 1`` noising steps.

The process knows nothing about networks: later lessons pass any callable
``eps_model(x_t, t, cond)`` to it.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["GaussianDiffusion", "extract"]


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
        ``sqrt_alpha_bars`` √ᾱ and ``sqrt_one_minus_alpha_bars`` √(1 − ᾱ) (Eq. 01.3).
    """

    betas: torch.Tensor
    alphas: torch.Tensor
    alpha_bars: torch.Tensor
    sqrt_alpha_bars: torch.Tensor
    sqrt_one_minus_alpha_bars: torch.Tensor

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
        for name, value in {
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
