"""course_lib/stats.py, the one comparison protocol: the t quantile against scipy; simulations on cheap synthetic data
with a known answer — each interval covers the truth at its nominal 95 % (within ±2 points, 2,000 replications, at the
course's sample sizes: 5 seeds, 100 and 500 images), the jackknife interval of a set-level measure covers the
population value of a sliced Wasserstein distance between Gaussians at least 90 % of the time with its bias measured,
and each verdict comes out right; the verdict words' precedence; and no interval or resampling code outside stats."""

import math
import re
from pathlib import Path

import pytest
import torch

import course_lib
from course_lib import stats
from course_lib.stats import Interval, judge

REPS = 2000
PKG = Path(course_lib.__file__).resolve().parent


def test_t_quantile_matches_known_values_and_scipy():
    assert stats.t_quantile(0.975, 1) == pytest.approx(12.7062047, abs=1e-6)
    assert stats.t_quantile(0.975, 4) == pytest.approx(2.7764451, abs=1e-6)
    assert stats.t_quantile(0.025, 4) == pytest.approx(-2.7764451, abs=1e-6)
    assert stats.t_quantile(0.975, 1e6) == pytest.approx(1.959964, abs=1e-5)
    scipy_stats = pytest.importorskip("scipy.stats")
    for df in (1, 2, 4, 19, 99, 499):
        for p in (0.6, 0.9, 0.975, 0.995, 0.9995):
            assert stats.t_quantile(p, df) == pytest.approx(scipy_stats.t.ppf(p, df), rel=1e-9), (p, df)
    for bad in (0, 1, 1.5, float("nan"), True):
        with pytest.raises(ValueError, match="level: expected a probability in"):
            stats.t_quantile(bad, 3)
    with pytest.raises(ValueError, match="df: expected degrees of freedom > 0"):
        stats.t_quantile(0.9, 0)


def _coverage(draw, interval, truth: float, reps: int = REPS, seed: int = 0) -> float:
    g = torch.Generator().manual_seed(seed)
    hits = 0
    for _ in range(reps):
        iv = interval(*draw(g))
        hits += iv.low <= truth <= iv.high
    return hits / reps


@pytest.mark.parametrize("n,shape", [(5, "normal"), (100, "skewed"), (500, "skewed")])
def test_the_t_interval_covers_at_its_nominal_rate(n, shape):
    """Seeds (n = 5, normal run-to-run noise) and per-image differences (n = 100, 500; skewed like PSNR gains: an
    exponential, whose mean is 1)."""

    def draw(g):
        a = torch.randn(n, generator=g, dtype=torch.float64)
        d = -torch.rand(n, generator=g, dtype=torch.float64).log() if shape == "skewed" else 1 + a
        return d + 3, torch.full((n,), 3.0, dtype=torch.float64)  # a − b = d: mean 1

    cov = _coverage(draw, stats.paired_difference, truth=1.0)
    assert abs(cov - 0.95) <= 0.02, cov


def test_two_standard_errors_at_five_seeds_would_not_cover():
    """What the course did before (± 2 SE at n = 5): about 88 %, outside the ±2 points the t interval keeps."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(REPS, 5, generator=g, dtype=torch.float64)
    half = 2 * x.std(1) / math.sqrt(5)
    cov = float(((x.mean(1) - half <= 0) & (0 <= x.mean(1) + half)).double().mean())
    assert cov < 0.92, cov


@pytest.mark.parametrize("n", [100, 500])
def test_the_paired_bootstrap_covers_at_its_nominal_rate(n):
    def draw(g):
        d = -torch.rand(n, generator=g, dtype=torch.float64).log()
        return d, torch.zeros(n, dtype=torch.float64)

    cov = _coverage(draw, lambda a, b: stats.paired_difference(a, b, method="bootstrap", draws=400), truth=1.0)
    assert abs(cov - 0.95) <= 0.02, cov


# ------------------------------------------------------------------ the set-level measure
#: evenly spaced directions: their average of |θ·μ| is the population sliced distance exactly (a quadrature)
_ANGLES = torch.arange(8) * math.pi / 8
DIRS = torch.stack([_ANGLES.cos(), _ANGLES.sin()]).double()


def _sliced_w1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Sliced Wasserstein-1 between two point clouds of equal size (batched over leading dimensions)."""
    pa, _ = torch.sort(a @ DIRS, -2)
    pb, _ = torch.sort(b @ DIRS, -2)
    return (pa - pb).abs().mean((-1, -2))


