"""Lesson 11's experiment (``python -m course_lib.flow``): the rules fixed before measuring, and its pieces on tiny
inputs — the full run is the cache's."""

import json

import pytest
import torch

from course_lib.experiments import flow as F
from course_lib.files import data_dir


@pytest.mark.parametrize("name", list(F.ARMS))
def test_every_arm_is_the_sr3_recipe_with_only_the_path_and_the_target_changed(name):
    base = json.loads((data_dir() / "checkpoints" / "digits_sr3_concat.json").read_text())
    config = F.arm_config(name)
    changed = {k for k in set(base) | set(config) if base.get(k) != config.get(k)}
    expected = {"name", "description", "learning_rate", "steps", "checkpoint_every", "ema_decay"}
    if name != "sr3_style":
        expected |= {"method", "prediction"} | ({"model"} if name in ("bridge", "flow_logit_normal") else set())
    assert changed == expected, (name, changed)
    if name != "sr3_style":
        extra = {k: v for k, v in config["model"].items() if base["model"].get(k) != v}
        allowed = {
            "bridge": {"source_noise": F.BRIDGE_NOISE},
            "flow_logit_normal": {"time_distribution": "logit_normal"},
        }
        assert extra == allowed.get(name, {}) and config["prediction"] == "velocity"
    assert config["learning_rate"] == (F.REFLOW_LEARNING_RATE if name == "reflow" else F.LEARNING_RATE)


def test_the_rules_were_fixed_in_code():
    assert F.SNAPSHOTS == (180.0, 360.0, 540.0, 720.0, 900.0) and F.REFLOW_SNAPSHOTS == (180.0, 360.0, 540.0)
    assert F.RACE_NFE == (1, 2, 4, 8, 16, 50) and F.N_PAIRS == 8000 and F.BRIDGE_NOISE == 0.25
    rows = set(F.RACE_ROWS)
    assert all(a in rows and b in rows for a, b, _ in F.RACE_COMPARISONS)
    assert {a for a, *_ in F.CURVE_COMPARISONS} | {b for _, b, *_ in F.CURVE_COMPARISONS} <= set(F.ARMS)
    assert F._steps("flow_midpoint", 1) is None and F._steps("flow_midpoint", 50) == 25 and F._steps("ddim", 4) == 4
    assert F._snapshots("flow_logit_normal") == F.SNAPSHOTS[:3]
    with pytest.raises(ValueError, match="arm must be one of"):
        F.arm_config("sde")


def test_a_tiny_run_trains_makes_coupled_pairs_and_reflows(tmp_path, monkeypatch):
    monkeypatch.setattr(F, "WORK", tmp_path)
    monkeypatch.setattr(F, "SNAPSHOTS", (0.5,))
    monkeypatch.setattr(F, "REFLOW_SNAPSHOTS", (0.5,))
    monkeypatch.setattr(F, "N_PAIRS", 6)
    monkeypatch.setattr(F, "PAIR_SOLVER", {"sampler": "flow_euler", "steps": 2})
    tiny = {"base_channels": 8, "channel_mults": [1, 2], "attention": False}
    real = F.arm_config

    def small(name):
        c = real(name)
        c["model"] = {**c["model"], **tiny}
        c["batch_size"] = 4
        return c

    monkeypatch.setattr(F, "arm_config", small)
    from course_lib.engine import curves

    monkeypatch.setattr(
        curves, "evaluate", lambda *a, **k: ({"psnr": {"mean": 0.0}, "patch_swd": 0.0}, torch.zeros(2, 1, 32, 32))
    )
    before = torch.get_num_threads()
    curve = F.run_arm("flow")
    assert len(curve["points"]) == 1 and (tmp_path / "flow" / "state.pt").exists()
    pairs = F.make_pairs(batch=4)
    x1, x0, y = (torch.cat(pairs[k]) for k in ("x1", "x", "y"))
    assert x1.shape == x0.shape == (6, 1, 32, 32) and pairs["cpu_seconds"] > 0
    # coupled: the flow carried each source to its image (solved again, the same end)
    from course_lib.methods.sr3 import super_resolve
    from course_lib.samplers import make_sampler

    model, path, _ = F.load_model("flow")
    again = super_resolve(
        model, path, y, sampler=make_sampler("flow_euler", path, 2, "velocity"), x_T=x1, progress=False
    )
    assert torch.allclose(again, x0, atol=1e-5)
    reflow = F.run_reflow()
    assert reflow["start_cpu_seconds"] == pytest.approx(curve["cpu_seconds"] + pairs["cpu_seconds"], abs=0.2)
    assert reflow["points"][0]["cpu_seconds"] >= reflow["start_cpu_seconds"] and reflow["pairs"] == 6
    assert torch.get_num_threads() == before
    # shipped as it ended (engine.curves.ship_run, shared with lesson 10), into a copy of data/
    import shutil

    from course_lib.engine.pretrained import load
    from course_lib.files import data_dir

    shutil.copytree(data_dir(), tmp_path / "data")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    (path,) = F.export_shipped()
    shipped_config = json.loads(path.read_text())
    assert shipped_config["steps"] == curve["points"][-1]["step"] and "15 CPU-minutes" in shipped_config["description"]
    shipped = load("digits_flow_sr", "cpu")
    assert shipped.model.net.config["base_channels"] == 8 and shipped.restore(y[:1], seeds=[0], steps=2).shape == (
        1,
        1,
        32,
        32,
    )
    F._LOADED.clear()


