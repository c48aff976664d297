"""Statistics · 统计比较 (math layer): the one protocol behind every "better", "worse" and "as good" the course says.

Every comparison in a lesson, an experiment or the harness goes through this module; no other module resamples or
computes an interval (``tests/test_stats.py`` looks). Three kinds of evidence, three interval methods:

* **Per-image paired differences** (PSNR, consistency, agreement of the same test images through two methods):
  :func:`paired_difference` — the mean of d_i = a_i − b_i with a t interval, mean ± t_{n−1, 1−α/2} · sd(d) / √n
  (Eq. S.1), or a percentile bootstrap of the mean (``method="bootstrap"``).
* **A few seeds or training runs** (n = 2 … 10): :func:`seed_difference` — the paired t interval with n − 1 degrees of
  freedom (Eq. S.1 again). At n = 5 the 97.5 % quantile is 2.78 and at n = 2 it is 12.71: "± 2 SE" would claim far
  more than the data hold.
* **Set-level measures** (patch SWD, Fréchet distance: one number for a whole set of images, so there is no
  per-image value to average): :func:`set_interval` and :func:`set_difference` — the delete-half jackknife (the
  delete-d jackknife of Shao & Wu, Ann. Statist. 1989, with d = n/2): the measure is recomputed on B random halves of
  the images (without repetition; the same half of both judged sets, and a half of the reference), then

      θ̃ = θ̂ − (θ̄_half − θ̂)          (Eq. S.2, bias-corrected; bias = θ̄_half − θ̂, since a half's is twice the whole's)
      se = sd(θ_half)                  (a half varies as much as the whole: for a mean, σ²/(n/2)·(1 − 1/2) = σ²/n)
      θ̃ ± t_{B−1, 1−α/2} · se          (Eq. S.3)

  Why halves: these measures sort samples (a Wasserstein distance is built on quantiles), and a jackknife that leaves
  out a few images at a time is not consistent for such non-smooth statistics (Shao & Wu); it also multiplies a
  randomised measure's own noise (patch SWD draws its patches) by G − 1 in its bias and variance. Why not the
  bootstrap the course used before: a resample repeats images, and a distance between sets grows when a set repeats
  itself, so its resamples sat above the estimate (ResDiff's patch SWD 0.0064 had the "interval" [0.0065, 0.0090]).
  The bias is reported with every interval (``bias``), so it is measured, not assumed, and the simulation test checks
  the coverage of a known population value.

**Verdicts** (:func:`judge`): two questions, two answers, never one word for both —

1. *Is there a difference?* The interval excludes 0: **better** or **worse** (by ``higher_is_better``); otherwise
   none is shown.
2. *Is the new thing as good, within a margin m?* (non-inferiority) Its worse end is within m of 0.

One word per pair, with this precedence (written here once): ``better`` > ``worse, but within the margin`` > ``worse``
> ``as good, within the margin`` > ``undecided``. A margin is fixed in code before measuring; a comparison without one
is **exploratory** (``margin=None``) and can only say better, worse or undecided. A family of k comparisons judged
together uses :func:`family_level` (Bonferroni: each interval at level 1 − α/k) — not Holm, whose step-down works on
p-values and gives no simultaneous intervals to print.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import torch
from .checks import check_int

__all__ = [
    "LEVEL",
    "Interval",
    "Verdict",
    "t_quantile",
    "mean_interval",
    "paired_difference",
    "seed_difference",
    "set_interval",
    "set_difference",
    "jackknife",
    "halves",
    "judge",
    "compare_values",
    "compare_sets",
    "family_level",
    "VERDICT_WORDS",
]

#: the course's confidence level
LEVEL = 0.95
#: the verdict words, in precedence order (first that applies wins)
VERDICT_WORDS = ("better", "worse, but within the margin", "worse", "as good, within the margin", "undecided")


def _check_level(level) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ValueError(f"level: expected a probability in (0, 1) such as 0.95, got {level!r}")
    return float(level)


def _values(x, name: str) -> torch.Tensor:
    t = torch.as_tensor(x, dtype=torch.float64).detach().cpu()
    if t.dim() != 1 or t.numel() < 2:
        raise ValueError(f"{name}: expected a 1-D sequence of at least 2 numbers, got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name}: expected finite numbers, got {int((~torch.isfinite(t)).sum())} NaN or infinite")
    return t


# ------------------------------------------------------------------ the t distribution, without scipy
def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the regularised incomplete beta function (modified Lentz; Numerical Recipes 6.4)."""
    tiny, c, d = 1e-300, 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        for num in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b), the regularised incomplete beta function."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1 - x) / b


