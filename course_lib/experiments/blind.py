"""Lesson 08's blind-restoration evaluation (workflow layer): DiffBIR's two stages at toy scale, measured.

``python -m course_lib.blind`` writes ``data/cache/blind_restoration.json``:

1. **The control strength is chosen on validation digits** (the odd half of the test split, never evaluated on), by
   the rule fixed here before any measurement (:data:`RULE`): among :data:`STRENGTHS`, the most realistic (lowest
   patch SWD against 1,000 training digits) that keeps the fidelity bounds of the issue against stage 1 alone — PSNR no
   more than 3 dB below, classifier agreement no more than 1 point below; if none keeps them, the trained strength 1.
2. **Evaluation** on :data:`N_EVAL` digits of the even half (every 10th test digit), each degraded with its own seed,
   for the degradations the models trained on (:class:`~course_lib.operators.BlindDegradation` defaults) and for
   one they never saw (:data:`UNSEEN`: stronger blur, harsher JPEG): the degraded input itself, stage 1 alone, the full
   pipeline at the chosen strength and at 1, and lesson 04's SR3-style model fed the degraded image area-downsampled to
   8 × 8. Each against stage 1 on the same digits (:func:`pairs_vs_stage1`, :mod:`course_lib.stats`): per-image PSNR
   and agreement by the paired t interval, judged against :data:`RULE`'s bounds as non-inferiority margins (fixed
   before measuring); patch SWD against the other half of the test split by the delete-half jackknife
   (exploratory). The per-image values are kept in the cache.
3. **A follow-up** (``--part followup``, added after step 2 — exploratory, it changes no verdict of step 2): the same
   chosen pipeline and stage 1 on :data:`FOLLOWUP_INDICES`, 400 digits of the even half used nowhere else, with fresh
   seeds: on 100 digits one digit is one point of agreement and the paired SE is about two, so step 2 cannot resolve
   a 1-point bound; 400 digits halve that.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from ..device import get_device
from ..files import verify_file, write_cached

from ..engine.harness import Entry

__all__ = [
    "ROWS",
    "STRENGTHS",
    "RULE",
    "UNSEEN",
    "N_EVAL",
    "FOLLOWUP_INDICES",
    "choose_strength",
    "pairs_vs_stage1",
    "run",
    "followup",
    "load_blind",
    "main",
]

CACHE = "cache/blind_restoration.json"
STRENGTHS = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0)
RULE = {"psnr_below_stage1_db": 3.0, "agreement_below_stage1": 0.01}
#: a degradation outside the training ranges: blur σ 3 (trained ≤ 2), JPEG quality 15 (trained ≥ 40)
UNSEEN = {"blur": (3.0, 3.0), "scale": (1.0, 2.0), "noise": (0.0, 0.03), "jpeg": (15, 15)}
N_EVAL = 100
STEPS = 20
SEED_VALIDATION, SEED_EVAL, SEED_FOLLOWUP = 910_000, 920_000, 930_000
#: step 3: the even test digits that are neither evaluated in step 2 (every 10th) nor validation digits (odd)
FOLLOWUP_INDICES = tuple(i for i in range(0, 1000, 2) if i % 10)

#: lesson 08's blind rows of the landscape table: DiffBIR's stage 1 alone and the full pipeline, told nothing about
#: the degradation — each is given the bicubic-upsampled y (a 32 × 32 image, the input a blind restorer expects; area
#: ×4 lies inside the training degradations' range of scale and blur)
ROWS = (
    Entry("DiffBIR stage 1 alone (blind, given bicubic y)", "digits_x4", "digits_blind_restorer", {"input": "bicubic"}),
    Entry(
        "DiffBIR (blind, given bicubic y; strength 2, DDIM-20)",
        "digits_x4",
        "digits_diffbir",
        {"input": "bicubic", "sampler": "ddim", "steps": 20, "strength": 2.0},
    ),
)


def choose_strength(rows: dict, stage1: dict, rule: dict = RULE) -> float:
    """The rule of step 1: ``rows`` maps strength → ``{"psnr", "agreement", "patch_swd"}`` means, ``stage1`` the
    same for stage 1 alone. Returns the chosen strength (1.0 if no strength keeps the fidelity bounds)."""
    ok = [
        s
        for s, r in rows.items()
        if r["psnr"] >= stage1["psnr"] - rule["psnr_below_stage1_db"]
        and r["agreement"] >= stage1["agreement"] - rule["agreement_below_stage1"] - 1e-9
    ]
    return min(ok, key=lambda s: rows[s]["patch_swd"]) if ok else 1.0


def pairs_vs_stage1(measures: dict, outputs: dict, reference, stage1: str = "stage 1") -> dict:
    """Each row − stage 1 on the same digits: ``psnr`` and ``agreement`` judged against :data:`RULE`'s bounds (higher
    is better), ``patch_swd`` exploratory (lower is better), by :func:`course_lib.stats.compare_values` and
    :func:`course_lib.stats.compare_sets`. ``measures``: label → per-image ``psnr``, ``agreement``; ``outputs``:
    label → images."""
    from .. import stats
    from ..metrics import patch_distance

    ref = measures[stage1]
    return {
        k: {
            "psnr": stats.compare_values(m["psnr"], ref["psnr"], True, RULE["psnr_below_stage1_db"]),
            "agreement": stats.compare_values(m["agreement"], ref["agreement"], True, RULE["agreement_below_stage1"]),
            "patch_swd": stats.compare_sets(patch_distance, outputs[k], outputs[stage1], reference),
        }
        for k, m in measures.items()
        if k != stage1
    }


def _values(measures: dict) -> dict:
    """Per-image PSNR (3 decimals) and agreement (0/1) of each row, as the cache keeps them."""
    return {
        k: {"psnr": [round(float(v), 3) for v in m["psnr"]], "agreement": [int(v) for v in m["agreement"]]}
        for k, m in measures.items()
    }


def run(device) -> dict:
    """Steps 1 and 2 of the module docstring."""
    from ..engine.pretrained import load_classifier
    from ..datasets import DigitsSR
    from ..engine.harness import REFERENCE_INDICES
    from ..metrics import patch_distance, psnr
    from ..operators import BlindDegradation, downsample
    from ..engine.pretrained import load

    shipped = load("digits_diffbir", device)
    model, process, method = shipped.model, shipped.process, shipped.method
    sr3 = load("digits_sr3_concat", device)
    classifier = load_classifier(device=device)
    test = DigitsSR("test", scale=4)

    def measure(x, hr, call, reference):
        return {
            "psnr": psnr(x, hr),
            "agreement": (classifier(x).argmax(1) == call).float(),
            "patch_swd": float(patch_distance(x, reference)),
        }

    def mean(m):
        return {k: (round(float(v.mean()), 4) if isinstance(v, torch.Tensor) else round(v, 6)) for k, v in m.items()}

    # 1. the strength, on validation digits
    val_idx = list(range(1, 1000, 10))
    hr_v = test.tensors(val_idx)[0].to(device)
    train_ref = DigitsSR("train", scale=4).tensors(list(range(0, 4000, 4)))[0].to(device)
    deg_v = BlindDegradation().apply(hr_v, [SEED_VALIDATION + i for i in val_idx])[0]
    call_v = classifier(hr_v).argmax(1)
    stage1_v = mean(measure(model.restore_stage1(deg_v), hr_v, call_v, train_ref))
    val_rows = {}
    for s in STRENGTHS:
        x = method.restore(model, process, deg_v, seeds=[SEED_VALIDATION + i for i in val_idx], steps=STEPS, strength=s)
        val_rows[s] = mean(measure(x, hr_v, call_v, train_ref))
        print(f"  validation strength {s}: {val_rows[s]}", flush=True)
    chosen = choose_strength(val_rows, stage1_v)
    print(f"  stage 1 on validation: {stage1_v}; chosen strength {chosen}", flush=True)

    # 2. evaluation on the even half
    idx = list(range(0, 1000, 10))[:N_EVAL]
    hr = test.tensors(idx)[0].to(device)
    reference = test.tensors(list(REFERENCE_INDICES))[0].to(device)
    call = classifier(hr).argmax(1)
    seeds = [SEED_EVAL + i for i in idx]
    out = {}
    for name, deg in (("seen", BlindDegradation()), ("unseen", BlindDegradation(**UNSEEN))):
        degraded = deg.apply(hr, seeds)[0]
        start = time.perf_counter()
        outputs = {"degraded input": degraded, "stage 1": model.restore_stage1(degraded)}
        for label, s in ((f"pipeline, strength {chosen} (chosen)", chosen), ("pipeline, strength 1 (trained)", 1.0)):
            outputs[label] = method.restore(model, process, degraded, seeds=seeds, steps=STEPS, strength=s)
        outputs["SR3-style x4 on the degraded image at 8x8"] = sr3.restore(
            downsample(degraded, 4), seeds=seeds, sampler="ddim", steps=STEPS, progress=False
        )
        outputs = {k: v.clamp(-1, 1) for k, v in outputs.items()}
        measures = {k: measure(v, hr, call, reference) for k, v in outputs.items()}
        rows = {k: mean(m) for k, m in measures.items()}
        seconds = round(time.perf_counter() - start)
        out[name] = {
            "rows": rows,
            "pairs_vs_stage1": pairs_vs_stage1(measures, outputs, reference),
            "per_image": _values(measures),
            "seconds": seconds,
        }
        for k, r in rows.items():
            print(f"  {name} {k}: {r}", flush=True)
    return {
        "strengths": list(STRENGTHS),
        "rule": RULE,
        "validation": {
            "indices": val_idx,
            "stage1": stage1_v,
            "rows": {str(s): r for s, r in val_rows.items()},
            "chosen": chosen,
        },
        "evaluation": out,
        "indices": idx,
        "steps": STEPS,
        "unseen": {k: list(v) for k, v in UNSEEN.items()},
    }


def followup(device, strength: float) -> dict:
    """Step 3 of the module docstring: stage 1 and the pipeline at ``strength`` on :data:`FOLLOWUP_INDICES`, seen and
    unseen degradations, paired against stage 1."""
    from ..engine.pretrained import load_classifier
    from ..datasets import DigitsSR
    from ..engine.harness import REFERENCE_INDICES
    from ..metrics import psnr
    from ..operators import BlindDegradation
    from ..engine.pretrained import load

    shipped = load("digits_diffbir", device)
    model, process, method = shipped.model, shipped.process, shipped.method
    classifier = load_classifier(device=device)
    test = DigitsSR("test", scale=4)
    idx = list(FOLLOWUP_INDICES)
    hr = test.tensors(idx)[0].to(device)
    reference = test.tensors(list(REFERENCE_INDICES))[0].to(device)
    call = classifier(hr).argmax(1)
    seeds = [SEED_FOLLOWUP + i for i in idx]
    out = {}
    for name, deg in (("seen", BlindDegradation()), ("unseen", BlindDegradation(**UNSEEN))):
        degraded = deg.apply(hr, seeds)[0]
        s1 = model.restore_stage1(degraded).clamp(-1, 1)
        pipe = torch.cat(
            [
                method.restore(
                    model, process, degraded[k : k + 100], seeds=seeds[k : k + 100], steps=STEPS, strength=strength
                )
                for k in range(0, len(idx), 100)
            ]
        )
        measures = {
            k: {"psnr": psnr(v, hr), "agreement": (classifier(v).argmax(1) == call).float()}
            for k, v in (("stage 1", s1), ("pipeline", pipe))
        }
        out[name] = {
            k: {"psnr": round(float(m["psnr"].mean()), 4), "agreement": round(float(m["agreement"].mean()), 4)}
            for k, m in measures.items()
        }
        pair = pairs_vs_stage1(measures, {"stage 1": s1, "pipeline": pipe}, reference)["pipeline"]
        out[name].update({"pipeline − stage 1": pair, "per_image": _values(measures)})
        print(
            f"  follow-up {name}: agreement {pair['agreement']['verdict']} {pair['agreement']['interval']}", flush=True
        )
    return {"indices": idx, "strength": strength, "seed_base": SEED_FOLLOWUP, **out}


def load_blind() -> dict:
    """The cached evaluation (``data/cache/blind_restoration.json``), hash-checked."""
    return json.loads(verify_file(CACHE).read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    """``python -m course_lib.blind``: choose the control strength on validation digits, evaluate, write the cache."""
    from ..device import describe_hardware

    parser = argparse.ArgumentParser(prog="python -m course_lib.blind", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument(
        "--part",
        choices=("all", "followup"),
        default="all",
        help="followup: add step 3 to the cached evaluation (steps 1-2 stay as cached)",
    )
    args = parser.parse_args(argv)
    device = get_device(args.device)
    start = time.perf_counter()
    with torch.no_grad():
        if args.part == "followup":
            result = load_blind()
            result["followup"] = followup(device, result["validation"]["chosen"])
            elapsed = result["seconds"] + round(time.perf_counter() - start)
        else:
            result = run(device)
            result["followup"] = followup(device, result["validation"]["chosen"])
            elapsed = round(time.perf_counter() - start)
    hardware = describe_hardware(device)
    result.update(hardware=hardware, seconds=elapsed, source=f"python -m course_lib.blind ({hardware})")
    write_cached(
        CACHE,
        result,
        None,
        None,
        result["source"],
        (
            "lesson 08's blind restoration: the control strength chosen on validation digits, then stage 1, the "
            "DiffBIR pipeline and SR3-style on seen and unseen degradations",
        ),
    )
    print(f"wrote data/{CACHE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
