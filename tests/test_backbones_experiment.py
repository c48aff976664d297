"""Lesson 10's experiment (``python -m course_lib.backbones``): the rules fixed before measuring, and its pieces on
tiny inputs — the full run is the cache's."""

import json

import pytest
import torch

from course_lib.engine.train import Trainer
from course_lib.experiments import backbones as B


@pytest.mark.parametrize("name", list(B.ARMS))
def test_every_arm_builds_and_the_compared_ones_match_parameters(name):
    trainer = Trainer({**B.arm_config(name, 5e-4), "name": "t"}, "cpu")
    n = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    reference = {"latent": "latent_unet"}.get(name.split("_")[0], "unet")
    ref = sum(
        p.numel()
        for p in Trainer({**B.arm_config(reference, 5e-4), "name": "r"}, "cpu").model.parameters()
        if p.requires_grad
    )
    if name in ("dit", "uvit", "dit_p2", "uvit_p2", "latent_dit"):  # the matched arms: ±10 %
        assert abs(n / ref - 1) <= 0.10, (name, n, ref)
    assert trainer.config.learning_rate == 5e-4 and trainer.config.ema_decay == 0.99


def test_the_rules_were_fixed_in_code():
    assert B.LEARNING_RATES == (2e-4, 5e-4, 1e-3) and B.BUDGET_SECONDS == 600 and B.SNAPSHOTS[-1] == B.BUDGET_SECONDS
    assert set(B.TUNED) == {"unet", "dit", "uvit", "latent_unet", "latent_dit"}
    assert all(parent in B.TUNED for *_, parent in B.ARMS.values() if parent)
    assert {a for a, _, _ in B.COMPARISONS} | {b for _, b, _ in B.COMPARISONS} == set(B.ARMS)
    with pytest.raises(ValueError, match="arm must be one of"):
        B.arm_config("resnet", 1e-3)
    with pytest.raises(ValueError, match="is not tuned: it takes 'dit'"):
        B.chosen_learning_rate("dit_p2")


def test_the_learning_rate_rule_reads_the_last_quarter_of_the_loss():
    pilots = {
        2e-4: {"loss": [[i, 1.0] for i in range(8)]},
        5e-4: {"loss": [[i, 0.1 if i < 6 else 0.9] for i in range(8)]},  # best early, worst at the end
        1e-3: {"loss": [[i, 2.0 if i < 6 else 0.5] for i in range(8)]},  # worst early, best at the end
    }
    lr, scores = B.chosen_learning_rate("dit", pilots)
    assert lr == 1e-3 and scores == {"0.0002": 1.0, "0.0005": 0.9, "0.001": 0.5}


def test_judge_pair_gives_paired_verdicts_against_the_margins():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(100, generator=g) + 20
    a = {"psnr": {"values": (base + 1.0).tolist()}, "consistency": {"values": base.tolist()}, "patch_swd": 0.01}
    b = {
        "psnr": {"values": base.tolist()},
        "consistency": {"values": (base + 0.01 * torch.randn(100, generator=g)).tolist()},
        "patch_swd": 0.01,
    }
    out = B.judge_pair(a, b)
    assert out["psnr"]["verdict"] == "better" and out["psnr"]["margin"] == B.MARGINS["psnr_db"]
    assert out["consistency"]["verdict"] == "as good, within the margin"
    assert "patch_swd" not in out  # no images, no set-level verdict


