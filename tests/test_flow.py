"""Lesson 11's library: the linear path (Eq. 11.1–11.8), the flow samplers (Eq. 11.5, 11.9, 11.10), the flow method,
the conditional flow-matching gradient check on a mixture whose marginal velocity is known, the dictionary with the VP
path on the shipped SR3-style model, and diffusers' FlowMatchEulerDiscreteScheduler on the same velocities."""

import math

import pytest
import torch

from course_lib.diffusion import GaussianDiffusion
from course_lib.engine.config import TrainConfig
from course_lib.engine.train import Trainer
from course_lib.methods import get_method
from course_lib.paths import (
    GaussianMixture,
    LinearPath,
    sample_times,
    shift_times,
    straightness,
    velocity_from_eps,
    vp_to_linear,
)
from course_lib.samplers import SAMPLERS, make_sampler, sample, steps_for_nfe
from course_lib.samplers.flow import FlowEulerSampler, euler_trajectory, flow_timesteps
from course_lib.schedules import make_beta_schedule

G = lambda s=0: torch.Generator().manual_seed(s)  # noqa: E731


# ------------------------------------------------------------------ the path and its dictionary
def test_the_path_runs_from_the_data_at_0_to_the_source_at_1_and_its_derivative_is_the_velocity():
    path = LinearPath()
    x0, x1 = torch.randn(3, 1, 4, 4, generator=G(1)), torch.randn(3, 1, 4, 4, generator=G(2))
    assert torch.equal(path.q_sample(x0, 0.0, x1), x0) and torch.equal(path.q_sample(x0, 1.0, x1), x1)
    t, h = torch.tensor([0.2, 0.5, 0.9]), 1e-3
    derivative = (path.q_sample(x0, t + h, x1) - path.q_sample(x0, t - h, x1)) / (2 * h)
    assert torch.allclose(derivative, path.velocity(x0, x1), atol=1e-3)


@pytest.mark.parametrize("sigma", [1.0, 0.25])
def test_the_dictionary_round_trips_and_the_score_is_tweedies(sigma):
    path = LinearPath(source_noise=sigma)
    x0 = torch.randn(4, 2, 3, 3, generator=G(3), dtype=torch.float64)
    x1 = sigma * torch.randn(4, 2, 3, 3, generator=G(4), dtype=torch.float64)
    t = torch.tensor([0.1, 0.4, 0.7, 0.95], dtype=torch.float64)
    x_t, v = path.q_sample(x0, t, x1), path.velocity(x0, x1)
    assert torch.allclose(path.predict_x0(x_t, t, v), x0) and torch.allclose(path.predict_x1(x_t, t, v), x1)
    assert torch.allclose(path.velocity_from_x0(x_t, t, x0), v) and torch.allclose(path.velocity_from_x1(x_t, t, x1), v)
    # q(x_t | x0) = N((1 − t) x0, (σ t)² I): its score at x_t
    tt = t.reshape(-1, 1, 1, 1)
    assert torch.allclose(path.score(x_t, t, v), -(x_t - (1 - tt) * x0) / (sigma * tt) ** 2)


def test_the_vp_path_is_the_linear_path_rescaled_and_an_eps_model_defines_its_velocity():
    process = GaussianDiffusion(make_beta_schedule("cosine", 1000), dtype=torch.float64)
    x0, eps = (
        torch.randn(5, 1, 4, 4, generator=G(5), dtype=torch.float64),
        torch.randn(5, 1, 4, 4, generator=G(6), dtype=torch.float64),
    )
    idx = torch.tensor([0, 100, 500, 900, 990])
    x_vp = process.q_sample(x0, idx, eps)
    ab = process.alpha_bars[idx].reshape(-1, 1, 1, 1)
    t, scale = vp_to_linear(ab)
    assert torch.allclose(x_vp / scale, LinearPath().q_sample(x0, t.flatten(), eps))  # Eq. 11.8
    assert torch.allclose(velocity_from_eps(x_vp, eps, ab), eps - x0)


