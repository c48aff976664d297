"""Backbones · 去噪网络主干 (lesson 10): the denoisers a method can be built on, by name.

Every backbone is called as ``net(x_t, t, cond)``, has ``cond_channels`` and ``conditioning`` (how y enters: the
course's Transformers take it by concatenation, Eq. 04.2, as the U-Net's ``"concat"`` does), so that the SR3-style
wrapper and the latent SR model take any of them: a config's ``"backbone"`` picks one, its other keys are the
network's arguments.
"""

from __future__ import annotations

from torch import nn

from .dit import DiT
from .unet import UNet
from .uvit import UViT

__all__ = ["BACKBONES", "make_backbone"]

#: name → network class
BACKBONES: dict[str, type[nn.Module]] = {"unet": UNet, "dit": DiT, "uvit": UViT}


def make_backbone(name: str, **args) -> nn.Module:
    """``BACKBONES[name](**args)``, with a clear error for an unknown name or an argument the network does not take."""
    if name not in BACKBONES:
        raise ValueError(f"backbone must be one of {sorted(BACKBONES)}, got {name!r}")
    cls = BACKBONES[name]
    try:
        return cls(**args)
    except TypeError as err:
        raise ValueError(f"backbone {name!r} ({cls.__name__}): {err}") from None