def test_a_tiny_run_pilots_trains_snapshots_and_resumes(tmp_path, monkeypatch):
    import course_lib.engine.curves as curves

    monkeypatch.setattr(B, "WORK", tmp_path)
    monkeypatch.setattr(B, "PILOT_SECONDS", 0.3)
    monkeypatch.setattr(B, "SNAPSHOTS", (0.3, 0.6))
    monkeypatch.setattr(curves, "SAMPLER", {"sampler": "ddim", "steps": 2})  # the protocol's 50, cut for speed
    pilot = B.run_pilot("dit", 1e-3)
    assert pilot["points"] and pilot["loss"] is not None
    for lr in B.LEARNING_RATES:
        (tmp_path / "pilots" / f"dit_{lr:g}").mkdir(parents=True, exist_ok=True)
        (tmp_path / "pilots" / f"dit_{lr:g}" / "curve.json").write_text(
            json.dumps({"points": [{}], "loss": [[1, 1.0 - lr]]})
        )
    assert B.chosen_learning_rate("dit")[0] == 1e-3
    curve = B.run_arm("dit_adaln")  # an ablation arm takes DiT's rate
    assert curve["learning_rate"] == 1e-3 and len(curve["points"]) == 2 and curve["points"][1]["nfe"] == 2
    assert curve["points"][1]["cpu_seconds"] >= 0.6 and len(curve["points"][1]["psnr"]["values"]) == 100
    images = B._images("dit_adaln", 1)
    assert images.shape == (100, 1, 32, 32) and images.min() >= -1 and images.max() <= 1
    assert B.run_arm("dit_adaln") == json.loads((tmp_path / "dit_adaln" / "curve.json").read_text())  # read back
    # the judgement: paired per-image verdicts and set-level ones from the kept images, at every snapshot
    monkeypatch.setattr(B, "COMPARISONS", (("dit", "dit_adaln", "a question"),))
    monkeypatch.setattr(B, "SET_DRAWS", 10)  # the pipeline, not the statistics (tests/test_stats.py)
    curves = {"dit": B.run_arm("dit"), "dit_adaln": curve}
    judged = B.judge_all(curves)["comparisons"][0]
    assert (judged["a"], judged["b"], len(judged["snapshots"])) == ("dit", "dit_adaln", 2)
    last = judged["snapshots"][-1]
    assert set(last) == {"psnr", "consistency", "agreement", "patch_swd", "frechet"}
    assert last["patch_swd"]["margin"] == pytest.approx(B.MARGINS["patch_swd_share"] * curve["points"][-1]["patch_swd"])
    assert all(len(p["agreement_values"]) == 100 for c in curves.values() for p in c["points"])


def test_cost_curve_counts_flops_that_grow_with_the_tokens():
    cost = B.cost_curve(sizes=(16, 32, 64), batch=1, repeats=1)
    unet, dit, dit_p2 = (cost["pixel"][n] for n in ("unet", "dit", "dit_p2"))
    assert all(v["mflops_per_image"] > 0 and v["ms_per_image"] > 0 for v in (*unet.values(), *dit.values()))
    growth = {s: dit_p2[str(2 * s)]["mflops_per_image"] / dit_p2[str(s)]["mflops_per_image"] for s in (16, 32)}
    # 4× the pixels, 4× the tokens: the linear layers cost 4×, attention 16×, so each doubling costs more than the last
    assert growth[32] > growth[16] and growth[32] > 4
    assert set(cost["latent"]) == {"latent_unet", "latent_dit"}


def test_the_shipped_dit_config_trains_through_the_command_line(tmp_path):
    """``python -m course_lib.train --config data/checkpoints/digits_dit_sr.json`` (one process; two are the conformance
    launch's, tests/test_distributed.py) — the config ``make checkpoints`` retrains it from."""
    import os
    import subprocess
    import sys

    from course_lib.files import data_dir, load_checkpoint

    env = dict(os.environ, COURSE_DEVICE="cpu", OMP_NUM_THREADS="1")
    config = data_dir() / "checkpoints" / "digits_dit_sr.json"
    cmd = [sys.executable, "-m", "course_lib.train", "--config", str(config), "--until", "2", "--no-export"]
    out = subprocess.run(cmd + ["--runs", str(tmp_path)], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    state = load_checkpoint(tmp_path / "digits_dit_sr" / "state.pt")
    assert state["step"] == 2 and json.loads(state["config"])["model"]["backbone"] == "dit"


def test_the_experiment_leaves_the_thread_count_as_it_found_it():
    """Its runs use one thread; a caller's process (a test session, a lesson) keeps its own afterwards."""
    before = torch.get_num_threads()
    with B.one_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