def _t_cdf(t: float, df: float) -> float:
    tail = 0.5 * _incomplete_beta(df / 2, 0.5, df / (df + t * t))
    return 1 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The p-quantile of Student's t with ``df`` degrees of freedom (``t_quantile(0.975, 4)`` = 2.776): bisection on the
    CDF, written from the incomplete beta function so that the course needs no scipy (checked against it)."""
    p = _check_level(p)
    if isinstance(df, bool) or not isinstance(df, (int, float)) or not df > 0:
        raise ValueError(f"df: expected degrees of freedom > 0, got {df!r}")
    return -_upper_t_quantile(1 - p, float(df)) if p < 0.5 else _upper_t_quantile(p, float(df))


@functools.lru_cache(maxsize=256)
def _upper_t_quantile(p: float, df: float) -> float:
    """:func:`t_quantile` for p ≥ 0.5, remembered (a verdict needs the same few quantiles many times)."""
    lo, hi = 0.0, 1.0
    while _t_cdf(hi, df) < p:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _t_cdf(mid, df) < p else (lo, mid)
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return (lo + hi) / 2


# ------------------------------------------------------------------ intervals
@dataclass(frozen=True)
class Interval:
    """An estimate with its interval at ``level``: ``low ≤ estimate ≤ high`` for the t and jackknife methods.

    ``method``: ``"t"``, ``"bootstrap"`` or ``"delete-half jackknife"``; ``n``: values, seeds or halves behind it;
    ``se``: the standard error the t and jackknife intervals use; ``bias``: the jackknife's measured bias of the plain
    estimate
    ``plain`` (set-level measures only; ``estimate`` = ``plain`` − ``bias``)."""

    estimate: float
    low: float
    high: float
    level: float
    method: str
    n: int
    se: float | None = None
    bias: float | None = None
    plain: float | None = None

    def excludes_zero(self) -> bool:
        """The interval lies wholly above or wholly below 0."""
        return self.low > 0 or self.high < 0

    def to_dict(self, digits: int = 6) -> dict:
        """A JSON-ready dict, floats rounded to ``digits`` significant places after the point."""
        return {k: (round(v, digits) if isinstance(v, float) else v) for k, v in asdict(self).items() if v is not None}

    def shifted(self, by: float) -> "Interval":
        """The interval of (A − B) + ``by``: to ask "is A better than B by more than m?", judge ``shifted(-m)``
        (higher is better) — the superiority question with a margin, e.g. "DDNM beats A†y by ≥ 3 dB"."""
        by = float(by)
        plain = None if self.plain is None else self.plain + by
        return Interval(self.estimate + by, self.low + by, self.high + by, self.level, self.method, self.n,
                        self.se, self.bias, plain)  # fmt: skip

    def __str__(self) -> str:
        return f"{self.estimate:+.4g} [{self.low:+.4g}, {self.high:+.4g}]"


def mean_interval(values, level: float = LEVEL) -> Interval:
    """The mean of ``values`` (``(n,)``, n ≥ 2) with its t interval at n − 1 degrees of freedom (Eq. S.1)."""
    level = _check_level(level)
    v = _values(values, "values")
    n = v.numel()
    mean, se = float(v.mean()), float(v.std() / math.sqrt(n))
    half = t_quantile((1 + level) / 2, n - 1) * se
    return Interval(mean, mean - half, mean + half, level, "t", n, se=se)


def paired_difference(a, b, level: float = LEVEL, method: str = "t", draws: int = 2000, seed: int = 0) -> Interval:
    """Mean of a_i − b_i over the same images (``(N,)`` each: paired) with its interval: ``"t"`` (Eq. S.1, the
    default) or ``"bootstrap"`` (``draws`` resamples of the differences, seeded; the percentile interval)."""
    level = _check_level(level)
    a, b = _values(a, "a"), _values(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b: expected one value per image for the same images, got {a.numel()} and {b.numel()}")
    d = a - b
    if method == "t":
        return mean_interval(d, level)
    if method != "bootstrap":
        raise ValueError(f"method: expected 't' or 'bootstrap', got {method!r}")
    check_int(draws, "draws", low=100)
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, d.numel(), (draws, d.numel()), generator=g)
    means = d[idx].mean(1)
    q = torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=torch.float64)
    lo, hi = torch.quantile(means, q).tolist()
    return Interval(float(d.mean()), lo, hi, level, "bootstrap", d.numel(), se=float(means.std()))


def seed_difference(runs_a: Sequence[dict], runs_b: Sequence[dict], key: str, level: float = LEVEL) -> Interval:
    """A − B on measure ``key`` over the seeds both ran (``runs_*``: dicts with ``seed`` and ``key``), paired by seed,
    with the t interval at (common seeds − 1) degrees of freedom. Needs at least 2 common seeds."""
    sb = {r["seed"]: r[key] for r in runs_b}
    common = [r for r in runs_a if r["seed"] in sb]
    if len(common) < 2:
        raise ValueError(
            f"runs_a and runs_b: expected at least 2 common seeds for an interval, got seeds "
            f"{[r['seed'] for r in runs_a]} and {[r['seed'] for r in runs_b]}"
        )
    return mean_interval([r[key] - sb[r["seed"]] for r in common], level)


def halves(n: int, draws: int, seed: int = 0) -> torch.Tensor:
    """``(draws, ⌊n/2⌋)`` indices: the half of a set of n images that each replicate of the delete-half jackknife keeps
    (random halves without repetition, from one generator seeded ``seed``)."""
    check_int(n, "n", low=4, note="images in the set")
    check_int(draws, "draws", low=10)
    g = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randperm(n, generator=g)[: n // 2] for _ in range(draws)]).sort(1).values


def jackknife(full: torch.Tensor, replicates: torch.Tensor, level: float = LEVEL) -> dict[str, torch.Tensor]:
    """Eq. S.2–S.3 from the measure on the whole set (``full``, shape ``(...)``) and on B random halves of it
    (``replicates``, ``(..., B)``): ``estimate`` (bias-corrected), ``bias``, ``se``, ``low``, ``high``, each ``(...)``
    float64. Batched, so that the simulation test runs thousands of sets at once through this same formula."""
    level = _check_level(level)
    full, reps = torch.as_tensor(full, dtype=torch.float64), torch.as_tensor(replicates, dtype=torch.float64)
    if reps.dim() < 1 or reps.shape[:-1] != full.shape or reps.shape[-1] < 2:
        raise ValueError(f"replicates: expected shape {tuple(full.shape) + ('B >= 2',)}, got {tuple(reps.shape)}")
    if not (torch.isfinite(full).all() and torch.isfinite(reps).all()):
        raise ValueError("the set-level measure returned a non-finite value")
    B = reps.shape[-1]
    bias = reps.mean(-1) - full  # a half's bias is twice the whole's (bias ∝ 1/n): their gap is the whole's bias
    estimate = full - bias  # Eq. S.2
    se = reps.std(-1)  # a half drawn without repetition varies as much as the whole (the mean's: σ²/(n/2)·(1 − 1/2))
    half = t_quantile((1 + level) / 2, B - 1) * se  # Eq. S.3
    return {"estimate": estimate, "bias": bias, "se": se, "low": estimate - half, "high": estimate + half}


def _jackknife(
    statistic: Callable[[torch.Tensor | None, torch.Tensor | None], float],
    n: int,
    m: int,
    draws: int,
    level: float,
    seed: int,
) -> Interval:
    full = float(statistic(None, None))
    keep, keep_ref = halves(n, draws, seed), halves(m, draws, seed + 1)
    reps = torch.tensor([float(statistic(k, r)) for k, r in zip(keep, keep_ref)], dtype=torch.float64)
    j = {k: float(v) for k, v in jackknife(torch.tensor(full), reps, level).items()}
    return Interval(
        j["estimate"],
        j["low"],
        j["high"],
        float(level),
        "delete-half jackknife",
        draws,
        se=j["se"],
        bias=j["bias"],
        plain=full,
    )


def _check_sets(reference: torch.Tensor | None, *sets: torch.Tensor) -> int:
    n = sets[0].shape[0]
    for i, s in enumerate(sets):
        if not isinstance(s, torch.Tensor) or s.dim() < 2:
            raise ValueError(
                f"set {i}: expected a tensor (N, …) of N images or feature vectors, got "
                f"{getattr(s, 'shape', type(s).__name__)}"
            )
        if s.shape[0] != n:
            raise ValueError(f"the judged sets: expected the same images in each ({n}), got {s.shape[0]}")
    if reference is not None and reference.shape[0] < 4:
        raise ValueError(f"reference: expected at least 4 images, got {reference.shape[0]}")
    return n


def set_interval(
    measure: Callable[[torch.Tensor, torch.Tensor], torch.Tensor | float],
    x: torch.Tensor,
    reference: torch.Tensor,
    draws: int = 40,
    level: float = LEVEL,
    resample_reference: bool = True,
    seed: int = 0,
) -> Interval:
    """A set-level measure ``measure(x, reference)`` (patch SWD, Fréchet distance: lower = closer) with its
    delete-half jackknife interval (Eq. S.2–S.3): ``draws`` random halves of ``x`` (:func:`halves`) and, with
    ``resample_reference``, of the reference (a sample of the real data too)."""
    n = _check_sets(reference, x)

    def stat(keep, keep_ref):
        if keep is None:
            return measure(x, reference)
        return measure(x[keep], reference[keep_ref] if resample_reference else reference)

    return _jackknife(stat, n, reference.shape[0], draws, level, seed)


def set_difference(
    measure: Callable[[torch.Tensor, torch.Tensor], torch.Tensor | float],
    a: torch.Tensor,
    b: torch.Tensor,
    reference: torch.Tensor,
    draws: int = 40,
    level: float = LEVEL,
    resample_reference: bool = True,
    seed: int = 0,
    times: float = 1.0,
) -> Interval:
    """measure(a, ref) − times · measure(b, ref) for two sets of outputs of the **same** images (``(N, …)`` each),
    with the delete-half jackknife interval (Eq. S.2–S.3) that keeps the same half of the images in both (paired) and
    one half of the reference for both. ``times`` ≠ 1 asks a ratio question ("is A's distance below 1.5 × B's?")."""
    n = _check_sets(reference, a, b)
    if isinstance(times, bool) or not isinstance(times, (int, float)) or not times > 0:
        raise ValueError(f"times: expected a number > 0, got {times!r}")

    def stat(keep, keep_ref):
        if keep is None:
            return float(measure(a, reference)) - times * float(measure(b, reference))
        ref = reference[keep_ref] if resample_reference else reference
        return float(measure(a[keep], ref)) - times * float(measure(b[keep], ref))

    return _jackknife(stat, n, reference.shape[0], draws, level, seed)


def family_level(level: float, k: int) -> float:
    """The level of each of k intervals judged as one family (Bonferroni): 1 − (1 − level)/k, so that all k hold
    together with probability ≥ ``level``."""
    level = _check_level(level)
    check_int(k, "k", low=1)
    return 1 - (1 - level) / k


# ------------------------------------------------------------------ verdicts
@dataclass(frozen=True)
class Verdict:
    """The answers to the two questions about A − B's ``interval``: ``difference`` (``"better"``, ``"worse"`` or
    ``"none shown"``) and ``within_margin`` (A's worse end within ``margin`` of B; ``None`` when exploratory), and the
    one word of :data:`VERDICT_WORDS` they make."""

    word: str
    difference: str
    within_margin: bool | None
    margin: float | None
    higher_is_better: bool
    interval: Interval

    @property
    def exploratory(self) -> bool:
        """No margin was fixed before measuring: the verdict says better, worse or undecided only."""
        return self.margin is None

    def to_dict(self) -> dict:
        """A JSON-ready dict: the word, both answers, the margin and the interval."""
        return {
            "verdict": self.word,
            "difference": self.difference,
            "within_margin": self.within_margin,
            "margin": self.margin,
            "higher_is_better": self.higher_is_better,
            "exploratory": self.exploratory,
            "interval": self.interval.to_dict(),
        }

    def __str__(self) -> str:
        m = "exploratory" if self.margin is None else f"margin {self.margin:g}"
        return f"{self.word}: {self.interval} ({100 * self.interval.level:.3g} %, {m})"


def judge(interval: Interval, higher_is_better: bool, margin: float | None = None) -> Verdict:
    """The verdict on A − B (``interval``) by the precedence of :data:`VERDICT_WORDS`: better (the interval lies on
    the good side of 0), worse but within the margin, worse, as good within the margin (the interval's worse end within
    ``margin`` ≥ 0 of 0), undecided. ``margin=None``: an exploratory comparison (better, worse or undecided)."""
    if not isinstance(interval, Interval):
        raise TypeError(f"interval: expected a stats.Interval, got {type(interval).__name__}")
    if not isinstance(higher_is_better, bool):
        raise TypeError(f"higher_is_better: expected True or False, got {higher_is_better!r}")
    if margin is not None and (isinstance(margin, bool) or not isinstance(margin, (int, float)) or not margin >= 0):
        raise ValueError(f"margin: expected a number >= 0 (fixed before measuring) or None, got {margin!r}")
    worse_end = interval.low if higher_is_better else interval.high
    better = interval.low > 0 if higher_is_better else interval.high < 0
    worse = interval.high < 0 if higher_is_better else interval.low > 0
    difference = "better" if better else "worse" if worse else "none shown"
    within = None if margin is None else bool((worse_end >= -margin) if higher_is_better else (worse_end <= margin))
    if better:
        word = "better"
    elif worse:
        word = "worse, but within the margin" if within else "worse"
    elif within:
        word = "as good, within the margin"
    else:
        word = "undecided"
    return Verdict(word, difference, within, None if margin is None else float(margin), higher_is_better, interval)


def compare_values(
    a, b, higher_is_better: bool, margin: float | None = None, level: float = LEVEL, by: float = 0.0
) -> dict:
    """The cached form of a per-image comparison: :func:`judge` on :func:`paired_difference` (t) of a − b, shifted by
    ``by`` (:meth:`Interval.shifted`), as a JSON-ready dict."""
    return judge(paired_difference(a, b, level).shifted(by), higher_is_better, margin).to_dict()


def compare_sets(
    measure: Callable[[torch.Tensor, torch.Tensor], torch.Tensor | float],
    a: torch.Tensor,
    b: torch.Tensor,
    reference: torch.Tensor,
    margin: float | None = None,
    draws: int = 40,
    level: float = LEVEL,
    times: float = 1.0,
) -> dict:
    """The cached form of a set-level comparison (lower is better): :func:`judge` on :func:`set_difference` of
    measure(a) − times · measure(b) over the same images, as a JSON-ready dict."""
    return judge(set_difference(measure, a, b, reference, draws, level, times=times), False, margin).to_dict()
