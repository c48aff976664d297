"""Every registered sampler and method keeps the contract of the pluggable core (one loop, per-image seeds, NFE,
devices); a throwaway sampler and a throwaway method defined here run through the loop, the trainer, the shipped-
model loader and the evaluation harness without editing any other module; a PNDM-style warm-up and a RePaint-style
time-travel schedule run through the one loop."""

import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.datasets import DigitsSR, load_training_set
from course_lib.device import per_image_generators, randn
from course_lib.diffusion import GaussianDiffusion
from course_lib.methods import METHODS, Method, MethodConfig, register_method
from course_lib.samplers import (
    SAMPLERS,
    DDIMSampler,
    Sampler,
    StepOutput,
    alpha_bar_at,
    generate,
    make_sampler,
    register_sampler,
    sample,
)
from course_lib.samplers.ddim import ddim_update
from course_lib.paths import LinearPath
from course_lib.samplers.flow import FlowSampler
from course_lib.schedules import make_beta_schedule
from course_lib.engine.train import TrainConfig, Trainer

ROOT = Path(__file__).resolve().parent.parent
T = 50
TARGET = torch.tensor([0.5, -0.25, 0.9])


def _process(device):
    return GaussianDiffusion(make_beta_schedule("cosine", T)).to(device)


class Oracle:
    """The optimal ε̂ when the data is one point x*: (x_t − √ᾱ x*) / √(1 − ᾱ) — or, on lesson 11's linear path, the
    optimal velocity (x_t − x*)/t (Eq. 11.7). Counts its calls."""

    def __init__(self, process):
        self.process, self.calls = process, 0

    def __call__(self, x, t, cond):
        self.calls += 1
        target = TARGET.to(x.device).expand_as(x)
        if isinstance(self.process, LinearPath):
            return self.process.velocity_from_x0(x, t / self.process.time_scale, target)
        return self.process.predict_eps_from_x0(x, t, target)


def _process_for(name, device):
    """The process sampler ``name`` drives: the VP chain, or lesson 11's linear path for a flow sampler."""
    return LinearPath().to(device) if issubclass(SAMPLERS[name], FlowSampler) else _process(device)


def _sampler_cases():
    for name in sorted(SAMPLERS):
        cls = SAMPLERS[name]
        yield name, None
        if cls.default_steps is None or cls.default_steps != 7:
            yield name, 7


# ------------------------------------------------------------------ samplers
@pytest.mark.parametrize("name,steps", list(_sampler_cases()))
def test_every_sampler_keeps_the_contract(name, steps, device):
    process = _process_for(name, device)
    flow = isinstance(process, LinearPath)
    prediction = "velocity" if flow else "eps"
    sampler = make_sampler(name, process, steps, prediction)
    if flow:  # float times from 1 (the source) to 0 (the data)
        assert all(0 < t <= 1 for t in sampler.timesteps) and sampler.pairs()[-1][1] == 0.0
    else:
        assert all(0 <= t < T for t in sampler.timesteps) and sampler.pairs()[-1][1] == -1
    oracle = Oracle(process)
    gens = per_image_generators([11, 12, 13])
    x_T = randn((3, 3), gens, device)
    out = sample(oracle, sampler, x_T, generator=gens)
    # shape, device, NFE counted by the loop = network calls ≥ steps that go down the chain (Heun's second
    # evaluation and PNDM's warm-up call the network within a step: tests/test_new_samplers.py counts them exactly)
    assert out.shape == (3, 3) and out.device.type == torch.device(device).type
    down = sum(tp < t for t, tp in sampler.pairs())
    assert sampler.nfe == oracle.calls >= down
    if name not in ("heun", "pndm", "flow_heun", "flow_midpoint"):
        assert sampler.nfe == down
    # it samples the data: with one data point every sampler must end on it
    assert torch.allclose(out, TARGET.to(device).expand(3, 3), atol=5e-3)

    # image i's result does not depend on its batch: each alone, from its own seed, gives the same
    # (a model that does not collapse every start onto one point, so that differences would show)
    def damped(x, t, cond):
        return 0.5 * x + 0.01 * t.float().reshape(-1, *([1] * (x.dim() - 1)))

    gens = per_image_generators([11, 12, 13])
    out = sample(damped, make_sampler(name, process, steps, prediction), randn((3, 3), gens, device), generator=gens)
    for i, seed in enumerate([11, 12, 13]):
        g = per_image_generators([seed])
        alone = sample(damped, make_sampler(name, process, steps, prediction), randn((1, 3), g, device), generator=g)
        assert torch.equal(alone[0], out[i])
    # seeds matter exactly when the sampler draws noise after x_T
    gens, gens2 = per_image_generators([11, 12, 13]), per_image_generators([21, 22, 23])
    x_T = randn((3, 3), gens, device)
    a = sample(damped, make_sampler(name, process, steps, prediction), x_T, generator=gens)
    b = sample(damped, make_sampler(name, process, steps, prediction), x_T, generator=gens2)
    assert torch.equal(a, b) == (not make_sampler(name, process, steps, prediction).stochastic)


