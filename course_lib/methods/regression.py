"""One-shot regression baselines · 回归基线 (lesson 05: CNN vs diffusion).

Both map y straight to an HR estimate in one network evaluation and are trained with the mean squared error, so
they approximate the posterior mean E[x | y] (Eq. 05.2): :class:`~course_lib.models.SRCNN` (Dong et al., ECCV 2014,
with a global residual over bicubic) and :class:`~course_lib.models.RegressionUNet` (SR3's backbone without time,
Eq. 05.1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..frequency import resdiff_cnn_loss
from ..models import SRCNN, RegressionUNet, RRDBNet
from .base import EXAMPLE_RUN, Method, MethodConfig, register_method

__all__ = [
    "OneShotRegression",
    "SRCNNConfig",
    "RegressionUNetConfig",
    "RRDBConfig",
    "SRCNNMethod",
    "RegressionUNetMethod",
    "RRDBMethod",
]


@dataclass(frozen=True)
class SRCNNConfig(MethodConfig):
    """SRCNN's image ``channels``, ``scale`` and the widths ``n1``, ``n2`` of its first two layers."""

    channels: int = 1
    scale: int = 4
    n1: int = 64
    n2: int = 32


@dataclass(frozen=True)
class RegressionUNetConfig(MethodConfig):
    """``channels``, ``scale``; ``args``: the U-Net's widths (as SR3's backbone)."""

    channels: int = 1
    scale: int = 4
    args: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RRDBConfig(MethodConfig):
    """:class:`~course_lib.models.RRDBNet`'s ``channels``, ``scale``, trunk width ``nf``, ``blocks`` and growth ``gc``;
    ``loss``: ``"l1"`` (SRDiff's pretraining), ``"mse"`` or ``"mse_fft_dwt"`` (ResDiff's CNN: MSE + 0.2 · FFT +
    0.1 · Haar DWT, :func:`course_lib.frequency.resdiff_cnn_loss`)."""

    channels: int = 1
    scale: int = 4
    nf: int = 32
    blocks: int = 4
    gc: int = 16
    loss: str = "l1"


class OneShotRegression(Method):
    """Shared by the one-shot baselines: MSE between f(y) and HR; :meth:`restore` is one evaluation."""

    objective = "regression"
    datasets = ("digits_sr", "photos_sr", "folder_sr", "digits_blind")
    task = "sr"

    def loss(self, model, process, batch, generator):
        """MSE(f(y), x_HR) (Eq. 05.2: its minimiser is the posterior mean)."""
        return F.mse_loss(model(batch["y"]).float(), batch["x"].float())

    @torch.no_grad()
    def restore(self, model, process, y, seeds=None, **options):
        """f(y): one network evaluation, deterministic (``seeds`` are ignored)."""
        self.last_nfe = 1
        return model(y)


@register_method
class SRCNNMethod(OneShotRegression):
    """SRCNN 9-5-5 with a global residual over bicubic (VDSR-style), trained with MSE."""

    name = "srcnn"
    Config = SRCNNConfig
    legacy_kinds = ("srcnn",)

    @classmethod
    def example(cls) -> dict:
        """SRCNN with 8 and 4 filters for digits ×4."""
        return {
            "name": "example_srcnn",
            "dataset": "digits_sr:4",
            "method": "srcnn",
            "model": {"channels": 1, "scale": 4, "n1": 8, "n2": 4},
            **EXAMPLE_RUN,
        }

    def build(self) -> nn.Module:
        """``SRCNN(channels, scale, n1, n2)``."""
        c = self.config
        return SRCNN(channels=c.channels, scale=c.scale, n1=c.n1, n2=c.n2)


@register_method
class RegressionUNetMethod(OneShotRegression):
    """x̂ = U(y) + g(U(y)) with SR3's U-Net backbone and no timestep (Eq. 05.1), trained with MSE."""

    name = "regression_unet"
    Config = RegressionUNetConfig
    legacy_kinds = ("regression_unet",)

    @classmethod
    def example(cls) -> dict:
        """A width-8 regression U-Net for digits ×4."""
        return {
            "name": "example_regression_unet",
            "dataset": "digits_sr:4",
            "method": "regression_unet",
            "model": {"channels": 1, "scale": 4, "base_channels": 8, "channel_mults": [1, 2], "attention": False},
            **EXAMPLE_RUN,
        }

    def build(self) -> nn.Module:
        """``RegressionUNet(channels, scale, **args)`` (T from the config, unused: there is no time embedding)."""
        kwargs = self.network_args()
        return RegressionUNet(channels=self.config.channels, scale=self.config.scale, **kwargs)


@register_method
class RRDBMethod(OneShotRegression):
    """ESRGAN's RRDB network as a one-shot baseline, trained with L1 (SRDiff's pretraining of its LR encoder; lesson 09)
    or MSE. The shipped ``digits_rrdb`` is both a baseline row and SRDiff's frozen encoder."""

    name = "rrdb"
    Config = RRDBConfig

    @classmethod
    def example(cls) -> dict:
        """A width-8, 2-block RRDB for digits ×4."""
        return {
            "name": "example_rrdb",
            "dataset": "digits_sr:4",
            "method": "rrdb",
            "model": {"channels": 1, "scale": 4, "nf": 8, "blocks": 2, "gc": 4},
            **EXAMPLE_RUN,
        }

    def build(self) -> nn.Module:
        """``RRDBNet(channels, scale, nf, blocks, gc)``."""
        c = self.config
        if c.loss not in ("l1", "mse", "mse_fft_dwt"):
            raise ValueError(f"model.loss must be 'l1', 'mse' or 'mse_fft_dwt', got {c.loss!r}")
        return RRDBNet(channels=c.channels, scale=c.scale, nf=c.nf, blocks=c.blocks, gc=c.gc)

    def loss(self, model, process, batch, generator):
        """L1 (or MSE, or ResDiff's MSE + FFT + DWT) between f(y) and HR."""
        if self.config.loss == "mse":
            return super().loss(model, process, batch, generator)
        if self.config.loss == "mse_fft_dwt":
            return resdiff_cnn_loss(model(batch["y"]), batch["x"])
        return F.l1_loss(model(batch["y"]).float(), batch["x"].float())
