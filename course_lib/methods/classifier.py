"""The digit classifier (lesson 04's fidelity check; lesson 05's feature space for a Fréchet distance).

Trained by the same trainer as every other model: cross-entropy on the 4,000 training digits with random affine
augmentation (rotation ± 0.2 rad, scale ± 10 %, shift ± 2 px) and, with probability ``degrade_prob``, a bicubic
round trip through ×2 or ×4 area downsampling — so that a blurry digit is still read as its digit: the classifier
judges *which digit* an SR output shows, not how sharp it is (sharpness has its own measure).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..datasets import load_digits
from ..images import to_tensor
from ..models import DigitClassifier, NoisyDigitClassifier
from ..operators import downsample, upsample
from .base import Method, MethodConfig, register_method

__all__ = ["ClassifierConfig", "ClassifierMethod", "NoisyClassifierMethod", "augment", "degrade_some", "accuracy"]


@dataclass(frozen=True)
class ClassifierConfig(MethodConfig):
    """``width`` of the first convolutions, ``dropout`` before the head, ``degrade_prob``: the share of training
    images passed through a bicubic round trip."""

    width: int = 32
    dropout: float = 0.3
    degrade_prob: float = 0.0


def degrade_some(x: torch.Tensor, prob: float, generator: torch.Generator) -> torch.Tensor:
    """Replace each image of ``(B, 1, H, W)`` with probability ``prob`` by U_s(A_s(x)), s drawn from {2, 4}."""
    if prob <= 0:
        return x
    B = x.shape[0]
    pick = torch.rand(B, generator=generator, device=x.device) < prob
    four = torch.rand(B, generator=generator, device=x.device) < 0.5
    out = x.clone()
    for s, sel in ((2, pick & ~four), (4, pick & four)):
        if sel.any():
            out[sel] = upsample(downsample(x[sel], s, "area"), s, "bicubic")
    return out


def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random rotation, scale and shift of ``(B, 1, H, W)`` digits in [-1, 1] (background stays −1)."""
    B = x.shape[0]
    r = lambda: torch.rand(B, generator=generator, device=x.device) - 0.5  # noqa: E731
    ang, sc = 0.4 * r(), 1 + 0.2 * r()
    theta = torch.zeros(B, 2, 3, device=x.device)
    theta[:, 0, 0], theta[:, 0, 1] = sc * torch.cos(ang), -sc * torch.sin(ang)
    theta[:, 1, 0], theta[:, 1, 1] = sc * torch.sin(ang), sc * torch.cos(ang)
    theta[:, 0, 2], theta[:, 1, 2] = 0.25 * r(), 0.25 * r()
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x + 1, grid, align_corners=False) - 1


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch: int = 500) -> float:
    """Fraction of ``images`` ``(N, 1, 32, 32)`` classified as ``labels`` ``(N,)`` (the model is put in eval mode)."""
    model.eval()
    device = next(model.parameters()).device
    hits = sum(
        int((model(images[i : i + batch].to(device)).argmax(1).cpu() == labels[i : i + batch]).sum())
        for i in range(0, len(images), batch)
    )
    return hits / len(images)


@register_method
class ClassifierMethod(Method):
    """:class:`~course_lib.models.DigitClassifier` trained with cross-entropy on augmented (and degraded) digits."""

    name = "classifier"
    Config = ClassifierConfig
    objective = "classification"
    datasets = ("digits_labels",)
    task = "classify"
    export_dtype = torch.float32  # BatchNorm statistics: keep full precision

    @classmethod
    def example(cls) -> dict:
        """A width-8 classifier, two one-cycle steps."""
        return {
            "name": "example_classifier",
            "dataset": "digits_labels",
            "method": "classifier",
            "model": {"width": 8, "degrade_prob": 0.5},
            "batch_size": 8,
            "steps": 2,
            "log_every": 1,
            "warmup_steps": 0,
            "lr_schedule": "onecycle",
            "ema_decay": 0.0,
            "grad_clip": 0.0,
            "autocast": False,
        }

    def build(self) -> nn.Module:
        """``DigitClassifier(width, dropout)``."""
        return DigitClassifier(self.config.width, self.config.dropout)

    def loss(self, model, process, batch, generator):
        """Cross-entropy on ``augment`` (then ``degrade_some``) of ``batch["x"]`` against ``batch["label"]``."""
        x = degrade_some(augment(batch["x"], generator), self.config.degrade_prob, generator)
        return F.cross_entropy(model(x), batch["label"])

    def record(self, model: nn.Module) -> dict:
        """Test accuracy on the HR test digits and on their bicubic ×4 round trips."""
        images, labels = load_digits("test")
        hr, labels = to_tensor(images), torch.as_tensor(labels).long()
        return {
            "test_accuracy": accuracy(model, hr, labels),
            "test_accuracy_bicubic_x4": accuracy(model, upsample(downsample(hr, 4), 4), labels),
        }


@register_method
class NoisyClassifierMethod(ClassifierMethod):
    """:class:`~course_lib.models.NoisyDigitClassifier` trained with cross-entropy on x_t = q(x_t | x₀) of augmented
    digits at uniform t (Eq. 01.3): the guide of classifier guidance (lesson 12's editing). It is never the judge:
    the shipped ``digit_classifier`` reads the edits."""

    name = "noisy_classifier"
    objective = "diffusion"  # it needs the process (q_sample); it samples nothing

    @classmethod
    def example(cls) -> dict:
        """A width-8 noisy classifier, T = 100, two steps."""
        return {**super().example(), "name": "example_noisy_classifier", "method": "noisy_classifier", "T": 100}

    def build(self) -> nn.Module:
        """``NoisyDigitClassifier(width, dropout, T)``."""
        return NoisyDigitClassifier(self.config.width, self.config.dropout, self.train_config.T)

    def loss(self, model, process, batch, generator):
        """Cross-entropy of p_φ(label | x_t, t) with t ~ U{0, …, T − 1} and x_t from the augmented digit."""
        x0 = augment(batch["x"], generator)
        t = torch.randint(0, process.num_timesteps, (x0.shape[0],), generator=generator, device=x0.device)
        noise = torch.randn(x0.shape, generator=generator, device=x0.device)
        return F.cross_entropy(model(process.q_sample(x0, t, noise), t), batch["label"])

    def record(self, model: nn.Module) -> dict:
        """Test accuracy at t = 0, T/4, T/2, 3T/4 (noise drawn from seed 0)."""
        images, labels = load_digits("test")
        hr, labels = to_tensor(images), torch.as_tensor(labels).long()
        process = self.make_process()
        g = torch.Generator().manual_seed(0)
        out = {}
        model.eval()
        with torch.no_grad():
            for frac in (0, 0.25, 0.5, 0.75):
                t = torch.full((len(hr),), int(frac * process.num_timesteps), dtype=torch.long)
                x_t = process.q_sample(hr, t, torch.randn(hr.shape, generator=g))
                hits = (model(x_t, t).argmax(1) == labels).float().mean()
                out[f"test_accuracy_t{int(frac * process.num_timesteps)}"] = float(hits)
        return out
