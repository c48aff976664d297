"""Lesson 06's race (course_lib/experiments/race.py) and its widget: verdicts paired by seed, the SR pairs judged by
stats from their cached per-image values, the cache's schema, and the race view on a tiny run."""

import pytest
import torch

from course_lib import stats
from course_lib.experiments import race
from course_lib.diffusion import GaussianDiffusion
from course_lib.schedules import make_beta_schedule


def test_start_seeds_are_per_image_and_distinct_across_seeds():
    a, b = race.start_seeds(0, 5), race.start_seeds(1, 5)
    assert a == race.start_seeds(0, 5) and len(set(a + b)) == 10 and a[0] == race.RACE_SEED_BASE


class Damped:
    prediction = "eps"

    def __call__(self, x, t, cond=None):
        return 0.5 * x


def test_generation_is_batch_independent_and_counts_nfe():
    process = GaussianDiffusion(make_beta_schedule("cosine", 50))
    full, _, nfe = race.generate(Damped(), process, "ddim", 5, {}, seed=0, n=6, batch=6)
    halves, _, _ = race.generate(Damped(), process, "ddim", 5, {}, seed=0, n=6, batch=3)
    assert torch.equal(full, halves) and nfe == 5 and full.shape == (6, 1, 32, 32)
    _, _, nfe_heun = race.generate(Damped(), process, "heun", 5, {}, seed=0, n=2)
    assert nfe_heun == 9  # every evaluation counted


def test_the_sr_pairs_are_judged_by_stats_and_keep_their_per_image_values():
    sr = race.load_race()["sr"]
    assert [(p["a"], p["b"]) for p in sr["pairs"]] == [(a, b) for a, b, _ in race.SR_PAIRS]
    values = sr["per_image"]
    for (a, b, margins), p in zip(race.SR_PAIRS, sr["pairs"]):
        assert p["patch_swd"]["interval"]["method"] == "delete-half jackknife" and p["patch_swd"]["margin"] is None
        for key in ("psnr", "consistency", "hf_error"):
            # the cached verdict is the one stats gives on the cached per-image values (rounded to 3 decimals)
            again = stats.compare_values(values[a][key], values[b][key], key != "hf_error", margins.get(key))
            assert again["verdict"] == p[key]["verdict"] and p[key]["margin"] == margins.get(key)
            assert again["interval"]["estimate"] == pytest.approx(p[key]["interval"]["estimate"], abs=2e-3)
    assert len(sr["indices"]) == 500 and all(len(v["psnr"]) == 500 for v in values.values())


def test_margins_are_fixed_in_the_module():
    assert set(race.MARGINS) == {"generation_patch_swd", "generation_frechet", "sr_psnr_db", "sr_consistency_db"}
    assert race.MARGINS["sr_psnr_db"] == 3.0 and race.MARGINS["sr_consistency_db"] == 40.0


def runs(values, seeds=None):
    return [{"seed": s, "m": v} for s, v in zip(seeds or range(len(values)), values)]


def test_seed_verdicts_pair_by_seed_and_use_the_t_quantile():
    a = runs([1.0, 2.0, 3.0], seeds=[2, 0, 1])
    b = runs([0.5, 1.0, 1.5])  # seeds 0, 1, 2
    v = race.seed_verdict(a, b, "m", None)  # by seed: 2.0-0.5, 3.0-1.0, 1.0-1.5 -> 1.5, 2.0, -0.5
    d = torch.tensor([1.5, 2.0, -0.5], dtype=torch.float64)
    half = stats.t_quantile(0.975, 2) * float(d.std()) / 3**0.5
    assert v["interval"]["estimate"] == pytest.approx(1.0) and v["interval"]["high"] == pytest.approx(1.0 + half)
    assert v["verdict"] == "undecided" and v["exploratory"]
    with pytest.raises(ValueError, match="runs_a and runs_b: expected at least 2 common seeds"):
        race.seed_verdict(runs([1.0], [7]), runs([1.0], [8]), "m", None)


