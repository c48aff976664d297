import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.device import make_generator
from course_lib.diffusion import GaussianDiffusion
from course_lib.schedules import make_beta_schedule


@pytest.fixture(scope="module", params=["linear", "cosine"])
def diffusion(request, device):
    return GaussianDiffusion(make_beta_schedule(request.param)).to(device)


def test_buffers_are_float32_registered_and_computed_in_float64():
    betas = make_beta_schedule("cosine")
    d = GaussianDiffusion(betas)
    names = {n for n, _ in d.named_buffers()}
    assert {"betas", "alphas", "alpha_bars", "sqrt_alpha_bars", "sqrt_one_minus_alpha_bars"} <= names
    assert all(b.dtype == torch.float32 for b in d.buffers())
    assert torch.equal(d.alpha_bars, torch.cumprod(1 - betas, 0).float())  # float64 product, then cast
    assert torch.equal(d.sqrt_one_minus_alpha_bars, (1 - torch.cumprod(1 - betas, 0)).sqrt().float())
    assert d.num_timesteps == 1000 and "alpha_bars" in d.state_dict()


def test_buffers_follow_to(device):
    d = GaussianDiffusion(make_beta_schedule("linear")).to(device)
    assert all(b.device.type == device.type for b in d.buffers())


def test_q_sample_is_the_closed_form(diffusion, device):
    g = make_generator(0, device)
    x0 = torch.rand(5, 3, 8, 8, generator=g, device=device) * 2 - 1
    noise = torch.randn(x0.shape, generator=g, device=device)
    t = torch.tensor([0, 1, 500, 998, 999], device=device)
    ab = torch.cumprod(1 - diffusion.betas.double(), 0)[t].view(-1, 1, 1, 1)  # float64 reference
    expected = ab.sqrt() * x0.double() + (1 - ab).sqrt() * noise.double()
    assert torch.allclose(diffusion.q_sample(x0, t, noise).double(), expected, atol=1e-6)


def test_q_mean_variance(diffusion, device):
    x0 = torch.ones(2, 1, 4, 4, device=device)
    t = torch.tensor([0, 999], device=device)
    mean, var = diffusion.q_mean_variance(x0, t)
    assert var.shape == (2, 1, 1, 1)
    assert torch.allclose(mean[:, 0, 0, 0], diffusion.alpha_bars[t].sqrt())
    assert torch.allclose(var.flatten(), 1 - diffusion.alpha_bars[t])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_output_keeps_input_dtype(dtype, device):
    d = GaussianDiffusion(make_beta_schedule("linear")).to(device)
    x0 = torch.zeros(2, 3, device=device, dtype=dtype)
    out = d.q_sample(x0, torch.tensor([3, 4], device=device), generator=make_generator(0, device))
    assert out.dtype == dtype and out.shape == (2, 3)


def test_under_autocast_output_dtype_is_unchanged(device):
    d = GaussianDiffusion(make_beta_schedule("linear")).to(device)
    x0 = torch.zeros(2, 1, 4, 4, device=device)
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
        out = d.q_sample(x0, torch.tensor([3, 4], device=device), generator=make_generator(0, device))
    assert out.dtype == torch.float32


def test_generator_makes_draws_reproducible(diffusion, device):
    x0 = torch.zeros(3, 2, device=device)
    t = torch.tensor([10, 20, 30], device=device)
    a = diffusion.q_sample(x0, t, generator=make_generator(5, device))
    assert torch.equal(a, diffusion.q_sample(x0, t, generator=make_generator(5, device)))
    assert not torch.equal(a, diffusion.q_sample(x0, t, generator=make_generator(6, device)))


def test_q_step_is_one_step_of_eq_01_1(diffusion, device):
    x = torch.randn(4, 5, generator=make_generator(1, device), device=device)
    eps = torch.randn(4, 5, generator=make_generator(2, device), device=device)
    t = torch.tensor([0, 7, 400, 999], device=device)
    b = diffusion.betas[t].view(-1, 1)
    assert torch.allclose(diffusion.q_step(x, t, eps), (1 - b).sqrt() * x + b.sqrt() * eps, atol=1e-6)


