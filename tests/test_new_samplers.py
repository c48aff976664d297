"""Lesson 06's samplers (PNDM/PLMS, DPM-Solver++(2M), Euler, Heun, Euler–Maruyama, PF-ODE Euler) and the SDE view:
whole runs against diffusers' schedulers, identities (PNDM's transfer = DDIM, Euler in σ̃ = DDIM), honest NFE counts,
and the Gaussian toy, where the exact answer is known in closed form (convergence orders, the SDE's distribution)."""

import math

import pytest
import torch

from course_lib.diffusion import GaussianDiffusion
from course_lib.samplers import SAMPLERS, DDIMSampler, Trajectory, ddim_timesteps, make_sampler, sample
from course_lib.samplers.continuous import last_unclipped_index
from course_lib.samplers.ddim import ddim_update
from course_lib.samplers.pndm import adams_bashforth, transfer
from course_lib.schedules import make_beta_schedule
from course_lib.sde import VPSDE, em_step, score_from_eps, tweedie_x0

diffusers = pytest.importorskip("diffusers")
T = 1000
NEW = ["pndm", "dpmpp_2m", "euler", "heun", "euler_maruyama", "ode_euler"]


def _process(name="cosine", dtype=torch.float64):
    return GaussianDiffusion(make_beta_schedule(name, T), dtype=dtype)


class Toy:
    """A smooth, nonlinear, t-dependent stand-in for a network: ε̂(x, t) (or the x̂₀ / v it implies)."""

    def __init__(self, process, prediction="eps"):
        self.ab, self.prediction = process.alpha_bars, prediction

    def eps(self, x, t):
        """The exact ε̂ of N(0.3, 0.5²) data plus a bounded nonlinear part that vanishes at both ends, so that x̂₀
        stays of the data's size (as a trained network's does) while the samplers still disagree."""
        ab = self.ab[int(t)].to(x.dtype)
        exact = (1 - ab).sqrt() * (x - ab.sqrt() * 0.3) / (ab * 0.25 + 1 - ab)
        return exact + 0.3 * (ab * (1 - ab)).sqrt() * torch.tanh(1.3 * x + 0.5 * x.roll(1, -1))

    def __call__(self, x, t, cond=None):
        t0 = int(t[0]) if isinstance(t, torch.Tensor) and t.dim() else int(t)
        e, ab = self.eps(x, t0), self.ab[t0]
        if self.prediction == "eps":
            return e
        x0 = (x - (1 - ab).sqrt() * e) / ab.sqrt()
        return x0 if self.prediction == "x0" else ab.sqrt() * e - (1 - ab).sqrt() * x0


def _x_T(seed=0, shape=(3, 1, 4, 4)):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _betas(p):
    return p.betas.double().numpy()


# ---------------------------------------------------------------------- identities
@pytest.mark.parametrize("t,t_prev", [(999, 979), (500, 300), (40, 0), (19, -1)])
def test_pndm_transfer_is_ddim_eta_0(t, t_prev):
    p = _process()
    x, eps = _x_T(1), _x_T(2)
    ab_t = p.alpha_bars[t]
    ab_p = p.alpha_bars[t_prev] if t_prev >= 0 else torch.tensor(1.0, dtype=torch.float64)
    a, b = transfer(x, eps, ab_t, ab_p), ddim_update(x, eps, ab_t, ab_p, torch.tensor(0.0, dtype=torch.float64))
    assert torch.allclose(a, b, rtol=1e-9, atol=1e-9)


def test_adams_bashforth_is_exact_on_polynomials_of_its_order():
    # AB of order k integrates a polynomial of degree k − 1 exactly: the weights extrapolate it to the step's midpoint…
    # here the defining property: Σ c_i = 1 for every order (a constant ε is reproduced)
    for k in range(1, 5):
        hist = [torch.full((2,), 3.0) for _ in range(k)]
        assert torch.allclose(adams_bashforth(hist), torch.full((2,), 3.0))
    with pytest.raises(ValueError, match="history"):
        adams_bashforth([])


