"""The timestep-embedding ablation of lesson 03: ``python -m course_lib.ablation`` (minutes on a CPU).

Question: does the denoiser need to know t, and does it matter how t is embedded? Variants:
``none`` (the network never sees t), ``sinusoidal`` (Eq. 03.1), ``learned`` (a table, one row per t),
``mlp`` (a learned MLP on t / T). Each is trained with 3 seeds on the same data for the same number of
steps; reported: mean ± sd over seeds of

* the final training loss (mean of the last 10 logged values of L_simple),
* the held-out loss per timestep (fixed points, t and ε),
* sample quality: for the 2-D spiral, the sliced Wasserstein distance between 2,000 DDPM samples and
  2,000 held-out points (lower is better); for digits, the held-out loss only.

Results go to ``data/cache/time_embedding_ablation.json`` (registered in the manifest), which the lesson loads.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import torch

from ..datasets import load_digits, toy_points
from ..device import describe_hardware
from ..samplers import generate
from ..files import data_dir, register_data_file, write_text
from ..images import to_tensor
from ..metrics import sliced_wasserstein
from ..engine.train import Trainer

__all__ = ["VARIANTS", "EVAL_T", "run_toy", "run_digits", "heldout_loss", "summarise", "RESULTS"]

VARIANTS = ("none", "sinusoidal", "learned", "mlp")
SEEDS = (0, 1, 2)
EVAL_T = (0, 25, 50, 100, 200, 300, 400, 500, 600, 700, 800, 900, 999)
RESULTS = "cache/time_embedding_ablation.json"
TOY_STEPS, DIGIT_STEPS = 3000, 200


@torch.no_grad()
def heldout_loss(trainer: Trainer, x0: torch.Tensor, ts=EVAL_T, seed: int = 123) -> list[float]:
    """The ε-MSE (L_simple's integrand, Eq. 02.4) of ``trainer.ema`` on held-out ``x0`` at each fixed t, with fixed
    noise."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for t in ts:
        eps = torch.randn(x0.shape, generator=g)
        tt = torch.full((x0.shape[0],), t)
        x_t = trainer.diffusion.q_sample(x0, tt, eps)
        out.append(float(((trainer.ema(x_t, tt, None) - eps) ** 2).mean()))
    return out


def _final_loss(trainer: Trainer) -> float:
    tail = [v for _, v in trainer.history[-10:]]
    return sum(tail) / len(tail)


def run_toy(variant: str, seed: int, steps: int = TOY_STEPS) -> dict:
    """Train one toy-spiral variant with one seed; its final loss, held-out loss per t, sample SWD and seconds."""
    cfg = {
        "name": f"toy_{variant}_{seed}",
        "dataset": "toy2d:spiral",
        "seed": seed,
        "steps": steps,
        "method": "ddpm",
        "model": {"network": "mlp", "hidden": 128, "time_embedding": variant},
        "batch_size": 512,
        "learning_rate": 2e-3,
        "warmup_steps": 50,
        "log_every": 50,
        "ema_decay": 0.99,
    }
    tr = Trainer(cfg, device="cpu").train(progress=False)
    held = toy_points("spiral", 2000, seed=1)
    samples = generate(
        tr.ema,
        tr.diffusion,
        (2000, 2),
        sampler="ddpm",
        generator=torch.Generator().manual_seed(seed),
        progress=False,
        clip_x0=False,
    )
    swd = float(sliced_wasserstein(samples, held, generator=torch.Generator().manual_seed(0)))
    return {"final_loss": _final_loss(tr), "heldout_by_t": heldout_loss(tr, held), "swd": swd, "seconds": tr.elapsed}


def run_digits(variant: str, seed: int, steps: int = DIGIT_STEPS) -> dict:
    """Train one small digits variant with one seed; its final loss, held-out loss per t and seconds."""
    cfg = {
        "name": f"digits_{variant}_{seed}",
        "dataset": "digits",
        "seed": seed,
        "steps": steps,
        "method": "ddpm",
        "model": {
            "network": "unet",
            "in_channels": 1,
            "base_channels": 16,
            "channel_mults": [1, 2, 2],
            "attention": False,
            "time_embedding": variant,
        },
        "batch_size": 64,
        "learning_rate": 1e-3,
        "warmup_steps": 20,
        "log_every": 10,
        "ema_decay": 0.99,
    }
    tr = Trainer(cfg, device="cpu").train(progress=False)
    held = to_tensor(load_digits("test")[0][:256])
    return {"final_loss": _final_loss(tr), "heldout_by_t": heldout_loss(tr, held), "seconds": tr.elapsed}


def summarise(runs: list[dict], key: str) -> tuple[float, float]:
    """Mean and sample standard deviation of ``key`` over seeds."""
    vals = [r[key] for r in runs]
    return statistics.mean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0


def main() -> int:
    """``python -m course_lib.ablation``: run every variant and seed, write the cache and register it."""
    start = time.perf_counter()
    results = {
        "eval_t": list(EVAL_T),
        "seeds": list(SEEDS),
        "toy_steps": TOY_STEPS,
        "digit_steps": DIGIT_STEPS,
        "toy": {},
        "digits": {},
    }
    for v in VARIANTS:
        results["toy"][v] = [run_toy(v, s) for s in SEEDS]
        print(f"toy {v:10s} swd {summarise(results['toy'][v], 'swd')}", flush=True)
    for v in ("none", "sinusoidal", "learned"):
        results["digits"][v] = [run_digits(v, s) for s in SEEDS]
        print(f"digits {v:10s} loss {summarise(results['digits'][v], 'final_loss')}", flush=True)
    results["seconds"] = round(time.perf_counter() - start, 1)
    results["hardware"] = describe_hardware("cpu")
    path = data_dir() / RESULTS
    write_text(path, json.dumps(results, indent=1) + "\n")
    register_data_file(
        RESULTS,
        {
            "description": "lesson 03's time-embedding ablation: none / sinusoidal / learned / mlp, 3 seeds, "
            "toy spiral and digits",
            "source": f"python -m course_lib.ablation ({results['seconds']:.0f} s on the CPU)",
            "licence": "MIT (generated by the course)",
        },
    )
    print(f"wrote {path} in {results['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
