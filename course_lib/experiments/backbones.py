"""Lesson 10's backbone experiment: ``python -m course_lib.backbones`` (resumable; about 2.5 CPU-hours).

The question: **at this scale, on this CPU, does a Transformer denoiser match the U-Net, and what does each design
choice buy?** Everything below was fixed in this file before the first run.

* **Arms** (:data:`ARMS`): the shipped SR3-style recipe (``digits_sr3_concat``: ×4 digits, the residual target,
  x₀-prediction, cosine T = 1,000, batch 64, EMA 0.99 as lesson 09's curves) with three backbones at matched
  parameters (±10 % of the U-Net's 620,593): the U-Net itself, **DiT** (p = 4, D = 88, 4 adaLN-Zero blocks) and
  **U-ViT** (p = 4, D = 96, 5 blocks with long skips); DiT's and U-ViT's own ablations (adaLN with ordinary
  initialisation, in-context conditioning, U-ViT without long skips; patch size 2 against 4); and on lesson 07's
  8 × 8 × 4 latents, its latent U-Net against a DiT with p = 1 (D = 92, 4 blocks, ±10 % of its 669 k).
* **Tuning, the same for every tuned arm** (:data:`LEARNING_RATES`, :data:`PILOT_SECONDS`): three learning rates, each
  a pilot of 1.5 training CPU-minutes from the same seed (so the same batches and timesteps); the rate whose mean
  training loss over the pilot's last quarter of steps is lowest is the arm's. Ablation arms take their parent's rate.
* **Budget, the same for every arm** (:data:`BUDGET_SECONDS`): 10 training CPU-minutes (lesson 09's unit) on one
  thread, CPU-minutes = ``time.process_time`` of the training alone; snapshots at 2, 4, 6, 8 and 10 CPU-minutes,
  each the EMA restoring lesson 05's 100 curve digits with DDIM-50 (image i from its harness seed), its images kept
  in ``runs/backbones/`` for the set-level intervals.
* **Verdicts** (:data:`MARGINS`, :func:`judge_pair`, by :mod:`course_lib.stats`): each Transformer against the U-Net
  at every snapshot — PSNR, consistency and agreement by paired t intervals over the 100 digits, patch SWD (realism
  first) and Fréchet distance by the delete-half jackknife over the same digits — "as good within" the margins.
  The verdict of record is the last snapshot; one training run per arm, so every verdict is "on this run" (the
  intervals cover test digits, not training seeds).
* **Cost** (:func:`cost_curve`): forward milliseconds per image (one thread, batch 16) and FLOPs
  (``torch.utils.flop_counter``) at 16, 32 and 64 pixels for the U-Net and DiT at p = 4 and 2, and both latent
  networks.

Results go to ``data/cache/backbones.json``; outputs of each run stay in ``runs/backbones/`` so that an interrupted
run resumes (``--worker k --workers n`` splits the runs between n processes, one thread each).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from ..engine.curves import SET_DRAWS as CURVE_SET_DRAWS
from ..engine.curves import judge_points, train_for_cpu
from ..engine.harness import DDIM50, Entry, curve_set
from ..engine.train import Trainer
from ..device import describe_hardware, one_thread
from ..files import data_dir, write_cached
from ..images import uint8_to_model

__all__ = [
    "ROWS",
    "SHIPPED",
    "export_shipped",
    "load_backbones",
    "ARMS",
    "TUNED",
    "MARGINS",
    "LEARNING_RATES",
    "PILOT_SECONDS",
    "BUDGET_SECONDS",
    "SNAPSHOTS",
    "COMPARISONS",
    "CURVES",
    "RESULTS",
    "arm_config",
    "run_pilot",
    "chosen_learning_rate",
    "run_arm",
    "judge_pair",
    "cost_curve",
    "main",
]

RESULTS = "cache/backbones.json"
WORK = Path("runs/backbones")
LEARNING_RATES = (2e-4, 5e-4, 1e-3)
PILOT_SECONDS = 90.0
BUDGET_SECONDS = 600.0
SNAPSHOTS = (120.0, 240.0, 360.0, 480.0, 600.0)
#: "as good within": PSNR and consistency in dB, agreement as a share of digits; patch SWD and Fréchet as a share of
#: the U-Net's (the reference arm's) own value at the same snapshot
MARGINS = {"psnr_db": 0.5, "consistency_db": 1.0, "agreement": 0.03, "patch_swd_share": 0.10, "frechet_share": 0.25}

_DIT = {"backbone": "dit", "in_channels": 2, "cond_channels": 1, "patch_size": 4, "hidden_size": 88, "depth": 4}
_UVIT = {"backbone": "uvit", "in_channels": 2, "cond_channels": 1, "input_size": 32, "patch_size": 4}
_UVIT.update(hidden_size=96, depth=5)
_LATENT_DIT = {"backbone": "dit", "in_channels": 5, "cond_channels": 1, "patch_size": 1, "hidden_size": 92, "depth": 4}

#: arm → (what it is, the shipped config it starts from, its network (``None``: the shipped one), the arm whose
#: learning rate it takes (``None``: tuned itself))
ARMS: dict[str, tuple[str, str, dict | None, str | None]] = {
    "unet": ("the U-Net of digits_sr3_concat (SR3-style)", "digits_sr3_concat", None, None),
    "dit": ("DiT, p = 4, adaLN-Zero", "digits_sr3_concat", _DIT, None),
    "uvit": ("U-ViT, p = 4, long skips", "digits_sr3_concat", _UVIT, None),
    "dit_adaln": (
        "DiT, adaLN with ordinary initialisation (no gate)",
        "digits_sr3_concat",
        {**_DIT, "block": "adaln"},
        "dit",
    ),
    "dit_in_context": (
        "DiT, in-context conditioning (t as a token)",
        "digits_sr3_concat",
        {**_DIT, "block": "in_context"},
        "dit",
    ),
    "dit_p2": ("DiT, p = 2 (64 tokens)", "digits_sr3_concat", {**_DIT, "patch_size": 2}, "dit"),
    "uvit_no_skips": ("U-ViT without long skips", "digits_sr3_concat", {**_UVIT, "long_skips": False}, "uvit"),
    "uvit_p2": ("U-ViT, p = 2 (64 tokens)", "digits_sr3_concat", {**_UVIT, "patch_size": 2}, "uvit"),
    "latent_unet": ("lesson 07's latent U-Net on 8 × 8 × 4 latents", "digits_latent_sr", None, None),
    "latent_dit": ("DiT, p = 1 on 8 × 8 × 4 latents (64 tokens)", "digits_latent_sr", _LATENT_DIT, None),
}
#: the arms with their own learning-rate pilots
TUNED = tuple(name for name, (*_, parent) in ARMS.items() if parent is None)
#: (A, B, question): the comparisons the lesson states, A − B: the per-image measures at every snapshot, the
#: set-level ones (a jackknife of patch SWD costs about 15 s) at every snapshot for :data:`CURVES`, at the last for
#: the others
COMPARISONS = (
    ("dit", "unet", "DiT against the U-Net"),
    ("uvit", "unet", "U-ViT against the U-Net"),
    ("dit", "dit_adaln", "what adaLN-Zero buys over adaLN"),
    ("dit", "dit_in_context", "what adaLN-Zero buys over in-context conditioning"),
    ("uvit", "uvit_no_skips", "what U-ViT's long skips buy"),
    ("dit_p2", "dit", "DiT: p = 2 against p = 4"),
    ("uvit_p2", "uvit", "U-ViT: p = 2 against p = 4"),
    ("latent_dit", "latent_unet", "on latents: DiT against the U-Net"),
)
#: random halves of the delete-half jackknife (the curves' protocol: stats' default)
SET_DRAWS = CURVE_SET_DRAWS
#: the comparisons drawn as curves with their intervals at every snapshot
CURVES = (("dit", "unet"), ("uvit", "unet"), ("latent_dit", "latent_unet"))


#: the backbone arm shipped as a model (its EMA after the 10 CPU-minutes, float16: per-image PSNR within 0.01 dB of the
#: float32 EMA's on the curve digits): arm → shipped name. One, not two: the lesson's 2.5 MB of data/ hold one
#: checkpoint of 1.2 MB beside the cache; DiT is the better Transformer on this run (and the attention explorer's),
#: U-ViT's measurements are the cache's
SHIPPED = {"dit": "digits_dit_sr"}
#: lesson 10's row of the landscape table (DDIM-50, the SR3-style row's sampler)
ROWS = (Entry("DiT (p = 4, adaLN-Zero) DDIM-50", "digits_x4", "digits_dit_sr", DDIM50, diversity=8),)


def arm_config(name: str, learning_rate: float, pilot: bool = False) -> dict:
    """The training config (JSON form) of arm ``name`` at ``learning_rate``: its shipped base config with the arm's
    network, batch 64, EMA 0.99, a step count no run reaches (the budget is CPU time)."""
    if name not in ARMS:
        raise ValueError(f"arm must be one of {sorted(ARMS)}, got {name!r}")
    description, base, network, _ = ARMS[name]
    config = json.loads((data_dir() / "checkpoints" / f"{base}.json").read_text())
    model = dict(config["model"])
    if network is not None:
        keep = {
            k: model[k]
            for k in (
                "scale",
                "residual",
                "residual_scale",
                "autoencoder",
                "autoencoder_args",
                "scale_latents",
                "latent_clip",
            )
            if k in model
        }
        model = {**keep, **network}
    tag = f"pilot_{name}_{learning_rate:g}" if pilot else f"backbone_{name}"
    config.update(
        model=model,
        name=tag,
        description=f"lesson 10 {'pilot' if pilot else 'arm'}: {description}",
        learning_rate=learning_rate,
        steps=10**6,
        checkpoint_every=10**6,
        ema_decay=0.99,
    )
    return config


def _pilot_folder(name: str, lr: float) -> Path:
    return WORK / "pilots" / f"{name}_{lr:g}"


def run_pilot(name: str, lr: float) -> dict:
    """One learning-rate pilot of arm ``name`` (:data:`PILOT_SECONDS` training CPU-seconds, no evaluation)."""
    folder = _pilot_folder(name, lr)
    log = folder / "curve.json"
    if log.exists() and json.loads(log.read_text())["points"]:
        return json.loads(log.read_text())
    with one_thread():
        trainer = Trainer(arm_config(name, lr, pilot=True), "cpu")
        return train_for_cpu(trainer, {}, [PILOT_SECONDS], folder, f"pilot {name} lr {lr:g}", evaluate_snapshots=False)


def chosen_learning_rate(name: str, pilots: dict | None = None) -> tuple[float, dict]:
    """The tuned arm's learning rate (the rule above) and every pilot's score; ``pilots``: lr → pilot curve (default:
    read from ``runs/backbones/pilots/``)."""
    if name not in TUNED:
        raise ValueError(f"arm {name!r} is not tuned: it takes {ARMS[name][3]!r}'s learning rate")
    if pilots is None:
        pilots = {lr: json.loads((_pilot_folder(name, lr) / "curve.json").read_text()) for lr in LEARNING_RATES}
    scores = {}
    for lr, curve in pilots.items():
        losses = [v for _, v in curve["loss"]]
        tail = losses[len(losses) - max(1, len(losses) // 4) :]
        scores[lr] = sum(tail) / len(tail)
    return min(scores, key=scores.get), {f"{lr:g}": round(s, 5) for lr, s in scores.items()}


def _learning_rate(name: str) -> float:
    return chosen_learning_rate(ARMS[name][3] or name)[0]


def run_arm(name: str) -> dict:
    """Train arm ``name`` for :data:`BUDGET_SECONDS` CPU-seconds at its learning rate, with its snapshots (resumable
    from ``runs/backbones/NAME/``)."""
    folder = WORK / name
    log = folder / "curve.json"
    curve = json.loads(log.read_text()) if log.exists() else {}
    if len(curve.get("points", [])) == len(SNAPSHOTS):
        return curve
    lr = _learning_rate(name)
    state = folder / "state.pt"
    with one_thread():
        trainer = Trainer.resume(state, "cpu") if state.exists() else Trainer(arm_config(name, lr), "cpu")
        curve.update(learning_rate=lr, parameters=sum(p.numel() for p in trainer.model.parameters() if p.requires_grad))
        return train_for_cpu(trainer, curve, SNAPSHOTS, folder, name)


def _images(name: str, k: int) -> torch.Tensor:
    return uint8_to_model(torch.load(WORK / name / f"snapshot_{k}.pt", weights_only=True))


def judge_pair(a: dict, b: dict, sets=None, margins: dict = MARGINS) -> dict:
    """A − B at one snapshot (two curve points on the same 100 digits): PSNR, consistency and agreement by the paired
    t interval; with ``sets`` — ``{"images": (A's, B's, reference), "features": (A's, B's, reference)}``, the
    classifier's features for the Fréchet distance — patch SWD and Fréchet by the delete-half jackknife. Each is
    judged against :data:`MARGINS` (set-level margins: a share of B's value), by
    :func:`course_lib.engine.curves.judge_points`."""
    return judge_points(a, b, sets, margins, SET_DRAWS)


def _agreement_values(name: str, k: int, classifier, data) -> list[float]:
    with torch.no_grad():
        sr = _images(name, k)
        return (classifier(sr).argmax(1) == classifier(data["hr"]).argmax(1)).float().tolist()


def judge_all(curves: dict) -> dict:
    """Every comparison of :data:`COMPARISONS` at every snapshot (the images from ``runs/backbones/``)."""
    from ..engine.pretrained import load

    classifier = load("digit_classifier", "cpu").model.eval()
    data = curve_set()
    with torch.no_grad():
        ref_features = classifier.features(data["reference"])
    for name, curve in curves.items():
        for k, point in enumerate(curve["points"]):
            point["agreement_values"] = _agreement_values(name, k, classifier, data)
    out = []
    for a, b, question in COMPARISONS:
        snaps = []
        last = len(curves[a]["points"]) - 1
        for k in range(last + 1):
            pa, pb = curves[a]["points"][k], curves[b]["points"][k]
            sets = None
            if k == last or (a, b) in CURVES:
                ia, ib = _images(a, k), _images(b, k)
                with torch.no_grad():
                    fa, fb = classifier.features(ia), classifier.features(ib)
                sets = {"images": (ia, ib, data["reference"]), "features": (fa, fb, ref_features)}
            snaps.append(judge_pair(pa, pb, sets))
        out.append({"a": a, "b": b, "question": question, "snapshots": snaps})
    return {"comparisons": out}


@torch.no_grad()
def cost_curve(sizes=(16, 32, 64), batch: int = 16, repeats: int = 3) -> dict:
    """Forward milliseconds per image (one thread, ``batch`` images, best of ``repeats``) and FLOPs per image of the
    pixel networks at each image side in ``sizes``, and of both latent networks on the 32-pixel image's latent."""
    with one_thread():
        return _cost_curve(sizes, batch, repeats)


def _cost_curve(sizes, batch: int, repeats: int) -> dict:
    from torch.utils.flop_counter import FlopCounterMode

    from ..models.vit import attention_by_hand

    from ..engine.config import TrainConfig
    from ..methods import get_method

    nets = {}
    for name in ("unet", "dit", "dit_p2", "latent_unet", "latent_dit"):
        config = TrainConfig.from_dict(arm_config(name, 1e-3))
        nets[name] = get_method(config.method)(config).build().eval()

    def measure_one(net, x, cond, t):
        with FlopCounterMode(display=False) as counter, attention_by_hand():
            net(x, t, cond)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            net(x, t, cond)
            times.append(time.perf_counter() - start)
        return {
            "ms_per_image": round(1000 * min(times) / x.shape[0], 3),
            "mflops_per_image": round(counter.get_total_flops() / x.shape[0] / 1e6, 2),
        }

    out = {"sizes": list(sizes), "pixel": {}, "latent": {}}
    g = torch.Generator().manual_seed(0)
    t = torch.full((batch,), 500)
    for name in ("unet", "dit", "dit_p2"):
        net = nets[name].net
        out["pixel"][name] = {}
        for s in sizes:
            x, cond = torch.randn(batch, 1, s, s, generator=g), torch.randn(batch, 1, s, s, generator=g)
            out["pixel"][name][str(s)] = measure_one(net, x, cond, t)
    for name in ("latent_unet", "latent_dit"):
        net = nets[name].net
        x, cond = torch.randn(batch, 4, 8, 8, generator=g), torch.randn(batch, 1, 8, 8, generator=g)
        out["latent"][name] = measure_one(net, x, cond, t)
    return out


def export_shipped() -> list[Path]:
    """Ship the :data:`SHIPPED` arm: its final state (:func:`course_lib.engine.curves.ship_run`), with a config
    (``NAME.json``) that retrains it by steps — the steps its 10 CPU-minutes reached — at its chosen learning rate."""
    from ..engine.curves import ship_run

    written = []
    for arm, name in SHIPPED.items():
        curve = json.loads((WORK / arm / "curve.json").read_text())
        written.append(
            ship_run(
                WORK / arm / "state.pt",
                arm_config(arm, curve["learning_rate"]),
                name,
                lambda steps: (
                    f"Lesson 10's {ARMS[arm][0]} in the SR3-style recipe (x4 digits, residual x0 target, "
                    f"cosine T = 1000), {curve['parameters']:,} parameters; trained by python -m course_lib.backbones "
                    f"for 10 CPU-minutes "
                    f"on one thread ({steps} steps), its learning rate chosen by three pilots (lesson 10)."
                ),
            )
        )
    return written


def _plan(worker: int, workers: int) -> tuple[list, list]:
    pilots = [(name, lr) for name in TUNED for lr in LEARNING_RATES]
    return pilots[worker::workers], list(ARMS)[worker::workers]


def _wait_for_pilots(poll: float = 20.0) -> None:
    """Block until every pilot of every tuned arm has finished (another worker may be running some)."""
    while True:
        missing = [
            (n, lr)
            for n in TUNED
            for lr in LEARNING_RATES
            if not (_pilot_folder(n, lr) / "curve.json").exists()
            or not json.loads((_pilot_folder(n, lr) / "curve.json").read_text())["points"]
        ]
        if not missing:
            return
        print(f"waiting for {len(missing)} pilots …", flush=True)
        time.sleep(poll)


def collect() -> dict:
    """The cache: the rules, each tuned arm's pilots and rate, every arm's curve, the verdicts and the costs."""
    curves = {name: json.loads((WORK / name / "curve.json").read_text()) for name in ARMS}
    tuning = {}
    for name in TUNED:
        lr, scores = chosen_learning_rate(name)
        tuning[name] = {"chosen": lr, "mean_loss_last_quarter": scores}
    verdicts = judge_all(curves)
    for curve in curves.values():
        for point in curve["points"]:
            point["agreement_values"] = [int(v) for v in point["agreement_values"]]
    return {
        "rules": {
            "learning_rates": list(LEARNING_RATES),
            "pilot_seconds": PILOT_SECONDS,
            "budget_seconds": BUDGET_SECONDS,
            "snapshots": list(SNAPSHOTS),
            "margins": MARGINS,
        },
        "arms": {
            name: {
                "description": ARMS[name][0],
                "config": arm_config(name, curves[name]["learning_rate"]),
                **curves[name],
            }
            for name in ARMS
        },
        "tuning": tuning,
        **verdicts,
        "cost": cost_curve(),
        "hardware": f"{describe_hardware()}; one thread per run",
    }


def load_backbones() -> dict:
    """The cached experiment (``data/cache/backbones.json``)."""
    return json.loads((data_dir() / RESULTS).read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.backbones", description=__doc__.splitlines()[0])
    parser.add_argument("--worker", type=int, default=0, help="this process's share of the runs (0 … workers − 1)")
    parser.add_argument("--workers", type=int, default=1, help="processes splitting the runs (one thread each)")
    parser.add_argument("--collect-only", action="store_true", help="judge the finished runs and write the cache")
    parser.add_argument("--export", action="store_true", help="ship the DiT arm (data/checkpoints/)")
    args = parser.parse_args(argv)
    if not 0 <= args.worker < args.workers:
        parser.error(f"--worker must be in 0 … {args.workers - 1}, got {args.worker}")
    if args.export:
        for path in export_shipped():
            print(f"wrote {path}")
        return 0
    if not args.collect_only:
        pilots, arms = _plan(args.worker, args.workers)
        for name, lr in pilots:
            run_pilot(name, lr)
        _wait_for_pilots()
        for name in arms:
            run_arm(name)
        if args.worker:
            return 0
        while not all(
            (WORK / n / "curve.json").exists()
            and len(json.loads((WORK / n / "curve.json").read_text())["points"]) == len(SNAPSHOTS)
            for n in ARMS
        ):
            print("waiting for the other workers' arms …", flush=True)
            time.sleep(30)
    start = time.perf_counter()
    write_cached(
        RESULTS,
        collect(),
        None,
        None,
        f"python -m course_lib.backbones (one thread per run; {describe_hardware()})",
        ("lesson 10: U-Net, DiT and U-ViT at matched parameters and training CPU-minutes, their ablations, costs",),
    )
    print(f"judged in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