def test_chain_is_the_step_by_step_loop(diffusion, device):
    x0 = torch.rand(3, 4, generator=make_generator(3, device), device=device)
    t = torch.tensor([0, 5, 12], device=device)
    chain = diffusion.q_sample_chain(x0, t, generator=make_generator(9, device))
    g = make_generator(9, device)
    x = x0.clone()
    keep = {}
    for s in range(13):
        eps = torch.randn(x.shape, generator=g, device=device)
        b = diffusion.betas[s]
        stepped = (1 - b).sqrt() * x + b.sqrt() * eps
        x = torch.where((torch.tensor([s, s, s], device=device) <= t)[:, None], stepped, x)
        keep[s] = x.clone()
    assert torch.allclose(chain, x, atol=1e-6)
    assert torch.allclose(chain[0], keep[0][0], atol=1e-6)  # sample 0 took exactly one step


@settings(max_examples=8, deadline=None, derandomize=True)
@given(name=st.sampled_from(["linear", "cosine"]), t=st.integers(min_value=0, max_value=999))
def test_chain_and_closed_form_agree_in_distribution(name, t):
    d = GaussianDiffusion(make_beta_schedule(name))
    n = 20_000
    x0 = torch.tensor([-1.0, 0.25, 1.0]).repeat(n, 1)
    tt = torch.full((n,), t)
    chain = d.q_sample_chain(x0, tt, generator=make_generator(t))
    closed = d.q_sample(x0, tt, generator=make_generator(t + 1))
    ab = d.alpha_bars[t].double().item()
    std = math.sqrt(1 - ab)
    se_mean = std / math.sqrt(n)
    for xs in (chain, closed):
        assert torch.allclose(xs.mean(0).double(), math.sqrt(ab) * x0[0].double(), atol=6 * se_mean)
        # the sample variance has relative standard error sqrt(2 / n) ~ 1 %
        assert torch.allclose(xs.var(0).double(), torch.full((3,), 1 - ab, dtype=torch.float64), rtol=0.06, atol=1e-7)


def test_snr(diffusion, device):
    snr = diffusion.snr()
    assert torch.allclose(snr, diffusion.alpha_bars / (1 - diffusion.alpha_bars))
    assert (snr.diff() < 0).all()
    t = torch.tensor([0, 999], device=device)
    assert torch.allclose(diffusion.snr(t), snr[t])


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "t,match",
    [
        (torch.tensor([0, 1000]), r"0 … 999"),
        (torch.tensor([-1, 3]), r"0 … 999.*-1"),
        (torch.tensor([0.5, 1.0]), "integer"),
        (torch.tensor([1, 2, 3]), r"shape \(2,\)"),
        (torch.tensor([[1, 2]]), r"shape \(2,\)"),
        ([1, 2], "torch.Tensor"),
        (torch.tensor([True, False]), "integer"),
    ],
)
def test_bad_timesteps_are_clear_errors(t, match):
    d = GaussianDiffusion(make_beta_schedule("linear"))
    with pytest.raises((ValueError, TypeError), match=match):
        d.q_sample(torch.zeros(2, 3), t)


def test_bad_x0_and_noise():
    d = GaussianDiffusion(make_beta_schedule("linear"))
    t = torch.tensor([1, 2])
    with pytest.raises(TypeError, match="x0 must be a floating-point"):
        d.q_sample(torch.zeros(2, 3, dtype=torch.long), t)
    with pytest.raises(ValueError, match=r"noise must have the shape of x0, \(2, 3\)"):
        d.q_sample(torch.zeros(2, 3), t, noise=torch.zeros(2, 4))
    with pytest.raises(TypeError, match="x0 must be a torch.Tensor"):
        d.q_sample([[0.0]], t)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_device_mismatch_is_named():
    d = GaussianDiffusion(make_beta_schedule("linear"))
    with pytest.raises(ValueError, match="x0 is on cuda"):
        d.q_sample(torch.zeros(2, 3, device="cuda"), torch.tensor([1, 2]))


@pytest.mark.parametrize(
    "betas,exc,match",
    [
        (torch.zeros(10), ValueError, r"\(0, 1\)"),
        (torch.full((10,), 1.0), ValueError, r"\(0, 1\)"),
        (torch.full((2, 5), 0.1), ValueError, r"shape \(T,\)"),
        (torch.ones(10, dtype=torch.long), TypeError, "floating-point"),
        ([0.1, 0.2], TypeError, "torch.Tensor"),
    ],
)
def test_bad_betas(betas, exc, match):
    with pytest.raises(exc, match=match):
        GaussianDiffusion(betas)
