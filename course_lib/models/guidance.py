"""Classifier-free guidance (Ho & Salimans, NeurIPS 2021 workshop): one network trained with and without the label
(label dropout), sampled with the two predictions pushed apart.

The course's convention is the paper's guidance weight w:

    ε̃ = (1 + w) · ε_θ(x_t, t, c) − w · ε_θ(x_t, t, ∅)        (their Eq. 6)

w = 0 is the plain conditional model, w = −1 the unconditional one, w > 0 trades diversity for fidelity to the class.
diffusers' pipelines write the same line as ``noise_pred_uncond + guidance_scale * (noise_pred_text -
noise_pred_uncond)``: ``guidance_scale = 1 + w`` (:func:`diffusers_guidance_scale`), so diffusers' default 7.5 is
w = 6.5. The combination is linear, so it may be applied to x̂₀-predictions too (x̂₀ and ε̂ are affine in each other
at a fixed x_t and t). A guided step runs the network on both branches: it counts as 2 network evaluations
(``nfe_per_call``, which the sampling loop reads).
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["classifier_free_guidance", "diffusers_guidance_scale", "GuidedModel", "ClassifierGuidedModel"]


def _check_w(w) -> float:
    if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w):
        raise ValueError(f"w (the guidance weight) must be a finite number, got {w!r}")
    return float(w)


def classifier_free_guidance(pred_cond: torch.Tensor, pred_uncond: torch.Tensor, w: float) -> torch.Tensor:
    """(1 + w) · pred_cond − w · pred_uncond (Ho & Salimans' Eq. 6), for predictions of the same shape."""
    w = _check_w(w)
    if pred_cond.shape != pred_uncond.shape:
        raise ValueError(
            f"pred_cond and pred_uncond must have the same shape, got {tuple(pred_cond.shape)} and "
            f"{tuple(pred_uncond.shape)}"
        )
    return (1 + w) * pred_cond - w * pred_uncond


def diffusers_guidance_scale(w: float) -> float:
    """diffusers' ``guidance_scale`` for the course's weight w: 1 + w."""
    return 1.0 + _check_w(w)


class GuidedModel(nn.Module):
    """``model(x_t, t, cond)`` of a class-conditional network with guidance weight ``w``, for the sampling loop.

    Args:
        net: a network ``net(x, t, cond, label=…)`` with ``num_classes`` (label ``num_classes`` = no label), e.g. a
            :class:`~course_lib.models.UNet` built with ``num_classes``.
        label: ``(B,)`` the class of each image; w: the guidance weight (0: conditional, no second branch is run).
    """

    def __init__(self, net: nn.Module, label: torch.Tensor, w: float):
        super().__init__()
        self.net, self.w = net, _check_w(w)
        self.num_classes = int(getattr(net, "num_classes", 0))
        if self.num_classes < 1:
            raise ValueError("net must be class-conditional (num_classes >= 1) to be guided")
        if not isinstance(label, torch.Tensor) or label.dim() != 1:
            raise ValueError(
                f"label must be a (B,) integer tensor, got {getattr(label, 'shape', type(label).__name__)}"
            )
        if int(label.min()) < 0 or int(label.max()) >= self.num_classes:
            raise ValueError(
                f"label must be a class in 0 … {self.num_classes - 1}, got {int(label.min())} … {int(label.max())}"
            )
        self.label = label.long()

    @property
    def nfe_per_call(self) -> int:
        """Network evaluations per call: 2 (both branches), 1 when w = 0 (the conditional branch alone)."""
        return 1 if self.w == 0 else 2

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        label = self.label.to(x.device)
        if label.shape[0] != x.shape[0]:
            raise ValueError(f"label has {label.shape[0]} entries for a batch of {x.shape[0]}")
        if self.w == 0:
            return self.net(x, t, cond, label=label)
        null = torch.full_like(label, self.num_classes)
        both = self.net(
            torch.cat([x, x]),
            torch.cat([t, t]),
            None if cond is None else torch.cat([cond, cond]),
            label=torch.cat([label, null]),
        )  # one batched pass for the two branches
        pred_cond, pred_uncond = both.chunk(2)
        return classifier_free_guidance(pred_cond, pred_uncond, self.w)


class ClassifierGuidedModel(nn.Module):
    """Classifier guidance (Dhariwal & Nichol, NeurIPS 2021, their Algorithm 2) for an ε-prediction network:

        ε̃ = ε_θ(x_t, t) − s · √(1 − ᾱ_t) · ∇_x log p_φ(label | x_t, t)        (Eq. 12.5)

    the score of p(x_t | label) = p(x_t) p(label | x_t) / p(label), written as noise (score = −ε / √(1 − ᾱ_t)), with
    the classifier's part scaled by s (s = 1: the Bayes posterior; s > 1: sharper, as classifier-free guidance's w).
    The classifier must read *noisy* images at time t (:class:`~course_lib.models.NoisyDigitClassifier`).

    Args:
        net: ``net(x, t, cond) → ε̂``; classifier: ``classifier(x_t, t) → logits`` (eval mode: its answers must not
            depend on the batch); label: ``(B,)`` the target class of each image; scale: s ≥ 0;
        noise_scales: ``(T,)`` √(1 − ᾱ_t), the process's ``sqrt_one_minus_alpha_bars``.
    """

    def __init__(
        self, net: nn.Module, classifier: nn.Module, label: torch.Tensor, scale: float, noise_scales: torch.Tensor
    ):
        super().__init__()
        scale = _check_w(scale)
        if scale < 0:
            raise ValueError(f"scale (the classifier guidance scale s) must be >= 0, got {scale}")
        if not isinstance(label, torch.Tensor) or label.dim() != 1:
            raise ValueError(
                f"label must be a (B,) integer tensor, got {getattr(label, 'shape', type(label).__name__)}"
            )
        if getattr(net, "prediction", "eps") != "eps":
            raise ValueError(f"classifier guidance here needs an ε-prediction network, got {net.prediction!r}")
        self.net, self.classifier, self.scale = net, classifier, scale
        self.label = label.long()
        self.register_buffer("noise_scales", noise_scales.detach().float().clone(), persistent=False)
        self.prediction = "eps"

    def grad_log_prob(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """∇_x log p_φ(label | x_t, t), ``(B, ...)`` (each image's gradient depends on that image alone)."""
        label = self.label.to(x.device)
        if label.shape[0] != x.shape[0]:
            raise ValueError(f"label has {label.shape[0]} entries for a batch of {x.shape[0]}")
        with torch.enable_grad():
            x_in = x.detach().float().requires_grad_(True)
            logp = torch.log_softmax(self.classifier(x_in, t).float(), 1)
            picked = logp.gather(1, label[:, None]).sum()
            return torch.autograd.grad(picked, x_in)[0].to(x.dtype)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        eps = self.net(x, t, cond)
        if self.scale == 0:
            return eps
        sigma = self.noise_scales.to(x.device)[t.long()].view(-1, *([1] * (x.dim() - 1)))
        return eps - self.scale * sigma * self.grad_log_prob(x, t)
