"""Classifier-free guidance (Ho & Salimans 2021; groundwork of lesson 07): the course's weight w against diffusers'
guidance_scale, the class-conditional U-Net's null label, one batched pass for both branches, 2 NFE per guided step."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.diffusion import GaussianDiffusion
from course_lib.models import GuidedModel, UNet, classifier_free_guidance, diffusers_guidance_scale
from course_lib.samplers import make_sampler, sample
from course_lib.schedules import make_beta_schedule


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), w=st.floats(-1.0, 20.0))
def test_the_weight_w_is_diffusers_guidance_scale_minus_one(seed, w):
    g = torch.Generator().manual_seed(seed)
    e_c, e_u = (
        torch.randn(2, 3, 4, 4, generator=g, dtype=torch.float64),
        torch.randn(2, 3, 4, 4, generator=g, dtype=torch.float64),
    )
    scale = diffusers_guidance_scale(w)
    # the line of diffusers' StableDiffusionPipeline.__call__: noise_pred_uncond + guidance_scale * (text - uncond)
    diffusers = e_u + scale * (e_c - e_u)
    assert torch.allclose(classifier_free_guidance(e_c, e_u, w), diffusers)
    assert scale == pytest.approx(1 + w)


def test_w_zero_is_the_conditional_model_and_minus_one_the_unconditional():
    e_c, e_u = torch.randn(4, 1, 8, 8), torch.randn(4, 1, 8, 8)
    assert torch.equal(classifier_free_guidance(e_c, e_u, 0.0), e_c)
    assert torch.allclose(classifier_free_guidance(e_c, e_u, -1.0), e_u)
    for bad in (float("nan"), float("inf"), "2", True):
        with pytest.raises(ValueError, match="w"):
            classifier_free_guidance(e_c, e_u, bad)
    with pytest.raises(ValueError, match="same shape"):
        classifier_free_guidance(e_c, e_u[:2], 1.0)


def _net():
    torch.manual_seed(0)
    net = UNet(in_channels=1, base_channels=16, channel_mults=(1, 2), attention=False, T=100, num_classes=10).eval()
    for p in net.parameters():  # the zero-initialised output layer would make every prediction 0
        torch.nn.init.normal_(p, std=0.05)
    return net


def test_the_unet_learns_a_null_label_and_checks_its_labels():
    net = _net()
    x, t = torch.randn(3, 1, 8, 8), torch.tensor([5, 50, 99])
    null = torch.full((3,), 10)
    assert torch.equal(net(x, t), net(x, t, label=null))  # no label = the null row
    assert not torch.allclose(net(x, t, label=torch.tensor([1, 2, 3])), net(x, t, label=null))
    with pytest.raises(ValueError, match="label must be in 0 … 10"):
        net(x, t, label=torch.tensor([0, 1, 11]))
    with pytest.raises(ValueError, match="label must be an integer tensor of shape \\(3,\\)"):
        net(x, t, label=torch.tensor([0.0, 1.0, 2.0]))
    plain = UNet(in_channels=1, base_channels=16, channel_mults=(1, 2), attention=False, T=100)
    assert not any("label" in k for k in plain.state_dict())  # old checkpoints load unchanged
    with pytest.raises(ValueError, match="not class-conditional"):
        plain(x, t, label=null)
    with pytest.raises(ValueError, match="num_classes"):
        UNet(num_classes=-1)


def test_one_batched_pass_equals_the_two_branches_and_counts_two_evaluations():
    net = _net()
    label = torch.tensor([7, 1])
    guided = GuidedModel(net, label, w=2.0)
    x, t = torch.randn(2, 1, 8, 8), torch.tensor([40, 40])
    by_hand = 3.0 * net(x, t, label=label) - 2.0 * net(x, t)
    assert torch.allclose(guided(x, t), by_hand, atol=1e-5)
    assert guided.nfe_per_call == 2 and GuidedModel(net, label, w=0.0).nfe_per_call == 1
    process = GaussianDiffusion(make_beta_schedule("cosine", 100))
    sampler = make_sampler("ddim", process, steps=5)
    out = sample(guided, sampler, torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(0)))
    assert out.shape == (2, 1, 8, 8) and torch.isfinite(out).all() and sampler.nfe == 10
    sample(GuidedModel(net, label, w=0.0), sampler, torch.randn(2, 1, 8, 8))
    assert sampler.nfe == 5
    with pytest.raises(ValueError, match="class in 0 … 9"):
        GuidedModel(net, torch.tensor([10]), 1.0)  # the null label is not a class to ask for
    with pytest.raises(ValueError, match="class-conditional"):
        GuidedModel(UNet(in_channels=1, base_channels=16, channel_mults=(1, 2)), label, 1.0)


def test_the_cfg_method_drops_labels_at_its_rate_and_generates_the_classes_asked_for():
    from course_lib.datasets import load_training_set
    from course_lib.methods import get_method
    from course_lib.engine.train import TrainConfig

    config = TrainConfig.from_dict(
        {**get_method("cfg").example(), "model": {**get_method("cfg").example()["model"], "label_dropout": 0.25}}
    )
    method = get_method("cfg")(config)
    labels = torch.arange(10).repeat(400)
    dropped = method.drop_labels(labels, torch.Generator().manual_seed(0))
    share = float((dropped == 10).float().mean())
    assert abs(share - 0.25) < 0.03 and torch.equal(dropped[dropped != 10], labels[dropped != 10])
    model = method.build().eval()
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.05)
    process = GaussianDiffusion(make_beta_schedule("cosine", 100))
    a = method.generate(model, process, [1, 2], (1, 8, 8), labels=[3, 7], w=1.5, steps=4)
    assert (
        method.last_nfe == 8 and a.shape == (2, 1, 8, 8) and a.abs().max() <= 1 + 1e-6
    )  # x̂₀ clipped; float32 rounding
    alone = method.generate(model, process, [2], (1, 8, 8), labels=[7], w=1.5, steps=4)
    assert torch.allclose(a[1:], alone, atol=1e-5)  # per-image seeds: batch-independent
    raw = method.generate(model, process, [1, 2], (1, 8, 8), labels=[3, 7], w=1.5, steps=4, clip=False)
    other = method.generate(model, process, [1, 2], (1, 8, 8), labels=[5, 7], w=1.5, steps=4, clip=False)
    assert not torch.allclose(other[0], raw[0]) and torch.allclose(
        other[1], raw[1], atol=1e-5
    )  # only image 0's class changed
    method.generate(model, process, [1, 2], (1, 8, 8), steps=4)
    assert method.last_nfe == 4  # unconditional: one branch
    with pytest.raises(ValueError, match="labels: expected one class per seed"):
        method.generate(model, process, [1, 2], (1, 8, 8), labels=[3], w=1.0, steps=4)
    data = load_training_set("digits_labels:4")
    assert data["x"].shape == (4000, 1, 8, 8) and data["label"].shape == (4000,)
    with pytest.raises(ValueError, match="divide 32"):
        load_training_set("digits_labels:3")
    with pytest.raises(ValueError, match="label_dropout"):
        TrainConfig.from_dict({**get_method("cfg").example(), "model": {"label_dropout": 1.0}})


def test_the_shipped_base_model_draws_the_digit_asked_for():
    """digits8_cfg (lesson 07's cascade base): guided samples are the class asked for (judged by the digit classifier
    on their bicubic ×4 upsampling, which reads true 8 × 8 test digits so); unconditional ones match only by chance."""
    from course_lib.operators import upsample
    from course_lib.engine.pretrained import load

    base, classifier = load("digits8_cfg", "cpu"), load("digit_classifier", "cpu").model.eval()
    labels, seeds = torch.arange(10).repeat(4), list(range(2000, 2040))

    def accuracy(images):
        with torch.no_grad():
            return float((classifier(upsample(images, 4, "bicubic").clamp(-1, 1)).argmax(1) == labels).float().mean())

    guided = base.method.generate(base.model, base.process, seeds, (1, 8, 8), labels=labels, w=1.0, steps=20)
    assert base.method.last_nfe == 40 and guided.shape == (40, 1, 8, 8)
    unconditional = base.method.generate(base.model, base.process, seeds, (1, 8, 8), steps=20)
    assert accuracy(guided) >= 0.9 and accuracy(unconditional) < 0.4
