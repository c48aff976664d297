"""Exercises of lesson 06, each naming the classic mistake it catches: the score's sign and scale (Eq. 06.3), the
continuous time ↔ 0-based index of the SDE (Eq. 06.2), PNDM's network evaluations with its warm-up counted
(Eq. 06.8), and the consistency parameterisation with its boundary condition (Eq. 06.10)."""

from __future__ import annotations

import numbers

import torch

from . import Exercise, Mismatch, close, register, run_check

__all__ = ["check_score", "check_time_to_index", "check_pndm_nfe", "check_consistency_output"]


def _none(out):
    if out is None:
        raise Mismatch("your function returned None: did you forget `return`?")


def _test_score(fn) -> None:
    g = torch.Generator().manual_seed(6)
    eps = torch.randn(4, 1, 5, 5, generator=g, dtype=torch.float64)
    ab = torch.tensor([0.9, 0.5, 0.1, 0.01], dtype=torch.float64).view(4, 1, 1, 1)
    out = fn(eps.clone(), ab.clone())
    _none(out)
    if not isinstance(out, torch.Tensor):
        raise Mismatch("return a torch.Tensor shaped like eps, got {out_type}.", out_type=type(out).__name__)
    std = (1 - ab).sqrt()
    ref = -eps / std
    if close(out, ref):
        return
    if close(out, -ref):
        raise Mismatch(
            "the sign is flipped: the score points towards more probable x, *against* the noise that was "
            "added, so s = −ε̂ / σ_t (Eq. 06.3). With +ε̂/σ_t every sampler would push noise in, not out."
        )
    if close(out, -eps / (1 - ab)):
        raise Mismatch(
            "you divided by the variance 1 − ᾱ: the score of N(√ᾱ x₀, (1 − ᾱ) I) is −(x − √ᾱ x₀)/(1 − ᾱ) = "
            "−ε/√(1 − ᾱ), because x − √ᾱ x₀ = √(1 − ᾱ) ε. Divide by the standard deviation."
        )
    if close(out, -eps / ab.sqrt()) or close(out, -eps * std):
        raise Mismatch("wrong scale: s = −ε̂ / σ_t with σ_t = √(1 − ᾱ_t) (not √ᾱ_t, and divide, not multiply).")
    raise Mismatch("your score differs from −ε̂ / √(1 − ᾱ_t) (Eq. 06.3).")


def _time_cases():
    """(t, alpha_bars, sde, expected) on the cosine and the linear schedule: grid times of indices 0 … 999 (the last
    included) and times between grid points (half-way in t), expected = the index nearest in log ᾱ."""
    from ...diffusion import GaussianDiffusion
    from ...schedules import make_beta_schedule
    from ...sde import VPSDE

    cases = []
    for name in ("cosine", "linear"):
        process = GaussianDiffusion(make_beta_schedule(name, 1000), dtype=torch.float64)
        sde = VPSDE.for_process(process)
        grid = sde.index_to_t(process, torch.arange(1000))
        idx = torch.tensor([0, 3, 49, 250, 700, 998, 999])
        between = torch.tensor([1, 10, 120, 400, 640, 900, 990, 997])
        t = torch.cat([grid[idx], grid[between] + 0.5 * (grid[between + 1] - grid[between])])
        cases.append((name, t, process.alpha_bars.clone(), sde, sde.t_to_index(process, t)))
    return cases


