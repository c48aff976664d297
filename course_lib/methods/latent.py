"""Latent super-resolution (LDM: Rombach, Blattmann, Lorenz, Esser & Ommer, CVPR 2022) · 潜在空间超分: lesson 07.

Training (Eq. 07.6): z₀ = λ · μ(x_HR) from the frozen shipped autoencoder (``autoencoder``; its weights are borrowed,
not stored again), L_simple (Eq. 02.4) on z₀ with the 8 × 8 LR image y concatenated to z_t (×4 SR with f = 4: y is
latent-sized, as in LDM's ``bsr_sr`` config, which uses a VQ-f4 autoencoder and concatenates the raw LR image).
λ = 1 / std(μ) over the whole training set, computed once before the first step (LDM's ``scale_by_std`` computes it on
its first batch); ``scale_latents: false`` keeps λ = 1 (lesson 07 shows what that does). Sampling: any sampler on
the latent, x̂₀ clipped to ±``latent_clip`` (the latent's range, not the image's), then x̂_HR = D(ẑ₀ / λ).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch
from torch import nn

from ..device import make_generator, per_image_generators, randn
from ..models import BACKBONES, Autoencoder, LatentSR, make_backbone
from ..samplers import ProgressBar, make_sampler, sample
from .base import EXAMPLE_RUN, Method, MethodConfig, register_method

__all__ = ["LatentSRConfig", "LatentSRMethod"]


@dataclass(frozen=True)
class LatentSRConfig(MethodConfig):
    """``autoencoder``: the shipped autoencoder (frozen); ``autoencoder_args``: its architecture (checked against it
    when training starts); ``scale``: the SR factor (= the autoencoder's f); ``scale_latents``: divide the latents by
    their standard deviation (Eq. 07.6); ``latent_clip``: the x̂₀ clip in scaled-latent units; ``backbone``: the
    denoiser, ``"unet"`` (lesson 07) or ``"dit"`` / ``"uvit"`` (lesson 10); ``args``: its arguments (``in_channels`` =
    latent channels + y's channels)."""

    autoencoder: str = ""
    autoencoder_args: dict = field(default_factory=dict)
    scale: int = 4
    scale_latents: bool = True
    latent_clip: float = 5.0
    backbone: str = "unet"
    args: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.backbone not in BACKBONES:
            raise ValueError(f"model.backbone must be one of {sorted(BACKBONES)}, got {self.backbone!r}")
        if not isinstance(self.autoencoder, str) or not self.autoencoder:
            raise ValueError(f"model.autoencoder must name the shipped autoencoder, got {self.autoencoder!r}")
        if not isinstance(self.scale_latents, bool):
            raise ValueError(f"model.scale_latents must be true or false, got {self.scale_latents!r}")
        if (
            isinstance(self.latent_clip, bool)
            or not isinstance(self.latent_clip, (int, float))
            or not self.latent_clip > 0
        ):
            raise ValueError(f"model.latent_clip must be a number > 0, got {self.latent_clip!r}")


@register_method
class LatentSRMethod(Method):
    """ε_θ(z_t, t, y) on the scaled latent of a frozen autoencoder, decoded at the end (see the module docstring)."""

    name = "latent_sr"
    Config = LatentSRConfig
    objective = "diffusion"
    datasets = ("digits_sr",)
    task = "sr"

    @classmethod
    def example(cls) -> dict:
        """A width-8 latent SR on the shipped ``digits_autoencoder``, T = 100."""
        return {
            "name": "example_latent_sr",
            "dataset": "digits_sr:4",
            "method": "latent_sr",
            "T": 100,
            "prediction": "x0",
            "model": {
                "autoencoder": "digits_autoencoder",
                "autoencoder_args": dict(_DIGITS_AUTOENCODER),
                "scale": 4,
                "in_channels": 5,
                "cond_channels": 1,
                "base_channels": 8,
                "channel_mults": [1, 2],
                "attention": False,
            },
            **EXAMPLE_RUN,
        }

    def build(self) -> nn.Module:
        """``LatentSR(Autoencoder(**autoencoder_args), backbone(**args), scale, prediction)``; the autoencoder's
        weights and λ come in :meth:`initialise` (training) or with the shipped file."""
        return LatentSR(
            Autoencoder(**self.config.autoencoder_args),
            make_backbone(self.config.backbone, **self.network_args()),
            self.config.scale,
            prediction=self.prediction,
        )

    def borrowed(self) -> dict[str, tuple[str, str]]:
        """The frozen autoencoder is the shipped one, unchanged."""
        return {"autoencoder.": (self.config.autoencoder, "")}

    def initialise(self, model: nn.Module, load_model) -> None:
        """The shipped autoencoder's weights (frozen), then λ = 1 / std of the training set's latent means
        (Eq. 07.6; 1 with ``scale_latents: false``)."""
        from ..datasets import load_training_set

        shipped = load_model(self.config.autoencoder)
        if not isinstance(shipped, Autoencoder):
            raise ValueError(
                f"model.autoencoder must name a shipped autoencoder, {self.config.autoencoder!r} is a "
                f"{type(shipped).__name__}"
            )
        try:
            model.autoencoder.load_state_dict(shipped.state_dict())
        except RuntimeError as err:
            raise ValueError(
                f"model.autoencoder_args must be {self.config.autoencoder!r}'s architecture: {err}"
            ) from err
        model.autoencoder.requires_grad_(False).eval()
        if self.config.scale_latents:
            model.latent_scale.fill_(
                1.0 / float(self.latent_std(model, load_training_set(self.train_config.dataset)["x"]))
            )

    @staticmethod
    @torch.no_grad()
    def latent_std(model: LatentSR, x: torch.Tensor, batch: int = 500) -> torch.Tensor:
        """The standard deviation of the autoencoder's latent means μ(x) over all of ``x`` (unscaled)."""
        device = model.latent_scale.device
        mus = torch.cat([model.autoencoder.encode(x[i : i + batch].to(device))[0] for i in range(0, len(x), batch)])
        return mus.float().std()

    def loss(self, model, process, batch, generator):
        """Eq. 02.4 on z₀ = λ μ(x_HR) (Eq. 07.6), y concatenated."""
        return process.loss(
            model, model.to_latent(batch["x"]), batch["y"], prediction=self.prediction, generator=generator
        )

    @torch.no_grad()
    def restore(
        self,
        model,
        process,
        y: torch.Tensor,
        seeds: Sequence[int] | None = None,
        sampler: str = "ddim",
        steps: int | None = None,
        progress: bool = False,
        callback=None,
        **options,
    ) -> torch.Tensor:
        """x̂_HR = D(ẑ₀ / λ) with ẑ₀ sampled on the latent given y (image i from ``seeds[i]``); ``options`` go to the
        sampler. NFE counts the denoiser; the decoder's one pass is not a network evaluation of the chain."""
        model.check_y(y)
        device = process.betas.device
        y = y.to(device)
        if seeds is not None and len(seeds) != y.shape[0]:
            raise ValueError(f"seeds: expected one seed per image ({y.shape[0]}), got {len(seeds)}")
        gens = per_image_generators(seeds) if seeds is not None else make_generator(0, device)
        z_T = randn((y.shape[0], model.autoencoder.latent_channels, *y.shape[-2:]), gens, device)
        smp = make_sampler(sampler, process, steps, self.prediction, **options)
        bound = float(self.config.latent_clip)
        cbs = [ProgressBar(f"latent {sampler} sampling", enabled=progress)] + ([] if callback is None else [callback])
        z0 = sample(
            model, smp, z_T, y, x0_transform=lambda x0, ctx: x0.clamp(-bound, bound), callback=cbs, generator=gens
        )
        self.last_nfe = smp.nfe
        return model.to_image(z0)


#: the shipped autoencoder's architecture (data/checkpoints/digits_autoencoder.json), for the example config
_DIGITS_AUTOENCODER = {"in_channels": 1, "latent_channels": 4, "width": 32, "downsamplings": 2}
