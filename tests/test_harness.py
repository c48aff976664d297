"""The one evaluation harness: its protocol, its statistics, and its cached table — which must agree with the
numbers lessons 04 and 05 read from their own caches (they are views of the same outputs)."""

import pytest
import torch

from course_lib.engine import harness
from course_lib.experiments import blind, landscape, race, residual, zeroshot
from course_lib.experiments.compare import load_comparison
from course_lib.experiments.evaluate import load_sr_eval


def test_seeds_and_noise_follow_the_protocol():
    assert harness.image_seeds([0, 400], k=2) == [1000 + 200_000, 1000 + 400 + 200_000]
    assert harness.image_seeds([0, 400]) == [1000, 1400]
    a = harness.image_noise([4, 7], (1, 8, 8), "cpu")
    b = torch.cat([harness.image_noise([7], (1, 8, 8), "cpu"), harness.image_noise([4], (1, 8, 8), "cpu")])
    assert torch.equal(a, b.flip(0))  # an image's noise does not depend on the others
    assert torch.equal(harness.sample_noise(4, 3, (1, 8, 8), "cpu")[0], a[0])


def test_entries_are_unique_and_bad_entries_are_named():
    keys = [(e.task, e.label) for e in landscape.ENTRIES]
    assert len(keys) == len(set(keys)) and harness.registered() == tuple(landscape.ENTRIES)
    with pytest.raises(ValueError, match="task must be one of"):
        harness.register_entry(harness.Entry("x", "faces_x8", None))
    with pytest.raises(ValueError, match="already registered"):
        harness.register_entry(landscape.ENTRIES[0])


def test_each_lesson_owns_its_rows_and_the_old_names_still_work():
    """The rows live with their lessons' experiments (the harness keeps the mechanics); the 0.4 names warn."""
    assert [e for _, rows in landscape.LESSON_ROWS for e in rows] == landscape.ENTRIES
    with pytest.warns(DeprecationWarning, match=r"harness\.SAMPLER_ENTRIES .* use course_lib\.experiments\.race\.ROWS"):
        assert harness.SAMPLER_ENTRIES is race.ROWS
    with pytest.warns(DeprecationWarning, match="course_lib.experiments.landscape.ENTRIES"):
        assert harness.ENTRIES is landscape.ENTRIES
    with pytest.raises(AttributeError, match="no attribute 'NO_SUCH_ROWS'"):
        harness.NO_SUCH_ROWS


@pytest.fixture(scope="module")
def table():
    return harness.load_table()


def test_the_table_has_a_row_of_every_entry_with_the_schema(table):
    rows = {(r["task"], r["label"]): r for r in table["rows"]}
    assert list(rows) == [(e.task, e.label) for e in landscape.ENTRIES]  # every row, in the table's order
    for r in rows.values():
        # a row merged by --only from another machine (or thread count) than the table's says where it was measured
        assert list(r) == list(harness.ROW_FIELDS) or (
            list(r) == [*harness.ROW_FIELDS, "hardware"] and r["hardware"] != table["hardware"]
        )
        assert r["nfe"] >= 0 and r["ms_per_image"] >= 0 and r["parameters"] >= 0 and r["patch_swd"] > 0
    assert rows[("digits_x4", "SR3 concat DDPM-1000")]["nfe"] == 1000
    assert rows[("digits_x4", "SR3 concat DDIM-50")]["nfe"] == 50
    assert rows[("digits_x4", "mean of 8 SR3 concat samples")]["nfe"] == 400
    assert rows[("digits_x4", "SRCNN")]["nfe"] == 1 and rows[("digits_x4", "bicubic")]["nfe"] == 0
    assert rows[("digits_x4", "SR3 concat DDPM-1000")]["noise"] == "shared"


def test_the_table_agrees_with_the_lessons_caches(table):
    rows = {(r["task"], r["label"]): r for r in table["rows"]}
    ev, cmp_ = load_sr_eval(), load_comparison()
    pairs = [
        (("digits_x4", "SR3 concat DDIM-50"), ev["digits"]["digits_sr3_concat"]),
        (("digits_x4", "SR3 encoder DDIM-50 + projection"), ev["digits"]["digits_sr3_encoder + projection"]),
        (("photos_x2", "SR3 DDIM-50"), ev["photos"]["photos_sr3"]),
        (("digits_x4", "regression U-Net"), cmp_["digits"]["methods"]["regression U-Net"]),
        (("digits_x4", "SR3 concat DDPM-1000"), cmp_["digits"]["methods"]["SR3 DDPM-1000"]),
        (("digits_x4", "mean of 8 SR3 concat samples"), cmp_["digits"]["methods"]["mean of 8 SR3 samples"]),
        (("photos_x2", "SRCNN"), cmp_["photos"]["methods"]["SRCNN"]),
    ]
    for key, cached in pairs:
        for measure in ("psnr", "ssim", "consistency", "hf_ratio"):
            assert rows[key][measure] == pytest.approx(cached[measure]["mean"], abs=1e-4), (key, measure)
    for name in ("SRCNN", "regression U-Net", "SR3 DDIM-50", "SR3 DDPM-1000"):
        label = {"SR3 DDIM-50": "SR3 concat DDIM-50", "SR3 DDPM-1000": "SR3 concat DDPM-1000"}.get(name, name)
        assert rows[("digits_x4", label)]["patch_swd"] == cmp_["digits"]["methods"][name]["patch_swd"]
        assert rows[("digits_x4", label)]["frechet"] == cmp_["digits"]["methods"][name]["frechet"]
    assert rows[("digits_x4", "SR3 concat DDIM-50")]["diversity"] == pytest.approx(
        cmp_["digits"]["methods"]["SR3 DDIM-50"]["diversity"]["mean"], abs=1e-4
    )


