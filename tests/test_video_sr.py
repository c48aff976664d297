"""Lesson 12's library parts: the temporal SR3 and its method, the clips' frame pairs, SDEdit's start, DDIM inversion
to t*, classifier guidance, the editing functions, the modulation-only fine-tune and the experiment's bookkeeping."""

import math

import pytest
import torch
from torch import nn

from course_lib.diffusion import GaussianDiffusion
from course_lib.engine.train import Trainer
from course_lib.methods import get_method
from course_lib.methods.cfg import is_modulation
from course_lib.methods.editing import inversion_edit, restart_time, sdedit
from course_lib.models import ClassifierGuidedModel, NoisyDigitClassifier, TemporalSR3, UNet, pack_previous
from course_lib.models.temporal import unpack_previous
from course_lib.samplers import ddim_invert, make_sampler, start_at
from course_lib.schedules import make_beta_schedule
from course_lib.video import frame_pairs, warp


def _process(T=100):
    return GaussianDiffusion(make_beta_schedule("cosine", T))


def _temporal(residual=True):
    net = UNet(in_channels=3, cond_channels=2, base_channels=8, channel_mults=(1, 2), attention=False, T=100)
    return TemporalSR3(net, 4, residual=residual, prediction="x0")


# ------------------------------------------------------------------ the temporal model
def test_pack_and_unpack_are_inverse_and_check_shapes():
    y, prev = torch.rand(2, 1, 3, 5), torch.rand(2, 1, 12, 20)
    packed = pack_previous(y, prev, 4)
    assert packed.shape == (2, 17, 3, 5)
    y2, prev2 = unpack_previous(packed, 1, 4)
    assert torch.equal(y2, y) and torch.equal(prev2, prev)
    with pytest.raises(ValueError, match="previous must have shape"):
        pack_previous(y, torch.rand(2, 1, 12, 12), 4)


def test_temporal_sr3_condition_target_and_image_use_the_lr_channels():
    model = _temporal()
    y, prev, hr = torch.rand(2, 1, 4, 4) * 2 - 1, torch.rand(2, 1, 16, 16) * 2 - 1, torch.rand(2, 1, 16, 16) * 2 - 1
    cond = pack_previous(y, prev, 4)
    c = model.condition(cond)
    assert torch.allclose(c[:, 1:], prev) and torch.allclose(c[:, :1], model.upsampled(cond))
    x0 = model.target(hr, cond)
    assert torch.allclose(x0, hr - model.upsampled(cond))
    assert torch.allclose(model.to_image(x0, cond), hr.clamp(-1, 1), atol=1e-6)
    assert model(torch.randn(2, 1, 16, 16), torch.tensor([3, 50]), cond).shape == (2, 1, 16, 16)
    with pytest.raises(ValueError, match="packed condition"):
        model.check_y(y)
    with pytest.raises(ValueError, match="cond_channels = 2"):
        TemporalSR3(UNet(in_channels=2, cond_channels=1, base_channels=8, channel_mults=(1,), attention=False), 4)


def test_frame_pairs_previous_is_the_warped_previous_frame_and_equals_the_current_one():
    pairs = frame_pairs(2)
    assert pairs["x"].shape == (14, 1, 48, 48) and pairs["y"].shape == (14, 1, 12, 12)
    # on these clips the digit stays in view over a uniform background: warp(HR_f) is HR_{f+1} exactly
    assert torch.equal(pairs["previous"], pairs["x"])
    # and the method is what builds them (the data layer under the clips does not)
    method = get_method("video_sr3")(get_config("digits_video:4:2"))
    assert torch.equal(method.training_set("digits_video:4:2")["previous"], pairs["previous"])
    with pytest.raises(ValueError, match="digits_video:SCALE:CLIPS"):
        method.training_set("digits_sr:4")


def get_config(dataset):
    from course_lib.engine.config import TrainConfig

    c = get_method("video_sr3").example()
    c["dataset"] = dataset
    return TrainConfig.from_dict(c)


