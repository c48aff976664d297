"""A class-conditional DDPM with classifier-free guidance (Ho & Salimans, NeurIPS 2021 workshop) · 无分类器引导:
the groundwork of lesson 07's cascade, whose base model the learner asks for "a 7" — the toy stand-in for a prompt.

Training is L_simple (Eq. 02.4) with the label replaced by the null label ``num_classes`` with probability
``label_dropout``, so that one network learns ε_θ(x_t, t, c) and ε_θ(x_t, t, ∅). Sampling guides with weight w
(:class:`~course_lib.models.guidance.GuidedModel`: ε̃ = (1 + w) ε_c − w ε_u, diffusers' ``guidance_scale`` = 1 + w,
2 network evaluations per step).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch
from torch import nn

from ..checks import check_int
from ..models import GuidedModel, UNet
from .base import EXAMPLE_RUN, Method, MethodConfig, register_method
from .ddpm import DDPM

__all__ = ["CFGConfig", "ClassConditionalDDPM"]


#: what trains: every weight, or (with ``init_from``) only the modulation — the label embedding, the time MLP, each
#: block's time projection (the scale and shift of its features) and the normalisations' affine parameters — and the
#: first convolution (320 weights: with it frozen, no tensor before the first GroupNorm needs a gradient, and torch
#: 2.13's CPU GroupNorm backward crashes on that); the other convolutions and the attention stay the shipped
#: model's, frozen and borrowed (not stored twice)
TUNE = ("all", "modulation")


def is_modulation(name: str) -> bool:
    """Whether parameter ``name`` of a class-conditional U-Net belongs to the modulation (see :data:`TUNE`)."""
    parts = name.split(".")
    return (
        parts[0] in ("label_emb", "time_mlp", "inc")
        or "time" in parts[1:-1]
        or any(p.startswith("norm") for p in parts)
    )


@dataclass(frozen=True)
class CFGConfig(MethodConfig):
    """``num_classes``: the classes (digits: 10; label ``num_classes`` is "no label"); ``label_dropout``: the share of
    training labels replaced by it; ``args``: the :class:`~course_lib.models.UNet`'s arguments."""

    num_classes: int = 10
    label_dropout: float = 0.1
    tune: str = "all"
    label_init: float = 0.0
    args: dict = field(default_factory=dict)

    def __post_init__(self):
        check_int(self.num_classes, "model.num_classes", low=1)
        if not isinstance(self.label_init, (int, float)) or not self.label_init >= 0:
            raise ValueError(f"model.label_init must be a number >= 0, got {self.label_init!r}")
        if self.tune not in TUNE:
            raise ValueError(f"model.tune must be one of {TUNE}, got {self.tune!r}")
        if not 0.0 <= float(self.label_dropout) < 1.0:
            raise ValueError(f"model.label_dropout must be in [0, 1), got {self.label_dropout!r}")


@register_method
class ClassConditionalDDPM(Method):
    """ε_θ(x_t, t, c) with label dropout; :meth:`generate` samples the classes asked for, guided by w."""

    name = "cfg"
    Config = CFGConfig
    objective = "diffusion"
    datasets = ("digits_labels",)
    task = "generate"

    @classmethod
    def example(cls) -> dict:
        """A 2-level U-Net of width 8 on the labelled digits, T = 100, half the labels dropped."""
        return {
            "name": "example_cfg",
            "dataset": "digits_labels",
            "method": "cfg",
            "T": 100,
            "model": {
                "num_classes": 10,
                "label_dropout": 0.5,
                "in_channels": 1,
                "base_channels": 8,
                "channel_mults": [1, 2],
                "attention": False,
            },
            **EXAMPLE_RUN,
        }

    def build(self) -> nn.Module:
        """``UNet(**args, num_classes=…)`` (T from the config); ``model.prediction`` set."""
        model = UNet(**self.network_args(), num_classes=self.config.num_classes)
        model.prediction = self.prediction
        return model

    def initialise(self, model: nn.Module, load_model) -> None:
        """Started from a shipped unconditional model (``init_from``, lesson 12's editor): the label embedding starts
        at N(0, ``label_init``²) per coordinate — at 0, step 0 *is* that model, but Adam moves an embedding by about
        the learning rate per step, far too slowly beside a time embedding whose coordinates spread about 0.4; with
        ``tune="modulation"`` everything else than the modulation is frozen."""
        if self.train_config.init_from and model.label_emb is not None:
            with torch.no_grad():
                g = torch.Generator().manual_seed(self.train_config.seed)
                w = torch.randn(model.label_emb.weight.shape, generator=g) * self.config.label_init
                model.label_emb.weight.copy_(w.to(model.label_emb.weight.device))
        if self.config.tune == "modulation":
            if not self.train_config.init_from:
                raise ValueError("model.tune='modulation' fine-tunes a shipped model: give init_from")
            for name, p in model.named_parameters():
                p.requires_grad_(is_modulation(name))

    def borrowed(self) -> dict[str, tuple[str, str]]:
        """With ``tune="modulation"``: every frozen module's weights are the ``init_from`` model's."""
        if self.config.tune != "modulation":
            return {}
        model = self.build()
        frozen = sorted({n.rsplit(".", 1)[0] for n, _ in model.named_parameters() if not is_modulation(n)})
        return {f"{m}.": (self.train_config.init_from, f"{m}.") for m in frozen}

    def drop_labels(self, label: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Each label replaced by the null label ``num_classes`` with probability ``label_dropout`` (drawn from
        ``generator``, on the labels' device)."""
        keep = (
            torch.rand(label.shape, generator=generator, device=generator.device).to(label.device)
            >= self.config.label_dropout
        )
        return torch.where(keep, label, torch.full_like(label, self.config.num_classes))

    def loss(self, model, process, batch, generator):
        """L_simple (Eq. 02.4) on ``batch["x"]`` with the labels of ``batch["label"]``, a share dropped to ∅."""
        label = self.drop_labels(batch["label"].long(), generator)
        return process.loss(
            lambda x, t, cond: model(x, t, cond, label=label),
            batch["x"],
            None,
            prediction=self.prediction,
            generator=generator,
        )

    @torch.no_grad()
    def generate(
        self,
        model,
        process,
        seeds: Sequence[int],
        shape: Sequence[int],
        labels: torch.Tensor | Sequence[int] | None = None,
        w: float = 0.0,
        sampler: str = "ddim",
        steps: int | None = None,
        clip: bool = True,
        progress: bool = False,
        **options,
    ) -> torch.Tensor:
        """``len(seeds)`` samples of ``shape`` ``(C, H, W)``, image i from its own generator, of class ``labels[i]``
        guided with weight ``w`` (``labels=None``: unconditional, the null label). ``last_nfe`` counts both
        branches of a guided step."""
        net = model  # labels=None: the null label, the unconditional branch
        if labels is not None:
            label = torch.as_tensor(labels, dtype=torch.long, device=process.betas.device)
            if label.shape != (len(seeds),):
                raise ValueError(f"labels: expected one class per seed ({len(seeds)}), got shape {tuple(label.shape)}")
            net = GuidedModel(model, label, w)
        # DDPM's sampling (per-image x_T, x̂₀ clip, progress, last_nfe) with the guided network in the model's place
        return DDPM.generate(self, net, process, seeds, shape, sampler, steps, clip, progress, **options)
