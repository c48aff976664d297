"""Training on many processes (course_lib/engine/distributed.py): ``python -m course_lib.train`` under ``torchrun`` with
2 CPU
processes (gloo) gives weights identical on both ranks and equal to a single-process run on the same global batch, and
a run resumes on a different number of processes. The conformance test does it for every registered method's
``example()`` config in one ``torchrun`` launch (a launch costs 6–27 s here).

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

from course_lib.engine import distributed
from course_lib.engine.distributed import DistContext, SliceModel

ROOT = Path(__file__).resolve().parent.parent

CONFIG = {
    "name": "ddp_check",
    "dataset": "digits",
    "method": "ddpm",
    "model": {
        "network": "unet",
        "in_channels": 1,
        "base_channels": 8,
        "channel_mults": [1, 2],
        "num_res_blocks": 1,
        "attention": True,
        "groups": 4,
    },
    "schedule": "cosine",
    "T": 100,
    "batch_size": 16,
    "learning_rate": 1e-3,
    "steps": 6,
    "warmup_steps": 2,
    "ema_decay": 0.9,
    "seed": 3,
    "log_every": 1,
    "checkpoint_every": 3,
    "autocast": False,
}

SCRIPT = """\
import sys, torch
from course_lib.engine import distributed
from course_lib.engine.train import Trainer
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


CONFORMANCE_SCRIPT = """\
import sys, torch
from course_lib.engine import distributed
from course_lib.methods import METHODS
from course_lib.engine.train import Trainer
ctx, device = distributed.init(torch.device("cpu"))
out = {}
configs = {name: METHODS[name].example() for name in sorted(METHODS)}
configs.update(__import__("json").loads(sys.argv[4]))  # the backbones of lesson 10, in the SR3-style method
for name, config in configs.items():
    trainer = Trainer(dict(config, **__import__("json").loads(sys.argv[2])), device=device, dist=ctx)
    trainer.train(progress=False)
    state = {"model": {k: v.clone() for k, v in trainer.model.state_dict().items()}, "history": trainer.history}
    trainer.backward()  # the next batch's gradient, not applied
    state["grad"] = {n: p.grad for n, p in trainer.model.named_parameters() if p.grad is not None}
    out[name] = state
# and the course's own training config, 5 steps with warm-up, EMA and checkpoints: the run the CLI makes
trainer = Trainer(__import__("json").loads(open(sys.argv[3]).read()), device=device, dist=ctx)
trainer.train(steps=5, progress=False)
out["the CLI's config"] = {"model": trainer.model.state_dict(), "ema": trainer.ema.state_dict(),
                           "history": trainer.history, "step": trainer.step}
trainer.backward()
out["the CLI's config"]["grad"] = {n: p.grad for n, p in trainer.model.named_parameters()}
torch.save(out, f"{sys.argv[1]}/rank{ctx.rank}.pt")
distributed.shutdown(ctx)
"""
#: what the conformance test changes in each example config: an even global batch, 3 steps, each logged
CONFORMANCE = {"batch_size": 8, "steps": 3, "log_every": 1, "warmup_steps": 0}
#: not exact by design (BatchNorm's statistics per slice, dropout's masks): identical across ranks, not equal to 1
NOT_EXACT = {"classifier", "noisy_classifier"}  # lesson 12's guide is the same network on x_t
#: lesson 10's Transformer backbones in the SR3-style method (tiny: D = 16, 2 blocks), beside every method's example
_TINY = {"in_channels": 2, "cond_channels": 1, "patch_size": 4, "hidden_size": 16, "depth": 3, "heads": 2}
BACKBONE_EXAMPLES = {
    f"sr3 with {name}": {
        "name": f"example_sr3_{name}",
        "dataset": "digits_sr:4",
        "method": "sr3",
        "T": 100,
        "prediction": "x0",
        "model": {"scale": 4, "residual": True, "backbone": name, **_TINY, **extra},
    }
    for name, extra in (("dit", {}), ("uvit", {"input_size": 32}))
}


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


