"""Every check accepts the reference solution and rejects the classic mistakes with the matching hint."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from course_lib.teaching import exercises
from course_lib.teaching.exercises.lesson00 import check_area_downsample, check_psnr
from course_lib.teaching.exercises.lesson01 import check_alpha_bars, check_q_sample, check_snr_crossing


def stub(*args):
    raise NotImplementedError


def _expect(result, status, *fragments):
    assert result.status == status, repr(result)
    for f in fragments:
        assert f in result.message, (f, result.message)
    assert "\n" not in repr(result) and "Traceback" not in repr(result)


# ---------------------------------------------------------------- lesson 00
def psnr_ok(p, t):
    return 10 * torch.log10(1 / ((((p + 1) / 2 - (t + 1) / 2) ** 2).flatten(1).mean(1)))


PSNR_CASES = [
    (psnr_ok, "pass", ()),
    (stub, "todo", ("not done yet",)),
    (lambda p, t: 10 * torch.log10(1 / ((p - t) ** 2).flatten(1).mean(1)), "fail", ("too low", "[-1, 1]")),
    (lambda p, t: torch.log10(1 / ((((p + 1) / 2 - (t + 1) / 2) ** 2).flatten(1).mean(1))), "fail", ("10 times",)),
    (lambda p, t: 10 * torch.log(1 / ((((p + 1) / 2 - (t + 1) / 2) ** 2).flatten(1).mean(1))), "fail", ("log10",)),
    (lambda p, t: 10 * torch.log10(1 / (((p + 1) / 2 - (t + 1) / 2) ** 2).mean()), "fail", ("one number",)),
    (lambda p, t: None, "fail", ("return",)),
    (lambda p, t: p.nosuchmethod(), "error", ("AttributeError",)),
]


@pytest.mark.parametrize("fn,status,fragments", PSNR_CASES)
def test_check_psnr(fn, status, fragments):
    _expect(check_psnr(fn), status, *fragments)


AREA_CASES = [
    (lambda x, s: F.avg_pool2d(x, s), "pass", ()),
    (stub, "todo", ()),
    (lambda x, s: x[..., ::s, ::s], "fail", ("subsampling",)),
    (lambda x, s: F.avg_pool2d(x, s) * s * s, "fail", ("mean of each block",)),
    (lambda x, s: F.avg_pool2d(x, 2), "fail", ("expected shape",)),
]


@pytest.mark.parametrize("fn,status,fragments", AREA_CASES)
def test_check_area_downsample(fn, status, fragments):
    _expect(check_area_downsample(fn), status, *fragments)


# ---------------------------------------------------------------- lesson 01
AB_CASES = [
    (lambda b: torch.cumprod(1 - b, 0), "pass", ()),
    (stub, "todo", ()),
    (lambda b: torch.cumsum(1 - b, 0), "fail", ("product",)),
    (lambda b: torch.cumprod(b, 0), "fail", ("α_s = 1 − β_s",)),
    (lambda b: 1 - torch.cumsum(b, 0), "fail", ("first-order",)),
    (lambda b: torch.cat([torch.ones(1, dtype=b.dtype), torch.cumprod(1 - b, 0)[:-1]]), "fail", ("off by one",)),
    (lambda b: torch.cumprod(1 - b, 0)[:-1], "fail", ("expected shape",)),
]


@pytest.mark.parametrize("fn,status,fragments", AB_CASES)
def test_check_alpha_bars(fn, status, fragments):
    _expect(check_alpha_bars(fn), status, *fragments)


def q(sig, nse, shift=0):
    def fn(x0, t, noise, ab):
        a = ab[(t + shift).clamp(0, len(ab) - 1)].view(-1, 1, 1, 1)
        return sig(a) * x0 + nse(a) * noise

    return fn


Q_CASES = [
    (q(torch.sqrt, lambda a: (1 - a).sqrt()), "pass", ()),
    (stub, "todo", ()),
    (q(torch.sqrt, lambda a: 1 - a), "fail", ("std", "1 − ᾱ", "√(1 − ᾱ)")),
    (q(lambda a: a, lambda a: (1 - a).sqrt()), "fail", ("square root",)),
    (q(torch.sqrt, lambda a: (1 - a).sqrt(), shift=-1), "fail", ("off by one", "t − 1")),
    (q(torch.sqrt, lambda a: (1 - a).sqrt(), shift=1), "fail", ("off by one", "t + 1")),
    (
        lambda x0, t, noise, ab: ab[t].sqrt() * x0 + (1 - ab[t]).sqrt() * noise,
        "error",
        (),
    ),  # no reshape: broadcasting fails
    (
        lambda x0, t, noise, ab: ab[t].sqrt()[:, None] * x0.flatten(1) + (1 - ab[t]).sqrt()[:, None] * noise.flatten(1),
        "fail",
        ("shape",),
    ),
]


@pytest.mark.parametrize("fn,status,fragments", Q_CASES)
def test_check_q_sample(fn, status, fragments):
    _expect(check_q_sample(fn), status, *fragments)


def std_vs_variance_hint_quotes_the_numbers():
    r = check_q_sample(q(torch.sqrt, lambda a: 1 - a))
    ab = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64), 0)[499].item()
    assert f"{1 - ab:.3f}" in r.message and f"{math.sqrt(1 - ab):.3f}" in r.message


def test_std_vs_variance_hint_quotes_the_numbers():
    std_vs_variance_hint_quotes_the_numbers()


def snr_ok(ab, level):
    return int(torch.nonzero(ab / (1 - ab) < level)[0])


SNR_CASES = [
    (snr_ok, "pass", ()),
    (stub, "todo", ()),
    (lambda ab, level: snr_ok(ab, level) + 1, "fail", ("off by one", "1-based")),
    (lambda ab, level: snr_ok(ab, level) - 1, "fail", ("off by one", "last t")),
    (lambda ab, level: int(torch.nonzero((ab / (1 - ab)).sqrt() < level)[0]), "fail", ("variances",)),
    (lambda ab, level: "soon", "fail", ("one integer",)),
]


@pytest.mark.parametrize("fn,status,fragments", SNR_CASES)
def test_check_snr_crossing(fn, status, fragments):
    _expect(check_snr_crossing(fn), status, *fragments)


# ---------------------------------------------------------------- framework
def test_not_a_function():
    _expect(check_psnr(42), "error", "expected your function")


def test_summary_tracks_progress():
    exercises.reset_progress()
    s = exercises.summary("01")
    assert s.passed == 0 and len(s.rows) == 3 and "not checked yet" in repr(s)
    check_alpha_bars(lambda b: torch.cumprod(1 - b, 0))
    check_q_sample(stub)
    s = exercises.summary("01")
    assert s.passed == 1 and "1 of 3 exercises pass" in repr(s) and "not done yet" in repr(s)
    with pytest.raises(ValueError, match="no exercises"):
        exercises.summary("99")


# ---------------------------------------------------------------- lesson 02
from course_lib.teaching.exercises.lesson02 import check_loss, check_reverse_mean  # noqa: E402


def _loss(target="noise", sqrt=True, reduce="mean"):
    def fn(model, x0, t, noise, ab):
        a = ab[t].view(-1, 1, 1, 1)
        x_t = (a.sqrt() if sqrt else a) * x0 + ((1 - a).sqrt() if sqrt else 1 - a) * noise
        err = ((noise if target == "noise" else x0) - model(x_t, t)) ** 2
        return err.mean() if reduce == "mean" else err.sum()

    return fn


LOSS_CASES = [
    (_loss(), "pass", ()),
    (stub, "todo", ()),
    (_loss(target="x0"), "fail", ("target is x0",)),
    (_loss(sqrt=False), "fail", ("square roots",)),
    (_loss(reduce="sum"), "fail", ("summed",)),
]


@pytest.mark.parametrize("fn,status,fragments", LOSS_CASES)
def test_check_loss(fn, status, fragments):
    _expect(check_loss(fn), status, *fragments)


def _rev(sign=-1.0, denom="alpha", coef="ok"):
    def fn(x_t, t, eps, betas, ab):
        b, a = betas[t].view(-1, 1, 1, 1), ab[t].view(-1, 1, 1, 1)
        c = b / (1 - a).sqrt() if coef == "ok" else b.sqrt()
        scale = (1 - b).sqrt() if denom == "alpha" else a.sqrt()
        return (x_t + sign * c * eps) / scale

    return fn


REV_CASES = [
    (_rev(), "pass", ()),
    (stub, "todo", ()),
    (_rev(sign=+1.0), "fail", ("wrong sign",)),
    (_rev(denom="alpha_bar"), "fail", ("√α_t",)),
    (_rev(coef="sqrt_beta"), "fail", ("√β_t",)),
]


@pytest.mark.parametrize("fn,status,fragments", REV_CASES)
def test_check_reverse_mean(fn, status, fragments):
    _expect(check_reverse_mean(fn), status, *fragments)


# ---------------------------------------------------------------- lesson 03
from course_lib.embeddings import sinusoidal_embedding, sinusoidal_embedding_halves  # noqa: E402
from course_lib.teaching.exercises.lesson03 import buggy_embedding, check_fixed_embedding, check_sinusoidal  # noqa: E402


def _te(exponent=2, divide=True):
    def fn(t, d):
        i = torch.arange(d // 2, dtype=torch.float32)
        w = 10000 ** (exponent * i / d)
        a = t.float()[:, None] / w if divide else t.float()[:, None] * w
        return torch.stack([a.sin(), a.cos()], -1).reshape(t.shape[0], d)

    return fn


def _per_column(t, d):
    k = torch.arange(d, dtype=torch.float32)
    a = t.float()[:, None] / 10000 ** (k / d)
    out = a.sin()
    out[:, 1::2] = a[:, 1::2].cos()
    return out


TE_CASES = [
    (sinusoidal_embedding, "pass", ()),
    (stub, "todo", ()),
    (buggy_embedding, "fail", ("swapped", "[0, 1, 0, 1")),
    (sinusoidal_embedding_halves, "fail", ("halves",)),
    (_te(exponent=1), "fail", ("2i/d, not i/d",)),
    (_te(divide=False), "fail", ("divide",)),
    (_per_column, "fail", ("share one frequency",)),
]


@pytest.mark.parametrize("fn,status,fragments", TE_CASES)
def test_check_sinusoidal_and_the_bug_hunt(fn, status, fragments):
    _expect(check_sinusoidal(fn), status, *fragments)
    _expect(check_fixed_embedding(fn), status, *fragments)


# ---------------------------------------------------------------- lesson 04
from course_lib.data import downsample as _down  # noqa: E402
from course_lib.data import upsample as _up  # noqa: E402
from course_lib.teaching.exercises.lesson04 import check_conditioned_input, check_consistency_psnr, check_projection  # noqa: E402

COND_CASES = [
    (lambda x, y, s: torch.cat([x, _up(y, s)], dim=1), "pass", ()),
    (stub, "todo", ("not done yet",)),
    (lambda x, y, s: torch.cat([x, y], dim=1), "fail", ("upsample y to x_t's size first",)),  # y not upsampled
    (lambda x, y, s: torch.cat([x, F.pad(y, (0, 24, 0, 24))], dim=1), "fail", ()),
    (lambda x, y, s: x + _up(y, s), "fail", ("concatenate",)),
    (lambda x, y, s: torch.cat([_up(y, s), x], dim=1), "fail", ("x_t comes first",)),
    (lambda x, y, s: torch.cat([x, _up(y, s, "nearest")], dim=1), "fail", ("nearest",)),
    (lambda x, y, s: torch.cat([x, F.interpolate(y, scale_factor=s, mode="bilinear")], dim=1), "fail", ("bilinear",)),
]


@pytest.mark.parametrize("fn,status,fragments", COND_CASES)
def test_check_conditioned_input(fn, status, fragments):
    _expect(check_conditioned_input(fn), status, *fragments)


def _p01(a, b):
    return 10 * torch.log10(1 / (((a + 1) / 2 - (b + 1) / 2) ** 2).flatten(1).mean(1))


CONSISTENCY_CASES = [
    (lambda sr, y, s: _p01(_down(sr, s), y), "pass", ()),
    (stub, "todo", ()),
    (lambda sr, y, s: _p01(sr, _up(y, s)), "fail", ("other way",)),
    (lambda sr, y, s: _p01(_down(sr, s, "bicubic"), y), "fail", ("area downsampling",)),
    (lambda sr, y, s: _p01(sr[..., ::s, ::s], y), "fail", ("every 4th pixel",)),
    (lambda sr, y, s: 10 * torch.log10(1 / ((_down(sr, s) - y) ** 2).flatten(1).mean(1)), "fail", ("6.02 dB",)),
    (lambda sr, y, s: _p01(_down(sr, s), y).mean(), "fail", ("one PSNR per image",)),
]


@pytest.mark.parametrize("fn,status,fragments", CONSISTENCY_CASES)
def test_check_consistency_psnr(fn, status, fragments):
    _expect(check_consistency_psnr(fn), status, *fragments)


PROJECTION_CASES = [
    (lambda x, y, s: x - _up(_down(x, s) - y, s, "nearest"), "pass", ()),
    (stub, "todo", ()),
    (lambda x, y, s: x + _up(_down(x, s) - y, s, "nearest"), "fail", ("wrong sign",)),
    (lambda x, y, s: x - _up(_down(x, s) - y, s, "bicubic"), "fail", ("nearest-neighbour",)),
    (lambda x, y, s: (x - _up(_down(x, s) - y, s, "nearest")).clamp(-1, 1), "fail", ("clipped",)),
    (lambda x, y, s: x - _up(_down(x, s), s, "nearest") + _up(y, s, "bicubic"), "fail", ("block means",)),
    (lambda x, y, s: x, "fail", ("A(result) should equal y",)),
]


@pytest.mark.parametrize("fn,status,fragments", PROJECTION_CASES)
def test_check_projection(fn, status, fragments):
    _expect(check_projection(fn), status, *fragments)


# ---------------------------------------------------------------- lesson 05
from course_lib.experiments.compare import load_comparison  # noqa: E402
from course_lib.teaching.exercises.lesson05 import (
    K16_TOLERANCE_DB,
    check_k16_prediction,
    check_mse_optimal_guess,
    check_psnr_of_mean,
)  # noqa: E402


def _wmean(c, w):
    return ((w / w.sum()).view(-1, 1, 1, 1) * c).sum(0)


GUESS_CASES = [
    (_wmean, "pass", ()),
    (lambda c, w: (w.view(-1, 1, 1, 1) * c).sum(0) / w.sum(), "pass", ()),
    (stub, "todo", ("not done yet",)),
    (lambda c, w: c[int(w.argmax())], "fail", ("mode",)),  # the most probable candidate
    (lambda c, w: c.mean(0), "fail", ("equal weights",)),
    (lambda c, w: (w.view(-1, 1, 1, 1) * c).sum(0), "fail", ("do not sum to 1",)),
    (lambda c, w: c.median(0).values, "fail", ("median",)),
    (lambda c, w: w.view(-1, 1, 1, 1) * c, "fail", ("axis 0",)),
    (lambda c, w: None, "fail", ("return",)),
]


@pytest.mark.parametrize("fn,status,fragments", GUESS_CASES)
def test_check_mse_optimal_guess(fn, status, fragments):
    _expect(check_mse_optimal_guess(fn), status, *fragments)


def _p01_mean(s, hr):
    return _p01(s.mean(0), hr)


PSNR_MEAN_CASES = [
    (_p01_mean, "pass", ()),
    (stub, "todo", ()),
    (lambda s, hr: torch.stack([_p01(x, hr) for x in s]).mean(0), "fail", ("averaged the samples' PSNRs",)),
    (lambda s, hr: 10 * torch.log10(1 / ((s.mean(0) - hr) ** 2).flatten(1).mean(1)), "fail", ("6.02 dB",)),
    (
        lambda s, hr: 20 * torch.log10(1 / (((s.mean(0) + 1) / 2 - (hr + 1) / 2) ** 2).flatten(1).mean(1)),
        "fail",
        ("twice",),
    ),
    (lambda s, hr: (((s.mean(0) + 1) / 2 - (hr + 1) / 2) ** 2).flatten(1).mean(1), "fail", ("mean squared error",)),
    (lambda s, hr: _p01_mean(s, hr).mean(), "fail", ("one PSNR per image",)),
    (lambda s, hr: torch.stack([_p01(x, hr) for x in s]).mean(1), "fail", ("one value per sample",)),
]


@pytest.mark.parametrize("fn,status,fragments", PSNR_MEAN_CASES)
def test_check_psnr_of_mean(fn, status, fragments):
    _expect(check_psnr_of_mean(fn), status, *fragments)


def test_check_k16_prediction_compares_with_the_measurement():
    import numpy as np

    from course_lib.experiments.compare import load_comparison_samples

    curve = load_comparison()["curve"]
    k1, k16 = curve["psnr_to_hr"][0], curve["psnr_to_hr"][15]
    pictures = load_comparison_samples()
    s8 = pictures["sr3_samples"].astype(np.float64) / 255
    mse1 = ((s8[0] - pictures["hr"] / 255) ** 2).mean()
    var8 = s8.var(axis=0, ddof=1).mean()
    reference = k1 + 10 * math.log10(mse1 / (mse1 - var8 * 15 / 16))  # the lesson's solution
    _expect(check_k16_prediction(lambda: reference), "pass")
    _expect(check_k16_prediction(k16 - 0.9 * K16_TOLERANCE_DB), "pass")
    _expect(check_k16_prediction(None), "todo", "not done yet")
    _expect(check_k16_prediction(stub), "todo", "not done yet")
    _expect(check_k16_prediction(k1), "fail", "no better than one sample")
    _expect(check_k16_prediction(k1 + 10 * math.log10(2 / (1 + 1 / 16))), "fail", "exact posterior sampler")
    _expect(check_k16_prediction(10 * math.log10(1 / (mse1 - var8 * 15 / 16))), "fail", "pooled MSE")
    _expect(check_k16_prediction(k16 + 3), "fail", "too optimistic")
    _expect(check_k16_prediction("23 dB"), "fail", "number of dB")
    _expect(check_k16_prediction(float("nan")), "fail", "number of dB")


# ---------------------------------------------------------------- lesson 06
from course_lib.teaching.exercises.lesson06 import (
    check_consistency_output,
    check_pndm_nfe,
    check_score,
    check_time_to_index,
)  # noqa: E402

SCORE_CASES = [
    (lambda e, ab: -e / (1 - ab).sqrt(), "pass", ()),
    (stub, "todo", ()),
    (lambda e, ab: e / (1 - ab).sqrt(), "fail", ("sign is flipped",)),
    (lambda e, ab: -e / (1 - ab), "fail", ("variance",)),
    (lambda e, ab: -e / ab.sqrt(), "fail", ("wrong scale",)),
    (lambda e, ab: None, "fail", ("return",)),
]


@pytest.mark.parametrize("fn,status,fragments", SCORE_CASES)
def test_check_score(fn, status, fragments):
    _expect(check_score(fn), status, *fragments)


TIME_CASES = [
    (lambda t, ab, sde: (ab.log()[None, :] - sde.log_alpha_bar(t)[:, None]).abs().argmin(1), "pass", ()),
    (lambda t, ab, sde: torch.tensor([int((ab.log() - sde.log_alpha_bar(x)).abs().argmin()) for x in t]), "pass", ()),
    (stub, "todo", ()),
    # the classic mistakes, each with its hint: score_sde's truncation, rounding it, a formula in t, t·T, linear ᾱ
    (lambda t, ab, sde: torch.floor(t * 999).long(), "fail", ("score_sde's convention", "between them")),
    (lambda t, ab, sde: torch.round(t * 999).long(), "fail", ("round(t · (T − 1))",)),
    (lambda t, ab, sde: torch.round(t * 1000).long() - 1, "fail", ("a formula in t alone",)),
    (lambda t, ab, sde: torch.round(t * 1000).long(), "fail", ("off by one",)),
    (lambda t, ab, sde: (ab[None, :] - sde.alpha_bar(t)[:, None]).abs().argmin(1), "fail", ("not in log ᾱ",)),
    (
        lambda t, ab, sde: (ab.log()[None, :] - sde.log_alpha_bar(t)[:, None]).abs().argmin(1).float(),
        "fail",
        ("integer indices",),
    ),
]


@pytest.mark.parametrize("fn,status,fragments", TIME_CASES)
def test_check_time_to_index(fn, status, fragments):
    _expect(check_time_to_index(fn), status, *fragments)


NFE_CASES = [
    (lambda n, w: n + 3 * min(3, n - 1) if w == "prk" else n + min(1, n - 1), "pass", ()),
    (stub, "todo", ()),
    (lambda n, w: n, "fail", ("warm-up",)),
    (lambda n, w: n + 12 if w == "prk" else n + 1, "fail", ("adds* 9",)),
    (lambda n, w: n + 9 if w == "prk" else n + 1, "fail", ("right for long runs",)),  # hard-coded: wrong at ≤ 3 steps
    (lambda n, w: float(n), "fail", ("an int",)),
]


@pytest.mark.parametrize("fn,status,fragments", NFE_CASES)
def test_check_pndm_nfe(fn, status, fragments):
    _expect(check_pndm_nfe(fn), status, *fragments)


def _cons(x, t, F, scale=10.0, swap=False):
    st = (scale * t.double()).view(-1, 1, 1, 1)
    c_skip, c_out = 0.25 / (st**2 + 0.25), st / (st**2 + 0.25).sqrt()
    return (c_out * x + c_skip * F) if swap else (c_skip * x + c_out * F)


def _cons_song(x, t, F):
    st = (10.0 * t.double()).view(-1, 1, 1, 1)
    return 0.25 / (st**2 + 0.25) * x + 0.5 * st / (st**2 + 0.25).sqrt() * F


def _cons_no_sqrt(x, t, F):
    st = (10.0 * t.double()).view(-1, 1, 1, 1)
    return 0.25 / (st**2 + 0.25) * x + st / (st**2 + 0.25) * F


CONS_CASES = [
    (_cons, "pass", ()),
    (stub, "todo", ()),
    (_cons_song, "fail", ("Song et al.'s continuous-time form",)),
    (_cons_no_sqrt, "fail", ("lost its square root",)),
    (lambda x, t, F: F, "fail", ("f(x, 0) ≠ x",)),
    (lambda x, t, F: _cons(x, t, F, swap=True), "fail", ("swapped",)),
    (lambda x, t, F: _cons(x, t, F, scale=1.0), "fail", ("scale the timestep",)),
]


@pytest.mark.parametrize("fn,status,fragments", CONS_CASES)
def test_check_consistency_output(fn, status, fragments):
    _expect(check_consistency_output(fn), status, *fragments)


# ---------------------------------------------------------------- lesson 08
from torch import nn  # noqa: E402

from course_lib.teaching.exercises.lesson08 import check_area_pinv, check_ddnm_loop, check_ddnm_plus, check_zero_conv  # noqa: E402
from course_lib.samplers.ddnm import posterior_coefficients  # noqa: E402

_rep = lambda y, s: y.repeat_interleave(s, -1).repeat_interleave(s, -2)  # noqa: E731
PINV_CASES = [
    (_rep, "pass", ()),
    (lambda y, s: F.interpolate(y, scale_factor=s, mode="nearest"), "pass", ()),
    (stub, "todo", ()),
    (lambda y, s: F.interpolate(y, scale_factor=s, mode="bicubic", align_corners=False), "fail", ("bicubic",)),
    (lambda y, s: _rep(y, s) / s**2, "fail", ("transpose",)),
    (lambda y, s: _rep(y, s) * s**2, "fail", ("scaled by s²",)),
    (lambda y, s: y, "fail", ("HR size",)),
]


@pytest.mark.parametrize("fn,status,fragments", PINV_CASES)
def test_check_area_pinv(fn, status, fragments):
    _expect(check_area_pinv(fn), status, *fragments)


def _ddnm(eps_model, x_T, y, op, alpha_bars, timesteps, noises, where="x0", clip=False, ddim=False):
    x = x_T
    for i, t in enumerate(timesteps):
        t_prev = timesteps[i + 1] if i + 1 < len(timesteps) else -1
        ab = alpha_bars[t]
        ab_prev = alpha_bars[t_prev] if t_prev >= 0 else torch.ones_like(ab)
        x0 = (x - (1 - ab).sqrt() * eps_model(x, t)) / ab.sqrt()
        x0 = x0.clamp(-1, 1) if clip else x0  # a learner's habit from lesson 02's samplers
        if where == "x0":
            x0 = x0 - op.A_pinv(op.A(x0) - y)
        if ddim:
            x = ab_prev.sqrt() * x0 + (1 - ab_prev).sqrt() * (x - ab.sqrt() * x0) / (1 - ab).sqrt()
            continue
        a, b, sigma = posterior_coefficients(ab, ab_prev)
        x = a * x0 + b * x + (sigma * noises[i] if t_prev >= 0 else 0)
        if where == "x_t":
            x = x - op.A_pinv(op.A(x) - y)
    return x - op.A_pinv(op.A(x) - y) if where == "last" else x


LOOP_CASES = [
    (_ddnm, "pass", ()),
    (stub, "todo", ()),
    (lambda *a: _ddnm(*a, where="last"), "fail", ("only the final image",)),
    (lambda *a: _ddnm(*a, where="x_t"), "fail", ("noisy x_{t'}",)),
    (lambda *a: _ddnm(*a, where="none"), "fail", ("unconditional",)),
    (lambda *a: _ddnm(*a, clip=True), "fail", ("clipped x̂₀",)),
    (lambda *a: _ddnm(*a, ddim=True), "fail", ("a DDIM step",)),
    (lambda *a: _ddnm(*a)[:1], "fail", ("shaped like x_T",)),
]


@pytest.mark.parametrize("fn,status,fragments", LOOP_CASES)
def test_check_ddnm_loop(fn, status, fragments):
    _expect(check_ddnm_loop(fn), status, *fragments)


def _plus(st, a, s01, k=2.0, sqrt=True):
    s = a * k * s01
    hidden = st >= s
    g = (st**2 - s**2).clamp(min=0)
    return torch.where(hidden, torch.ones_like(st), st / s), torch.where(
        hidden, g.sqrt() if sqrt else g, torch.zeros_like(st)
    )


PLUS_CASES = [
    (_plus, "pass", ()),
    (stub, "todo", ()),
    (lambda *a: _plus(*a, k=1.0), "fail", ("[0, 1] scale",)),
    (lambda st, a, s: (torch.ones_like(st), st), "fail", ("plain DDNM",)),
    (lambda st, a, s: (_plus(st, a, s)[0], st), "fail", ("noise is unchanged",)),
    (lambda *a: _plus(*a, sqrt=False), "fail", ("square root",)),
    (lambda st, a, s: _plus(st, a, s)[0], "fail", ("pair of tensors",)),
]


@pytest.mark.parametrize("fn,status,fragments", PLUS_CASES)
def test_check_ddnm_plus(fn, status, fragments):
    _expect(check_ddnm_plus(fn), status, *fragments)


def _zero(c, bias=True, frozen=False, kernel=1):
    conv = nn.Conv2d(c, c, kernel, padding=kernel // 2)
    nn.init.zeros_(conv.weight)
    if bias:
        nn.init.zeros_(conv.bias)
    return conv.requires_grad_(not frozen)


ZERO_CASES = [
    (_zero, "pass", ()),
    (stub, "todo", ()),
    (lambda c: nn.Conv2d(c, c, 1), "fail", ("not zero-initialised", "frozen model's ε̂")),
    (lambda c: _zero(c, bias=False), "fail", ("bias is not",)),
    (lambda c: _zero(c, frozen=True), "fail", ("trainable",)),
    (lambda c: nn.Conv2d(c, c, 3), "fail", ("keep the feature's shape",)),
    (lambda c: 0, "fail", ("nn.Module",)),
]


@pytest.mark.parametrize("fn,status,fragments", ZERO_CASES)
def test_check_zero_conv(fn, status, fragments):
    _expect(check_zero_conv(fn), status, *fragments)


# ---------------------------------------------------------------- lesson 09
from course_lib.teaching.exercises.lesson09 import (
    check_frozen_encoder,
    check_residual_to_image,  # noqa: E402
    check_srdiff_target,
    check_unrolled_prior_loss,
)

TARGET_CASES = [
    (lambda hr, up: (2 * (hr - up)).clamp(-1, 1), "pass", ()),
    (stub, "todo", ()),
    (lambda hr, up: hr - up, "fail", ("plain residual",)),
    (lambda hr, up: 2 * (hr - up), "fail", ("not clipped",)),
    (lambda hr, up: (2 * (up - hr)).clamp(-1, 1), "fail", ("sign is flipped",)),
    (lambda hr, up: ((hr - up) / 2).clamp(-1, 1), "fail", ("halved",)),
    (lambda hr, up: (2 * hr).clamp(-1, 1), "fail", ("HR image rescaled",)),
]


@pytest.mark.parametrize("fn,status,fragments", TARGET_CASES)
def test_check_srdiff_target(fn, status, fragments):
    _expect(check_srdiff_target(fn), status, *fragments)


TO_IMAGE_CASES = [
    (lambda xr, up: (up + xr / 2).clamp(-1, 1), "pass", ()),
    (stub, "todo", ()),
    (lambda xr, up: xr / 2, "fail", ("forgot to add up(y) back",)),
    (lambda xr, up: (up + xr).clamp(-1, 1), "fail", ("not undone",)),
    (lambda xr, up: (up + 2 * xr).clamp(-1, 1), "fail", ("doubled again",)),
    (lambda xr, up: up + xr / 2, "fail", ("not clipped",)),
]


@pytest.mark.parametrize("fn,status,fragments", TO_IMAGE_CASES)
def test_check_residual_to_image(fn, status, fragments):
    _expect(check_residual_to_image(fn), status, *fragments)


def _freeze_for_good(e):
    e.requires_grad_(False).eval()
    e.train = lambda mode=True: e
    return e


FREEZE_CASES = [
    (_freeze_for_good, "pass", ()),
    # the classic: frozen and in eval, until the model around it calls train() (every training step does)
    (lambda e: e.requires_grad_(False).eval(), "fail", ("called train()", "reaches every child")),
    (stub, "todo", ()),
    (lambda e: e.eval(), "fail", ("requires_grad_(False)",)),
    (lambda e: e.requires_grad_(False), "fail", ("train mode",)),
    (lambda e: copy.deepcopy(e).requires_grad_(False).eval(), "fail", ("the encoder you were given",)),
]


@pytest.mark.parametrize("fn,status,fragments", FREEZE_CASES)
def test_check_frozen_encoder(fn, status, fragments):
    _expect(check_frozen_encoder(fn), status, *fragments)


def _chain(den, prior, z_s1, c, noise, start="q", loss=F.l1_loss, detach=False):
    z = prior.q_sample(z_s1, noise) if start == "q" else noise
    z = prior.reverse(den, z, c)
    return loss(z.detach() if detach else z, z_s1)


def _truncated(den, prior, z_s1, c, noise):
    """The chain by hand with z.detach() between steps: the right value, truncated backpropagation."""
    z, ab = prior.q_sample(z_s1, noise), prior.alpha_bars
    for i in reversed(range(ab.shape[0])):
        a, a_prev = ab[i], (ab[i - 1] if i > 0 else torch.ones((), dtype=ab.dtype))
        beta = 1 - a / a_prev
        z0 = den(z, torch.full((z.shape[0],), i, dtype=torch.long), c)
        z = (a_prev.sqrt() * beta / (1 - a)) * z0 + ((1 - beta).sqrt() * (1 - a_prev) / (1 - a)) * z
        z = z.detach() if i > 0 else z
    return F.l1_loss(z, z_s1)


def _random_t(den, prior, z_s1, c, noise):
    t = torch.full((z_s1.shape[0],), 2)
    a = prior.alpha_bars[2]
    z_t = a.sqrt() * z_s1 + (1 - a).sqrt() * noise
    return F.l1_loss(den(z_t, t, c), z_s1)


PRIOR_CASES = [
    (_chain, "pass", ()),
    (stub, "todo", ()),
    (_random_t, "fail", ("random-t loss",)),
    (lambda *a: _chain(*a, start="noise"), "fail", ("pure noise",)),
    (lambda *a: _chain(*a, loss=F.mse_loss), "fail", ("MSE",)),
    (lambda *a: _chain(*a, detach=True), "fail", ("no gradient",)),
    (_truncated, "fail", ("not its gradient", "truncated")),
    (lambda *a: _chain(*a).reshape(1), "fail", ("scalar",)),
]


@pytest.mark.parametrize("fn,status,fragments", PRIOR_CASES)
def test_check_unrolled_prior_loss(fn, status, fragments):
    _expect(check_unrolled_prior_loss(fn), status, *fragments)


# ---------------------------------------------------------------- lesson 07
from course_lib.teaching.exercises.lesson07 import (
    check_corrupt_lr,
    check_corrupt_lr_levels,
    check_evaluation_plan,
    check_evaluation_inputs,  # noqa: E402
    check_guided_eps,
    check_latent_scale,
)

GUIDED_CASES = [
    (lambda c, u, w: (1 + w) * c - w * u, "pass", ()),
    (lambda c, u, w: c + w * (c - u), "pass", ()),
    (stub, "todo", ()),
    (lambda c, u, w: (1 + w) * u - w * c, "fail", ("branches are swapped",)),
    (lambda c, u, w: c - w * (c - u), "fail", ("wrong sign",)),
    (lambda c, u, w: u + w * (c - u), "fail", ("guidance_scale = w",)),
    (lambda c, u, w: (1 + w) * c, "fail", ("not guidance",)),
]


@pytest.mark.parametrize("fn,status,fragments", GUIDED_CASES)
def test_check_guided_eps(fn, status, fragments):
    _expect(check_guided_eps(fn), status, *fragments)


def _corrupt(y, s, a, noise, how="right"):
    a = a.view(-1, 1, 1, 1)
    z = {
        "right": a.sqrt() * y + (1 - a).sqrt() * noise,
        "variance": a * y + (1 - a) * noise,
        "swapped": (1 - a).sqrt() * y + a.sqrt() * noise,
        "unshrunk": y + (1 - a).sqrt() * noise,
    }[how]
    return z, s


CORRUPT_CASES = [
    (_corrupt, "pass", ()),
    (stub, "todo", ()),
    (lambda y, s, a, n: _corrupt(y, s, a, n)[0], "fail", ("never told s",)),
    (lambda y, s, a, n: _corrupt(y, s, a, n, "variance"), "fail", ("square roots",)),
    (lambda y, s, a, n: _corrupt(y, s, a, n, "swapped"), "fail", ("swapped",)),
    (lambda y, s, a, n: _corrupt(y, s, a, n, "unshrunk"), "fail", ("not shrunk",)),
    (lambda y, s, a, n: (_corrupt(y, s, a, n)[0], s * 0), "fail", ("levels s themselves",)),
]


@pytest.mark.parametrize("fn,status,fragments", CORRUPT_CASES)
def test_check_corrupt_lr(fn, status, fragments):
    """0.4's form (ᾱ_s handed in) still checks a learner's saved copy, with a warning naming the new one."""
    with pytest.warns(DeprecationWarning, match="check_corrupt_lr_levels"):
        result = check_corrupt_lr(fn)
    _expect(result, status, *fragments)


def _levels(y, s, alpha_bars, noise, index="s-1", keep_zero=True):
    i = {"s-1": (s - 1).clamp(min=0), "s": s}[index]
    a = alpha_bars[i].view(-1, 1, 1, 1)
    z = a.sqrt() * y + (1 - a).sqrt() * noise
    return (torch.where((s > 0).view(-1, 1, 1, 1), z, y) if keep_zero else z), s


LEVEL_CASES = [
    (_levels, "pass", ()),
    (stub, "todo", ()),
    (lambda *a: _levels(*a, index="s"), "fail", ("off by one",)),  # alpha_bars[s]
    (lambda *a: _levels(*a, keep_zero=False), "fail", ("s = 0 must leave y untouched",)),
    (lambda *a: _levels(*a, index="s", keep_zero=False), "fail", ("one step too much noise",)),
    (lambda *a: _levels(*a)[0], "fail", ("the pair (z_s, s)",)),
]


@pytest.mark.parametrize("fn,status,fragments", LEVEL_CASES)
def test_check_corrupt_lr_levels(fn, status, fragments):
    _expect(check_corrupt_lr_levels(fn), status, *fragments)


SCALE_CASES = [
    (lambda z: z / z.std(), "pass", ()),
    (stub, "todo", ()),
    (lambda z: z, "fail", ("unscaled latents",)),
    (lambda z: z * z.std(), "fail", ("multiplied",)),
    (lambda z: z / z.var(), "fail", ("variance",)),
    (lambda z: z / z.flatten(1).std(dim=1).view(-1, 1, 1, 1), "fail", ("one number",)),
    (lambda z: z / z.std(dim=(0, 2, 3), keepdim=True), "fail", ("one number",)),
    (lambda z: (z - z.mean()) / z.std(), "fail", ("centred",)),  # standardising, not scaling
    (lambda z: z / z[:8].std(), "fail", ("first batch",)),  # LDM's practice: the std of its first batch
]


@pytest.mark.parametrize("fn,status,fragments", SCALE_CASES)
def test_check_latent_scale(fn, status, fragments):
    _expect(check_latent_scale(fn), status, *fragments)


INPUT_CASES = [
    (lambda true, base: {"base": base}, "pass", ()),
    (lambda true, base: {"base": base, "true": true}, "pass", ()),
    (stub, "todo", ()),
    (lambda true, base: {"true": true}, "fail", ("testing on true LR only",)),
    (lambda true, base: [base], "fail", ("dict",)),
]


@pytest.mark.parametrize("fn,status,fragments", INPUT_CASES)
def test_check_evaluation_inputs(fn, status, fragments):
    """0.4's form still checks a learner's saved copy, with a warning naming the new one."""
    with pytest.warns(DeprecationWarning, match="check_evaluation_plan"):
        result = check_evaluation_inputs(fn)
    _expect(result, status, *fragments)


PLAN_CASES = [
    (lambda true, base, hr: {"base-generated": (base, None), "true": (true, hr)}, "pass", ()),
    (lambda true, base, hr: {"base-generated": (base, None)}, "pass", ()),
    (stub, "todo", ()),
    (lambda true, base, hr: {"true": (true, hr)}, "fail", ("testing on true LR only",)),
    # the classic: PSNR of base-generated LR's outputs against the HR of another (the true) image
    (lambda true, base, hr: {"base-generated": (base, hr), "true": (true, hr)}, "fail", ("has no HR",)),
    (lambda true, base, hr: {"base-generated": (base, None), "true": (true, None)}, "fail", ("pair it with hr",)),
    (lambda true, base, hr: {"base": base}, "fail", ("against what",)),
]


@pytest.mark.parametrize("fn,status,fragments", PLAN_CASES)
def test_check_evaluation_plan(fn, status, fragments):
    _expect(check_evaluation_plan(fn), status, *fragments)


# ---------------------------------------------------------------- lesson 10
from course_lib.models.dit import modulate  # noqa: E402
from course_lib.teaching.exercises.lesson10 import (  # noqa: E402
    check_adaln_zero_init,
    check_attention,
    check_dit_block,
    check_long_skip,
    check_patchify,
)


def _patches(x, p, order):
    B, C, H, W = x.shape
    return x.reshape(B, C, H // p, p, W // p, p).permute(*order).reshape(B, -1, p * p * C)


PATCHIFY_CASES = [
    (lambda x, p: _patches(x, p, (0, 2, 4, 3, 5, 1)), "pass", ()),
    (stub, "todo", ()),
    (lambda x, p: x.reshape(x.shape[0], -1, p * p * x.shape[1]), "fail", ("plain reshape", "mixed with positions")),
    (lambda x, p: _patches(x, p, (0, 2, 4, 1, 3, 5)), "fail", ("channel by channel",)),
    (lambda x, p: _patches(x, p, (0, 4, 2, 3, 5, 1)), "fail", ("column by column",)),
    (lambda x, p: _patches(x, p, (0, 2, 4, 5, 3, 1)), "fail", ("rows and columns are swapped",)),
    (lambda x, p: _patches(x, p, (0, 2, 4, 3, 5, 1))[:, :-1], "fail", ("of shape",)),
]


@pytest.mark.parametrize("fn,status,fragments", PATCHIFY_CASES)
def test_check_patchify(fn, status, fragments):
    _expect(check_patchify(fn), status, *fragments)


ATTENTION_CASES = [
    (lambda q, k, v: torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), -1) @ v, "pass", ()),
    (lambda q, k, v: F.scaled_dot_product_attention(q, k, v), "pass", ()),
    (stub, "todo", ()),
    (lambda q, k, v: torch.softmax(q @ k.transpose(-2, -1), -1) @ v, "fail", ("no 1/√d",)),
    (lambda q, k, v: torch.softmax(q @ k.transpose(-2, -1) / q.shape[-1], -1) @ v, "fail", ("instead of √d",)),
    (lambda q, k, v: torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), -2) @ v, "fail", ("queries",)),
    (lambda q, k, v: torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), -1), "fail", ("by v",)),
]


@pytest.mark.parametrize("fn,status,fragments", ATTENTION_CASES)
def test_check_attention(fn, status, fragments):
    _expect(check_attention(fn), status, *fragments)


def _dit_forward(mod=modulate, gate=True, swap=False):
    def fn(x, c, block):
        sh1, sc1, g1, sh2, sc2, g2 = block.modulation(c).chunk(6, dim=1)
        if swap:
            sh1, sc1, sh2, sc2 = sc1, sh1, sc2, sh2
        g1, g2 = (g1[:, None], g2[:, None]) if gate else (1.0, 1.0)
        h = x + g1 * block.attn(mod(block.norm1(x), sh1, sc1))
        return h + g2 * block.mlp(mod(block.norm2(h), sh2, sc2))

    return fn


DIT_BLOCK_CASES = [
    (_dit_forward(), "pass", ()),
    (lambda x, c, block: block(x, c), "pass", ()),
    (stub, "todo", ()),
    (_dit_forward(mod=lambda t, shift, scale: t * scale[:, None] + shift[:, None]), "fail", ("lacks the 1 +",)),
    (_dit_forward(gate=False), "fail", ("no gate",)),
    (_dit_forward(swap=True), "fail", ("shift and scale swapped",)),
]


@pytest.mark.parametrize("fn,status,fragments", DIT_BLOCK_CASES)
def test_check_dit_block(fn, status, fragments):
    _expect(check_dit_block(fn), status, *fragments)


def _init(block, parts):
    for t in parts(block):
        torch.nn.init.zeros_(t)


def _zero_and_freeze(block):
    _init(block, lambda b: (b.modulation[-1].weight, b.modulation[-1].bias))
    block.modulation.requires_grad_(False)


ADALN_INIT_CASES = [
    (lambda b: _init(b, lambda b: (b.modulation[-1].weight, b.modulation[-1].bias)), "pass", ()),
    (stub, "todo", ()),
    (lambda b: _init(b, lambda b: (b.modulation[-1].weight,)), "fail", ("bias is not",)),
    (
        lambda b: _init(b, lambda b: (b.attn.proj.weight, b.attn.proj.bias, b.mlp.fc2.weight, b.mlp.fc2.bias)),
        "fail",
        ("not by adaLN-Zero",),
    ),
    (_zero_and_freeze, "fail", ("frozen",)),
    (lambda b: _init(b, lambda b: (b.attn.qkv.weight,)), "fail", ("not the identity yet",)),
]


@pytest.mark.parametrize("fn,status,fragments", ADALN_INIT_CASES)
def test_check_adaln_zero_init(fn, status, fragments):
    _expect(check_adaln_zero_init(fn), status, *fragments)


LONG_SKIP_CASES = [
    (lambda h, s, lin: lin(torch.cat([h, s], dim=-1)), "pass", ()),
    (stub, "todo", ()),
    (lambda h, s, lin: h + s, "fail", ("added", "concatenates")),
    (lambda h, s, lin: lin(torch.cat([s, h], dim=-1)), "fail", ("other order",)),
    (lambda h, s, lin: torch.cat([h, s], dim=-1), "fail", ("of shape",)),
]


@pytest.mark.parametrize("fn,status,fragments", LONG_SKIP_CASES)
def test_check_long_skip(fn, status, fragments):
    _expect(check_long_skip(fn), status, *fragments)


# ---------------------------------------------------------------- lesson 11
from course_lib.teaching.exercises.lesson11 import (  # noqa: E402
    check_euler_step,
    check_path,
    check_reflow_pairs,
    check_v_to_eps_x0,
    check_velocity_target,
)


def _bt(t):
    return t.reshape(-1, 1, 1, 1)


PATH_CASES = [
    (lambda x0, x1, t: (1 - _bt(t)) * x0 + _bt(t) * x1, "pass", ()),
    (stub, "todo", ()),
    (lambda x0, x1, t: _bt(t) * x0 + (1 - _bt(t)) * x1, "fail", ("ends are swapped", "t = 0")),
    (lambda x0, x1, t: (1 - _bt(t)) ** 0.5 * x0 + _bt(t) ** 0.5 * x1, "fail", ("variance-preserving",)),
    (lambda x0, x1, t: (1 - t) * x0 + t * x1 if t.dim() == 4 else x0[:1], "fail", ("of shape",)),
]


@pytest.mark.parametrize("fn,status,fragments", PATH_CASES)
def test_check_path(fn, status, fragments):
    _expect(check_path(fn), status, *fragments)


VELOCITY_CASES = [
    (lambda x0, x1: x1 - x0, "pass", ()),
    (stub, "todo", ()),
    (lambda x0, x1: x0 - x1, "fail", ("sign is swapped",)),
    (lambda x0, x1: x1, "fail", ("ε target",)),
    (lambda x0, x1: x0, "fail", ("x₀ target",)),
]


@pytest.mark.parametrize("fn,status,fragments", VELOCITY_CASES)
def test_check_velocity_target(fn, status, fragments):
    _expect(check_velocity_target(fn), status, *fragments)


EULER_CASES = [
    (lambda x, v, t, tn: x + (tn - t) * v, "pass", ()),
    (stub, "todo", ()),
    (lambda x, v, t, tn: x + (t - tn) * v, "fail", ("wrong way",)),
    (lambda x, v, t, tn: x - v, "fail", ("whole unit step",)),
    (lambda x, v, t, tn: x - t * v, "fail", ("all the way to t = 0",)),
]


@pytest.mark.parametrize("fn,status,fragments", EULER_CASES)
def test_check_euler_step(fn, status, fragments):
    _expect(check_euler_step(fn), status, *fragments)


def _coupled(solve, n, shape, g):
    x1 = torch.randn(n, *shape, generator=g)
    return x1, solve(x1)


def _independent(solve, n, shape, g):
    x1 = torch.randn(n, *shape, generator=g)
    return torch.randn(n, *shape, generator=g), solve(x1)


REFLOW_CASES = [
    (_coupled, "pass", ()),
    (stub, "todo", ()),
    (_independent, "fail", ("not coupled",)),
    (lambda s, n, shape, g: tuple(reversed(_coupled(s, n, shape, g))), "fail", ("swapped",)),
    (lambda s, n, shape, g: (lambda x1: (x1, s(x1)))(3 * torch.randn(n, *shape, generator=g)), "fail", ("N(0, I)",)),
    (lambda s, n, shape, g: _coupled(s, n, shape, g)[1], "fail", ("return the pair",)),
]


@pytest.mark.parametrize("fn,status,fragments", REFLOW_CASES)
def test_check_reflow_pairs(fn, status, fragments):
    _expect(check_reflow_pairs(fn), status, *fragments)


V_CASES = [
    (lambda x, t, v: (x + (1 - _bt(t)) * v, x - _bt(t) * v), "pass", ()),
    (stub, "todo", ()),
    (lambda x, t, v: (x + v, x - v), "fail", ("no factors",)),
    (lambda x, t, v: (x - (1 - _bt(t)) * v, x + _bt(t) * v), "fail", ("the signs",)),
    (lambda x, t, v: (x + _bt(t) * v, x - (1 - _bt(t)) * v), "fail", ("swapped: x̂₀ is t·v",)),
    (lambda x, t, v: (x - _bt(t) * v, x + (1 - _bt(t)) * v), "fail", ("the two are swapped",)),
]


@pytest.mark.parametrize("fn,status,fragments", V_CASES)
def test_check_v_to_eps_x0(fn, status, fragments):
    _expect(check_v_to_eps_x0(fn), status, *fragments)


# ---------------------------------------------------------------- lesson 12
from course_lib.teaching.exercises.lesson12 import (  # noqa: E402
    check_frame_noise,
    check_sdedit_start,
    check_warp,
    check_warping_error,
)
from course_lib.video import valid_mask as _valid_mask, warp as _warp12  # noqa: E402


def _warp_wrong_way(x, d):
    return _warp12(x, (-d[0], -d[1]))


WARP_CASES = [
    (lambda x, d: _warp12(x, d), "pass", ()),
    (stub, "todo", ()),
    (_warp_wrong_way, "fail", ("wrong way",)),
    (lambda x, d: _warp12(x, (d[1], d[0])), "fail", ("axes are swapped",)),
    (lambda x, d: torch.roll(x, tuple(d), dims=(-2, -1)), "fail", ("wraps around",)),
    (lambda x, d: x, "fail", ("expected warp",)),
]


@pytest.mark.parametrize("fn,status,fragments", WARP_CASES)
def test_check_warp(fn, status, fragments):
    _expect(check_warp(fn), status, *fragments)


def _werr(frames, shifts, count_all=False, sign=1):
    out = []
    for t in range(frames.shape[0] - 1):
        d = (sign * int(shifts[t][0]), sign * int(shifts[t][1]))
        diff = (_warp12(frames[t], d) - frames[t + 1]).abs()
        out.append(diff.mean() if count_all else diff[:, _valid_mask(frames.shape[-2:], d)].mean())
    return torch.stack(out)


WERR_CASES = [
    (_werr, "pass", ()),
    (stub, "todo", ()),
    (lambda f, s: _werr(f, s, count_all=True), "fail", ("left the frame",)),
    (lambda f, s: _werr(f, s, sign=-1), "fail", ("wrong way",)),
    (lambda f, s: _werr(f, s)[:1], "fail", ("of shape",)),
]


@pytest.mark.parametrize("fn,status,fragments", WERR_CASES)
def test_check_warping_error(fn, status, fragments):
    _expect(check_warping_error(fn), status, *fragments)


def _noise_right(seeds, shape):
    return torch.stack([torch.randn(shape, generator=torch.Generator().manual_seed(s)) for s in seeds])


def _noise_one_generator(seeds, shape):
    g = torch.Generator().manual_seed(seeds[0])
    return torch.stack([torch.randn(shape, generator=g) for _ in seeds])


NOISE_CASES = [
    (_noise_right, "pass", ()),
    (stub, "todo", ()),
    (lambda seeds, shape: _noise_right([seeds[0]] * len(seeds), shape), "fail", ("method (b)",)),
    (_noise_one_generator, "fail", ("one generator drawn frame after frame",)),
    (lambda seeds, shape: torch.randn(len(seeds), *shape), "fail", ("expected frame f",)),
]


@pytest.mark.parametrize("fn,status,fragments", NOISE_CASES)
def test_check_frame_noise(fn, status, fragments):
    _expect(check_frame_noise(fn), status, *fragments)


def _start(index_of):
    def fn(x, strength, noise, alpha_bars):
        ab = alpha_bars[index_of(strength, len(alpha_bars))]
        return ab.sqrt() * x + (1 - ab).sqrt() * noise

    return fn


START_CASES = [
    (_start(lambda s, T: round(s * (T - 1))), "pass", ()),
    (stub, "todo", ()),
    (_start(lambda s, T: int(s)), "fail", ("wrong scale", "as the index itself")),
    (_start(lambda s, T: round((1 - s) * (T - 1))), "fail", ("wrong scale", "turned around")),
    (_start(lambda s, T: round(s * 100)), "fail", ("wrong scale", "100 steps")),
    (
        lambda x, s, n, ab: ab[round(s * (len(ab) - 1))] * x + (1 - ab[round(s * (len(ab) - 1))]) * n,
        "fail",
        ("square roots",),
    ),
    (lambda x, s, n, ab: (1 - s) * x + s * n, "fail", ("linear path",)),
]


@pytest.mark.parametrize("fn,status,fragments", START_CASES)
def test_check_sdedit_start(fn, status, fragments):
    _expect(check_sdedit_start(fn), status, *fragments)
