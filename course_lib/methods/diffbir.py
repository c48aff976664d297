"""DiffBIR at toy scale · 盲复原 (Lin et al., ECCV 2024; lesson 08): blind restoration in two stages.

* **Stage 1** removes the degradation: a small CNN restorer trained with MSE (the shipped ``digits_blind_restorer``,
  method ``regression_unet`` at scale 1) — high PSNR, blurry (the posterior mean of lesson 05).
* **Stage 2** puts the detail back with a generative prior: the shipped **unconditional** digits model, frozen, steered
  by a :class:`~course_lib.models.controlnet.ControlNet` that reads [x_t, stage-1 output] — trained with L_simple
  (Eq. 02.4) on (clean digit, degraded digit) pairs, the degraded one passed through stage 1 first.

The trained network, :class:`DiffBIRNet`, holds all three parts (frozen stage 1, frozen base, trainable control), so
the shipped file restores on its own: ``restore(model, process, degraded)`` runs stage 1 once, then samples. Both
frozen parts are loaded from the shipped models named in the config by :meth:`DiffBIRMethod.initialise`, before the
trainer copies the EMA; the control starts as a copy of the *trained* encoder.

What the toy keeps of DiffBIR: the two stages and their order, the frozen generative U-Net, a ControlNet copy of its
encoder joined by zero convolutions, the control strength. What it drops: the latent space (Stable Diffusion's
autoencoder), the text prompt, the wavelet colour fix and the restoration-guided sampling of later versions.
Reference: ``XPixelGroup/DiffBIR`` ``diffbir/model/cldm.py`` (``ControlLDM``, ``control_scales``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch
from torch import nn

from ..device import per_image_generators, randn
from ..models import RegressionUNet, UNet
from ..models.controlnet import ControlledUNet, ControlNet
from ..samplers import ProgressBar, clip_x0, make_sampler, sample
from .base import EXAMPLE_RUN, Method, MethodConfig, register_method

__all__ = ["DiffBIRConfig", "DiffBIRNet", "DiffBIRMethod"]


@dataclass(frozen=True)
class DiffBIRConfig(MethodConfig):
    """``base``: the shipped unconditional model (frozen); ``stage1``: the shipped restorer (frozen); ``args``: the
    base U-Net's arguments (must match the shipped base); ``stage1_args``: the restorer's; ``strength``: the control
    weight the model is trained and, by default, sampled with."""

    base: str = "digits_unet"
    stage1: str = "digits_blind_restorer"
    args: dict = field(default_factory=dict)
    stage1_args: dict = field(default_factory=dict)
    strength: float = 1.0


class DiffBIRNet(nn.Module):
    """Stage 1 and stage 2 in one module: ``restore_stage1(degraded)`` and ``forward(x_t, t, cleaned)``, the latter an
    ε-prediction of the controlled frozen base (:class:`~course_lib.models.controlnet.ControlledUNet`).

    Attributes:
        stage1: the frozen restorer; unet: the controlled base; prediction: ``"eps"`` (the base's).
    """

    prediction = "eps"

    def __init__(self, base: UNet, stage1: nn.Module, strength: float = 1.0):
        super().__init__()
        self.stage1 = stage1.requires_grad_(False)
        self.unet = ControlledUNet(base, cond_channels=base.x_channels, strength=strength)

    @property
    def strength(self) -> float:
        """The control strength (0: the unconditional base; 1: as trained)."""
        return self.unet.strength

    @strength.setter
    def strength(self, value: float) -> None:
        if not value >= 0:
            raise ValueError(f"strength must be >= 0, got {value!r}")
        self.unet.strength = float(value)

    def train(self, mode: bool = True) -> "DiffBIRNet":
        """Train mode for the control only (both frozen stages stay in eval mode)."""
        super().train(mode)
        self.stage1.eval()
        self.unet.base.eval()
        return self

    @torch.no_grad()
    def restore_stage1(self, degraded: torch.Tensor) -> torch.Tensor:
        """Stage 1: the restorer's output ``(B, C, H, W)`` in [-1, 1] for the degraded images (same size)."""
        return self.stage1.eval()(degraded).clamp(-1, 1)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, cleaned: torch.Tensor) -> torch.Tensor:
        return self.unet(x_t, t, cleaned)


