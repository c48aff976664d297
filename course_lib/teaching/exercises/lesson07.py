"""Exercises of lesson 07, each naming the classic mistake it catches: classifier-free guidance with the wrong sign or
on the wrong branch (Eq. 07.1), a corrupted LR image whose level s is not handed to the model (Eq. 07.2–07.3), latents
left unscaled or scaled per image (Eq. 07.6), and a cascade tested on true LR images only."""

from __future__ import annotations

import torch

from ..._compat import warn_renamed
from . import Exercise, Mismatch, close, register, run_check

__all__ = [
    "check_corrupt_lr_levels",
    "check_evaluation_plan",
    "check_guided_eps",
    "check_corrupt_lr",
    "check_latent_scale",
    "check_evaluation_inputs",
]


def _none(out):
    if out is None:
        raise Mismatch("your function returned None: did you forget `return`?")


def _test_guided_eps(fn) -> None:
    g = torch.Generator().manual_seed(71)
    eps_c, eps_u = (
        torch.randn(2, 1, 4, 4, generator=g, dtype=torch.float64),
        torch.randn(2, 1, 4, 4, generator=g, dtype=torch.float64),
    )
    for w in (1.5, 4.0, 0.0):
        out = fn(eps_c.clone(), eps_u.clone(), w)
        _none(out)
        want = (1 + w) * eps_c - w * eps_u
        if close(out, want):
            continue
        if close(out, (1 + w) * eps_u - w * eps_c):
            raise Mismatch(
                "the branches are swapped: (1 + w) multiplies the *conditional* prediction ε(x_t, t, c) and "
                "the unconditional one is subtracted — as written, guidance pushes away from the class."
            )
        if close(out, eps_c - w * (eps_c - eps_u)) or close(out, (1 - w) * eps_c + w * eps_u):
            raise Mismatch(
                "wrong sign: ε̃ = ε_c + w (ε_c − ε_u) moves *away* from the unconditional prediction "
                "(Eq. 07.1); yours moves toward it."
            )
        if close(out, eps_u + w * (eps_c - eps_u)):
            raise Mismatch(
                "that is diffusers' formula with guidance_scale = w, which is the course's w − 1: with the "
                "paper's weight, ε̃ = (1 + w) ε_c − w ε_u (Eq. 07.1; guidance_scale = 1 + w)."
            )
        if close(out, w * eps_c) or close(out, (1 + w) * eps_c):
            raise Mismatch(
                "scaling the conditional prediction is not guidance: the unconditional prediction must be "
                "subtracted, ε̃ = (1 + w) ε_c − w ε_u (Eq. 07.1)."
            )
        raise Mismatch("at w = {w:g} expected (1 + w) ε_c − w ε_u (Eq. 07.1).", w=w)


def _test_corrupt_lr(fn) -> None:
    g = torch.Generator().manual_seed(72)
    y = torch.rand(3, 1, 8, 8, generator=g, dtype=torch.float64) * 2 - 1
    noise = torch.randn(y.shape, generator=g, dtype=torch.float64)
    s = torch.tensor([0, 100, 400])
    alpha_bar_s = torch.tensor([1.0, 0.9, 0.4], dtype=torch.float64)  # ᾱ at each image's level (1 at s = 0)
    out = fn(y.clone(), s.clone(), alpha_bar_s.clone(), noise.clone())
    _none(out)
    a = alpha_bar_s.view(-1, 1, 1, 1)
    want = a.sqrt() * y + (1 - a).sqrt() * noise
    if isinstance(out, torch.Tensor):
        if close(out, want):
            raise Mismatch(
                "z_s is right, but the network is never told s: return the pair (z_s, s) — the SR stage "
                "embeds s like t (Eq. 07.3). A stage that does not know how much noise was added cannot "
                "tell the base's artefacts from the noise it should remove."
            )
        raise Mismatch("return the pair (z_s, s): the corrupted LR image and its level (Eq. 07.2–07.3).")
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise Mismatch("return the pair (z_s, s), got {out_type}.", out_type=type(out).__name__)
    z, s_out = out
    if not isinstance(s_out, torch.Tensor) or not torch.equal(torch.as_tensor(s_out).long(), s):
        raise Mismatch("the second element must be the levels s themselves, unchanged (the network embeds them).")
    if close(z, want):
        return
    if close(z, a * y + (1 - a) * noise):
        raise Mismatch(
            "ᾱ_s and 1 − ᾱ_s are variances: the coefficients are their square roots, √ᾱ_s y + √(1 − ᾱ_s) ε "
            "(Eq. 07.2, the forward process of Eq. 01.3)."
        )
    if close(z, (1 - a).sqrt() * y + a.sqrt() * noise):
        raise Mismatch(
            "the coefficients are swapped: the signal keeps √ᾱ_s (≈ 1 at small s), the noise gets √(1 − ᾱ_s)."
        )
    if close(z, y + (1 - a).sqrt() * noise):
        raise Mismatch(
            "noise added but the signal not shrunk: the forward process scales y by √ᾱ_s, so that z_s keeps "
            "unit variance (Eq. 07.2)."
        )
    raise Mismatch("expected z_s = √ᾱ_s y + √(1 − ᾱ_s) ε per image (Eq. 07.2).")