def test_corrupt_drops_to_bicubic_or_adds_bounded_noise():
    method = get_method("video_sr3")(get_config("digits_video:4:2"))
    prev = torch.zeros(400, 1, 8, 8)
    y = torch.rand(400, 1, 2, 2) * 2 - 1
    out = method.corrupt(prev, y, torch.Generator().manual_seed(0))
    up = method.first_previous(y)
    dropped = (out - up).abs().flatten(1).amax(1) < 1e-6
    share = dropped.float().mean().item()
    assert abs(share - method.config.previous_drop) < 0.07  # 400 draws: ±3.5 sd of a share of 0.2
    sd = out[~dropped].flatten(1).std(1)
    assert sd.max() < method.config.previous_noise * 1.5 and sd.min() < 0.1 < sd.max()


def test_restore_clip_feeds_its_own_output_or_the_oracle_warped():
    trainer = Trainer(get_method("video_sr3").example(), "cpu")
    method, model, process = trainer.method, trainer.ema.eval(), trainer.diffusion
    seen = []
    original = method.restore

    def spy(model, process, y, seeds=None, previous=None, **options):
        seen.append(previous.clone())
        return original(model, process, y, seeds=seeds, previous=previous, **options)

    method.restore = spy
    y = torch.rand(2, 3, 1, 4, 4) * 2 - 1
    shifts = torch.tensor([[[1, 0], [0, 2]], [[0, -1], [1, 1]]])
    seeds = [[1, 2, 3], [4, 5, 6]]
    out = method.restore_clip(model, process, y, shifts, seeds, steps=2)
    assert out.shape == (2, 3, 1, 16, 16)
    assert torch.allclose(seen[0], method.first_previous(y[:, 0]))
    for f in (1, 2):
        want = torch.stack([warp(out[n, f - 1], shifts[n, f - 1]) for n in range(2)])
        assert torch.allclose(seen[f], want)
    hr = torch.rand(2, 3, 1, 16, 16)
    seen.clear()
    method.restore_clip(model, process, y, shifts, seeds, previous=hr, steps=2)
    assert torch.allclose(seen[2][1], warp(hr[1, 1], shifts[1, 1]))
    with pytest.raises(ValueError, match="shifts must have shape"):
        method.restore_clip(model, process, y, shifts[:, :1], seeds, steps=2)


# ------------------------------------------------------------------ SDEdit's start and inversion to t*
def test_start_at_keeps_the_timesteps_at_or_below_t_star():
    process = _process(1000)
    s = start_at(make_sampler("ddim", process, 25), 500)
    assert s.timesteps[0] <= 500 and all(t <= 500 for t in s.timesteps)
    full = make_sampler("ddim", process, 25).timesteps
    assert s.timesteps == [t for t in full if t <= 500]
    assert restart_time(process, 500, 25) == s.timesteps[0]
    with pytest.raises(ValueError, match="t_start"):
        start_at(make_sampler("ddim", process, 25), 1000)


class _GaussianEps(nn.Module):
    """The exact ε̂ for data ~ N(0, I): E[ε | x_t] = √(1 − ᾱ_t) x_t (x_t ~ N(0, I) at every t)."""

    prediction = "eps"

    def __init__(self, process):
        super().__init__()
        self.s = process.sqrt_one_minus_alpha_bars

    def forward(self, x, t, cond=None):
        return self.s[t].view(-1, 1, 1, 1) * x


def test_inversion_to_t_star_round_trips_and_sdedit_at_small_t_stays_close():
    process = _process(1000)
    model = _GaussianEps(process)
    x = torch.randn(4, 1, 8, 8).clamp(-1, 1) * 0.5
    x_t = ddim_invert(model, process, x, steps=25, until=500)
    assert not torch.allclose(x_t, x)
    back = inversion_edit(model, process, x, 500, steps=25)
    assert torch.allclose(back, x, atol=0.05)
    near = sdedit(model, process, x, 40, [1, 2, 3, 4], steps=25)
    far = sdedit(model, process, x, 999, [1, 2, 3, 4], steps=25)
    assert (near - x).abs().mean() < (far - x).abs().mean()
    with pytest.raises(ValueError, match="until"):
        ddim_invert(model, process, x, steps=25, until=-1)
    with pytest.raises(ValueError, match="x"):
        sdedit(model, process, x * 300, 40, [1, 2, 3, 4])  # uint8 values where [-1, 1] belongs
    with pytest.raises(ValueError, match="seeds"):
        sdedit(model, process, x, 40, [1, 2])
    with pytest.raises(ValueError, match="x"):
        inversion_edit(model, process, torch.full_like(x, float("nan")), 500)


