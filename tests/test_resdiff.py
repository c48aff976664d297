"""ResDiff at toy scale (lesson 09): the frequency losses and filters, the residual over a frozen CNN."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.datasets import DigitsSR
from course_lib.frequency import (
    dwt_loss,
    fft_loss,
    frequency_radius,
    gaussian_highpass,
    haar_dwt,
    radial_power_spectrum,
    resdiff_cnn_loss,
)
from course_lib.models import RRDBNet, UNet
from course_lib.models.resdiff import ResDiffSR


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), size=st.sampled_from([2, 8, 32]))
def test_the_haar_transform_keeps_energy_and_inverts(seed, size):
    x = torch.randn(2, 1, size, size, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    bands = haar_dwt(x)
    assert torch.allclose((bands**2).sum(), (x**2).sum())
    ll, lh, hl, hh = bands.unbind(1)
    back = torch.empty_like(x)  # the inverse of an orthonormal transform is its transpose
    back[..., 0::2, 0::2] = 0.5 * (ll + lh + hl + hh)
    back[..., 0::2, 1::2] = 0.5 * (ll - lh + hl - hh)
    back[..., 1::2, 0::2] = 0.5 * (ll + lh - hl - hh)
    back[..., 1::2, 1::2] = 0.5 * (ll - lh - hl + hh)
    assert torch.allclose(back, x)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_the_fft_loss_is_the_pixel_mse_by_parseval(seed):
    g = torch.Generator().manual_seed(seed)
    a, b = torch.randn(3, 1, 32, 32, generator=g), torch.randn(3, 1, 32, 32, generator=g)
    assert fft_loss(a, b).item() == pytest.approx(F.mse_loss(a, b).item(), rel=1e-5)


def test_the_dwt_loss_weighs_coarse_detail_bands_more():
    # one unit of error energy at the finest detail level vs the same energy at the coarsest (level 4 of 32 × 32)
    fine, coarse = torch.zeros(1, 1, 32, 32), torch.zeros(1, 1, 32, 32)
    fine[..., 0, 0], fine[..., 0, 1] = 0.5, -0.5  # a Haar LH-type pair at level 1
    coarse[..., :16, :16] = 2**0.5 / 32  # two 8 × 8 blocks against their neighbours: level-3 detail
    coarse[..., :16, 8:16] = -(2**0.5) / 32
    zero = torch.zeros_like(fine)
    assert (fine**2).sum() == pytest.approx(float((coarse**2).sum()))
    assert dwt_loss(coarse, zero) > 50 * dwt_loss(fine, zero)
    assert dwt_loss(torch.ones(1, 1, 32, 32), zero) == 0  # a constant lives in the final LL, which is left out
    x = torch.randn(2, 1, 32, 32)
    assert resdiff_cnn_loss(x, x) == 0 and resdiff_cnn_loss(x, -x) > 0


def test_the_highpass_removes_the_mean_and_keeps_edges():
    x = torch.full((1, 1, 32, 32), 0.7)
    assert gaussian_highpass(x, 0.1).abs().max() < 1e-6  # zero frequency: gain 0
    _, y = DigitsSR("test", 4).tensors([0])
    checker = (torch.arange(32)[:, None] + torch.arange(32)[None, :]) % 2 * 2.0 - 1
    hp = gaussian_highpass(checker[None, None], 0.1)
    assert torch.allclose(hp, checker[None, None], atol=1e-4)  # the highest frequency passes (gain ≈ 1)
    sigma = torch.tensor(0.1, requires_grad=True)
    gaussian_highpass(y, sigma).pow(2).sum().backward()
    assert sigma.grad is not None and sigma.grad != 0  # σ can be learned
    assert frequency_radius(4, 4)[0, 0] == 0 and frequency_radius(4, 4)[2, 2] == pytest.approx(0.5**0.5)


def test_the_radial_spectrum_sums_to_the_energy_per_ring():
    x = torch.randn(4, 1, 32, 32)
    centres, power = radial_power_spectrum(x, bins=8)
    assert centres.shape == power.shape == (8,)
    assert torch.all(power > 0.5) and torch.all(power < 1.5)  # white noise: flat at 1 (orthonormal FFT)
    smooth = F.avg_pool2d(x, 4).repeat_interleave(4, -1).repeat_interleave(4, -2)
    _, p2 = radial_power_spectrum(smooth, bins=8)
    assert p2[-1] < 0.05 * p2[0]  # a blocky image has its power at low frequencies


def _resdiff(hf: bool = True) -> ResDiffSR:
    torch.manual_seed(0)
    cnn = RRDBNet(1, 4, 8, 1, 4)
    for p in cnn.parameters():
        torch.nn.init.normal_(p, std=0.05)
    unet = UNet(
        in_channels=3 if hf else 2, cond_channels=2 if hf else 1, base_channels=8, channel_mults=(1, 2), attention=False
    )
    return ResDiffSR(unet, cnn, hf_input=hf)


def test_the_residual_is_taken_over_the_cnn_and_added_back():
    model = _resdiff().eval()
    hr, y = DigitsSR("test", 4).tensors([0, 1])
    base = model.cnn(y)
    assert torch.allclose(model.target(hr, y), hr - base)
    assert torch.allclose(model.to_image(model.target(hr, y), y), hr, atol=1e-6)
    cond = model.condition(y)
    assert cond.shape == (2, 2, 32, 32) and torch.allclose(cond[:, 0:1], base)
    assert torch.allclose(cond[:, 1:2], gaussian_highpass(base, model.log_sigma.exp()))
    assert model(torch.randn(2, 1, 32, 32), torch.tensor([5, 9]), y).shape == (2, 1, 32, 32)
    assert _resdiff(hf=False).condition(y).shape == (2, 1, 32, 32)


def test_the_cnn_stays_frozen_and_in_eval_mode():
    model = _resdiff().train()
    assert not model.cnn.training and not any(p.requires_grad for p in model.cnn.parameters())
    assert model.log_sigma.requires_grad
    with pytest.raises(ValueError, match="cond_channels=2"):
        ResDiffSR(UNet(in_channels=2, cond_channels=1, base_channels=8, channel_mults=(1, 2)), RRDBNet(1, 4, 8, 1, 4))