def test_ddim_is_euler_on_the_linear_path_for_the_shipped_sr3_model():
    """Eq. 11.8 on a real network: one DDIM step of the shipped digits_sr3_concat (x₀-prediction) lands where an Euler
    step of the velocity it implies lands, in the linear path's coordinates."""
    from course_lib.datasets import DigitsSR
    from course_lib.engine.pretrained import load

    shipped = load("digits_sr3_concat", "cpu")
    model, process = shipped.model, shipped.process
    _, y = DigitsSR("test", 4).tensors([0, 1, 2])
    ddim = make_sampler("ddim", process, 10, model.prediction)
    t, t_prev = ddim.timesteps[3], ddim.timesteps[4]
    x_t = torch.randn(3, 1, 32, 32, generator=G(7))
    with torch.no_grad():
        out = model(x_t, torch.full((3,), t), y)
        step = ddim.step(out, t, t_prev, x_t).prev_sample
        eps, x0 = process.eps_and_x0(out, x_t, torch.full((3,), t), model.prediction)
    ab, ab_prev = process.alpha_bars[t], process.alpha_bars[t_prev]
    (lt, s), (lp, sp) = vp_to_linear(ab), vp_to_linear(ab_prev)
    euler = x_t / s + (lp - lt) * (eps - x0)  # Eq. 11.5 with v = ε̂ − x̂₀
    assert torch.allclose(step / sp, euler, atol=1e-4)


def test_bad_inputs_name_what_was_expected():
    path = LinearPath()
    x = torch.zeros(2, 1, 2, 2)
    with pytest.raises(ValueError, match=r"t must lie in \[0, 1\]"):
        path.q_sample(x, torch.tensor([0.5, 1.5]), x)
    with pytest.raises(TypeError, match="float tensor of times"):
        path.q_sample(x, torch.tensor([0, 1]), x)
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        path.q_sample(x, torch.tensor([0.5, 0.5, 0.5]), x)
    with pytest.raises(ValueError, match="x1 must have x0's shape"):
        path.q_sample(x, 0.5, torch.zeros(2, 1, 3, 3))
    with pytest.raises(ValueError, match="t must lie"):
        path.q_sample(x, torch.tensor([float("nan"), 0.5]), x)
    with pytest.raises(ValueError, match="source_noise"):
        LinearPath(source_noise=0)
    with pytest.raises(ValueError, match="time_distribution must be one of"):
        LinearPath(time_distribution="beta")
    with pytest.raises(ValueError, match="shift"):
        shift_times(torch.tensor([0.5]), 0.0)


def test_time_distributions_and_the_shift():
    u, ln = sample_times(20000, "uniform", G(8)), sample_times(20000, "logit_normal", G(8))
    assert 0 < float(u.min()) and float(u.max()) < 1 and 0 < float(ln.min()) and float(ln.max()) < 1
    assert abs(float(ln.mean()) - 0.5) < 0.01 and float(ln.std()) < float(u.std())  # more weight in the middle
    t = torch.linspace(0, 1, 11, dtype=torch.float64)
    assert torch.equal(shift_times(t, 1.0), t)
    for s in (0.5, 3.0):
        st = shift_times(t, s)
        assert st[0] == 0 and st[-1] == 1 and (st[1:] > st[:-1]).all()
        assert ((st[1:-1] > t[1:-1]) if s > 1 else (st[1:-1] < t[1:-1])).all()


