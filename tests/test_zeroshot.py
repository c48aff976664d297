"""Lesson 08's zero-shot evaluation (course_lib/zeroshot.py) and its cache: the margins fixed in the module, every
config measured, DDNM's consistency float-exact, and the comparisons the lesson states."""

import pytest
import torch

from course_lib import zeroshot
from course_lib.operators import AreaOperator, FourierOperator, MaskOperator


def test_operators_of_the_tasks():
    assert isinstance(zeroshot.operator_for("sr4"), AreaOperator) and zeroshot.operator_for("sr2").scale == 2
    centre = zeroshot.operator_for("inpaint:center")
    assert isinstance(centre, MaskOperator) and centre.mask.sum() == 32 * 32 - 12 * 12
    k = zeroshot.operator_for("kspace:0.25")
    assert isinstance(k, FourierOperator) and k.symmetric() and abs(k.mask.mean().item() - 0.25) < 0.01
    assert torch.equal(k.mask, zeroshot.operator_for("kspace:0.25").mask)  # the same mask every time
    with pytest.raises(ValueError, match="expected srS, inpaint"):
        zeroshot.operator_for("jpeg:30")


@pytest.fixture(scope="module")
def cache():
    return zeroshot.load_zero_shot()


def test_the_cache_has_every_config_and_the_fixed_margins(cache):
    assert cache["margins"] == zeroshot.MARGINS and cache["indices"] == list(zeroshot.INDICES)
    assert list(cache["configs"]) == [c[0] for c in zeroshot.CONFIGS]
    for label, row in cache["configs"].items():
        assert row["nfe"] >= 100 and 0 <= row["agreement"] <= 1 and row["patch_swd"] > 0, label
        assert len(cache["per_image_psnr"][label]) == len(zeroshot.INDICES)


def test_ddnm_explains_its_measurements_to_float_precision(cache):
    for label, row in cache["configs"].items():
        if "noisy" not in label:  # noisy y: DDNM+ does not fit the noise on purpose
            assert row["consistency_float_min"] >= cache["margins"]["consistency_db"], label
            # rounding to 8 bits costs consistency — except where A x keeps pixels of the uint8 digits themselves
            assert row["consistency_uint8"] <= row["consistency_float"]
            assert row["consistency_uint8"] < 60 or row["task"].startswith("inpaint")


def test_time_travel_and_more_steps_cost_what_they_say(cache):
    c = cache["configs"]
    assert c["DDNM x4 time travel (L 10, r 3)"]["nfe"] > c["DDNM x4"]["nfe"] == 100
    assert c["DDNM x4 250 steps"]["nfe"] == 250


def test_the_issue_criteria_as_measured(cache):
    """What the cache says against the margins fixed before it was computed (lesson 08 states each)."""
    c, b, p, m = cache["configs"], cache["baselines"], cache["pairs"], cache["margins"]
    x2 = p["DDNM x2 − bicubic sr2"]["psnr"]
    assert x2["mean"] - 2 * x2["bootstrap_sd"] >= m["x2_psnr_over_bicubic_db"]
    assert c["DDNM x2"]["agreement"] >= b["SR3-style x4 DDIM-50"]["agreement"]
    assert c["DDNM x2"]["patch_swd"] <= m["x2_patch_swd_vs_sr3_x4"] * b["SR3-style x4 DDIM-50"]["patch_swd"]
    # ×4: far below the trained SR3-style model (64 numbers for 1,024 pixels: the prior must choose the digit)
    assert p["DDNM x4 − SR3-style x4 DDIM-50"]["psnr"]["mean"] < -3 and c["DDNM x4"]["agreement"] < b["SR3-style x4 DDIM-50"]["agreement"]
    for level in ("0.05", "0.1", "0.2"):  # DDNM+ beats DDNM on noisy y, the paired interval above zero
        d = p[f"DDNM+ x2 noisy {level} − DDNM x2 noisy {level}"]["psnr"]
        assert d["mean"] - 2 * d["bootstrap_sd"] > 0, level
    beat = {k: v["psnr"]["mean"] - 2 * v["psnr"]["bootstrap_sd"] >= m["inpaint_kspace_over_pinv_db"]
            for k, v in p.items() if "A†y" in k}
    assert beat == {"DDNM inpaint centre − A†y inpaint:center": False, "DDNM inpaint half − A†y inpaint:half": True,
                    "DDNM k-space 25% − A†y kspace:0.25": True, "DDNM k-space 12.5% − A†y kspace:0.125": False}