def test_make_table_prints_every_row(table, capsys):
    assert landscape.main(["--table"]) == 0
    out = capsys.readouterr().out
    assert all(r["label"] in out for r in table["rows"]) and "patch SWD" in out


def test_only_names_the_labels_it_does_not_know(capsys):
    with pytest.raises(SystemExit):
        landscape.main(["--only", "no such method"])
    assert "matches no entry" in capsys.readouterr().err


def test_lesson_06_rows_are_registered_for_digits():
    labels = {e.label for e in landscape.ENTRIES if e.task == "digits_x4"}
    assert {e.label for e in race.ROWS} <= labels
    assert any(e.model == "digits_sr_consistency" for e in race.ROWS)


def test_lesson_08_rows_are_registered_for_digits(table):
    labels = {e.label for e in landscape.ENTRIES if e.task == "digits_x4"}
    assert {e.label for e in zeroshot.ROWS} <= labels
    rows = {r["label"]: r for r in table["rows"] if r["task"] == "digits_x4"}
    ddnm, travel = rows["DDNM (unconditional digits_unet, 100 steps)"], rows["DDNM time travel (L 10, r 3)"]
    assert ddnm["nfe"] == 100 and travel["nfe"] > 100 and ddnm["model"] == "digits_unet"
    # DDNM explains y (its step makes A x = y; the clip to [-1, 1] and nothing else costs a little), like SR3
    assert ddnm["consistency"] > 40


def test_lesson_08_blind_rows_give_a_blind_method_the_upsampled_y(table):
    from course_lib.engine.pretrained import training_record

    labels = {e.label for e in landscape.ENTRIES if e.task == "digits_x4"}
    assert {e.label for e in blind.ROWS} <= labels
    assert all(e.options.get("input") == "bicubic" for e in blind.ROWS)
    rows = {r["model"]: r for r in table["rows"] if r["task"] == "digits_x4" and r["label"].startswith("DiffBIR")}
    stage1, pipeline = rows["digits_blind_restorer"], rows["digits_diffbir"]
    assert stage1["nfe"] == 1 and pipeline["nfe"] == 20
    assert pipeline["patch_swd"] < stage1["patch_swd"]  # the ordering of lesson 08's own evaluation, on 500 digits
    # a two-stage method's training minutes count its stage 1 too, and the frozen base it borrows
    seconds = sum(
        training_record(name)["training_seconds"] for name in ("digits_diffbir", "digits_blind_restorer", "digits_unet")
    )
    assert pipeline["training_minutes"] == round(seconds / 60, 1)


def test_lesson_09_residual_rows(table):
    labels = {e.label for e in landscape.ENTRIES if e.task == "digits_x4"}
    assert {e.label for e in residual.ROWS} <= labels
    rows = {r["label"]: r for r in table["rows"] if r["task"] == "digits_x4"}
    rrdb, ddpm, ddim = rows["RRDB (L1; SRDiff's frozen encoder)"], rows["SRDiff DDPM-100"], rows["SRDiff DDIM-50"]
    bicubic = rows["bicubic"]
    assert rrdb["nfe"] == 1 and rrdb["psnr"] > bicubic["psnr"] + 4  # a real baseline, not bicubic
    assert ddpm["nfe"] == 100 and ddim["nfe"] == 50 and ddpm["method"] == "srdiff"
    # the residual over bicubic, added back: SRDiff explains y better than bicubic itself
    assert min(ddpm["consistency"], ddim["consistency"]) > bicubic["consistency"]
    from course_lib.engine.pretrained import training_record

    seconds = training_record("digits_srdiff")["training_seconds"] + training_record("digits_rrdb")["training_seconds"]
    assert ddpm["training_minutes"] == round(seconds / 60, 1)  # the frozen encoder was trained for it


def test_two_cheap_rows_regenerate_from_nothing_equal_to_the_cache(table, tmp_path):
    """``make harness``'s rows are reproducible: bicubic and SRCNN recomputed in an empty work folder (no resumed
    output) equal their rows of data/cache/landscape.json — every column but the timing."""
    entries = [e for e in landscape.ENTRIES if e.task == "digits_x4" and e.label in ("bicubic", "SRCNN")]
    assert len(entries) == 2
    fresh = harness.run(entries, "cpu", tmp_path)
    assert list((tmp_path / "digits_x4").iterdir())  # computed here, not read from runs/
    cached = {r["label"]: r for r in table["rows"] if r["task"] == "digits_x4"}
    for r in fresh:
        c = cached[r["label"]]
        for key in harness.ROW_FIELDS:
            if key == "ms_per_image":
                continue
            if isinstance(c[key], float):
                assert r[key] == pytest.approx(c[key], rel=1e-3, abs=2e-4), (r["label"], key)
            else:
                assert r[key] == c[key], (r["label"], key)
