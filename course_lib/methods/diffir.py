"""DiffIR at toy scale · 紧凑先验扩散 (Xia et al., ICCV 2023; lesson 09): diffusion on a compact prior, not the image.

* **Stage 1** (``stage: 1``): CPEN_S1 reads [PixelUnshuffle(HR), y] and gives the prior z ∈ R^D; the restorer
  (:class:`~course_lib.models.diffir.PriorRestorer`) maps y to HR with every block modulated by z. Trained jointly
  with L1. At test time stage 1 needs the HR image: it is the ceiling stage 2 aims at, not an SR method.
* **Stage 2** (``stage: 2``, ``stage1``: the shipped stage-1 model): CPEN_S1 frozen (it gives the target z_S1), the
  restorer initialised from stage 1 and trained on, CPEN_S2 reads y alone (the condition c), and an MLP denoiser
  runs T = 4 deterministic reverse steps on the vector. Training starts the chain at z_T ~ q(z_T | z_S1) and runs
  **all T steps** (the unrolled chain; a random-t loss is the classic mistake), loss
  L1(restorer(y, ẑ), HR) + L1(ẑ, z_S1). Sampling: z_T ~ N(0, I) from the image's seed, four MLP calls, one restorer
  pass (NFE counted 1 + T).

What the toy keeps: the two stages, the vector prior, FiLM-style modulation of every block, the 4-step chain with its
β 0.1 → 0.99 schedule, x₀-prediction and no noise in the reverse steps, joint training through the chain. What it
drops: the DIRformer (the course's U-Net instead), the real-world degradations and the GAN and perceptual losses of
DiffIR-RealSR. Reference: ``Zj-BinXia/DiffIR`` ``DiffIR-RealSR/DiffIR/archs/S2_arch.py``,
``DiffIR-RealSR/ldm/ddpm.py`` (``DDPM.forward``), ``DiffIR-RealSR/DiffIR/models/DiffIR_S2_model.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..device import per_image_generators, randn
from ..models.diffir import CPEN, PriorDenoiser, PriorDiffusion, PriorRestorer, pixel_unshuffle_pair
from .base import EXAMPLE_RUN, Method, MethodConfig, register_method

__all__ = ["DiffIRConfig", "DiffIRNet", "DiffIRMethod"]


@dataclass(frozen=True)
class DiffIRConfig(MethodConfig):
    """``stage`` 1 or 2; ``stage1``: the shipped stage-1 model a stage-2 model starts from (its CPEN_S1 frozen);
    ``dim``: the prior's length; ``T``, ``beta_start``, ``beta_end``: the prior's diffusion; ``cpen_width``,
    ``cpen_blocks``, ``denoiser_hidden``, ``denoiser_layers``: the small networks; ``prior_weight``: the weight of
    L1(ẑ, z_S1) in stage 2's loss; ``args``: the restorer U-Net's widths."""

    stage: int = 1
    stage1: str | None = None
    channels: int = 1
    scale: int = 4
    dim: int = 64
    T: int = 4
    beta_start: float = 0.1
    beta_end: float = 0.99
    cpen_width: int = 32
    cpen_blocks: int = 2
    denoiser_hidden: int = 256
    denoiser_layers: int = 4
    prior_weight: float = 1.0
    args: dict = field(default_factory=dict)


class DiffIRNet(nn.Module):
    """Both stages' parts in one module. Stage 1: ``cpen1``, ``restorer``; stage 2 adds ``cpen2``, ``denoiser``,
    ``prior`` (:class:`~course_lib.models.diffir.PriorDiffusion`) and keeps ``cpen1`` frozen, in eval mode.

    Attributes:
        stage: 1 or 2; scale: the SR factor; nfe: network evaluations per image (1 restorer pass, plus T denoiser
        calls in stage 2).
    """

    def __init__(self, c: DiffIRConfig):
        super().__init__()
        if c.stage not in (1, 2):
            raise ValueError(f"model.stage must be 1 or 2, got {c.stage!r}")
        self.stage, self.scale, self.channels, self.prior_dim = c.stage, c.scale, c.channels, c.dim
        self.cpen1 = CPEN((c.scale**2 + 1) * c.channels, c.dim, c.cpen_width, c.cpen_blocks)
        kwargs = dict(c.args)
        if "channel_mults" in kwargs:
            kwargs["channel_mults"] = tuple(kwargs["channel_mults"])
        self.restorer = PriorRestorer(c.channels, c.scale, c.dim, **kwargs)
        if c.stage == 2:
            self.cpen2 = CPEN(c.channels, c.dim, c.cpen_width, c.cpen_blocks)
            self.denoiser = PriorDenoiser(c.dim, c.denoiser_hidden, c.denoiser_layers, c.T)
            self.prior = PriorDiffusion(c.T, c.beta_start, c.beta_end)
            self.cpen1.requires_grad_(False)

    @property
    def nfe(self) -> int:
        """Network evaluations per restored image: the restorer's pass, plus the T prior steps in stage 2."""
        return 1 + (self.prior.T if self.stage == 2 else 0)

    def train(self, mode: bool = True) -> "DiffIRNet":
        """In stage 2 the frozen CPEN_S1 stays in eval mode."""
        super().train(mode)
        if self.stage == 2:
            self.cpen1.eval()
        return self

    def prior_s1(self, hr: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """z_S1 = CPEN_S1([PixelUnshuffle(HR), y]): the prior read from the HR image."""
        return self.cpen1(pixel_unshuffle_pair(hr, y, self.scale))

    def prior_s2(self, y: torch.Tensor, z_T: torch.Tensor, trace: list | None = None) -> torch.Tensor:
        """ẑ = the T reverse steps from ``z_T``, conditioned on c = CPEN_S2(y) (stage 2 only)."""
        if self.stage != 2:
            raise ValueError("prior_s2 needs a stage-2 model (stage 1 reads its prior from the HR image: prior_s1)")
        return self.prior.reverse(self.denoiser, z_T, self.cpen2(y), trace)

    def forward(self, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The restorer on y, modulated by the prior z."""
        return self.restorer(y, z)


@register_method
class DiffIRMethod(Method):
    """DiffIR's stage 1 or stage 2 (see the module docstring)."""

    name = "diffir"
    Config = DiffIRConfig
    objective = "regression"  # no image diffusion: the prior's 4-step chain lives inside the network
    datasets = ("digits_sr",)
    task = "sr"

    @classmethod
    def example(cls) -> dict:
        """A stage-2 DiffIR for digits ×4 on the shipped stage 1 (``digits_diffir_s1``)."""
        return {
            "name": "example_diffir",
            "dataset": "digits_sr:4",
            "method": "diffir",
            "model": {"stage": 2, "stage1": "digits_diffir_s1", **_DIGITS_DIFFIR, "denoiser_hidden": 32},
            **EXAMPLE_RUN,
        }

    @classmethod
    def check(cls, config) -> None:
        """Stage 2 names its stage 1."""
        super().check(config)
        if config.model.stage == 2 and not config.model.stage1:
            raise ValueError("model.stage1 must name the shipped stage-1 model a stage-2 DiffIR starts from, got None")

    def build(self) -> nn.Module:
        """``DiffIRNet(config)``; a stage-2 model's CPEN_S1 and restorer come from ``stage1`` in :meth:`initialise`."""
        return DiffIRNet(self.config)

    def borrowed(self) -> dict[str, tuple[str, str]]:
        """Stage 2's frozen CPEN_S1 is stage 1's, unchanged (its restorer trains on: it is stored)."""
        return {"cpen1.": (self.config.stage1, "cpen1.")} if self.config.stage == 2 else {}

    def initialise(self, model: nn.Module, load_model) -> None:
        """Stage 2: CPEN_S1 (frozen) and the restorer (trained on) from the shipped stage-1 model."""
        if self.config.stage != 2:
            return
        shipped = load_model(self.config.stage1)
        if getattr(shipped, "stage", None) != 1:
            raise ValueError(f"model.stage1 must name a stage-1 DiffIR model, {self.config.stage1!r} is not one")
        try:
            model.cpen1.load_state_dict(shipped.cpen1.state_dict())
            model.restorer.load_state_dict(shipped.restorer.state_dict())
        except RuntimeError as err:
            raise ValueError(f"the stage-2 config must keep {self.config.stage1!r}'s architecture: {err}") from err
        model.cpen1.requires_grad_(False).eval()

    def loss(self, model, process, batch, generator):
        """Stage 1: L1(restorer(y, z_S1), HR). Stage 2: the whole reverse chain from z_T ~ q(z_T | z_S1), then
        L1(restorer(y, ẑ), HR) + prior_weight · L1(ẑ, z_S1)."""
        hr, y = batch["x"].float(), batch["y"].float()
        if model.stage == 1:
            return F.l1_loss(model(y, model.prior_s1(hr, y)), hr)
        with torch.no_grad():
            z_s1 = model.prior_s1(hr, y)
        noise = randn(z_s1.shape, generator, z_s1.device)
        z = model.prior_s2(y, model.prior.q_sample(z_s1, noise))
        return F.l1_loss(model(y, z), hr) + self.config.prior_weight * F.l1_loss(z, z_s1)

    @torch.no_grad()
    def restore(
        self,
        model,
        process,
        y: torch.Tensor,
        seeds: Sequence[int] | None = None,
        prior: str = "sampled",
        hr: torch.Tensor | None = None,
        **options,
    ) -> torch.Tensor:
        """x̂ from y: stage 2 samples the prior (``prior="sampled"``: z_T from image i's ``seeds[i]``, four
        deterministic steps) or takes stage 1's from ``hr`` (``prior="stage1"``, the ceiling); stage 1 needs ``hr``."""
        if options:
            raise TypeError(f"DiffIR's restore takes seeds, prior and hr, got {sorted(options)}")
        if prior not in ("sampled", "stage1"):
            raise ValueError(f"prior must be 'sampled' or 'stage1', got {prior!r}")
        if model.stage == 1 or prior == "stage1":
            if hr is None:
                raise ValueError("hr: stage 1's prior is read from the HR image; pass hr (B, C, s·h, s·w), got None")
            z = model.prior_s1(hr, y)
            self.last_nfe = 1
        else:
            z = self.sample_prior(model, y, seeds)
            self.last_nfe = model.nfe
        return model(y, z)

    @torch.no_grad()
    def sample_prior(self, model, y: torch.Tensor, seeds: Sequence[int] | None = None) -> torch.Tensor:
        """Stage 2's ẑ for y ``(B, D)``: z_T from image i's ``seeds[i]`` (one generator for all when ``None``), then
        the four deterministic steps — the prior :meth:`restore` steers the restorer with."""
        gens = per_image_generators(seeds) if seeds is not None else torch.Generator(y.device).manual_seed(0)
        return model.prior_s2(y, randn((y.shape[0], model.prior_dim), gens, y.device))


#: the shipped model's architecture (data/checkpoints/digits_diffir_s1.json), for the example config
_DIGITS_DIFFIR = {
    "dim": 64,
    "args": {"base_channels": 16, "channel_mults": [1, 2, 4], "num_res_blocks": 1, "attention": True},
}
