"""Training on many processes (course_lib/distributed.py): ``python -m course_lib.train`` under ``torchrun`` with 2 CPU
processes (gloo) gives weights identical on both ranks and equal to a single-process run on the same global batch, and
a run resumes on a different number of processes.

Tolerance: the ranks are compared bit for bit (they run the same operations on the same all-reduced gradients); the
2-process run against the 1-process run within 1e-6 absolute (the two sum the same per-item gradients in a different
order, and evaluate the network on batches of 8 instead of 16, which changes the last bits of a convolution)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from course_lib import distributed
from course_lib.distributed import DistContext, SliceModel

ROOT = Path(__file__).resolve().parent.parent

CONFIG = {
    "name": "ddp_check", "dataset": "digits", "method": "ddpm",
    "model": {"network": "unet", "in_channels": 1, "base_channels": 8, "channel_mults": [1, 2], "num_res_blocks": 1,
              "attention": True, "groups": 4},
    "schedule": "cosine", "T": 100, "batch_size": 16, "learning_rate": 1e-3, "steps": 6, "warmup_steps": 2,
    "ema_decay": 0.9, "seed": 3, "log_every": 1, "checkpoint_every": 3, "autocast": False,
}

SCRIPT = """\
import sys, torch
from course_lib import distributed
from course_lib.train import Trainer
ctx, device = distributed.init(torch.device("cpu"))
trainer = Trainer.resume(sys.argv[1], device=device, dist=ctx) if sys.argv[3] == "resume" else Trainer(
    __import__("json").loads(open(sys.argv[1]).read()), device=device, dist=ctx)
trainer.train(steps=int(sys.argv[4]), progress=False)
state = {"model": trainer.model.state_dict(), "ema": trainer.ema.state_dict(), "history": trainer.history,
         "step": trainer.step}
trainer.backward()  # the next batch's gradient, not applied
state["grad"] = {n: p.grad for n, p in trainer.model.named_parameters()}
torch.save(state, f"{sys.argv[2]}/rank{ctx.rank}.pt")
distributed.shutdown(ctx)
"""


def _env():
    env = dict(os.environ, COURSE_DEVICE="cpu", OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    return env


def _torchrun(n: int, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n}", *args]
    out = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out


def _max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a if a[k].is_floating_point())


@pytest.fixture(scope="module")
def config_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("ddp") / "ddp_check.json"
    path.write_text(json.dumps(CONFIG), encoding="utf-8")
    return path


def test_two_processes_equal_each_other_and_one_process(tmp_path, config_file):
    from course_lib.train import Trainer

    script = tmp_path / "run.py"
    script.write_text(SCRIPT, encoding="utf-8")
    _torchrun(2, str(script), str(config_file), str(tmp_path), "fresh", "5")
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert r0["step"] == r1["step"] == 5
    for key in ("model", "ema"):
        assert all(torch.equal(r0[key][k], r1[key][k]) for k in r0[key]), f"{key} differs across ranks"
    single = Trainer(CONFIG, device="cpu").train(steps=5, progress=False)
    start = Trainer(CONFIG, device="cpu")  # the weights before training: the runs really moved them
    assert _max_diff(single.model.state_dict(), start.model.state_dict()) > 1e-4
    # the gradient itself (Adam would hide a wrong scale): the global batch's, not a slice's nor half of it
    single.backward()
    grads = {n: p.grad for n, p in single.model.named_parameters()}
    assert all(torch.equal(r0["grad"][k], r1["grad"][k]) for k in grads)
    assert _max_diff(r0["grad"], grads) < 1e-6 * max(g.abs().max().item() for g in grads.values()) + 1e-9
    assert _max_diff(r0["model"], single.model.state_dict()) < 1e-6
    assert _max_diff(r0["ema"], single.ema.state_dict()) < 1e-6
    # and the logged loss is the global batch's, not a slice's
    assert [s for s, _ in r0["history"]] == [s for s, _ in single.history]
    assert all(abs(a - b) < 1e-5 for (_, a), (_, b) in zip(r0["history"], single.history))


def test_the_cli_under_torchrun_resumes_on_another_number_of_processes(tmp_path, config_file):
    """``python -m course_lib.train`` to step 3 on 2 processes, then to step 6 on 1: the same as 6 steps on 1."""
    from course_lib.files import load_checkpoint
    from course_lib.train import Trainer

    runs = tmp_path / "runs"
    first = _torchrun(2, "-m", "course_lib.train", "--config", str(config_file), "--until", "3", "--no-export",
                      "--runs", str(runs))
    assert first.stdout.count("training ddp_check") == 1  # rank 0 alone speaks
    assert "2 processes" in first.stdout
    state = runs / "ddp_check" / "state.pt"
    assert load_checkpoint(state)["step"] == 3
    subprocess.run([sys.executable, "-m", "course_lib.train", "--config", str(config_file), "--no-export",
                    "--runs", str(runs)], cwd=ROOT, env=_env(), check=True, capture_output=True, text=True, timeout=300)
    resumed = load_checkpoint(state)
    assert resumed["step"] == 6
    straight = Trainer(CONFIG, device="cpu").train(progress=False)
    assert _max_diff(resumed["model"], straight.model.state_dict()) < 1e-6
    assert _max_diff(resumed["ema"], straight.ema.state_dict()) < 1e-6


class Echo(torch.nn.Module):
    def forward(self, x, t):
        return x * 2 + t[:, None]


def test_slice_model_checks_its_inputs():
    with pytest.raises(ValueError, match=r"batch_size: expected a multiple of the number of processes \(3\), got 16"):
        SliceModel(Echo(), DistContext(0, 3, 0), 16)
    one = SliceModel(Echo(), DistContext(0, 2, 0), 4)
    with pytest.raises(ValueError, match=r"expected an argument with the global batch \(4\) first"):
        one(torch.zeros(3, 2), torch.zeros(3))


def test_the_environment_is_read_like_torchrun_writes_it():
    assert distributed.from_environment({}) == DistContext(0, 1, 0)
    ctx = distributed.from_environment({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"})
    assert ctx.active and not ctx.is_main
    with pytest.raises(ValueError, match="RANK: expected 0 <= RANK < WORLD_SIZE = 2, got 2"):
        distributed.from_environment({"RANK": "2", "WORLD_SIZE": "2"})
    with pytest.raises(ValueError, match="expected integers"):
        distributed.from_environment({"RANK": "a"})
