"""SRDiff's parts (course_lib/models/rrdb.py, models/srdiff.py, methods/srdiff.py; lesson 09): the RRDB network and
its features, the frozen encoder added after the U-Net's first stage, the clipped ×2 residual and its inverse, the L1
loss on ε, and the shipped encoder loaded exactly."""

import pytest
import torch

from course_lib.diffusion import GaussianDiffusion
from course_lib.models import SR3, RRDBNet, SRDiffUNet, UNet
from course_lib.operators import upsample
from course_lib.schedules import make_beta_schedule

UNET = dict(in_channels=1, base_channels=8, channel_mults=(1, 2), num_res_blocks=1, attention=False, groups=4, T=100)


def _encoder(seed=0, **kw):
    torch.manual_seed(seed)
    return RRDBNet(**{"channels": 1, "scale": 4, "nf": 8, "blocks": 5, "gc": 4, **kw})


def test_rrdb_shapes_features_and_bad_arguments():
    enc = _encoder().eval()
    y = torch.rand(3, 1, 8, 8) * 2 - 1
    out, feats = enc(y), enc.features(y)
    assert out.shape == (3, 1, 32, 32) and out.abs().max() <= 1
    assert torch.allclose(out, upsample(y, 4, "bicubic"), atol=1e-6)  # zero-initialised last layer: bicubic at first
    assert len(feats) == 6 and all(f.shape == (3, 8, 8, 8) for f in feats)  # 5 RRDBs, then the trunk
    with pytest.raises(ValueError, match="scale must be a power of 2"):
        RRDBNet(scale=3)
    with pytest.raises(ValueError, match=r"y \(the LR image\) must have shape \(B, 1, h, w\)"):
        enc(torch.zeros(1, 3, 8, 8))


def test_srdiff_unet_adds_the_frozen_features_after_the_first_stage():
    torch.manual_seed(1)
    net = SRDiffUNet(UNet(**UNET), _encoder(), every=3)
    assert net.picked == [2, 5] and net.inject_after == 0  # feats[2::3]; after level 0's one residual block
    y = torch.rand(2, 1, 8, 8) * 2 - 1
    assert net.condition(y).shape == (2, 8, 32, 32)  # ConvTranspose(2s, s, s/2): exactly ×4
    assert all(not p.requires_grad for p in net.encoder.parameters())
    net.train()
    assert net.encoder.training is False and net.unet.training is True
    # y reaches the output only through the injected features: change y, the output changes
    with torch.no_grad():
        for p in net.unet.parameters():  # a "trained" U-Net (its last layer starts at zero)
            p.add_(0.05 * torch.randn_like(p))
    x, t = torch.randn(2, 1, 32, 32), torch.tensor([3, 70])
    a, b = net(x, t, y), net(x, t, -y)
    assert a.shape == x.shape and not torch.allclose(a, b)
    with pytest.raises(ValueError, match="expected an unconditional UNet"):
        SRDiffUNet(UNet(in_channels=2, cond_channels=1, base_channels=8, channel_mults=(1, 2), groups=4), _encoder())
    with pytest.raises(ValueError, match=r"y: expected the LR image \(2, 1, 8, 8\)"):
        net(x, t, torch.zeros(2, 1, 16, 16))


def test_training_moves_the_unet_never_the_encoder():
    torch.manual_seed(2)
    model = SR3(SRDiffUNet(UNet(**UNET), _encoder()), 4, residual=True, residual_scale=0.5, clip_residual=True)
    frozen = {k: v.clone() for k, v in model.net.encoder.state_dict().items()}
    proj = model.net.cond_proj.weight.detach().clone()
    process = GaussianDiffusion(make_beta_schedule("cosine", 100))
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    g = torch.Generator().manual_seed(3)
    hr = torch.rand(4, 1, 32, 32, generator=g) * 2 - 1
    y = torch.nn.functional.avg_pool2d(hr, 4)
    for _ in range(3):
        loss = process.loss(model, model.target(hr, y), y, generator=g, norm="l1")
        opt.zero_grad()
        loss.backward()
        opt.step()
        assert all(p.grad is None for p in model.net.encoder.parameters())
    assert all(torch.equal(frozen[k], v) for k, v in model.net.encoder.state_dict().items())
    assert not torch.equal(proj, model.net.cond_proj.weight)


def test_the_clipped_doubled_residual_and_its_inverse():
    g = torch.Generator().manual_seed(4)
    hr = torch.rand(2, 1, 32, 32, generator=g) * 2 - 1
    y = torch.nn.functional.avg_pool2d(hr, 4)
    model = SR3(SRDiffUNet(UNet(**UNET), _encoder()), 4, residual=True, residual_scale=0.5, clip_residual=True)
    up = upsample(y, 4, "bicubic")
    x_r = model.target(hr, y)
    assert torch.allclose(x_r, (2 * (hr - up)).clamp(-1, 1))  # SRDiff's img2res
    inside = (2 * (hr - up)).abs() <= 1
    back = model.to_image(x_r, y)
    assert torch.allclose(back[inside], hr[inside], atol=1e-6)  # res2img undoes it where the clip did not act
    assert (x_r.abs() <= 1).all() and x_r.abs().max() == 1  # these random images do hit the clip


def test_the_l1_loss_on_eps():
    process = GaussianDiffusion(make_beta_schedule("cosine", 100))
    g = torch.Generator().manual_seed(5)
    x0, noise = torch.randn(3, 1, 4, 4, generator=g), torch.randn(3, 1, 4, 4, generator=g)
    t = torch.tensor([1, 50, 99])
    model = lambda x, t_, c: 0.5 * x  # noqa: E731
    x_t = process.q_sample(x0, t, noise)
    want = (0.5 * x_t - noise).abs().mean()
    assert torch.allclose(process.loss(model, x0, t=t, noise=noise, norm="l1"), want)
    assert torch.allclose(process.loss(model, x0, t=t, noise=noise), ((0.5 * x_t - noise) ** 2).mean())
    with pytest.raises(ValueError, match="norm must be 'l2' or 'l1'"):
        process.loss(model, x0, t=t, noise=noise, norm="huber")


def test_the_method_starts_from_the_shipped_encoder_frozen():
    from course_lib.methods import SRDiffMethod
    from course_lib.engine.pretrained import load
    from course_lib.engine.train import TrainConfig, Trainer

    trainer = Trainer(TrainConfig.from_dict(SRDiffMethod.example()), device="cpu")
    encoder, shipped = trainer.model.net.encoder, load("digits_rrdb", "cpu").model
    assert all(torch.equal(a, b) for a, b in zip(encoder.state_dict().values(), shipped.state_dict().values()))
    assert not any(p.requires_grad for p in encoder.parameters())
    assert trainer.model.residual and trainer.model.residual_scale == 0.5 and trainer.model.clip_residual
    bad = SRDiffMethod.example()
    bad["model"]["encoder_args"] = {"nf": 16, "blocks": 4, "gc": 16}
    with pytest.raises(ValueError, match="encoder_args must match the shipped 'digits_rrdb'"):
        Trainer(TrainConfig.from_dict(bad), device="cpu")
