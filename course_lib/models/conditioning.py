"""Conditioning a denoiser on the low-resolution image y (lesson 04 · 条件控制).

:class:`SR3` wraps a :class:`~course_lib.models.unet.UNet` into ε_θ(x_t, t, y) for super-resolution:

* the condition the network sees, Eq. 04.2: ``"concat"`` feeds [x_t, U(y)] (U = bicubic upsampling by s,
  SR3); ``"encoder"`` feeds y at its own size to the U-Net's LR encoder (Eq. 04.3, SRDiff-style);
* what x_0 means, Eq. 04.4: the HR image itself (``residual=False``, SR3), or the scaled residual
  x_0 = (x_HR − U(y)) / c (``residual=True``, SRDiff), so the network only has to supply the detail bicubic
  misses. :meth:`SR3.target` maps (HR, y) to x_0 for training; :meth:`SR3.to_image` maps a sampled x_0 back.

Shapes: ``forward(x_t (B, C, s·h, s·w), t (B,), y (B, C, h, w)) → (B, C, s·h, s·w)``.
"""

from __future__ import annotations

import torch
from torch import nn

from ..checks import check_int
from ..operators import upsample
from .unet import UNet

__all__ = ["SR3"]


class SR3(nn.Module):
    """ε_θ(x_t, t, y) for ×``scale`` super-resolution (see the module docstring).

    Args:
        net: the U-Net; ``net.conditioning`` says how y enters (``"concat"`` or ``"encoder"``) and
            ``net.cond_channels`` must equal the image channels.
        scale: the SR factor s.
        residual: predict the residual x_HR − U(y) (Eq. 04.4) instead of x_HR.
        residual_scale: c in Eq. 04.4; the residual is divided by c so that x_0 stays roughly in [-1, 1].
        prediction: what the network outputs, ``"eps"``, ``"x0"`` or ``"v"`` (lesson 02), or a flow's
            ``"velocity"`` (lesson 11); kept here so that
            samplers can read it off the model.
        clip_residual: clip the scaled residual target to [-1, 1] (SRDiff's ``img2res``: clip(2(x_HR − U(y)))).
    """

    def __init__(
        self,
        net: UNet,
        scale: int,
        residual: bool = False,
        residual_scale: float = 1.0,
        prediction: str = "eps",
        clip_residual: bool = False,
    ):
        super().__init__()
        check_int(scale, "scale", low=1)
        if not net.cond_channels:
            raise ValueError("SR3 needs a UNet with cond_channels > 0 (the channels of y)")
        if not residual_scale > 0:
            raise ValueError(f"residual_scale must be > 0, got {residual_scale}")
        self.net, self.scale, self.residual, self.residual_scale = net, scale, bool(residual), float(residual_scale)
        self.clip_residual = bool(clip_residual)
        if prediction not in ("eps", "x0", "v", "velocity"):
            raise ValueError(
                f"prediction must be 'eps', 'x0', 'v' or 'velocity' (a flow, lesson 11), got {prediction!r}"
            )
        self.prediction = prediction
        self.channels = net.cond_channels
        self.conditioning = net.conditioning

    def check_y(self, y: torch.Tensor) -> None:
        """A ``ValueError`` naming y unless it is ``(B, C, h, w)`` with this model's C channels."""
        if not isinstance(y, torch.Tensor) or y.dim() != 4 or y.shape[1] != self.channels:
            got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
            raise ValueError(f"y (the LR image) must have shape (B, {self.channels}, h, w), got {got}")

    def upsampled(self, y: torch.Tensor) -> torch.Tensor:
        """U(y): bicubic upsampling by ``scale``, ``(B, C, h, w) → (B, C, s·h, s·w)``."""
        self.check_y(y)
        return upsample(y, self.scale, "bicubic")

    def condition(self, y: torch.Tensor) -> torch.Tensor:
        """What the U-Net receives as ``cond`` (Eq. 04.2): U(y) for ``"concat"``, y itself for ``"encoder"``."""
        self.check_y(y)
        return self.upsampled(y) if self.conditioning == "concat" else y

    def target(self, hr: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x_0 for training, Eq. 04.4: ``hr`` ``(B, C, H, W)``, ``y`` ``(B, C, H/s, W/s)`` → ``(B, C, H, W)``."""
        self.check_y(y)
        if hr.shape[:2] != y.shape[:2] or hr.shape[-2:] != (y.shape[-2] * self.scale, y.shape[-1] * self.scale):
            raise ValueError(
                f"hr must have shape {(*y.shape[:2], y.shape[-2] * self.scale, y.shape[-1] * self.scale)} "
                f"for y of shape {tuple(y.shape)} at scale {self.scale}, got {tuple(hr.shape)}"
            )
        if not self.residual:
            return hr
        x0 = (hr - self.upsampled(y)) / self.residual_scale
        return x0.clamp(-1.0, 1.0) if self.clip_residual else x0

    def to_image(self, x0: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`target`: the HR image in [-1, 1] from a (sampled) x_0, ``(B, C, H, W)``."""
        return (self.upsampled(y) + self.residual_scale * x0 if self.residual else x0).clamp(-1.0, 1.0)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(x_t, t, self.condition(y))

    def extra_repr(self) -> str:
        return (
            f"scale={self.scale}, conditioning={self.conditioning!r}, residual={self.residual}, "
            f"residual_scale={self.residual_scale}, clip_residual={self.clip_residual}, prediction={self.prediction!r}"
        )