def _test_corrupt_lr_levels(fn) -> None:
    """Exercise 07.2 with the schedule table handed in: level s is the paper's t = s, the code's index s − 1, and s = 0
    leaves y untouched — the off-by-one that handing in ᾱ_s itself hid."""
    from ...diffusion import GaussianDiffusion
    from ...schedules import make_beta_schedule

    alpha_bars = GaussianDiffusion(make_beta_schedule("cosine", 1000), dtype=torch.float64).alpha_bars
    g = torch.Generator().manual_seed(75)
    y = torch.rand(4, 1, 8, 8, generator=g, dtype=torch.float64) * 2 - 1
    noise = torch.randn(y.shape, generator=g, dtype=torch.float64)
    s = torch.tensor([0, 1, 100, 400])
    out = fn(y.clone(), s.clone(), alpha_bars.clone(), noise.clone())
    _none(out)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise Mismatch(
            "return the pair (z_s, s): the corrupted LR image and its level (Eq. 07.2–07.3), got {out_type}.",
            out_type=type(out).__name__,
        )
    z, s_out = out
    if not isinstance(s_out, torch.Tensor) or not torch.equal(torch.as_tensor(s_out).long(), s):
        raise Mismatch("the second element must be the levels s themselves, unchanged (the network embeds them).")

    def at(index):
        a = alpha_bars[index].view(-1, 1, 1, 1)
        return a.sqrt() * y + (1 - a).sqrt() * noise

    want = torch.where((s > 0).view(-1, 1, 1, 1), at((s - 1).clamp(min=0)), y)
    if close(z, want):
        return
    if close(z, torch.where((s > 0).view(-1, 1, 1, 1), at(s.clamp(max=999)), y)):
        raise Mismatch(
            "off by one: level s is the paper's t = s, which the code's 0-based table holds at index s − 1 "
            "(alpha_bars[s − 1]); alpha_bars[s] is one step more noise."
        )
    if close(z, at((s - 1).clamp(min=0))):
        raise Mismatch(
            "s = 0 must leave y untouched (z_0 = y: no corruption), not take alpha_bars[0] — which still adds a "
            "little noise. Use torch.where(s > 0, z_s, y)."
        )
    if close(z, at(s.clamp(max=999))):
        raise Mismatch(
            "alpha_bars[s] for every image: one step too much noise (level s is index s − 1), and s = 0 must "
            "leave y untouched."
        )
    raise Mismatch("expected z_s = √ᾱ y + √(1 − ᾱ) ε with ᾱ = alpha_bars[s − 1] per image, and z = y where s = 0.")


