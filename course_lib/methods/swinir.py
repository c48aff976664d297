"""A SwinIR-style regressor, with a pixel or a perceptual loss · Transformer 回归基线 (lesson 13: the notes' §3 table).

The Transformer era of the notes' §3 table, at toy scale: :class:`~course_lib.models.SwinIR` maps y to an HR
estimate in one evaluation, trained with

* ``loss="l1"`` — the pixel loss SwinIR trains its classical SR models with (Liang et al., ICCVW 2021), or
* ``loss="perceptual"`` — the same L1 plus a **perceptual (feature reconstruction) loss** (Johnson et al., ECCV
  2016; Eq. 13.2):

      L = ‖x̂ − x‖₁ + λ Σ_l ‖φ_l(x̂) − φ_l(x)‖² / ‖φ_l(x)‖²,

  φ_l the activations of layer l of a frozen network, each term normalised by the target's feature energy (per
  batch, not differentiated) so that λ weighs layers of any scale alike.

The feature network is **not** the course's digit classifier: that classifier's features measure realism (the
Fréchet distance, Eq. 05.3) and its labels measure agreement, so a loss on them would grade its own homework. It is
the encoder of lesson 07's autoencoder (``digits_autoencoder``, trained to reconstruct digits, no labels seen): its
activations after the full-resolution convolution and after each downsampling residual block (32², 16², 8²). Johnson
et al. used VGG-16's ImageNet features; an autoencoder's are nearly invertible, so its perceptual loss stays close to
a reweighted pixel loss — lesson 13 measures how close. The feature network's training is charged to this method
(:meth:`SwinIRMethod.trained_with`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..models import SwinIR
from .base import EXAMPLE_RUN, MethodConfig, register_method
from .regression import OneShotRegression

__all__ = ["SwinIRConfig", "SwinIRMethod", "feature_maps", "perceptual_loss"]

#: the autoencoder encoder's layers whose outputs are φ_l: after the first SiLU (32²) and each residual block (16², 8²)
FEATURE_LAYERS = (1, 3, 5)


@dataclass(frozen=True)
class SwinIRConfig(MethodConfig):
    """:class:`~course_lib.models.SwinIR`'s ``channels``, ``scale``, ``dim``, ``groups``, ``depth``, ``heads``,
    ``window``, ``mlp_ratio``, ``upsampler``; ``loss``: ``"l1"`` or ``"perceptual"``; ``feature_net``: the shipped
    autoencoder whose encoder gives φ; ``perceptual_weight``: λ of Eq. 13.2."""

    channels: int = 1
    scale: int = 4
    dim: int = 48
    groups: int = 2
    depth: int = 2
    heads: int = 3
    window: int = 4
    mlp_ratio: float = 2.0
    upsampler: str = "pixelshuffledirect"
    loss: str = "l1"
    feature_net: str = "digits_autoencoder"
    perceptual_weight: float = 1.0


def feature_maps(encoder: nn.Sequential, x: torch.Tensor, layers=FEATURE_LAYERS) -> list[torch.Tensor]:
    """φ_l(x) for each index in ``layers`` of ``encoder`` (an ``nn.Sequential``), in order."""
    out, h = [], x
    for i, module in enumerate(encoder):
        h = module(h)
        if i in layers:
            out.append(h)
        if i >= max(layers):
            break
    return out


def perceptual_loss(encoder: nn.Sequential, sr: torch.Tensor, hr: torch.Tensor, layers=FEATURE_LAYERS) -> torch.Tensor:
    """Σ_l ‖φ_l(sr) − φ_l(hr)‖² / ‖φ_l(hr)‖² (the feature term of Eq. 13.2; float32 scalar)."""
    with torch.no_grad():
        targets = feature_maps(encoder, hr.float(), layers)
    total = sr.new_zeros((), dtype=torch.float32)
    for f, g in zip(feature_maps(encoder, sr.float(), layers), targets):
        total = total + F.mse_loss(f.float(), g.float()) / g.float().pow(2).mean().clamp_min(1e-8)
    return total


@register_method
class SwinIRMethod(OneShotRegression):
    """SwinIR-style window-attention regressor, trained with L1 or L1 + a perceptual loss (Eq. 13.2)."""

    name = "swinir"
    Config = SwinIRConfig

    def __init__(self, config):
        super().__init__(config)
        self.features: nn.Module | None = None

    @classmethod
    def example(cls) -> dict:
        """A width-12, one-group SwinIR for digits ×4 with the perceptual loss."""
        return {
            "name": "example_swinir",
            "dataset": "digits_sr:4",
            "method": "swinir",
            "model": {"dim": 12, "groups": 1, "depth": 2, "heads": 2, "loss": "perceptual"},
            **EXAMPLE_RUN,
        }

    def build(self) -> nn.Module:
        """``SwinIR(channels, scale, dim, groups, depth, heads, window, mlp_ratio, upsampler)``."""
        c = self.config
        if c.loss not in ("l1", "perceptual"):
            raise ValueError(f"model.loss must be 'l1' or 'perceptual', got {c.loss!r}")
        if c.loss == "perceptual" and not c.perceptual_weight > 0:
            raise ValueError(f"model.perceptual_weight must be > 0 with the perceptual loss, got {c.perceptual_weight}")
        return SwinIR(c.channels, c.scale, c.dim, c.groups, c.depth, c.heads, c.window, c.mlp_ratio, c.upsampler)

    def trained_with(self) -> tuple[str, ...]:
        """The shipped models this one's training used: the feature network, with the perceptual loss."""
        return (self.config.feature_net,) if self.config.loss == "perceptual" else ()

    def setup(self, load_model, device) -> None:
        """With the perceptual loss: load the frozen feature network's encoder (``config.feature_net``)."""
        if self.config.loss != "perceptual":
            return
        net = load_model(self.config.feature_net)
        encoder = getattr(net, "encoder", None)
        if not isinstance(encoder, nn.Sequential) or len(encoder) <= max(FEATURE_LAYERS):
            raise ValueError(f"model.feature_net must name a shipped autoencoder, got {self.config.feature_net!r}")
        self.features = encoder.eval().requires_grad_(False)

    def loss(self, model, process, batch, generator):
        """L1(f(y), x), plus λ times the perceptual term with ``loss="perceptual"`` (Eq. 13.2)."""
        sr = model(batch["y"]).float()
        pixel = F.l1_loss(sr, batch["x"].float())
        if self.config.loss == "l1":
            return pixel
        if self.features is None:
            raise RuntimeError("the perceptual loss needs its feature network: the trainer calls setup() first")
        return pixel + self.config.perceptual_weight * perceptual_loss(self.features, sr, batch["x"])
