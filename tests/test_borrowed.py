"""Frozen parts borrowed from other shipped models (Method.borrowed): stored once in data/, filled back on load, and
refused when they no longer match — never a silent wrong model."""

import json

import pytest
import torch

from course_lib.files import CheckpointError, data_dir, load_checkpoint, load_manifest
from course_lib.engine.pretrained import borrowed_weights, load
from course_lib.engine.train import strip_borrowed

#: model → (its prefix, the shipped model lent, that model's prefix)
BORROWERS = {
    "digits_srdiff": [("net.encoder.", "digits_rrdb", "")],
    "digits_resdiff": [("cnn.", "digits_resdiff_cnn", "")],
    "digits_diffir": [("cpen1.", "digits_diffir_s1", "cpen1.")],
    "digits_diffbir": [("unet.base.", "digits_unet", ""), ("stage1.", "digits_blind_restorer", "")],
}


@pytest.mark.parametrize("name", sorted(BORROWERS))
def test_a_borrowed_part_is_stored_once_and_loads_as_the_lenders(name):
    state = load_checkpoint(data_dir() / f"checkpoints/{name}.pt")
    record = json.loads(state["borrowed"])
    files = load_manifest()["files"]
    model = load(name, "cpu").model.state_dict()
    for prefix, lender, lender_prefix in BORROWERS[name]:
        assert not any(k.startswith(prefix) for k in state["ema"]), f"{name} stores {prefix} again"
        assert record[prefix] == {
            "model": lender,
            "prefix": lender_prefix,
            "sha256": files[f"checkpoints/{lender}.pt"]["sha256"],
        }
        lent = {
            k[len(lender_prefix) :]: v
            for k, v in load(lender, "cpu").model.state_dict().items()
            if k.startswith(lender_prefix)
        }
        mine = {k[len(prefix) :]: v for k, v in model.items() if k.startswith(prefix)}
        assert set(mine) == set(lent) and all(torch.equal(mine[k], lent[k]) for k in lent)


def test_a_changed_or_missing_lender_is_refused_with_the_fix():
    files = {"checkpoints/digits_rrdb.pt": {"sha256": "a" * 64}}
    borrowed = {"net.encoder.": {"model": "digits_rrdb", "prefix": "", "sha256": "b" * 64}}
    with pytest.raises(CheckpointError, match="retrain 'digits_srdiff'"):
        borrowed_weights("digits_srdiff", borrowed, files)
    with pytest.raises(CheckpointError, match="missing"):
        borrowed_weights("digits_srdiff", borrowed, {})
    assert borrowed_weights("digits_srdiff", {}, files) == {}


def test_strip_borrowed_refuses_a_part_that_moved():
    srdiff = load("digits_srdiff", "cpu")
    weights = {k: v.clone() for k, v in srdiff.model.state_dict().items()}
    kept, record = strip_borrowed(dict(weights), srdiff.method.borrowed())
    assert (
        set(kept) == {k for k in weights if not k.startswith("net.encoder.")}
        and record["net.encoder."]["model"] == "digits_rrdb"
    )
    key = next(k for k in weights if k.startswith("net.encoder.") and weights[k].is_floating_point())
    weights[key] = weights[key] + 1e-3
    with pytest.raises(ValueError, match="differs from the shipped 'digits_rrdb'"):
        strip_borrowed(weights, srdiff.method.borrowed())
    assert strip_borrowed({"a": torch.zeros(1)}, {}) == ({"a": torch.zeros(1)}, {})


def test_an_export_leaves_the_borrowed_part_out_and_load_restores_it(tmp_path):
    from course_lib.methods import get_method
    from course_lib.engine.train import Trainer

    config = get_method("resdiff").example()
    config.update(steps=1, batch_size=4, log_every=1)
    trainer = Trainer(config, "cpu")
    trainer.train(steps=1, progress=False)
    state = load_checkpoint(trainer.export(tmp_path / "x.pt"))
    assert not any(k.startswith("cnn.") for k in state["ema"]) and "cnn." in json.loads(state["borrowed"])
    back = {**state["ema"], **borrowed_weights("x", json.loads(state["borrowed"]), load_manifest()["files"])}
    ema = trainer.ema.state_dict()
    assert set(back) == set(ema)
    assert all(torch.equal(back[k].float(), ema[k].to(back[k].dtype).float()) for k in ema)


def test_training_cost_charges_every_part_once_in_cpu_minutes():
    from course_lib.engine.pretrained import training_cost, training_record

    def cpu(name, threads):
        return training_record(name)["training_seconds"] * threads / 60

    # a distilled student pays for its teacher (trained_with) and the model it started from (init_from), once
    student = training_cost("digits_sr_consistency")
    assert sorted(student["parts"]) == ["digits_sr3_concat", "digits_sr_consistency"]
    threads = {k: p["threads"] for k, p in student["parts"].items()}
    assert student["cpu_minutes"] == round(sum(cpu(k, t) for k, t in threads.items()), 1)
    # a part trained on a GPU is counted apart, not as CPU-minutes
    diffbir = training_cost("digits_diffbir")
    assert diffbir["parts"]["digits_unet"]["device"] == "gpu"
    assert diffbir["gpu_minutes"] == round(training_record("digits_unet")["training_seconds"] / 60, 1)
    assert set(diffbir["parts"]) == {"digits_diffbir", "digits_blind_restorer", "digits_unet"}
    # a model of its own costs its own run: wall minutes × the threads its record names
    srcnn = training_cost("digits_srcnn")
    assert srcnn["parts"]["digits_srcnn"]["threads"] == 2
    assert srcnn["cpu_minutes"] == round(cpu("digits_srcnn", 2), 1)
