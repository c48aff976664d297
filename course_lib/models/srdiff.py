"""SRDiff's denoiser (networks layer; lesson 09): the course U-Net on the residual's x_t, told about y through the
features of a **frozen**, pretrained RRDB LR encoder (Li et al., Neurocomputing 2022).

The features of every third RRDB block (``feats[2::3]``: the 3rd, 6th, … maps, the last being the trunk's output
when the count allows) are concatenated and projected to the U-Net's first width and the HR size by a transposed
convolution (kernel 2s, stride s, padding s/2: exactly ×s), then **added after the U-Net's first stage** — to the
feature the first skip connection carries and the downsampling reads. The encoder's parameters have
``requires_grad = False`` and it stays in eval mode; its features are computed without a graph.

:class:`SRDiffUNet` looks like an encoder-conditioned :class:`~course_lib.models.UNet` to
:class:`~course_lib.models.SR3` (``conditioning = "encoder"``: it is given y itself), so SR3's residual target,
samplers and tiling apply unchanged. Reference: ``LeiaLi/SRDiff`` ``models/diffsr_modules.py`` (``Unet.forward``:
``cond_proj``, ``x = x + cond`` after the first stage).

Shapes: ``forward(x_t (B, C, s·h, s·w), t (B,), y (B, C, h, w)) → (B, C, s·h, s·w)``.
"""

from __future__ import annotations

import torch
from torch import nn

from ..checks import check_int
from .rrdb import RRDBNet
from .unet import ResBlock, UNet

__all__ = ["SRDiffUNet"]


class SRDiffUNet(nn.Module):
    """ε_θ(x_t, t, y) with a frozen RRDB encoder (see the module docstring).

    Args:
        unet: an unconditional :class:`~course_lib.models.UNet` on x_t (``cond_channels = 0``).
        encoder: the pretrained :class:`~course_lib.models.rrdb.RRDBNet` (frozen here).
        every: take every ``every``-th feature map of the encoder, starting with the ``every``-th (SRDiff: 3).
    """

    def __init__(self, unet: UNet, encoder: RRDBNet, every: int = 3):
        super().__init__()
        if unet.cond_channels or unet.encoder is not None:
            raise ValueError(
                "unet: expected an unconditional UNet (cond_channels=0); SRDiff conditions through the encoder"
            )
        if unet.x_channels != encoder.channels:
            raise ValueError(
                f"encoder: expected {unet.x_channels} image channels like the U-Net, got {encoder.channels}"
            )
        n_maps = encoder.blocks_count + 1
        check_int(every, "every", low=1, high=n_maps, note="the encoder's feature maps")
        self.unet, self.every = unet, every
        self.encoder = encoder.requires_grad_(False).eval()
        self.picked = list(range(every - 1, n_maps, every))
        s = encoder.scale
        width = unet.inc.out_channels
        self.cond_proj = (
            nn.ConvTranspose2d(encoder.nf * len(self.picked), width, 2 * s, stride=s, padding=s // 2)
            if s > 1
            else nn.Conv2d(encoder.nf * len(self.picked), width, 1)
        )
        # after the last residual block of the first level (before the first downsampling, or the end of the way down)
        kinds = [isinstance(layer, ResBlock) for layer in unet.down]
        self.inject_after = (kinds.index(False) if False in kinds else len(kinds)) - 1
        self.cond_channels, self.conditioning, self.x_channels = encoder.channels, "encoder", unet.x_channels

    def train(self, mode: bool = True) -> "SRDiffUNet":
        """Train mode for the U-Net and the projection; the frozen encoder stays in eval mode."""
        super().train(mode)
        self.encoder.eval()
        return self

    def condition(self, y: torch.Tensor) -> torch.Tensor:
        """The projected encoder features, ``(B, width, s·h, s·w)`` (no gradient reaches the encoder)."""
        with torch.no_grad():
            feats = self.encoder.features(y)
        return self.cond_proj(torch.cat([feats[i] for i in self.picked], dim=1))

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        b = self.unet
        if x.dim() != 4 or x.shape[1] != self.x_channels:
            raise ValueError(f"x must have shape (B, {self.x_channels}, H, W), got {tuple(x.shape)}")
        if (
            y is None
            or y.dim() != 4
            or y.shape[0] != x.shape[0]
            or (y.shape[-2] * self.encoder.scale, y.shape[-1] * self.encoder.scale) != tuple(x.shape[-2:])
        ):
            raise ValueError(
                f"y: expected the LR image ({x.shape[0]}, {self.cond_channels}, {x.shape[-2] // self.encoder.scale}, "
                f"{x.shape[-1] // self.encoder.scale}), got {None if y is None else tuple(y.shape)}"
            )
        cond = self.condition(y).contiguous(memory_format=torch.channels_last)
        # SRDiff: added after the first stage, so the first skip carries it too
        return b.steered(x, t, after_down=lambda i, h: h + cond if i == self.inject_after else h)
