"""DiffIR at toy scale (lesson 09): the prior's 4-step chain, the unrolled training loss, the two stages."""

import dataclasses

import pytest
import torch

from course_lib.datasets import DigitsSR
from course_lib.diffusion import GaussianDiffusion
from course_lib.methods.diffir import DiffIRConfig, DiffIRMethod, DiffIRNet
from course_lib.models.diffir import CPEN, PriorDenoiser, PriorDiffusion, PriorRestorer, pixel_unshuffle_pair
from course_lib.engine.train import TrainConfig

SMALL = {"base_channels": 8, "channel_mults": (1, 2), "attention": False}


def small_config(stage: int = 2, **changes) -> DiffIRConfig:
    return DiffIRConfig(
        stage=stage,
        stage1="digits_diffir_s1" if stage == 2 else None,
        dim=16,
        cpen_width=8,
        denoiser_hidden=32,
        args=SMALL,
        **changes,
    )


@pytest.mark.parametrize("T", [2, 4, 10])
def test_the_prior_chain_is_the_ddpm_posterior_mean_of_its_schedule(T):
    prior = PriorDiffusion(T, 0.1, 0.99)
    betas = torch.linspace(0.1, 0.99, T, dtype=torch.float64)
    ddpm = GaussianDiffusion(betas)
    g = torch.Generator().manual_seed(0)
    z0, zt = torch.randn(5, 16, generator=g), torch.randn(5, 16, generator=g)
    for i in range(T):
        mean, _ = ddpm.q_posterior(z0, zt, torch.full((5,), i))
        ours = prior.coef_z0[i] * z0 + prior.coef_zt[i] * zt
        assert torch.allclose(ours, mean, atol=1e-5)
    # the last reverse step returns the network's ẑ₀ itself: coefficients 1 and 0
    assert prior.coef_z0[0] == pytest.approx(1.0) and prior.coef_zt[0] == pytest.approx(0.0, abs=1e-7)
    assert torch.allclose(prior.alpha_bars, torch.cumprod(1 - betas, 0).float())


def test_diffirs_schedule_leaves_almost_nothing_of_z0_at_T():
    # β 0.1 → 0.99 over 4 steps: √ᾱ_4 ≈ 0.04, so z_T in training is nearly the noise it is at sampling
    prior = PriorDiffusion(4)
    assert 0.02 < float(prior.alpha_bars[-1].sqrt()) < 0.06


def test_the_reverse_chain_runs_every_step_without_noise():
    torch.manual_seed(0)
    prior, den = PriorDiffusion(4), PriorDenoiser(16, 32, 3, T=4)
    c, z_T = torch.randn(3, 16), torch.randn(3, 16)
    trace: list = []
    z = prior.reverse(den, z_T, c, trace)
    assert [t for t, _, _ in trace] == [3, 2, 1, 0]
    assert torch.equal(z, trace[-1][1])  # the final step's z is the network's last ẑ₀
    assert torch.equal(z, prior.reverse(den, z_T, c))  # deterministic: no noise is injected


def test_cpen_and_restorer_shapes_and_errors():
    hr, y = DigitsSR("test", 4).tensors([0, 1])
    pair = pixel_unshuffle_pair(hr, y, 4)
    assert pair.shape == (2, 17, 8, 8)
    assert torch.equal(pair[:, :16], torch.nn.functional.pixel_unshuffle(hr, 4))
    assert CPEN(17, 16, 8).eval()(pair).shape == (2, 16)
    with pytest.raises(ValueError, match=r"CPEN input must have shape \(B, 17"):
        CPEN(17, 16, 8)(y)
    with pytest.raises(ValueError, match="hr must be y's size times 4"):
        pixel_unshuffle_pair(hr[..., :16, :16], y, 4)
    r = PriorRestorer(1, 4, 16, **SMALL).eval()
    assert r(y, torch.zeros(2, 16)).shape == (2, 1, 32, 32)
    with pytest.raises(ValueError, match=r"z \(the prior\) must have shape \(2, 16\)"):
        r(y, torch.zeros(2, 8))


def test_the_prior_modulates_the_restorer():
    torch.manual_seed(0)
    r = PriorRestorer(1, 4, 16, **SMALL).train()  # (no clip in training)
    for m in r.modules():  # the zero-initialised convolutions (each block's last, the output) would hide it
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.normal_(m.weight, std=0.1)
    _, y = DigitsSR("test", 4).tensors([0])
    a, b = r(y, torch.zeros(1, 16)), r(y, torch.ones(1, 16))
    assert (a - b).abs().max() > 1e-3
    assert r.net.time_mlp is None  # z, not a timestep, feeds the blocks