def test_the_cache_holds_what_the_lesson_states():
    fl = F.load_flow()
    assert set(fl["arms"]) == set(F.ARMS) and fl["rules"]["margins"] == F.MARGINS
    for name, arm in fl["arms"].items():
        want = F.REFLOW_SNAPSHOTS if name == "reflow" else F._snapshots(name)
        assert len(arm["points"]) == len(want) and all(p["nfe"] == 50 for p in arm["points"])
    reflow, flow = fl["arms"]["reflow"], fl["arms"]["flow"]
    # reflow's clock: the flow's training, then the pairs' CPU time, then its own
    assert reflow["start_cpu_seconds"] == pytest.approx(flow["cpu_seconds"] + reflow["pair_cpu_seconds"], abs=0.2)
    assert reflow["pairs"] == F.N_PAIRS == fl["pairs"]["n"]
    for row, cells in fl["race"].items():  # every cell spent exactly its budget
        for nfe, cell in cells.items():
            assert cell["nfe"] == int(nfe) and len(cell["psnr"]["values"]) == 100
    judged = {(c["a"], c["b"], c["nfe"]) for c in fl["race_comparisons"]}
    for a, b, _ in F.RACE_COMPARISONS:
        both = set(fl["race"][a]) & set(fl["race"][b])
        assert {(a, b, int(n)) for n in both} <= judged
    for c in fl["race_comparisons"] + [s for cc in fl["curve_comparisons"] for s in cc["snapshots"]]:
        for key in ("psnr", "consistency", "agreement", "patch_swd", "frechet"):
            assert c[key]["verdict"] in (
                "better",
                "worse",
                "undecided",
                "as good, within the margin",
                "better, but within the margin",
                "worse, but within the margin",
            )
            assert c[key]["interval"]["low"] <= c[key]["interval"]["estimate"] <= c[key]["interval"]["high"]
    assert fl["fp16"]["max_psnr_difference_db"] < 0.01
    assert set(fl["straightness"]["models"]) == set(F.STRAIGHTNESS_ARMS) | set(F.STRAIGHTNESS_VP)


def test_the_shipped_flow_config_trains_through_the_command_line(tmp_path):
    """``python -m course_lib.train --config data/checkpoints/digits_flow_sr.json`` — the config ``make checkpoints``
    retrains it from; the method builds its own process (a LinearPath)."""
    import os
    import subprocess
    import sys

    from course_lib.files import load_checkpoint

    env = dict(os.environ, COURSE_DEVICE="cpu", OMP_NUM_THREADS="1")
    config = data_dir() / "checkpoints" / "digits_flow_sr.json"
    cmd = [sys.executable, "-m", "course_lib.train", "--config", str(config), "--until", "2", "--no-export"]
    out = subprocess.run(cmd + ["--runs", str(tmp_path)], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    state = load_checkpoint(tmp_path / "digits_flow_sr" / "state.pt")
    assert state["step"] == 2 and json.loads(state["config"])["method"] == "flow_sr"


def test_the_shipped_flow_restores_and_its_order_in_make_checkpoints():
    from course_lib.datasets import DigitsSR
    from course_lib.engine.pretrained import load
    from course_lib.paths import LinearPath

    shipped = load("digits_flow_sr", "cpu")
    assert isinstance(shipped.process, LinearPath) and shipped.model.prediction == "velocity"
    _, y = DigitsSR("test", 4).tensors([0, 1])
    sr = shipped.restore(y, seeds=[0, 1], steps=2)
    assert sr.shape == (2, 1, 32, 32) and shipped.method.last_nfe == 2 and sr.abs().max() <= 1
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "course_lib.train", "--order", str(data_dir() / "checkpoints")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0 and "digits_flow_sr.json" in out.stdout