@pytest.mark.parametrize("steps", [1, 7, 50])
def test_euler_in_sigma_is_ddim(steps):
    p, toy = _process(), None
    toy = Toy(p)
    a = sample(toy, make_sampler("euler", p, steps), _x_T(3))
    b = sample(toy, DDIMSampler(p, steps), _x_T(3))
    assert torch.allclose(a, b, rtol=1e-7, atol=1e-7)  # (one step from t = 999 divides by √ᾱ ≈ 5e-5: |x̂₀| ~ 1e4)


def test_first_order_dpm_solver_step_is_ddim():
    p = _process()
    toy = Toy(p)
    a = sample(toy, make_sampler("dpmpp_2m", p, 1), _x_T(4))  # one step: first order, to x̂₀
    b = sample(toy, DDIMSampler(p, 1), _x_T(4))
    assert torch.allclose(a, b, rtol=1e-8, atol=1e-8)
    s = make_sampler("dpmpp_2m", p, 10)
    x = _x_T(5)
    first = s.step(toy(x, torch.tensor([999])), 999, s.timesteps[1], x).prev_sample
    ddim = DDIMSampler(p, 10).step(toy(x, torch.tensor([999])), 999, s.timesteps[1], x).prev_sample
    assert torch.allclose(first, ddim, rtol=1e-8, atol=1e-8)


# ---------------------------------------------------------------------- NFE, honestly counted
@pytest.mark.parametrize(
    "name,options,steps,nfe",
    [
        ("pndm", {"warmup": "prk"}, 20, 29),
        ("pndm", {"warmup": "prk"}, 50, 59),
        ("pndm", {"warmup": "plms"}, 20, 21),
        ("heun", {}, 10, 19),
        ("dpmpp_2m", {}, 10, 10),
        ("euler", {}, 10, 10),
        ("euler_maruyama", {}, 100, 100),
        ("ode_euler", {}, 30, 30),
    ],
)
def test_every_network_evaluation_is_counted(name, options, steps, nfe):
    p = _process()
    calls = []

    def model(x, t, cond=None):
        calls.append(int(t[0]))
        return Toy(p)(x, t)

    s = make_sampler(name, p, steps, **options)
    sample(model, s, _x_T(6), generator=torch.Generator().manual_seed(0))
    assert s.nfe == len(calls) == nfe


def test_the_vp_time_samplers_stop_at_the_clipped_end():
    p = _process("cosine")
    assert last_unclipped_index(p) == T - 2 and p.betas[T - 1] >= 0.999 - 1e-9
    assert last_unclipped_index(_process("linear")) == T - 1
    s = make_sampler("euler_maruyama", p)
    assert s.timesteps[0] == T - 2 and s.timesteps[-1] == 0 and s.steps == T - 1
    with pytest.raises(ValueError, match="at most 999"):
        make_sampler("ode_euler", p, 1000)


# ---------------------------------------------------------------------- whole runs against diffusers
# diffusers computes ᾱ in float32 from our β (its cumprod rounds differently): whole runs agree to ~1e-4, while a
# wrong order, warm-up or timestep is off by 1e-2 or more (the next test shows the schemes differ that much).
ATOL = 2e-3


def test_the_schemes_differ_by_more_than_the_tolerance():
    p = _process()
    toy = Toy(p)
    outs = [
        sample(toy, make_sampler(n, p, 10, **o), _x_T(7))
        for n, o in (("ddim", {}), ("pndm", {"warmup": "plms"}), ("dpmpp_2m", {}), ("heun", {"spacing": "trailing"}))
    ]
    gaps = [(a - b).abs().max().item() for i, a in enumerate(outs) for b in outs[i + 1 :]]
    assert min(gaps) > 5 * ATOL, gaps