def test_stage2_trains_through_the_whole_chain_and_keeps_cpen1_frozen():
    torch.manual_seed(0)
    net = DiffIRNet(small_config(2)).train()
    assert not net.cpen1.training and not any(p.requires_grad for p in net.cpen1.parameters())
    config = TrainConfig.from_dict(
        {"name": "t", "dataset": "digits_sr:4", "method": "diffir", "model": small_config(2).to_dict()}
    )
    method = DiffIRMethod(config)
    hr, y = DigitsSR("test", 4).tensors(list(range(8)))
    calls: list[int] = []
    hook = net.denoiser.register_forward_hook(lambda m, i, o: calls.append(int(i[1][0])))
    loss = method.loss(net, None, {"x": hr, "y": y}, torch.Generator().manual_seed(0))
    hook.remove()
    loss.backward()
    assert calls == [3, 2, 1, 0]  # all four reverse steps, in order, in one loss (not one random t)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.denoiser.parameters() if p.dim() > 1)
    assert all(p.grad is not None for p in net.cpen2.parameters())
    assert all(p.grad is None for p in net.cpen1.parameters())


def test_restore_errors_name_what_is_missing():
    config = TrainConfig.from_dict(
        {"name": "t", "dataset": "digits_sr:4", "method": "diffir", "model": small_config(1).to_dict()}
    )
    method = DiffIRMethod(config)
    net = DiffIRNet(small_config(1)).eval()
    hr, y = DigitsSR("test", 4).tensors([0, 1])
    with pytest.raises(ValueError, match="hr: stage 1's prior is read from the HR image"):
        method.restore(net, None, y)
    assert method.restore(net, None, y, hr=hr).shape == (2, 1, 32, 32) and method.last_nfe == 1
    with pytest.raises(ValueError, match="prior must be 'sampled' or 'stage1'"):
        method.restore(net, None, y, prior="mean")
    with pytest.raises(TypeError, match="steps"):
        method.restore(net, None, y, steps=4)
    with pytest.raises(ValueError, match="model.stage must be 1 or 2, got 3"):
        DiffIRNet(dataclasses.replace(small_config(1), stage=3))
    with pytest.raises(ValueError, match="prior_s2 needs a stage-2 model"):
        net.prior_s2(y, torch.zeros(2, 16))
    with pytest.raises(ValueError, match="model.stage1 must name the shipped stage-1 model"):
        DiffIRMethod.check(
            TrainConfig.from_dict(
                {
                    "name": "t",
                    "dataset": "digits_sr:4",
                    "method": "diffir",
                    "model": {**small_config(2).to_dict(), "stage1": None},
                }
            )
        )


def test_stage2_samples_one_prior_per_seed_independent_of_the_batch():
    torch.manual_seed(0)
    config = TrainConfig.from_dict(
        {"name": "t", "dataset": "digits_sr:4", "method": "diffir", "model": small_config(2).to_dict()}
    )
    method, net = DiffIRMethod(config), DiffIRNet(small_config(2)).eval()
    for m in net.restorer.modules():
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.normal_(m.weight, std=0.1)
    _, y = DigitsSR("test", 4).tensors([0, 1, 2])
    out = method.restore(net, None, y, seeds=[5, 6, 7])
    assert method.last_nfe == 5  # one restorer pass + four denoiser calls
    assert torch.allclose(method.restore(net, None, y[1:2], seeds=[6])[0], out[1], atol=1e-5)
    assert torch.equal(out, method.restore(net, None, y, seeds=[5, 6, 7]))
    assert not torch.allclose(out, method.restore(net, None, y, seeds=[8, 9, 10]))


def test_the_shipped_prior_schedule_is_exact_not_the_exports_float16():
    """The prior chain's coefficients are recomputed from (T, β) on load, not read back rounded from the fp16 file."""
    from course_lib.models.diffir import PriorDiffusion
    from course_lib.engine.pretrained import load

    prior = load("digits_diffir", "cpu").model.prior
    betas = torch.linspace(0.1, 0.99, prior.T, dtype=torch.float64)
    abar = torch.cumprod(1 - betas, 0)
    abar_prev = torch.cat([torch.ones(1, dtype=torch.float64), abar[:-1]])
    assert torch.allclose(prior.coef_z0.double(), betas * abar_prev.sqrt() / (1 - abar), atol=1e-6)
    assert torch.allclose(prior.alpha_bars.double(), abar, atol=1e-6)
    assert "alpha_bars" not in PriorDiffusion().state_dict()  # buffers that follow .to(), not saved
