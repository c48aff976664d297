"""Exercises of lesson 13, each naming the classic mistake it catches: comparing Fréchet distances (FIDs) measured on
different data, degradations, feature networks or sample counts; reading a baseline's number in a paper's table as the
method's; an unpaired interval (or a normal quantile) for a paired comparison of a few images; and NFE confused with
sampler steps for a solver that evaluates the network twice per step."""

from __future__ import annotations

import math

import torch

from ...stats import paired_difference, t_quantile
from . import Exercise, Mismatch, N_, register, run_check

__all__ = ["check_comparable", "check_trace", "check_paired_interval", "check_nfe", "LDM_TABLE_5"]

#: the four things a Fréchet distance (FID) depends on besides the model
_KEYS = ("dataset", "degradation", "features", "n")

_BASE = {"metric": "FID", "dataset": "ImageNet-Val 256²", "degradation": "bicubic ×4", "features": "Inception-v3",
         "n": 50_000}  # fmt: skip


def _test_comparable(fn) -> None:
    same = dict(_BASE)
    if fn(dict(_BASE), dict(same)) is not True:
        raise Mismatch("two FIDs measured the same way (data, degradation, feature network, sample count) are "
                       "comparable: return True.")  # fmt: skip
    why = {
        "dataset": ("DIV2K-Val", N_("they differ in dataset: comparing FIDs across datasets: a FID is a distance to "
                    "*that* dataset's features — ImageNet's and DIV2K's are different rulers. Return False unless "
                    "dataset, degradation, features and n all agree.")),
        "degradation": ("Real-ESRGAN degradation ×4", N_("they differ in degradation: the same images degraded "
                        "another way are another task: a blind ×4 FID and a bicubic ×4 FID do not measure the same "
                        "thing. Return False unless dataset, degradation, features and n all agree.")),
        "features": ("Inception-v3 (other weights)", N_("they differ in features: another feature network (or another "
                     "port of its weights — the pyiqa and clean-fid threads ask about exactly this) gives another "
                     "number for the same images. Return False unless dataset, degradation, features and n all "
                     "agree.")),
        "n": (5_000, N_("they differ in n: the Fréchet distance is biased upwards by an amount proportional to 1/N, "
              "with a constant that differs from model to model: at 5,000 samples it is larger than at 50,000 for "
              "the same model, and rankings can change (lesson 13, section 1). Return False unless dataset, "
              "degradation, features and n all agree.")),
    }  # fmt: skip
    for key in _KEYS:
        other = {**_BASE, key: why[key][0]}
        if fn(dict(_BASE), other) is not False:
            raise Mismatch(why[key][1])
    if fn({**_BASE, "metric": "FID"}, {**_BASE, "metric": "LPIPS"}) is not False:
        raise Mismatch("an FID and an LPIPS are different measures: never comparable.")


#: LDM's Table 5 (Rombach et al., CVPR 2022, "×4 upscaling results on ImageNet-Val (256²)"), the columns this
#: exercise needs: the FID as printed (for LDM's rows with features of the validation split, †; ``fid_train``: of the
#: train split, ‡) and the parameters
LDM_TABLE_5 = (
    {"method": "Image Regression [72]", "fid": 15.2, "fid_train": None, "params": "625M"},
    {"method": "SR3 [72]", "fid": 5.2, "fid_train": None, "params": "625M"},
    {"method": "LDM-4 (ours, 100 steps)", "fid": 2.8, "fid_train": 4.8, "params": "169M"},
    {"method": "LDM-4 (ours, big, 100 steps)", "fid": 2.4, "fid_train": 4.3, "params": "552M"},
    {"method": "LDM-4 (ours, 50 steps, guiding)", "fid": 4.4, "fid_train": 6.4, "params": "184M"},
)


def _test_trace(fn) -> None:
    rows = [dict(r) for r in LDM_TABLE_5]
    out = fn(rows)
    if not (isinstance(out, tuple) and len(out) == 2):
        raise Mismatch("return a pair (the method whose row holds 15.2, LDM-4's own FID), got {out!r}", out=out)
    whose, fid = out
    if isinstance(whose, str) and whose.startswith("LDM"):
        raise Mismatch("15.2 is not LDM's number: in LDM's Table 5 it sits in the Image Regression row — a baseline, "
                       "marked [72] because LDM copied it from SR3's own table. The notes read a baseline's number as "
                       "the method's.")  # fmt: skip
    if whose != "Image Regression [72]":
        raise Mismatch(
            "find the row whose FID is 15.2 and return its method exactly as written; got {whose!r}", whose=whose
        )
    if fid == 15.2:
        raise Mismatch("LDM-4's own FID is in its own row (100 steps), not 15.2.")
    if fid in (2.4, 4.3, 4.4, 6.4):
        raise Mismatch("that is another LDM row (the big model, or 50 steps with guiding): the notes' row is LDM-4 "
                       "at 100 steps.")  # fmt: skip
    if fid not in (2.8, 4.8):
        raise Mismatch(
            "LDM-4 (100 steps) reports 2.8 (validation-split features) and 4.8 (train split); got {fid!r}", fid=fid
        )


