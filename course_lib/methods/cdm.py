"""A cascade's SR stage with conditioning augmentation (CDM: Ho, Saharia, Chan, Fleet, Norouzi & Salimans, JMLR 2022)
· 级联扩散 / 条件增强: lesson 07.

Training (Eq. 07.2–07.3): draw s uniformly from 0 … ``max_aug_level`` − 1 per image, corrupt the LR image to
z_s = √ᾱ_s y + √(1 − ᾱ_s) ε, give the network (x_t, U(z_s), s) and train L_simple (Eq. 02.4) on the HR image. With
``augment=False`` the same stage is trained on clean y (s = 0 always) and is not told s. Sampling (:meth:`restore`)
corrupts y to a fixed level ``aug_level`` (each image's ε from its own generator, drawn before its x_T), then
samples with any sampler. Read beside ``lucidrains/imagen-pytorch`` ``imagen_pytorch.py`` (``p_losses``:
``lowres_aug_times``; sampling's ``lowres_sample_noise_level``), which noises the upsampled image with its own
schedule; here the LR image itself is noised by the stage's own schedule, as "the LR input noised to level s".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch
from torch import nn

from ..checks import check_int
from ..device import make_generator, per_image_generators, randn
from ..models import CascadeSR, UNet, augment_lr
from ..samplers import ProgressBar, clip_x0, make_sampler, sample
from .base import EXAMPLE_RUN, Method, MethodConfig, register_method

__all__ = ["CDMConfig", "CascadeSRMethod"]


@dataclass(frozen=True)
class CDMConfig(MethodConfig):
    """``scale``: the SR factor; ``augment``: train with conditioning augmentation (and tell the network s);
    ``max_aug_level``: s is drawn from 0 … max_aug_level − 1 in training; ``args``: the concat
    :class:`~course_lib.models.UNet`'s arguments."""

    scale: int = 4
    augment: bool = True
    max_aug_level: int = 500
    args: dict = field(default_factory=dict)

    def __post_init__(self):
        check_int(self.scale, "model.scale", low=1)
        if not isinstance(self.augment, bool):
            raise ValueError(f"model.augment must be true or false, got {self.augment!r}")
        check_int(self.max_aug_level, "model.max_aug_level", low=1)


@register_method
class CascadeSRMethod(Method):
    """SR3 on the HR image, conditioned on a corrupted LR image and its level (Eq. 07.2–07.3)."""

    name = "cdm"
    Config = CDMConfig
    objective = "diffusion"
    datasets = ("digits_sr", "photos_sr", "folder_sr")
    task = "sr"

    @classmethod
    def example(cls) -> dict:
        """A width-8 augmented stage for digits ×4, T = 100, s < 50."""
        return {
            "name": "example_cdm",
            "dataset": "digits_sr:4",
            "method": "cdm",
            "T": 100,
            "prediction": "x0",
            "model": {
                "scale": 4,
                "augment": True,
                "max_aug_level": 50,
                "in_channels": 2,
                "cond_channels": 1,
                "base_channels": 8,
                "channel_mults": [1, 2],
                "attention": False,
            },
            **EXAMPLE_RUN,
        }

    @classmethod
    def check(cls, config) -> None:
        """The dataset, and ``max_aug_level`` ≤ T − 1 (a level is a timestep of the stage's own process)."""
        super().check(config)
        if config.model.max_aug_level > config.T - 1:
            raise ValueError(
                f"model.max_aug_level must be at most T − 1 = {config.T - 1}, got {config.model.max_aug_level}"
            )

    def build(self) -> nn.Module:
        """``CascadeSR(UNet(**args, aug_level_embedding=augment), scale, prediction)``."""
        net = UNet(**self.network_args(), aug_level_embedding=self.config.augment)
        return CascadeSR(net, self.config.scale, prediction=self.prediction)

    def draw_levels(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        """Training levels s ``(batch,)``: uniform in 0 … max_aug_level − 1 with augmentation, all 0 without."""
        if not self.config.augment:
            return torch.zeros(batch, dtype=torch.long, device=generator.device)
        return torch.randint(0, self.config.max_aug_level, (batch,), generator=generator, device=generator.device)

    def loss(self, model, process, batch, generator):
        """Eq. 02.4 on the HR image, the network given (U(z_s), s) with z_s of Eq. 07.2."""
        y = batch["y"]
        s = self.draw_levels(y.shape[0], generator).to(y.device)
        noise = torch.randn(y.shape, generator=generator, device=generator.device).to(y.device)
        z = augment_lr(process, y, s, noise)
        return process.loss(model, model.target(batch["x"], y), (z, s), prediction=self.prediction, generator=generator)

    def corrupt(self, process, y: torch.Tensor, aug_level: int, generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Eq. 07.2 at sampling: ``(z_s, s)`` with y corrupted to the fixed level ``aug_level`` (0: not corrupted), ε
        drawn
        from ``generator`` (one per image, or one for the batch) — the first draw :meth:`restore` makes."""
        if (
            isinstance(aug_level, bool)
            or not isinstance(aug_level, int)
            or not 0 <= aug_level <= process.num_timesteps - 1
        ):
            raise ValueError(f"aug_level must be an int in 0 … {process.num_timesteps - 1}, got {aug_level!r}")
        s = torch.full((y.shape[0],), aug_level, dtype=torch.long, device=y.device)
        return augment_lr(process, y, s, randn(tuple(y.shape), generator, y.device)), s

    @torch.no_grad()
    def restore(
        self,
        model,
        process,
        y: torch.Tensor,
        seeds: Sequence[int] | None = None,
        aug_level: int = 0,
        sampler: str = "ddim",
        steps: int | None = None,
        progress: bool = False,
        callback=None,
        **options,
    ) -> torch.Tensor:
        """The HR image from ``y`` (a base model's output or a true LR image) corrupted to level ``aug_level``
        (:meth:`corrupt`, Eq. 07.2; 0: not corrupted): image i draws the corruption's ε, then its x_T and its steps'
        noise, from ``seeds[i]`` (default: one generator seeded 0). ``options`` go to the sampler (DDIM's ``eta``)."""
        model.check_y(y)
        device = process.betas.device
        y = y.to(device)
        if seeds is not None:
            if len(seeds) != y.shape[0]:
                raise ValueError(f"seeds: expected one seed per image ({y.shape[0]}), got {len(seeds)}")
            gens = per_image_generators(seeds)
        else:
            gens = make_generator(0, device)
        z, s = self.corrupt(process, y, aug_level, gens)
        x_T = randn((y.shape[0], y.shape[1], y.shape[2] * model.scale, y.shape[3] * model.scale), gens, device)
        smp = make_sampler(sampler, process, steps, self.prediction, **options)
        cbs = [ProgressBar(f"{sampler} sampling", enabled=progress)] + ([] if callback is None else [callback])
        out = sample(model, smp, x_T, (z, s), x0_transform=clip_x0, callback=cbs, generator=gens)
        self.last_nfe = smp.nfe
        return out.clamp(-1, 1)
