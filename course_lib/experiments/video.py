"""Lesson 12's experiments: ``python -m course_lib.experiments.video`` (resumable; about 1 CPU-hour).

Two questions, every rule below fixed in this file before the first run.

**Video SR.** On moving-digit clips (:class:`~course_lib.video.MovingDigits`: :data:`N_CLIPS` test clips of
:data:`FRAMES` frames, 48 × 48, ×4), how much does an image SR model flicker frame by frame, and what removes the
flicker at what cost? Rows (:data:`VIDEO_ROWS`), each sampled with DDIM-:data:`STEPS` (η = 0), frame f of clip n from
seed :func:`frame_seed` (n, f):

* ``bicubic``, ``regression`` (the shipped regression U-Net, frame by frame): the deterministic ends;
* (a) ``independent`` — the shipped SR3-style model frame by frame, each frame its own noise;
* (b) ``same_noise`` — the same x_T for every frame (fixed to the canvas), and (b′) ``moving_noise`` — x_T that moves
  with the content (:func:`~course_lib.video.moving_noise`, known motion);
* (c) ``sdedit_K`` — frame f > 0 starts from warp(output f − 1) noised to t* = K (SDEdit-style), K in :data:`T_STARS`;
* (d) ``temporal_own`` — the temporal model (``digits_video_sr3``) on its own previous outputs, and
  ``temporal_oracle`` on the warped HR previous frames (what it was trained on): exposure bias is their gap;
* ``temporal_estimated`` — (d) with the motion estimated from the LR frames by phase correlation
  (:func:`~course_lib.video.estimate_shift` on U(y)), not given.

Measures per clip (the clip is the unit of the paired intervals): PSNR over its frames, the warping error (Eq. 12.2,
known motion: a measure must not use the method's estimate), agreement of the classifier on the 32 × 32 crop at the
digit's known position (share of frames read as the clip's label); per row the patch SWD of all frames against the
HR frames of other test clips (:data:`REFERENCE_CLIPS`), by the delete-half jackknife. Verdicts against ``independent``
with :data:`MARGINS`.

**Editing.** SDEdit (Meng et al., ICLR 2022) on the unconditional ``digits_unet``, guided toward a target class by a
noise-aware classifier (``digits_noisy_classifier``; classifier guidance, Dhariwal & Nichol, NeurIPS 2021) and judged
by the *other* classifier, the shipped ``digit_classifier``: :data:`N_EDITS` test digits, each sent to class
(label + 1) mod 10, t* swept over :data:`EDIT_T_STARS`; faithfulness = PSNR and SSIM to the input, success = the
judge reads the target class. Against it, DDIM inversion to the same t* (lesson 06) then the same guided sampling.

Results: ``data/cache/video.json`` (and ``video_frames.npz``, the widget's frames); runs in ``runs/video/``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

from ..device import one_thread
from ..engine.curves import train_for_cpu
from ..engine.train import Trainer
from ..files import data_dir

__all__ = [
    "N_CLIPS",
    "FRAMES",
    "STEPS",
    "T_STARS",
    "MARGINS",
    "TEMPORAL_BUDGET",
    "temporal_config",
    "classifier_config",
    "train_temporal",
    "train_guide",
    "main",
]

RESULTS = "cache/video.json"
WORK = Path("runs/video")
#: test clips and their frames (8 frames of 48 × 48, ≤ 2 pixels per frame per axis)
N_CLIPS, FRAMES = 40, 8
#: DDIM steps of every sampled row (η = 0)
STEPS = 25
#: SDEdit's restart times (of T = 1,000, cosine schedule), for row (c)
T_STARS = (200, 400, 600)
#: the temporal model's training budget: CPU-seconds on one thread, snapshots at half and all of it
TEMPORAL_BUDGET = (600.0, 1200.0)
#: "as good within": PSNR in dB, warping error in the model range (a hundredth of the [-1, 1] span), agreement as a
#: share of frames, patch SWD as a share of the reference row's own value
MARGINS = {"psnr_db": 0.5, "warping_error": 0.005, "agreement": 0.05, "patch_swd_share": 0.10}


def temporal_config() -> dict:
    """(d)'s training config (JSON form): ``digits_sr3_concat``'s recipe and weights (``init_from``) with the extra
    input channel, on 1,000 training clips (7,000 frame pairs), batch 32, learning rate 2·10⁻⁴ (a fine-tune: the
    reflow rate of lesson 11), EMA 0.99, for :data:`TEMPORAL_BUDGET`."""
    config = json.loads((data_dir() / "checkpoints" / "digits_sr3_concat.json").read_text())
    config["model"].update(in_channels=3, cond_channels=2, previous_noise=0.5, previous_drop=0.2)
    config.update(
        name="digits_video_sr3",
        dataset="digits_video:4:1000",
        method="video_sr3",
        init_from="digits_sr3_concat",
        batch_size=32,
        learning_rate=2e-4,
        warmup_steps=50,
        ema_decay=0.99,
        steps=10**6,
        checkpoint_every=10**6,
    )
    return config


def classifier_config() -> dict:
    """The guide's training config: ``digit_classifier``'s recipe at width 16 on noisy digits x_t (cosine, T = 1,000,
    the schedule of ``digits_unet``), 3,000 one-cycle steps."""
    config = json.loads((data_dir() / "checkpoints" / "digit_classifier.json").read_text())
    config.update(
        name="digits_noisy_classifier",
        description=(
            "Lesson 12's guide for classifier guidance: p(label | x_t, t) on noisy training digits (cosine schedule, "
            "T = 1000, as digits_unet), width 16. The guide only: the edits are judged by digit_classifier."
        ),
        method="noisy_classifier",
        model={"width": 16, "dropout": 0.1},
        schedule="cosine",
        T=1000,
        steps=3000,
    )
    return config


#: the editor's fine-tuning: training steps of batch 64 (about 25 CPU-minutes on one thread)
EDITOR_STEPS = 2400


def editor_config() -> dict:
    """The editor's training config: ``digits_unet`` made class-conditional (``init_from``; the label embedding starts
    at zero), its modulation alone (``tune="modulation"``: 182,144 of 1,068,481 parameters; the rest frozen and
    borrowed, so the shipped file holds only what trained) fine-tuned with label dropout 0.1 (classifier-free
    guidance, lesson 07) for :data:`EDITOR_STEPS` steps of batch 64 at 10⁻³, EMA 0.99."""
    config = json.loads((data_dir() / "checkpoints" / "digits_unet.json").read_text())
    model = {k: v for k, v in config["model"].items() if k != "network"}
    model.update(tune="modulation", label_init=0.4)
    config.update(
        name="digits_unet_cfg",
        description=(
            "Lesson 12's editor: digits_unet made class-conditional (init_from digits_unet, the label embedding "
            f"starting at zero), its modulation alone fine-tuned {EDITOR_STEPS} steps of batch 64 with label dropout "
            "0.1 for classifier-free guidance; the frozen convolutions and attention are digits_unet's "
            "(python -m course_lib.experiments.video editor)."
        ),
        dataset="digits_labels",
        method="cfg",
        model={"num_classes": 10, "label_dropout": 0.1, **model},
        init_from="digits_unet",
        batch_size=64,
        learning_rate=1e-3,
        warmup_steps=50,
        ema_decay=0.99,
        steps=EDITOR_STEPS,
        checkpoint_every=100,
    )
    return config


def train_temporal() -> dict:
    """Train (d) for :data:`TEMPORAL_BUDGET` (resumable from ``runs/video/temporal/``). It is not shipped — at 1.2 MB
    in float16 it would take most of the lesson's share of ``data/`` — lesson 12 reads its evaluation from the cache;
    the run's state stays in ``runs/video/temporal/state.pt``. Returns the run's curve (its CPU-seconds)."""
    folder = WORK / "temporal"
    log = folder / "curve.json"
    curve = json.loads(log.read_text()) if log.exists() else {}
    state = folder / "state.pt"
    with one_thread():
        if len(curve.get("points", [])) < len(TEMPORAL_BUDGET):
            trainer = Trainer.resume(state, "cpu") if state.exists() else Trainer(temporal_config(), "cpu")
            train_for_cpu(trainer, curve, TEMPORAL_BUDGET, folder, "temporal", evaluate_snapshots=False)
    return json.loads(log.read_text())


def load_temporal():
    """The trained temporal model (the EMA of ``runs/video/temporal/state.pt``) as a
    :class:`~course_lib.engine.pretrained.Pretrained`."""
    from ..engine.pretrained import Pretrained

    state = WORK / "temporal" / "state.pt"
    if not state.exists():
        raise FileNotFoundError(f"{state} does not exist: run python -m course_lib.experiments.video temporal first")
    trainer = Trainer.resume(state, "cpu")
    return Pretrained("digits_video_sr3", trainer.method, trainer.ema.eval(), trainer.diffusion, trainer.config, {})


def train_guide(config: dict | None = None) -> Path:
    """Train a model by steps from its config (default: the guide, ``digits_noisy_classifier``), one thread, and
    ship it."""
    from ..engine.train import main as train_main

    config = classifier_config() if config is None else config
    path = data_dir() / "checkpoints" / f"{config['name']}.json"
    path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")
    with one_thread():
        if train_main(["--config", os.path.relpath(path)]):
            raise RuntimeError(f"training {path.name} failed")
    return path


# ------------------------------------------------------------------ video SR: the clips and the rows
#: the test clips evaluated are clips 0 … N_CLIPS − 1; clips N_CLIPS … N_CLIPS + REFERENCE_CLIPS − 1 are the realism
#: reference (other test digits, the same motion statistics)
REFERENCE_CLIPS = 40
#: the rows, in the lesson's order: (name, what it is)
VIDEO_ROWS = (
    ("hr", "the HR clip itself (the references' row: warping error 0)"),
    ("bicubic", "bicubic, frame by frame"),
    ("regression", "the regression U-Net (digits_regression_unet), frame by frame"),
    ("independent", "(a) SR3-style (digits_sr3_concat) frame by frame, independent noise"),
    ("same_noise", "(b) the same x_T for every frame (fixed to the canvas)"),
    ("moving_noise", "(b′) x_T that moves with the content (known motion)"),
    *((f"sdedit_{k}", f"(c) from warp(previous output) noised to t* = {k}") for k in T_STARS),
    ("temporal_own", "(d) the temporal model on its own previous outputs"),
    ("temporal_oracle", "(d) the temporal model on the warped HR previous frames"),
    ("temporal_estimated", "(d) on its own outputs, motion estimated from the LR frames"),
)
#: the comparisons judged (A, B): every row against (a), and the two questions of (d)
VIDEO_COMPARISONS = (
    *((name, "independent") for name, _ in VIDEO_ROWS if name not in ("hr", "independent")),
    ("temporal_own", "temporal_oracle"),
    ("temporal_estimated", "temporal_own"),
)
SEED_BASE = 7_000_000


def frame_seed(clip: int, frame: int) -> int:
    """The seed of frame ``frame`` of test clip ``clip`` (its x_T, or its SDEdit noise)."""
    return SEED_BASE + 1000 * int(clip) + int(frame)


def test_clips(n: int = N_CLIPS, offset: int = 0) -> dict:
    """Test clips ``offset`` … ``offset + n − 1`` stacked: ``hr`` ``(n, F, 1, 48, 48)``, ``y`` ``(n, F, 1, 12, 12)``,
    ``positions`` ``(n, F, 2)``, ``shifts`` ``(n, F − 1, 2)``, ``labels`` ``(n,)``."""
    from ..video import MovingDigits

    md = MovingDigits("test", n_clips=N_CLIPS + REFERENCE_CLIPS, frames=FRAMES)
    clips = [md.clip(i) for i in range(offset, offset + n)]
    out = {k: torch.stack([c[k] for c in clips]) for k in ("hr", "y", "positions", "shifts")}
    out["labels"] = torch.tensor([c["label"] for c in clips])
    return out


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(-1, *x.shape[2:])


def estimated_shifts(y: torch.Tensor, scale: int = 4) -> torch.Tensor:
    """``(N, F − 1, 2)``: the motion between consecutive LR frames, estimated by phase correlation on a ``scale``-times
    finer grid (:func:`~course_lib.video.estimate_shift` with ``upsample=scale``): integer HR pixels."""
    from ..video import estimate_shift

    return torch.tensor(
        [
            [estimate_shift(y[n, f], y[n, f + 1], upsample=scale) for f in range(y.shape[1] - 1)]
            for n in range(y.shape[0])
        ]
    )


def run_row(name: str, data: dict, models: dict) -> tuple[torch.Tensor, int]:
    """Row ``name`` on the clips ``data``: the frames ``(N, F, 1, 48, 48)`` and the network evaluations per frame."""
    from ..operators import upsample
    from ..samplers import make_sampler, start_at
    from ..video import moving_noise, warp

    N, F_ = data["y"].shape[:2]
    seeds = [[frame_seed(n, f) for f in range(F_)] for n in range(N)]
    flat_seeds = [s for row in seeds for s in row]
    y = data["y"]
    if name == "hr":
        return data["hr"].clone(), 0
    if name == "bicubic":
        return upsample(_flat(y), 4, "bicubic").clamp(-1, 1).reshape(data["hr"].shape), 0
    if name == "regression":
        return models["regression"].restore(_flat(y)).cpu().reshape(data["hr"].shape), 1
    if name not in dict(VIDEO_ROWS):
        raise ValueError(f"row must be one of {[r for r, _ in VIDEO_ROWS]}, got {name!r}")
    sr3 = models.get("sr3")
    if name in ("independent", "same_noise", "moving_noise"):
        x_T = None
        if name == "same_noise":
            x_T = torch.stack(
                [torch.randn(1, 48, 48, generator=torch.Generator().manual_seed(seeds[n][0])) for n in range(N)]
            )[:, None].expand(N, F_, 1, 48, 48)
        elif name == "moving_noise":
            x_T = torch.stack(
                [
                    moving_noise(data["positions"][n], (1, 48, 48), torch.Generator().manual_seed(seeds[n][0]))
                    for n in range(N)
                ]
            )
        out = sr3.restore(_flat(y), seeds=flat_seeds, steps=STEPS, x_T=None if x_T is None else _flat(x_T))
        return out.cpu().reshape(data["hr"].shape), sr3.method.last_nfe
    if name.startswith("sdedit_"):
        t_star, dev = int(name.split("_")[1]), sr3.process.device
        frames = [sr3.restore(y[:, 0], seeds=[s[0] for s in seeds], steps=STEPS).cpu()]
        nfe = [sr3.method.last_nfe]
        for f in range(1, F_):
            previous = torch.stack([warp(frames[-1][n], data["shifts"][n, f - 1]) for n in range(N)])
            sampler = start_at(make_sampler("ddim", sr3.process, STEPS, sr3.model.prediction), t_star)
            t0 = torch.full((N,), sampler.timesteps[0], dtype=torch.long, device=dev)
            noise = torch.stack([torch.randn(1, 48, 48, generator=torch.Generator().manual_seed(s[f])) for s in seeds])
            y_f = y[:, f].to(dev)
            x_T = sr3.process.q_sample(sr3.model.target(previous.to(dev), y_f), t0, noise.to(dev))  # Eq. 12.3
            frames.append(sr3.restore(y_f, seeds=[s[f] for s in seeds], sampler=sampler, x_T=x_T).cpu())
            nfe.append(sr3.method.last_nfe)
        return torch.stack(frames, 1), round(sum(nfe) / len(nfe), 2)
    if name.startswith("temporal_"):
        video = models["temporal"]
        which = name.split("_")[1]
        shifts = estimated_shifts(y) if which == "estimated" else data["shifts"]
        previous = data["hr"] if which == "oracle" else "own"
        out = video.method.restore_clip(video.model, video.process, y, shifts, seeds, previous=previous, steps=STEPS)
        return out, video.method.last_nfe
    raise ValueError(f"row must be one of {[r for r, _ in VIDEO_ROWS]}, got {name!r}")


def crops(frames: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """The 32 × 32 crops at the digit's known position: ``(N, F, 1, 48, 48)`` → ``(N·F, 1, 32, 32)``."""
    return torch.stack(
        [
            frames[n, f, :, py : py + 32, px : px + 32]
            for n in range(frames.shape[0])
            for f, (py, px) in enumerate(positions[n].tolist())
        ]
    )