def _test_time_to_index(fn) -> None:
    cases = _time_cases()
    outs = []
    for name, t, ab, sde, expected in cases:
        out = fn(t.clone(), ab.clone(), sde)
        _none(out)
        out = torch.as_tensor(out)
        if out.shape != expected.shape:
            raise Mismatch(
                "return one index per time, shape {expected_shape}, got {out_shape}.",
                expected_shape=tuple(expected.shape),
                out_shape=tuple(out.shape),
            )
        if out.is_floating_point():
            if torch.equal(out.round().long(), expected):
                raise Mismatch(
                    "right values, but return integer indices (e.g. .long()): the network's timestep is an int."
                )
            raise Mismatch("return integer indices (long), the nearest ones.")
        outs.append(out.long())
    if all(torch.equal(o, c[-1]) for o, c in zip(outs, cases)):
        return

    def same(rule) -> bool:
        return all(torch.equal(o, rule(t, ab, sde)) for o, (_, t, ab, sde, _) in zip(outs, cases))

    if same(lambda t, ab, sde: torch.floor(t * 999).long()):
        raise Mismatch(
            "you used floor(t · (T − 1)), score_sde's convention: there index i sits at t = i/(N − 1). Here the "
            "cosine schedule puts it at t = (i + 1)/T (and the linear one only near it): truncating happens to land "
            "on the cosine grid points, but not between them, nor on the linear schedule. Conventions differ from "
            "code base to code base: map through ᾱ — the index whose log ᾱ_i is nearest to log ᾱ(t) (Eq. 06.2)."
        )
    if same(lambda t, ab, sde: torch.round(t * 999).long()):
        raise Mismatch(
            "you used round(t · (T − 1)): index i sits at t = (i + 1)/T on the cosine schedule, so this is one too "
            "high for half the indices (it is score_sde's convention, i/(N − 1), rounded). Map through ᾱ: the index "
            "whose log ᾱ_i is nearest to log ᾱ(t)."
        )
    if same(lambda t, ab, sde: torch.round(t * 1000).long() - 1) or same(
        lambda t, ab, sde: torch.floor(t * 1000).long()
    ):
        raise Mismatch(
            "a formula in t alone (from t = (i + 1)/T): right on the cosine schedule's grid points, but the nearest "
            "index between them is the nearest in ᾱ, not in t, and the linear schedule's grid is not at (i + 1)/T. "
            "Map through ᾱ: the index whose log ᾱ_i is nearest to log ᾱ(t)."
        )
    if same(lambda t, ab, sde: torch.round(t * 1000).long()):
        raise Mismatch(
            "t · T is off by one: index i sits at t = (i + 1)/T for this schedule (index 0 is already one "
            "step of noise). Safer still: the index whose log ᾱ_i is nearest to log ᾱ(t)."
        )
    if same(lambda t, ab, sde: (ab[None, :] - sde.alpha_bar(t)[:, None]).abs().argmin(1)):
        raise Mismatch(
            "nearest in ᾱ itself, not in log ᾱ: between two indices the two differ, and ᾱ spans nine orders of "
            "magnitude (near t = 1 every ᾱ_i is almost 0, so differences in ᾱ say nothing). Compare "
            "sde.log_alpha_bar(t) with alpha_bars.log()."
        )
    raise Mismatch(
        "not the index whose log ᾱ_i is nearest to log ᾱ(t): compute sde.log_alpha_bar(t) and find the closest "
        "alpha_bars.log() entry for each t (the checks use both schedules, grid times and times between them)."
    )


def _test_pndm_nfe(fn) -> None:
    from ...diffusion import GaussianDiffusion
    from ...samplers import make_sampler, sample
    from ...schedules import make_beta_schedule

    process = GaussianDiffusion(make_beta_schedule("cosine", 100))
    for warmup in ("prk", "plms"):
        for steps in (5, 10, 25, 1, 2, 3):  # the long runs first, then the short ones that need the reasoning
            calls = []

            def model(x, t, c=None):
                calls.append(1)
                return 0.5 * x

            sample(model, make_sampler("pndm", process, steps, warmup=warmup), torch.zeros(1, 2))
            out = fn(steps, warmup)
            _none(out)
            if not isinstance(out, numbers.Integral):
                raise Mismatch("return an int (network evaluations), got {out_type}.", out_type=type(out).__name__)
            if out == len(calls):
                continue
            if out == steps:
                raise Mismatch(
                    "{warmup!r} with {steps} steps makes {calls} network calls, not "
                    "{steps}: the warm-up evaluates the network within its steps, and an "
                    "honest NFE counts every call.",
                    warmup=warmup,
                    steps=steps,
                    calls=len(calls),
                )
            if steps <= 3 and out == steps + (9 if warmup == "prk" else 1):
                raise Mismatch(
                    "right for long runs, but with steps = {steps} {warmup!r} makes "
                    "{calls} calls: a run that short has fewer steps for the warm-up to "
                    "spend its extra evaluations on — count them (the last step, to x₀, "
                    "never evaluates the network twice).",
                    steps=steps,
                    warmup=warmup,
                    calls=len(calls),
                )
            if warmup == "prk" and out == steps + 12:
                raise Mismatch(
                    "12 evaluations for the 3 pseudo Runge–Kutta steps — but those 3 steps would have cost 3 "
                    "anyway: the warm-up *adds* 9 (12 − 3)."
                )
            raise Mismatch(
                "{warmup!r} with {steps} steps: the sampler calls the network {calls} times, you said {out}.",
                warmup=warmup,
                steps=steps,
                calls=len(calls),
                out=out,
            )


