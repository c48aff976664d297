"""Lesson 08's zero-shot evaluation (course_lib/experiments/zeroshot.py) and its cache: the margins fixed in the module,
every
config measured, DDNM's consistency float-exact, and the comparisons the lesson states."""

import pytest
import torch

from course_lib.experiments import zeroshot
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


def test_the_criteria_as_measured(cache):
    """What the cache says against the margins fixed before it was computed (lesson 08 states each), every verdict
    by course_lib.stats on the cached per-image values."""
    from course_lib import stats
    from course_lib.experiments.zeroshot import PAIRS

    c, b, p, m = cache["configs"], cache["baselines"], cache["pairs"], cache["margins"]
    assert p["DDNM x2 − bicubic sr2"]["psnr_beats_by"]["verdict"] == "better"  # by more than 4 dB
    assert p["DDNM x2 − bicubic sr2"]["psnr_beats_by"]["by"] == m["x2_psnr_over_bicubic_db"]
    x2_sr3 = p["DDNM x2 − SR3-style x4 DDIM-50"]
    assert x2_sr3["patch_swd"]["verdict"] == "better" and x2_sr3["patch_swd"]["interval"]["method"].endswith(
        "jackknife"
    )
    assert c["DDNM x2"]["patch_swd"] <= m["x2_patch_swd_vs_sr3_x4"] * b["SR3-style x4 DDIM-50"]["patch_swd"]
    assert x2_sr3["agreement"]["verdict"] == "undecided"  # 1.00 against 0.98 on 100 digits
    # ×4: far below the trained SR3-style model (64 numbers for 1,024 pixels: the prior must choose the digit)
    x4 = p["DDNM x4 − SR3-style x4 DDIM-50"]
    assert x4["psnr"]["verdict"] == "worse" and x4["psnr"]["interval"]["high"] < -3
    assert x4["agreement"]["verdict"] == "worse"
    for level in ("0.05", "0.1", "0.2"):  # DDNM+ beats DDNM on noisy y
        assert p[f"DDNM+ x2 noisy {level} − DDNM x2 noisy {level}"]["psnr"]["verdict"] == "better", level
    beat = {k: v["psnr_beats_by"]["verdict"] == "better" for k, v in p.items() if "A†y" in k}
    assert beat == {
        "DDNM inpaint centre − A†y inpaint:center": False,
        "DDNM inpaint half − A†y inpaint:half": True,
        "DDNM k-space 25% − A†y kspace:0.25": True,
        "DDNM k-space 12.5% − A†y kspace:0.125": False,
    }
    # the cached verdicts are the ones stats gives on the cached per-image values (PSNR kept to 3 decimals)
    for a_, b_, rule in PAIRS:
        again = stats.compare_values(cache["per_image_psnr"][a_], cache["per_image_psnr"][b_], True)
        assert again["verdict"] == p[f"{a_} − {b_}"]["psnr"]["verdict"]
        agreement = stats.compare_values(cache["per_image_agreement"][a_], cache["per_image_agreement"][b_], True)
        assert agreement == p[f"{a_} − {b_}"]["agreement"]


# ------------------------------------------------------------------ lesson 08's DDNM widget
def test_noisy_measurements_have_the_stated_noise_in_y_units():
    from course_lib.teaching.widgets.ddnm import measure_y

    g = torch.Generator().manual_seed(3)
    hr = torch.rand(8, 1, 32, 32, generator=g) * 2 - 1
    for task in ("sr2", "inpaint:half", "kspace:0.25"):
        op = zeroshot.operator_for(task)
        clean, noisy = op.A(hr), measure_y(op, hr, 0.1)
        assert torch.equal(measure_y(op, hr, 0.0), clean) and torch.equal(noisy, measure_y(op, hr, 0.1))  # seeded
        n = noisy - clean
        measured = n[op.A(torch.ones_like(hr)).abs() > 0] if task != "sr2" else n.flatten()
        # σ = 0.1 on the [0, 1] scale is 0.2 on [-1, 1]; complex k-space noise: E|n|² = σ² per measured frequency
        assert abs(measured.abs().pow(2).mean().sqrt().item() - 0.2) < 0.01, task
        if task == "inpaint:half":
            assert torch.equal(n[..., 16:], torch.zeros_like(n[..., 16:]))  # nothing measured, no noise
    with pytest.raises(ValueError, match="noise must be >= 0"):
        measure_y(zeroshot.operator_for("sr2"), hr, -0.1)


def test_ddnm_view_records_each_step_before_and_after_the_projection(device):
    from course_lib.datasets import DigitsSR
    from course_lib.engine.harness import image_seeds
    from course_lib.engine.pretrained import load
    from course_lib.teaching.widgets.ddnm import DDNMWidget, ddnm_frame, ddnm_view, render_ddnm_frame

    prior = load("digits_unet", device)
    hr = DigitsSR("test", scale=4).tensors([0, 300])[0].to(device)
    seeds = image_seeds([0, 300])
    view = ddnm_view(prior.model, prior.process, hr, seeds, "sr4", steps=8)
    assert view["nfe"] == 8 and view["x0"].shape == (8, 2, 1, 32, 32) and len(view["t"]) == 8
    assert list(view["t"]) == sorted(view["t"].tolist(), reverse=True)
    # after the step A x̂₀′ = y to float precision; before it, far from it
    assert view["consistency_after"].min() > 70 and view["consistency_before"][0].max() < 40
    # the final image is the library's DDNM with the same seeds
    lib = prior.method.ddnm(
        prior.model, prior.process, AreaOperator(4), AreaOperator(4).A(hr), (1, 32, 32), seeds, steps=8
    )
    assert torch.allclose(view["final"], lib.clamp(-1, 1).cpu(), atol=1e-5)
    f = ddnm_frame(view, 3)
    assert f["t"] == int(view["t"][3]) and torch.equal(f["x_t"], view["x_t"][3])
    assert render_ddnm_frame(view, 3)[:8] == b"\x89PNG\r\n\x1a\n"
    plus = ddnm_view(prior.model, prior.process, hr, seeds, "sr2", noise=0.1, plus=True, steps=8)
    assert plus["consistency_after"][-1].max() < 40  # DDNM+ does not fit noisy y exactly
    with pytest.raises(ValueError, match="task must be one of"):
        ddnm_view(prior.model, prior.process, hr, seeds, "jpeg", steps=8)
    with pytest.raises(ValueError, match="k must be an int in 0 … 7"):
        ddnm_frame(view, 8)
    w = DDNMWidget(prior.model, prior.process, hr, seeds, task="sr2", steps=6)
    assert w.view["task"] == "sr2" and "step 6 of 6" in w.readout.value
    before = w.picture.value
    w.step.value = 1
    assert "step 1 of 6" in w.readout.value and w.picture.value != before
    w.task.value = "kspace:0.25"
    assert w.view["task"] == "kspace:0.25" and w.view["pinv"].shape == (2, 1, 32, 32)


def test_every_config_keeps_its_outputs_in_its_own_file():
    """The resumable work folder once named DDNM+ and DDNM alike, and a resumed run read DDNM's outputs as DDNM+'s."""
    from course_lib.experiments.zeroshot import CONFIGS, output_name

    names = [output_name(label) for label, _, _ in CONFIGS]
    assert len(set(names)) == len(names)
    assert output_name("DDNM+ x2 noisy 0.05") == "ddnm_plus_x2_noisy_0_05" != output_name("DDNM x2 noisy 0.05")
