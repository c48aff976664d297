"""The previous release's names keep working for one release, each with a DeprecationWarning naming the new one
(learners' copies of the lessons in workspace/ are never overwritten), and give the same objects as the new names;
the names of two releases ago are gone (CHANGELOG 0.5.0), and the configs of earlier releases are still read (shipped
checkpoints store them)."""

import importlib
import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

from course_lib._compat import MOVED_MODULES
from course_lib.diffusion import GaussianDiffusion
from course_lib.engine.config import TrainConfig
from course_lib.schedules import make_beta_schedule

ROOT = Path(__file__).resolve().parent.parent


def _fresh(name: str) -> None:
    """Forget an old module name so that importing it again goes through the alias (and warns again)."""
    for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
        del sys.modules[key]
    parent, _, child = name.rpartition(".")
    if parent in sys.modules and getattr(sys.modules[parent], child, None) is not None:
        delattr(sys.modules[parent], child)  # ``from package import child`` looks here first


@pytest.mark.parametrize("old,new", sorted(MOVED_MODULES.items()))
def test_every_moved_module_imports_from_its_old_name_with_a_warning(old, new):
    _fresh(old)
    with pytest.warns(DeprecationWarning, match=f"the module {old} is deprecated .* use {new}"):
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)


def test_the_three_forms_a_learner_wrote():
    for name in ("course_lib.plotting", "course_lib.race", "course_lib.widgets", "course_lib.widgets.sr"):
        _fresh(name)
    with pytest.warns(DeprecationWarning, match="course_lib.teaching.plotting"):
        from course_lib import plotting
    from course_lib.teaching import plotting as new_plotting

    assert plotting is new_plotting
    with pytest.warns(DeprecationWarning, match="course_lib.experiments.race"):
        import course_lib.race
    assert course_lib.race.load_race is importlib.import_module("course_lib.experiments.race").load_race
    runs = [{"seed": s, "m": 1.0 + 0.01 * s} for s in range(5)]
    with pytest.warns(DeprecationWarning, match="relative_verdict .* use course_lib.experiments.race.seed_verdict"):
        old = course_lib.race.relative_verdict(runs, runs, "m", 0.05)  # 0.4's keys, judged by the t interval now
    assert old["as_good"] and not old["worse"] and old["seeds"] == 5 and old["difference"] == 0
    with pytest.warns(DeprecationWarning, match="course_lib.teaching.widgets.sr"):
        from course_lib.widgets.sr import SRWidget  # a submodule of a moved package: the same class, not a copy
    assert SRWidget.__module__ == "course_lib.teaching.widgets.sr"


def test_the_old_commands_run_the_new_modules():
    """``python -m course_lib.cascade`` (and every command of README and of data/'s provenance lines) still runs."""
    for command in ("cascade", "train", "harness", "backbones"):
        out = subprocess.run(
            [sys.executable, "-m", f"course_lib.{command}", "--help"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0 and "usage:" in out.stdout, (command, out.stderr[-2000:])


def test_a_new_command_has_a_short_name_and_no_warning():
    import warnings

    from course_lib.experiments import backbones

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning would fail this import
        import course_lib.backbones as short
    assert short is backbones


def test_process_sample_moved_to_samplers_generate():
    from course_lib.samplers import generate

    process = GaussianDiffusion(make_beta_schedule("cosine", 50))

    def model(x, t, cond):
        return 0.1 * x

    new = generate(
        model, process, (3, 2), sampler="ddim", steps=5, generator=torch.Generator().manual_seed(0), progress=False
    )
    with pytest.warns(DeprecationWarning, match=r"GaussianDiffusion\.sample .* use course_lib\.samplers\.generate"):
        old = process.sample(
            model, (3, 2), sampler="ddim", steps=5, generator=torch.Generator().manual_seed(0), progress=False
        )
    assert torch.equal(new, old)
    assert process.betas.shape == (50,)  # buffers still come through nn.Module's lookup
    with pytest.raises(AttributeError, match="'GaussianDiffusion' object has no attribute 'no_such_thing'"):
        process.no_such_thing


def test_ddpm_restore_linear_is_now_ddpm_ddnm():
    """The name said "linear", the method is DDNM: the old name warns and gives the same images."""
    from course_lib.methods.ddpm import DDPM
    from course_lib.operators import AreaOperator

    process = GaussianDiffusion(make_beta_schedule("cosine", 20))

    def model(x, t, cond):
        return 0.1 * x

    method, op = DDPM.__new__(DDPM), AreaOperator(2)
    method.prediction = "eps"
    y = torch.zeros(2, 1, 4, 4)
    new = method.ddnm(model, process, op, y, (1, 8, 8), seeds=[1, 2], steps=5)
    with pytest.warns(DeprecationWarning, match=r"DDPM\.restore_linear .* use DDPM\.ddnm"):
        old = method.restore_linear(model, process, op, y, (1, 8, 8), seeds=[1, 2], steps=5)
    assert torch.equal(new, old) and torch.allclose(op.A(new), y, atol=1e-5)  # DDNM: A x̂ = y


@pytest.mark.parametrize(
    "gone",
    [
        "course_lib.checkpoints",
        "course_lib.diffusion:ddim_step",
        "course_lib.diffusion:p_sample",
        "course_lib.tools.sr:DEFAULT_TILES",
        "course_lib.data:load_image",
    ],
)
def test_the_names_of_two_releases_ago_are_gone(gone):
    """Deprecated in 0.2.0 and kept through 0.3.0 and 0.4.0: removed in 0.5.0 (CHANGELOG)."""
    module, _, name = gone.partition(":")
    if not name:
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(module)
        return
    holder = importlib.import_module(module)
    if module == "course_lib.diffusion":
        holder = GaussianDiffusion(make_beta_schedule("cosine", 10))
    with pytest.raises(AttributeError):
        getattr(holder, name)


def test_previous_release_configs_read_as_the_new_ones():
    for path in sorted((ROOT / "data" / "checkpoints").glob("*.json")):
        if path.name.endswith(".log.json"):
            continue
        new = json.loads(path.read_text())
        assert "lr" not in new and "kind" not in new.get("model", {}), f"{path.name} still uses the old names"
    old = {
        "name": "x",
        "dataset": "digits_sr:4",
        "objective": "regression",
        "lr": 1e-3,
        "model": {"kind": "srcnn", "channels": 1, "scale": 4},
    }
    with pytest.warns(DeprecationWarning) as caught:
        parsed = TrainConfig.from_dict(old)
    assert {"'lr'", "'objective'", "model.kind"} <= {
        w for c in caught for w in ("'lr'", "'objective'", "model.kind") if w in str(c.message)
    }
    assert parsed == TrainConfig.from_dict(
        {
            "name": "x",
            "dataset": "digits_sr:4",
            "method": "srcnn",
            "learning_rate": 1e-3,
            "model": {"channels": 1, "scale": 4},
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TrainConfig.from_dict(old, warn=False)  # what the loader does for shipped checkpoints: silent
    legacy_classifier = {"name": "c", "task": "classifier", "width": 8, "epochs": 2, "batch_size": 100, "lr": 1e-3}
    c = TrainConfig.from_dict(legacy_classifier, warn=False)
    assert (c.method, c.steps, c.lr_schedule, c.ema_decay, c.model.width) == ("classifier", 80, "onecycle", 0.0, 8)
    assert c.replace(batch_size=3).batch_size == 3 and c.batch_size == 100
