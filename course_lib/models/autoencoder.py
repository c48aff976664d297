"""A small KL-regularised autoencoder and the latent SR network built on it (LDM: Rombach et al., CVPR 2022) ·
潜在扩散的自编码器: lesson 07.

:class:`Autoencoder` — f = 4: a ``(B, C, H, W)`` image → a ``(B, c, H/4, W/4)`` latent. The encoder outputs the mean and
log-variance of a diagonal Gaussian q(z | x) (Eq. 07.4); training minimises the reconstruction error plus a very small
weight times KL(q(z | x) ‖ N(0, I)) (Eq. 07.5), which keeps the latent space smooth without forcing it to unit
variance — LDM's weight is 1e-6, and its latents come out with a scale nobody chose. Plain convolutions and the
U-Net's residual blocks; no attention, no perceptual or adversarial loss (LDM's autoencoders have both: say so).

:class:`LatentSR` — diffusion on the latent: x₀ = λ · E(x_HR) with λ = 1 / std of the training latents (Eq. 07.6,
LDM's ``scale_factor``), a U-Net on [z_t, y] (the 8 × 8 LR image concatenated: ×4 SR with f = 4 makes y exactly
latent-sized, as LDM's ``bsr_sr`` model does), the result decoded: x̂_HR = D(ẑ₀ / λ). Reference:
``CompVis/latent-diffusion`` ``ldm/models/autoencoder.py`` (``AutoencoderKL``), ``ldm/modules/distributions/
distributions.py`` (``DiagonalGaussianDistribution``), ``ldm/models/diffusion/ddpm.py`` (``scale_by_std``),
``models/ldm/bsr_sr/config.yaml``.
"""

from __future__ import annotations

import torch
from torch import nn

from ..checks import check_int
from .unet import ResBlock, UNet

__all__ = ["Autoencoder", "LatentSR", "kl_to_standard_normal"]