def test_straightness_is_zero_on_a_straight_walk_and_grows_with_the_bend():
    a, b = torch.zeros(1, 4), torch.ones(1, 4)
    ts = torch.linspace(0, 1, 11).reshape(-1, 1, 1)
    line = a + ts * (b - a)
    assert straightness(line)["excess_length"].abs().max() < 1e-6 and straightness(line)["straightness"].max() < 1e-10
    bump = torch.zeros(11, 1, 4)
    bump[:, 0, 0] = torch.sin(math.pi * ts[:, 0, 0])
    s1, s2 = straightness(line + 0.1 * bump), straightness(line + 0.5 * bump)
    assert 0 < s1["excess_length"] < s2["excess_length"] and 0 < s1["straightness"] < s2["straightness"]
    with pytest.raises(ValueError, match=r"\(K >= 2, B, \.\.\.\)"):
        straightness(torch.zeros(1, 3, 2))


# ------------------------------------------------------------------ the CFM gradient = the marginal loss's gradient
def _features(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    t = t[:, None]
    return torch.cat([x, t, x * t, x**2, torch.ones_like(t)], 1).double()


def _gradient_terms(target_of, n, seed):
    """Per-sample gradients (w.r.t. a linear model v = W φ(x_t, t)) of the conditional loss minus the marginal one."""
    mix = GaussianMixture(torch.tensor([[2.0, 0.0], [-1.0, 1.5], [0.0, -2.0]]), 0.3)
    g = G(seed)
    x0, x1, t = (
        mix.sample(n, g).double(),
        torch.randn(n, 2, generator=g, dtype=torch.float64),
        torch.rand(n, generator=g).double(),
    )
    x_t = (1 - t[:, None]) * x0 + t[:, None] * x1
    phi = _features(x_t, t)
    W = torch.randn(2, phi.shape[1], generator=G(99), dtype=torch.float64) * 0.1
    v = phi @ W.T
    u = mix.marginal_velocity(x_t, t).double()
    g_cond = 2 * (v - target_of(x0, x1))[:, :, None] * phi[:, None, :]  # ∂/∂W ‖v − target‖²
    g_marg = 2 * (v - u)[:, :, None] * phi[:, None, :]
    return g_cond, g_marg


def test_the_conditional_loss_has_the_marginal_losss_gradient():
    """Eq. 11.4 (Lipman et al. 2023, Theorem 2): on the same draws, ∇L_CFM − ∇L_FM has mean 0 — within 4 standard
    errors in every entry — while the gradient itself is many standard errors from 0; the sign-swapped target fails."""
    n = 200_000
    g_cond, g_marg = _gradient_terms(lambda x0, x1: x1 - x0, n, 0)
    diff = (g_cond - g_marg).flatten(1)
    se = diff.std(0) / math.sqrt(n)
    assert (diff.mean(0).abs() < 4 * se).all()
    grad = g_marg.flatten(1).mean(0)
    assert (grad.abs() / se).max() > 50  # the check can fail: the gradient is far from what noise could hide
    g_wrong, g_marg = _gradient_terms(lambda x0, x1: x0 - x1, n, 0)  # the classic sign mistake
    diff = (g_wrong - g_marg).flatten(1)
    assert (diff.mean(0).abs() > 4 * diff.std(0) / math.sqrt(n)).any()


def test_the_mixtures_closed_form_velocity_matches_a_monte_carlo_estimate():
    mix = GaussianMixture(torch.tensor([[2.0, 0.0], [-2.0, 0.0]]), 0.2)
    g, n, t = G(1), 1_000_000, 0.5
    x0, x1 = mix.sample(n, g).double(), torch.randn(n, 2, generator=g, dtype=torch.float64)
    x_t = (1 - t) * x0 + t * x1
    point = torch.tensor([[0.4, -0.2]], dtype=torch.float64)
    near = ((x_t - point) ** 2).sum(1) < 0.05**2
    mc = (x1 - x0)[near].mean(0)
    assert near.sum() > 300 and torch.allclose(mc.float(), mix.marginal_velocity(point, t)[0], atol=0.15)
    with pytest.raises(ValueError, match="sum to 1"):
        GaussianMixture(torch.zeros(2, 2), 0.1, torch.tensor([0.5, 0.6]))


# ------------------------------------------------------------------ the samplers
def _linear_field(a: float):
    """dx/dt = a·x in the flow's time (x(t) = x(1)·exp(a (t − 1))): an exact solution to check the solvers' order."""

    def model(x, t_scaled, cond):
        return a * x

    return model


@pytest.mark.parametrize("name,order", [("flow_euler", 1), ("flow_heun", 2), ("flow_midpoint", 2)])
def test_each_solver_converges_at_its_order(name, order):
    path = LinearPath(time_scale=1.0)
    x1 = torch.ones(1, 1, dtype=torch.float64)
    exact = math.exp(-0.8)  # a = 0.8, from t = 1 to 0
    errors = []
    for steps in (8, 16):
        out = sample(_linear_field(0.8), make_sampler(name, path, steps, "velocity"), x1)
        errors.append(abs(float(out) - exact))
    assert 2**order * 0.8 < errors[0] / errors[1] < 2**order * 1.25


def test_the_euler_step_by_hand_course_lib_and_diffusers_agree():
    from diffusers import FlowMatchEulerDiscreteScheduler

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(17, 16), torch.nn.Tanh(), torch.nn.Linear(16, 16))
    model = lambda x, ts, cond: net(torch.cat([x.flatten(1), ts[:, None] / 1000], 1)).reshape(x.shape)  # noqa: E731
    x1 = torch.randn(2, 1, 4, 4, generator=G(3))
    for shift in (1.0, 3.0):
        ours = sample(model, FlowEulerSampler(LinearPath(), 6, shift=shift), x1)
        grid = flow_timesteps(6, shift)
        x = x1.clone()
        for t, t_next in zip(grid[:-1], grid[1:]):  # Eq. 11.5 by hand
            x = x + (t_next - t) * model(x, torch.full((2,), t * 1000.0), None)
        sched = FlowMatchEulerDiscreteScheduler(shift=shift)
        sched.set_timesteps(sigmas=torch.linspace(1, 0, 7)[:-1].tolist())
        assert torch.allclose(sched.sigmas.double(), torch.tensor(grid, dtype=torch.float64), atol=1e-6)
        xd = x1.clone()
        with torch.no_grad():
            for ts in sched.timesteps:
                xd = sched.step(model(xd, ts.expand(2).float(), None), ts, xd).prev_sample
        assert torch.allclose(ours, x, atol=1e-5) and torch.allclose(ours, xd, atol=1e-5)


