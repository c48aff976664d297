"""The shipped digit classifier (workflow layer): lesson 04's fidelity judge, lesson 05's feature space.

It is the registered method ``"classifier"`` (:mod:`course_lib.methods.classifier`), trained by the same trainer as
every other model: ``python -m course_lib.train --config data/checkpoints/digit_classifier.json``.
:func:`load_classifier` loads it through the shipped-model registry (sha256-checked, ``weights_only=True``).
"""

from __future__ import annotations

import torch

from ._compat import moved_names, warn_renamed
from .device import get_device
from .files import CheckpointError
from .models import DigitClassifier

__all__ = ["load_classifier", "train_classifier"]


def load_classifier(name: str = "digit_classifier", device: torch.device | str | None = None) -> DigitClassifier:
    """The shipped classifier ``name``, hash-checked, in eval mode (a CheckpointError if ``name`` is another kind)."""
    from .pretrained import load

    shipped = load(name, get_device(device))
    if shipped.config.method != "classifier":
        raise CheckpointError(f"{name!r} is not a classifier (its method is {shipped.config.method!r})")
    return shipped.model


def train_classifier(config: dict, device: torch.device | str | None = None, progress: bool = True) -> tuple[DigitClassifier, dict]:
    """Deprecated: train from a previous-release classifier config (``epochs``, ``width``, …) with the generic
    :class:`~course_lib.train.Trainer`; returns the model (eval mode) and its training record."""
    from .train import TrainConfig, Trainer

    warn_renamed("course_lib.classifier.train_classifier", "course_lib.train.Trainer with method 'classifier'")
    cfg = TrainConfig.from_dict({"task": "classifier", **config}, warn=False)
    trainer = Trainer(cfg, device=device).train(progress=progress)
    model = trainer.model.eval()
    record = {"name": cfg.name, "steps": trainer.step, "training_seconds": round(trainer.elapsed, 1),
              **trainer.method.record(model), "parameters": sum(p.numel() for p in model.parameters()),
              "loss_curve": [[s, round(v, 5)] for s, v in trainer.history], "config": cfg.to_dict()}
    return model, record


__getattr__ = moved_names(__name__, {name: f"course_lib.methods.classifier:{name}" for name in ("accuracy", "augment", "degrade_some")})
