"""Lesson 11's flow experiment: ``python -m course_lib.flow`` (resumable; about 1.5 CPU-hours).

The question: **on lesson 04's SR task, with lesson 04's U-Net, what do the linear path and its velocity target
change — in quality at equal training compute, in quality at few network evaluations, in how straight the paths
are?** Everything below was fixed in this file before the first run.

* **Arms** (:data:`ARMS`), all the shipped ``digits_sr3_concat`` recipe (×4 digits, the residual target over U(y),
  concatenated U(y), the same U-Net of 620,593 parameters, batch 64, EMA 0.99 as lessons 09's and 10's curves, learning
  rate 10⁻³ — the rate lesson 10's three pilots chose for this U-Net), differing only in the path and the target:
  ``sr3_style`` (lesson 01's VP path, cosine T = 1,000, x₀-prediction: the SR3-style reference, retrained here so
  that both curves come from the same machine and run), ``flow`` (1-rectified flow: the linear path, noise → HR,
  velocity target, uniform t), ``bridge`` (the LR → HR path: the source is U(y) + σ_s·ε with σ_s =
  :data:`BRIDGE_NOISE`), ``flow_logit_normal`` (``flow`` with SD3's logit-normal training times), and ``reflow``
  (2-rectified flow: ``flow``'s final EMA fine-tuned on :data:`N_PAIRS` coupled pairs that ``flow`` itself made).
* **Budget** (:data:`SNAPSHOTS`): 15 training CPU-minutes per arm on one thread (``time.process_time`` of the training
  alone), snapshots every 3, each the EMA restoring lesson 05's 100 curve digits at 50 network evaluations (DDIM-50
  for ``sr3_style``, Euler-50 for the flows; image i from its harness seed), images kept for the set-level intervals.
  ``reflow`` starts its clock at ``flow``'s 15 minutes plus the CPU time of making its pairs (every evaluation of
  the 1-rectified flow is charged to it) and trains :data:`REFLOW_SNAPSHOTS` more.
* **Verdicts** (:data:`MARGINS`, by :mod:`course_lib.stats`): paired t intervals over the 100 digits for PSNR,
  consistency and agreement; the delete-half jackknife for patch SWD (realism first) and Fréchet distance; "as good
  within" the margins. One training run per arm: every verdict is "on this run".

Results go to ``data/cache/flow.json``; the runs stay in ``runs/flow/`` so that an interrupted run resumes
(``--worker k --workers 2`` splits the training between two processes of one thread each).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from ..datasets import load_training_set
from ..device import describe_hardware, one_thread, per_image_generators, randn
from ..engine.curves import train_for_cpu
from ..engine.harness import Entry
from ..engine.train import Trainer
from ..files import data_dir, write_cached

__all__ = [
    "ARMS",
    "MARGINS",
    "SNAPSHOTS",
    "REFLOW_SNAPSHOTS",
    "BRIDGE_NOISE",
    "N_PAIRS",
    "PAIR_SOLVER",
    "LEARNING_RATE",
    "REFLOW_LEARNING_RATE",
    "RESULTS",
    "arm_config",
    "run_arm",
    "make_pairs",
    "run_reflow",
    "main",
]

RESULTS = "cache/flow.json"
WORK = Path("runs/flow")
#: lesson 10's pilots chose 10⁻³ for this U-Net in this recipe at this batch; every arm takes it
LEARNING_RATE = 1e-3
#: reflow fine-tunes trained weights: a fifth of the rate (fixed before the run)
REFLOW_LEARNING_RATE = 2e-4
SNAPSHOTS = (180.0, 360.0, 540.0, 720.0, 900.0)
#: reflow's snapshots, CPU-seconds after its start (its clock starts at flow's 900 s plus the pairs' cost)
REFLOW_SNAPSHOTS = (180.0, 360.0, 540.0)
#: σ_s of the LR → HR path (below the residual's per-pixel spread on the training digits, 0.34)
BRIDGE_NOISE = 0.25
#: reflow's coupled pairs: each training LR image twice, each with its own source, solved by Heun with 10 steps
N_PAIRS = 8000
PAIR_SOLVER = {"sampler": "flow_heun", "steps": 10}
#: "as good within": PSNR and consistency in dB, agreement as a share of digits; patch SWD and Fréchet as a share of
#: the second arm's own value (lesson 10's margins)
MARGINS = {"psnr_db": 0.5, "consistency_db": 1.0, "agreement": 0.03, "patch_swd_share": 0.10, "frechet_share": 0.25}

_FLOW = {"method": "flow_sr", "prediction": "velocity"}
#: arm → (what it is, changes to the shipped digits_sr3_concat config: top level, and ``model`` entries)
ARMS: dict[str, tuple[str, dict]] = {
    "sr3_style": ("SR3-style: the VP path (cosine T = 1,000), x₀-prediction (digits_sr3_concat's recipe)", {}),
    "flow": ("1-rectified flow: the linear path noise → HR, velocity target, uniform t", {**_FLOW}),
    "bridge": (
        f"the LR → HR path: source U(y) + {BRIDGE_NOISE}·ε, velocity target, uniform t",
        {**_FLOW, "model": {"source_noise": BRIDGE_NOISE}},
    ),
    "flow_logit_normal": (
        "the flow with SD3's logit-normal training times (m = 0, s = 1)",
        {**_FLOW, "model": {"time_distribution": "logit_normal"}},
    ),
    "reflow": ("2-rectified flow: the flow fine-tuned on its own coupled pairs", {**_FLOW}),
}


def arm_config(name: str) -> dict:
    """The training config (JSON form) of arm ``name``: digits_sr3_concat's with the arm's changes, batch 64, EMA 0.99,
    a step count no run reaches (the budget is CPU time)."""
    if name not in ARMS:
        raise ValueError(f"arm must be one of {sorted(ARMS)}, got {name!r}")
    description, changes = ARMS[name]
    config = json.loads((data_dir() / "checkpoints" / "digits_sr3_concat.json").read_text())
    changes = json.loads(json.dumps(changes))
    model = {**config["model"], **changes.pop("model", {})}
    config.update(changes)
    config.update(
        model=model,
        name=f"flow_{name}",
        description=f"lesson 11 arm: {description}",
        learning_rate=REFLOW_LEARNING_RATE if name == "reflow" else LEARNING_RATE,
        steps=10**6,
        checkpoint_every=10**6,
        ema_decay=0.99,
    )
    return config


def _parameters(trainer: Trainer) -> int:
    return sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)


def run_arm(name: str) -> dict:
    """Train arm ``name`` (not reflow) for its CPU-minutes (:func:`_snapshots`) with its snapshots (resumable from
    ``runs/flow/NAME/``)."""
    folder = WORK / name
    log = folder / "curve.json"
    curve = json.loads(log.read_text()) if log.exists() else {}
    snapshots = _snapshots(name)
    if len(curve.get("points", [])) == len(snapshots):
        return curve
    state = folder / "state.pt"
    with one_thread():
        trainer = Trainer.resume(state, "cpu") if state.exists() else Trainer(arm_config(name), "cpu")
        curve.update(learning_rate=trainer.config.learning_rate, parameters=_parameters(trainer))
        return train_for_cpu(trainer, curve, snapshots, folder, name)


def _snapshots(name: str) -> tuple[float, ...]:
    """An arm's snapshots: :data:`SNAPSHOTS`, the time-distribution ablation only the first three (9 CPU-minutes,
    compared with ``flow`` at its 9-minute snapshot)."""
    return SNAPSHOTS[:3] if name == "flow_logit_normal" else SNAPSHOTS


@torch.no_grad()
def make_pairs(n: int | None = None, batch: int = 500) -> dict:
    """Reflow's coupled pairs from ``flow``'s final EMA: for pair i, the training LR image i mod 4,000, its source
    x₁ = ε drawn from seed 10⁶ + i, and the HR image the flow's ODE carries it to (:data:`PAIR_SOLVER`). Written to
    ``runs/flow/pairs.pt`` with the CPU-seconds they cost (resumable by batch)."""
    from ..methods.sr3 import super_resolve
    from ..samplers import make_sampler

    n = N_PAIRS if n is None else n
    path = WORK / "pairs.pt"
    done = torch.load(path, weights_only=True) if path.exists() else {"x": [], "y": [], "x1": [], "cpu_seconds": 0.0}
    if sum(len(v) for v in done["x"]) >= n:
        return done
    with one_thread():
        trainer = Trainer.resume(WORK / "flow" / "state.pt", "cpu")
        model, path_process = trainer.ema.eval(), trainer.diffusion
        data = load_training_set(arm_config("flow")["dataset"])
        total = data["y"].shape[0]
        start = sum(len(v) for v in done["x"])
        for lo in range(start, n, batch):
            began = time.process_time()
            idx = list(range(lo, min(n, lo + batch)))
            y = data["y"][[i % total for i in idx]]
            gens = per_image_generators([10**6 + i for i in idx])
            x1 = path_process.source_noise * randn((len(idx), 1, 32, 32), gens, "cpu")
            sampler = make_sampler(PAIR_SOLVER["sampler"], path_process, PAIR_SOLVER["steps"], "velocity")
            hr = super_resolve(model, path_process, y, sampler=sampler, x_T=x1, progress=False)
            done["x"].append(hr)
            done["y"].append(y)
            done["x1"].append(x1)
            done["cpu_seconds"] += time.process_time() - began
            torch.save(done, path)
            print(f"pairs {lo + len(idx)}/{n}: {done['cpu_seconds'] / 60:.1f} CPU-min", flush=True)
    return done


def run_reflow() -> dict:
    """2-rectified flow: ``flow``'s final EMA (weights and EMA) trained on :func:`make_pairs`'s pairs for
    :data:`REFLOW_SNAPSHOTS`, its clock starting at ``flow``'s CPU-seconds plus the pairs'."""
    folder = WORK / "reflow"
    log = folder / "curve.json"
    curve = json.loads(log.read_text()) if log.exists() else {}
    if len(curve.get("points", [])) == len(REFLOW_SNAPSHOTS):
        return curve
    pairs = make_pairs()
    data = {k: torch.cat(pairs[k]) for k in ("x", "y", "x1")}
    state = folder / "state.pt"
    flow_curve = json.loads((WORK / "flow" / "curve.json").read_text())
    offset = flow_curve["cpu_seconds"] + pairs["cpu_seconds"]
    with one_thread():
        if state.exists():
            trainer = Trainer.resume(state, "cpu", data=data)
        else:
            trainer = Trainer(arm_config("reflow"), "cpu", data=data)
            start = Trainer.resume(WORK / "flow" / "state.pt", "cpu").ema.state_dict()
            trainer.model.load_state_dict(start)
            trainer.ema.load_state_dict(start)
            curve = {"cpu_seconds": offset}
        curve.update(
            learning_rate=trainer.config.learning_rate,
            parameters=_parameters(trainer),
            start_cpu_seconds=round(offset, 1),
            pairs=len(data["x"]),
            pair_cpu_seconds=round(pairs["cpu_seconds"], 1),
            pair_solver=PAIR_SOLVER,
        )
        return train_for_cpu(trainer, curve, [offset + s for s in REFLOW_SNAPSHOTS], folder, "reflow")


# ---------------------------------------------------------------------------------------------- the NFE race
#: the race's budgets: network evaluations per image (a midpoint step is 2; the second-order solver of the race is the
#: midpoint rule, which spends exactly 2 per step — Heun's last step is Euler, so it spends 2·steps − 1)
RACE_NFE = (1, 2, 4, 8, 16, 50)
#: SD3's time shift at sampling, tried on the flow at these NFE only
SHIFT_NFE = (4, 8)
#: race row → (the model: an arm's final EMA, or ``shipped:NAME``; its sampler; options; the NFE it runs at)
RACE_ROWS: dict[str, tuple[str, str, dict, tuple[int, ...]]] = {
    "flow_euler": ("flow", "flow_euler", {}, RACE_NFE),
    "flow_midpoint": ("flow", "flow_midpoint", {}, RACE_NFE),
    "reflow_euler": ("reflow", "flow_euler", {}, RACE_NFE),
    "bridge_euler": ("bridge", "flow_euler", {}, RACE_NFE),
    "logit_normal_euler": ("flow_logit_normal", "flow_euler", {}, RACE_NFE),
    "sr3_ddim": ("sr3_style", "ddim", {}, RACE_NFE),
    "sr3_dpmpp": ("sr3_style", "dpmpp_2m", {}, RACE_NFE),
    "consistency": ("shipped:digits_sr_consistency", "consistency", {}, RACE_NFE),
    "flow_euler_shift0.5": ("flow", "flow_euler", {"shift": 0.5}, SHIFT_NFE),
    "flow_euler_shift3": ("flow", "flow_euler", {"shift": 3.0}, SHIFT_NFE),
}
#: (A, B, question): the race's comparisons, A − B at every NFE both rows ran
RACE_COMPARISONS = (
    ("flow_euler", "sr3_ddim", "the linear path against the VP path, each with its first-order solver"),
    ("flow_midpoint", "sr3_dpmpp", "the linear path against the VP path, each with a second-order solver"),
    ("flow_midpoint", "flow_euler", "the midpoint rule against Euler on the flow"),
    ("reflow_euler", "flow_euler", "what reflow buys"),
    ("bridge_euler", "flow_euler", "the LR → HR path against noise → HR"),
    ("reflow_euler", "consistency", "2-rectified flow against lesson 06's consistency student"),
    ("flow_euler_shift0.5", "flow_euler", "time shift 0.5 against none"),
    ("flow_euler_shift3", "flow_euler", "time shift 3 (SD3's) against none"),
)
#: (A, B, snapshots, question): the training curves' comparisons (snapshot indices; ``None``: every snapshot)
CURVE_COMPARISONS = (
    ("flow", "sr3_style", None, "the flow against SR3-style at equal training CPU-minutes"),
    ("bridge", "sr3_style", None, "the LR → HR path against SR3-style at equal training CPU-minutes"),
    ("flow_logit_normal", "flow", (2,), "logit-normal against uniform training times (9 CPU-minutes)"),
)
#: straightness: "as good within" this much excess length (a share of the straight segment)
STRAIGHTNESS_MARGIN = 0.01
#: the arms whose paths are measured (Euler-50 from the harness seeds), and the VP paths mapped by Eq. 11.8
STRAIGHTNESS_ARMS = ("flow", "reflow", "bridge", "flow_logit_normal")
STRAIGHTNESS_VP = ("sr3_style", "shipped:digits_sr3_concat")
STRAIGHTNESS_COMPARISONS = (
    ("reflow", "flow", "what reflow does to the paths"),
    ("flow", "sr3_style", "the flow's paths against the VP path's (the same training)"),
    ("flow", "shipped:digits_sr3_concat", "the flow's paths against the shipped SR3-style model's"),
    ("bridge", "flow", "the LR → HR path against noise → HR"),
)

_LOADED: dict = {}


def load_model(source: str):
    """``(network in eval mode, process, method)`` of an arm's final EMA (``runs/flow/ARM/state.pt``) or of a shipped
    model (``shipped:NAME``), on the CPU (kept for the process's later calls)."""
    if source not in _LOADED:
        if source.startswith("shipped:"):
            from ..engine.pretrained import load

            p = load(source.split(":", 1)[1], "cpu")
            _LOADED[source] = (p.model.eval(), p.process, p.method)
        else:
            trainer = Trainer.resume(WORK / source / "state.pt", "cpu")
            _LOADED[source] = (trainer.ema.eval(), trainer.diffusion, trainer.method)
    return _LOADED[source]


def _steps(sampler: str, nfe: int) -> int | None:
    """The steps of ``sampler`` that cost exactly ``nfe`` evaluations, or ``None`` (midpoint cannot spend 1)."""
    from ..samplers import SAMPLERS, steps_for_nfe

    steps = steps_for_nfe(sampler, nfe)
    return steps if SAMPLERS[sampler].nfe_for(steps) == nfe else None


def _cell_path(row: str, nfe: int, ext: str = ".json") -> Path:
    """The file of a race cell (``.json``: its measures, ``.pt``: its images). Not ``Path.with_suffix``: a row named
    ``flow_euler_shift0.5`` has a dot of its own."""
    return WORK / "race" / f"{row}@{nfe}{ext}"


@torch.no_grad()
def race_cell(row: str, nfe: int, data: dict | None = None, classifier=None) -> dict | None:
    """Row ``row`` at ``nfe`` evaluations on the 100 curve digits (image i from its harness seed, one thread): per-image
    PSNR, consistency and agreement, patch SWD and Fréchet distance, ms per image, the NFE counted by the loop; images
    kept as uint8 (resumable: a finished cell is read back). ``None`` where the sampler cannot spend ``nfe``."""
    from ..engine.pretrained import load_classifier
    from ..engine.harness import CURVE_INDICES, curve_set, image_seeds, measure, value_stats
    from ..images import to_uint8
    from ..metrics import frechet_distance, patch_distance

    source, sampler, options, nfes = RACE_ROWS[row]
    steps = _steps(sampler, nfe)
    if nfe not in nfes or steps is None:
        return None
    path = _cell_path(row, nfe)
    if path.exists():
        return json.loads(path.read_text())
    data = curve_set() if data is None else data
    classifier = load_classifier(device="cpu") if classifier is None else classifier
    with one_thread():
        model, process, method = load_model(source)
        start = time.perf_counter()
        sr = method.restore(
            model, process, data["y"], seeds=image_seeds(CURVE_INDICES), sampler=sampler, steps=steps, **options
        )
        seconds = time.perf_counter() - start
        m = measure(sr, data["hr"], data["y"], 4, classifier)
        cell = {
            "row": row,
            "nfe": method.last_nfe,
            "steps": steps,
            "sampler": sampler,
            "options": options,
            "psnr": value_stats(m["psnr"]),
            "consistency": value_stats(m["consistency"]),
            "agreement_values": [int(v) for v in m["agreement"].tolist()],
            "agreement": round(float(m["agreement"].float().mean()), 4),
            "patch_swd": round(float(patch_distance(sr, data["reference"])), 5),
            "frechet": round(
                float(frechet_distance(classifier.features(sr), classifier.features(data["reference"]))), 4
            ),
            "ms_per_image": round(1000 * seconds / sr.shape[0], 2),
        }
    if cell["nfe"] != nfe:
        raise RuntimeError(f"race row {row!r}: asked for {nfe} evaluations, the loop counted {cell['nfe']}")
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(torch.from_numpy(to_uint8(sr.cpu())).movedim(-1, -3).contiguous(), _cell_path(row, nfe, ".pt"))
    path.write_text(json.dumps(cell))
    print(f"race {row} NFE {nfe}: {cell['psnr']['mean']:.2f} dB, patch SWD {cell['patch_swd']:.4f}", flush=True)
    return cell


def run_race(worker: int = 0, workers: int = 1) -> None:
    """Every cell of :data:`RACE_ROWS` (this worker's share of them)."""
    from ..engine.pretrained import load_classifier
    from ..engine.harness import curve_set

    data, classifier = curve_set(), load_classifier(device="cpu")
    cells = [(row, nfe) for row, (*_, nfes) in RACE_ROWS.items() for nfe in nfes]
    for row, nfe in cells[worker::workers]:
        race_cell(row, nfe, data, classifier)


def _images(path: Path) -> torch.Tensor:
    from ..images import uint8_to_model

    return uint8_to_model(torch.load(path, weights_only=True))


def _sets(a: torch.Tensor, b: torch.Tensor, data: dict, classifier, ref_features) -> dict:
    with torch.no_grad():
        fa, fb = classifier.features(a), classifier.features(b)
    return {"images": (a, b, data["reference"]), "features": (fa, fb, ref_features)}


def _judging_context():
    """The curve digits, the classifier and the reference digits' features: what every verdict here is judged with."""
    from ..engine.harness import curve_set
    from ..engine.pretrained import load_classifier

    data, classifier = curve_set(), load_classifier(device="cpu")
    with torch.no_grad():
        return data, classifier, classifier.features(data["reference"])


def judge_race(worker: int = 0, workers: int = 1) -> list:
    """:data:`RACE_COMPARISONS` at every NFE both rows ran (this worker's share), by
    :func:`course_lib.engine.curves.judge_points`; written to ``runs/flow/judge_race_K.json``."""
    from ..engine.curves import judge_points

    out_path = WORK / f"judge_race_{worker}.json"
    if out_path.exists():
        return json.loads(out_path.read_text())
    data, classifier, ref = _judging_context()
    jobs = [
        (a, b, q, nfe)
        for a, b, q in RACE_COMPARISONS
        for nfe in RACE_NFE
        if _cell_path(a, nfe).exists() and _cell_path(b, nfe).exists()
    ]
    out = []
    with one_thread():
        for a, b, question, nfe in jobs[worker::workers]:
            ca, cb = (json.loads(_cell_path(r, nfe).read_text()) for r in (a, b))
            ia, ib = _images(_cell_path(a, nfe, ".pt")), _images(_cell_path(b, nfe, ".pt"))
            out.append(
                {
                    "a": a,
                    "b": b,
                    "question": question,
                    "nfe": nfe,
                    **judge_points(ca, cb, _sets(ia, ib, data, classifier, ref), MARGINS),
                }
            )
            print(f"judged {a} − {b} at NFE {nfe}", flush=True)
    out_path.write_text(json.dumps(out))
    return out


def judge_curves(worker: int = 0, workers: int = 1) -> list:
    """:data:`CURVE_COMPARISONS` at their snapshots (images from ``runs/flow/ARM/snapshot_K.pt``; this worker's share
    of the (comparison, snapshot) pairs), written to ``runs/flow/judge_curves_K.json``."""
    from ..engine.curves import judge_points

    out_path = WORK / f"judge_curves_{worker}.json"
    if out_path.exists():
        return json.loads(out_path.read_text())
    data, classifier, ref = _judging_context()
    with torch.no_grad():
        truth = classifier(data["hr"]).argmax(1)
    curves = {name: json.loads((WORK / name / "curve.json").read_text()) for name in ARMS}
    jobs = []
    for a, b, snaps, question in CURVE_COMPARISONS:
        ks = range(min(len(curves[a]["points"]), len(curves[b]["points"]))) if snaps is None else snaps
        jobs += [(a, b, question, k) for k in ks]
    out = []
    with one_thread():
        for a, b, question, k in jobs[worker::workers]:
            pa, pb = dict(curves[a]["points"][k]), dict(curves[b]["points"][k])
            ia, ib = _images(WORK / a / f"snapshot_{k}.pt"), _images(WORK / b / f"snapshot_{k}.pt")
            with torch.no_grad():
                pa["agreement_values"] = (classifier(ia).argmax(1) == truth).int().tolist()
                pb["agreement_values"] = (classifier(ib).argmax(1) == truth).int().tolist()
            judged = judge_points(pa, pb, _sets(ia, ib, data, classifier, ref), MARGINS)
            out.append(
                {"a": a, "b": b, "question": question, "snapshot": k, "cpu_seconds": pa["cpu_seconds"], **judged}
            )
            print(f"judged curves {a} − {b} at snapshot {k}", flush=True)
    out_path.write_text(json.dumps(out))
    return out


def _curve_comparisons() -> list:
    """Both workers' curve verdicts, one entry per comparison with its snapshots in order."""
    judged = [
        c
        for k in (0, 1)
        if (WORK / f"judge_curves_{k}.json").exists()
        for c in json.loads((WORK / f"judge_curves_{k}.json").read_text())
    ]
    out = []
    for a, b, _, question in CURVE_COMPARISONS:
        snaps = sorted((c for c in judged if (c["a"], c["b"]) == (a, b)), key=lambda c: c["snapshot"])
        out.append(
            {
                "a": a,
                "b": b,
                "question": question,
                "snapshots": [{k: v for k, v in c.items() if k not in ("a", "b", "question")} for c in snaps],
            }
        )
    return out


@torch.no_grad()
def measure_straightness(steps: int = 50) -> dict:
    """Per-image excess length (and, for the flows, Liu et al.'s S) of the paths the models sample on the 100 curve
    digits (Eq. 11.6): the flows by Euler with ``steps`` steps, the VP models by DDIM with ``steps`` steps, their
    states mapped onto the linear path by Eq. 11.8. Returns ``{model: {"excess_length": stats, "straightness":
    stats}}`` and the judged :data:`STRAIGHTNESS_COMPARISONS`."""
    from .. import stats
    from ..engine.harness import CURVE_INDICES, curve_set, image_seeds, value_stats
    from ..methods.sr3 import image_x0_transform
    from ..paths import straightness, vp_to_linear
    from ..samplers import Trajectory, make_sampler, sample
    from ..samplers.flow import euler_trajectory

    data = curve_set()
    y = data["y"]
    gens = lambda: per_image_generators(image_seeds(CURVE_INDICES))  # noqa: E731
    values = {}
    with one_thread():
        for arm in STRAIGHTNESS_ARMS:
            model, path, _ = load_model(arm)
            x1 = path.source_noise * randn((y.shape[0], 1, 32, 32), gens(), "cpu")
            traj = euler_trajectory(model, path, x1, y, steps, image_x0_transform(model, y, False))
            values[arm] = {k: v for k, v in straightness(traj).items()}
        for source in STRAIGHTNESS_VP:
            model, process, _ = load_model(source)
            sampler = make_sampler("ddim", process, steps, model.prediction)
            rec = Trajectory(every=1)
            x_T = randn((y.shape[0], 1, 32, 32), gens(), "cpu")
            sample(model, sampler, x_T, y, x0_transform=image_x0_transform(model, y, False), callback=rec)
            times = [int(t) for t in sampler.timesteps]
            abar = [float(process.alpha_bars[t]) for t in times[:1]] + [
                float(process.alpha_bars[t]) if t >= 0 else 1.0 for t in times[1:] + [-1]
            ]
            states = torch.cat([x_T[None], rec.x_t])
            scale = torch.tensor([float(vp_to_linear(torch.tensor(a, dtype=torch.float64))[1]) for a in abar])
            traj = states / scale.reshape(-1, 1, 1, 1, 1)
            values[source] = {"excess_length": straightness(traj)["excess_length"]}
    comparisons = [
        {
            "a": a,
            "b": b,
            "question": q,
            "excess_length": stats.compare_values(
                values[a]["excess_length"], values[b]["excess_length"], False, STRAIGHTNESS_MARGIN
            ),
        }
        for a, b, q in STRAIGHTNESS_COMPARISONS
    ]
    return {
        "models": {m: {k: value_stats(v) for k, v in d.items()} for m, d in values.items()},
        "comparisons": comparisons,
        "steps": steps,
        "margin": STRAIGHTNESS_MARGIN,
    }


#: the explorer's digits (three of the curve digits) and the states it keeps (every 5th of 50 Euler steps)
EXPLORER_DIGITS, EXPLORER_EVERY = 3, 5
TRAJECTORIES = "cache/flow_trajectories.npz"


@torch.no_grad()
def explorer_trajectories(steps: int = 50) -> dict:
    """What the path explorer shows (lesson 11): for the first :data:`EXPLORER_DIGITS` curve digits and the flow,
    reflow and LR → HR arms, the Euler-50 states x_t in image coordinates (U(y) + x_t) and x̂₀ every
    :data:`EXPLORER_EVERY` steps (uint8), and every state's coordinates in the plane of its chord and its largest
    deviation from it (float32) — where a bent path shows its bend."""
    import numpy as np

    from ..engine.harness import CURVE_INDICES, curve_set, image_seeds
    from ..images import to_uint8
    from ..methods.sr3 import image_x0_transform
    from ..samplers import Trajectory, sample
    from ..samplers.flow import FlowEulerSampler

    data = curve_set()
    n = EXPLORER_DIGITS
    y, hr = data["y"][:n], data["hr"][:n]
    out = {
        "hr": to_uint8(hr),
        "lr": to_uint8(y),
        "times": np.array([1 - k / steps for k in range(0, steps + 1, EXPLORER_EVERY)]),
    }
    with one_thread():
        for arm in ("flow", "reflow", "bridge"):
            model, path, _ = load_model(arm)
            x1 = path.source_noise * randn((n, 1, 32, 32), per_image_generators(image_seeds(CURVE_INDICES[:n])), "cpu")
            rec = Trajectory(every=1)
            sample(
                model,
                FlowEulerSampler(path, steps),
                x1,
                y,
                x0_transform=image_x0_transform(model, y, False),
                callback=rec,
            )
            states = torch.cat([x1[None], rec.x_t])  # (steps + 1, n, 1, 32, 32)
            x0s = torch.cat([rec.x0, states[-1:]])  # the x̂₀ each state's step used; the end itself
            up = model.upsampled(y)
            keep = list(range(0, steps + 1, EXPLORER_EVERY))
            out[f"{arm}_x"] = np.stack([to_uint8((up + states[k]).clamp(-1, 1)) for k in keep])
            out[f"{arm}_x0"] = np.stack([to_uint8(model.to_image(x0s[k], y)) for k in keep])
            flat = states.flatten(2).double()  # (K, n, D)
            chord = flat[-1] - flat[0]
            e1 = chord / chord.norm(dim=-1, keepdim=True)
            rel = flat - flat[0]
            along = (rel * e1).sum(-1)  # (K, n)
            perp = rel - along[..., None] * e1
            far = perp.norm(dim=-1).argmax(0)  # the state farthest from the chord
            e2 = perp[far, torch.arange(n)]
            e2 = e2 / e2.norm(dim=-1, keepdim=True).clamp_min(1e-12)
            out[f"{arm}_plane"] = torch.stack([along, (rel * e2).sum(-1)], -1).float().numpy()  # (K, n, 2)
    return out


#: the training runs of each worker (two processes of one thread each)
PLAN = {0: ("flow", "reflow"), 1: ("sr3_style", "bridge", "flow_logit_normal")}


def _train(worker: int) -> None:
    for name in PLAN[worker]:
        run_reflow() if name == "reflow" else run_arm(name)


def _finished() -> bool:
    return all(
        (WORK / n / "curve.json").exists()
        and len(json.loads((WORK / n / "curve.json").read_text())["points"])
        == (len(REFLOW_SNAPSHOTS) if n == "reflow" else len(_snapshots(n)))
        for n in ARMS
    )


# ---------------------------------------------------------------------------------------------- shipping and the cache
#: the arm shipped as a model: the 1-rectified flow (float16; the cache checks that its PSNR stays within 0.01 dB).
#: One model, not two: this U-Net is 1.2 MB in float16 and the lesson's 2.5 MB of data/ hold one beside the caches;
#: 2-rectified flow, the LR → HR path and the ablation live in the cache as evaluations
SHIPPED = {"flow": "digits_flow_sr"}
#: lesson 11's rows of the landscape table
ROWS = (
    Entry(
        "flow matching (1-RF) Euler-50",
        "digits_x4",
        "digits_flow_sr",
        {"sampler": "flow_euler", "steps": 50},
        diversity=8,
    ),
    Entry("flow matching (1-RF) Euler-4", "digits_x4", "digits_flow_sr", {"sampler": "flow_euler", "steps": 4}),
)


def export_shipped() -> list[Path]:
    """Ship :data:`SHIPPED`: the arm's final state (:func:`course_lib.engine.curves.ship_run`), with a config that
    retrains it by steps (the steps its 15 CPU-minutes reached)."""
    from ..engine.curves import ship_run

    written = []
    for arm, name in SHIPPED.items():
        parameters = json.loads((WORK / arm / "curve.json").read_text())["parameters"]
        written.append(
            ship_run(
                WORK / arm / "state.pt",
                arm_config(arm),
                name,
                lambda steps: (
                    f"Lesson 11's {ARMS[arm][0]}: the SR3-style recipe (x4 digits, residual target, concatenated U(y), "
                    f"{parameters:,} parameters) on the linear path; trained by python -m course_lib.flow for "
                    f"15 CPU-minutes on one thread ({steps} steps)."
                ),
            )
        )
    return written


@torch.no_grad()
def fp16_check() -> dict:
    """The shipped float16 flow against its float32 EMA on the curve digits (Euler-50): the largest per-image PSNR
    difference."""
    from ..engine.harness import CURVE_INDICES, curve_set, image_seeds
    from ..engine.pretrained import load
    from ..metrics import psnr

    data = curve_set()
    seeds = image_seeds(CURVE_INDICES)
    model, process, method = load_model("flow")
    shipped = load(SHIPPED["flow"], "cpu")
    with one_thread():
        a = method.restore(model, process, data["y"], seeds=seeds)
        b = shipped.restore(data["y"], seeds=seeds)
    diff = (psnr(a, data["hr"]) - psnr(b, data["hr"])).abs()
    return {"max_psnr_difference_db": round(float(diff.max()), 4)}


def collect() -> dict:
    """The cache: the rules, every arm's curve, the race, the verdicts, straightness."""
    curves = {name: json.loads((WORK / name / "curve.json").read_text()) for name in ARMS}
    race = {}
    for row, (*_, nfes) in RACE_ROWS.items():
        for nfe in nfes:
            p = _cell_path(row, nfe)
            if p.exists():
                race.setdefault(row, {})[str(nfe)] = json.loads(p.read_text())
    judged = [
        c
        for k in (0, 1)
        if (WORK / f"judge_race_{k}.json").exists()
        for c in json.loads((WORK / f"judge_race_{k}.json").read_text())
    ]
    pairs = torch.load(WORK / "pairs.pt", weights_only=True)
    return {
        "rules": {
            "learning_rate": LEARNING_RATE,
            "reflow_learning_rate": REFLOW_LEARNING_RATE,
            "snapshots": list(SNAPSHOTS),
            "reflow_snapshots": list(REFLOW_SNAPSHOTS),
            "bridge_noise": BRIDGE_NOISE,
            "pairs": N_PAIRS,
            "pair_solver": PAIR_SOLVER,
            "margins": MARGINS,
            "race_nfe": list(RACE_NFE),
            "shift_nfe": list(SHIFT_NFE),
            "straightness_margin": STRAIGHTNESS_MARGIN,
        },
        "arms": {name: {"description": ARMS[name][0], "config": arm_config(name), **curves[name]} for name in ARMS},
        "pairs": {"n": sum(len(v) for v in pairs["x"]), "cpu_seconds": round(pairs["cpu_seconds"], 1)},
        "race": race,
        "race_rows": {row: {"model": m, "sampler": s, "options": o} for row, (m, s, o, _) in RACE_ROWS.items()},
        "race_comparisons": sorted(
            judged, key=lambda c: ([x[:2] for x in RACE_COMPARISONS].index((c["a"], c["b"])), c["nfe"])
        ),
        "curve_comparisons": _curve_comparisons(),
        "straightness": measure_straightness(),
        "fp16": fp16_check(),
        "hardware": f"{describe_hardware()}; one thread per run",
    }


def load_flow() -> dict:
    """The cached experiment (``data/cache/flow.json``)."""
    return json.loads((data_dir() / RESULTS).read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.flow", description=__doc__.splitlines()[0])
    parser.add_argument("--worker", type=int, default=None, help="this process's share (0 or 1) of the runs")
    parser.add_argument(
        "--stage",
        choices=("train", "race", "judge", "collect", "all"),
        default="all",
        help="train the arms; race them; judge the race; write the cache and ship the flow",
    )
    args = parser.parse_args(argv)
    if args.worker is not None and args.worker not in PLAN:
        parser.error(f"--worker must be one of {sorted(PLAN)}, got {args.worker}")
    workers = (0, 1) if args.worker is None else (args.worker,)
    if args.stage in ("train", "all"):
        for w in workers:
            _train(w)
    if args.stage in ("race", "all"):
        while not _finished():
            print("waiting for the other worker's arms …", flush=True)
            time.sleep(30)
        for w in workers:
            run_race(w, 2)
    if args.stage in ("judge", "all"):
        while not all(
            _cell_path(r, n).exists()
            for r, (*_, ns) in RACE_ROWS.items()
            for n in ns
            if _steps(RACE_ROWS[r][1], n) is not None
        ):
            print("waiting for the other worker's race cells …", flush=True)
            time.sleep(30)
        for w in workers:
            judge_race(w, 2)
            judge_curves(w, 2)
    if args.stage in ("collect", "all") and args.worker in (None, 0):
        while not all((WORK / f"judge_{what}_{k}.json").exists() for k in (0, 1) for what in ("race", "curves")):
            print("waiting for the other worker's verdicts …", flush=True)
            time.sleep(30)
        for path in export_shipped():
            print(f"wrote {path}")
        start = time.perf_counter()
        write_cached(
            RESULTS,
            collect(),
            TRAJECTORIES,
            explorer_trajectories(),
            f"python -m course_lib.flow (one thread per run; {describe_hardware()})",
            (
                "lesson 11: flow matching, reflow and the LR → HR path against SR3-style; the NFE race; straightness",
                "lesson 11: the path explorer's Euler-50 trajectories (flow, reflow, LR → HR) on three curve digits",
            ),
        )
        print(f"collected in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