def _test_paired_interval(fn) -> None:
    g = torch.Generator().manual_seed(131)
    base = 20 + 3 * torch.randn(8, generator=g, dtype=torch.float64)  # how hard each digit is: shared by both
    a = base + 0.4 + 0.3 * torch.randn(8, generator=g, dtype=torch.float64)
    b = base + 0.3 * torch.randn(8, generator=g, dtype=torch.float64)
    out = fn(a.clone(), b.clone())
    if not (isinstance(out, tuple) and len(out) == 3):
        raise Mismatch("return (estimate, low, high), got {out!r}", out=out)
    est, low, high = (float(v) for v in out)
    n = a.numel()
    paired = paired_difference(a, b)  # the right answer, from the course's one protocol (Eq. S.1)
    if abs(est - paired.estimate) > 1e-6:
        raise Mismatch(
            "the estimate is the mean difference mean(a − b) = {estimate_paired:.4f}, got {est:.4f}",
            estimate_paired=paired.estimate,
            est=est,
        )
    if abs(low - paired.low) < 1e-6 and abs(high - paired.high) < 1e-6:
        return
    half, t = (high - low) / 2, t_quantile(0.975, n - 1)
    unpaired_se = math.sqrt(float(a.var() / n + b.var() / n))
    normal_quantile = 1.96
    if any(abs(half - q * unpaired_se) < 0.05 * q * unpaired_se for q in (t, normal_quantile)):
        raise Mismatch(
            "an unpaired interval: a and b are the *same* digits through two methods, so how hard each digit is "
            "cancels in d_i = a_i − b_i. Treating them as independent samples adds that spread back — your "
            "half-width {half:.2f} dB against the paired {t_se:.2f} (Eq. S.1).",
            half=half,
            t_se=t * paired.se,
        )
    if abs(half - normal_quantile * paired.se) < 1e-6:
        raise Mismatch(
            "1.96 is the normal quantile: with n = {n} digits the mean over sd/√n follows Student's t with "
            "n − 1 = {n2} degrees of freedom, whose 97.5 % quantile is {t:.2f} (Eq. S.1).",
            n=n,
            n2=n - 1,
            t=t,
        )
    if abs(half - t * paired.se * math.sqrt(n)) < 1e-6:
        raise Mismatch("that is the spread of one difference: the mean's standard error is sd(d)/√n.")
    raise Mismatch("expected mean(d) ± t_{n−1, 0.975} · sd(d)/√n with d = a − b (Eq. S.1).")


#: solver → NFE for ``steps`` steps (the course's samplers; Heun as in EDM's Algorithm 1: its last step is Euler's)
_NFE = {
    "ddim": lambda s: s,
    "euler": lambda s: s,
    "dpmpp_2m": lambda s: s,
    "heun": lambda s: 2 * s - 1,
}


def _test_nfe(fn) -> None:
    for solver, nfe in _NFE.items():
        for steps in (1, 4, 10, 50):
            out = fn(solver, steps)
            if out == nfe(steps):
                continue
            if solver == "heun" and out == steps:
                raise Mismatch("steps are not NFE: Heun evaluates the network twice per step (a predictor and a "
                               "corrector), except its last step, which is Euler's — 10 steps cost 19 NFE, the "
                               "number lesson 06's race puts on its axis.")  # fmt: skip
            if solver == "heun" and out == 2 * steps:
                raise Mismatch("the last Heun step goes to t = 0 (σ = 0), where the corrector would divide by zero: "
                               "it is an Euler step, one evaluation (EDM's Algorithm 1) — NFE = 2·steps − 1."
                               )  # fmt: skip
            if solver == "dpmpp_2m" and out == 2 * steps:
                raise Mismatch("DPM-Solver++(2M) is second order with one evaluation per step: it reuses the previous "
                               "step's evaluation (a multistep method). NFE = steps.")  # fmt: skip
            raise Mismatch(
                "{solver} with {steps} steps costs {nfe_steps} network evaluations; got {out!r}",
                solver=solver,
                steps=steps,
                nfe_steps=nfe(steps),
                out=out,
            )


COMPARABLE = register(Exercise("13", 1, "comparable", _test_comparable))
TRACE = register(Exercise("13", 2, "trace", _test_trace))
PAIRED = register(Exercise("13", 3, "paired_interval", _test_paired_interval))
NFE = register(Exercise("13", 4, "nfe", _test_nfe))


def check_comparable(fn):
    """Check ``fn(a, b) -> bool``: two FID claims are comparable only if dataset, degradation, features and n agree."""
    return run_check(COMPARABLE, fn)


def check_trace(fn):
    """Check ``fn(rows) -> (method, fid)``: the row of LDM's Table 5 that holds 15.2, and LDM-4's own FID."""
    return run_check(TRACE, fn)


def check_paired_interval(fn):
    """Check ``fn(a, b) -> (estimate, low, high)``: the paired t interval of mean(a − b) at 95 % (Eq. S.1)."""
    return run_check(PAIRED, fn)


def check_nfe(fn):
    """Check ``fn(solver, steps) -> int``: network evaluations of ``solver`` ("ddim", "euler", "dpmpp_2m", "heun")."""
    return run_check(NFE, fn)
