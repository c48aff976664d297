"""Lesson 12's experiment: its bookkeeping (seeds, rows, crops, measures) and its cache, whose verdicts must follow from
the per-clip values it stores by the one protocol."""

import json

import pytest
import torch

from course_lib import stats
from course_lib.experiments import video as V
from course_lib.files import data_dir
from course_lib.teaching.widgets.video import load_frames

CACHE = data_dir() / "cache" / "video.json"


def test_seeds_rows_and_comparisons_are_consistent():
    seeds = {V.frame_seed(n, f) for n in range(V.N_CLIPS) for f in range(V.FRAMES)}
    assert len(seeds) == V.N_CLIPS * V.FRAMES  # every frame of every clip its own seed
    names = [name for name, _ in V.VIDEO_ROWS]
    assert len(names) == len(set(names)) and names[0] == "hr"
    assert all(a in names and b in names for a, b in V.VIDEO_COMPARISONS)
    assert set(V.ROW_MODELS) == set(names) - {"hr"}
    with pytest.raises(ValueError, match="row must be one of"):
        V.run_row("nearest", V.test_clips(1), {})


def test_the_hr_clip_measures_perfect_and_crops_are_the_digit():
    from course_lib.engine.pretrained import load
    from course_lib.video import MovingDigits

    data = V.test_clips(3)
    assert torch.equal(V.test_clips(3)["hr"], data["hr"])  # reproducible
    crops = V.crops(data["hr"], data["positions"])
    assert crops.shape == (24, 1, 32, 32)
    clips = MovingDigits("test", n_clips=V.N_CLIPS + V.REFERENCE_CLIPS)
    digit = clips.digits._hr_all[clips.motion(1)["digit"]]
    assert all(torch.equal(c, digit) for c in crops[8:16])  # clip 1's eight crops are its digit exactly
    classifier = load("digit_classifier", "cpu").model.eval()
    m = V.clip_measures(data["hr"], data, classifier)
    assert torch.all(m["warping_error"] == 0) and torch.all(m["agreement"] == 1)
    bicubic, nfe = V.run_row("bicubic", data, {})
    # a deterministic method still flickers: the LR frames of a moving digit are not shifts of each other
    assert nfe == 0 and V.clip_measures(bicubic, data, classifier)["warping_error"].min() > 0


def test_reference_clips_are_other_clips():
    data, reference = V.test_clips(2), V.test_clips(2, V.N_CLIPS)
    assert not torch.equal(data["hr"], reference["hr"])


@pytest.mark.skipif(not CACHE.exists(), reason="lesson 12's cache is made by make video")
def test_the_cached_verdicts_follow_from_the_cached_values():
    cache = json.loads(CACHE.read_text())
    rows, verdicts = cache["rows"], cache["verdicts"]
    assert cache["rows_order"] == [name for name, _ in V.VIDEO_ROWS]
    assert all(rows[name]["warping_error"]["mean"] > 0 for name in rows if name != "hr")
    assert rows["hr"]["warping_error"]["mean"] == 0
    for key, v in verdicts.items():
        a, b = key.split(" vs ")
        for measure, higher in (("psnr", True), ("warping_error", False), ("agreement", True)):
            again = stats.compare_values(
                rows[a][measure]["values"],
                rows[b][measure]["values"],
                higher,
                V.MARGINS[{"psnr": "psnr_db", "warping_error": "warping_error", "agreement": "agreement"}[measure]],
            )
            # the cache stores values to 3 decimals: the interval moves by at most their rounding
            assert again["interval"]["estimate"] == pytest.approx(v[measure]["interval"]["estimate"], abs=6e-4)
            assert v[measure]["margin"] == again["margin"]
    ed = cache["editing"]
    assert ed["t_stars"] == list(V.EDIT_T_STARS) and ed["unedited_accuracy"]["accuracy"] >= 0.95
    for t in ed["t_stars"]:
        for arm in ed["arms"]:
            cell = ed["cells"][f"{arm}_{t}"]
            assert cell["success"]["low"] <= cell["success"]["estimate"] <= cell["success"]["high"]
    assert [r["row"] for r in cache["harness_rows"]] == [n for n, _ in V.VIDEO_ROWS if n != "hr"]
    assert all(r["task"] == "digits_video_x4" for r in cache["harness_rows"])


@pytest.mark.skipif(not CACHE.exists(), reason="lesson 12's cache is made by make video")
def test_the_widget_frames_match_the_cache():
    cache, frames = json.loads(CACHE.read_text()), load_frames()
    assert list(frames["rows"]) == cache["rows_order"]
    assert frames["frames"].shape == (len(cache["rows_order"]), len(cache["widget_clips"]), V.FRAMES, 48, 48)
    data = V.test_clips(len(cache["widget_clips"]))
    assert (frames["shifts"] == data["shifts"].numpy()).all()
    # the scrubber's warping error from the uint8 frames is the cached row's, to the 8-bit rounding
    from course_lib.teaching.widgets import clip_frame

    for name in ("independent", "temporal_own"):
        errs = clip_frame(frames, name, 0, 0)["errors"]
        assert errs.mean() == pytest.approx(cache["rows"][name]["warping_error"]["values"][0], abs=0.003)
