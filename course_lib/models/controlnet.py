"""A ControlNet for the course's U-Net (networks layer; lesson 08, DiffBIR's stage 2 at toy scale).

ControlNet (Zhang, Rao & Agrawala, ICCV 2023) steers a **frozen** diffusion U-Net with a condition c (here: stage 1's
restored image) through a trainable copy of the U-Net's encoder:

* the copy starts as an exact copy of the frozen encoder (time MLP, input convolution, down path, middle), its input
  convolution widened to read [x_t, c] — the new channels' weights zero-initialised, as DiffBIR's IRControlNet does;
* each of its skip features and its middle feature passes through a **zero-initialised** 1 × 1 convolution and is
  added, times a control ``strength``, to the frozen U-Net's matching skip and middle feature (Eq. 08.6).

At initialisation every zero convolution outputs exactly 0, so :class:`ControlledUNet` returns the frozen U-Net's
output **exactly** (a test checks it bit for bit); training moves only the copy and the zero convolutions (the base's
parameters have ``requires_grad = False`` and a test checks they never change). ``strength`` scales the control at
sampling time: 0 is the unconditional model, 1 what was trained — the fidelity–realism knob of lesson 08.

Shapes: ``forward(x_t (B, C, H, W), t (B,), cond (B, C_c, H, W)) → (B, C, H, W)``.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..checks import check_int
from .unet import ResBlock, UNet

__all__ = ["ControlNet", "ControlledUNet"]


def _zero_conv(ch: int) -> nn.Conv2d:
    conv = nn.Conv2d(ch, ch, 1)
    nn.init.zeros_(conv.weight)
    nn.init.zeros_(conv.bias)
    return conv


class ControlNet(nn.Module):
    """The trainable copy of ``base``'s encoder and its zero convolutions (see the module docstring).

    Args:
        base: an unconditional :class:`~course_lib.models.UNet` (its encoder is copied, not shared).
        cond_channels: channels of the condition c.
    """

    def __init__(self, base: UNet, cond_channels: int = 1):
        super().__init__()
        if base.cond_channels or base.encoder is not None:
            raise ValueError("base: expected an unconditional UNet (cond_channels=0), got a conditional one")
        check_int(cond_channels, "cond_channels", low=1)
        self.cond_channels = cond_channels
        self.time_mlp = copy.deepcopy(base.time_mlp)
        old = base.inc
        self.inc = nn.Conv2d(old.in_channels + cond_channels, old.out_channels, old.kernel_size, padding=old.padding)
        with torch.no_grad():
            self.inc.weight.zero_()
            self.inc.weight[:, : old.in_channels] = old.weight
            self.inc.bias.copy_(old.bias)
        self.down = copy.deepcopy(base.down)
        self.mid1, self.mid_attn, self.mid2 = (copy.deepcopy(m) for m in (base.mid1, base.mid_attn, base.mid2))
        widths = [old.out_channels] + [_out_channels(layer) for layer in base.down]
        self.zero_skips = nn.ModuleList(_zero_conv(w) for w in widths)
        self.zero_mid = _zero_conv(widths[-1])
        # the copy is trainable whatever the base's state: a deepcopy of a frozen base is frozen too
        self.requires_grad_(True)
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The residuals for the base's skip features (in order) and for its middle feature."""
        if (
            cond is None
            or cond.shape[0] != x.shape[0]
            or cond.shape[1] != self.cond_channels
            or cond.shape[-2:] != x.shape[-2:]
        ):
            raise ValueError(
                f"cond: expected shape ({x.shape[0]}, {self.cond_channels}, {x.shape[-2]}, {x.shape[-1]}), "
                f"got {None if cond is None else tuple(cond.shape)}"
            )
        temb = None if self.time_mlp is None else self.time_mlp(t)
        h = self.inc(torch.cat([x, cond], dim=1).contiguous(memory_format=torch.channels_last))
        hs = [h]
        for layer in self.down:
            h = layer(h, temb) if isinstance(layer, ResBlock) else layer(h)
            hs.append(h)
        h = self.mid2(self.mid_attn(self.mid1(h, temb)), temb)
        return [z(s) for z, s in zip(self.zero_skips, hs)], self.zero_mid(h)


def _out_channels(layer: nn.Module) -> int:
    return layer.conv2.out_channels if isinstance(layer, ResBlock) else layer.out_channels


class ControlledUNet(nn.Module):
    """The frozen ``base`` U-Net steered by a :class:`ControlNet` (DiffBIR's stage 2; see the module docstring).

    Args:
        base: the unconditional U-Net, frozen here (``requires_grad = False``).
        cond_channels: channels of the condition; strength: the control's weight at sampling (a float ≥ 0).
    """

    def __init__(self, base: UNet, cond_channels: int = 1, strength: float = 1.0):
        super().__init__()
        self.base = base.requires_grad_(False)
        self.control = ControlNet(base, cond_channels)
        self.strength = float(strength)

    def train(self, mode: bool = True) -> "ControlledUNet":
        """Train mode for the control only: the frozen base stays in eval mode."""
        super().train(mode)
        self.base.eval()
        return self

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        if not self.strength >= 0:
            raise ValueError(f"strength must be >= 0, got {self.strength!r}")
        skips, mid = self.control(x, t, cond)
        s = self.strength
        return self.base.steered(x, t, skips=[s * r for r in skips], mid=s * mid)
