"""Unconditional DDPM (Ho, Jain & Abbeel, NeurIPS 2020) · 无条件扩散: lessons 02–03, and the prior DDNM builds on.

The network ε_θ(x_t, t) — a :class:`~course_lib.models.UNet` for images or a :class:`~course_lib.models.MLPDenoiser`
for 2-D points — is trained with L_simple (Eq. 02.4; or the x₀ / v target) and sampled by any registered sampler.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch
from torch import nn

from .._compat import deprecated
from ..device import per_image_generators, randn
from ..images import check_finite
from ..models import MLPDenoiser, UNet
from ..samplers import ProgressBar, clip_x0, make_sampler, sample
from .base import EXAMPLE_RUN, Method, MethodConfig, register_method

__all__ = ["DDPMConfig", "DDPM", "NETWORKS"]

NETWORKS = {"unet": UNet, "mlp": MLPDenoiser}


@dataclass(frozen=True)
class DDPMConfig(MethodConfig):
    """``network``: ``"unet"`` (images) or ``"mlp"`` (points); ``args``: its constructor arguments (``T`` defaults to
    the config's T)."""

    network: str = "unet"
    args: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.network not in NETWORKS:
            raise ValueError(f"model.network must be one of {sorted(NETWORKS)}, got {self.network!r}")


@register_method
class DDPM(Method):
    """ε_θ(x_t, t) trained with Eq. 02.4; :meth:`generate` samples it. ``prediction`` travels on the network."""

    name = "ddpm"
    Config = DDPMConfig
    objective = "diffusion"
    datasets = ("digits", "toy2d")
    task = "generate"
    legacy_kinds = ("unet", "mlp")

    @classmethod
    def example(cls) -> dict:
        """A 2-level U-Net of width 8 on the digits, T = 100."""
        return {
            "name": "example_ddpm",
            "dataset": "digits",
            "method": "ddpm",
            "T": 100,
            "model": {
                "network": "unet",
                "in_channels": 1,
                "base_channels": 8,
                "channel_mults": [1, 2],
                "attention": False,
            },
            **EXAMPLE_RUN,
        }

    def build(self) -> nn.Module:
        """The network of ``config.network`` with ``config.args`` (T from the config); ``model.prediction`` set."""
        kwargs = self.network_args()
        model = NETWORKS[self.config.network](**kwargs)
        model.prediction = self.prediction
        return model

    def loss(self, model, process, batch, generator):
        """L_simple (Eq. 02.4) on ``batch["x"]``, or the x₀ / v target of ``prediction``."""
        return process.loss(model, batch["x"], None, prediction=self.prediction, generator=generator)

    @torch.no_grad()
    def ddnm(
        self,
        model,
        process,
        operator,
        y: torch.Tensor,
        shape: Sequence[int],
        seeds: Sequence[int] | None = None,
        sampler: str = "posterior",
        steps: int | None = 100,
        sigma_y: float = 0.0,
        progress: bool = False,
        **options,
    ) -> torch.Tensor:
        """Zero-shot restoration with DDNM (lesson 08): the unconditional model restores y = A x for any linear
        ``operator`` (``A``, ``A_pinv``) by the range–null-space step at every evaluation
        (:func:`~course_lib.samplers.ddnm.ddnm_transform`; DDNM+ when ``sigma_y`` > 0, in y's units).

        Args:
            y: the measurements (the operator's output); shape: one restored image's ``(C, H, W)``; seeds: image i's
                x_T and noise from its own generator.
            sampler, steps, options: the sampler (default the posterior sampler, 100 steps; ``travel_length`` and
                ``travel_repeat`` for time travel).

        Returns:
            ``(B, C, H, W)`` **before** any clip (A x̂ = y to float precision); ``last_nfe`` holds the NFE.
        """
        from ..samplers import ddnm_transform

        check_finite(y, "y", "finite measurements (the operator's output)")
        gens = per_image_generators(seeds) if seeds is not None else torch.Generator(y.device).manual_seed(0)
        x_T = randn((y.shape[0], *shape), gens, y.device)
        s = make_sampler(sampler, process, steps, self.prediction, **options)
        out = sample(
            model,
            s,
            x_T,
            None,
            x0_transform=ddnm_transform(operator, y, sigma_y),
            callback=ProgressBar(f"DDNM {sampler}", enabled=progress),
            generator=gens,
        )
        self.last_nfe = s.nfe
        return out

    #: the name of 0.4 (kept for one release)
    restore_linear = deprecated(lambda self, *a, **k: self.ddnm(*a, **k), "DDPM.restore_linear", "DDPM.ddnm")

    def restore(
        self, model, process, y: torch.Tensor, seeds: Sequence[int] | None = None, scale: int | None = None, **options
    ) -> torch.Tensor:
        """**DDNM** zero-shot SR — an unconditional model has no SR of its own: this is the :class:`Method` interface
        (what the harness and ``Pretrained.restore`` call) running :meth:`ddnm` with A = area downsampling ×
        ``scale`` (required), the result ``(B, C, s·h, s·w)`` clipped to [-1, 1]. ``options`` as :meth:`ddnm`."""
        from ..operators import AreaOperator

        if scale is None:
            raise ValueError("scale: expected the SR factor (an int), got None — DDNM needs the degradation A")
        op = AreaOperator(scale)
        B, C, h, w = y.shape
        return self.ddnm(model, process, op, y, (C, h * op.scale, w * op.scale), seeds, **options).clamp(-1, 1)

    def generate(
        self,
        model,
        process,
        seeds: Sequence[int],
        shape: Sequence[int],
        sampler: str = "ddim",
        steps: int | None = None,
        clip: bool = True,
        progress: bool = False,
        **options,
    ) -> torch.Tensor:
        """``len(seeds)`` samples of ``shape`` ``(C, H, W)`` (or ``(D,)``), image i from its own generator.

        ``options`` go to the sampler (e.g. ``eta``); ``clip`` clips x̂₀ to [-1, 1] at every step."""
        gens = per_image_generators(seeds)
        x_T = randn((len(gens), *shape), gens, process.betas.device)
        s = make_sampler(sampler, process, steps, self.prediction, **options)
        out = sample(
            model,
            s,
            x_T,
            None,
            x0_transform=clip_x0 if clip else None,
            callback=ProgressBar(f"{sampler} sampling", enabled=progress),
            generator=gens,
        )
        self.last_nfe = s.nfe
        return out
