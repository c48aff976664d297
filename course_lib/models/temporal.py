"""An SR3 that also sees the previous frame · 时序条件 (lesson 12, StableVSR's temporal conditioning at toy scale).

:class:`TemporalSR3` is lesson 04's concatenation SR3 (Eq. 04.2) with one more input: the previous HR frame, warped
to the current one (Eq. 12.1). The network sees [x_t, U(y), p] on the channel axis (Eq. 12.4), where p is the warped
previous frame — the warped *HR* frame, corrupted, in training; the model's *own* previous output at test time.

So that everything built for SR3 (samplers, the x̂₀ hook, tiling, per-image seeds) keeps working, the condition stays
**one tensor at the LR size**: y and p packed by space-to-depth (``pixel_unshuffle``), ``(B, C + C·s², h, w)``, which
:func:`pack_previous` builds and :meth:`TemporalSR3.condition` unpacks. The residual target (Eq. 04.4) is taken over
U(y) of the LR channels alone.

* Eq. 12.4  ε_θ([x_t, U(y_f), warp(x̂_{f−1}, d_{f−1})], t)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..operators import upsample
from .conditioning import SR3
from .unet import UNet

__all__ = ["TemporalSR3", "pack_previous", "unpack_previous"]


def pack_previous(y: torch.Tensor, previous: torch.Tensor, scale: int) -> torch.Tensor:
    """``y`` ``(B, C, h, w)`` and the warped previous frame ``previous`` ``(B, C, s·h, s·w)`` as one condition
    ``(B, C + C·s², h, w)`` (the previous frame by space-to-depth, so that it is aligned with y pixel for pixel)."""
    if y.dim() != 4 or previous.dim() != 4:
        raise ValueError(f"y and previous must be (B, C, H, W), got {tuple(y.shape)} and {tuple(previous.shape)}")
    want = (y.shape[0], y.shape[1], y.shape[2] * scale, y.shape[3] * scale)
    if tuple(previous.shape) != want:
        raise ValueError(
            f"previous must have shape {want} for y of shape {tuple(y.shape)}, got {tuple(previous.shape)}"
        )
    return torch.cat([y, F.pixel_unshuffle(previous.to(y.dtype), scale)], 1)


def unpack_previous(packed: torch.Tensor, channels: int, scale: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The inverse of :func:`pack_previous`: ``(y, previous)``."""
    return packed[:, :channels], F.pixel_shuffle(packed[:, channels:], scale)


class TemporalSR3(SR3):
    """SR3 (concat) whose condition also carries the warped previous frame (see the module docstring).

    ``net`` is a concat U-Net with ``cond_channels = 2·C`` (U(y) and the previous frame, C image channels each).
    ``y`` everywhere is the packed condition of :func:`pack_previous`.
    """

    def __init__(self, net: UNet, scale: int, **kwargs):
        if net.conditioning != "concat" or net.cond_channels % 2:
            raise ValueError(
                "TemporalSR3 needs a concat UNet with cond_channels = 2·C (U(y) and the previous frame), got "
                f"conditioning={net.conditioning!r}, cond_channels={net.cond_channels}"
            )
        super().__init__(net, scale, **kwargs)
        self.channels = net.cond_channels // 2  # the image's channels

    def check_y(self, y: torch.Tensor) -> None:
        """A ``ValueError`` naming y unless it is the packed condition ``(B, C + C·s², h, w)``."""
        c = self.channels * (1 + self.scale**2)
        if not isinstance(y, torch.Tensor) or y.dim() != 4 or y.shape[1] != c:
            got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
            raise ValueError(
                f"y must be the packed condition (B, {c}, h, w) of pack_previous(y, previous, {self.scale}), got {got}"
            )

    def upsampled(self, y: torch.Tensor) -> torch.Tensor:
        """U(y) of the LR channels of the packed condition, ``(B, C, s·h, s·w)``."""
        self.check_y(y)
        return upsample(y[:, : self.channels], self.scale, "bicubic")

    def condition(self, y: torch.Tensor) -> torch.Tensor:
        """[U(y), previous] (Eq. 12.4's condition), ``(B, 2·C, s·h, s·w)``."""
        previous = unpack_previous(y, self.channels, self.scale)[1]
        return torch.cat([self.upsampled(y), previous], 1)

    def target(self, hr: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x₀ for training, Eq. 04.4 over U(y) of the LR channels: ``hr`` ``(B, C, s·h, s·w)``."""
        self.check_y(y)
        want = (y.shape[0], self.channels, y.shape[-2] * self.scale, y.shape[-1] * self.scale)
        if tuple(hr.shape) != want:
            raise ValueError(f"hr must have shape {want} for y of shape {tuple(y.shape)}, got {tuple(hr.shape)}")
        if not self.residual:
            return hr
        x0 = (hr - self.upsampled(y)) / self.residual_scale
        return x0.clamp(-1.0, 1.0) if self.clip_residual else x0
