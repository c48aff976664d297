"""Exercises of lesson 12, each naming the classic mistake it catches: warping the wrong way or wrapping around
(Eq. 12.1), counting the pixels that left the frame in the warping error (Eq. 12.2), one generator reused across
frames when each frame needs its own independent noise, and SDEdit's restart time on the wrong scale (Eq. 12.3)."""

from __future__ import annotations

import torch

from ...video import warp as _warp
from . import Exercise, Mismatch, N_, close, expect_tensor, register, run_check

__all__ = ["check_warp", "check_warping_error", "check_frame_noise", "check_sdedit_start"]


def _frame(seed: int, shape=(1, 6, 7)) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 2 - 1


def _test_warp(fn) -> None:
    x = _frame(121)
    for d in [(1, 2), (-2, 1), (0, -3)]:
        out = fn(x.clone(), d)
        expect_tensor(out, x.shape, "the warped frame, shaped like x")
        if close(out, _warp(x, d)):
            continue
        if close(out, _warp(x, (-d[0], -d[1]))):
            raise Mismatch(
                "warped the wrong way: for d = {d} the content must move down by d_y "
                "and right by d_x — warp(x, d)[i, j] = x[i − d_y, j − d_x] (Eq. 12.1). "
                "You moved it by −d.",
                d=d,
            )
        if close(out, _warp(x, (d[1], d[0]))):
            raise Mismatch("the axes are swapped: d = (d_y, d_x), rows first (Eq. 12.1).")
        if close(out, torch.roll(x, d, dims=(-2, -1))):
            raise Mismatch(
                "torch.roll wraps around: what leaves on one side comes back on the other. The pixels whose source "
                "left the frame are unknown — fill them with −1, the background (Eq. 12.1)."
            )
        raise Mismatch("expected warp(x, d)[i, j] = x[i − d_y, j − d_x], −1 where the source is outside (Eq. 12.1).")


def _error(frames, shifts, count_all=False, backwards=False):
    out = []
    for t in range(frames.shape[0] - 1):
        d = tuple(int(v) for v in shifts[t])
        if backwards:
            d = (-d[0], -d[1])
        diff = (_warp(frames[t], d) - frames[t + 1]).abs()
        mask = _warp(torch.ones_like(frames[t]), d) > 0
        out.append(diff.mean() if count_all else diff[mask].mean())
    return torch.stack(out)


def _test_warping_error(fn) -> None:
    g = torch.Generator().manual_seed(122)
    frames = torch.rand(4, 1, 6, 7, generator=g, dtype=torch.float64) * 2 - 1
    shifts = torch.tensor([[1, 2], [-1, 0], [2, -2]])
    out = fn(frames.clone(), shifts.clone())
    expect_tensor(out, (3,), "one error per pair of frames (F − 1,)")
    if close(out, _error(frames, shifts)):
        exact = torch.stack([frames[0]] + [_warp(frames[0], (1, 1))])
        if float(fn(exact, torch.tensor([[1, 1]]))[0]) > 1e-9:
            raise Mismatch("a clip whose second frame is the warped first must have error 0 where the pixels stay.")
        return
    if close(out, _error(frames, shifts, count_all=True)):
        raise Mismatch(
            "you counted the pixels that left the frame: where the source lies outside, the warped frame holds "
            "the fill value, not the content, so the difference there measures nothing. Average over the pixels "
            "that stay in view only (Eq. 12.2; valid_mask)."
        )
    if close(out, _error(frames, shifts, backwards=True)):
        raise Mismatch("warped the wrong way: frame t moved by +d_t lands on frame t + 1 (Eq. 12.1–12.2).")
    raise Mismatch(
        "expected, per pair, the mean of |warp(frame_t, d_t) − frame_{t+1}| over the pixels that stay in view "
        "(Eq. 12.2)."
    )