# ------------------------------------------------------------------ classifier guidance
class _LinearClassifier(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.w = w  # (10, D)

    def forward(self, x, t):
        return x.flatten(1) @ self.w.T


def test_classifier_guidance_subtracts_the_scaled_gradient_of_log_p():
    torch.manual_seed(0)
    process = _process(100)
    net = _GaussianEps(process)
    w = torch.randn(10, 16)
    label = torch.tensor([3, 7])
    guided = ClassifierGuidedModel(net, _LinearClassifier(w), label, 2.0, process.sqrt_one_minus_alpha_bars)
    x, t = torch.randn(2, 1, 4, 4), torch.tensor([10, 90])
    # ∇ log softmax(Wx)_c = w_c − Σ_k p_k w_k
    p = torch.softmax(x.flatten(1) @ w.T, 1)
    grad = (w[label] - p @ w).view(2, 1, 4, 4)
    want = net(x, t) - 2.0 * process.sqrt_one_minus_alpha_bars[t].view(-1, 1, 1, 1) * grad
    assert torch.allclose(guided(x, t), want, atol=1e-5)
    zero = ClassifierGuidedModel(net, _LinearClassifier(w), label, 0.0, process.sqrt_one_minus_alpha_bars)
    assert torch.equal(zero(x, t), net(x, t))
    with pytest.raises(ValueError, match="scale"):
        ClassifierGuidedModel(net, _LinearClassifier(w), label, -1.0, process.sqrt_one_minus_alpha_bars)
    with torch.no_grad():  # guidance needs its gradient even inside the sampler's no_grad
        assert torch.allclose(guided(x, t), want, atol=1e-5)


def test_noisy_classifier_reads_the_time_and_the_method_trains_it_on_x_t():
    model = NoisyDigitClassifier(width=8, T=100).eval()
    x = torch.randn(3, 1, 32, 32)
    a, b = model(x, torch.tensor([0, 0, 0])), model(x, torch.tensor([99, 99, 99]))
    assert a.shape == (3, 10) and not torch.allclose(a, b)
    assert torch.equal(model(x), a)  # no t: a clean digit
    with pytest.raises(ValueError, match="one time per image"):
        model(x, torch.tensor([1, 2]))
    trainer = Trainer(get_method("noisy_classifier").example(), "cpu")
    assert trainer.diffusion is not None and trainer.diffusion.num_timesteps == 100
    trainer.train(steps=2, progress=False)
    assert math.isfinite(trainer.history[-1][1])


# ------------------------------------------------------------------ the modulation-only fine-tune
def test_modulation_fine_tune_freezes_and_borrows_everything_else():
    assert is_modulation("label_emb.weight") and is_modulation("down.0.time.weight")
    assert is_modulation("down.0.norm1.bias") and is_modulation("time_mlp.1.weight")
    assert not is_modulation("down.0.conv1.weight") and not is_modulation("mid_attn.qkv.weight")
    config = get_method("cfg").example()
    config.update(init_from=None)
    config["model"]["tune"] = "modulation"
    with pytest.raises(ValueError, match="init_from"):
        Trainer(config, "cpu")


def test_the_editor_starts_as_digits_unet_and_trains_only_its_modulation():
    from course_lib.engine.pretrained import load
    from course_lib.experiments.video import editor_config

    config = editor_config()
    trainer = Trainer({**config, "steps": 1, "batch_size": 2}, "cpu")
    base = load("digits_unet", "cpu").model
    emb = trainer.model.label_emb.weight
    assert (
        abs(float(emb.detach().std()) - config["model"]["label_init"]) < 0.05
    )  # a random start, at the time embedding's spread
    x, t = torch.randn(2, 1, 32, 32), torch.tensor([5, 700])
    with torch.no_grad():
        saved = emb.clone()
        emb.zero_()  # without the label's embedding the editor is digits_unet, weight for weight
        assert torch.allclose(trainer.model(x, t, None, label=torch.tensor([3, 10])), base(x, t, None), atol=1e-6)
        emb.copy_(saved)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.train(steps=1, progress=False)
    after = trainer.model.state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert moved and all(is_modulation(k) for k in moved)
    prefixes = trainer.method.borrowed()
    assert all(not any(k.startswith(p) for p in prefixes) for k in moved)
    frozen = [k for k in before if not is_modulation(k)]
    assert all(any(k.startswith(p) for p in prefixes) for k in frozen)
