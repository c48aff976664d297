"""ResDiff's denoiser at toy scale · CNN 残差扩散 (Shang et al., AAAI 2024; lesson 09).

:class:`ResDiffSR` is :class:`~course_lib.models.SR3` with the bicubic base replaced by a **frozen pretrained CNN**:
the diffusion target is x₀ = x_HR − CNN(y) (Eq. 04.4 with CNN(y) for U(y)), the image is CNN(y) + x̂₀, and the
U-Net is given, beside x_t, the CNN's output and (``hf_input``) its FFT high-pass 1 − exp(−D²/2σ²) with a learned σ —
the toy's version of ResDiff's frequency-domain guidance. Not ResShift (Yue et al., NeurIPS 2023), which shifts the
residual between LR and HR inside the forward process itself.

Simplified from the paper: its high-frequency-guided cross-attention at the skips (the CNN output's Haar bands as
queries) is replaced by giving the high-pass image as an input channel; the frequency-domain splitter keeps its
learned σ.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..frequency import gaussian_highpass
from .conditioning import SR3
from .rrdb import RRDBNet
from .unet import UNet

__all__ = ["ResDiffSR"]


class ResDiffSR(SR3):
    """ε_θ(x_t, t, y) of ResDiff (see the module docstring).

    Args:
        net: a concat U-Net with ``cond_channels`` 2 (CNN output and its high-pass) or 1 (``hf_input=False``).
        cnn: the pretrained CNN (``RRDBNet``), frozen and kept in eval mode.
        hf_input: give the U-Net the high-pass of the CNN's output; sigma: the high-pass's initial σ (cycles/pixel).
        prediction, residual_scale: as :class:`~course_lib.models.SR3` (the residual is always used).
    """

    def __init__(
        self,
        net: UNet,
        cnn: RRDBNet,
        hf_input: bool = True,
        sigma: float = 0.15,
        prediction: str = "x0",
        residual_scale: float = 1.0,
    ):
        want = 2 if hf_input else 1
        if net.conditioning != "concat" or net.cond_channels != want * cnn.channels:
            raise ValueError(
                f"net: expected a concat UNet with cond_channels={want * cnn.channels} (the CNN's output"
                f"{' and its high-pass' if hf_input else ''}), got {net.conditioning!r} with "
                f"cond_channels={net.cond_channels}"
            )
        super().__init__(net, cnn.scale, residual=True, residual_scale=residual_scale, prediction=prediction)
        self.channels = cnn.channels  # y's channels (the U-Net's cond channels are the CNN's output and high-pass)
        self.cnn = cnn.requires_grad_(False).eval()
        self.hf_input = bool(hf_input)
        self.log_sigma = nn.Parameter(torch.tensor(math.log(sigma))) if hf_input else None
        self._last: tuple | None = None  # (y, its version, CNN(y)): sampling asks for CNN(y) at every step

    def train(self, mode: bool = True) -> "ResDiffSR":
        """Train mode for the U-Net (and σ) only: the frozen CNN stays in eval mode."""
        super().train(mode)
        self.cnn.eval()
        return self

    def upsampled(self, y: torch.Tensor) -> torch.Tensor:
        """The base the residual is taken over: CNN(y) (not bicubic), in [-1, 1]."""
        self.check_y(y)
        last = self._last
        if last is not None and last[0] is y and last[1] == y._version:
            return last[2]
        with torch.no_grad():
            base = self.cnn(y)
        self._last = (y, y._version, base)
        return base

    def highpass(self, base: torch.Tensor) -> torch.Tensor:
        """The CNN output's high frequencies: the Gaussian high-pass with the learned σ."""
        return gaussian_highpass(base, self.log_sigma.exp())

    def condition(self, y: torch.Tensor) -> torch.Tensor:
        """What the U-Net is given beside x_t: [CNN(y), high-pass(CNN(y))] (or CNN(y) alone)."""
        base = self.upsampled(y)
        return torch.cat([base, self.highpass(base)], dim=1) if self.hf_input else base

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, base='cnn', hf_input={self.hf_input}"
