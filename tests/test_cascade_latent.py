"""Lesson 07: conditioning augmentation (Eq. 07.2–07.3), the cascade's SR stage, the KL autoencoder (Eq. 07.4–07.5),
latent scaling (Eq. 07.6) and latent SR; the experiments' rules and the caches they wrote."""

import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib import stats
from course_lib.experiments import cascade, latents
from course_lib.engine import harness
from course_lib.diffusion import GaussianDiffusion
from course_lib.files import data_dir
from course_lib.models import Autoencoder, CascadeSR, LatentSR, UNet, augment_lr, kl_to_standard_normal
from course_lib.schedules import make_beta_schedule

PROCESS = GaussianDiffusion(make_beta_schedule("cosine", 1000))


def _perturb(net):
    torch.manual_seed(0)
    for p in net.parameters():  # zero-initialised output layers would hide every input's effect
        torch.nn.init.normal_(p, std=0.05)
    return net.eval()


# ------------------------------------------------------------------ Eq. 07.2
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), s=st.lists(st.integers(0, 999), min_size=1, max_size=4))
def test_augment_lr_is_the_forward_process_at_level_s_and_leaves_s_zero_clean(seed, s):
    g = torch.Generator().manual_seed(seed)
    y = torch.rand(len(s), 1, 8, 8, generator=g) * 2 - 1
    noise = torch.randn(y.shape, generator=g)
    levels = torch.tensor(s)
    z = augment_lr(PROCESS, y, levels, noise)
    for i, si in enumerate(s):
        if si == 0:
            assert torch.equal(z[i], y[i])
        else:  # the paper's timestep s = the process's code index s − 1 (Eq. 01.3)
            a = PROCESS.alpha_bars[si - 1]
            assert torch.allclose(z[i], a.sqrt() * y[i] + (1 - a).sqrt() * noise[i], atol=1e-5)


def test_augment_lr_refuses_bad_levels_and_noise():
    y, noise = torch.zeros(2, 1, 8, 8), torch.zeros(2, 1, 8, 8)
    with pytest.raises(ValueError, match="aug_level"):
        augment_lr(PROCESS, y, torch.tensor([0.5, 1.0]), noise)
    with pytest.raises(ValueError, match="aug_level"):
        augment_lr(PROCESS, y, torch.tensor([0, 1000]), noise)
    with pytest.raises(ValueError, match="aug_level"):
        augment_lr(PROCESS, y, torch.tensor([1]), noise)
    with pytest.raises(ValueError, match="noise"):
        augment_lr(PROCESS, y, torch.tensor([1, 2]), noise[:, :, :4])


# ------------------------------------------------------------------ Eq. 07.3: s embedded like t
def test_a_stage_told_s_answers_to_s_and_an_untold_one_ignores_it():
    told = CascadeSR(
        _perturb(
            UNet(
                in_channels=2,
                cond_channels=1,
                base_channels=8,
                channel_mults=(1, 2),
                attention=False,
                T=100,
                aug_level_embedding=True,
            )
        ),
        scale=4,
        prediction="x0",
    )
    untold = CascadeSR(
        _perturb(UNet(in_channels=2, cond_channels=1, base_channels=8, channel_mults=(1, 2), attention=False, T=100)),
        scale=4,
        prediction="x0",
    )
    x, t, z = torch.randn(2, 1, 32, 32), torch.tensor([10, 60]), torch.randn(2, 1, 8, 8)
    with torch.no_grad():
        assert told.told and not untold.told
        assert not torch.allclose(told(x, t, (z, torch.tensor([0, 0]))), told(x, t, (z, torch.tensor([200, 200]))))
        assert torch.equal(untold(x, t, (z, torch.tensor([0, 0]))), untold(x, t, (z, torch.tensor([200, 200]))))
        with pytest.raises(ValueError, match="aug_level"):
            told.net(x, t, torch.zeros(2, 1, 32, 32))  # the level is required
        with pytest.raises(ValueError, match="aug_level"):
            untold.net(x, t, torch.zeros(2, 1, 32, 32), aug_level=torch.tensor([0, 0]))
        with pytest.raises(ValueError, match="pair"):
            told(x, t, z)
    # an old network is unchanged: no level embedding unless asked for
    assert not any(k.startswith("aug_mlp") for k in UNet(base_channels=8, channel_mults=(1, 2)).state_dict())


