"""The cached ablation of lesson 03 is what course_lib.experiments.ablation computes (one run re-done here)."""

import json

import pytest

from course_lib.experiments.ablation import RESULTS, SEEDS, VARIANTS, run_toy, summarise
from course_lib.data import verify_file


@pytest.fixture(scope="module")
def cached():
    return json.loads(verify_file(RESULTS).read_text())


def test_cache_has_every_variant_and_seed(cached):
    assert set(cached["toy"]) == set(VARIANTS) and set(cached["digits"]) == {"none", "sinusoidal", "learned"}
    for runs in list(cached["toy"].values()) + list(cached["digits"].values()):
        assert len(runs) == len(SEEDS) and all(len(r["heldout_by_t"]) == len(cached["eval_t"]) for r in runs)


def test_one_cached_run_reproduces(cached):
    fresh = run_toy("none", 0, steps=cached["toy_steps"])
    old = cached["toy"]["none"][0]
    # same code and seed; another CPU may round differently, so the chaotic training path may drift a little
    assert fresh["final_loss"] == pytest.approx(old["final_loss"], rel=0.02)
    assert fresh["swd"] == pytest.approx(old["swd"], rel=0.1)


def test_summary_statistics():
    assert summarise([{"x": 1.0}, {"x": 3.0}], "x") == (2.0, pytest.approx(2**0.5))
