"""SRDiff (Li et al., Neurocomputing 2022; arXiv 2021) · 残差扩散: lesson 09.

Diffusion on the **residual** over bicubic, x_r = clip(2 · (x_HR − U(y)), −1, 1) (``residual_scale = 0.5``,
``clip_residual``; the ×2 keeps the small residual from drowning in the noise), with T = 100 cosine steps, an **L1**
loss on ε, and y seen through the features of a **pretrained, frozen** RRDB encoder (the shipped ``digits_rrdb``,
itself trained with L1; :class:`~course_lib.models.SRDiffUNet`). Sampling adds U(y) back: x̂_HR = U(y) + x̂_r / 2
(:meth:`~course_lib.models.SR3.to_image`). Everything else — samplers, tiling, the projection — is SR3's.

What the toy keeps: the residual and its ×2 rescale with the clip, the frozen RRDB features of every third block added
after the U-Net's first stage, T = 100, L1 on ε. What it drops: the paper's U-Net details (Mish, weight norm, its
own ResBlocks) for the course's U-Net. Reference: ``LeiaLi/SRDiff`` ``models/diffusion.py`` (``img2res``,
``res2img``, ``p_losses``), ``configs/diffsr_base.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from ..models import SR3, RRDBNet, SRDiffUNet, UNet
from .base import EXAMPLE_RUN, register_method
from .sr3 import SR3Config, SR3Method

__all__ = ["SRDiffConfig", "SRDiffMethod"]


@dataclass(frozen=True)
class SRDiffConfig(SR3Config):
    """SR3's fields with SRDiff's defaults (residual, ×2 rescale, clipped), plus ``encoder``: the shipped RRDB to
    freeze (``None``: no encoder, y concatenated to x_t as SR3 does — lesson 09's ablation), ``encoder_args``: its
    architecture (must match the shipped one), ``every``: which feature maps (every
    third), ``loss``: ``"l1"`` (the paper's) or ``"l2"``; ``args``: the U-Net's (unconditional) arguments."""

    residual: bool = True
    residual_scale: float = 0.5
    clip_residual: bool = True
    encoder: str | None = "digits_rrdb"
    encoder_args: dict = field(default_factory=dict)
    every: int = 3
    loss: str = "l1"


@register_method
class SRDiffMethod(SR3Method):
    """SRDiff: residual diffusion with a frozen RRDB encoder (see the module docstring)."""

    name = "srdiff"
    Config = SRDiffConfig
    datasets = ("digits_sr",)
    legacy_kinds = ()

    @classmethod
    def example(cls) -> dict:
        """A width-8 SRDiff for digits ×4 on the shipped ``digits_rrdb`` encoder, T = 100."""
        return {
            "name": "example_srdiff",
            "dataset": "digits_sr:4",
            "method": "srdiff",
            "T": 100,
            "prediction": "eps",
            "model": {
                "scale": 4,
                "encoder_args": _DIGITS_RRDB,
                "in_channels": 1,
                "base_channels": 8,
                "channel_mults": [1, 2],
                "attention": False,
            },
            **EXAMPLE_RUN,
        }

    def build(self) -> nn.Module:
        """``SR3(SRDiffUNet(UNet(**args), RRDBNet(**encoder_args)), …)``; the encoder's weights come in
        :meth:`initialise`."""
        c = self.config
        if c.loss not in ("l1", "l2"):
            raise ValueError(f"model.loss must be 'l1' or 'l2', got {c.loss!r}")
        if c.encoder is None:  # the ablation: y concatenated (args must say in_channels 2, cond_channels 1)
            net = UNet(**self.network_args())
            return SR3(
                net,
                scale=c.scale,
                residual=c.residual,
                residual_scale=c.residual_scale,
                prediction=self.prediction,
                clip_residual=c.clip_residual,
            )
        encoder = RRDBNet(**{"channels": 1, "scale": c.scale, **c.encoder_args})
        net = SRDiffUNet(UNet(**self.network_args()), encoder, every=c.every)
        return SR3(
            net,
            scale=c.scale,
            residual=c.residual,
            residual_scale=c.residual_scale,
            prediction=self.prediction,
            clip_residual=c.clip_residual,
        )

    def borrowed(self) -> dict[str, tuple[str, str]]:
        """The frozen RRDB encoder is the shipped ``encoder`` model, unchanged."""
        return {"net.encoder.": (self.config.encoder, "")} if self.config.encoder else {}

    def initialise(self, model: nn.Module, load_model) -> None:
        """The frozen encoder from the shipped ``encoder`` model (pretrained with L1), before the EMA copy."""
        if self.config.encoder is None:
            return
        encoder = model.net.encoder
        shipped = load_model(self.config.encoder)
        try:
            encoder.load_state_dict(shipped.state_dict())
        except RuntimeError as err:
            raise ValueError(f"model.encoder_args must match the shipped {self.config.encoder!r}: {err}") from err
        encoder.requires_grad_(False).eval()

    def loss(self, model, process, batch, generator):
        """L_simple with SRDiff's L1 (Eq. 02.4 with |·| for ‖·‖²) on the clipped, rescaled residual."""
        x0 = model.target(batch["x"], batch["y"])
        return process.loss(
            model, x0, batch["y"], prediction=self.prediction, generator=generator, norm=self.config.loss
        )


#: the shipped encoder's architecture (data/checkpoints/digits_rrdb.json), for the example config
_DIGITS_RRDB = {"nf": 32, "blocks": 4, "gc": 16}