def test_the_cdm_method_draws_levels_and_corrupts_before_sampling():
    from course_lib.device import per_image_generators, randn
    from course_lib.methods import get_method
    from course_lib.samplers import clip_x0, make_sampler, sample
    from course_lib.engine.train import TrainConfig

    config = TrainConfig.from_dict(get_method("cdm").example())
    method = get_method("cdm")(config)
    g = torch.Generator().manual_seed(0)
    s = method.draw_levels(1000, g)
    assert s.min() >= 0 and s.max() < config.model.max_aug_level and len(s.unique()) > config.model.max_aug_level // 2
    off = get_method("cdm")(
        TrainConfig.from_dict(
            {**get_method("cdm").example(), "model": {**get_method("cdm").example()["model"], "augment": False}}
        )
    )
    assert torch.equal(off.draw_levels(5, g), torch.zeros(5, dtype=torch.long))
    model = method.build()
    _perturb(model.net)
    process = GaussianDiffusion(make_beta_schedule("cosine", config.T))
    y = torch.rand(2, 1, 8, 8, generator=g) * 2 - 1
    out = method.restore(model, process, y, seeds=[5, 6], aug_level=30, steps=3)
    # by hand: each image's corruption noise first, then its x_T, from its own generator
    gens = per_image_generators([5, 6])
    z = augment_lr(process, y, torch.tensor([30, 30]), randn((2, 1, 8, 8), gens, "cpu"))
    x_T = randn((2, 1, 32, 32), gens, "cpu")
    want = sample(
        model,
        make_sampler("ddim", process, 3, "x0"),
        x_T,
        (z, torch.tensor([30, 30])),
        x0_transform=clip_x0,
        generator=gens,
    ).clamp(-1, 1)
    assert torch.allclose(out, want, atol=1e-6) and method.last_nfe == 3
    for bad in (-1, config.T, 2.5, True):
        with pytest.raises(ValueError, match="aug_level"):
            method.restore(model, process, y, seeds=[5, 6], aug_level=bad, steps=3)
    with pytest.raises(ValueError, match="max_aug_level"):
        TrainConfig.from_dict(
            {**get_method("cdm").example(), "model": {**get_method("cdm").example()["model"], "max_aug_level": 100}}
        )


# ------------------------------------------------------------------ Eq. 07.4–07.6
def test_the_kl_term_is_the_closed_form_and_zero_for_the_standard_normal():
    g = torch.Generator().manual_seed(1)
    assert torch.equal(kl_to_standard_normal(torch.zeros(2, 4, 2, 2), torch.zeros(2, 4, 2, 2)), torch.zeros(2))
    mean, logvar = (
        torch.randn(1, 2, 2, 2, generator=g, dtype=torch.float64),
        torch.randn(1, 2, 2, 2, generator=g, dtype=torch.float64),
    )
    z = mean + (0.5 * logvar).exp() * torch.randn(200_000, 2, 2, 2, generator=g, dtype=torch.float64)
    log_q = -0.5 * ((z - mean) ** 2 / logvar.exp() + logvar)
    mc = (log_q + 0.5 * z**2).flatten(1).sum(1).mean()  # E_q[log q − log p], the constants cancel
    assert float(mc) == pytest.approx(float(kl_to_standard_normal(mean, logvar)), rel=0.02)