def test_nfe_is_counted_and_the_flow_samplers_refuse_the_wrong_process():
    path = LinearPath()
    assert steps_for_nfe("flow_midpoint", 8) == 4 and SAMPLERS["flow_midpoint"].nfe_for(4) == 8
    assert steps_for_nfe("flow_heun", 8) == 4 and SAMPLERS["flow_heun"].nfe_for(4) == 7  # the last step is Euler
    for name, nfe in (("flow_midpoint", 6), ("flow_heun", 5), ("flow_euler", 3)):
        s = make_sampler(name, path, 3, "velocity")
        sample(lambda x, t, c: -x, s, torch.zeros(1, 2))
        assert s.nfe == nfe and s.pairs()[-1][1] == 0.0 and s.timesteps[0] == 1.0
    with pytest.raises(TypeError, match="must be a LinearPath"):
        make_sampler("flow_euler", GaussianDiffusion(make_beta_schedule("cosine", 10)), 2, "velocity")
    with pytest.raises(ValueError, match="prediction must be 'velocity'"):
        make_sampler("flow_euler", path, 2, "eps")
    with pytest.raises(TypeError, match="must be a GaussianDiffusion"):
        make_sampler("ddim", path, 2)
    with pytest.raises(ValueError, match="0 <= t_prev < t <= 1"):
        s.step(torch.zeros(1, 2), 0.2, 0.5, torch.zeros(1, 2))