def _test_consistency(fn) -> None:
    g = torch.Generator().manual_seed(8)
    x = torch.randn(4, 1, 3, 3, generator=g, dtype=torch.float64)
    F = torch.randn(4, 1, 3, 3, generator=g, dtype=torch.float64)
    t = torch.tensor([0, 1, 20, 500])
    out = fn(x.clone(), t.clone(), F.clone())
    _none(out)
    if not isinstance(out, torch.Tensor):
        raise Mismatch("return a torch.Tensor shaped like x, got {out_type}.", out_type=type(out).__name__)
    st = 10.0 * t.double().view(-1, 1, 1, 1)
    c_skip, c_out = 0.25 / (st**2 + 0.25), st / (st**2 + 0.25).sqrt()
    ref = c_skip * x + c_out * F
    if close(out, ref):
        return
    if close(out, F):
        raise Mismatch(
            "you returned the network's x̂₀ as it is: then f(x, 0) ≠ x, and nothing anchors the consistency "
            "function at the start of each trajectory. Use c_skip(t) x + c_out(t) F with c_skip(0) = 1, "
            "c_out(0) = 0 (Eq. 06.10)."
        )
    if close(out, c_out * x + c_skip * F):
        raise Mismatch("c_skip and c_out are swapped: at t = 0 the output must be x itself (c_skip(0) = 1).")
    st1 = t.double().view(-1, 1, 1, 1)
    if close(out, 0.25 / (st1**2 + 0.25) * x + st1 / (st1**2 + 0.25).sqrt() * F):
        raise Mismatch(
            "scale the timestep first (κ t with κ = 10, LCM's timestep_scaling): without it c_skip stays "
            "near 1 for the first steps and the student copies its noisy input."
        )
    if close(out, c_skip * x + 0.5 * c_out * F):
        raise Mismatch(
            "c_out = σ_d · κt/√((κt)² + σ_d²) is Song et al.'s continuous-time form (its σ_d factor scales data of "
            "std σ_d); LCM's discrete Eq. 06.10, which the student was trained with, has no σ_d in front: "
            "c_out = κt/√((κt)² + σ_d²)."
        )
    if close(out, c_skip * x + st / (st**2 + 0.25) * F):
        raise Mismatch("c_out lost its square root: κt/√((κt)² + σ_d²), not κt/((κt)² + σ_d²) (Eq. 06.10).")
    if close(out[:1], x[:1]) and not close(out[1:], ref[1:]):
        raise Mismatch(
            "the boundary holds (f(x, 0) = x), but c_skip and c_out at t > 0 are not Eq. 06.10's "
            "σ_d²/((κt)² + σ_d²) and κt/√((κt)² + σ_d²)."
        )
    raise Mismatch("your output differs from c_skip(t) x + c_out(t) F of Eq. 06.10 (σ_d = 0.5, κ = 10).")


SCORE = register(Exercise("06", 1, "score_from_eps", _test_score))
TIME_TO_INDEX = register(Exercise("06", 2, "time_to_index", _test_time_to_index))
PNDM_NFE = register(Exercise("06", 3, "pndm_nfe", _test_pndm_nfe))
CONSISTENCY = register(Exercise("06", 4, "consistency_output", _test_consistency))


def check_score(fn):
    """Check ``fn(eps (B, …), alpha_bar (B, 1, …)) -> score (B, …)``: Eq. 06.3."""
    return run_check(SCORE, fn)


def check_time_to_index(fn):
    """Check ``fn(t (N,) float, alpha_bars (T,), sde) -> (N,) long``: the index whose log ᾱ is nearest to log ᾱ(t)."""
    return run_check(TIME_TO_INDEX, fn)


def check_pndm_nfe(fn):
    """Check ``fn(steps, warmup) -> int``: the network evaluations of PNDM with ``warmup`` ``"prk"`` or ``"plms"``."""
    return run_check(PNDM_NFE, fn)


def check_consistency_output(fn):
    """Check ``fn(x (B, …), t (B,) long, F (B, …)) -> (B, …)``: f(x, t) = c_skip x + c_out F (Eq. 06.10)."""
    return run_check(CONSISTENCY, fn)
