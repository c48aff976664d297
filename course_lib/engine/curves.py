"""Training curves · 训练曲线 (engine layer): quality against training compute, the protocol of lessons 07, 09 and 10.

A run trains on one thread and, at each snapshot, its EMA restores the 100 curve digits
(:data:`course_lib.engine.harness.CURVE_INDICES`, image i from its harness seed) with DDIM-50 (:func:`evaluate`):
per-image PSNR, consistency and agreement (for paired comparisons), patch SWD and Fréchet distance against the
reference digits, and the training CPU-seconds so far (``time.process_time`` of the training alone, not of the
evaluations).

* :func:`train_with_curve` snapshots every so many **steps** (lessons 07 and 09);
* :func:`train_for_cpu` snapshots at fixed **CPU-seconds** (lessons 10 and 11: networks of different speeds compared
  at equal compute), and can keep each snapshot's images for set-level intervals
  (:func:`course_lib.stats.set_difference`);
* :func:`judge_points` compares two such points on the same digits by the one protocol (:mod:`course_lib.stats`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Sequence

import torch

from ..images import to_uint8
from ..metrics import frechet_distance, patch_distance
from .harness import CURVE_INDICES, curve_set, image_seeds, measure, value_stats
from .train import Trainer

__all__ = ["SAMPLER", "evaluate", "train_with_curve", "train_for_cpu", "judge_points", "SET_DRAWS", "ship_run"]

#: random halves of the delete-half jackknife in :func:`judge_points` (stats' default)
SET_DRAWS = 40

#: every diffusion snapshot is sampled at the same NFE (the harness's protocol)
SAMPLER = {"sampler": "ddim", "steps": 50}


@torch.no_grad()
def evaluate(trainer: Trainer, data: dict, classifier, return_images: bool = False):
    """The trainer's EMA on the curve digits with DDIM-50 (image i from its harness seed): per-image PSNR,
    consistency and agreement, patch SWD and Fréchet distance against the reference digits, sampling seconds and NFE.
    With ``return_images`` also the restorations ``(N, C, H, W)``."""
    start = time.perf_counter()
    # a diffusion model at DDIM-50; a flow model (lesson 11) at its own default, Euler with 50 steps: the same NFE
    options = SAMPLER if trainer.method.objective == "diffusion" else {}
    sr = trainer.method.restore(trainer.ema, trainer.diffusion, data["y"], seeds=image_seeds(CURVE_INDICES), **options)
    seconds = time.perf_counter() - start
    m = measure(sr, data["hr"], data["y"], 4, classifier)
    point = {
        "psnr": value_stats(m["psnr"]),
        "consistency": value_stats(m["consistency"]),
        "agreement": round(float(m["agreement"].mean()), 4),
        "patch_swd": round(float(patch_distance(sr, data["reference"])), 5),
        "frechet": round(float(frechet_distance(classifier.features(sr), classifier.features(data["reference"]))), 4),
        "sampling_seconds": round(seconds, 2),
        "nfe": trainer.method.last_nfe,
    }
    return (point, sr) if return_images else point


def _classifier():
    from .pretrained import load

    return load("digit_classifier", "cpu").model.eval()


def train_with_curve(
    trainer: Trainer, curve: dict, steps: int, every: int, state: Path, log: Path, name: str, progress: bool = True
) -> dict:
    """Train to ``steps``, and every ``every`` steps save the state, evaluate the EMA (:func:`evaluate`) and append the
    point to ``curve`` (``points``, ``cpu_seconds``: the training's ``time.process_time``), written to ``log`` — the
    loop of lesson 09's curves and lesson 07's latent curve (resumable: ``curve`` and ``trainer`` may be mid-run)."""
    classifier, data = _classifier(), curve_set()
    while trainer.step < steps:
        started = time.process_time()
        trainer.train(steps=every - trainer.step % every, progress=progress)
        curve["cpu_seconds"] += time.process_time() - started
        trainer.save(state)
        point = {
            "step": trainer.step,
            "cpu_seconds": round(curve["cpu_seconds"], 1),
            **evaluate(trainer, data, classifier),
        }
        curve["points"].append(point)
        curve["loss"] = [list(h) for h in trainer.history]
        log.write_text(json.dumps(curve))
        print(
            f"{name} step {trainer.step}: {point['psnr']['mean']:.2f} dB, patch SWD {point['patch_swd']:.4f} "
            f"({curve['cpu_seconds'] / 60:.1f} CPU-min)",
            flush=True,
        )
    return curve


def train_for_cpu(
    trainer: Trainer,
    curve: dict,
    snapshots: Sequence[float],
    folder: Path,
    name: str,
    chunk: int = 10,
    evaluate_snapshots: bool = True,
) -> dict:
    """Train until each of ``snapshots`` (training CPU-seconds, increasing) is reached — checked every ``chunk`` steps
    — and at each save the state (``folder/state.pt``), evaluate the EMA (:func:`evaluate`, its images kept as
    ``folder/snapshot_K.pt``, uint8) and append the point to ``curve`` (``folder/curve.json``). Resumable: a ``curve``
    read back from that file and ``Trainer.resume(folder/"state.pt")`` continue where they stopped.
    ``evaluate_snapshots=False`` (a tuning pilot) records the loss only."""
    folder.mkdir(parents=True, exist_ok=True)
    classifier = data = None
    curve.setdefault("points", [])
    curve.setdefault("cpu_seconds", 0.0)
    for k, target in enumerate(snapshots):
        if k < len(curve["points"]):
            continue  # this snapshot was taken before an interruption
        while curve["cpu_seconds"] < target:
            started = time.process_time()
            trainer.train(steps=chunk, progress=False)
            curve["cpu_seconds"] += time.process_time() - started
        trainer.save(folder / "state.pt")
        point = {"step": trainer.step, "cpu_seconds": round(curve["cpu_seconds"], 1)}
        if evaluate_snapshots:
            if classifier is None:
                classifier, data = _classifier(), curve_set()
            values, images = evaluate(trainer, data, classifier, return_images=True)
            # uint8, channels first: uint8_to_model gives back the images (to the 8-bit rounding)
            torch.save(
                torch.from_numpy(to_uint8(images.cpu())).movedim(-1, -3).contiguous(), folder / f"snapshot_{k}.pt"
            )
            point.update(values)
        curve["points"].append(point)
        curve["loss"] = [list(h) for h in trainer.history]
        (folder / "curve.json").write_text(json.dumps(curve))
        shown = f"{point['psnr']['mean']:.2f} dB, patch SWD {point['patch_swd']:.4f}, " if evaluate_snapshots else ""
        print(f"{name} step {trainer.step}: {shown}{curve['cpu_seconds'] / 60:.1f} CPU-min", flush=True)
    return curve


def judge_points(
    a: dict,
    b: dict,
    sets: dict | None = None,
    margins: dict | None = None,
    draws: int = SET_DRAWS,
    level: float | None = None,
) -> dict:
    """A − B for two evaluations of the same digits (curve points or race cells): PSNR, consistency and (when both
    carry ``agreement_values``) agreement by the paired t interval; with ``sets`` — ``{"images": (A's, B's,
    reference), "features": (A's, B's, reference)}``, the classifier's features for the Fréchet distance — patch SWD and
    Fréchet by the delete-half jackknife. Each judged against ``margins`` (``psnr_db``, ``consistency_db``,
    ``agreement``; ``patch_swd_share`` and ``frechet_share`` are shares of B's own value); every interval at ``level``
    (the protocol's 95 % by default; a family's Bonferroni level when one is judged together)."""
    from .. import stats

    m = margins or {}
    level = stats.LEVEL if level is None else level
    out = {
        "psnr": stats.compare_values(a["psnr"]["values"], b["psnr"]["values"], True, m.get("psnr_db"), level),
        "consistency": stats.compare_values(
            a["consistency"]["values"], b["consistency"]["values"], True, m.get("consistency_db"), level
        ),
    }
    if "agreement_values" in a and "agreement_values" in b:
        out["agreement"] = stats.compare_values(
            a["agreement_values"], b["agreement_values"], True, m.get("agreement"), level
        )
    if sets is not None:
        share = m.get("patch_swd_share")
        margin = None if share is None else share * b["patch_swd"]
        out["patch_swd"] = stats.compare_sets(patch_distance, *sets["images"], margin, draws=draws, level=level)
        share = m.get("frechet_share")
        margin = None if share is None else share * b["frechet"]
        out["frechet"] = stats.compare_sets(frechet_distance, *sets["features"], margin, draws=draws, level=level)
    return out


def ship_run(state: Path, config: dict, name: str, describe) -> Path:
    """Ship a curve run as it ended (lessons 10 and 11): the trainer resumed from ``state``, its EMA exported like
    ``python -m course_lib.train`` does (``data/checkpoints/NAME.pt`` and ``.log.json``, float16), with ``config`` (JSON
    form) written as ``NAME.json`` so that ``make checkpoints`` retrains it by steps — the steps the run reached.
    ``describe(steps) -> str`` is the config's description. Returns the config's path."""
    from ..device import describe_hardware
    from ..files import data_dir
    from .config import TrainConfig
    from .train import export_run

    trainer = Trainer.resume(state, "cpu")
    config = {
        **config,
        "name": name,
        "steps": trainer.step,
        "checkpoint_every": 500,
        "description": describe(trainer.step),
    }
    path = data_dir() / "checkpoints" / f"{name}.json"
    path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    trainer.config = TrainConfig.from_dict(config)
    export_run(
        trainer,
        trainer.config,
        Path("data/checkpoints") / f"{name}.json",
        describe_hardware("cpu").replace("2 threads", "1 thread"),
    )
    return path