def test_two_processes_equal_each_other_and_one_process(two_process_runs):
    """The training config the CLI runs (warm-up, EMA, attention), 5 steps — from the conformance launch below (a
    launch costs 6–27 s here, so one serves both)."""
    from course_lib.engine.train import Trainer

    r0, r1 = (runs["the CLI's config"] for runs in two_process_runs)
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
    from course_lib.engine.train import Trainer

    runs = tmp_path / "runs"
    first = _torchrun(
        2,
        "-m",
        "course_lib.engine.train",
        "--config",
        str(config_file),
        "--until",
        "3",
        "--no-export",
        "--runs",
        str(runs),
    )
    assert first.stdout.count("training ddp_check") == 1  # rank 0 alone speaks
    assert "2 processes" in first.stdout
    state = runs / "ddp_check" / "state.pt"
    assert load_checkpoint(state)["step"] == 3
    subprocess.run(
        [
            sys.executable,
            "-m",
            "course_lib.engine.train",
            "--config",
            str(config_file),
            "--no-export",
            "--runs",
            str(runs),
        ],
        cwd=ROOT,
        env=_env(),
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
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


@pytest.fixture(scope="module")
def two_process_runs(tmp_path_factory, config_file):
    """Every registered method's example config and :data:`BACKBONE_EXAMPLES`, 3 steps on 2 processes, and
    :data:`CONFIG` 5 steps, from one ``torchrun`` launch."""
    folder = tmp_path_factory.mktemp("conformance")
    script = folder / "run.py"
    script.write_text(CONFORMANCE_SCRIPT, encoding="utf-8")
    _torchrun(2, str(script), str(folder), json.dumps(CONFORMANCE), str(config_file), json.dumps(BACKBONE_EXAMPLES))
    return [torch.load(folder / f"rank{r}.pt", weights_only=True) for r in (0, 1)]


def _registered():
    from course_lib.methods import METHODS

    return sorted(METHODS) + list(BACKBONE_EXAMPLES)


@pytest.mark.parametrize("name", _registered())
def test_every_method_trains_on_two_processes_as_on_one(name, two_process_runs):
    """Tolerances: ranks bit for bit; the next gradient within 1e-4 of its largest entry (measured ≤ 1.5e-5: sums in
    another order, convolutions on batches of 4 instead of 8); the logged losses within 1e-5; the weights after 3 AdamW
    steps within 5 % of how far the single-process run moved them (Adam divides by √v, so a parameter whose gradient is
    ~0 turns float noise into a step of up to the learning rate; measured ≤ 2 %). A gradient of one slice, or N times
    the sum, fails all but the last by orders of magnitude."""
    from course_lib.methods import METHODS
    from course_lib.engine.train import Trainer

    r0, r1 = (runs[name] for runs in two_process_runs)
    for key in ("model", "grad"):
        assert r0[key].keys() == r1[key].keys()
        if name in NOT_EXACT and key == "grad":
            continue
        assert all(torch.equal(r0[key][k], r1[key][k]) for k in r0[key]), f"{name}: {key} differs across ranks"
    config = dict(BACKBONE_EXAMPLES[name] if name in BACKBONE_EXAMPLES else METHODS[name].example(), **CONFORMANCE)
    start = Trainer(config, device="cpu")
    single = Trainer(config, device="cpu").train(progress=False)
    if name in NOT_EXACT:
        assert _max_diff(r0["model"], single.model.state_dict()) > 0  # the stated exception is real
        return
    moved = _max_diff(single.model.state_dict(), start.model.state_dict())
    assert moved > 0
    assert _max_diff(r0["model"], single.model.state_dict()) <= 0.05 * moved, name
    assert [s for s, _ in r0["history"]] == [s for s, _ in single.history] == [1, 2, 3]
    assert all(abs(a - b) < 1e-5 for (_, a), (_, b) in zip(r0["history"], single.history)), name
    single.backward()
    grads = {n: p.grad for n, p in single.model.named_parameters() if p.grad is not None}
    assert grads.keys() == r0["grad"].keys()
    assert _max_diff(r0["grad"], grads) <= 1e-4 * max(g.abs().max().item() for g in grads.values()), name


def test_slice_model_reaches_every_call_and_refuses_a_gradient_counted_twice():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = torch.nn.Linear(2, 2)
            self.scale = 3

        def forward(self, x, cond):
            return self.inner(x) + cond[0]

        def encode(self, x):
            return self.inner(x), self.inner.weight.sum() * 0

        def bias_only(self):
            return self.inner.bias * 2

    net = Net()
    model = SliceModel(net, DistContext(0, 1, 0), 4)
    x = torch.randn(4, 2)
    assert model.scale == 3 and torch.equal(model(x, (x,)), net(x, (x,)))  # nested arguments are sliced
    assert torch.equal(model.inner(x), net.inner(x))  # a submodule's call
    with pytest.raises(TypeError, match=r"model.encode\(\) must return tensors with the batch first"):
        model.encode(x)
    with pytest.raises(ValueError, match=r"model.bias_only\(\) was called without an argument of the global batch"):
        model.bias_only()
    with torch.no_grad():
        assert torch.equal(model.bias_only(), net.bias_only())  # a constant may run whole on every rank
    assert len(list(model.parameters())) == 2