def _test_latent_scale(fn) -> None:
    g = torch.Generator().manual_seed(73)
    # latents of 50 images, 4 channels, with a scale nobody chose and per-image differences
    z = (
        0.2
        * torch.randn(50, 4, 8, 8, generator=g, dtype=torch.float64)
        * torch.linspace(0.5, 1.5, 50, dtype=torch.float64).view(-1, 1, 1, 1)
    ) + 0.1  # latents need not be centred: a mean the scaling must leave alone
    out = fn(z.clone())
    _none(out)
    if not isinstance(out, torch.Tensor) or out.shape != z.shape:
        raise Mismatch(
            "return the scaled latents, shaped like the input {z_shape}, got {isinstance_out}.",
            z_shape=tuple(z.shape),
            isinstance_out=tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__,
        )
    if close(out, z / z.std()):
        return
    if close(out, z):
        raise Mismatch(
            "unscaled latents: their std is {std_z:.3f}, so at every t the "
            "diffusion sees a signal {std_z2:.2f}× weaker against the same noise — "
            "the schedule's SNR is off (Eq. 07.6).",
            std_z=float(z.std()),
            std_z2=float(z.std()) ** 2,
        )
    if close(out, z * z.std()):
        raise Mismatch("multiplied by the std instead of dividing: λ = 1 / std (Eq. 07.6).")
    if close(out, z / z.var()):
        raise Mismatch("divided by the variance: λ = 1 / std, so that the scaled latents have std 1 (Eq. 07.6).")
    per_image = z / z.flatten(1).std(dim=1).view(-1, 1, 1, 1)
    if close(out, per_image) or close(out, z / z.std(dim=(0, 2, 3), keepdim=True)):
        raise Mismatch(
            "λ is one number for the whole training set (LDM's scale_factor), not one per image or channel: "
            "per-image scaling erases how strong each image's latent is, and the decoder needs it back."
        )
    if close(out, (z - z.mean()) / z.std()):
        raise Mismatch(
            "you centred the latents as well: Eq. 07.6 (LDM's scale_factor) only multiplies by λ = 1/std — the "
            "decoder expects the latents back by dividing by λ, and a subtracted mean would have to be added back "
            "too. Scale, do not standardise."
        )
    ratio = out / z
    if torch.isfinite(ratio).all() and float(ratio.std()) < 1e-9 * float(ratio.abs().mean()):
        raise Mismatch(
            "one number for all latents, as it should be — but λ = {ratio:.4f}, "
            "not 1/std(z) = {std_z:.4f}. If you took the std of a first batch "
            "(LDM's practice: scale_by_std on its first batch), the exercise asks "
            "for all the latents you are given: a batch's std is a noisier "
            "estimate.",
            ratio=float(ratio.mean()),
            std_z=1 / float(z.std()),
        )
    raise Mismatch("expected z / std(z) over all the latents (Eq. 07.6).")


def _test_evaluation_inputs(fn) -> None:
    g = torch.Generator().manual_seed(74)
    true_lr = torch.rand(4, 1, 8, 8, generator=g) * 2 - 1
    base_lr = (true_lr + 0.2 * torch.randn(true_lr.shape, generator=g)).clamp(-1, 1)
    out = fn(true_lr.clone(), base_lr.clone())
    _none(out)
    if not isinstance(out, dict) or not out or not all(isinstance(v, torch.Tensor) for v in out.values()):
        raise Mismatch("return a dict {name: LR images} of what the SR stage is to be evaluated on.")
    has_base = any(v.shape == base_lr.shape and torch.equal(v, base_lr) for v in out.values())
    if not has_base:
        raise Mismatch(
            "testing on true LR only: in a cascade the SR stage never sees a true LR image — it sees the "
            "base model's outputs, artefacts included. Evaluate on base-generated LR (true LR beside it, "
            "if you like, to see the gap)."
        )