def _test_frame_noise(fn) -> None:
    seeds, shape = [11, 12, 13, 14], (1, 4, 4)
    out = fn(list(seeds), shape)
    expect_tensor(out, (4, *shape), "one noise per frame (F, *shape)")
    want = torch.stack([torch.randn(shape, generator=torch.Generator().manual_seed(s)) for s in seeds])
    if close(out, want):
        return
    if all(close(out[f], out[0]) for f in range(1, 4)):
        raise Mismatch(
            "every frame has the same noise: you reseeded one generator with one seed for each frame. That is "
            "method (b), the same x_T for every frame — method (a) needs independent noise, frame f from seeds[f]."
        )
    one = torch.Generator().manual_seed(seeds[0])
    if close(out, torch.stack([torch.randn(shape, generator=one) for _ in seeds])):
        raise Mismatch(
            "one generator drawn frame after frame: frame f's noise then depends on how many frames came before "
            "it, so re-running frame 3 alone (or a clip cut differently) gives other noise. Give each frame its "
            "own generator, seeded with seeds[f] — the harness's per-image seeds, per frame."
        )
    raise Mismatch("expected frame f's noise = torch.randn(shape, generator=torch.Generator().manual_seed(seeds[f])).")


def _test_sdedit_start(fn) -> None:
    g = torch.Generator().manual_seed(124)
    x = torch.rand(2, 1, 4, 4, generator=g, dtype=torch.float64) * 2 - 1
    noise = torch.randn(2, 1, 4, 4, generator=g, dtype=torch.float64)
    T = 1000
    steps = torch.arange(T, dtype=torch.float64)
    alpha_bars = torch.cos((steps / T + 0.008) / 1.008 * torch.pi / 2) ** 2
    strength = 0.6
    out = fn(x.clone(), strength, noise.clone(), alpha_bars.clone())
    expect_tensor(out, x.shape, "x at t*, shaped like x")
    t = round(strength * (T - 1))
    ab = alpha_bars[t]
    if close(out, ab.sqrt() * x + (1 - ab).sqrt() * noise):
        return
    for wrong, hint in (
        (0, N_("t* on the wrong scale — strength used as the index itself: int(0.6) = 0, almost no noise — "
               "t* = round(strength·(T − 1)) (Eq. 12.3).")),
        (round((1 - strength) * (T - 1)), N_("t* on the wrong scale — strength turned around: strength 1 is all "
                                             "noise (t* = T − 1), 0 none (Eq. 12.3).")),
        (round(strength * 100), N_("t* on the wrong scale — t* on the scale of the sampler's 100 steps, not of the "
                                   "process's T = 1,000 (Eq. 12.3).")),
    ):  # fmt: skip
        a = alpha_bars[wrong]
        if close(out, a.sqrt() * x + (1 - a).sqrt() * noise):
            raise Mismatch(hint)
    if close(out, ab * x + (1 - ab) * noise):
        raise Mismatch("the square roots: x_t = √ᾱ_t·x + √(1 − ᾱ_t)·ε (Eq. 01.3), not ᾱ_t·x + (1 − ᾱ_t)·ε.")
    if close(out, (1 - strength) * x + strength * noise):
        raise Mismatch("that is lesson 11's linear path: the editor is a VP diffusion model — use its ᾱ (Eq. 12.3).")
    raise Mismatch("expected x_{t*} = √ᾱ_{t*}·x + √(1 − ᾱ_{t*})·ε with t* = round(strength·(T − 1)) (Eq. 12.3).")


WARP = register(Exercise("12", 1, "warp", _test_warp))
WARPING_ERROR = register(Exercise("12", 2, "warping_error", _test_warping_error))
FRAME_NOISE = register(Exercise("12", 3, "frame_noise", _test_frame_noise))
SDEDIT_START = register(Exercise("12", 4, "sdedit_start", _test_sdedit_start))


def check_warp(fn):
    """Check ``fn(x, d) -> x warped by d = (d_y, d_x)``, −1 where the source left the frame (Eq. 12.1)."""
    return run_check(WARP, fn)


def check_warping_error(fn):
    """Check ``fn(frames, shifts) -> (F − 1,)``: Eq. 12.2 over the pixels that stay in view."""
    return run_check(WARPING_ERROR, fn)


def check_frame_noise(fn):
    """Check ``fn(seeds, shape) -> (F, *shape)``: frame f's noise from its own generator seeded ``seeds[f]``."""
    return run_check(FRAME_NOISE, fn)


def check_sdedit_start(fn):
    """Check ``fn(x, strength, noise, alpha_bars) -> x_{t*}``: Eq. 12.3 with t* = round(strength·(T − 1))."""
    return run_check(SDEDIT_START, fn)
