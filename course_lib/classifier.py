"""Train and load the digit classifier (workflow layer).

``python -m course_lib.train --config data/checkpoints/digit_classifier.json`` (part of ``make checkpoints``)
trains :class:`course_lib.models.DigitClassifier` on the 4,000 training digits with random affine
augmentation (rotation ± 0.2 rad, scale ± 10 %, shift ± 2 px) and, with probability ``degrade_prob``, a
bicubic round trip through ×2 or ×4 area downsampling (so that a blurry digit is still read as its digit: the
classifier judges *which digit* an SR output shows, not how sharp it is — sharpness has its own measure),
AdamW and a one-cycle learning rate, a fixed seed, then exports the weights with the test accuracy (on HR and
on bicubic ×4 test images), time and hardware. ``load_classifier()`` checks the
sha256 and loads with ``weights_only=True``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from .checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from .data import data_dir, load_digits, load_manifest, to_tensor
from .device import get_device
from .models import DigitClassifier

__all__ = ["CLASSIFIER_DEFAULTS", "train_classifier", "load_classifier", "accuracy", "augment"]

CLASSIFIER_DEFAULTS = {"name": "digit_classifier", "task": "classifier", "width": 32, "dropout": 0.3, "epochs": 30,
                       "batch_size": 64, "lr": 3e-3, "weight_decay": 1e-4, "seed": 0, "log_every": 50,
                       "degrade_prob": 0.0}


def degrade_some(x: torch.Tensor, prob: float, generator: torch.Generator) -> torch.Tensor:
    """Replace each image of ``(B, 1, H, W)`` with probability ``prob`` by U_s(A_s(x)), s drawn from {2, 4}."""
    from .data import downsample, upsample

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
def accuracy(model: DigitClassifier, images: torch.Tensor, labels: torch.Tensor, batch: int = 500) -> float:
    """Fraction of ``images`` ``(N, 1, 32, 32)`` classified as ``labels`` ``(N,)``."""
    model.eval()
    device = next(model.parameters()).device
    hits = sum(int((model(images[i : i + batch].to(device)).argmax(1).cpu() == labels[i : i + batch]).sum())
               for i in range(0, len(images), batch))
    return hits / len(images)


def train_classifier(config: dict, device: torch.device | str | None = None, progress: bool = True) -> tuple[DigitClassifier, dict]:
    """Train from ``config`` (see ``CLASSIFIER_DEFAULTS``); returns the model and its training record."""
    from tqdm.auto import tqdm

    unknown = set(config) - set(CLASSIFIER_DEFAULTS) - {"description"}
    if unknown:
        raise ValueError(f"unknown classifier config keys {sorted(unknown)}; known: {sorted(CLASSIFIER_DEFAULTS)}")
    c = {**CLASSIFIER_DEFAULTS, **config}
    device = torch.device(device) if device is not None else get_device()
    torch.manual_seed(c["seed"])
    xtr, ytr = load_digits("train")
    xte, yte = load_digits("test")
    X, Y = to_tensor(xtr).to(device), torch.as_tensor(ytr).long().to(device)
    model = DigitClassifier(c["width"], c["dropout"]).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=c["lr"], weight_decay=c["weight_decay"])
    steps = c["epochs"] * len(X) // c["batch_size"]
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, c["lr"], total_steps=steps)
    g_idx = torch.Generator().manual_seed(c["seed"] + 1)
    g_aug = torch.Generator(device=device).manual_seed(c["seed"] + 2)
    curve, pending, start = [], [], time.perf_counter()
    for step in tqdm(range(steps), desc="training the digit classifier", disable=not progress, leave=False):
        idx = torch.randint(0, len(X), (c["batch_size"],), generator=g_idx).to(device)
        model.train()
        loss = F.cross_entropy(model(degrade_some(augment(X[idx], g_aug), c["degrade_prob"], g_aug)), Y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        pending.append(float(loss.detach()))
        if len(pending) == c["log_every"]:
            curve.append([step + 1, round(sum(pending) / len(pending), 5)])
            pending = []
    from .data import downsample, upsample

    hr_te = to_tensor(xte)
    record = {"name": c["name"], "steps": steps, "training_seconds": round(time.perf_counter() - start, 1),
              "test_accuracy": accuracy(model, hr_te, torch.as_tensor(yte).long()),
              "test_accuracy_bicubic_x4": accuracy(model, upsample(downsample(hr_te, 4), 4), torch.as_tensor(yte).long()),
              "parameters": sum(p.numel() for p in model.parameters()), "loss_curve": curve, "config": c}
    return model.eval(), record


def export_classifier(model: DigitClassifier, record: dict, path: Path) -> Path:
    return save_checkpoint({"config": json.dumps(record["config"]), "state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                            "test_accuracy": record["test_accuracy"]}, path)


def load_classifier(name: str = "digit_classifier", device: torch.device | str | None = None) -> DigitClassifier:
    """The shipped classifier, hash-checked, in eval mode."""
    device = torch.device(device) if device is not None else get_device()
    rel = f"checkpoints/{name}.pt"
    files = load_manifest()["files"]
    if rel not in files:
        raise CheckpointError(f"no shipped classifier named {name!r} in data/manifest.json")
    state = load_checkpoint(data_dir() / rel, expected_sha256=files[rel]["sha256"])
    config = json.loads(state["config"])
    model = DigitClassifier(config["width"], config["dropout"])
    model.load_state_dict(state["state"])
    return model.to(device).eval()