def clip_measures(frames: torch.Tensor, data: dict, classifier) -> dict[str, torch.Tensor]:
    """Per clip ``(N,)``: ``psnr`` (the mean of its frames' PSNR), ``consistency`` (Eq. 04.1, the mean over frames),
    ``warping_error`` (Eq. 12.2, known motion, the mean over its pairs), ``agreement`` (the share of its frames whose
    crop the classifier reads as it reads the HR crop)."""
    from ..metrics import psnr
    from ..operators import consistency_psnr
    from ..video import warping_error

    N, F_ = frames.shape[:2]
    flat = _flat(frames)
    out = {
        "psnr": psnr(flat, _flat(data["hr"])).reshape(N, F_).mean(1),
        "consistency": consistency_psnr(flat, _flat(data["y"]), 4).reshape(N, F_).mean(1),
        "warping_error": torch.stack([warping_error(frames[n], data["shifts"][n]).mean() for n in range(N)]),
    }
    with torch.no_grad():
        got = classifier(crops(frames, data["positions"])).argmax(1)
        want = classifier(crops(data["hr"], data["positions"])).argmax(1)
    out["agreement"] = (got == want).float().reshape(N, F_).mean(1)
    return out


def run_video(rows=None) -> dict:
    """Every row of :data:`VIDEO_ROWS` (resumable per row in ``runs/video/rows/``), on one thread."""
    from ..engine.pretrained import load

    folder = WORK / "rows"
    folder.mkdir(parents=True, exist_ok=True)
    data = test_clips()
    models = {}
    with one_thread():
        for name, _ in VIDEO_ROWS if rows is None else [(r, "") for r in rows]:
            path = folder / f"{name}.pt"
            if path.exists():
                continue
            if not models:
                models = {
                    "sr3": load("digits_sr3_concat", "cpu"),
                    "regression": load("digits_regression_unet", "cpu"),
                    "temporal": load_temporal(),
                }
            started = time.perf_counter()
            frames, nfe = run_row(name, data, models)
            seconds = time.perf_counter() - started
            torch.save({"frames": frames.half(), "nfe": nfe, "seconds": seconds}, path)
            print(f"row {name}: {seconds:.0f} s, NFE {nfe}", flush=True)
    return {name: torch.load(folder / f"{name}.pt", weights_only=True) for name, _ in VIDEO_ROWS}


