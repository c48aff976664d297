"""Consistency models (lesson 06): the boundary condition of Eq. 06.10 holds exactly, the scalings and the multistep
sampler are diffusers' LCMScheduler's, and the distillation of Eq. 06.11 trains a student against a trailing target."""

import copy

import pytest
import torch

from course_lib.diffusion import GaussianDiffusion
from course_lib.methods import get_method
from course_lib.methods.consistency import ConsistencySR3, boundary_scalings
from course_lib.models import UNet
from course_lib.samplers import make_sampler, sample
from course_lib.schedules import make_beta_schedule
from course_lib.engine.train import Trainer

diffusers = pytest.importorskip("diffusers")
T = 1000


@pytest.mark.parametrize("t", [0, 1, 5, 19, 259, 999])
def test_boundary_scalings_are_lcms(t):
    lcm = diffusers.LCMScheduler(num_train_timesteps=T, timestep_scaling=10.0)
    c_skip, c_out = boundary_scalings(torch.tensor([t]))
    ref_skip, ref_out = lcm.get_scalings_for_boundary_condition_discrete(t)
    assert c_skip.item() == pytest.approx(float(ref_skip), rel=1e-6) and c_out.item() == pytest.approx(
        float(ref_out), rel=1e-6, abs=1e-12
    )


def _student(seed=0):
    torch.manual_seed(seed)
    net = UNet(in_channels=2, cond_channels=1, base_channels=8, channel_mults=(1, 2), attention=False, T=T)
    return ConsistencySR3(net, scale=4, residual=True).eval()


def test_the_boundary_condition_holds_exactly_for_any_weights():
    f = _student()
    for p in f.parameters():  # weights far from zero: the network's output is large, the boundary must not care
        p.data.normal_(0, 1)
    x, y = torch.randn(3, 1, 32, 32), torch.rand(3, 1, 8, 8) * 2 - 1
    with torch.no_grad():
        assert torch.equal(f(x, torch.zeros(3, dtype=torch.long), y), x)
        far = f(x, torch.full((3,), 500), y)
    assert not torch.allclose(far, x)  # … and only at t = 0


class RawToy:
    """F(x, t): an x̂₀-prediction that is not a consistency function by itself."""

    def __call__(self, x, t, cond=None):
        return torch.tanh(0.7 * x + 0.001 * t.float().reshape(-1, *([1] * (x.dim() - 1))))


def test_multistep_consistency_sampling_is_lcm_schedulers():
    process = GaussianDiffusion(make_beta_schedule("cosine", T))
    raw = RawToy()

    def f(x, t, cond=None):  # the parameterised model: c_skip x + c_out F (what ConsistencySR3 computes)
        c_skip, c_out = boundary_scalings(t)
        return c_skip.reshape(-1, 1, 1, 1) * x + c_out.reshape(-1, 1, 1, 1) * raw(x, t)

    s = make_sampler("consistency", process, 4, prediction="x0")
    assert s.timesteps == [999, 749, 499, 249]
    x_T = torch.randn(2, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    mine = sample(f, s, x_T, generator=torch.Generator().manual_seed(1))
    lcm = diffusers.LCMScheduler(
        num_train_timesteps=T,
        beta_schedule="squaredcos_cap_v2",
        prediction_type="sample",
        timestep_scaling=10.0,
        clip_sample=False,
        set_alpha_to_one=True,
    )
    lcm.set_timesteps(timesteps=s.timesteps)
    g, x = torch.Generator().manual_seed(1), x_T.clone()
    for t in lcm.timesteps:
        x = lcm.step(raw(x, torch.full((2,), int(t))), t, x, generator=g).prev_sample
    assert s.nfe == 4 and torch.allclose(mine, x, atol=1e-4)


def test_consistency_requires_an_x0_model_and_a_teacher():
    cls = get_method("consistency_sr")
    from course_lib.engine.train import TrainConfig

    cfg = dict(cls.example())
    with pytest.raises(ValueError, match="prediction must be 'x0'"):
        cls(TrainConfig.from_dict({**cfg, "prediction": "eps"}))
    method = cls(TrainConfig.from_dict(cfg))
    with pytest.raises(RuntimeError, match="teacher"):
        method.loss(
            _student(),
            GaussianDiffusion(make_beta_schedule("cosine", T)),
            {"x": torch.zeros(1, 1, 32, 32), "y": torch.zeros(1, 1, 8, 8)},
            torch.Generator(),
        )
    assert method.skeleton(T)[:3] == [0, 19, 39] and method.skeleton(T)[-1] == 999 and len(method.skeleton(T)) == 51


def test_distillation_trains_the_student_against_a_trailing_target():
    cfg = {
        **get_method("consistency_sr").example(),
        "steps": 3,
        "batch_size": 4,
        "learning_rate": 1e-3,
        "warmup_steps": 1,
    }
    tr = Trainer(cfg, device="cpu")
    teacher_before = copy.deepcopy(tr.method.teacher.state_dict())
    start = {k: v.clone() for k, v in tr.model.state_dict().items()}
    # the student starts as the teacher (init_from), with the boundary scalings on top
    assert all(torch.equal(start[k], teacher_before[k]) for k in teacher_before)
    tr.train(steps=3, progress=False)
    assert all(torch.isfinite(torch.tensor(v)) and v >= 0 for _, v in tr.history)
    moved = lambda sd: sum((sd[k].float() - start[k].float()).norm() for k in teacher_before)  # noqa: E731
    student, target = moved(tr.model.state_dict()), moved(tr.method.target.state_dict())
    assert 0 < target < student  # θ⁻ trails θ (EMA 0.95)
    assert all(torch.equal(v, teacher_before[k]) for k, v in tr.method.teacher.state_dict().items())  # frozen
    assert not any(p.requires_grad for p in tr.method.teacher.parameters())
