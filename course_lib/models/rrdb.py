"""RRDB networks (networks layer; lesson 09: SRDiff's LR encoder, and a CNN baseline of its own).

ESRGAN's residual-in-residual dense block (Wang et al., ECCV Workshops 2018), at toy width:

* a **dense block** of five 3 × 3 convolutions, each reading the block input and every earlier output (growth ``gc``
  channels each), LeakyReLU(0.2) between them, its output scaled by 0.2 and added to its input;
* an **RRDB**: three dense blocks in a row, the result scaled by 0.2 and added to the RRDB's input;
* :class:`RRDBNet`: a first convolution, ``blocks`` RRDBs and a trunk convolution at the LR resolution (with a skip
  around them), then nearest ×2 upsampling + convolution per factor 2 of the scale, and two output convolutions —
  added to the bicubic upsampling U(y) (a global residual, as the course's other baselines; the last convolution starts
  at zero, so the network starts as bicubic). The original maps y to x directly and clips in training too; at toy
  scale that clip stopped every gradient within a few hundred steps (a run got stuck predicting background), so the
  clip acts only outside training, as in :class:`~course_lib.models.SRCNN`.

SRDiff (Li et al., Neurocomputing 2022) trains an RRDBNet with L1 first, **freezes** it, and feeds the diffusion
U-Net with the features of every third RRDB (:meth:`RRDBNet.features`); the same network is also a one-shot
baseline on its own. Reference: ``LeiaLi/SRDiff`` ``models/diffsr_modules.py`` (``RRDBNet``), ``models/commons.py``
(``RRDB``, ``ResidualDenseBlock_5C``).

Shapes: ``forward(y (B, C, h, w)) → (B, C, s·h, s·w)`` (in [-1, 1] in eval mode); ``features(y)`` → ``blocks + 1`` maps
``(B, nf, h, w)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_int
from ..operators import upsample

__all__ = ["DenseBlock", "RRDB", "RRDBNet"]


class DenseBlock(nn.Module):
    """Five densely connected 3 × 3 convolutions; ``x + 0.2 · conv5([x, x1, …, x4])``."""

    def __init__(self, nf: int, gc: int):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(nf + i * gc, gc if i < 4 else nf, 3, padding=1) for i in range(5))
        self.act = nn.LeakyReLU(0.2)
        for conv in self.convs:  # ESRGAN's initialisation: Kaiming scaled by 0.1, so deep trunks start near identity
            nn.init.kaiming_normal_(conv.weight, a=0.2)
            conv.weight.data.mul_(0.1)
            nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [x]
        for i, conv in enumerate(self.convs):
            h = conv(torch.cat(outs, dim=1))
            if i < 4:
                outs.append(self.act(h))
        return x + 0.2 * h


class RRDB(nn.Module):
    """Three dense blocks with a residual around them: ``x + 0.2 · D3(D2(D1(x)))``."""

    def __init__(self, nf: int, gc: int):
        super().__init__()
        self.blocks = nn.Sequential(*(DenseBlock(nf, gc) for _ in range(3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.2 * self.blocks(x)


class RRDBNet(nn.Module):
    """The RRDB super-resolution network (see the module docstring).

    Args:
        channels: image channels; scale: the SR factor, a power of 2; nf: trunk width; blocks: RRDBs; gc: growth.
    """

    def __init__(self, channels: int = 1, scale: int = 4, nf: int = 32, blocks: int = 4, gc: int = 16):
        super().__init__()
        for name, v in (("channels", channels), ("nf", nf), ("blocks", blocks), ("gc", gc)):
            check_int(v, name, low=1)
        if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1 or scale & (scale - 1):
            raise ValueError(f"scale must be a power of 2 (1, 2, 4, 8 …), got {scale!r}")
        self.channels, self.scale, self.nf, self.blocks_count = channels, scale, nf, blocks
        self.conv_first = nn.Conv2d(channels, nf, 3, padding=1)
        self.trunk = nn.ModuleList(RRDB(nf, gc) for _ in range(blocks))
        self.trunk_conv = nn.Conv2d(nf, nf, 3, padding=1)
        self.ups = nn.ModuleList(nn.Conv2d(nf, nf, 3, padding=1) for _ in range(int(math.log2(scale))))
        self.hr_conv = nn.Conv2d(nf, nf, 3, padding=1)
        self.conv_last = nn.Conv2d(nf, channels, 3, padding=1)
        nn.init.zeros_(self.conv_last.weight)  # start as bicubic
        nn.init.zeros_(self.conv_last.bias)
        self.act = nn.LeakyReLU(0.2)

    def _check(self, y: torch.Tensor) -> None:
        if not isinstance(y, torch.Tensor) or y.dim() != 4 or y.shape[1] != self.channels:
            got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
            raise ValueError(f"y (the LR image) must have shape (B, {self.channels}, h, w), got {got}")

    def _trunk(self, y: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        first = h = self.conv_first(y)
        feats = []
        for block in self.trunk:
            h = block(h)
            feats.append(h)
        h = first + self.trunk_conv(h)
        feats.append(h)
        return h, feats

    def features(self, y: torch.Tensor) -> list[torch.Tensor]:
        """The trunk's features at the LR resolution: every RRDB's output, then the trunk's (``blocks + 1`` maps)."""
        self._check(y)
        return self._trunk(y)[1]

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        self._check(y)
        h, _ = self._trunk(y)
        for conv in self.ups:
            h = self.act(conv(F.interpolate(h, scale_factor=2, mode="nearest")))
        out = upsample(y, self.scale, "bicubic") + self.conv_last(self.act(self.hr_conv(h)))
        return out if self.training else out.clamp(-1.0, 1.0)  # no clip while training: it would stop gradients