# ------------------------------------------------------------------ editing
#: test digits edited — lesson 05's 100 curve digits (ten of each class: the test split is sorted by class, so its
#: first 100 would all be zeros) — each toward class (label + 1) mod 10
N_EDITS = 100
#: restart times of the edits (of T = 1,000, cosine); 925 and 960 were added after the first five showed that the
#: class changes above 850 (no verdict rule changed: a finer sweep)
EDIT_T_STARS = (300, 500, 700, 850, 925, 960, 999)
#: classifier-free guidance weight of the edits (lesson 07's w), fixed before the editor finished training, and the
#: classifier-guidance scale s of Eq. 12.5, from a pilot on 20 *training* digits (s in 1, 3, 10, 30, 100: 30 and 100
#: edited about as often, 30 kept more of the input) — both before the test digits were edited
EDIT_W = 3.0
CLASSIFIER_SCALE = 30.0
EDIT_SEED_BASE = 8_000_000
#: "as good within": PSNR to the input in dB, success as a share of digits
EDIT_MARGINS = {"psnr_db": 0.5, "success": 0.05}
#: the editing arms: (name, what it is)
EDIT_ARMS = (
    ("sdedit", "SDEdit, the editor (digits_unet_cfg) guided toward the target class (w = EDIT_W)"),
    ("inversion", "DDIM inversion with the source class (w = 0), then the same guided sampling"),
    ("sdedit_classifier", "SDEdit, digits_unet guided by digits_noisy_classifier (s = CLASSIFIER_SCALE)"),
)


