"""SR3-style super-resolution (Saharia et al., TPAMI 2022; arXiv 2021) · 条件扩散超分: lesson 04.

The network ε_θ(x_t, t, y) (:class:`~course_lib.models.SR3`) sees y by concatenation (Eq. 04.2) or through an LR
encoder (Eq. 04.3), and diffuses the HR image or the residual over bicubic (Eq. 04.4, SRDiff's target).
:func:`super_resolve` samples x̂_HR ~ p_θ(x | y) with any sampler; its x̂₀ hook maps each step's x̂₀ to the image,
clips it to [-1, 1] there, optionally applies the consistency projection (Eq. 04.5) and maps it back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
from torch import nn

from ..datasets import training_lr_size
from ..device import make_generator, per_image_generators, randn
from ..models import BACKBONES, SR3, TiledDenoiser, make_backbone, pad_to_tile
from ..operators import consistency_projection
from ..samplers import ProgressBar, Sampler, StepContext, Trajectory, make_sampler, sample
from .base import EXAMPLE_RUN, Method, MethodConfig, register_method

__all__ = ["SR3Config", "SR3Method", "super_resolve", "image_x0_transform", "PROJECTION_ITERATIONS", "restore_tiled"]

#: rounds of projection and clipping per sampling step (see :func:`course_lib.operators.consistency_projection`)
PROJECTION_ITERATIONS = 10


@dataclass(frozen=True)
class SR3Config(MethodConfig):
    """``scale`` s; ``residual`` / ``residual_scale``: Eq. 04.4's target x₀ = (x_HR − U(y)) / c (``clip_residual``:
    clipped to [-1, 1], as SRDiff does); ``tile``: the LR tile
    side for images larger than the training crops (default: the training crops' LR side, from the dataset);
    ``backbone``: the network, ``"unet"`` (lessons 04–09), ``"dit"`` or ``"uvit"`` (lesson 10;
    :data:`course_lib.models.BACKBONES`); ``args``: its arguments (the U-Net's ``conditioning`` ``"concat"`` or
    ``"encoder"``)."""

    scale: int = 4
    residual: bool = False
    residual_scale: float = 1.0
    clip_residual: bool = False
    tile: int | None = None
    backbone: str = "unet"
    args: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.backbone not in BACKBONES:
            raise ValueError(f"model.backbone must be one of {sorted(BACKBONES)}, got {self.backbone!r}")


def image_x0_transform(
    model: SR3, y: torch.Tensor, project: bool
) -> Callable[[torch.Tensor, StepContext], torch.Tensor]:
    """The x̂₀ hook of SR3 sampling: x̂₀ → image (clipped to [-1, 1]) → Eq. 04.5 if ``project`` → x̂₀, so that the clip
    and the projection act on the HR image whatever the target (HR or residual)."""

    def transform(x0: torch.Tensor, ctx: StepContext) -> torch.Tensor:
        img = model.to_image(x0, y)  # clipped to [-1, 1]
        if project:
            img = consistency_projection(img, y, model.scale, clip=True, iterations=PROJECTION_ITERATIONS)
        return model.target(img, y)

    return transform


@torch.no_grad()
def super_resolve(
    model: SR3 | TiledDenoiser,
    diffusion,
    y: torch.Tensor,
    sampler: str | Sampler = "ddim",
    steps: int | None = None,
    eta: float = 0.0,
    project: bool = False,
    generator: torch.Generator | Sequence[torch.Generator] | None = None,
    seed: int | None = None,
    record_every: int | None = None,
    progress: bool = True,
    prediction: str | None = None,
    x_T: torch.Tensor | None = None,
    seeds: Sequence[int] | None = None,
    callback=None,
    sampler_options: dict | None = None,
):
    """Sample x̂_HR ~ p_θ(x | y) (Eq. 04.2–04.4), optionally with the consistency projection (Eq. 04.5) at every step.

    Args:
        model: an :class:`~course_lib.models.SR3` (or a :class:`~course_lib.models.TiledDenoiser` around one), in eval
        mode.
        diffusion: its :class:`~course_lib.diffusion.GaussianDiffusion` (same device).
        y: ``(B, C, h, w)`` LR inputs in [-1, 1].
        sampler, steps, eta: a registered sampler's name (``"ddim"``, ``"ddpm"``) with its number of steps
            (``None``: the sampler's default, 50 for DDIM, all T for DDPM) and DDIM's η — or a ready
            :class:`~course_lib.samplers.Sampler`.
        project: apply Eq. 04.5 to every step's x̂₀.
        seeds: one seed per image: image i draws x_T and its noise from its own generator, so its result does not
            depend on the batch (the evaluation harness's protocol). Otherwise ``generator`` (one for the batch), or
            ``seed`` for a generator on the right device (default 0).
        prediction: the network's output type (default: the model's ``prediction``).
        x_T: the starting noise ``(B, C, s·h, s·w)`` instead of a draw.
        callback: extra :func:`course_lib.samplers.sample` callbacks (a widget's step counter).
        sampler_options: more options of a named sampler (PNDM's ``warmup``, a ``spacing``; lesson 06).

    Returns:
        ``(B, C, s·h, s·w)`` in [-1, 1]; with ``record_every``, ``(sr, trajectory)`` where the trajectory's ``x0``
        frames are HR images (``to_image`` applied), ``x_t`` the raw states and ``lr`` the input.
    """
    sr3 = model.model if isinstance(model, TiledDenoiser) else model
    if not isinstance(sr3, SR3):
        raise TypeError(f"model must be an SR3 (or a TiledDenoiser around one), got {type(model).__name__}")
    sr3.check_y(y)
    device = diffusion.device
    if seeds is not None:
        if len(seeds) != y.shape[0]:
            raise ValueError(f"seeds: expected one seed per image ({y.shape[0]}), got {len(seeds)}")
        generator = per_image_generators(seeds)
    elif generator is None:
        generator = make_generator(0 if seed is None else seed, device)
    y = y.to(device)
    shape = (y.shape[0], sr3.channels, y.shape[2] * sr3.scale, y.shape[3] * sr3.scale)
    if isinstance(sampler, Sampler):
        s, label = sampler, sampler.name
    else:
        options = {**({"eta": eta} if sampler == "ddim" else {}), **(sampler_options or {})}
        s, label = make_sampler(sampler, diffusion, steps, prediction or sr3.prediction, **options), sampler
    if x_T is None:
        # the source of the process: N(0, I), or a flow's σ_s·ε (lesson 11's LR → HR path has a small σ_s)
        x_T = randn(shape, generator, device) * diffusion.source_noise
    elif tuple(x_T.shape) != shape:
        raise ValueError(f"x_T must have shape {shape}, got {tuple(x_T.shape)}")
    trajectory = None if record_every is None else Trajectory(record_every)
    callbacks = [ProgressBar(f"{label} sampling", enabled=progress)] + ([trajectory] if trajectory else [])
    callbacks += [] if callback is None else [callback] if callable(callback) else list(callback)
    x0 = sample(
        model, s, x_T, y, x0_transform=image_x0_transform(sr3, y, project), callback=callbacks, generator=generator
    )
    if trajectory is None:
        return sr3.to_image(x0, y)
    traj = trajectory.as_dict()
    traj["x0"] = torch.stack([sr3.to_image(frame.to(y.device), y).float().cpu() for frame in traj["x0"]])
    traj["lr"] = y.float().cpu()
    return sr3.to_image(x0, y), traj


def restore_tiled(
    fn: Callable[[nn.Module, torch.Tensor], torch.Tensor],
    model: nn.Module,
    y: torch.Tensor,
    tile: int,
    overlap: int | None = None,
    always_tile: bool = False,
) -> torch.Tensor:
    """Run ``fn(net, y)`` with ``net`` the model tiled at ``tile`` LR pixels (an input smaller than a tile is padded
    first and the result cropped): how an SR method covers an image of any size. An input of one tile runs on the
    model itself (a :class:`TiledDenoiser` would pass it straight through anyway) unless ``always_tile``."""
    y_in, (h, w) = pad_to_tile(y, tile)
    net = TiledDenoiser(model, tile, overlap) if always_tile or max(y_in.shape[-2:]) > tile else model
    return fn(net, y_in)[..., : h * model.scale, : w * model.scale]


@register_method
class SR3Method(Method):
    """SR3-style conditioning on y (concat, Eq. 04.2, or encoder, Eq. 04.3) with the target of Eq. 04.4."""

    name = "sr3"
    Config = SR3Config
    objective = "diffusion"
    datasets = ("digits_sr", "photos_sr", "folder_sr")
    task = "sr"
    legacy_kinds = ("sr3",)

    @classmethod
    def example(cls) -> dict:
        """A width-8 concat SR3 for digits ×4 with the residual x₀ target, T = 100."""
        return {
            "name": "example_sr3",
            "dataset": "digits_sr:4",
            "method": "sr3",
            "T": 100,
            "prediction": "x0",
            "model": {
                "scale": 4,
                "residual": True,
                "in_channels": 2,
                "cond_channels": 1,
                "base_channels": 8,
                "channel_mults": [1, 2],
                "attention": False,
            },
            **EXAMPLE_RUN,
        }

    @property
    def tile(self) -> int:
        """The LR tile side: ``config.tile``, else the LR side of the training crops (the checkpoint's dataset)."""
        return self.config.tile or training_lr_size(self.train_config.dataset)

    def build(self) -> nn.Module:
        """``SR3(backbone(**args), scale, residual, residual_scale, prediction)``."""
        return SR3(
            make_backbone(self.config.backbone, **self.network_args()),
            prediction=self.prediction,
            scale=self.config.scale,
            residual=self.config.residual,
            residual_scale=self.config.residual_scale,
            clip_residual=self.config.clip_residual,
        )

    def loss(self, model, process, batch, generator):
        """Eq. 02.4 on Eq. 04.4's target x₀ = target(HR, y), the network conditioned on y."""
        x0 = model.target(batch["x"], batch["y"])
        return process.loss(model, x0, batch["y"], prediction=self.prediction, generator=generator)

    @torch.no_grad()
    def restore(
        self,
        model,
        process,
        y,
        seeds=None,
        sampler: str = "ddim",
        steps: int | None = None,
        eta: float = 0.0,
        project: bool = False,
        progress: bool = False,
        overlap: int | None = None,
        callback=None,
        **options,
    ):
        """:func:`super_resolve` on ``y`` of any size (tiled at :attr:`tile`), image i from ``seeds[i]``."""
        counter = []
        cbs = [lambda s: counter.append(s.nfe)] + ([] if callback is None else [callback])

        def run(net, y_in):
            return super_resolve(
                net,
                process,
                y_in,
                sampler=sampler,
                steps=steps,
                eta=eta,
                project=project,
                seeds=seeds,
                progress=progress,
                callback=cbs,
                **options,
            )

        out = restore_tiled(run, model, y, self.tile, overlap)
        self.last_nfe = counter[-1] if counter else 0
        return out
