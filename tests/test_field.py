"""Lesson 13's experiment (course_lib.experiments.field): its rows, its cache and its widget."""

import numpy as np
import pytest

from course_lib import stats
from course_lib.engine import harness
from course_lib.engine.pretrained import training_cost
from course_lib.experiments import field as F
from course_lib.experiments import landscape
from course_lib.stats import VERDICT_WORDS


@pytest.fixture(scope="module")
def cache():
    return F.load_field()


@pytest.fixture(scope="module")
def table():
    return {r["label"]: r for r in harness.load_table()["rows"] if r["task"] == "digits_x4"}


def test_every_field_row_is_a_harness_row_of_a_known_family():
    labels = {e.label for e in landscape.ENTRIES if e.task == "digits_x4"}
    assert all(r.label in labels for r in F.FIELD)
    assert all(r.family in F.FAMILIES for r in F.FIELD)
    names = [r.name for r in F.FIELD]
    assert len(names) == len(set(names))
    assert F.REFERENCE in {r.label for r in F.FIELD}
    field_labels = {r.label for r in F.FIELD}
    assert all(a in field_labels and b in field_labels for a, b in F.ERA_PAIRS)
    assert all(label in field_labels for _, label, *_ in F.ERA)
    # lesson 13's two rows are registered with the harness, after lesson 11's
    assert [e.label for e in landscape.ENTRIES[-2:]] == [e.label for e in F.ROWS]


def test_the_cache_holds_every_row_in_order_with_its_intervals(cache, table):
    assert [r["label"] for r in cache["rows"]] == [r.label for r in F.FIELD]
    assert cache["margins"] == F.MARGINS and cache["reference"] == F.REFERENCE
    assert cache["family_level"] == pytest.approx(stats.family_level(stats.LEVEL, len(F.FIELD) - 1))
    for r in cache["rows"]:
        cached = table[r["label"]]
        for key in ("psnr", "ssim", "consistency", "agreement"):
            iv = r[key]
            assert iv["method"] == "t" and iv["n"] == 500
            assert iv["low"] <= iv["estimate"] <= iv["high"]
            # one source: the interval's centre is the harness row's mean (both from the same outputs)
            assert iv["estimate"] == pytest.approx(cached[key], abs=6e-4), (r["name"], key)
        for key in ("patch_swd", "frechet"):
            iv = r[key]
            assert iv["method"] == "delete-half jackknife" and iv["low"] <= iv["estimate"] <= iv["high"]
            assert iv["plain"] == pytest.approx(cached[key], rel=2e-3), (r["name"], key)
            assert iv["estimate"] == pytest.approx(iv["plain"] - iv["bias"], abs=1e-5)
        for key in ("nfe", "ms_per_image", "parameters"):
            assert r[key] == cached[key]


def test_costs_charge_every_part(cache):
    for r in cache["rows"]:
        if r["model"] is None:
            assert r["training_cpu_minutes"] == 0 and r["charged"] == []
            continue
        cost = training_cost(r["model"])
        assert r["training_cpu_minutes"] == cost["cpu_minutes"] and r["charged"] == sorted(cost["parts"])
    by = {r["label"]: r for r in cache["rows"]}
    assert "digits_autoencoder" in by["SwinIR-style (L1 + perceptual)"]["charged"]  # the feature network
    assert by["SwinIR-style (L1)"]["charged"] == ["digits_swinir"]
    assert "digits_sr3_concat" in by["consistency student 1 step"]["charged"]  # the teacher
    assert "digits_unet" in by["DDNM (unconditional digits_unet, 100 steps)"]["charged"]


def test_verdicts_are_words_of_the_protocol_and_agree_with_their_intervals(cache):
    for r in cache["rows"]:
        if r["label"] == F.REFERENCE:
            assert "against_reference" not in r
            continue
        for key, v in r["against_reference"].items():
            assert v["verdict"] in VERDICT_WORDS
            iv = v["interval"]
            assert iv["level"] == pytest.approx(cache["family_level"])
            if v["verdict"] == "better":
                assert (iv["low"] > 0) if v["higher_is_better"] else (iv["high"] < 0), (r["name"], key)
    assert len(cache["era"]) == len(F.ERA_PAIRS)
    for e, (a, b) in zip(cache["era"], F.ERA_PAIRS):
        assert (e["a"], e["b"]) == (a, b)
        assert e["psnr"]["interval"]["level"] == stats.LEVEL


def test_pictures_match_the_harness_outputs_and_hold_two_samples_of_a_sampled_row(cache):
    pictures = F.load_pictures()
    assert pictures["hr"].shape == (16, 32, 32) and pictures["y"].shape == (16, 8, 8)
    assert list(pictures["indices"]) == list(F.PICTURE_INDICES)
    by = {r["label"]: r for r in cache["rows"]}
    assert pictures[by["SRCNN"]["picture_key"]].shape == (1, 16, 32, 32)
    sampled = pictures[by[F.REFERENCE]["picture_key"]]
    assert sampled.shape == (2, 16, 32, 32) and not np.array_equal(sampled[0], sampled[1])
    # sample 0 is the harness's output for those digits, rounded to uint8
    from course_lib.images import uint8_to_model
    from course_lib.metrics import psnr

    hr = uint8_to_model(pictures["hr"])[:, None]
    for label in ("regression U-Net", F.REFERENCE):
        shown = uint8_to_model(pictures[by[label]["picture_key"]][0])[:, None]
        # 16 digits' PSNR is close to the 500-digit mean's interval scale: a gross mix-up (another row) would not be
        assert abs(float(psnr(shown, hr).mean()) - by[label]["psnr"]["estimate"]) < 3.0


def test_the_widget_view_shows_both_methods_on_one_digit(cache):
    from course_lib.teaching.widgets import field_view, render_field_view
    from course_lib.teaching.widgets.field import row_summary

    pictures = F.load_pictures()
    view = field_view(cache, pictures, "SRCNN", "SR3-style (DDIM-50)", 3)
    assert view["a"]["samples"].shape == (1, 32, 32) and view["b"]["samples"].shape == (2, 32, 32)
    assert view["test_index"] == F.PICTURE_INDICES[3]
    assert view["a"]["psnr"].shape == (1,) and np.all(np.isfinite(view["b"]["psnr"]))
    assert render_field_view(view)[:4] == b"\x89PNG"
    line = row_summary(view["b"]["row"])
    assert f"{view['b']['row']['psnr']['estimate']:.2f}" in line and "training CPU-min" in line
    with pytest.raises(ValueError, match="method: expected one of"):
        field_view(cache, pictures, "SwinIR", "SRCNN", 0)
    with pytest.raises(ValueError, match=r"digit: expected an integer 0 … 15, got 16"):
        field_view(cache, pictures, "SRCNN", "SRCNN", 16)


def test_the_widget_redraws_when_its_controls_change(cache):
    from course_lib.teaching.widgets import LandscapeWidget

    w = LandscapeWidget(field=cache, pictures=F.load_pictures(), a="SRCNN", b="DiffIR", digit=0)
    before = w.picture.value
    w.digit.value = 5
    assert w.picture.value != before and "digit 5" in w.readout.value
    w.method_b.value = "DDNM"
    assert "<b>DDNM</b>" in w.readout.value


def test_video_rows_are_lesson_12s():
    rows = F.video_rows()
    assert rows and all(r["task"] == "digits_video_x4" and "warping_error" in r for r in rows)