def test_sampler_bad_arguments_are_named():
    process = _process("cpu")
    with pytest.raises(ValueError, match="sampler must be one of"):
        make_sampler("euler_maruyama_typo", process)
    with pytest.raises(ValueError, match=r"steps: expected an int in 1 … 50"):
        make_sampler("ddim", process, 51)
    with pytest.raises(TypeError, match="process must be a GaussianDiffusion"):
        DDIMSampler("not a process")
    with pytest.raises(TypeError, match="sampler must be a Sampler"):
        sample(Oracle(process), "ddim", torch.zeros(2, 3))
    with pytest.raises(ValueError, match="one generator per image"):
        randn((3, 2), per_image_generators([1, 2]))


@pytest.fixture
def scratch_registries():
    """Throwaway registrations are removed again after the test."""
    samplers, methods = dict(SAMPLERS), dict(METHODS)
    yield
    SAMPLERS.clear()
    SAMPLERS.update(samplers)
    METHODS.clear()
    METHODS.update(methods)


def test_a_throwaway_sampler_runs_through_the_loop_and_every_front_door(scratch_registries, device):
    """A Heun-style DDIM (two network evaluations a step, through the ``model`` argument) registered here only."""

    @register_sampler
    class HeunDDIM(DDIMSampler):
        name = "heun_ddim_test"

        def step(self, model_output, t, t_prev, x_t, *, generator=None, x0_transform=None, model=None, noise=None):
            first = super().step(model_output, t, t_prev, x_t, x0_transform=x0_transform)
            if t_prev < 0:
                return first
            second = model(first.prev_sample, t_prev)  # one more evaluation, counted by the loop
            return super().step(0.5 * (model_output + second), t, t_prev, x_t, x0_transform=x0_transform)

    process = _process(device)
    oracle = Oracle(process)
    sampler = make_sampler("heun_ddim_test", process, 10)
    out = sample(oracle, sampler, torch.randn(4, 3, generator=torch.Generator().manual_seed(0)).to(device))
    assert sampler.nfe == oracle.calls == 2 * 10 - 1
    assert torch.allclose(out, TARGET.to(device).expand(4, 3), atol=5e-3)
    # lesson 02's front door finds it by name
    again = generate(
        oracle,
        process,
        (4, 3),
        sampler="heun_ddim_test",
        steps=10,
        progress=False,
        clip_x0=False,
        generator=torch.Generator(device=device).manual_seed(0),
    )
    assert again.shape == (4, 3)
    # and so does SR sampling (a shipped SR3 with 3 Heun steps)
    from course_lib.methods.sr3 import super_resolve
    from course_lib.engine.pretrained import load_sr_model

    model, diffusion, _ = load_sr_model("digits_sr3_concat", device)
    _, y = DigitsSR("test", 4).tensors([0, 100])
    sr = super_resolve(model, diffusion, y.to(device), sampler="heun_ddim_test", steps=3, seeds=[1, 2], progress=False)
    assert sr.shape == (2, 1, 32, 32) and sr.abs().max() <= 1


