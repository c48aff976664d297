"""ResDiff (Shang et al., AAAI 2024; arXiv 2303.08714) · CNN 残差扩散: lesson 09.

A CNN pretrained with MSE + FFT + DWT losses (the shipped ``digits_resdiff_cnn``, method ``rrdb`` with
``loss: "mse_fft_dwt"``) predicts the low frequencies; the diffusion model generates only what it misses,
x₀ = x_HR − CNN(y), given the CNN's output and its high-pass (:class:`~course_lib.models.resdiff.ResDiffSR`). The
sampling is SR3's (every sampler, the projection); x̂_HR = CNN(y) + x̂₀.

The toy keeps the course's SR3-style process (T = 1000 cosine, x₀-prediction, MSE) so that the one thing that differs
from the SR3-style row is what the residual is taken over and what the U-Net is given; the paper builds on SR3's code
(ε-prediction). Reference: ``LYL1015/ResDiff`` ``model/resdiff_modules/diffusion.py``, ``unet.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from ..models import RRDBNet, UNet
from ..models.resdiff import ResDiffSR
from .base import EXAMPLE_RUN, register_method
from .sr3 import SR3Config, SR3Method

__all__ = ["ResDiffConfig", "ResDiffMethod"]


@dataclass(frozen=True)
class ResDiffConfig(SR3Config):
    """SR3's fields (the residual always on) plus ``cnn``: the shipped CNN to freeze, ``cnn_args``: its architecture,
    ``hf_input``: give the U-Net the high-pass of the CNN's output, ``sigma``: its initial σ; ``args``: the U-Net's
    (concat; ``cond_channels`` 2 with ``hf_input``, else 1)."""

    residual: bool = True
    cnn: str = "digits_resdiff_cnn"
    cnn_args: dict = field(default_factory=dict)
    hf_input: bool = True
    sigma: float = 0.15


@register_method
class ResDiffMethod(SR3Method):
    """ResDiff: diffusion on the residual over a frozen CNN (see the module docstring)."""

    name = "resdiff"
    Config = ResDiffConfig
    datasets = ("digits_sr",)
    legacy_kinds = ()

    @classmethod
    def example(cls) -> dict:
        """A width-8 ResDiff for digits ×4 on the shipped CNN, T = 100."""
        return {
            "name": "example_resdiff",
            "dataset": "digits_sr:4",
            "method": "resdiff",
            "T": 100,
            "prediction": "x0",
            "model": {
                "scale": 4,
                "cnn_args": _DIGITS_CNN,
                "in_channels": 3,
                "cond_channels": 2,
                "base_channels": 8,
                "channel_mults": [1, 2],
                "attention": False,
            },
            **EXAMPLE_RUN,
        }

    def build(self) -> nn.Module:
        """``ResDiffSR(UNet(**args), RRDBNet(**cnn_args), …)``; the CNN's weights come in :meth:`initialise`."""
        c = self.config
        if not c.residual:
            raise ValueError("model.residual must be true for ResDiff (the residual over the CNN is the method)")
        cnn = RRDBNet(**{"channels": 1, "scale": c.scale, **c.cnn_args})
        return ResDiffSR(
            UNet(**self.network_args()),
            cnn,
            hf_input=c.hf_input,
            sigma=c.sigma,
            prediction=self.prediction,
            residual_scale=c.residual_scale,
        )

    def borrowed(self) -> dict[str, tuple[str, str]]:
        """The frozen CNN is the shipped ``cnn`` model, unchanged."""
        return {"cnn.": (self.config.cnn, "")}

    def initialise(self, model: nn.Module, load_model) -> None:
        """The frozen CNN from the shipped ``cnn`` model, before the EMA copy."""
        shipped = load_model(self.config.cnn)
        try:
            model.cnn.load_state_dict(shipped.state_dict())
        except RuntimeError as err:
            raise ValueError(f"model.cnn_args must match the shipped {self.config.cnn!r}: {err}") from err
        model.cnn.requires_grad_(False).eval()


#: the shipped CNN's architecture (data/checkpoints/digits_resdiff_cnn.json), for the example config
_DIGITS_CNN = {"nf": 32, "blocks": 2, "gc": 16}
