"""Lesson 02's math: posterior, parameterisations, L_simple, the DDPM and DDIM steps and samplers."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.device import make_generator
from course_lib.diffusion import GaussianDiffusion
from course_lib.samplers import DDIMSampler, ddim_timesteps, generate
from course_lib.schedules import make_beta_schedule

LIN = GaussianDiffusion(make_beta_schedule("linear"))
COS = GaussianDiffusion(make_beta_schedule("cosine"))


def _rand(*shape, seed=0, device="cpu"):
    return torch.randn(*shape, generator=make_generator(seed, device), device=device)


def test_posterior_at_t0_is_x0_with_zero_variance():
    x0, xt = _rand(2, 3, seed=1), _rand(2, 3, seed=2)
    mean, var = LIN.q_posterior(x0, xt, torch.tensor([0, 0]))
    assert torch.allclose(mean, x0, atol=1e-6) and torch.all(var == 0)
    assert var.shape == (2, 1)


@settings(max_examples=30, deadline=None)
@given(t=st.integers(1, 999), sched=st.sampled_from([LIN, COS]))
def test_posterior_of_a_noise_free_x_t_is_the_previous_mean(t, sched):
    """If x_t = √ᾱ_t x_0 exactly, Eq. 02.1 gives μ̃ = √ᾱ_{t-1} x_0."""
    x0 = _rand(3, 4, seed=t)
    tt = torch.full((3,), t)
    mean, var = sched.q_posterior(x0, sched.sqrt_alpha_bars[t] * x0, tt)
    assert torch.allclose(mean, sched.alpha_bars[t - 1].sqrt() * x0, atol=1e-4)
    assert torch.all(var <= sched.betas[t] + 1e-7)  # β̃_t ≤ β_t


@settings(max_examples=30, deadline=None)
@given(t=st.integers(0, 999), sched=st.sampled_from([LIN, COS]))
def test_parameterisations_round_trip(t, sched):
    x0, eps = _rand(4, 5, seed=t), _rand(4, 5, seed=t + 1)
    tt = torch.full((4,), t)
    xt = sched.q_sample(x0, tt, eps)
    assert torch.allclose(sched.predict_eps_from_x0(xt, tt, x0), eps, atol=2e-3)
    if sched.alpha_bars[t] > 1e-4:  # x0 from ε divides by √ᾱ
        assert torch.allclose(sched.predict_x0_from_eps(xt, tt, eps), x0, atol=2e-3)
    v = sched.get_v(x0, eps, tt)
    assert torch.allclose(sched.predict_x0_from_v(xt, tt, v), x0, atol=1e-4)
    assert torch.allclose(sched.predict_eps_from_v(xt, tt, v), eps, atol=1e-4)


def test_loss_is_l_simple_with_injected_t_and_noise():
    x0, eps = _rand(4, 1, 4, 4, seed=3), _rand(4, 1, 4, 4, seed=4)
    t = torch.tensor([0, 10, 500, 999])
    model = lambda x, tt, c: 0.5 * x  # noqa: E731
    xt = LIN.q_sample(x0, t, eps)
    assert torch.allclose(LIN.loss(model, x0, t=t, noise=eps), ((eps - 0.5 * xt) ** 2).mean())
    per = LIN.loss(model, x0, t=t, noise=eps, reduction="none")
    assert per.shape == (4,) and torch.allclose(per.mean(), LIN.loss(model, x0, t=t, noise=eps))
    assert torch.allclose(LIN.loss(model, x0, t=t, noise=eps, prediction="x0"), ((x0 - 0.5 * xt) ** 2).mean())
    v = LIN.get_v(x0, eps, t)
    assert torch.allclose(LIN.loss(model, x0, t=t, noise=eps, prediction="v"), ((v - 0.5 * xt) ** 2).mean())


def test_an_oracle_has_zero_loss_and_draws_are_seeded(device):
    d = GaussianDiffusion(make_beta_schedule("cosine")).to(device)
    x0 = _rand(8, 2, seed=5, device=device)
    seen = {}

    def oracle(xt, t, c):
        seen["t"] = t
        return d.predict_eps_from_x0(xt, t, x0)

    assert d.loss(oracle, x0, generator=make_generator(0, device)).item() < 1e-4
    assert seen["t"].device.type == device.type and seen["t"].dtype == torch.long
    a = d.loss(lambda x, t, c: x, x0, generator=make_generator(1, device))
    assert torch.equal(a, d.loss(lambda x, t, c: x, x0, generator=make_generator(1, device)))


def test_loss_bad_input():
    with pytest.raises(ValueError, match="prediction must be one of"):
        LIN.loss(lambda x, t, c: x, torch.zeros(2, 3), prediction="score")
    with pytest.raises(ValueError, match=r"the model must return a tensor of x0's shape \(2, 3\)"):
        LIN.loss(lambda x, t, c: x[:, :2], torch.zeros(2, 3))


def test_ddim_step_with_the_true_noise_lands_on_x0():
    x0, eps = _rand(3, 4, seed=6), _rand(3, 4, seed=7)
    t = 700
    xt = COS.q_sample(x0, torch.full((3,), t), eps)
    s = DDIMSampler(COS)
    assert torch.allclose(s.step(eps, t, -1, xt).prev_sample, x0, atol=1e-4)
    x_400 = COS.q_sample(x0, torch.full((3,), 400), eps)  # η = 0 keeps the same ε
    assert torch.allclose(s.step(eps, t, 400, xt).prev_sample, x_400, atol=1e-4)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(t=10, t_prev=10), "t_prev must satisfy"),
        (dict(t=10, t_prev=20), "t_prev must satisfy"),
        (dict(t=10, t_prev=-2), "t_prev must satisfy"),
        (dict(t=1000, t_prev=5), r"0 … 999"),
    ],
)
def test_ddim_step_bad_input(kwargs, match):
    x = torch.zeros(2, 3)
    with pytest.raises(ValueError, match=match):
        DDIMSampler(LIN).step(x, x_t=x, **kwargs)
    with pytest.raises(ValueError, match="eta must be >= 0"):
        DDIMSampler(LIN, eta=-0.1)


def test_ddim_timesteps_trailing():
    assert ddim_timesteps(1000, 50)[:3] == [999, 979, 959] and ddim_timesteps(1000, 50)[-1] == 19
    assert ddim_timesteps(1000, 1000) == list(range(999, -1, -1))
    assert ddim_timesteps(1000, 1) == [999]
    for bad in (0, 1001, 2.5):
        with pytest.raises(ValueError, match=r"steps: expected an int in 1 … 1000"):
            ddim_timesteps(1000, bad)


@pytest.mark.parametrize(
    "sampler,steps,eta", [("ddim", 20, 0.0), ("ddim", 7, 0.5), ("ddpm", None, 0.0), ("ddpm", 25, 0.0)]
)
def test_samplers_recover_a_single_data_point_with_an_oracle(sampler, steps, eta, device):
    """With one data point x*, the optimal ε̂ is (x_t − √ᾱ x*) / √(1 − ᾱ): every sampler must end at x*."""
    d = GaussianDiffusion(make_beta_schedule("cosine")).to(device)
    target = torch.tensor([[0.5, -0.25, 0.9]], device=device)
    oracle = lambda xt, t, c: d.predict_eps_from_x0(xt, t, target.expand_as(xt))  # noqa: E731
    out, traj = generate(
        oracle,
        d,
        (4, 3),
        sampler=sampler,
        steps=steps,
        eta=eta,
        generator=make_generator(0, device),
        progress=False,
        record_every=5,
    )
    assert torch.allclose(out, target.expand(4, 3), atol=2e-3)
    n = steps or 1000
    assert (
        traj["t"][0] == 999
        and traj["x_t"].shape[1:] == (4, 3)
        and len(traj["t"]) == (n - 1) // 5 + 1 + ((n - 1) % 5 != 0)
    )
    assert torch.allclose(traj["x0"][-1], target.expand(4, 3).cpu(), atol=2e-3)


def test_sampling_is_seeded_and_bad_arguments_are_named(device):
    d = GaussianDiffusion(make_beta_schedule("linear")).to(device)
    model = lambda x, t, c: 0.1 * x  # noqa: E731
    a = generate(
        model, d, (2, 3), sampler="ddim", steps=5, eta=1.0, generator=make_generator(3, device), progress=False
    )
    assert torch.equal(
        a,
        generate(
            model, d, (2, 3), sampler="ddim", steps=5, eta=1.0, generator=make_generator(3, device), progress=False
        ),
    )
    for kwargs, match in [
        (dict(sampler="rk45"), "sampler must be one of"),
        (dict(steps=0), "steps: expected an int in 1 … 1000"),
        (dict(steps=1001), "steps: expected an int in 1 … 1000"),
        (dict(eta=-1.0), "eta must be >= 0"),
        (dict(record_every=0), "record_every"),
    ]:
        with pytest.raises(ValueError, match=match):
            generate(model, d, (2, 3), progress=False, **kwargs)


@settings(max_examples=40, deadline=None)
@given(t=st.integers(0, 999), schedule=st.sampled_from(["linear", "cosine"]), seed=st.integers(0, 10_000))
def test_target_errors_are_eps_errors_reweighted_by_snr(t, schedule, seed):
    """Lesson 02 §3: at a fixed x_t, ‖x0 − x̂0‖² = ‖ε − ε̂‖² / SNR(t) and ‖v − v̂‖² = (1 + 1/SNR(t)) ‖ε − ε̂‖²;
    x0 = √ᾱ x_t − √(1 − ᾱ) v."""
    d = GaussianDiffusion(make_beta_schedule(schedule, 1000))
    g = torch.Generator().manual_seed(seed)
    x0 = torch.rand(3, 1, 4, 4, generator=g, dtype=torch.float64) * 2 - 1
    eps = torch.randn(x0.shape, generator=g, dtype=torch.float64)
    eps_hat = eps + 0.1 * torch.randn(x0.shape, generator=g, dtype=torch.float64)
    tt = torch.full((3,), t)
    ab = d.alpha_bars.double()[t]
    x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * eps  # Eq. 01.3, in float64
    x0_hat = (x_t - (1 - ab).sqrt() * eps_hat) / ab.sqrt()  # Eq. 02.2
    v, v_hat = ab.sqrt() * eps - (1 - ab).sqrt() * x0, ab.sqrt() * eps_hat - (1 - ab).sqrt() * x0_hat  # Eq. 02.3
    e_eps, e_x0, e_v = (((a - b) ** 2).sum() for a, b in ((eps_hat, eps), (x0_hat, x0), (v_hat, v)))
    snr = d.snr(tt)[0].double()
    assert torch.isclose(snr, ab / (1 - ab), rtol=1e-5)
    assert torch.isclose(e_x0, e_eps / snr, rtol=1e-4)
    assert torch.isclose(e_v, (1 + 1 / snr) * e_eps, rtol=1e-4) and e_v >= e_eps
    assert torch.allclose(ab.sqrt() * x_t - (1 - ab).sqrt() * v, x0, atol=1e-9)
    # and course_lib's float32 conversions give the same x̂0 and v̂
    x0_lib = d.predict_x0_from_eps(x_t.float(), tt, eps_hat.float()).double()
    assert torch.allclose(x0_lib, x0_hat, atol=1e-3 * max(1.0, float((1 / ab).sqrt())))
    assert torch.allclose(
        d.get_v(x0_hat.float(), eps_hat.float(), tt).double(), v_hat, atol=1e-4 * max(1.0, float((1 / ab).sqrt()))
    )