def kl_to_standard_normal(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Eq. 07.5's KL(N(μ, σ²) ‖ N(0, 1)) = ½ Σ (μ² + σ² − 1 − log σ²) over each latent's elements: ``(B,)``."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).flatten(1).sum(dim=1)


class _Block(ResBlock):
    """The U-Net's residual block without a timestep, for ``nn.Sequential``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(x, None)


class Autoencoder(nn.Module):
    """E: x → (μ, log σ²) and D: z → x̂, with f = 2^``downsamplings``.

    Args:
        in_channels: image channels; latent_channels: c, the latent's channels; width: the channels below full
        resolution
            (width / 2 at full resolution);
        downsamplings: halvings of the side (2: f = 4); groups: GroupNorm groups.
    """

    def __init__(
        self, in_channels: int = 1, latent_channels: int = 4, width: int = 32, downsamplings: int = 2, groups: int = 8
    ):
        super().__init__()
        for name, v in (
            ("in_channels", in_channels),
            ("latent_channels", latent_channels),
            ("width", width),
            ("downsamplings", downsamplings),
        ):
            check_int(v, name, low=1)
        self.in_channels, self.latent_channels, self.factor = in_channels, latent_channels, 2**downsamplings

        half = max(width // 2, 1)

        def rb() -> _Block:
            return _Block(width, width, None, "add", groups, 0.0)

        # full resolution: one light convolution each way (width / 2 channels); the residual blocks work below it
        enc: list[nn.Module] = [nn.Conv2d(in_channels, half, 3, padding=1), nn.SiLU()]
        cin = half
        for _ in range(downsamplings):
            enc += [nn.Conv2d(cin, width, 3, stride=2, padding=1), rb()]
            cin = width
        enc += [nn.GroupNorm(min(groups, width), width), nn.SiLU(), nn.Conv2d(width, 2 * latent_channels, 3, padding=1)]
        self.encoder = nn.Sequential(*enc)
        dec: list[nn.Module] = [nn.Conv2d(latent_channels, width, 3, padding=1), rb()]
        for k in range(downsamplings):
            last = k == downsamplings - 1
            dec += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(width, half if last else width, 3, padding=1),
            ]
            dec += [nn.SiLU()] if last else [rb()]
        dec += [nn.Conv2d(half, in_channels, 3, padding=1)]
        self.decoder = nn.Sequential(*dec)

    def _check(self, x: torch.Tensor, channels: int, name: str, multiple: int) -> None:
        if (
            not isinstance(x, torch.Tensor)
            or x.dim() != 4
            or x.shape[1] != channels
            or x.shape[-1] % multiple
            or x.shape[-2] % multiple
        ):
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(
                f"{name} must have shape (B, {channels}, H, W) with H and W divisible by {multiple}, got {got}"
            )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Eq. 07.4: the mean and log-variance of q(z | x), each ``(B, c, H/f, W/f)`` (log σ² clamped to [−30, 20],
        as LDM's ``DiagonalGaussianDistribution``)."""
        self._check(x, self.in_channels, "x", self.factor)
        mean, logvar = self.encoder(x).chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """x̂ = D(z): ``(B, c, h, w)`` → ``(B, C, f·h, f·w)`` (not clipped)."""
        self._check(z, self.latent_channels, "z", 1)
        return self.decoder(z)

    def forward(
        self, x: torch.Tensor, noise: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(x̂, μ, log σ²)``: x̂ = D(μ + σ·ε) with ``noise`` ε (the reparameterisation), or D(μ) without."""
        mean, logvar = self.encode(x)
        z = mean if noise is None else mean + (0.5 * logvar).exp() * noise
        return self.decode(z), mean, logvar

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """D(μ(x)) clipped to [-1, 1]: the ceiling of everything done in this latent space."""
        return self.decode(self.encode(x)[0]).clamp(-1.0, 1.0)


class LatentSR(nn.Module):
    """ε_θ(z_t, t, y) on the scaled latent of a frozen :class:`Autoencoder` (see the module docstring).

    Args:
        autoencoder: the frozen autoencoder (f must equal ``scale``); net: a concat backbone on [z_t, y] (a
            :class:`UNet`, or lesson 10's DiT or U-ViT);
        scale: the SR factor; prediction: the network's output type.

    Buffers: ``latent_scale`` λ of Eq. 07.6 (1 when the latents are not scaled), stored with the weights.
    """

    def __init__(self, autoencoder: Autoencoder, net: UNet, scale: int, prediction: str = "eps"):
        super().__init__()
        if autoencoder.factor != scale:
            raise ValueError(
                f"the autoencoder's factor f = {autoencoder.factor} must equal the SR scale {scale}: "
                "then the LR image is exactly latent-sized"
            )
        if net.conditioning != "concat" or net.x_channels != autoencoder.latent_channels:
            raise ValueError(
                f"net must be a concat backbone on {autoencoder.latent_channels} latent channels, got "
                f"conditioning={net.conditioning!r} with {net.x_channels} x channels"
            )
        self.autoencoder, self.net, self.scale, self.prediction = autoencoder, net, scale, prediction
        self.channels = net.cond_channels
        self.autoencoder.requires_grad_(False).eval()
        self.register_buffer("latent_scale", torch.ones(()))

    def train(self, mode: bool = True) -> "LatentSR":
        """The frozen autoencoder stays in eval mode."""
        super().train(mode)
        self.autoencoder.eval()
        return self

    def check_y(self, y: torch.Tensor) -> None:
        """A ``ValueError`` naming y unless it is ``(B, C, h, w)`` with this model's C channels."""
        if not isinstance(y, torch.Tensor) or y.dim() != 4 or y.shape[1] != self.channels:
            got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
            raise ValueError(f"y (the LR image) must have shape (B, {self.channels}, h, w), got {got}")

    @torch.no_grad()
    def to_latent(self, x: torch.Tensor) -> torch.Tensor:
        """x₀ of the latent diffusion, Eq. 07.6: λ · μ(x) (the encoder's mean)."""
        return self.latent_scale * self.autoencoder.encode(x)[0]

    def to_image(self, z0: torch.Tensor) -> torch.Tensor:
        """x̂ = D(z₀ / λ), clipped to [-1, 1]."""
        return self.autoencoder.decode(z0 / self.latent_scale).clamp(-1.0, 1.0)

    def forward(self, z_t: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if y.shape[-2:] != z_t.shape[-2:]:
            raise ValueError(f"y must be latent-sized {tuple(z_t.shape[-2:])}, got {tuple(y.shape[-2:])}")
        return self.net(z_t, t, y)
