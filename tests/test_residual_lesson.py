"""Lesson 09's evaluation module (course_lib.experiments.residual: the judgement rules, the cache, nothing lost on
--write) and
its "what does each method generate?" widget (pure functions first, then the widget by setting its controls)."""

import json
import shutil

import pytest
import torch

from course_lib import stats
from course_lib.experiments import residual
from course_lib.datasets import DigitsSR
from course_lib.engine.harness import CURVE_INDICES, image_seeds
from course_lib.metrics import psnr
from course_lib.operators import upsample
from course_lib.experiments.residual import MARGINS, SHIPPED, STEPS, VARIANTS, sr3_quality


# ------------------------------------------------------------------ the rules and the cache
def _reference(values):
    return {"psnr": {"values": [float(v) for v in values]}}


def test_sr3_quality_is_a_paired_verdict_against_the_half_db_margin():
    g = torch.Generator().manual_seed(0)
    values = 22 + 2 * torch.randn(100, generator=g, dtype=torch.float64)
    noise = 0.1 * torch.randn(100, generator=g, dtype=torch.float64)
    ref = _reference(values)
    same = sr3_quality(values + noise, ref)  # paired: the spread between digits cancels
    assert same["reached"] and same["verdict"] == "as good, within the margin" and same["margin"] == 0.5
    slightly = sr3_quality(values - 0.2 + noise, ref)  # shown lower, but by less than the margin
    assert slightly["reached"] and slightly["verdict"] == "worse, but within the margin"
    worse = sr3_quality(values - 1.0 + noise, ref)  # 1 dB below: beyond the margin
    assert not worse["reached"] and worse["verdict"] == "worse"
    noisy = sr3_quality(values + 3 * torch.randn(100, generator=g, dtype=torch.float64), ref)  # cannot tell
    assert not noisy["reached"] and noisy["verdict"] == "undecided"


def test_sr3_quality_needs_the_same_digits():
    with pytest.raises(ValueError, match="psnr_values"):
        sr3_quality(torch.zeros(50), _reference(torch.zeros(100)))


def test_an_ablation_matters_when_its_interval_lies_beyond_the_margin():
    g = torch.Generator().manual_seed(1)
    b = 20 + 2 * torch.randn(100, generator=g, dtype=torch.float64)
    noise = lambda: 0.2 * torch.randn(100, generator=g, dtype=torch.float64)  # noqa: E731
    assert residual.ablation_verdict(b + 1.0 + noise(), b)["verdict"] == "helps"
    assert residual.ablation_verdict(b - 1.0 + noise(), b)["verdict"] == "hurts"
    assert residual.ablation_verdict(b + 0.05 + noise(), b)["verdict"] == "within ±0.5 dB"
    assert residual.ablation_verdict(b + 0.5 + noise(), b)["verdict"] == "unclear"  # straddles the margin


def test_the_margins_are_the_ones_fixed_before_measuring():
    assert MARGINS == {"diffir_psnr_below_sr3_db": 0.5, "ablation_effect_db": 0.5}


def test_the_cache_holds_every_variant_and_shipped_model_on_the_curve_digits():
    from course_lib.files import data_dir

    cache = json.loads((data_dir() / residual.RESULTS).read_text())
    assert set(cache["variants"]) == set(VARIANTS) and cache["indices"] == list(CURVE_INDICES)
    for name, v in cache["variants"].items():
        steps = [p["step"] for p in v["points"]]
        assert steps == list(range(residual.EVAL_EVERY, STEPS + 1, residual.EVAL_EVERY)), name
        assert all(len(p["psnr"]["values"]) == len(CURVE_INDICES) for p in v["points"])
        cpu = [p["cpu_seconds"] for p in v["points"]]
        assert cpu == sorted(cpu) and v["cpu_seconds"] >= cpu[-1] - 0.05 > 0  # snapshots store 0.1 s
    assert set(cache["shipped"]) == set(SHIPPED)
    for label, e in cache["shipped"].items():
        assert len(e["psnr"]["values"]) == len(CURVE_INDICES)
        jk = e["patch_swd_jackknife"]
        assert jk["low"] <= jk["estimate"] <= jk["high"] and jk["plain"] == pytest.approx(e["patch_swd"], abs=1e-5)
        assert e["nfe"] >= 1 and e["ms_per_image"] > 0
        if label != "SR3-style DDIM-50":  # paired against SR3-style on the same digits, by course_lib.stats
            again = stats.compare_values(
                e["psnr"]["values"], cache["shipped"]["SR3-style DDIM-50"]["psnr"]["values"], True
            )
            assert again["verdict"] == e["vs_sr3"]["psnr"]["verdict"], label
    # the cached SR3-style values are what the shipped model gives on those digits with those seeds (4 of them, live)
    from course_lib.engine.pretrained import load

    idx = [0, 1, 2, 3]
    hr, y = DigitsSR("test", scale=4).tensors([CURVE_INDICES[i] for i in idx])
    sr = load("digits_sr3_concat", "cpu").restore(
        y, seeds=image_seeds([CURVE_INDICES[i] for i in idx]), sampler="ddim", steps=50
    )
    cached = torch.tensor([cache["shipped"]["SR3-style DDIM-50"]["psnr"]["values"][i] for i in idx])
    assert torch.allclose(psnr(sr, hr).float(), cached.float(), atol=0.02)