class PseudoRKPLMS(Sampler):
    """F-PNDM (Liu et al., ICLR 2022) in miniature: three pseudo Runge–Kutta warm-up steps of 4 evaluations each (the
    midpoint evaluations go through the ``model`` argument), then the 4th-order linear multistep on the ε history
    (55, −59, 37, −9)/24; the transfer φ is DDIM η = 0."""

    name = "plms_test"
    default_steps = 10

    def make_timesteps(self):
        # start one below T − 1: there ᾱ ≈ 1e-6, and the x̂₀-form transfer would amplify float rounding by
        # 1/√ᾱ ≈ 1000 (the end point then moved by ~5e-3 between CPUs); at t = T − 2, 1/√ᾱ ≈ 32
        step = (T - 2) // self.steps
        return list(range(T - 2, 0, -step))[: self.steps]

    def reset(self):
        self.ets = []

    def _phi(self, x, eps, t, t_prev):
        ab = alpha_bar_at(self.process, torch.full((x.shape[0],), t, device=x.device), x)
        ab_prev = alpha_bar_at(self.process, torch.full((x.shape[0],), t_prev, device=x.device), x)
        return ddim_update(x, eps, ab, ab_prev, torch.zeros_like(ab))

    def step(self, model_output, t, t_prev, x_t, *, generator=None, x0_transform=None, model=None, noise=None):
        if len(self.ets) < 3 and t_prev >= 0:  # pseudo Runge–Kutta: 3 more evaluations at the midpoint and the end
            mid = (t + t_prev) // 2
            e1 = model_output
            e2 = model(self._phi(x_t, e1, t, mid), mid)
            e3 = model(self._phi(x_t, e2, t, mid), mid)
            e4 = model(self._phi(x_t, e3, t, t_prev), t_prev)
            self.ets.append(e1)
            eps = (e1 + 2 * e2 + 2 * e3 + e4) / 6
        else:
            self.ets.append(model_output)
            e = self.ets
            eps = (55 * e[-1] - 59 * e[-2] + 37 * e[-3] - 9 * e[-4]) / 24 if len(e) >= 4 else model_output
        x0 = self.process.predict_x0_from_eps(x_t, torch.full((x_t.shape[0],), t, device=x_t.device), eps)
        return StepOutput(self._phi(x_t, eps, t, t_prev), x0)


def test_a_pndm_style_warm_up_runs_through_the_one_loop(device):
    process = _process(device)
    sampler = PseudoRKPLMS(process, 10)
    oracle = Oracle(process)
    out = sample(oracle, sampler, torch.randn(2, 3, generator=torch.Generator().manual_seed(1)).to(device))
    assert sampler.nfe == oracle.calls == 4 * 3 + (10 - 3)  # the warm-up's 12 evaluations are counted
    assert torch.allclose(out, TARGET.to(device).expand(2, 3), atol=5e-3)
    out2 = sample(Oracle(process), sampler, torch.randn(2, 3, generator=torch.Generator().manual_seed(1)).to(device))
    assert torch.equal(out, out2)  # reset() forgot the previous run's ε history


def test_a_time_travel_schedule_runs_through_the_one_loop(device):
    """RePaint/DDNM time travel: the schedule goes back up (29 → 39) and the loop re-noises without the network."""

    class JumpDDIM(DDIMSampler):
        name = "jump_test"

        def make_timesteps(self):
            return [49, 44, 39, 34, 29, 39, 34, 29, 24, 19, 14, 9, 4]

    process = _process(device)
    sampler = JumpDDIM(process, 13, eta=0.5)
    assert (29, 39) in sampler.pairs()
    oracle = Oracle(process)
    seen = []
    gens = per_image_generators([5, 6])
    out = sample(
        oracle,
        sampler,
        randn((2, 3), gens, device),
        generator=gens,
        callback=lambda s: seen.append((s.t, s.t_prev, s.x0 is None)),
    )
    assert sampler.nfe == oracle.calls == 12 and (29, 39, True) in seen
    assert torch.allclose(out, TARGET.to(device).expand(2, 3), atol=5e-3)
    g = per_image_generators([6])
    alone = sample(Oracle(process), JumpDDIM(process, 13, eta=0.5), randn((1, 3), g, device), generator=g)
    assert torch.equal(alone[0], out[1])  # the re-noising draws per image too


