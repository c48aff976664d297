"""Lesson 13's experiment: the field, measured · 全景测量 — ``python -m course_lib.experiments.field``.

The notes' §4 table ("DIV2K ×4 blind SR": model, parameters, steps, FID) and §3 table (CNN / Transformer / diffusion
era), rebuilt from the one evaluation harness: every method of lessons 04–11 on the same 500 evaluation digits
(:data:`course_lib.engine.harness.EVAL_INDICES`, ×4), image i's noise from its own seed, the lesson-05 measures.
Everything below was fixed in this file before the first run.

* **Rows** (:data:`FIELD`): one row per method (a representative sampler setting each: the harness's DDIM-50 where
  the method samples with DDIM, the lesson's own setting otherwise), with its family (the figure's colour), the lesson
  that built it and its core idea in one line; the two new rows (:data:`ROWS`) are lesson 13's SwinIR-style regressors,
  with the pixel and with the perceptual loss (:mod:`course_lib.methods.swinir`). Their outputs are the harness's
  (``runs/harness/digits_x4/``, shared with ``python -m course_lib.harness``), so a row here and its row of
  ``data/cache/landscape.json`` are the same numbers.
* **Intervals**: per-image measures (PSNR, SSIM, consistency, agreement) by the t interval of their mean (Eq. S.1);
  patch SWD (realism first) and the Fréchet distance on the digit classifier's features by the delete-half jackknife
  (Eq. S.2–S.3, :data:`SET_DRAWS` halves) against the other half of the test split.
* **Verdicts** (:data:`MARGINS`, the margins of lessons 10–11): every row against :data:`REFERENCE` (SR3-style with
  DDIM-50, the course's central diffusion row) — PSNR and agreement by paired t intervals, patch SWD and Fréchet by the
  paired delete-half jackknife — each measure's comparisons judged as one family (Bonferroni,
  :func:`course_lib.stats.family_level`); and the §3 questions (:data:`ERA_PAIRS`) at the usual 95 %. One training
  run per model: every verdict is "on this run".
* **Cost**: NFE, ms/image and parameters from the harness's row; training CPU-minutes with every part charged once —
  borrowed frozen parts, the model a run started from, a teacher, a loss's feature network
  (:func:`course_lib.engine.pretrained.training_cost`; wall minutes × threads; GPU minutes apart).
* **Pictures** for the landscape widget: :data:`PICTURE_INDICES` (16 digits, one or two of each class), samples 0
  and 1 of each sampled row (image i's seeds as in the harness; one picture when both are equal), as uint8 in
  ``data/cache/field_pictures.npz``.

Results: ``data/cache/field.json`` and ``field_pictures.npz``. Lesson 12's clip rows live in
``data/cache/video.json`` (``harness_rows``: another task, a temporal measure) and are read from there.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from .. import stats
from ..device import describe_hardware, get_device
from ..engine.curves import SET_DRAWS, judge_points
from ..engine.harness import (
    LIVE_INDICES,
    TASKS,
    WORK,
    Entry,
    Work,
    entry_restorer,
    load_table,
    measure,
    outputs,
    restore_batched,
)
from ..files import verify_file, write_cached
from ..images import to_uint8
from ..metrics import frechet_distance, patch_distance
from .era import ERA, ERA_PAIRS, ROWS
from .landscape import ENTRIES

__all__ = [
    "ROWS",
    "FieldRow",
    "FIELD",
    "FAMILIES",
    "REFERENCE",
    "ERA",
    "ERA_PAIRS",
    "MARGINS",
    "PICTURE_INDICES",
    "RESULTS",
    "PICTURES",
    "evaluate",
    "load_field",
    "harness_hours",
    "load_pictures",
    "video_rows",
    "CLAIMS",
    "claim_value",
    "load_claims",
    "fill_claims",
    "main",
]

RESULTS = "cache/field.json"
PICTURES = "cache/field_pictures.npz"

#: the figure's colours: a family per kind of method
FAMILIES = ("reference", "regression", "sampler", "cascade/latent", "zero-shot/blind", "residual/prior", "backbone",
            "flow")  # fmt: skip


@dataclass(frozen=True)
class FieldRow:
    """A row of the §4-shaped table: the harness row ``label``, a short ``name``, its ``family``, the ``lesson`` that
    built it and its core ``idea``."""

    label: str
    name: str
    family: str
    lesson: str
    idea: str


FIELD: tuple[FieldRow, ...] = (
    FieldRow("bicubic", "bicubic", "reference", "00", "interpolation; nothing learned"),
    FieldRow("SRCNN", "SRCNN", "regression", "05", "three convolutions over bicubic; pixel MSE"),
    FieldRow("regression U-Net", "regression U-Net", "regression", "05",
             "SR3's U-Net without time; pixel MSE gives the posterior mean"),
    FieldRow("RRDB (L1; SRDiff's frozen encoder)", "RRDB (L1)", "regression", "09",
             "ESRGAN's residual-in-residual dense blocks; L1"),
    FieldRow("ResDiff's CNN (MSE + FFT + DWT)", "ResDiff's CNN", "regression", "09",
             "RRDB blocks; MSE plus frequency-domain losses"),
    FieldRow("SwinIR-style (L1)", "SwinIR-style (L1)", "regression", "13",
             "shifted-window self-attention; L1"),
    FieldRow("SwinIR-style (L1 + perceptual)", "SwinIR-style (perceptual)", "regression", "13",
             "the same network; L1 plus a feature loss on an autoencoder's encoder"),
    FieldRow("SR3 concat DDIM-50", "SR3-style (DDIM-50)", "sampler", "04",
             "y concatenated to x_t; denoise step by step"),
    FieldRow("SR3 encoder DDIM-50", "SR3, encoder (DDIM-50)", "sampler", "04",
             "y through an encoder added to the U-Net's features"),
    FieldRow("SR3 concat DPM-Solver++(2M) 10", "SR3 + DPM-Solver++ (10)", "sampler", "06",
             "the same model, a second-order ODE solver"),
    FieldRow("consistency student 1 step", "consistency (1 step)", "sampler", "06",
             "distilled to map any x_t to x₀ in one evaluation"),
    FieldRow("cascade SR stage, no augmentation (DDIM-50)", "cascade SR stage", "cascade/latent", "07",
             "the SR stage of a cascade, on true LR"),
    FieldRow("latent SR (f = 4 KL autoencoder, DDIM-50)", "latent SR", "cascade/latent", "07",
             "diffusion on an autoencoder's 8 × 8 × 4 latents"),
    FieldRow("DDNM (unconditional digits_unet, 100 steps)", "DDNM", "zero-shot/blind", "08",
             "an unconditional model; range–null-space projection, no SR training"),
    FieldRow("DDNM time travel (L 10, r 3)", "DDNM + time travel", "zero-shot/blind", "08",
             "the same, with resampling (go back L steps, r times)"),
    FieldRow("DiffBIR (blind, given bicubic y; strength 2, DDIM-20)", "DiffBIR", "zero-shot/blind", "08",
             "a restorer, then a frozen generative prior steered by a ControlNet"),
    FieldRow("SRDiff DDPM-100", "SRDiff", "residual/prior", "09",
             "diffusion on the residual over bicubic, conditioned on a frozen RRDB"),
    FieldRow("ResDiff DDIM-50", "ResDiff", "residual/prior", "09",
             "diffusion on the residual over a frozen CNN, with its frequencies"),
    FieldRow("DiffIR (4-step prior + one restorer pass)", "DiffIR", "residual/prior", "09",
             "diffusion on a compact prior vector, then one restorer pass"),
    FieldRow("DiT (p = 4, adaLN-Zero) DDIM-50", "DiT", "backbone", "10",
             "a Transformer denoiser on 4 × 4 patches, adaLN-Zero"),
    FieldRow("flow matching (1-RF) Euler-50", "flow matching (50)", "flow", "11",
             "a straight path noise → HR; velocity regression; Euler"),
    FieldRow("flow matching (1-RF) Euler-4", "flow matching (4)", "flow", "11", "the same, 4 Euler steps"),
)  # fmt: skip

#: every row is judged against this one (the course's central diffusion row)
REFERENCE = "SR3 concat DDIM-50"

#: "as good within" (fixed before measuring; the margins of lessons 10–11): PSNR and consistency in dB, agreement as a
#: share of digits, patch SWD and Fréchet as a share of the reference row's own value
MARGINS = {"psnr_db": 0.5, "consistency_db": 1.0, "agreement": 0.03, "patch_swd_share": 0.10, "frechet_share": 0.25}

#: the landscape widget's digits: the lessons' 16 live digits (in EVAL_INDICES), two samples of a stochastic row
PICTURE_INDICES = LIVE_INDICES
PICTURE_SAMPLES = 2

#: the measures with a value per image, and whether higher is better
PER_IMAGE = {"psnr": True, "ssim": True, "consistency": True, "agreement": True}


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    """``(B, 1, H, W)`` in [-1, 1] → ``(B, H, W)`` uint8 (the course's one conversion out)."""
    return to_uint8(x)[..., 0]


def _entry(label: str, entries) -> Entry:
    for e in entries:
        if e.label == label and e.task == "digits_x4":
            return e
    raise KeyError(f"no digits_x4 harness row is labelled {label!r}")


def evaluate(device=None, draws: int = SET_DRAWS, work_root=WORK, progress: bool = False) -> dict:
    """Every :data:`FIELD` row's intervals and verdicts, the §3 questions and the widget's pictures (see the module
    docstring); returns ``{"rows", "era", "pictures"}`` (the pictures as arrays)."""
    from ..engine.pretrained import load, load_classifier, training_cost

    device = get_device(device)
    task = TASKS["digits_x4"]
    hr, y, indices, _ = task.load(device)
    work = Work(work_root, task.name)
    classifier = load_classifier(device=device)
    from ..datasets import DigitsSR
    from ..engine.harness import REFERENCE_INDICES

    reference = DigitsSR("test", scale=4).tensors(list(REFERENCE_INDICES))[0].to(device)
    with torch.no_grad():
        ref_features = classifier.features(reference)
    table = {r["label"]: r for r in load_table()["rows"] if r["task"] == "digits_x4"}
    position = {int(i): p for p, i in enumerate(indices)}
    picture_positions = [position[int(i)] for i in PICTURE_INDICES]

    evaluated: dict[str, dict] = {}
    pictures: dict[str, np.ndarray] = {
        "hr": _to_uint8(hr[picture_positions].cpu()),
        "y": _to_uint8(y[picture_positions].cpu()),
        "indices": np.asarray(PICTURE_INDICES, dtype=np.int16),
    }
    for k, row in enumerate(FIELD):
        entry = _entry(row.label, ENTRIES)
        sr = outputs(entry, work, hr, y, indices, device, progress)[0].to(device)
        with torch.no_grad():
            m = measure(sr, hr, y, task.scale, classifier)
            features = classifier.features(sr)
        evaluated[row.label] = {"sr": sr, "features": features, "measures": m}
        # the widget's pictures: sample 0 from the harness's outputs; sample 1 of a stochastic row on the 16 digits
        samples = [sr[picture_positions].cpu()]
        shipped = None if entry.model is None else load(entry.model, device)
        if shipped is not None and shipped.method.iterative:
            restore, options = entry_restorer(shipped, entry.options, task.scale)
            for j in range(1, PICTURE_SAMPLES):
                samples.append(restore_batched(restore, y[picture_positions], PICTURE_INDICES, j, **options).cpu())
        if len(samples) > 1 and torch.equal(samples[1], samples[0]):  # a deterministic sampler: one picture
            samples = samples[:1]
        pictures[f"row{k:02d}"] = np.stack([_to_uint8(s) for s in samples])
        print(f"  {row.name}: measured", flush=True)

    rows = []
    ref = evaluated[REFERENCE]
    family = stats.family_level(stats.LEVEL, len(FIELD) - 1)
    for k, row in enumerate(FIELD):
        e = evaluated[row.label]
        cached = table[row.label]
        out = {**asdict(row), "picture_key": f"row{k:02d}", "model": cached["model"]}
        for key in PER_IMAGE:
            out[key] = stats.mean_interval(e["measures"][key]).to_dict()
        out["patch_swd"] = stats.set_interval(patch_distance, e["sr"], reference, draws).to_dict()
        out["frechet"] = stats.set_interval(frechet_distance, e["features"], ref_features, draws).to_dict()
        out["mean_check"] = {key: cached[key] for key in ("psnr", "ssim", "consistency", "agreement", "patch_swd",
                                                          "frechet")}  # fmt: skip
        for key in ("diversity", "nfe", "ms_per_image", "parameters"):
            out[key] = cached[key]
        cost = training_cost(cached["model"]) if cached["model"] else {"cpu_minutes": 0.0, "gpu_minutes": 0.0,
                                                                       "parts": {}}  # fmt: skip
        out["training_cpu_minutes"], out["training_gpu_minutes"] = cost["cpu_minutes"], cost["gpu_minutes"]
        out["charged"] = sorted(cost["parts"])
        if row.label != REFERENCE:
            out["against_reference"] = _judge(e, ref, reference, ref_features, draws, family)
        rows.append(out)

    era = []
    for a, b in ERA_PAIRS:
        era.append({"a": a, "b": b, **_judge(evaluated[a], evaluated[b], reference, ref_features, draws, stats.LEVEL)})
    return {"rows": rows, "era": era, "pictures": pictures}


def _judge(a: dict, b: dict, reference, ref_features, draws: int, level: float) -> dict:
    """A − B on the same digits by :func:`course_lib.engine.curves.judge_points` (paired t intervals for PSNR,
    consistency and agreement, the paired delete-half jackknife for patch SWD and Fréchet), against :data:`MARGINS`,
    each interval at ``level``."""

    def point(e: dict) -> dict:
        m = e["measures"]
        return {
            "psnr": {"values": m["psnr"]},
            "consistency": {"values": m["consistency"]},
            "agreement_values": m["agreement"],
            "patch_swd": float(patch_distance(e["sr"], reference)),
            "frechet": float(frechet_distance(e["features"], ref_features)),
        }

    sets = {"images": (a["sr"], b["sr"], reference), "features": (a["features"], b["features"], ref_features)}
    return judge_points(point(a), point(b), sets, MARGINS, draws, level)


def harness_hours() -> float:
    """The compute time of the whole landscape table (``make harness`` from nothing), in hours on the machines its
    rows were timed on: each row's ms/image × images, plus the extra samples of its diversity."""
    entries = {(e.task, e.label): e for e in ENTRIES}
    seconds = 0.0
    for r in load_table()["rows"]:
        e = entries[(r["task"], r["label"])]
        one = r["ms_per_image"] * r["n"] / 1000
        seconds += one * (e.diversity if e.diversity > 1 and e.samples == 1 else 1)
    return round(seconds / 3600, 2)


def load_field() -> dict:
    """The cached results (``data/cache/field.json``), hash-checked."""
    return json.loads(verify_file(RESULTS).read_text(encoding="utf-8"))


def load_pictures() -> dict[str, np.ndarray]:
    """The landscape widget's pictures (``data/cache/field_pictures.npz``), hash-checked: ``hr`` ``(16, 32, 32)``,
    ``y`` ``(16, 8, 8)``, ``indices`` and ``rowNN`` ``(K, 16, 32, 32)`` (uint8; K = 2 for a stochastic row)."""
    with np.load(verify_file(PICTURES)) as z:
        return {k: z[k] for k in z.files}


def video_rows() -> list[dict]:
    """Lesson 12's clip rows in the harness's columns (task ``digits_video_x4``), from ``data/cache/video.json``."""
    return json.loads(verify_file("cache/video.json").read_text(encoding="utf-8"))["harness_rows"]


CLAIMS = "claims.json"


def claim_value(ours: dict) -> float:
    """What the course measured for a claim: ``ours`` names a cache under ``data/`` and either a harness ``row`` and
    ``field`` (``cache/landscape.json``) or a ``path`` of keys, or a ``ratio`` of two paths (rounded to 0.1)."""
    data = json.loads(verify_file(ours["cache"]).read_text(encoding="utf-8"))

    def at(path):
        v = data
        for key in path:
            v = v[key]
        return v

    if "row" in ours:
        matches = [r for r in data["rows"] if r["label"] == ours["row"] and r["task"] == "digits_x4"]
        if len(matches) != 1:
            raise KeyError(f"ours.row: no single digits_x4 row labelled {ours['row']!r} in {ours['cache']}")
        return matches[0][ours["field"]]
    if "ratio" in ours:
        top, bottom = ours["ratio"]
        return round(at(top) / at(bottom), 1)
    return at(ours["path"])


def load_claims() -> dict:
    """The claims ledger (``data/claims.json``), hash-checked."""
    return json.loads(verify_file(CLAIMS).read_text(encoding="utf-8"))


def fill_claims() -> dict:
    """Fill every claim's ``ours.value`` from the cache it names and rewrite ``data/claims.json`` (the papers' side is
    written by hand; this keeps the course's side equal to the caches)."""
    from ..files import data_dir, register_data_file, write_text

    path = data_dir() / CLAIMS
    ledger = json.loads(path.read_text(encoding="utf-8"))
    for claim in ledger["claims"]:
        claim["ours"]["value"] = claim_value(claim["ours"])
    write_text(path, json.dumps(ledger, indent=1, ensure_ascii=False) + "\n")
    register_data_file(
        CLAIMS,
        {
            "description": "lesson 13's claims ledger: the notes' numbers, the papers' (by hand, with where and "
            "whose), the course's (filled from the caches)",
            "source": "written from the papers (sources per entry); ours: python -m course_lib.experiments.field "
            "--claims",
            "licence": "MIT (written by the course; the quoted numbers are the cited papers')",
        },
    )
    return ledger


def main(argv: list[str] | None = None) -> int:
    """``python -m course_lib.experiments.field``: evaluate every row (the harness's outputs, computed where missing)
    and write the caches."""
    parser = argparse.ArgumentParser(prog="python -m course_lib.experiments.field", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--claims", action="store_true", help="only fill the claims ledger's values from the caches")
    args = parser.parse_args(argv)
    if args.claims:
        for claim in fill_claims()["claims"]:
            print(f"{claim['id']}: notes {claim['notes_value']}, ours {claim['ours']['value']}")
        return 0
    start = time.perf_counter()
    result = evaluate(args.device, progress=args.progress)
    pictures = result.pop("pictures")
    hardware = describe_hardware(get_device(args.device))
    source = f"python -m course_lib.experiments.field ({hardware})"
    payload = {
        "hardware": hardware,
        "source": source,
        "margins": MARGINS,
        "reference": REFERENCE,
        "family_level": stats.family_level(stats.LEVEL, len(FIELD) - 1),
        "set_draws": SET_DRAWS,
        "picture_indices": list(PICTURE_INDICES),
        "harness_hours": harness_hours(),
        **result,
        "seconds": round(time.perf_counter() - start),
    }
    write_cached(
        RESULTS,
        payload,
        PICTURES,
        pictures,
        source,
        (
            "lesson 13: the field, measured — every method's row with its intervals and verdicts, the §3 questions "
            "(python -m course_lib.experiments.field)",
            "lesson 13's landscape widget: 16 test digits, LR and HR, every row's samples 0 and 1 (uint8)",
        ),
    )
    print(json.dumps({r["name"]: r["psnr"]["estimate"] for r in payload["rows"]}, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