@pytest.mark.parametrize("schedule,spacing", [("cosine", "leading"), ("linear", "trailing"), ("linear", "leading")])
@pytest.mark.parametrize("skip_prk", [True, False])
@pytest.mark.parametrize("steps", [10, 20, 50])
def test_pndm_against_diffusers(schedule, spacing, skip_prk, steps):
    p = _process(schedule)
    toy = Toy(p)
    sch = diffusers.PNDMScheduler(
        num_train_timesteps=T,
        trained_betas=_betas(p),
        skip_prk_steps=skip_prk,
        set_alpha_to_one=True,
        timestep_spacing=spacing,
    )
    sch.set_timesteps(steps)
    x = _x_T(7)
    for t in sch.timesteps:
        x = sch.step(toy.eps(x, int(t)), t, x).prev_sample
    s = make_sampler("pndm", p, steps, warmup="plms" if skip_prk else "prk", spacing=spacing)
    mine = sample(toy, s, _x_T(7))
    assert s.nfe == len(sch.timesteps)  # the same evaluations, warm-up included
    assert torch.allclose(mine, x, atol=ATOL)


def test_pndm_from_the_cosine_schedules_clipped_end_is_ill_conditioned():
    """Trailing spacing starts at t = T − 1 (σ̃ ≈ 2·10⁴): the warm-up's ε′ moves x̂₀ by σ̃ (ε̂_t − ε′) — diffusers'
    PNDMScheduler does the same. That is why PNDM's default here is its own "leading" spacing."""
    p = _process("cosine")
    toy = Toy(p)
    bad = sample(toy, make_sampler("pndm", p, 10, spacing="trailing"), _x_T(7))
    good = sample(toy, make_sampler("pndm", p, 10), _x_T(7))
    ref = sample(toy, DDIMSampler(p, 200), _x_T(7))
    assert (good - ref).abs().max() < 0.5 < (bad - ref).abs().max()


@pytest.mark.parametrize("prediction", ["eps", "x0", "v"])
@pytest.mark.parametrize("steps", [5, 10, 20, 25])
def test_dpm_solver_pp_2m_against_diffusers(prediction, steps):
    p = _process()
    sch = diffusers.DPMSolverMultistepScheduler(
        num_train_timesteps=T,
        trained_betas=_betas(p),
        solver_order=2,
        algorithm_type="dpmsolver++",
        solver_type="midpoint",
        timestep_spacing="trailing",
        final_sigmas_type="zero",
        lower_order_final=True,
        prediction_type={"eps": "epsilon", "x0": "sample", "v": "v_prediction"}[prediction],
    )
    sch.set_timesteps(steps)
    s = make_sampler("dpmpp_2m", p, steps, prediction=prediction)
    assert sch.timesteps.tolist() == s.timesteps
    toy = Toy(p, prediction)
    x = _x_T(8)
    for t in sch.timesteps:
        x = sch.step(toy(x, torch.tensor([int(t)])), t, x).prev_sample
    assert torch.allclose(sample(toy, s, _x_T(8)), x, atol=ATOL)


@pytest.mark.parametrize("name,cls", [("euler", "EulerDiscreteScheduler"), ("heun", "HeunDiscreteScheduler")])
@pytest.mark.parametrize("schedule", ["linear", "cosine"])
@pytest.mark.parametrize("steps", [4, 10, 25])
def test_euler_and_heun_against_diffusers(name, cls, schedule, steps):
    if name == "heun" and schedule == "cosine":
        pytest.skip(
            "from the cosine schedule's σ̃ ≈ 2·10⁴ Heun's correction amplifies float32 rounding 10⁴×: "
            "compared on the linear schedule (σ̃_max ≈ 157); its default Karras spacing avoids that start"
        )
    p = _process(schedule)
    sch = getattr(diffusers, cls)(num_train_timesteps=T, trained_betas=_betas(p), timestep_spacing="trailing")
    sch.set_timesteps(steps)
    toy = Toy(p)
    x = _x_T(9) * sch.init_noise_sigma  # diffusers works in x̃ = x/α
    for t in sch.timesteps:
        x = sch.step(toy.eps(sch.scale_model_input(x, t), round(float(t))), t, x).prev_sample
    s = make_sampler(name, p, steps, spacing="trailing")
    mine = sample(toy, s, _x_T(9))
    assert s.nfe == len(sch.timesteps)
    assert torch.allclose(mine, x.to(mine.dtype), atol=ATOL)


