"""DiffIR's networks at toy scale · 紧凑先验 (Xia et al., ICCV 2023; lesson 09).

DiffIR does not diffuse the image. Stage 1 learns a **compact prior** z ∈ R^D (a vector, not a map) that a
compact-prior extraction network (CPEN) reads from the HR image and y together, and a restorer that z modulates;
stage 2 trains a tiny diffusion model to produce z from y alone in T = 4 steps. The parts:

* :class:`CPEN` — convolutions, residual blocks, global average pooling and an MLP: an image pair (stage 1:
  [PixelUnshuffle(HR), y]) or y alone (stage 2's condition c) → a vector.
* :class:`PriorRestorer` — the course's U-Net on the bicubic-upsampled y (a global residual over it), every ResBlock's
  GroupNorm output scaled and shifted by a linear map of z — x ← (1 + W₁z) ⊙ GN(x) + W₂z, the role of DiffIR's
  DIRformer modulation (W₁z) ⊙ LN(x) + W₂z — in the slot where the diffusion U-Nets read the timestep.
* :class:`PriorDenoiser` — an MLP on [c, t / T, z_t] that predicts z₀ (DiffIR's denoiser is an MLP, x₀-prediction).
* :class:`PriorDiffusion` — DDPM on the vector: β linear 0.1 → 0.99 over T = 4 steps (registered buffers), the
  deterministic reverse step z_{t−1} = μ̃_t(z_t, ẑ₀) (Eq. 02.6's posterior mean, no noise added), run from z_T.

Reference: ``Zj-BinXia/DiffIR`` ``DiffIR-RealSR/DiffIR/archs/S1_arch.py`` / ``S2_arch.py`` (``CPEN``, ``DiffIRS2``,
``denoise``), ``DiffIR-RealSR/ldm/ddpm.py`` (``DDPM.forward``: the whole reverse chain in training).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..operators import upsample
from .unet import UNet

__all__ = ["CPEN", "PriorRestorer", "PriorDenoiser", "PriorDiffusion"]


class _Res(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=1), nn.LeakyReLU(0.1), nn.Conv2d(width, width, 3, padding=1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class CPEN(nn.Module):
    """Compact-prior extraction network: ``(B, in_channels, h, w)`` → ``(B, dim)``.

    Args:
        in_channels: channels of its input (stage 1: s² · C + C for [PixelUnshuffle(HR, s), y]; stage 2: C).
        dim: the prior's length D; width, blocks: the convolutions' width and number of residual blocks.
    """

    def __init__(self, in_channels: int, dim: int = 64, width: int = 32, blocks: int = 2):
        super().__init__()
        self.in_channels, self.dim = in_channels, dim
        self.head = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1), nn.LeakyReLU(0.1))
        self.body = nn.Sequential(*[_Res(width) for _ in range(blocks)])
        self.mlp = nn.Sequential(nn.Linear(width, dim), nn.LeakyReLU(0.1), nn.Linear(dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"CPEN input must have shape (B, {self.in_channels}, h, w), got {got}")
        return self.mlp(self.body(self.head(x)).mean(dim=(2, 3)))


class PriorRestorer(nn.Module):
    """x̂ = U(y) + g(U(y); z): a U-Net on the bicubic-upsampled y whose ResBlocks are modulated by the prior z.

    Args:
        channels, scale: the image channels and the SR factor; dim: the prior's length; ``unet_kwargs``: the
        :class:`UNet`'s widths (its timestep MLP is replaced by ``film``, a two-layer MLP z → 4 · base_channels).
    """

    def __init__(self, channels: int = 1, scale: int = 4, dim: int = 64, **unet_kwargs):
        super().__init__()
        unet_kwargs = {
            **unet_kwargs,
            "time_embedding": "sinusoidal",
            "time_injection": "scale_shift",
            "cond_channels": 0,
            "in_channels": channels,
        }
        self.net = UNet(**unet_kwargs)
        self.net.time_mlp = None  # z, not a timestep, feeds the ResBlocks' scale and shift
        tdim = 4 * self.net.config["base_channels"]
        self.film = nn.Sequential(nn.Linear(dim, tdim), nn.SiLU(), nn.Linear(tdim, tdim))
        self.channels, self.scale, self.dim = channels, scale, dim

    def forward(self, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        if not isinstance(y, torch.Tensor) or y.dim() != 4 or y.shape[1] != self.channels:
            got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
            raise ValueError(f"y (the LR image) must have shape (B, {self.channels}, h, w), got {got}")
        if z.shape != (y.shape[0], self.dim):
            raise ValueError(f"z (the prior) must have shape ({y.shape[0]}, {self.dim}), got {tuple(z.shape)}")
        up = upsample(y, self.scale, "bicubic")
        out = up + self.net.steered(up, None, emb=self.film(z))
        return out if self.training else out.clamp(-1.0, 1.0)  # no clip while training: it would stop gradients


class PriorDenoiser(nn.Module):
    """ẑ₀ = MLP([c, t / T, z_t]) (x₀-prediction on the prior vector; DiffIR's ``denoise``)."""

    def __init__(self, dim: int = 64, hidden: int = 256, layers: int = 4, T: int = 4):
        super().__init__()
        self.dim, self.T = dim, T
        mods: list[nn.Module] = [nn.Linear(2 * dim + 1, hidden), nn.LeakyReLU(0.1)]
        for _ in range(layers - 2):
            mods += [nn.Linear(hidden, hidden), nn.LeakyReLU(0.1)]
        self.mlp = nn.Sequential(*mods, nn.Linear(hidden, dim))

    def forward(self, z_t: torch.Tensor, t: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        if z_t.dim() != 2 or z_t.shape[1] != self.dim or c.shape != z_t.shape:
            raise ValueError(
                f"z_t and c must both have shape (B, {self.dim}), got {tuple(z_t.shape)} and {tuple(c.shape)}"
            )
        return self.mlp(torch.cat([c, t.float()[:, None] / self.T, z_t], dim=1))


class PriorDiffusion(nn.Module):
    """The forward process on a vector and its deterministic reverse chain (T small; schedules as buffers).

    Args:
        T: steps (DiffIR: 4); beta_start, beta_end: the linear β schedule's ends (DiffIR: 0.1, 0.99).
    """

    def __init__(self, T: int = 4, beta_start: float = 0.1, beta_end: float = 0.99):
        super().__init__()
        if T < 1:
            raise ValueError(f"T must be >= 1, got {T}")
        betas = torch.linspace(beta_start, beta_end, T, dtype=torch.float64)
        alphas = 1 - betas
        abar = torch.cumprod(alphas, 0)
        abar_prev = torch.cat([torch.ones(1, dtype=torch.float64), abar[:-1]])
        self.T = T
        # buffers (they follow .to(device)) but not saved: recomputed in float64 from (T, β), never rounded by an
        # export to float16
        self.register_buffer("alpha_bars", abar.float(), persistent=False)
        # μ̃_t(z_t, z₀) = coef_z0 · z₀ + coef_zt · z_t (Eq. 02.6's posterior mean)
        self.register_buffer("coef_z0", (betas * abar_prev.sqrt() / (1 - abar)).float(), persistent=False)
        self.register_buffer("coef_zt", ((1 - abar_prev) * alphas.sqrt() / (1 - abar)).float(), persistent=False)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # checkpoints written before the buffers were made non-persistent hold them (rounded): ignore those copies
        for name in ("alpha_bars", "coef_z0", "coef_zt"):
            state_dict.pop(prefix + name, None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def q_sample(self, z0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """z_T = √ᾱ_T z₀ + √(1 − ᾱ_T) ε: where training starts the chain (from the stage-1 prior)."""
        a = self.alpha_bars[-1]
        return a.sqrt() * z0 + (1 - a).sqrt() * noise

    def reverse(
        self, denoiser: PriorDenoiser, z_T: torch.Tensor, c: torch.Tensor, trace: list | None = None
    ) -> torch.Tensor:
        """All T reverse steps from ``z_T``, each z_{t−1} = μ̃_t(z_t, ẑ₀(z_t, t, c)) with no noise; differentiable
        (training backpropagates through the whole chain). ``trace``: appended each step's (t, ẑ₀, z_{t−1})."""
        z = z_T
        for i in reversed(range(self.T)):
            t = torch.full((z.shape[0],), i, device=z.device, dtype=torch.long)
            z0 = denoiser(z, t, c)
            z = self.coef_z0[i] * z0 + self.coef_zt[i] * z
            if trace is not None:
                trace.append((i, z0.detach(), z.detach()))
        return z


def pixel_unshuffle_pair(hr: torch.Tensor, y: torch.Tensor, scale: int) -> torch.Tensor:
    """Stage 1's CPEN input [PixelUnshuffle(HR, s), y]: both at the LR size, ``(B, (s² + 1) · C, h, w)``."""
    if hr.shape[-2:] != (y.shape[-2] * scale, y.shape[-1] * scale):
        raise ValueError(f"hr must be y's size times {scale}, got {tuple(hr.shape)} and {tuple(y.shape)}")
    return torch.cat([F.pixel_unshuffle(hr, scale), y], dim=1)