@register_method
class DiffBIRMethod(Method):
    """DiffBIR's stage 2 on the frozen digits model (see the module docstring): trains the ControlNet only."""

    name = "diffbir"
    Config = DiffBIRConfig
    datasets = ("digits_blind",)
    task = "blind"  # restore() maps a degraded image to a restored one of the same size

    @classmethod
    def example(cls) -> dict:
        """Two steps of training a control for the shipped digits model on degraded copies of 64 digits."""
        return {
            "name": "example_diffbir",
            "dataset": "digits_blind:1:64",
            "method": "diffbir",
            "model": {"args": _DIGITS_UNET, "stage1_args": _RESTORER},
            **EXAMPLE_RUN,
            "autocast": False,
        }

    def build(self) -> nn.Module:
        """``DiffBIRNet(UNet(**args), RegressionUNet(**stage1_args))``; the weights come in :meth:`initialise`."""
        c = self.config
        stage1 = RegressionUNet(**{"channels": 1, "scale": 1, **c.stage1_args})
        return DiffBIRNet(UNet(**self.network_args()), stage1, c.strength)

    def borrowed(self) -> dict[str, tuple[str, str]]:
        """The frozen base U-Net and the frozen stage-1 restorer are the shipped ``base`` and ``stage1``, unchanged."""
        return {"unet.base.": (self.config.base, ""), "stage1.": (self.config.stage1, "")}

    def initialise(self, model: nn.Module, load_model) -> None:
        """The frozen parts from the shipped ``base`` and ``stage1`` models, then the control as a fresh copy of the
        trained base's encoder (zero convolutions, so the pipeline starts as the base exactly)."""
        base, stage1 = load_model(self.config.base), load_model(self.config.stage1)
        try:
            model.unet.base.load_state_dict(base.state_dict())
            model.stage1.load_state_dict(stage1.state_dict())
        except RuntimeError as err:
            raise ValueError(
                f"model.args / model.stage1_args must match the shipped {self.config.base!r} and "
                f"{self.config.stage1!r}: {err}"
            ) from err
        device = next(model.parameters()).device
        model.unet.control = ControlNet(model.unet.base, model.unet.control.cond_channels).to(device)
        model.unet.base.requires_grad_(False)
        model.stage1.requires_grad_(False)
        self.net = model  # the loss runs stage 1 through it, whatever wraps the model for training

    def loss(self, model, process, batch, generator):
        """L_simple (Eq. 02.4) of the controlled base, conditioned on stage 1's restoration of the degraded input."""
        net = getattr(self, "net", None)
        if net is None:
            raise RuntimeError("the diffbir method needs its frozen parts: the trainer calls initialise() first")
        cleaned = net.restore_stage1(batch["y"])
        return process.loss(model, batch["x"], cleaned, prediction="eps", generator=generator)

    @torch.no_grad()
    def restore(
        self,
        model: DiffBIRNet,
        process,
        y: torch.Tensor,
        seeds: Sequence[int] | None = None,
        sampler: str = "ddim",
        steps: int = 50,
        strength: float | None = None,
        progress: bool = False,
        **options,
    ) -> torch.Tensor:
        """Stage 1, then stage 2: ``steps`` of ``sampler`` (image i from its own generator when ``seeds`` are
        given) with the control at ``strength`` (default: as trained). ``y`` is the degraded image, full size;
        ``progress`` shows a progress bar."""
        old = model.strength
        if strength is not None:
            model.strength = strength
        try:
            cleaned = model.restore_stage1(y)
            gens = per_image_generators(seeds) if seeds is not None else torch.Generator(y.device).manual_seed(0)
            x_T = randn(y.shape, gens, y.device)
            smp = make_sampler(sampler, process, steps, "eps", **options)
            out = sample(
                model,
                smp,
                x_T,
                cond=cleaned,
                generator=gens,
                x0_transform=clip_x0,
                callback=ProgressBar(f"DiffBIR {sampler}", enabled=progress),
            )
            self.last_nfe = smp.nfe
            return out.clamp(-1, 1)
        finally:
            model.strength = old


#: the shipped models' architectures, for the example config
_DIGITS_UNET = {
    "in_channels": 1,
    "base_channels": 32,
    "channel_mults": [1, 2, 2],
    "num_res_blocks": 1,
    "attention": True,
    "time_embedding": "sinusoidal",
    "time_injection": "scale_shift",
}
_RESTORER = {"base_channels": 16, "channel_mults": [1, 2, 2], "num_res_blocks": 1, "attention": False}
