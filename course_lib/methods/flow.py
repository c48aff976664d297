"""Flow-matching super-resolution · 流匹配超分 (Lipman et al., ICLR 2023; Liu et al., ICLR 2023): lesson 11.

Lesson 04's SR3-style model with two lines changed: the process is the linear path of Eq. 11.1
(:class:`~course_lib.paths.LinearPath`) and the network predicts its velocity (Eq. 11.2) — the same U-Net, the same
concatenated condition U(y), the same residual target x₀ = x_HR − U(y) (Eq. 04.4). Sampling integrates the flow ODE
with the samplers of :mod:`course_lib.samplers.flow` (Euler with 50 steps by default: the NFE of DDIM-50).

* ``source_noise`` σ_s = 1: noise → HR (in the residual's coordinates the path starts at U(y) + ε and ends at x_HR);
  a small σ_s: **lesson 11's LR → HR path** (InDI, TMLR 2023; I²SB, ICML 2023; ResShift, NeurIPS 2023) — the path
  starts at U(y) + σ_s·ε, much closer to the data;
* ``time_distribution``: the training times, uniform or SD3's logit-normal (Esser et al., ICML 2024);
* **reflow** (Liu et al. 2023, §2.2): a training set with an ``"x1"`` tensor — the sources the trained flow started
  from, coupled with the HR images it produced — trains on those pairs instead of independent draws (2-rectified
  flow), starting from the 1-rectified flow's weights (``init_from``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..paths import TIME_DISTRIBUTIONS, LinearPath
from ..samplers.flow import FLOW_PREDICTION
from .base import EXAMPLE_RUN, register_method
from .sr3 import SR3Config, SR3Method

__all__ = ["FlowSRConfig", "FlowSRMethod"]


@dataclass(frozen=True)
class FlowSRConfig(SR3Config):
    """SR3's fields (``scale``, ``residual``, ``backbone``, the network's ``args``) and the path's: ``source_noise``
    σ_s, ``time_distribution`` (``"uniform"`` or ``"logit_normal"``), ``time_scale`` (t's factor for the network)."""

    source_noise: float = 1.0
    time_distribution: str = "uniform"
    time_scale: float = 1000.0

    def __post_init__(self):
        super().__post_init__()
        if self.time_distribution not in TIME_DISTRIBUTIONS:
            raise ValueError(
                f"model.time_distribution must be one of {TIME_DISTRIBUTIONS}, got {self.time_distribution!r}"
            )
        if not isinstance(self.source_noise, (int, float)) or not self.source_noise > 0:
            raise ValueError(f"model.source_noise must be a number > 0, got {self.source_noise!r}")


@register_method
class FlowSRMethod(SR3Method):
    """SR3-style conditioning, trained by conditional flow matching (Eq. 11.4) on the linear path (Eq. 11.1)."""

    name = "flow_sr"
    Config = FlowSRConfig
    objective = "flow"
    legacy_kinds = ()

    def __init__(self, config):
        super().__init__(config)
        self.prediction = FLOW_PREDICTION

    @classmethod
    def example(cls) -> dict:
        """A width-8 concat flow for digits ×4 on the residual."""
        return {
            "name": "example_flow_sr",
            "dataset": "digits_sr:4",
            "method": "flow_sr",
            "prediction": FLOW_PREDICTION,
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

    @classmethod
    def check(cls, config) -> None:
        """SR3's checks, and ``prediction`` must be ``"velocity"`` (what a flow network outputs)."""
        super().check(config)
        if config.prediction != FLOW_PREDICTION:
            raise ValueError(
                f"prediction: a flow method's network predicts the velocity, expected {FLOW_PREDICTION!r}, "
                f"got {config.prediction!r}"
            )

    def make_process(self) -> LinearPath:
        """The linear path of Eq. 11.1 with this config's σ_s, time scale and time distribution."""
        c = self.config
        return LinearPath(c.source_noise, c.time_scale, c.time_distribution)

    def loss(self, model, process, batch, generator):
        """Eq. 11.4 on the residual x₀ = x_HR − U(y); with reflow pairs (``batch["x1"]``) the coupled sources."""
        x0 = model.target(batch["x"], batch["y"])
        return process.loss(model, x0, batch["y"], x1=batch.get("x1"), generator=generator)

    @torch.no_grad()
    def restore(
        self,
        model,
        process,
        y,
        seeds=None,
        sampler: str = "flow_euler",
        steps: int | None = None,
        progress: bool = False,
        overlap: int | None = None,
        callback=None,
        shift: float = 1.0,
        **options,
    ):
        """The flow ODE from σ_s·ε with a flow sampler (``"flow_euler"``, ``"flow_heun"``, ``"flow_midpoint"``;
        ``shift``: SD3's time shift), tiled like SR3's, image i from ``seeds[i]``."""
        options = {**options, "sampler_options": {**options.get("sampler_options", {}), "shift": shift}}
        return super().restore(
            model,
            process,
            y,
            seeds=seeds,
            sampler=sampler,
            steps=steps,
            progress=progress,
            overlap=overlap,
            callback=callback,
            **options,
        )
