"""The KL autoencoder of lesson 07's latent diffusion (LDM: Rombach et al., CVPR 2022) · 自编码器 (KL 正则).

Loss (Eq. 07.5): the mean squared reconstruction error of D(z), z = μ + σ·ε drawn from q(z | x) (Eq. 07.4), plus
``kl_weight`` × KL(q(z | x) ‖ N(0, I)) per image divided by the image's pixel count — LDM's ratio of its summed
reconstruction term to its summed KL (``kl_weight`` 1e-6 in its ``autoencoder_kl_*`` configs). LDM also trains with
LPIPS and a patch discriminator (sharper decodings at the cost of PSNR); the toy keeps the squared error only.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..device import randn
from ..models import Autoencoder, kl_to_standard_normal
from .base import EXAMPLE_RUN, Method, MethodConfig, register_method

__all__ = ["AutoencoderConfig", "AutoencoderMethod"]


@dataclass(frozen=True)
class AutoencoderConfig(MethodConfig):
    """The :class:`~course_lib.models.Autoencoder`'s ``in_channels``, ``latent_channels``, ``width`` and
    ``downsamplings`` (f = 2^downsamplings), and ``kl_weight`` of Eq. 07.5."""

    in_channels: int = 1
    latent_channels: int = 4
    width: int = 32
    downsamplings: int = 2
    kl_weight: float = 1e-6

    def __post_init__(self):
        if isinstance(self.kl_weight, bool) or not isinstance(self.kl_weight, (int, float)) or not self.kl_weight >= 0:
            raise ValueError(f"model.kl_weight must be a number >= 0, got {self.kl_weight!r}")

    def network_args(self) -> dict:
        """The autoencoder's constructor arguments."""
        return {
            "in_channels": self.in_channels,
            "latent_channels": self.latent_channels,
            "width": self.width,
            "downsamplings": self.downsamplings,
        }


@register_method
class AutoencoderMethod(Method):
    """x → q(z | x) → x̂, trained with Eq. 07.5; :meth:`restore` is not defined (it reconstructs, it does not SR)."""

    name = "autoencoder"
    Config = AutoencoderConfig
    objective = "regression"
    datasets = ("digits", "digits_sr")
    task = "autoencode"

    @classmethod
    def example(cls) -> dict:
        """A width-8 f = 4 autoencoder of the digits."""
        return {
            "name": "example_autoencoder",
            "dataset": "digits",
            "method": "autoencoder",
            "model": {"latent_channels": 2, "width": 8},
            **EXAMPLE_RUN,
        }

    def build(self) -> nn.Module:
        """``Autoencoder(in_channels, latent_channels, width, downsamplings)``."""
        return Autoencoder(**self.config.network_args())

    def loss(self, model, process, batch, generator):
        """Eq. 07.5: MSE(D(μ + σε), x) + kl_weight · KL / (pixels per image)."""
        x = batch["x"].float()
        mean, logvar = model.encode(x)
        z = mean + (0.5 * logvar).exp() * randn(mean.shape, generator, mean.device)
        rec = F.mse_loss(model.decode(z).float(), x)
        return rec + self.config.kl_weight * kl_to_standard_normal(mean.float(), logvar.float()).mean() / x[0].numel()

    @torch.no_grad()
    def record(self, model) -> dict:
        """The reconstruction PSNR of D(μ(x)) on the 500 evaluation test digits (the latent ceiling) and the standard
        deviation of their latent means (what Eq. 07.6 divides by)."""
        from ..datasets import DigitsSR
        from ..metrics import psnr

        hr, _ = DigitsSR("test", 4).tensors(list(range(0, 1000, 2)))
        device = next(model.parameters()).device
        hr = hr.to(device)
        rec = model.reconstruct(hr)
        return {
            "reconstruction_psnr": round(float(psnr(rec, hr).mean()), 3),
            "latent_std": round(float(model.encode(hr)[0].std()), 5),
        }