@pytest.mark.parametrize("n", [100, 500])
def test_the_jackknife_covers_a_set_measures_population_value(n):
    """N(0, I) against N(μ, I) in 2-D, |μ| = 1, both sets random: the 1-D distance along θ is |θ·μ|, so the population
    value is the directions' mean of |θ·μ| (0.628). The plain estimate is biased upward (the empirical distance adds
    sampling noise); the delete-half jackknife measures that bias and removes about half of it. Measured when written
    (2,000 pairs of sets, 40 halves each): n = 100: coverage 0.934, bias plain +0.029, measured +0.016, left +0.013
    (0.15 of the standard error 0.086, which matches the plain estimate's spread 0.089); n = 500: 0.941, +0.0097,
    +0.0048, +0.0049 (0.12 of 0.040). Part of a distance's bias falls like 1/√n, not 1/n, so a half shows (√2 − 1)
    of it rather than all of it: the correction is partial, and what is left is bounded here. Near zero distance that
    part dominates — the course's set-level comparisons are between distributions clearly apart (every method against
    real digits)."""
    mu = torch.tensor([1.0, 0.0], dtype=torch.float64)
    truth = float((DIRS.T @ mu).abs().mean())
    g = torch.Generator().manual_seed(n)
    x = torch.randn(REPS, n, 2, generator=g, dtype=torch.float64)
    y = torch.randn(REPS, n, 2, generator=g, dtype=torch.float64) + mu
    full = _sliced_w1(x, y)
    keep, keep_ref = stats.halves(n, 40, seed=0), stats.halves(n, 40, seed=1)
    reps = torch.stack([_sliced_w1(x[:, k], y[:, r]) for k, r in zip(keep, keep_ref)], -1)
    j = stats.jackknife(full, reps)
    coverage = float(((j["low"] <= truth) & (truth <= j["high"])).double().mean())
    plain_bias, corrected_bias = float((full - truth).mean()), float((j["estimate"] - truth).mean())
    print(
        f"n = {n}: coverage {coverage:.3f}; bias plain {plain_bias:+.4f}, measured {float(j['bias'].mean()):+.4f}, "
        f"left {corrected_bias:+.4f}; se {float(j['se'].mean()):.4f} (sd of the plain estimate {float(full.std()):.4f})"
    )
    assert coverage >= 0.90, coverage
    # the bias is measured (the jackknife's estimate has its sign and at least (√2 − 1) of its size) and what is left
    # after the correction is bounded: under a fifth of the standard error, too small to move the coverage
    assert plain_bias > 0 and 0.4 * plain_bias <= float(j["bias"].mean()) <= 1.5 * plain_bias
    assert abs(corrected_bias) < 0.2 * float(j["se"].mean()), (corrected_bias, j["se"].mean())
    # and the standard error is the plain estimate's spread (within a fifth)
    assert float(j["se"].mean()) == pytest.approx(float(full.std()), rel=0.2)
    # set_interval, one set at a time, is the same formula on the same halves
    one = stats.set_interval(lambda a, b: _sliced_w1(a, b), x[0], y[0], draws=40)
    assert one.estimate == pytest.approx(float(j["estimate"][0]), rel=1e-6)
    assert one.low == pytest.approx(float(j["low"][0]), rel=1e-6)
    assert (
        one.method == "delete-half jackknife" and one.n == 40 and one.plain == pytest.approx(float(full[0]), rel=1e-6)
    )


def test_set_difference_is_paired_and_checks_its_sets():
    g = torch.Generator().manual_seed(0)
    a, ref = torch.randn(60, 2, generator=g).double(), torch.randn(60, 2, generator=g).double() + 1
    same = stats.set_difference(_sliced_w1, a, a.clone(), ref, draws=10)
    assert same.estimate == same.low == same.high == 0
    shifted = stats.set_difference(_sliced_w1, a + 1, a, ref, draws=10)  # a + 1 sits on the reference: closer
    assert shifted.high < 0
    with pytest.raises(ValueError, match=r"the judged sets: expected the same images in each \(60\), got 59"):
        stats.set_difference(_sliced_w1, a, a[:59], ref)
    with pytest.raises(ValueError, match=r"draws: expected an int >= 10"):
        stats.set_interval(_sliced_w1, a, ref, draws=3)
    with pytest.raises(ValueError, match="non-finite"):
        stats.set_interval(lambda x, r: float("nan"), a, ref, draws=10)


# ------------------------------------------------------------------ verdicts
def _iv(low, high):
    return Interval((low + high) / 2, low, high, 0.95, "t", 10)


@pytest.mark.parametrize(
    "low,high,higher,margin,word",
    [
        (0.1, 0.5, True, 0.2, "better"),
        (-0.5, -0.1, False, None, "better"),  # lower is better: a negative difference
        (-0.15, -0.05, True, 0.2, "worse, but within the margin"),
        (-0.5, -0.1, True, 0.2, "worse"),
        (-0.5, -0.1, True, None, "worse"),
        (-0.1, 0.3, True, 0.2, "as good, within the margin"),
        (-0.3, 0.3, True, 0.2, "undecided"),
        (-0.1, 0.3, True, None, "undecided"),  # exploratory: no margin, no "as good"
        (0.05, 0.15, False, 0.2, "worse, but within the margin"),
    ],
)
def test_verdict_words_follow_the_written_precedence(low, high, higher, margin, word):
    v = judge(_iv(low, high), higher_is_better=higher, margin=margin)
    assert v.word == word and v.word in stats.VERDICT_WORDS
    assert v.exploratory == (margin is None) and (v.within_margin is None) == (margin is None)
    assert v.to_dict()["verdict"] == word and word in str(v)