def test_the_x0_hook_acts_on_x0_and_the_velocity_follows():
    path = LinearPath(time_scale=1.0)
    x1 = torch.full((1, 1), 3.0)
    clipped = sample(lambda x, t, c: x, FlowEulerSampler(path, 1), x1, x0_transform=lambda x0, ctx: x0.clamp(-1, 1))
    # one step from t = 1 lands on x̂₀ = x₁ − 1·v = 0, inside [-1, 1]; with v = 2x it would land on −3 → clipped to −1
    assert float(clipped) == 0.0
    clipped = sample(lambda x, t, c: 2 * x, FlowEulerSampler(path, 1), x1, x0_transform=lambda x0, ctx: x0.clamp(-1, 1))
    assert float(clipped) == -1.0
    traj = euler_trajectory(lambda x, t, c: x, path, x1, steps=4)
    assert traj.shape == (5, 1, 1) and float(traj[0]) == 3.0


# ------------------------------------------------------------------ the method
def test_the_flow_method_differs_from_sr3_in_the_path_and_the_target_only():
    flow, sr3 = get_method("flow_sr").example(), get_method("sr3").example()
    assert flow["model"] == sr3["model"]
    trainer = Trainer(flow, "cpu")
    assert isinstance(trainer.diffusion, LinearPath) and trainer.model.prediction == "velocity"
    trainer.train(progress=False)
    batch = trainer.next_batch()
    x1 = torch.randn_like(batch["x"])
    coupled = trainer.method.loss(trainer.model, trainer.diffusion, {**batch, "x1": x1}, G(4))
    x0 = trainer.model.target(batch["x"], batch["y"])
    assert torch.allclose(coupled, trainer.diffusion.loss(trainer.model, x0, batch["y"], x1=x1, generator=G(4)))
    y = batch["y"][:2]
    trainer.method.restore(trainer.ema, trainer.diffusion, y, seeds=[0, 1])
    assert trainer.method.last_nfe == 50  # Euler-50: DDIM-50's NFE
    trainer.method.restore(trainer.ema, trainer.diffusion, y, seeds=[0, 1], sampler="flow_midpoint", steps=3, shift=2.0)
    assert trainer.method.last_nfe == 6


def test_a_flow_config_is_checked_where_it_is_read():
    good = get_method("flow_sr").example()
    with pytest.raises(ValueError, match="expected 'velocity'"):
        TrainConfig.from_dict({**good, "prediction": "x0"})
    with pytest.raises(ValueError, match="time_distribution must be one of"):
        TrainConfig.from_dict({**good, "model": {**good["model"], "time_distribution": "cosine"}})
    with pytest.raises(ValueError, match="source_noise must be a number > 0"):
        TrainConfig.from_dict({**good, "model": {**good["model"], "source_noise": 0}})
    with pytest.raises(ValueError, match="prediction must be one of"):  # a diffusion method still refuses it
        TrainConfig.from_dict({**get_method("sr3").example(), "prediction": "velocity"})


def test_the_lr_to_hr_path_starts_from_its_small_source(monkeypatch):
    import course_lib.methods.sr3 as sr3_module
    from course_lib.device import per_image_generators, randn

    config = get_method("flow_sr").example()
    config["model"] = {**config["model"], "source_noise": 0.25}
    trainer = Trainer(config, "cpu")
    assert trainer.diffusion.source_noise == 0.25
    seen, inner = {}, sr3_module.sample
    monkeypatch.setattr(
        sr3_module,
        "sample",
        lambda m, s, x_T, *a, **k: seen.setdefault("x_T", x_T) is None or inner(m, s, x_T, *a, **k),
    )
    trainer.method.restore(trainer.ema, trainer.diffusion, trainer.next_batch()["y"][:1], seeds=[7], steps=2)
    assert torch.equal(seen["x_T"], 0.25 * randn((1, 1, 32, 32), per_image_generators([7]), "cpu"))