def edit_inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The edited digits ``(N_EDITS, 1, 32, 32)`` (the curve digits), their labels and their targets (label + 1)
    mod 10."""
    from ..datasets import load_digits
    from ..engine.harness import CURVE_INDICES
    from ..images import to_tensor

    images, labels = load_digits("test")
    index = list(CURVE_INDICES)[:N_EDITS]
    labels = torch.as_tensor(labels[index]).long()
    return to_tensor(images[index]), labels, (labels + 1) % 10


def run_edit(arm: str, t_star: int, models: dict) -> torch.Tensor:
    """Arm ``arm`` of :data:`EDIT_ARMS` at t*: the edited digits ``(N_EDITS, 1, 32, 32)``."""
    from ..methods.editing import inversion_edit, sdedit
    from ..models import ClassifierGuidedModel, GuidedModel

    x, labels, targets = edit_inputs()
    seeds = [EDIT_SEED_BASE + i for i in range(N_EDITS)]
    editor = models["editor"]
    if arm == "sdedit":
        return sdedit(editor.model, editor.process, x, t_star, seeds, STEPS, GuidedModel(editor.model, targets, EDIT_W))
    if arm == "inversion":
        source = GuidedModel(editor.model, labels, 0.0)
        return inversion_edit(source, editor.process, x, t_star, STEPS, GuidedModel(editor.model, targets, EDIT_W))
    if arm == "sdedit_classifier":
        unet, guide = models["unet"], models["guide"]
        guided = ClassifierGuidedModel(
            unet.model, guide, targets, CLASSIFIER_SCALE, unet.process.sqrt_one_minus_alpha_bars
        )
        return sdedit(unet.model, unet.process, x, t_star, seeds, STEPS, guided)
    raise ValueError(f"arm must be one of {[a for a, _ in EDIT_ARMS]}, got {arm!r}")


def unedited_accuracy(models: dict, n: int = 200) -> float:
    """The editor's class accuracy from pure noise (the check before editing): n digits, class i mod 10, DDIM-
    :data:`STEPS` with w = :data:`EDIT_W`, read by the judge."""
    editor = models["editor"]
    labels = torch.arange(n) % 10
    seeds = [EDIT_SEED_BASE + 10_000 + i for i in range(n)]
    out = editor.method.generate(editor.model, editor.process, seeds, (1, 32, 32), labels=labels, w=EDIT_W, steps=STEPS)
    with torch.no_grad():
        return float((models["judge"](out).argmax(1) == labels).float().mean())


def run_editing(arms=None) -> dict:
    """Every arm (or ``arms``) at every t* (resumable per cell in ``runs/video/edits/``), on one thread."""
    from ..engine.pretrained import load

    folder = WORK / "edits"
    folder.mkdir(parents=True, exist_ok=True)
    models = {}
    with one_thread():
        for arm, _ in EDIT_ARMS:
            if arms is not None and arm not in arms:
                continue
            for t_star in EDIT_T_STARS:
                path = folder / f"{arm}_{t_star}.pt"
                if path.exists():
                    continue
                if not models:
                    models = _edit_models(load)
                started = time.perf_counter()
                out = run_edit(arm, t_star, models)
                torch.save({"images": out.half(), "seconds": time.perf_counter() - started}, path)
                print(f"edit {arm} t*={t_star}: {time.perf_counter() - started:.0f} s", flush=True)
        path = folder / "unedited.json"
        if arms is None and not path.exists():
            models = models or _edit_models(load)
            path.write_text(json.dumps({"accuracy": unedited_accuracy(models), "n": 200, "w": EDIT_W}))
    return {
        "cells": {
            f"{arm}_{t}": torch.load(folder / f"{arm}_{t}.pt", weights_only=True)
            for arm, _ in EDIT_ARMS
            if arms is None or arm in arms
            for t in EDIT_T_STARS
        },
        "unedited": json.loads(path.read_text()) if path.exists() else None,
    }


def _edit_models(load) -> dict:
    return {
        "editor": load("digits_unet_cfg", "cpu"),
        "unet": load("digits_unet", "cpu"),
        "guide": load("digits_noisy_classifier", "cpu").model.eval(),
        "judge": load("digit_classifier", "cpu").model.eval(),
    }


# ------------------------------------------------------------------ verdicts and the cache
#: clips of the widget's frames (every row, uint8)
WIDGET_CLIPS = (0, 1, 2)
#: the edited digits the lesson shows (of the 100, ten per class in class order: one each of classes 0 … 7)
EDITS_SHOWN = tuple(range(0, 80, 10))


def judge_video(rows: dict, data: dict, reference: dict, classifier) -> dict:
    """Per row: the per-clip measures (:func:`clip_measures`) with their means, patch SWD of all its frames and the
    Fréchet distance of its crops' classifier features against the reference clips; the verdicts of
    :data:`VIDEO_COMPARISONS` (paired t over clips; delete-half jackknife for the set measures)."""
    from .. import stats
    from ..engine.harness import value_stats
    from ..metrics import frechet_distance, patch_distance
    from ..video import warping_error

    ref_frames = _flat(reference["hr"]).float()
    ref_crops = crops(reference["hr"], reference["positions"]).float()
    with torch.no_grad():
        ref_features = classifier.features(ref_crops)
    out, per_clip, sets = {}, {}, {}
    for name, what in VIDEO_ROWS:
        frames = rows[name]["frames"].float()
        m = clip_measures(frames, data, classifier)
        flat = _flat(frames)
        with torch.no_grad():
            features = classifier.features(crops(frames, data["positions"]))
        per_clip[name], sets[name] = m, (flat, features)
        per_frame = torch.stack([warping_error(frames[n], data["shifts"][n]) for n in range(frames.shape[0])]).mean(
            0
        )  # each pair's error, averaged over the clips
        out[name] = {
            "what": what,
            # the HR row's PSNR and consistency measure only the float16 rounding of the stored frames: not stored
            **{k: value_stats(v) for k, v in m.items() if name != "hr" or k not in ("psnr", "consistency")},
            "warping_error_per_pair": [round(float(v), 4) for v in per_frame],
            "patch_swd": round(float(patch_distance(flat, ref_frames)), 5),
            "frechet": round(float(frechet_distance(features, ref_features)), 4),
            "nfe": rows[name]["nfe"],
            "ms_per_frame": round(1000 * float(rows[name]["seconds"]) / flat.shape[0], 1),
        }
    verdicts = {}
    for a, b in VIDEO_COMPARISONS:
        A, B = per_clip[a], per_clip[b]
        share = MARGINS["patch_swd_share"] * out[b]["patch_swd"]
        verdicts[f"{a} vs {b}"] = {
            "psnr": stats.compare_values(A["psnr"], B["psnr"], True, MARGINS["psnr_db"]),
            "consistency": stats.compare_values(A["consistency"], B["consistency"], True, None),
            "warping_error": stats.compare_values(
                A["warping_error"], B["warping_error"], False, MARGINS["warping_error"]
            ),
            "agreement": stats.compare_values(A["agreement"], B["agreement"], True, MARGINS["agreement"]),
            "patch_swd": stats.compare_sets(patch_distance, sets[a][0], sets[b][0], ref_frames, share),
        }
    return {"rows": out, "verdicts": verdicts}


def judge_editing(result: dict) -> dict:
    """Per arm and t*: faithfulness (PSNR and SSIM to the input), success (the judge reads the target) with their t
    intervals; inversion − SDEdit at each t* (paired)."""
    from .. import stats
    from ..engine.pretrained import load
    from ..metrics import psnr, ssim

    x, labels, targets = edit_inputs()
    judge = load("digit_classifier", "cpu").model.eval()
    cells, per = {}, {}
    for key, cell in result["cells"].items():
        out = cell["images"].float()
        with torch.no_grad():
            success = (judge(out).argmax(1) == targets).float()
        m = {"psnr": psnr(out, x), "ssim": ssim(out, x), "success": success}
        per[key] = m
        cells[key] = {
            **{k: stats.mean_interval(v).to_dict() for k, v in m.items()},
            "seconds": round(float(cell["seconds"]), 1),
        }
    verdicts = {}
    for t in EDIT_T_STARS:
        a, b = per[f"inversion_{t}"], per[f"sdedit_{t}"]
        verdicts[f"inversion vs sdedit at {t}"] = {
            "psnr": stats.compare_values(a["psnr"], b["psnr"], True, EDIT_MARGINS["psnr_db"]),
            "success": stats.compare_values(a["success"], b["success"], True, EDIT_MARGINS["success"]),
        }
        a = per[f"sdedit_classifier_{t}"]
        verdicts[f"sdedit_classifier vs sdedit at {t}"] = {
            "psnr": stats.compare_values(a["psnr"], b["psnr"], True, EDIT_MARGINS["psnr_db"]),
            "success": stats.compare_values(a["success"], b["success"], True, EDIT_MARGINS["success"]),
        }
    return {"cells": cells, "verdicts": verdicts, "unedited_accuracy": result["unedited"]}


#: the model behind each row (None: no network), for the harness's cost columns
ROW_MODELS = {
    "bicubic": None,
    "regression": "digits_regression_unet",
    **{name: "digits_sr3_concat" for name in ("independent", "same_noise", "moving_noise")},
    **{f"sdedit_{t}": "digits_sr3_concat" for t in T_STARS},
    **{f"temporal_{k}": "digits_video_sr3" for k in ("own", "oracle", "estimated")},
}


def _cpu_minutes(name: str) -> float:
    """A shipped model's training CPU-minutes (wall seconds × the threads its record names), its borrowed parts'
    included."""
    import re

    from ..engine.pretrained import training_record, training_seconds

    threads = re.search(r"(\d+) threads?", training_record(name).get("hardware") or "")
    return training_seconds(name) * (int(threads.group(1)) if threads else 1) / 60


def harness_rows(rows: dict, temporal: dict) -> list[dict]:
    """The rows in the harness's columns on the task ``digits_video_x4`` (per frame; the clip's per-frame seeds),
    with the warping error beside them and the training cost in CPU-minutes (every borrowed part charged): what
    lesson 13 gathers."""
    from ..engine.pretrained import load
    from ..models import count_parameters

    out = []
    for name, what in VIDEO_ROWS:
        if name == "hr":
            continue
        r, model = rows[name], ROW_MODELS[name]
        if model == "digits_video_sr3":
            parameters, minutes = temporal["parameters"], temporal["cpu_minutes"] + temporal["borrowed_cpu_minutes"]
        elif model is None:
            parameters, minutes = 0, 0.0
        else:
            parameters, minutes = count_parameters(load(model, "cpu").model), _cpu_minutes(model)
        out.append(
            {
                "label": f"video: {what}",
                "task": "digits_video_x4",
                "row": name,
                "model": model,
                **{k: r[k]["mean"] for k in ("psnr", "consistency", "agreement", "warping_error")},
                "patch_swd": r["patch_swd"],
                "frechet": r["frechet"],
                "nfe": r["nfe"],
                "ms_per_image": r["ms_per_frame"],
                "parameters": parameters,
                "training_cpu_minutes": round(minutes, 1),
            }
        )
    return out


def collect() -> dict:
    """Judge both experiments and write ``data/cache/video.json`` and ``video_frames.npz``."""
    import numpy as np

    from ..device import describe_hardware
    from ..engine.pretrained import load
    from ..files import write_cached
    from ..images import to_uint8

    data, reference = test_clips(), test_clips(REFERENCE_CLIPS, N_CLIPS)
    classifier = load("digit_classifier", "cpu").model.eval()
    rows = run_video()
    # the verdicts of the rows (minutes of jackknife), kept until a row's file changes
    stamp = [[name, (WORK / "rows" / f"{name}.pt").stat().st_mtime_ns] for name, _ in VIDEO_ROWS]
    judged = WORK / "judged.pt"
    kept = torch.load(judged, weights_only=True) if judged.exists() else None
    if kept is None or kept["stamp"] != stamp:
        kept = {"stamp": stamp, "video": judge_video(rows, data, reference, classifier)}
        torch.save(kept, judged)
    video = kept["video"]
    curve = json.loads((WORK / "temporal" / "curve.json").read_text())
    video["temporal_training"] = {
        "cpu_minutes": round(curve["cpu_seconds"] / 60, 1),
        "borrowed_cpu_minutes": round(_cpu_minutes("digits_sr3_concat"), 1),
        "steps": curve["points"][-1]["step"],
        "parameters": sum(p.numel() for p in load_temporal().model.parameters()),  # the EMA: none needs a gradient
    }
    video["harness_rows"] = harness_rows(video["rows"], video["temporal_training"])
    est = estimated_shifts(data["y"])
    video["motion_estimation"] = {
        "exact_share": round(float((est == data["shifts"]).all(-1).float().mean()), 4),
        "mean_abs_error_px": round(float((est - data["shifts"]).abs().float().mean()), 4),
    }
    editing = judge_editing(run_editing())
    x, labels, targets = edit_inputs()
    arrays = {
        "rows": np.array([name for name, _ in VIDEO_ROWS]),
        "frames": np.stack(
            [to_uint8(_flat(rows[name]["frames"][list(WIDGET_CLIPS)].float())) for name, _ in VIDEO_ROWS]
        ).reshape(len(VIDEO_ROWS), len(WIDGET_CLIPS), FRAMES, 48, 48),
        "lr": to_uint8(_flat(data["y"][list(WIDGET_CLIPS)])).reshape(len(WIDGET_CLIPS), FRAMES, 12, 12),
        "shifts": data["shifts"][list(WIDGET_CLIPS)].numpy().astype(np.int8),
        "positions": data["positions"][list(WIDGET_CLIPS)].numpy().astype(np.int8),
        "edit_inputs": to_uint8(x[list(EDITS_SHOWN)])[..., 0],
        "edits": np.stack(
            [
                to_uint8(run_editing()["cells"][f"{arm}_{t}"]["images"][list(EDITS_SHOWN)].float())[..., 0]
                for arm, _ in EDIT_ARMS
                for t in EDIT_T_STARS
            ]
        ).reshape(len(EDIT_ARMS), len(EDIT_T_STARS), len(EDITS_SHOWN), 32, 32),
    }
    result = {
        "question": __doc__.split("\n\n")[1],
        "clips": {"test": N_CLIPS, "reference": REFERENCE_CLIPS, "frames": FRAMES, "canvas": 48, "scale": 4},
        "steps": STEPS,
        "t_stars": list(T_STARS),
        "margins": MARGINS,
        "rows_order": [name for name, _ in VIDEO_ROWS],
        "widget_clips": list(WIDGET_CLIPS),
        **video,
        "editing": {
            "n": N_EDITS,
            "t_stars": list(EDIT_T_STARS),
            "w": EDIT_W,
            "classifier_scale": CLASSIFIER_SCALE,
            "margins": EDIT_MARGINS,
            "arms": dict(EDIT_ARMS),
            "shown": list(EDITS_SHOWN),
            "labels": labels[list(EDITS_SHOWN)].tolist(),
            "targets": targets[list(EDITS_SHOWN)].tolist(),
            **editing,
        },
        "hardware": describe_hardware("cpu").replace("2 threads", "1 thread"),
    }
    write_cached(
        RESULTS,
        result,
        "cache/video_frames.npz",
        arrays,
        "python -m course_lib.experiments.video (lesson 12)",
        (
            "Lesson 12: video SR rows on moving-digit clips with verdicts, and the editing curves",
            "Lesson 12: the widget's frames (every row, three clips) and eight edited digits per arm and t*",
        ),
    )
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.experiments.video", description=__doc__.split("\n")[0])
    parser.add_argument(
        "stage", choices=["temporal", "guide", "editor", "rows", "edits", "collect", "all"], nargs="?", default="all"
    )
    parser.add_argument("--arms", nargs="+", default=None, help="edits: only these arms (two processes side by side)")
    args = parser.parse_args(argv)
    if args.stage in ("temporal", "all"):
        print(train_temporal())
    if args.stage in ("guide", "all"):
        print(train_guide())
    if args.stage in ("editor", "all"):
        print(train_guide(editor_config()))
    if args.stage in ("rows", "all"):
        run_video()
    if args.stage in ("edits", "all"):
        run_editing(args.arms)
    if args.stage in ("collect", "all"):
        collect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