def _test_evaluation_plan(fn) -> None:
    """Exercise 07.4: what to judge the SR stage on, *and against what* — the reasoning a one-bit choice hid."""
    g = torch.Generator().manual_seed(76)
    hr = torch.rand(4, 1, 32, 32, generator=g) * 2 - 1
    true_lr = torch.nn.functional.avg_pool2d(hr, 4)
    base_lr = (true_lr + 0.2 * torch.randn(true_lr.shape, generator=g)).clamp(-1, 1)
    out = fn(true_lr.clone(), base_lr.clone(), hr.clone())
    _none(out)
    if (
        not isinstance(out, dict)
        or not out
        or not all(isinstance(v, (tuple, list)) and len(v) == 2 for v in out.values())
    ):
        raise Mismatch(
            "return a dict {name: (LR images, HR target or None)}: what the stage is judged on, and against what."
        )

    def is_(a, b):
        return isinstance(a, torch.Tensor) and a.shape == b.shape and torch.equal(a, b)

    plans = list(out.values())
    base = [target for lr, target in plans if is_(lr, base_lr)]
    if not base:
        raise Mismatch(
            "testing on true LR only: in a cascade the SR stage never sees a true LR image — it sees the base "
            "model's outputs, artefacts included. Evaluate on base-generated LR (true LR beside it for the gap)."
        )
    if any(target is not None for target in base):
        raise Mismatch(
            "base-generated LR has no HR: the base model drew it from noise, so the HR of the true LR image is "
            "another digit's picture, and PSNR against it measures nothing. Judge those outputs without a target "
            "(None): realism (patch SWD) and class accuracy against the class asked for, as section 2 does."
        )
    true = [target for lr, target in plans if is_(lr, true_lr)]
    if true and not any(is_(target, hr) for target in true):
        raise Mismatch("true LR has its HR: pair it with hr, so that PSNR and consistency can be measured on it.")


GUIDED_EPS = register(Exercise("07", 1, "guided_eps", _test_guided_eps))
CORRUPT_LR = register(Exercise("07", 2, "corrupt_lr", _test_corrupt_lr_levels))
#: 0.4's form of the exercise (ᾱ_s handed in), for a learner's saved copy: kept one release, unregistered
_CORRUPT_LR_GIVEN = Exercise("07", 2, "corrupt_lr", _test_corrupt_lr)
LATENT_SCALE = register(Exercise("07", 3, "latent_scale", _test_latent_scale))
EVALUATION_INPUTS = register(Exercise("07", 4, "evaluation_plan", _test_evaluation_plan))
#: 0.4's form of the exercise (a one-bit choice), for a learner's saved copy: kept one release, unregistered
_EVALUATION_INPUTS_OLD = Exercise("07", 4, "evaluation_inputs", _test_evaluation_inputs)


def check_guided_eps(fn):
    """Check ``fn(eps_c, eps_u, w) -> eps``: classifier-free guidance with the paper's weight (Eq. 07.1)."""
    return run_check(GUIDED_EPS, fn)


def check_corrupt_lr_levels(fn):
    """Check ``fn(y, s, alpha_bars, noise) -> (z_s, s)``: conditioning augmentation from the schedule's table, level s
    at index s − 1 and s = 0 untouched, the level handed on (Eq. 07.2)."""
    return run_check(CORRUPT_LR, fn)


def check_corrupt_lr(fn):
    """0.4's check, ``fn(y, s, alpha_bar_s, noise) -> (z_s, s)`` with ᾱ_s handed in (deprecated: it never exercised
    the level's index; :func:`check_corrupt_lr_levels` does)."""
    warn_renamed("course_lib.teaching.exercises.lesson07.check_corrupt_lr", "check_corrupt_lr_levels (ᾱ table given)")
    return run_check(_CORRUPT_LR_GIVEN, fn)


def check_latent_scale(fn):
    """Check ``fn(z) -> z / std(z)``: latents scaled to unit standard deviation by one number (Eq. 07.6)."""
    return run_check(LATENT_SCALE, fn)


def check_evaluation_plan(fn):
    """Check ``fn(true_lr, base_lr, hr) -> {name: (LR, HR target or None)}``: a cascade's SR stage judged on
    base-generated LR, which has no HR target, beside true LR paired with its HR."""
    return run_check(EVALUATION_INPUTS, fn)


def check_evaluation_inputs(fn):
    """0.4's check, ``fn(true_lr, base_lr) -> {name: LR}`` (deprecated: a one-bit choice; :func:`check_evaluation_plan`
    asks what each input is judged against)."""
    warn_renamed("course_lib.teaching.exercises.lesson07.check_evaluation_inputs", "check_evaluation_plan")
    return run_check(_EVALUATION_INPUTS_OLD, fn)
