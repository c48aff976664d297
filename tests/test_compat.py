"""The previous release's names keep working for one release, each with a DeprecationWarning naming the new one
(learners' copies of the lessons in workspace/ are never overwritten), and give the same results as the new names."""

import json
import warnings
from pathlib import Path

import pytest
import torch

from course_lib.datasets import DigitsSR
from course_lib.diffusion import GaussianDiffusion
from course_lib.methods.sr3 import super_resolve
from course_lib.operators import consistency_projection
from course_lib.pretrained import load_sr_model
from course_lib.samplers import DDIMSampler, DDPMSampler
from course_lib.schedules import make_beta_schedule
from course_lib.train import TrainConfig

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("old,new", [
    ("course_lib.sr:consistency_projection", "course_lib.operators:consistency_projection"),
    ("course_lib.sr:consistency_psnr", "course_lib.operators:consistency_psnr"),
    ("course_lib.sr:super_resolve", "course_lib.methods.sr3:super_resolve"),
    ("course_lib.sr:TiledDenoiser", "course_lib.models:TiledDenoiser"),
    ("course_lib.sr:load_sr_model", "course_lib.pretrained:load_sr_model"),
    ("course_lib.train:load_pretrained", "course_lib.pretrained:load_pretrained"),
    ("course_lib.train:init_from_pretrained", "course_lib.pretrained:init_from_pretrained"),
    ("course_lib.train:dihedral", "course_lib.datasets:dihedral"),
    ("course_lib.train:hardware", "course_lib.device:describe_hardware"),
    ("course_lib.diffusion:ddim_timesteps", "course_lib.samplers:ddim_timesteps"),
    ("course_lib.checkpoints:save_checkpoint", "course_lib.files:save_checkpoint"),
    ("course_lib.checkpoints:CheckpointError", "course_lib.files:CheckpointError"),
    ("course_lib.classifier:augment", "course_lib.methods.classifier:augment"),
])
def test_moved_names_still_import_and_warn(old, new):
    import importlib

    old_mod, old_name = old.split(":")
    new_mod, new_name = new.split(":")
    with pytest.warns(DeprecationWarning, match=new_name):
        value = getattr(importlib.import_module(old_mod), old_name)
    assert value is getattr(importlib.import_module(new_mod), new_name)


def test_tiles_come_from_the_configs_under_the_old_name():
    import course_lib.sr as sr

    with pytest.warns(DeprecationWarning, match=r"model\.tile"):
        tiles = sr.DEFAULT_TILES
    # the previous release's table, and every SR model shipped since (lesson 06's consistency student,
    # lesson 09's SRDiff and ResDiff)
    assert tiles == {
        "digits_sr3_concat": 8,
        "digits_sr3_encoder": 8,
        "photos_sr3": 16,
        "digits_sr_consistency": 8,
        "digits_srdiff": 8,
        "digits_resdiff": 8,
    }


def test_old_image_readers_keep_their_shapes(tmp_path):
    import numpy as np
    from PIL import Image

    import course_lib.data as data
    import course_lib.sr as sr

    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(tmp_path / "g.png")
    with pytest.warns(DeprecationWarning):
        assert sr.read_image(tmp_path / "g.png").shape == (8, 8)
    with pytest.warns(DeprecationWarning, match="read_image"):
        assert data.load_image(tmp_path / "g.png").shape == (8, 8, 3)  # channels=3 was its default


def test_the_lr_keyword_is_y_now():
    model, diffusion, _ = load_sr_model("digits_sr3_concat", "cpu")
    hr, y = DigitsSR("test", 4).tensors([0, 1])
    new = super_resolve(model, diffusion, y, steps=2, seed=0, progress=False)
    with pytest.warns(DeprecationWarning, match="y="):
        old = super_resolve(model, diffusion, lr=y, steps=2, seed=0, progress=False)
    assert torch.equal(new, old)
    with pytest.warns(DeprecationWarning):
        assert torch.equal(model.target(hr, lr=y), model.target(hr, y))
    with pytest.raises(TypeError, match="multiple values for argument 'y'"):
        super_resolve(model, diffusion, y, lr=y)
    assert torch.equal(consistency_projection(hr, y, 4), consistency_projection(hr, y=y, scale=4))


def test_previous_release_configs_read_as_the_new_ones():
    for path in sorted((ROOT / "data" / "checkpoints").glob("*.json")):
        if path.name.endswith(".log.json"):
            continue
        new = json.loads(path.read_text())
        assert "lr" not in new and "kind" not in new.get("model", {}), f"{path.name} still uses the old names"
    old = {"name": "x", "dataset": "digits_sr:4", "objective": "regression", "lr": 1e-3,
           "model": {"kind": "srcnn", "channels": 1, "scale": 4}}
    with pytest.warns(DeprecationWarning) as caught:
        parsed = TrainConfig.from_dict(old)
    assert {"'lr'", "'objective'", "model.kind"} <= {w for c in caught for w in ("'lr'", "'objective'", "model.kind") if w in str(c.message)}
    assert parsed == TrainConfig.from_dict({"name": "x", "dataset": "digits_sr:4", "method": "srcnn", "learning_rate": 1e-3,
                                            "model": {"channels": 1, "scale": 4}})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TrainConfig.from_dict(old, warn=False)  # what the loader does for shipped checkpoints: silent
    legacy_classifier = {"name": "c", "task": "classifier", "width": 8, "epochs": 2, "batch_size": 100, "lr": 1e-3}
    c = TrainConfig.from_dict(legacy_classifier, warn=False)
    assert (c.method, c.steps, c.lr_schedule, c.ema_decay, c.model.width) == ("classifier", 80, "onecycle", 0.0, 8)


def test_a_config_reads_like_the_old_dict_with_a_warning():
    c = TrainConfig.from_dict({"name": "x", "method": "ddpm", "T": 100})
    with pytest.warns(DeprecationWarning, match=r"config\.T"):
        assert c["T"] == 100
    with pytest.warns(DeprecationWarning, match=r"config\.learning_rate"):
        assert c["lr"] == c.learning_rate
    with pytest.warns(DeprecationWarning):
        assert {**c, "batch_size": 3}["batch_size"] == 3
    assert c.replace(batch_size=3).batch_size == 3 and c.batch_size == 128


def test_the_old_step_methods_are_the_samplers_steps():
    d = GaussianDiffusion(make_beta_schedule("cosine"))
    g = torch.Generator().manual_seed(0)
    x, eps, z = torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g)
    with pytest.warns(DeprecationWarning, match="DDIMSampler"):
        old = d.ddim_step(x, 500, 300, eps, eta=0.5, noise=z, clip_x0=True)
    assert torch.equal(old, DDIMSampler(d, eta=0.5, clip_sample=True).step(eps, 500, 300, x, noise=z).prev_sample)
    model = lambda x_, t_, c: eps  # noqa: E731
    t = torch.tensor([500, 500, 3])  # images may sit at different t
    with pytest.warns(DeprecationWarning, match="DDPMSampler"):
        x_prev, x0 = d.p_sample(model, x, t, noise=z)
    s = DDPMSampler(d, clip_sample=True)
    assert torch.equal(x_prev[:2], s.step(eps[:2], 500, 499, x[:2], noise=z[:2]).prev_sample)
    assert torch.equal(x0[2:], s.step(eps[2:], 3, 2, x[2:], noise=z[2:]).pred_original_sample)
