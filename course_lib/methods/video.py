"""Video SR with a temporal condition · 视频超分 (lesson 12): SR3 that also sees the warped previous frame.

``"video_sr3"`` is lesson 04's concatenation SR3 with one more input channel, the previous frame warped to the
current one (Eq. 12.4, :class:`~course_lib.models.TemporalSR3`) — StableVSR's temporal conditioning (Rota et al.,
ECCV 2024) at toy scale. It starts from the shipped ``digits_sr3_concat`` (``init_from``: the new input starts at
zero weight, so step 0 *is* the image model) and trains on ``digits_video`` frame pairs.

**What it trains on, what it is tested on.** In training the previous frame is the warped *HR* frame — on these
clips exactly the current HR frame — so a network shown it clean would learn to copy it. It is corrupted first
(:meth:`VideoSR3Method.corrupt`): Gaussian noise of a standard deviation drawn uniformly in [0, ``previous_noise``],
and with probability ``previous_drop`` replaced by U(y) (no previous frame: how the first frame of a clip is made).
At test time the previous frame is the model's *own* previous output, which errs differently (a plausible wrong
stroke, not noise): the gap between the two is exposure bias, and lesson 12 measures the model both ways
(:meth:`VideoSR3Method.restore_clip` with ``previous="own"`` or the HR clip).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from ..models import TemporalSR3, make_backbone, pack_previous
from ..operators import upsample
from ..video import frame_pairs, warp
from .base import EXAMPLE_RUN, register_method
from .sr3 import SR3Config, SR3Method

__all__ = ["VideoSR3Config", "VideoSR3Method"]


@dataclass(frozen=True)
class VideoSR3Config(SR3Config):
    """SR3's fields and the corruption of the previous frame in training: ``previous_noise`` (the largest noise
    standard deviation, drawn uniformly per image) and ``previous_drop`` (the share replaced by U(y))."""

    previous_noise: float = 0.5
    previous_drop: float = 0.2

    def __post_init__(self):
        super().__post_init__()
        if self.backbone != "unet":
            raise ValueError(f"model.backbone: video_sr3 needs the concat U-Net, got {self.backbone!r}")
        if not 0 <= self.previous_noise:
            raise ValueError(f"model.previous_noise must be >= 0, got {self.previous_noise!r}")
        if not 0 <= self.previous_drop <= 1:
            raise ValueError(f"model.previous_drop must be in [0, 1], got {self.previous_drop!r}")


@register_method
class VideoSR3Method(SR3Method):
    """SR3 conditioned on y and the warped previous frame (Eq. 12.4), trained on corrupted warped HR frames."""

    name = "video_sr3"
    Config = VideoSR3Config
    datasets = ("digits_video",)
    legacy_kinds = ()

    @classmethod
    def example(cls) -> dict:
        """A width-8 temporal SR3 on two training clips."""
        return {
            "name": "example_video_sr3",
            "dataset": "digits_video:4:2",
            "method": "video_sr3",
            "T": 100,
            "prediction": "x0",
            "model": {
                "scale": 4,
                "residual": True,
                "in_channels": 3,
                "cond_channels": 2,
                "base_channels": 8,
                "channel_mults": [1, 2],
                "attention": False,
            },
            **EXAMPLE_RUN,
        }

    def training_set(self, name: str) -> dict[str, torch.Tensor]:
        """``"digits_video:S:N"``: :func:`course_lib.video.frame_pairs` of N training clips at scale S."""
        parts = str(name).split(":")
        if len(parts) != 3 or parts[0] != "digits_video" or not (parts[1].isdigit() and parts[2].isdigit()):
            raise ValueError(f"dataset: video_sr3 trains on 'digits_video:SCALE:CLIPS', got {name!r}")
        if int(parts[1]) != self.config.scale:
            raise ValueError(f"dataset {name!r}: its scale must be the model's ({self.config.scale})")
        return frame_pairs(int(parts[2]), int(parts[1]))

    def build(self) -> TemporalSR3:
        """``TemporalSR3(UNet(**args), scale, residual, residual_scale, prediction)``."""
        c = self.config
        return TemporalSR3(
            make_backbone("unet", **self.network_args()),
            c.scale,
            prediction=self.prediction,
            residual=c.residual,
            residual_scale=c.residual_scale,
            clip_residual=c.clip_residual,
        )

    def corrupt(self, previous: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The training input for the previous frame: ``previous`` + σ·ε with σ ~ U(0, previous_noise) per image,
        and with probability ``previous_drop`` U(y) instead (see the module docstring)."""
        B = previous.shape[0]
        shape = (B,) + (1,) * (previous.dim() - 1)
        sigma = torch.rand(shape, generator=generator, device=previous.device) * self.config.previous_noise
        noisy = previous + sigma * torch.randn(previous.shape, generator=generator, device=previous.device)
        drop = torch.rand(shape, generator=generator, device=previous.device) < self.config.previous_drop
        return torch.where(drop, self.first_previous(y), noisy)

    def loss(self, model, process, batch, generator):
        """Eq. 02.4 on Eq. 04.4's target, conditioned on y and the corrupted warped previous HR frame."""
        if "previous" not in batch:
            raise ValueError("video_sr3 trains on frame pairs with a 'previous' tensor (dataset 'digits_video:S:N')")
        previous = self.corrupt(batch["previous"], batch["y"], generator)
        cond = pack_previous(batch["y"], previous, self.config.scale)
        x0 = model.target(batch["x"], cond)
        return process.loss(model, x0, cond, prediction=self.prediction, generator=generator)

    def first_previous(self, y: torch.Tensor) -> torch.Tensor:
        """The previous frame of a clip's first frame: U(y) (what ``previous_drop`` trained it on)."""
        return upsample(y, self.config.scale, "bicubic").clamp(-1, 1)

    @torch.no_grad()
    def restore(self, model, process, y, seeds=None, previous: torch.Tensor | None = None, **options):
        """One frame: ``y`` ``(B, C, h, w)`` with the warped ``previous`` frame ``(B, C, s·h, s·w)`` (default:
        U(y), as for a clip's first frame); SR3's sampling options."""
        if previous is None:
            previous = self.first_previous(y)
        return super().restore(model, process, pack_previous(y, previous, self.config.scale), seeds=seeds, **options)

    @torch.no_grad()
    def restore_clip(
        self,
        model,
        process,
        y: torch.Tensor,
        shifts: torch.Tensor,
        seeds: Sequence[Sequence[int]],
        previous: str | torch.Tensor = "own",
        **options,
    ) -> torch.Tensor:
        """Clips frame by frame: ``y`` ``(N, F, C, h, w)``, ``shifts`` ``(N, F − 1, 2)``, ``seeds[n][f]`` the seed
        of clip n's frame f. ``previous="own"``: frame f sees warp(its own output f − 1) (how the model is used);
        an HR tensor ``(N, F, C, H, W)``: it sees warp(HR f − 1) (the oracle, what it was trained on, uncorrupted).
        Returns ``(N, F, C, H, W)``."""
        N, F_ = y.shape[:2]
        if tuple(shifts.shape) != (N, F_ - 1, 2):
            raise ValueError(f"shifts must have shape ({N}, {F_ - 1}, 2), got {tuple(shifts.shape)}")
        if not isinstance(previous, torch.Tensor) and previous != "own":
            raise ValueError(f"previous must be 'own' or the HR clips (N, F, C, H, W), got {previous!r}")
        out = []
        for f in range(F_):
            if f == 0:
                prev = self.first_previous(y[:, 0])
            else:
                source = out[-1] if isinstance(previous, str) else previous[:, f - 1].to(y.device)
                prev = torch.stack([warp(source[n], shifts[n, f - 1]) for n in range(N)])
            frame_seeds = [int(seeds[n][f]) for n in range(N)]
            out.append(self.restore(model, process, y[:, f], seeds=frame_seeds, previous=prev, **options))
        return torch.stack(out, 1)
