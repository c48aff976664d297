import shutil
from pathlib import Path

import pytest
import torch

from course_lib.datasets import load_training_set
from course_lib.files import CheckpointError, load_checkpoint, save_checkpoint
from course_lib.engine.pretrained import load_pretrained
from course_lib.engine.train import Trainer

DATA = Path(__file__).resolve().parent.parent / "data"
TINY = {
    "name": "tiny",
    "dataset": "digits",
    "method": "ddpm",
    "model": {"network": "unet", "in_channels": 1, "base_channels": 8, "channel_mults": [1, 2], "attention": False},
    "batch_size": 4,
    "steps": 10,
    "log_every": 2,
    "checkpoint_every": 3,
    "learning_rate": 1e-3,
    "warmup_steps": 2,
}


@pytest.fixture(scope="module")
def digits_small():
    return torch.rand(32, 1, 16, 16) * 2 - 1


def _same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.values(), b.values()))


def test_resume_is_exact(tmp_path, digits_small, device):
    straight = Trainer(TINY, device=device, data=digits_small).train(steps=7, progress=False)
    first = Trainer(TINY, device=device, data=digits_small).train(steps=4, progress=False)
    first.save(tmp_path / "state.pt")
    resumed = Trainer.resume(tmp_path / "state.pt", device=device, data=digits_small).train(steps=3, progress=False)
    assert resumed.step == straight.step == 7
    assert _same(resumed.model.state_dict(), straight.model.state_dict())
    assert _same(resumed.ema.state_dict(), straight.ema.state_dict())
    assert _same(resumed.opt.state_dict()["state"][0], straight.opt.state_dict()["state"][0])
    assert resumed.history == straight.history


def test_loss_falls_on_the_toy_spiral():
    cfg = {
        "name": "toy",
        "dataset": "toy2d:spiral",
        "method": "ddpm",
        "model": {"network": "mlp", "hidden": 64},
        "batch_size": 256,
        "steps": 300,
        "log_every": 50,
        "learning_rate": 2e-3,
        "warmup_steps": 10,
    }
    tr = Trainer(cfg, device="cpu").train(progress=False)
    assert tr.history[-1][1] < 0.7 * tr.history[0][1]


def test_periodic_checkpoints_and_time_limit(tmp_path, digits_small):
    tr = Trainer(TINY, device="cpu", data=digits_small)
    tr.train(progress=False, checkpoint_path=tmp_path / "s.pt")
    assert load_checkpoint(tmp_path / "s.pt")["step"] == 10
    assert Trainer(TINY, device="cpu", data=digits_small).train(seconds=0, progress=False).step == 0


def test_bad_config():
    with pytest.raises(ValueError, match="unknown config keys"):
        Trainer({**TINY, "epochs": 3})
    with pytest.raises(ValueError, match="method must be one of"):
        Trainer({**TINY, "method": "transformer"})
    with pytest.raises(ValueError, match="model.network must be one of"):
        Trainer({**TINY, "model": {"network": "transformer"}})


@pytest.fixture
def data_copy(tmp_path, monkeypatch):
    for rel in ("manifest.json", "digits.npz", "checkpoints/digits_unet.pt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DATA / rel, tmp_path / rel)
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    return tmp_path


def test_shipped_model_loads_and_denoises(data_copy):
    model, diffusion, config = load_pretrained("digits_unet", "cpu")
    assert config.name == "digits_unet" and not model.training
    hr = load_training_set("digits")["x"][:16]
    t = torch.full((16,), 300)
    eps = torch.randn(hr.shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        loss = ((model(diffusion.q_sample(hr, t, eps), t) - eps) ** 2).mean().item()
    assert loss < 0.2  # an untrained network scores about 1


def test_corrupt_or_missing_shipped_model(data_copy):
    path = data_copy / "checkpoints" / "digits_unet.pt"
    raw = bytearray(path.read_bytes())
    raw[100] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="does not match its recorded sha256"):
        load_pretrained("digits_unet", "cpu")
    path.unlink()
    with pytest.raises(CheckpointError, match="does not exist"):
        load_pretrained("digits_unet", "cpu")
    with pytest.raises(CheckpointError, match="no shipped model named 'cats'"):
        load_pretrained("cats", "cpu")


def test_checkpoint_files(tmp_path):
    save_checkpoint({"a": torch.ones(2)}, tmp_path / "c.pt")
    assert torch.equal(load_checkpoint(tmp_path / "c.pt")["a"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temporary file left behind
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="could not be read"):
        load_checkpoint(tmp_path / "bad.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="expected a dict"):
        load_checkpoint(tmp_path / "list.pt")


def test_training_ms_per_step_times_real_steps_and_names_bad_arguments():
    from course_lib.tools.benchmark import training_ms_per_step

    ms = training_ms_per_step({**TINY, "dataset": "digits"}, "cpu", steps=2, batch_size=4)
    assert 0 < ms < 60_000
    with pytest.raises(ValueError, match="steps must be >= 1"):
        training_ms_per_step(TINY, "cpu", steps=0)
    with pytest.raises(ValueError, match="warmup >= 0"):
        training_ms_per_step(TINY, "cpu", warmup=-1)


def test_checkpoint_order_trains_every_model_after_the_models_it_reads(tmp_path):
    import json as _json

    from course_lib.files import data_dir
    from course_lib.engine.train import checkpoint_order, main as train_main

    order = [p.stem for p in checkpoint_order(data_dir() / "checkpoints")]
    for first, then in (
        ("digits_diffir_s1", "digits_diffir"),
        ("digits_resdiff_cnn", "digits_resdiff"),
        ("digits_rrdb", "digits_srdiff"),
        ("digits_sr3_concat", "digits_sr_consistency"),
        ("digits_unet", "digits_diffbir"),
        ("digits_blind_restorer", "digits_diffbir"),
    ):
        assert order.index(first) < order.index(then), (first, then)
    assert not any(name.endswith(".log") for name in order) and len(order) == len(set(order))
    (tmp_path / "a.json").write_text(_json.dumps({"name": "a", "model": {"stage1": "b"}}))
    (tmp_path / "b.json").write_text(_json.dumps({"name": "b", "init_from": "a"}))
    with pytest.raises(ValueError, match="cycle"):
        checkpoint_order(tmp_path)
    with pytest.raises(SystemExit):
        train_main([])  # neither --config nor --order


def test_a_timed_run_still_takes_its_minimum_steps():
    """seconds=0 would stop at once; min_steps keeps a live run on a busy machine long enough to show a loss falling."""
    from course_lib.engine.train import Trainer

    config = {"name": "tiny", "dataset": "toy2d:spiral", "method": "ddpm", "model": {"network": "mlp", "hidden": 16},
              "T": 50, "batch_size": 8, "steps": 1000, "log_every": 5}  # fmt: skip
    t = Trainer(config, device="cpu").train(seconds=1e-9, min_steps=12, progress=False)
    assert t.step == 12
    t.train(seconds=1e-9, progress=False)
    assert t.step == 12  # no floor: a spent budget stops at once
    with pytest.raises(ValueError, match="min_steps: expected an int >= 0"):
        t.train(seconds=1, min_steps=-1, progress=False)