def test_judge_rejects_what_is_not_a_verdict():
    with pytest.raises(ValueError, match="margin: expected a number >= 0"):
        judge(_iv(0, 1), True, margin=-1)
    with pytest.raises(TypeError, match="higher_is_better: expected True or False"):
        judge(_iv(0, 1), "yes")
    with pytest.raises(TypeError, match="interval: expected a stats.Interval"):
        judge((0, 1), True)


@pytest.mark.parametrize(
    "delta,margin,expected,rate",
    [
        (0.0, None, "undecided", 0.95),  # no difference: a false "better"/"worse" ≤ 5 %
        (0.4, None, "better", 0.95),  # a clear gain (0.4 sd, n = 100) is found almost always
        (0.0, 0.4, "as good, within the margin", 0.95),  # equal, margin 0.4 sd (4 standard errors): shown as good
        (-0.4, 0.4, "as good, within the margin", 0.025),  # exactly at the margin: claimed as good at most 2.5 %
    ],
)
def test_verdicts_come_out_right(delta, margin, expected, rate):
    g = torch.Generator().manual_seed(7)
    d = torch.randn(REPS, 100, generator=g, dtype=torch.float64) + delta
    words = [judge(stats.mean_interval(row), True, margin).word for row in d]
    share = words.count(expected) / REPS
    if rate < 0.5:
        assert share <= rate + 0.02, share
    else:
        assert share >= rate - 0.02, share


def test_seed_difference_pairs_by_seed_and_uses_n_minus_1():
    a = [{"seed": s, "v": v} for s, v in [(0, 1.0), (1, 2.0), (2, 4.0), (9, 100.0)]]
    b = [{"seed": s, "v": v} for s, v in [(2, 1.0), (0, 0.0), (1, 1.0)]]
    iv = stats.seed_difference(a, b, "v")
    assert iv.n == 3 and iv.estimate == pytest.approx(5 / 3)
    se = torch.tensor([1.0, 1.0, 3.0]).std().item() / math.sqrt(3)
    assert iv.high - iv.estimate == pytest.approx(stats.t_quantile(0.975, 2) * se)
    with pytest.raises(ValueError, match="at least 2 common seeds"):
        stats.seed_difference(a[:1], b, "v")


def test_bad_values_are_named():
    with pytest.raises(ValueError, match=r"a: expected finite numbers, got 1 NaN"):
        stats.paired_difference([1.0, float("nan")], [0.0, 0.0])
    with pytest.raises(ValueError, match="a and b: expected one value per image for the same images, got 3 and 2"):
        stats.paired_difference([1.0, 2.0, 3.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="method: expected 't' or 'bootstrap'"):
        stats.paired_difference([1.0, 2.0], [0.0, 0.0], method="z")
    assert stats.family_level(0.95, 5) == pytest.approx(0.99)
    with pytest.raises(ValueError, match="k: expected an int >= 1"):
        stats.family_level(0.95, 0)


# ------------------------------------------------------------------ one home
#: what writes an interval or a resample: bootstrap index draws, quantiles of resampled statistics, "± 2 SE" or
#: "± 1.96 SE" rules (the experiments call stats), each with lines it must catch (the ones the course used to have)
RESAMPLING = [
    (
        r"torch\.randint\(0, ([\w.\[\]()]+), \((?:\w+, )?\1,?\)",
        "a bootstrap resample",
        (
            "i = torch.randint(0, n, (n,), generator=g)",
            "idx = torch.randint(0, d.numel(), (draws, d.numel()), generator=g)",
        ),
    ),
    (r"\.quantile\(", "a percentile interval", ("lo, hi = torch.quantile(means, q).tolist()", "v.quantile(0.975)")),
    (
        r"[+-] (2|1\.96) \* (\w+\[['\"])?(\w*_)?(se|sd)\b",
        "a ± k SE rule",
        ("d + 2 * se <= margin", "d['mean'] - 1.96 * d['se']", 'd["mean"] + 1.96 * d["bootstrap_sd"]'),
    ),
]


@pytest.mark.parametrize("pattern,what,examples", RESAMPLING, ids=[w for _, w, _ in RESAMPLING])
def test_no_interval_or_resampling_code_outside_stats(pattern, what, examples):
    files = [*PKG.rglob("*.py"), *(PKG.parent / "notebooks").rglob("*.py")]
    where = sorted(
        str(p.relative_to(PKG.parent))
        for p in files
        if p.name != "stats.py" and re.search(pattern, p.read_text(encoding="utf-8"))
    )
    assert not where, f"{what} outside course_lib/stats.py (the lessons included): {where}"
    assert all(re.search(pattern, line) for line in examples), f"the pattern for {what} misses a line it must catch"