def test_the_autoencoder_has_factor_f_and_checks_its_inputs():
    ae = _perturb(Autoencoder(latent_channels=3, width=8))
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    mean, logvar = ae.encode(x)
    assert mean.shape == logvar.shape == (2, 3, 8, 8) and ae.factor == 4
    rec, m2, _ = ae(x)
    assert torch.equal(m2, mean) and torch.equal(rec, ae.decode(mean))  # no noise: D(μ)
    assert ae.reconstruct(x).abs().max() <= 1
    with pytest.raises(ValueError, match="x must have shape"):
        ae.encode(torch.zeros(2, 1, 30, 30))
    with pytest.raises(ValueError, match="z must have shape"):
        ae.decode(torch.zeros(2, 4, 8, 8))
    with pytest.raises(ValueError, match="latent_channels"):
        Autoencoder(latent_channels=0)


def test_latent_sr_decodes_its_scaled_latent_back_and_needs_f_equal_to_the_scale():
    ae = _perturb(Autoencoder(latent_channels=4, width=8))
    net = UNet(in_channels=5, cond_channels=1, base_channels=8, channel_mults=(1, 2), attention=False, T=10)
    model = LatentSR(ae, net, scale=4)
    model.latent_scale.fill_(2.5)
    x = torch.rand(3, 1, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(model.to_latent(x), 2.5 * ae.encode(x)[0])
        assert torch.allclose(model.to_image(model.to_latent(x)), ae.reconstruct(x), atol=1e-5)  # D(λμ / λ) = D(μ)
    assert not any(p.requires_grad for p in model.autoencoder.parameters())
    model.train()
    assert not model.autoencoder.training and model.net.training
    with pytest.raises(ValueError, match="factor"):
        LatentSR(Autoencoder(downsamplings=1), net, scale=4)
    with pytest.raises(ValueError, match="latent-sized"):
        model(torch.zeros(1, 4, 8, 8), torch.tensor([1]), torch.zeros(1, 1, 16, 16))


# ------------------------------------------------------------------ the shipped models
def test_the_shipped_autoencoder_record_and_latent_scale_are_what_they_claim():
    from course_lib.datasets import DigitsSR, load_training_set
    from course_lib.metrics import psnr
    from course_lib.engine.pretrained import load, training_record

    ae = load("digits_autoencoder", "cpu").model
    record = training_record("digits_autoencoder")
    hr, _ = DigitsSR("test", 4).tensors(list(harness.EVAL_INDICES))
    assert float(psnr(ae.reconstruct(hr), hr).mean()) == pytest.approx(record["reconstruction_psnr"], abs=0.01)
    lsr = load("digits_latent_sr", "cpu")
    x = load_training_set("digits")["x"]
    with torch.no_grad():
        std = torch.cat([ae.encode(x[i : i + 1000])[0] for i in range(0, 4000, 1000)]).std()
    assert float(lsr.model.latent_scale) == pytest.approx(1 / float(std), rel=1e-3)
    # the frozen autoencoder is borrowed, not stored twice
    state = torch.load(data_dir() / "checkpoints" / "digits_latent_sr.pt", weights_only=True)
    weights = state["ema"]
    assert not any(k.startswith("autoencoder.") for k in weights) and "latent_scale" in weights
    assert torch.equal(lsr.model.autoencoder.state_dict()["decoder.0.weight"], ae.state_dict()["decoder.0.weight"])


# ------------------------------------------------------------------ the experiments' rules and caches
def test_the_rules_choose_w_and_s_as_written():
    assert cascade.choose_w({"0.0": 0.9, "0.5": 0.96, "1.0": 0.99}) == 0.5
    assert cascade.choose_w({"0.0": 0.5, "1.0": 0.6}) == 1.0  # none reaches the bar: the largest w
    assert cascade.choose_s({0: 0.02, 50: 0.01, 100: 0.01}) == 50  # ties: the smaller level
    assert cascade.draw_labels(2) == list(range(10)) * 2


def test_the_cascade_cache_follows_its_rules_and_the_harness_uses_its_level():
    C = json.loads((data_dir() / "cache" / "cascade.json").read_text())
    assert C["margins"] == cascade.MARGINS
    w = cascade.choose_w({k: v["accuracy"] for k, v in C["validation"]["base"].items()})
    assert C["validation"]["chosen_w"] == w == C["test"]["w"]
    s = cascade.choose_s({int(k): v["patch_swd"] for k, v in C["validation"]["sweep"]["augmented"].items()})
    assert C["validation"]["chosen_s"] == s == C["test"]["s"] == cascade.SAMPLING_LEVEL
    cmp = C["test"]["comparison"]
    assert cmp["augmented_beats_on_accuracy"] == (cmp["accuracy_difference"]["verdict"] == "better")
    assert cmp["augmented_beats_on_patch_swd"] == (cmp["patch_swd_difference"]["verdict"] == "better")
    assert cmp["patch_swd_difference"]["interval"]["method"] == "delete-half jackknife"
    aug, noaug = C["test"]["augmented"]["correct"], C["test"]["unaugmented"]["correct"]
    assert len(aug) == len(noaug) == C["test"]["n"] == 10 * cascade.TEST_PER_CLASS
    assert sum(aug) / len(aug) == pytest.approx(C["test"]["sweep"]["augmented"][str(s)]["accuracy"], abs=1e-4)
    # the cached verdict is the one stats gives on the cached per-draw values
    assert stats.compare_values(aug, noaug, True) == cmp["accuracy_difference"]
    for part in (C["test"]["comparison"], C["exploratory"], C["confirmatory"]["test"]):
        again = stats.compare_values(part["correct"]["a"], part["correct"]["b"], True)
        assert again == part["accuracy_difference"]


def test_the_first_cascade_test_draws_reproduce_from_the_shipped_models():
    from course_lib.engine.pretrained import load

    C = json.loads((data_dir() / "cache" / "cascade.json").read_text())
    w, s, k = C["test"]["w"], C["test"]["s"], 6
    labels = cascade.draw_labels(cascade.TEST_PER_CLASS)[:k]
    seeds = [cascade.TEST_SEED + i for i in range(k)]
    y = cascade.generate_base(load("digits8_cfg", "cpu"), labels, seeds, w)
    out = cascade.upscale(load("digits_cascade_sr", "cpu"), y, [q + cascade.SR_SEED_OFFSET for q in seeds], s)
    reads = cascade.class_accuracy(out, labels, load("digit_classifier", "cpu").model.eval())
    assert [int(v) for v in reads] == C["test"]["augmented"]["correct"][:k]


def test_the_latent_cache_states_equal_quality_by_its_rule():
    L = json.loads((data_dir() / "cache" / "latent_sr.json").read_text())
    last = L["pixel"]["points"][-1]
    reached = latents.first_reaching(L["latent"]["points"], last["psnr"]["mean"], last["patch_swd"])
    eq = L["equal_quality"]
    assert (reached is None) == (eq["latent_step"] is None)
    if reached is not None:
        assert eq["latent_step"] == reached["step"]
        assert eq["ratio_without_autoencoder"] == pytest.approx(last["cpu_seconds"] / reached["cpu_seconds"], abs=0.01)
        assert eq["ratio_with_autoencoder"] < eq["ratio_without_autoencoder"]
    assert latents.first_reaching([{"psnr": {"mean": 20}, "patch_swd": 0.01, "step": 1}], 21, 0.02) is None
    steps = [p["step"] for p in L["latent"]["points"]]
    assert steps == list(range(latents.EVAL_EVERY, steps[-1] + 1, latents.EVAL_EVERY))
    assert all(a["cpu_seconds"] < b["cpu_seconds"] for a, b in zip(L["latent"]["points"], L["latent"]["points"][1:]))


# ------------------------------------------------------------------ the explorer's pure function
def test_cascade_view_runs_every_stage_and_reads_the_results():
    from course_lib.engine.pretrained import load
    from course_lib.teaching.widgets import cascade_view, render_cascade

    base, sr = load("digits8_cfg", "cpu"), load("digits_cascade_sr", "cpu")
    clf = load("digit_classifier", "cpu").model.eval()
    v = cascade_view(base, sr, clf, 3, 1.0, 100, 0, steps=4)
    st_ = v["stages"]
    assert st_["base"].shape == (1, 1, 8, 8) and st_["sr"].shape == st_["corrupted"].shape == (1, 1, 32, 32)
    assert v["told"] and 0 <= v["sr_reads"] <= 9 and 0 < v["sr_confidence"] <= 1
    again = cascade_view(base, sr, clf, 3, 1.0, 100, 0, steps=4)
    assert torch.equal(again["stages"]["sr"], st_["sr"])  # seeded: the same controls give the same picture
    clean = cascade_view(base, sr, clf, 3, 1.0, 0, 0, steps=4)
    assert torch.equal(clean["stages"]["corrupted"], clean["stages"]["upsampled"])  # s = 0: nothing corrupted
    assert render_cascade(v)[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="label"):
        cascade_view(base, sr, clf, 10, 1.0, 0, 0)


def test_the_history_correction_of_the_10x_claim_states_what_the_cache_holds():
    from course_lib.teaching import history

    L = json.loads((data_dir() / "cache" / "latent_sr.json").read_text())
    text = dict(history.CORRECTIONS)["'10× less compute' (LDM)"]
    tp = L["throughput"]
    assert (
        f"{tp['latent_training_images_per_second'] / tp['pixel_training_images_per_second']:.1f}× more images/s" in text
    )
    assert f"{tp['pixel_sampling_ms_per_image'] / tp['latent_sampling_ms_per_image']:.1f}× faster" in text
    better = max(p["ratio_better"] for p in L["psnr_only"] if p["ratio_better"])
    assert f"shown better in PSNR at most {better:.1f}× sooner" in text
    assert (
        L["equal_quality"]["latent_step"] is None and L["ceiling"]["patch_swd"] > L["equal_quality"]["pixel_patch_swd"]
    )
    assert tp["autoencoder_cpu_seconds"] > max(
        L["latent"]["points"][-1]["cpu_seconds"], L["pixel"]["points"][-1]["cpu_seconds"]
    )


def test_the_confirmatory_test_follows_its_rule():
    assert (
        cascade.choose_s_confirm(
            {
                "0": {"accuracy": 1.0, "patch_swd": 0.010},
                "200": {"accuracy": 0.96, "patch_swd": 0.009},
                "400": {"accuracy": 0.60, "patch_swd": 0.007},
            }
        )
        == 200
    )  # 400 fails the accuracy bar
    assert cascade.choose_s_confirm({"0": {"accuracy": 0.5, "patch_swd": 0.01}}) == 0
    C = json.loads((data_dir() / "cache" / "cascade.json").read_text())
    K = C["confirmatory"]
    assert K["rule"] == cascade.CONFIRM and K["validation"]["chosen_s"] == cascade.choose_s_confirm(
        K["validation"]["sweep"]
    )
    t = K["test"]
    assert t["s"] == K["validation"]["chosen_s"] and t["n"] == 10 * cascade.TEST_PER_CLASS
    assert t["augmented_beats_on_patch_swd"] == (t["patch_swd_difference"]["verdict"] == "better")
    assert t["augmented_beats_on_accuracy"] == (t["accuracy_difference"]["verdict"] == "better")
    assert (
        abs(
            t["accuracy_difference"]["interval"]["estimate"]
            - (t["augmented"]["accuracy"] - t["unaugmented"]["accuracy"])
        )
        < 1e-3
    )
    # fresh seeds: none of the main experiment's draws is reused
    assert cascade.CONFIRM["test_seed"] >= cascade.TEST_SEED + 10 * cascade.TEST_PER_CLASS
    assert cascade.CONFIRM["val_seed"] >= cascade.VAL_SEED + 10 * cascade.VAL_PER_CLASS
