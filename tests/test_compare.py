"""Lesson 05's comparison: the k-sample machinery, the realism measures and their sanity checks, the cached
comparison (reproduced in part, and the lesson's claims), and the comparer widget."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.engine.pretrained import load_classifier
from course_lib.experiments.compare import (
    CURVE_INDICES,
    K_MAX,
    MEAN_K,
    REFERENCE_INDICES,
    digit_realism,
    load_comparison,
    load_comparison_samples,
    running_mean_psnr,
    sample_seeds,
    sr3_samples,
)
from course_lib.data import DigitsSR, PhotosSR, upsample
from course_lib.experiments.evaluate import EVAL_INDICES, LIVE_INDICES, SEED_BASE, cached_values, image_noise
from course_lib.metrics import patch_distance, psnr, ssim
from course_lib.methods.sr3 import super_resolve
from course_lib.operators import consistency_psnr
from course_lib.engine.pretrained import load_pretrained, load_sr_model


@pytest.fixture(scope="module")
def cached():
    return load_comparison()


@pytest.fixture(scope="module")
def pictures():
    return load_comparison_samples()


# ------------------------------------------------------------------ machinery
def test_running_mean_psnr_is_the_psnr_of_each_running_mean():
    g = torch.Generator().manual_seed(0)
    hr = torch.rand(3, 1, 8, 8, generator=g) * 2 - 1
    samples = (hr + 0.3 * torch.randn(5, 3, 1, 8, 8, generator=g)).clamp(-1, 1)
    out = running_mean_psnr(samples, hr)
    assert out.shape == (5, 3)
    for k in range(1, 6):
        assert torch.allclose(out[k - 1], psnr(samples[:k].mean(0), hr), atol=1e-4)
    with pytest.raises(ValueError, match="samples must be"):
        running_mean_psnr(samples[0], hr)


@settings(max_examples=25, deadline=None)
@given(k=st.integers(1, 6), scale=st.floats(0.05, 0.5))
def test_eq_05_3_the_mean_of_k_samples_keeps_the_bias_and_divides_the_variance(k, scale):
    """E‖x̄_k − x‖² = ‖μ − x‖² + V / k (Eq. 05.5), checked by Monte Carlo for Gaussian samples around a biased μ."""
    g = torch.Generator().manual_seed(k)
    x = torch.zeros(64)
    mu = torch.full((64,), 0.2)
    draws = mu + scale * torch.randn(4000, k, 64, generator=g)
    mse = ((draws.mean(1) - x) ** 2).sum(1).mean().item()
    expected = ((mu - x) ** 2).sum().item() + 64 * scale**2 / k
    assert abs(mse - expected) < 0.05 * expected


def test_sr3_samples_follow_the_per_image_seeds_and_do_not_depend_on_the_batch():
    model, diffusion, _ = load_sr_model("digits_sr3_concat", "cpu")
    idx = [0, 100, 402]
    _, lr = DigitsSR("test", 4).tensors(idx)
    both = sr3_samples(model, diffusion, lr, idx, [0, 1], steps=3)
    assert both.shape == (2, 3, 1, 32, 32)
    first = super_resolve(model, diffusion, lr, steps=3, x_T=image_noise(idx, (1, 32, 32), "cpu"), progress=False)
    assert torch.allclose(both[0], first, atol=1e-5)  # sample 0 is lesson 04's sample
    assert not torch.allclose(both[0], both[1], atol=1e-3)  # another seed, another sample
    one_by_one = sr3_samples(model, diffusion, lr, idx, [1], steps=3, batch=1)[0]
    assert torch.allclose(one_by_one, both[1], atol=1e-4)
    assert sample_seeds(402, 1) == SEED_BASE + 402 + 100_000


# ------------------------------------------------------------ realism measures
def test_patch_distance_is_seeded_and_separates_hr_from_bicubic():
    photos = PhotosSR("test", scale=2, patch_size=256, mode="grid")
    hr, lr = photos.tensors()
    left, right = hr[..., :128], hr[..., 128:]
    a = patch_distance(left, right)
    assert a.item() == patch_distance(left, right).item()  # same seed, same value
    assert a.item() != patch_distance(left, right, seed=7).item()
    bic = patch_distance(upsample(lr, 2)[..., :128], right)
    assert bic > 2.5 * a
    with pytest.raises(ValueError, match="a must be a tensor of shape"):
        patch_distance(hr[0], hr)
    with pytest.raises(ValueError, match="repeats"):
        patch_distance(hr, hr, repeats=0)


def test_digit_realism_sanity_real_digits_are_close_blurry_ones_far():
    classifier = load_classifier(device="cpu")
    ds = DigitsSR("test", 4)
    hr, lr = ds.tensors(list(EVAL_INDICES))
    ref, _ = ds.tensors(list(REFERENCE_INDICES))
    same = digit_realism(classifier, hr, hr).item()
    halves = digit_realism(classifier, hr, ref).item()
    blurry = digit_realism(classifier, upsample(lr, 4), ref).item()
    assert abs(same) < 1e-6
    assert halves < blurry / 5
    assert set(EVAL_INDICES).isdisjoint(REFERENCE_INDICES)  # the reference never holds the judged image


# -------------------------------------------------------- the cached results
def test_cached_comparison_has_every_method_and_the_claims_of_the_issue(cached):
    m = cached["digits"]["methods"]
    assert list(m) == [
        "bicubic",
        "SRCNN",
        "regression U-Net",
        "SR3 DDPM-1000",
        "SR3 DDIM-50",
        "SR3 DDIM-50 + projection",
        f"mean of {MEAN_K} SR3 samples",
    ]
    assert all(len(r["psnr"]["values"]) == len(EVAL_INDICES) for r in m.values())
    # the issue's "done means", on the digits test split
    assert m["regression U-Net"]["psnr"]["mean"] > m["bicubic"]["psnr"]["mean"]
    for sr3 in ("SR3 DDIM-50", "SR3 DDPM-1000"):
        assert m[sr3]["frechet"] < min(m["regression U-Net"]["frechet"], m["SRCNN"]["frechet"])
    curve = cached["curve"]["psnr_to_regression"]
    assert len(curve) == K_MAX and curve[-1] > curve[0] + 3
    doublings = [curve[k - 1] for k in (1, 2, 4, 8, 16, 32)]
    assert all(b > a for a, b in zip(doublings, doublings[1:]))  # rises with every doubling of k
    assert all(b > a - 0.05 for a, b in zip(curve, curve[1:]))  # never falls by more than noise
    # the realism sanity checks
    s = cached["digits"]["sanity"]
    assert s["frechet_hr_vs_reference"] < s["frechet_bicubic_vs_reference"] / 5
    assert s["patch_swd_hr_vs_reference"] < s["patch_swd_bicubic_vs_reference"]
    ps = cached["photos"]["sanity"]
    assert ps["patch_swd_hr_halves"] < ps["patch_swd_bicubic"] / 2.5
    ph = cached["photos"]["methods"]
    assert list(ph) == ["bicubic", "SRCNN", "SR3 DDIM-50", "SR3 DDIM-50 + projection"]
    assert (
        ph["SRCNN"]["psnr"]["mean"] > ph["SR3 DDIM-50"]["psnr"]["mean"]
    )  # the perception-distortion trade-off, photos
    assert ph["SR3 DDIM-50"]["patch_swd"] < ph["SRCNN"]["patch_swd"]
    # cost: one evaluation against many
    assert m["regression U-Net"]["nfe"] == 1 and m["SR3 DDIM-50"]["nfe"] == 50 and m["SR3 DDPM-1000"]["nfe"] == 1000
    assert m["SRCNN"]["diversity"]["mean"] == 0 and m["SR3 DDIM-50"]["diversity"]["mean"] > 0.01


def test_cached_one_shot_values_are_reproduced_exactly(cached):
    ds = DigitsSR("test", 4)
    idx = LIVE_INDICES[:8]
    hr, lr = ds.tensors(idx)
    classifier = load_classifier(device="cpu")
    for name, ckpt in (("SRCNN", "digits_srcnn"), ("regression U-Net", "digits_regression_unet")):
        model = load_pretrained(ckpt, "cpu")[0]
        with torch.no_grad():
            out = model(lr)
        entry = {"indices": cached["digits"]["indices"], **cached["digits"]["methods"][name]}
        assert torch.allclose(psnr(out, hr), cached_values(entry, "psnr", idx), atol=2e-3), name
        assert torch.allclose(ssim(out, hr), cached_values(entry, "ssim", idx), atol=2e-3), name
        assert torch.allclose(consistency_psnr(out, lr, 4), cached_values(entry, "consistency", idx), atol=2e-3), name
    photos = PhotosSR("test", scale=2, patch_size=256, mode="grid")
    phr, plr = photos.tensors([1])
    with torch.no_grad():
        out = load_pretrained("photos_srcnn", "cpu")[0](plr)
    assert abs(psnr(out, phr).item() - cached["photos"]["methods"]["SRCNN"]["psnr"]["values"][1]) < 2e-3
    hr_all, lr_all = ds.tensors(list(EVAL_INDICES))
    ref, _ = ds.tensors(list(REFERENCE_INDICES))
    fd = digit_realism(classifier, upsample(lr_all, 4), ref).item()
    assert abs(fd - cached["digits"]["methods"]["bicubic"]["frechet"]) < 1e-3


def test_cached_sr3_sample_is_reproduced(cached):
    model, diffusion, _ = load_sr_model("digits_sr3_concat", "cpu")
    idx = LIVE_INDICES[:4]
    hr, lr = DigitsSR("test", 4).tensors(idx)
    sr = super_resolve(
        model, diffusion, lr, steps=cached["steps"], x_T=image_noise(idx, (1, 32, 32), "cpu"), progress=False
    )
    entry = {"indices": cached["digits"]["indices"], **cached["digits"]["methods"]["SR3 DDIM-50"]}
    assert (psnr(sr, hr) - cached_values(entry, "psnr", idx)).abs().max() < 0.05


def test_cached_pictures_match_the_curve(cached, pictures):
    assert pictures["indices"].tolist() == list(CURVE_INDICES)
    n = len(CURVE_INDICES)
    assert pictures["hr"].shape == (n, 32, 32, 1) and pictures["lr"].shape == (n, 8, 8, 1)
    assert pictures["sr3_samples"].shape == (MEAN_K, n, 32, 32, 1) and pictures["sr3_samples"].dtype == np.uint8
    assert pictures["curve_psnr_to_hr"].shape == (K_MAX, n)
    assert np.allclose(pictures["curve_psnr_to_hr"].mean(1), cached["curve"]["psnr_to_hr"], atol=1e-3)
    # the pictures are the images the numbers were computed on (up to uint8 rounding)
    s = torch.from_numpy(pictures["sr3_samples"]).float().permute(0, 1, 4, 2, 3) / 127.5 - 1
    hr = torch.from_numpy(pictures["hr"]).float().permute(0, 3, 1, 2) / 127.5 - 1
    live = running_mean_psnr(s, hr).mean(1)
    assert torch.allclose(live, torch.tensor(cached["curve"]["psnr_to_hr"][:MEAN_K]), atol=0.1)
    assert not math.isnan(cached["curve"]["regression_psnr_to_hr"])


# ---------------------------------------------------------------- the widget
def test_comparer_shows_what_course_lib_metrics_compute(pictures):
    from course_lib.teaching.widgets import ComparerWidget, comparer_view

    w = ComparerWidget(pictures, position=0, samples=2)
    w.position.value, w.samples.value, w.size.value = 7, 5, 8
    w.row.value, w.col.value = 20, 3
    v = w.view
    assert v["index"] == CURVE_INDICES[7] and v["patch"] == (20, 3, 8)
    names = [n for n, _ in v["panels"]]
    assert names == [
        "bicubic",
        "SRCNN",
        "regression U-Net",
        *[f"SR3 sample {k}" for k in range(1, 6)],
        "mean of 5 SR3 samples",
        "HR (truth)",
    ]

    def t(a):
        return torch.from_numpy(a).float().permute(2, 0, 1)[None] / 127.5 - 1

    hr, lr = t(pictures["hr"][7]), t(pictures["lr"][7])
    images = {
        "bicubic": t(pictures["bicubic"][7]),
        "SRCNN": t(pictures["srcnn"][7]),
        "regression U-Net": t(pictures["regression_unet"][7]),
    }
    samples = [t(pictures["sr3_samples"][k][7]) for k in range(5)]
    images.update({f"SR3 sample {k + 1}": s for k, s in enumerate(samples)})
    images["mean of 5 SR3 samples"] = torch.cat(samples).mean(0, keepdim=True)
    for name, img in images.items():
        got = v["metrics"][name]
        assert abs(got["psnr"] - psnr(img, hr).item()) < 1e-4, name
        assert abs(got["ssim"] - ssim(img, hr).item()) < 1e-4, name
        assert abs(got["consistency"] - consistency_psnr(img, lr, 4).item()) < 1e-4, name
        assert f"{got['psnr']:.2f}" in w.readout.value
    assert f"test digit {CURVE_INDICES[7]}" in w.readout.value and w.picture.value[:4] == b"\x89PNG"
    # a larger zoom clamps the position sliders into the image
    w.size.value = 32
    assert w.row.value == w.col.value == 0 and w.view["patch"] == (0, 0, 32)
    with pytest.raises(ValueError, match="position must be in 0"):
        comparer_view(pictures, len(CURVE_INDICES))
    with pytest.raises(ValueError, match="samples must be in 1"):
        comparer_view(pictures, 0, samples=MEAN_K + 1)
    with pytest.raises(ValueError, match="patch"):
        comparer_view(pictures, 0, patch=(30, 0, 8))
    with pytest.raises(ValueError, match="lacks"):
        comparer_view({"hr": pictures["hr"]}, 0)