def test_seed_verdicts_separate_the_two_questions():
    ref = runs([1.00, 1.02, 0.98, 1.01, 0.99])
    close = runs([1.01, 1.01, 0.99, 1.02, 0.99])  # differences +0.01, −0.01, +0.01, +0.01, 0: within 0.05
    assert race.seed_verdict(close, ref, "m", 0.05)["verdict"] == "as good, within the margin"
    far = runs([1.10, 1.13, 1.07, 1.12, 1.09])  # +0.10: beyond it, and measurably worse
    assert race.seed_verdict(far, ref, "m", 0.05)["verdict"] == "worse"
    slightly = runs([1.012, 1.032, 0.992, 1.022, 1.002])  # +0.012 every seed: worse, and within the margin
    assert race.seed_verdict(slightly, ref, "m", 0.05)["verdict"] == "worse, but within the margin"
    noisy = runs([1.3, 0.7, 1.25, 0.75, 1.0])  # the verdict needs the spread too
    assert race.seed_verdict(noisy, ref, "m", 0.05)["verdict"] == "undecided"
    # "± 2 SE" at 5 seeds would have called this worse; the t quantile at 4 degrees of freedom (2.78) does not
    edge = runs([1.03, 1.02, 0.99, 1.01, 1.01])  # differences .03 0 .01 0 .02: mean 0.012, SE 0.0058
    assert race.seed_verdict(edge, ref, "m", None)["verdict"] == "undecided"


def test_the_cached_verdicts_are_the_ones_stats_gives_now():
    data = race.load_race()
    assert data["verdicts"]["generation"] == race.generation_verdicts(data["generation"])
    assert data["verdicts"]["confirmation"] == race.confirmation_verdicts(data["confirmation"], data["generation"])
    assert set(data["verdicts"]["generation"]) == {f"{a} − {b}" for a, b in race.GEN_PAIRS}


def test_the_confirmation_uses_fresh_seeds_and_fixed_margins():
    assert not set(race.CONFIRM_SEEDS) & set(race.SEEDS)
    assert not set(race.start_seeds(race.CONFIRM_SEEDS[0])) & {s for k in race.SEEDS for s in race.start_seeds(k)}
    conf = race.load_race()["confirmation"]
    assert conf["margins"] == race.CONFIRM_MARGINS and conf["seeds"] == list(race.CONFIRM_SEEDS)
    assert [c["label"] for c in conf["configs"]] == [c[0] for c in race.CONFIRM_CONFIGS]
    assert all([r["seed"] for r in c["runs"]] == list(race.CONFIRM_SEEDS) for c in conf["configs"])


def test_the_cached_race_has_every_config_and_the_floor():
    data = race.load_race()
    gen = data["generation"]
    labels = [c["label"] for c in gen["configs"]]
    assert labels == [c[0] for c in race.GEN_CONFIGS]
    assert len(gen["floor"]) == len(race.SEEDS)
    for c in gen["configs"]:
        seeds = [r["seed"] for r in c["runs"]]
        assert seeds == list(race.DDPM_SEEDS if c["sampler"] == "ddpm" else race.SEEDS)
        for r in c["runs"]:
            assert r["patch_swd"] > 0 and r["frechet"] > 0 and r["nfe"] >= 1
    # more evaluations of one sampler give more realistic digits, and DDIM-10 is far above the floor of real digits
    mean = {c["label"]: sum(r["patch_swd"] for r in c["runs"]) / len(c["runs"]) for c in gen["configs"]}
    floor = sum(f["patch_swd"] for f in gen["floor"]) / len(gen["floor"])
    assert mean["DDIM-10"] > mean["DDIM-20"] > mean["DDIM-50"] and mean["DDIM-10"] > 1.2 * floor
    assert data["margins"] == race.MARGINS
    assert {p["a"] for p in data["sr"]["pairs"]} >= {"consistency student 1 step", "consistency student 4 steps"}


def test_race_view_runs_each_sampler_within_the_budget(device):
    from course_lib.engine.pretrained import load
    from course_lib.datasets import DigitsSR
    from course_lib.engine.harness import image_seeds
    from course_lib.teaching.widgets import race_view, render_race_view

    teacher = load("digits_sr3_concat", device)
    hr, y = (t.to(device) for t in DigitsSR("test", scale=4).tensors([0, 100]))
    view = race_view(
        {"teacher": (teacher.model, teacher.process)}, y, hr, image_seeds([0, 100]), ["DDIM", "Heun", "PLMS"], 5
    )
    by = {r["label"]: r for r in view["rows"]}
    assert by["DDIM"]["nfe"] == 5 and by["Heun"]["nfe"] == 5 and by["PLMS"]["nfe"] == 5
    assert all(r["images"].shape == (2, 1, 32, 32) and r["consistency"].min() > 20 for r in view["rows"])
    assert by["DDIM"]["consistency"].min() > 40  # (Heun's 2 + 1 steps on Karras's grid explain y less well: ~26-31 dB)
    assert render_race_view(view)[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="samplers must be among"):
        race_view({"teacher": (teacher.model, teacher.process)}, y, hr, [1, 2], ["RK45"], 5)