def test_karras_spacing():
    p = _process()
    ts = make_sampler("heun", p, 10).timesteps
    assert len(ts) == 10 and all(a > b for a, b in zip(ts, ts[1:])) and ts[-1] == 0
    sig = ((1 - p.alpha_bars) / p.alpha_bars).sqrt()
    assert 60 < sig[ts[0]] < 100  # σ̃_max = 80, located on the chain
    gaps = [a - b for a, b in zip(ts, ts[1:])]
    # in index units the steps are dense at both ends: near σ̃_max because σ̃ grows fast with the index there, near
    # σ̃_min because ρ = 7 crowds the steps at low noise (Karras et al.'s point)
    assert gaps[0] < gaps[len(gaps) // 2] and gaps[-1] <= gaps[len(gaps) // 2]
    with pytest.raises(ValueError, match="karras"):
        ddim_timesteps(T, 10, "karras")


def _score_sde_vp():
    from diffusers.schedulers.deprecated.scheduling_sde_vp import ScoreSdeVpScheduler

    return ScoreSdeVpScheduler


def test_euler_maruyama_step_against_diffusers_score_sde_vp():
    sch = _score_sde_vp()(num_train_timesteps=1000, beta_min=0.1, beta_max=20, sampling_eps=1e-3)
    sch.set_timesteps(1000)
    sde = VPSDE("linear", 0.1, 20)
    x, eps = _x_T(10).float(), _x_T(11).float()
    for t in (1.0, 0.5, 0.01):
        tt = torch.tensor([t])
        ref, ref_mean = sch.step_pred(eps, x, tt, generator=torch.Generator().manual_seed(3))
        z = torch.randn(x.shape, generator=torch.Generator().manual_seed(3))
        std = sde.marginal(tt)[1].float()
        mine, mean = em_step(x, score_from_eps(eps, std), sde.beta(tt).float(), 1 / 1000, z)
        assert torch.allclose(mean, ref_mean, rtol=1e-5, atol=1e-5) and torch.allclose(mine, ref, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------- the SDE view
def test_linear_vp_sde_matches_ddpm_within_the_sum_of_squared_betas():
    p = _process("linear")
    sde = VPSDE.for_process(p)
    assert sde.schedule == "linear" and sde.beta_min == pytest.approx(0.1) and sde.beta_max == pytest.approx(20.0)
    ti = torch.arange(1, T + 1, dtype=torch.float64) / T
    gap = (sde.log_alpha_bar(ti) - p.alpha_bars.log()).abs()
    # log ∏(1 − β) = −Σβ − ½Σβ² − …; −∫β differs from −Σβ by the Riemann error of a linear β, O(Δβ) per unit time
    budget = (p.betas**2).cumsum(0) + (p.betas[-1] - p.betas[0])
    assert (gap <= budget).all()
    assert gap.max() > 1e-4  # they are not the same: the SDE is the chain's continuous limit


def test_cosine_vp_sde_beta_is_minus_dlog_alpha_bar_and_diverges():
    sde = VPSDE("cosine")
    t = torch.linspace(0.05, 0.95, 19, dtype=torch.float64)
    h = 1e-6
    fd = -(sde.log_alpha_bar(t + h) - sde.log_alpha_bar(t - h)) / (2 * h)
    assert torch.allclose(sde.beta(t), fd, rtol=1e-6)
    assert sde.beta(torch.tensor(0.999, dtype=torch.float64)) > 1000 > sde.beta(torch.tensor(0.9, dtype=torch.float64))
    p = _process("cosine")
    assert VPSDE.for_process(p).schedule == "cosine"
    ti = torch.arange(1, T + 1, dtype=torch.float64) / T
    assert torch.allclose(sde.alpha_bar(ti[:-1]), p.alpha_bars[:-1], rtol=1e-9)  # exact but for the clipped end


def test_time_and_index_through_alpha_bar():
    p = _process("cosine")
    sde = VPSDE.for_process(p)
    t = sde.index_to_t(p)
    assert torch.allclose(sde.alpha_bar(t), p.alpha_bars, rtol=1e-9)
    assert torch.allclose(t[:-1], torch.arange(1, T, dtype=torch.float64) / T, atol=1e-9)  # (i + 1)/T, not i/(T − 1)
    assert t[-1] < 1  # the clipped end sits just below 1
    assert torch.equal(sde.t_to_index(p, t), torch.arange(T))
    # the shortcut of the linear SDE's code, index = t·(T − 1), lands elsewhere for these times
    assert (torch.round(t * (T - 1)).long() != torch.arange(T)).sum() > 400
    # and a linear SDE's time read with a cosine-trained network's indices is far off: compare ᾱ at t = 0.5
    lin = VPSDE("linear")
    assert abs(lin.alpha_bar(0.5).item() - sde.alpha_bar(0.5).item()) > 0.4


def test_score_sign_and_tweedie_is_eq_02_2():
    p = _process()
    x, eps = _x_T(12), _x_T(13)
    t = torch.full((3,), 400)
    ab = p.alpha_bars[400]
    s = score_from_eps(eps, (1 - ab).sqrt())
    assert torch.allclose(tweedie_x0(x, s, ab), p.predict_x0_from_eps(x, t, eps))
    # the score of N(0, I) at x is −x: a point beyond the mean is pushed back
    assert torch.allclose(score_from_eps(x, torch.tensor(1.0, dtype=torch.float64)), -x)


def test_bad_input_is_named():
    p = _process()
    with pytest.raises(ValueError, match="warmup"):
        make_sampler("pndm", p, 10, warmup="rk4")
    with pytest.raises(ValueError, match="schedule"):
        VPSDE("quadratic")
    with pytest.raises(ValueError, match="alpha_bar"):
        VPSDE("cosine").t_of_alpha_bar(torch.tensor([0.0]))
    with pytest.raises(ValueError, match="no VP-SDE"):
        VPSDE.for_process(GaussianDiffusion(torch.full((T,), 0.01, dtype=torch.float64)))


# ---------------------------------------------------------------------- the Gaussian toy: exact answers
MU, S = 0.3, 0.5


class GaussianScore:
    """The exact ε̂ for data x₀ ~ N(μ, s²): E[ε | x_t] = √(1−ᾱ)(x_t − √ᾱ μ)/(ᾱ s² + 1 − ᾱ)."""

    def __init__(self, process):
        self.ab = process.alpha_bars

    def __call__(self, x, t, cond=None):
        ab = self.ab[t].reshape(-1, *([1] * (x.dim() - 1))).to(x.dtype)
        return (1 - ab).sqrt() * (x - ab.sqrt() * MU) / (ab * S**2 + 1 - ab)


def _exact(process, x_T, t_start, t_end):
    """The PF-ODE of a Gaussian keeps the standardised coordinate z = (x − √ᾱ μ)/√(ᾱs² + 1 − ᾱ): the exact state at
    index ``t_end`` of the flow that starts at ``x_T`` at index ``t_start``."""
    a0, a1 = process.alpha_bars[t_start], process.alpha_bars[t_end]
    z = (x_T - a0.sqrt() * MU) / (a0 * S**2 + 1 - a0).sqrt()
    return a1.sqrt() * MU + (a1 * S**2 + 1 - a1).sqrt() * z


def _toy_error(name, steps, p, x):
    s = make_sampler(name, p, steps) if name == "ode_euler" else make_sampler(name, p, steps, spacing="leading")
    tr = Trajectory(1)
    sample(GaussianScore(p), s, x, callback=tr)
    return (tr.x_t[-2] - _exact(p, x, s.timesteps[0], s.timesteps[-1])).abs().max().item(), s.nfe


@pytest.mark.parametrize(
    "name,order,grid",
    [
        ("euler", 1, (25, 50, 100)),
        ("ode_euler", 1, (100, 200, 400)),
        ("heun", 2, (25, 50, 100)),
        ("dpmpp_2m", 2, (25, 50, 100)),
    ],
)
def test_convergence_order_on_the_gaussian_toy(name, order, grid):
    """Error at the last timestep (before the final jump to x̂₀, a denoise, not an ODE step) against the exact flow:
    halving the step divides it by 2^order. Leading spacing (T/steps exact) for the solvers that take a spacing."""
    p = _process()
    x = torch.linspace(-2.5, 2.5, 41, dtype=torch.float64).reshape(41, 1)
    errs = {steps: _toy_error(name, steps, p, x)[0] for steps in grid}
    slopes = [math.log2(errs[a] / errs[b]) for a, b in zip(grid, grid[1:])]
    assert all(sl > order - 0.3 for sl in slopes), (errs, slopes)
    if order == 1:
        assert all(sl < 1.3 for sl in slopes), (errs, slopes)  # and no better: first order is first order


def test_pndm_beats_ddim_at_more_evaluations_on_the_gaussian_toy():
    p = _process()
    x = torch.linspace(-2.5, 2.5, 41, dtype=torch.float64).reshape(41, 1)
    err_pndm, nfe_pndm = _toy_error("pndm", 25, p, x)
    err_ddim, nfe_ddim = _toy_error("euler", 50, p, x)
    assert nfe_pndm == 34 < nfe_ddim and err_pndm < err_ddim / 10


def test_the_reverse_sde_samples_the_data_distribution_on_the_gaussian_toy():
    p = _process()
    n = 20_000
    x_T = torch.randn(n, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    out = sample(
        GaussianScore(p), make_sampler("euler_maruyama", p, 500), x_T, generator=torch.Generator().manual_seed(1)
    )
    se_mean, se_std = S / math.sqrt(n), S / math.sqrt(2 * n)
    assert abs(out.mean().item() - MU) < 5 * se_mean + 0.01
    assert abs(out.std().item() - S) < 5 * se_std + 0.02
    ode = sample(GaussianScore(p), make_sampler("dpmpp_2m", p, 20), x_T)
    assert abs(ode.std().item() - S) < 5 * se_std + 0.01  # the ODE too, deterministically, with 20 evaluations


@pytest.mark.parametrize("name", NEW)
def test_x0_and_v_networks_give_the_eps_networks_answer(name):
    p = _process()
    outs = {}
    for pred in ("eps", "x0", "v"):
        s = make_sampler(name, p, 12 if name not in ("euler_maruyama", "ode_euler") else 50, prediction=pred)
        outs[pred] = sample(Toy(p, pred), s, _x_T(14), generator=torch.Generator().manual_seed(2))
    assert torch.allclose(outs["x0"], outs["eps"], rtol=1e-5, atol=1e-5)
    assert torch.allclose(outs["v"], outs["eps"], rtol=1e-5, atol=1e-5)


def test_the_registry_holds_the_new_samplers():
    assert set(NEW) <= set(SAMPLERS)


@pytest.mark.parametrize(
    "name,options",
    [
        ("pndm", {"warmup": "prk"}),
        ("pndm", {"warmup": "plms"}),
        ("heun", {}),
        ("ddim", {}),
        ("dpmpp_2m", {}),
        ("consistency", {}),
    ],
)
@pytest.mark.parametrize("steps", [1, 2, 3, 4, 9])
def test_nfe_for_is_what_the_loop_counts(name, options, steps):
    p = _process()
    s = make_sampler(name, p, steps, prediction="x0" if name == "consistency" else "eps", **options)
    sample(Toy(p, s.prediction), s, _x_T(15), generator=torch.Generator().manual_seed(0))
    assert type(s).nfe_for(steps, **options) == s.nfe


def test_steps_for_nfe():
    from course_lib.samplers import steps_for_nfe

    assert steps_for_nfe("heun", 19) == 10 and steps_for_nfe("pndm", 20, warmup="plms") == 19
    assert steps_for_nfe("pndm", 20, warmup="prk") == 11 and steps_for_nfe("ddim", 7) == 7
    with pytest.raises(ValueError, match="nfe: expected an int >= 1"):
        steps_for_nfe("ddim", 0)