def test_the_hook_sees_the_step_and_may_rescale_its_noise(device):
    process = _process(device)
    seen = []

    def hook(x0, ctx):
        seen.append((ctx.t, ctx.t_prev, float(ctx.alpha_bar.flatten()[0]), float(ctx.alpha_bar_prev.flatten()[0])))
        ctx.sigma = torch.zeros_like(ctx.sigma)  # DDNM+-style: the transform sets the step's noise
        return x0

    x_T = torch.randn(2, 3, generator=torch.Generator().manual_seed(0)).to(device)
    a = sample(
        Oracle(process),
        make_sampler("ddim", process, 5, eta=1.0),
        x_T,
        x0_transform=hook,
        generator=torch.Generator(device=device).manual_seed(1),
    )
    b = sample(Oracle(process), make_sampler("ddim", process, 5, eta=0.0), x_T)
    assert (
        [s[0] for s in seen] == make_sampler("ddim", process, 5).timesteps and seen[-1][1] == -1 and seen[-1][3] == 1.0
    )
    assert abs(seen[0][2] - process.alpha_bars[T - 1].item()) < 1e-7
    assert torch.allclose(a, b, atol=1e-6)  # no noise left: η = 1 with σ set to 0 is η = 0


# ------------------------------------------------------------------ methods
@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_method_keeps_the_contract(name, device):
    cls = METHODS[name]
    config = TrainConfig.from_dict(cls.example())
    assert config.method == name and TrainConfig.from_dict(config.to_dict()) == config  # JSON round trip
    trainer = Trainer(config, device=device)
    if cls.task == "blind":  # the adapter's encoder copy is trainable; the frozen parts are not
        net = trainer.model
        assert all(p.requires_grad for p in net.unet.control.parameters())
        assert not any(p.requires_grad for p in [*net.unet.base.parameters(), *net.stage1.parameters()])
    before = [p.detach().clone() for p in trainer.model.parameters()]
    trainer.train(progress=False)
    assert trainer.step == config.steps and all(torch.isfinite(torch.tensor(v)) for _, v in trainer.history)
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.model.parameters()))
    assert (trainer.diffusion is None) == (cls.objective not in ("diffusion", "flow"))
    model, method = trainer.ema, trainer.method
    if cls.task == "sr":
        _, y = DigitsSR("test", 4).tensors([0, 100, 400])
        y = y.to(device)
        out = (
            method.restore(model, trainer.diffusion, y, seeds=[1, 2, 3], steps=4)
            if method.iterative
            else method.restore(model, trainer.diffusion, y, seeds=[1, 2, 3])
        )
        assert out.shape == (3, 1, 32, 32) and out.device.type == torch.device(device).type and out.abs().max() <= 1
        # a diffusion method: the 4 steps asked for; a one-shot method: one pass, unless its network says otherwise
        # (DiffIR: one restorer pass plus its prior's T steps)
        assert method.last_nfe == (4 if method.iterative else getattr(model, "nfe", 1))
        if cls.name == "diffir":
            assert method.last_nfe == 1 + model.prior.T
        for i, seed in enumerate([1, 2, 3]):  # the same image gives the same result in any batch
            kw = {"steps": 4} if method.iterative else {}
            alone = method.restore(model, trainer.diffusion, y[i : i + 1], seeds=[seed], **kw)
            assert torch.allclose(alone[0], out[i], atol=1e-5)
    elif cls.task == "blind":  # degraded images in, restored images of the same size out
        from course_lib.operators import BlindDegradation

        hr, _ = DigitsSR("test", 4).tensors([0, 100, 400])
        degraded = BlindDegradation().apply(hr, [5, 6, 7])[0].to(device)
        out = method.restore(model, trainer.diffusion, degraded, seeds=[1, 2, 3], steps=4)
        assert out.shape == degraded.shape and out.abs().max() <= 1 and method.last_nfe == 4
        alone = method.restore(model, trainer.diffusion, degraded[1:2], seeds=[2], steps=4)
        # an ε-network's x̂₀ at t ≈ T divides by √ᾱ_t (~5e-5): the ~4e-6 by which float32 convolutions differ
        # between batch sizes grows to ~1e-4 in the output, not more
        assert torch.allclose(alone[0], out[1], atol=1e-3)
    elif cls.task == "generate":
        out = method.generate(model, trainer.diffusion, [1, 2], (1, 32, 32), steps=3)
        assert out.shape == (2, 1, 32, 32) and method.last_nfe == 3
        alone = method.generate(model, trainer.diffusion, [2], (1, 32, 32), steps=3)
        assert torch.allclose(alone[0], out[1], atol=1e-5)
    elif cls.task == "autoencode":  # an image in, its latent and its reconstruction out
        x = load_training_set(config.dataset)["x"][:3].to(device)
        mean, logvar = model.encode(x)
        assert mean.shape == logvar.shape == (3, model.latent_channels, 32 // model.factor, 32 // model.factor)
        rec = model.reconstruct(x)
        assert rec.shape == x.shape and rec.abs().max() <= 1
        assert torch.allclose(model.reconstruct(x[1:2])[0], rec[1], atol=1e-5)
    else:
        x = load_training_set(config.dataset)["x"][:5].to(device)
        assert model(x).shape == (5, 10)


# ------------------------------------------------------------------ a throwaway method, end to end
@pytest.fixture
def data_copy(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "data", tmp_path / "data")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_a_throwaway_method_trains_ships_loads_and_gets_a_harness_row(scratch_registries, data_copy, tmp_path, device):
    from dataclasses import dataclass

    from course_lib.engine import harness
    from course_lib.files import register_data_file
    from course_lib.engine.pretrained import load

    @dataclass(frozen=True)
    class NearestConfig(MethodConfig):
        scale: int = 4
        width: int = 8

    class NearestPlusConv(nn.Module):
        def __init__(self, scale, width):
            super().__init__()
            self.scale = scale
            self.body = nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, 1, 3, padding=1))

        def forward(self, y):
            up = F.interpolate(y, scale_factor=self.scale, mode="nearest")
            return (up + self.body(up)).clamp(-1, 1)

    @register_method
    class NearestMethod(Method):
        name = "nearest_test"
        Config = NearestConfig
        objective = "regression"
        datasets = ("digits_sr",)

        @classmethod
        def example(cls):
            return {
                "name": "nearest_test",
                "dataset": "digits_sr:4",
                "method": "nearest_test",
                "batch_size": 16,
                "steps": 30,
                "log_every": 10,
                "warmup_steps": 1,
                "learning_rate": 3e-3,
            }

        def build(self):
            return NearestPlusConv(self.config.scale, self.config.width)

        def loss(self, model, process, batch, generator):
            return F.mse_loss(model(batch["y"]), batch["x"])

        def restore(self, model, process, y, seeds=None, **options):
            self.last_nfe = 1
            with torch.no_grad():
                return model(y)

    trainer = Trainer(NearestMethod.example(), device=device).train(progress=False)
    assert trainer.history[-1][1] < trainer.history[0][1]
    out = data_copy / "checkpoints" / "nearest_test.pt"
    trainer.export(out)
    register_data_file("checkpoints/nearest_test.pt", {"description": "test", "source": "test", "licence": "MIT"})
    shipped = load("nearest_test", device)
    assert shipped.config.method == "nearest_test" and shipped.process is None
    entry = harness.Entry("nearest + conv", "digits_x4", "nearest_test")
    (row,) = harness.run([entry], device, work_root=tmp_path / "work")
    assert set(row) == set(harness.ROW_FIELDS) and row["method"] == "nearest_test" and row["nfe"] == 1
    assert (
        row["n"] == 500
        and 10 < row["psnr"] < 40
        and row["patch_swd"] > 0
        and row["parameters"] == sum(p.numel() for p in shipped.model.parameters())
    )
    assert "nearest + conv" in harness.format_table([row])