def test_write_keeps_cached_variants_whose_runs_are_gone(tmp_path, monkeypatch):
    """A fresh checkout has no runs/residual/: --write must not drop the cached curves (no lost file)."""
    from course_lib.files import data_dir

    data = tmp_path / "data"
    shutil.copytree(data_dir(), data, ignore=shutil.ignore_patterns("*.pt", "*.npz", "*.gz"))
    monkeypatch.setenv("COURSE_DATA_DIR", str(data))
    monkeypatch.setattr(residual, "WORK", tmp_path / "no_runs")
    before = json.loads((data / residual.RESULTS).read_text())
    assert residual.main(["--write"]) == 0
    after = json.loads((data / residual.RESULTS).read_text())
    assert after["variants"] == before["variants"] and after["shipped"] == before["shipped"]


# ------------------------------------------------------------------ the widget
@pytest.fixture(scope="module")
def view():
    from course_lib.teaching.widgets.residual import generation_view

    idx = [0, 300]
    hr, y = DigitsSR("test", scale=4).tensors(idx)
    return generation_view(hr, y, [image_seeds(idx, 0), image_seeds(idx, 1)], steps=4)


def test_generation_view_is_what_each_shipped_model_gives(view):
    from course_lib.engine.pretrained import load
    from course_lib.teaching.widgets.residual import GENERATION_METHODS

    hr, y = view["hr"], view["y"]
    assert view["labels"] == list(GENERATION_METHODS)
    for label, (name, _) in GENERATION_METHODS.items():
        assert view["final"][label].shape == (2, 2, 1, 32, 32)
        assert torch.allclose(view["psnr"][label], torch.stack([psnr(f, hr) for f in view["final"][label]]))
    diffir = load("digits_diffir", "cpu")
    assert torch.allclose(view["final"]["DiffIR"][1], diffir.restore(y, seeds=image_seeds([0, 300], 1)), atol=1e-6)
    assert torch.allclose(view["base"]["SRDiff"], upsample(y, 4, "bicubic").clamp(-1, 1))
    assert torch.allclose(view["base"]["ResDiff"], load("digits_resdiff_cnn", "cpu").model(y), atol=1e-5)
    assert view["residual_scale"]["SRDiff"] == 0.5 and view["residual_scale"]["SR3-style"] == 1.0
    assert view["prior"].shape == (2, 2, 64) and view["prior_s1"].shape == (2, 64)
    # DiffIR leaves almost nothing to chance; the diffusion models' two samples differ
    spread = {k: float((v[0] - v[1]).abs().mean()) for k, v in view["final"].items()}
    assert spread["DiffIR"] < 0.2 * min(spread["SR3-style"], spread["SRDiff"], spread["ResDiff"])


def test_generation_frame_shows_the_generated_residual_at_its_own_scale(view):
    from course_lib.teaching.widgets.residual import generation_frame

    f = generation_frame(view, 1, 0)
    srdiff = f["rows"]["SRDiff"]
    assert torch.allclose(srdiff["generated"], (srdiff["final"] - srdiff["base"]) / 0.5)
    assert torch.allclose(
        f["rows"]["SR3-style"]["generated"], f["rows"]["SR3-style"]["final"] - f["rows"]["SR3-style"]["base"]
    )
    assert f["rows"]["DiffIR"]["base"] is None and f["rows"]["DiffIR"]["generated"].shape == (64,)
    assert f["rows"]["ResDiff"]["psnr"] == pytest.approx(float(view["psnr"]["ResDiff"][0, 1]))
    for bad in (2, -1, True, 0.5):
        with pytest.raises(ValueError, match="i must be"):
            generation_frame(view, bad, 0)
    with pytest.raises(ValueError, match="k must be"):
        generation_frame(view, 0, 2)


def test_generation_view_rejects_seeds_of_the_wrong_length():
    from course_lib.teaching.widgets.residual import generation_view

    hr, y = DigitsSR("test", scale=4).tensors([0, 1])
    with pytest.raises(ValueError, match="seeds"):
        generation_view(hr, y, [[1, 2, 3]], steps=2)
    with pytest.raises(ValueError, match="seeds"):
        generation_view(hr, y, [], steps=2)


def test_render_and_widget_controls(view):
    from course_lib.teaching.widgets import GenerationWidget, render_generation

    png = render_generation(view, 0, 1)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    w = GenerationWidget(view)
    assert "digit 0, sample 1" in w.readout.value
    first = w.picture.value
    w.digit.value = 1
    assert "digit 1, sample 1" in w.readout.value and w.picture.value != first
    w.sample.value = 1
    assert "digit 1, sample 2" in w.readout.value
    assert f"DiffIR {float(view['psnr']['DiffIR'][1, 1]):.1f} dB" in w.readout.value
