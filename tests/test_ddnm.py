"""Lesson 08's zero-shot machinery (course_lib/samplers/ddnm.py, the operators of course_lib/operators.py): the linear
operators and their pseudo-inverses, the posterior sampler (= DDIM η = 1 for plain DDNM), DDNM's exact consistency,
DDNM+'s noise budget, and RePaint's time travel against diffusers' RePaintScheduler."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.diffusion import GaussianDiffusion
from course_lib.metrics import psnr
from course_lib.operators import AreaOperator, FourierOperator, MaskOperator, kspace_mask
from course_lib.samplers import (
    DDIMSampler,
    PosteriorSampler,
    StepContext,
    ddnm_transform,
    make_sampler,
    posterior_coefficients,
    repaint_schedule,
    sample,
)
from course_lib.schedules import make_beta_schedule


@pytest.fixture(scope="module")
def process():
    return GaussianDiffusion(make_beta_schedule("cosine", 1000), dtype=torch.float64)


class Shrink:
    """A stand-in ε-network: ε̂ = 0.6 x_t (the model of data N(0, 0.64 I) up to a schedule-dependent factor)."""

    prediction = "eps"

    def __call__(self, x, t, cond=None):
        return 0.6 * x


# ---------------------------------------------------------------- operators


@pytest.mark.parametrize("scale", [2, 4])
def test_area_pseudo_inverse_is_a_right_inverse(scale):
    op = AreaOperator(scale)
    y = torch.rand(3, 1, 32 // scale, 32 // scale, dtype=torch.float64)
    assert torch.allclose(op.A(op.A_pinv(y)), y, atol=1e-15)  # A A† = I
    x = torch.rand(3, 1, 32, 32, dtype=torch.float64)
    assert torch.allclose(op.A(op.project(x, y)), y, atol=1e-15)


def test_mask_operator_keeps_observed_pixels_and_checks_its_mask():
    mask = torch.zeros(8, 8)
    mask[:, :4] = 1
    op = MaskOperator(mask)
    x, truth = torch.rand(2, 1, 8, 8), torch.rand(2, 1, 8, 8)
    p = op.project(x, op.A(truth))
    assert torch.equal(p[..., :4], truth[..., :4]) and torch.equal(p[..., 4:], x[..., 4:])
    with pytest.raises(ValueError, match="mask must hold only 0"):
        MaskOperator(torch.full((4, 4), 0.5))


@settings(max_examples=20, deadline=None)
@given(size=st.sampled_from([8, 9, 16, 32]), fraction=st.floats(0.05, 0.9), seed=st.integers(0, 10_000))
def test_kspace_masks_are_conjugate_symmetric_and_keep_corrections_real(size, fraction, seed):
    mask = kspace_mask(size, fraction, center=4, generator=torch.Generator().manual_seed(seed))
    op = FourierOperator(mask)
    assert op.symmetric() and mask[0, 0]
    low = 25 / size**2  # |f| <= 2 in both directions: a 5 x 5 square
    assert abs(mask.float().mean().item() - max(fraction, low)) <= 2 / size**2 + 1e-9
    g = torch.Generator().manual_seed(seed)
    truth, x = (torch.rand(2, 1, size, size, generator=g, dtype=torch.float64) * 2 - 1 for _ in range(2))
    y = op.A(truth)
    correction = torch.fft.ifft2((op.A(x) - y) * op.mask, norm="ortho")
    assert correction.imag.abs().max() < 1e-12  # real: nothing is lost by A†'s real part
    assert (op.A(op.project(x, y)) - y).abs().max() < 1e-12  # A x̂ = y exactly


def test_an_asymmetric_mask_loses_the_exact_consistency():
    mask = torch.zeros(8, 8, dtype=torch.bool)
    mask[0, 0] = mask[1, 2] = True  # (1, 2) without (7, 6)
    op = FourierOperator(mask)
    truth, x = torch.rand(1, 1, 8, 8, dtype=torch.float64), torch.rand(1, 1, 8, 8, dtype=torch.float64)
    assert not op.symmetric() and (op.A(op.project(x, op.A(truth))) - op.A(truth)).abs().max() > 1e-3


# ---------------------------------------------------------------- the posterior sampler


def test_posterior_coefficients_are_ddpm_posterior_on_the_stride(process):
    ab, ab_prev = process.alpha_bars[600], process.alpha_bars[400]
    a, b, sigma = posterior_coefficients(ab, ab_prev)
    # the posterior of x' given x_t and x0 for x_t = √(ᾱ_t/ᾱ') x' + √(1 − ᾱ_t/ᾱ') n, x' = √ᾱ' x0 + √(1 − ᾱ') m
    alpha = ab / ab_prev
    cov_xt = 1 - ab  # Var(x_t | x0)
    assert torch.allclose(b, alpha.sqrt() * (1 - ab_prev) / cov_xt)
    assert torch.allclose(sigma**2, (1 - ab_prev) - alpha * (1 - ab_prev) ** 2 / cov_xt)
    assert torch.allclose(a + b * ab.sqrt(), ab_prev.sqrt())  # the mean is unbiased: E[x'] = √ᾱ' x0
    a1, b1, s1 = posterior_coefficients(ab, torch.tensor(1.0, dtype=torch.float64))
    assert a1 == 1 and b1 == 0 and s1 == 0


@pytest.mark.parametrize("hook", [False, True])
def test_posterior_step_equals_ddim_eta_one(process, hook):
    """For plain DDNM (or no hook) the posterior step is DDIM with η = 1 (DDIM Eq. 16), the same noise drawn."""
    g = torch.Generator().manual_seed(0)
    op = AreaOperator(4)
    y = torch.rand(2, 1, 8, 8, generator=g, dtype=torch.float64) * 2 - 1
    transform = ddnm_transform(op, y) if hook else None
    post = PosteriorSampler(process, 20, spacing="leading")
    ddim = DDIMSampler(process, 20, eta=1.0, spacing="leading")
    assert post.timesteps == ddim.timesteps
    x = torch.randn(2, 1, 32, 32, generator=g, dtype=torch.float64)
    for t, t_prev in post.pairs():
        out = torch.randn(x.shape, generator=g, dtype=torch.float64)
        z = torch.randn(x.shape, generator=g, dtype=torch.float64)
        a = post.step(out, t, t_prev, x, x0_transform=transform, noise=z).prev_sample
        b = ddim.step(out, t, t_prev, x, x0_transform=transform, noise=z).prev_sample
        assert torch.allclose(a, b, atol=1e-10), (t, t_prev)
        x = a


@pytest.mark.parametrize("scale", [2, 4])
def test_ddnm_output_explains_y_to_float_precision(process, scale):
    op = AreaOperator(scale)
    truth = torch.rand(3, 1, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    y = op.A(truth)
    x_T = torch.randn(3, 1, 32, 32, generator=torch.Generator().manual_seed(2))
    float32 = GaussianDiffusion(make_beta_schedule("cosine", 1000))
    out = sample(
        Shrink(),
        make_sampler("posterior", float32, 50),
        x_T,
        x0_transform=ddnm_transform(op, y),
        generator=torch.Generator().manual_seed(3),
    )
    assert psnr(op.A(out), y).min() >= 70  # float-exact before any clip (float32 rounding only)
    plain = sample(Shrink(), make_sampler("posterior", float32, 50), x_T, generator=torch.Generator().manual_seed(3))
    assert psnr(op.A(plain), y).max() < 30  # without the step the prior knows nothing of y


def test_ddnm_plus_keeps_the_noise_budget(process):
    """γ² + (λ a σ_y)² = σ²: what DDNM+ removes from the step's noise it lets in from y's noise, never more."""
    op = AreaOperator(2)
    y = torch.zeros(1, 1, 16, 16, dtype=torch.float64)
    x0 = torch.randn(1, 1, 32, 32, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for sigma_y in (0.02, 0.2, 0.6):
        for t, t_prev in ((999, 989), (500, 490), (100, 90), (20, 10), (5, -1)):
            ab = process.alpha_bars[t].reshape(1, 1, 1, 1)
            ab_prev = (process.alpha_bars[t_prev] if t_prev >= 0 else torch.tensor(1.0, dtype=torch.float64)).reshape(
                1, 1, 1, 1
            )
            a, _, sigma = posterior_coefficients(ab, ab_prev)
            ctx = StepContext(t, t_prev, x0, x0, ab, ab_prev, sigma)
            out = ddnm_transform(op, y, sigma_y)(x0, ctx)
            full = x0 - op.A_pinv(op.A(x0) - y)
            # λ from where the correction went: out = x0 − λ (x0 − full)
            diff = x0 - full
            lam = ((x0 - out) * diff).sum() / (diff * diff).sum()
            assert 0 <= lam <= 1 + 1e-12
            assert torch.allclose(ctx.sigma**2 + (lam * a * sigma_y) ** 2, sigma**2, atol=1e-12), (sigma_y, t)
    with pytest.raises(ValueError, match="sigma_y must be >= 0"):
        ddnm_transform(op, y, -0.1)


@pytest.mark.parametrize("steps,length,repeat", [(250, 10, 10), (100, 10, 3), (50, 5, 2), (20, 10, 1), (7, 3, 4)])
def test_repaint_schedule_matches_diffusers(steps, length, repeat):
    from diffusers import RePaintScheduler

    sched = RePaintScheduler(num_train_timesteps=1000)
    sched.set_timesteps(steps, jump_length=length, jump_n_sample=repeat)
    skip = 1000 // steps
    assert [int(t) // skip for t in sched.timesteps] == repaint_schedule(steps, length, repeat)


def test_time_travel_counts_its_evaluations_and_still_explains_y(process):
    op = AreaOperator(4)
    truth = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(4), dtype=torch.float64) * 2 - 1
    y = op.A(truth)
    smp = make_sampler("posterior", process, 20, travel_length=5, travel_repeat=3)
    pairs = smp.pairs()
    ups = sum(1 for t, tp in pairs if tp > t)
    assert ups > 0 and pairs[-1][1] == -1
    out = sample(
        Shrink(),
        smp,
        torch.randn(2, 1, 32, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(5)),
        x0_transform=ddnm_transform(op, y),
        generator=torch.Generator().manual_seed(6),
    )
    assert smp.nfe == len(pairs) - ups == PosteriorSampler.nfe_for(20, travel_length=5, travel_repeat=3) > 20
    assert (op.A(out) - y).abs().max() < 1e-12
