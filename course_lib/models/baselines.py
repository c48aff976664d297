"""One-shot regression baselines for super-resolution (lesson 05: CNN vs diffusion).

Both map the LR image straight to an HR estimate in one network evaluation and are trained with the mean
squared error, so they approximate the **posterior mean** E[x | y]:

* :class:`SRCNN` — Dong, Loy, He & Tang (ECCV 2014; TPAMI 2016): bicubic upsampling U(y), then three
  convolutions (patch extraction 9 × 9, non-linear mapping 5 × 5, reconstruction 5 × 5); here with a residual
  connection, x̂ = U(y) + f(U(y)), which trains faster and changes nothing at the optimum.
* :class:`RegressionUNet` — the SR3 model's U-Net backbone without time or noise: x̂ = U(y) + g(U(y)) (Eq. 05.1),
  so the comparison with SR3 isolates *regression vs generation*, not architecture.

Shapes: ``forward(y (B, C, h, w)) → (B, C, s·h, s·w)``, clipped to [-1, 1] in eval mode.
"""

from __future__ import annotations

import torch
from torch import nn

from ..checks import check_int
from ..operators import upsample
from .unet import UNet

__all__ = ["SRCNN", "RegressionUNet"]


def _check_y(y: torch.Tensor, channels: int) -> None:
    if not isinstance(y, torch.Tensor) or y.dim() != 4 or y.shape[1] != channels:
        got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ValueError(f"y (the LR image) must have shape (B, {channels}, h, w), got {got}")


class SRCNN(nn.Module):
    """SRCNN (9-5-5) on the bicubic-upsampled input, with a residual connection (see the module docstring).

    Args:
        channels: image channels C; scale: the SR factor s; n1, n2: widths of the first two layers (64, 32).
    """

    def __init__(self, channels: int = 1, scale: int = 4, n1: int = 64, n2: int = 32):
        super().__init__()
        check_int(scale, "scale", low=1)
        self.channels, self.scale = channels, scale
        self.config = dict(channels=channels, scale=scale, n1=n1, n2=n2)
        self.body = nn.Sequential(
            nn.Conv2d(channels, n1, 9, padding=4),
            nn.ReLU(),
            nn.Conv2d(n1, n2, 5, padding=2),
            nn.ReLU(),
            nn.Conv2d(n2, channels, 5, padding=2),
        )
        nn.init.zeros_(self.body[-1].weight)
        nn.init.zeros_(self.body[-1].bias)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        _check_y(y, self.channels)
        up = upsample(y, self.scale, "bicubic")
        out = up + self.body(up)
        return out if self.training else out.clamp(-1.0, 1.0)  # no clip while training: it would stop gradients


class RegressionUNet(nn.Module):
    """x̂ = U(y) + g(U(y)) with g a U-Net of the SR3 backbone's widths and no timestep (Eq. 05.1).

    Args:
        channels, scale: as :class:`SRCNN`; the other arguments go to :class:`UNet` (``time_embedding`` is
        ``"none"``: there is no noise level to tell it).
    """

    def __init__(self, channels: int = 1, scale: int = 4, **unet_kwargs):
        super().__init__()
        check_int(scale, "scale", low=1)
        unet_kwargs = {**unet_kwargs, "time_embedding": "none", "cond_channels": 0}
        self.net = UNet(in_channels=channels, **unet_kwargs)
        self.channels, self.scale = channels, scale
        self.config = dict(
            channels=channels, scale=scale, **{k: v for k, v in unet_kwargs.items() if k != "cond_channels"}
        )

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        _check_y(y, self.channels)
        up = upsample(y, self.scale, "bicubic")
        t = torch.zeros(up.shape[0], dtype=torch.long, device=up.device)  # ignored: no time embedding
        out = up + self.net(up, t)
        return out if self.training else out.clamp(-1.0, 1.0)
