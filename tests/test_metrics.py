import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage.color import rgb2ycbcr
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from course_lib.metrics import psnr, rgb_to_y, ssim


def _pair(seed, shape, noise=0.1, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(shape, generator=g) * 2 - 1
    pred = (target + noise * torch.randn(shape, generator=g)).clamp(-1, 1)
    return pred.to(device), target.to(device)


def _unit(x):
    return (x.double().cpu().numpy() + 1) / 2


def test_psnr_matches_skimage_grayscale(device):
    pred, target = _pair(0, (4, 1, 24, 20), device=device)
    ours = psnr(pred, target).cpu()
    for i in range(4):
        ref = peak_signal_noise_ratio(_unit(target[i, 0]), _unit(pred[i, 0]), data_range=1.0)
        assert ours[i].item() == pytest.approx(ref, abs=1e-3)


def test_psnr_on_y_channel_matches_skimage_ycbcr(device):
    pred, target = _pair(1, (2, 3, 16, 16), device=device)
    ours = psnr(pred, target, shave=2).cpu()
    for i in range(2):
        y_p = rgb2ycbcr(_unit(pred[i]).transpose(1, 2, 0))[..., 0] / 255
        y_t = rgb2ycbcr(_unit(target[i]).transpose(1, 2, 0))[..., 0] / 255
        ref = peak_signal_noise_ratio(y_t[2:-2, 2:-2], y_p[2:-2, 2:-2], data_range=1.0)
        assert ours[i].item() == pytest.approx(ref, abs=1e-3)
    # and RGB without Y averages over the channels
    flat = psnr(pred, target, y_channel=False).cpu()
    mse = ((_unit(pred) - _unit(target)) ** 2).reshape(2, -1).mean(1)
    assert np.allclose(flat.numpy(), 10 * np.log10(1 / mse), atol=1e-3)


def test_rgb_to_y_range():
    assert torch.allclose(rgb_to_y(torch.zeros(1, 3, 2, 2)), torch.full((1, 1, 2, 2), 16 / 255))
    assert torch.allclose(rgb_to_y(torch.ones(1, 3, 2, 2)), torch.full((1, 1, 2, 2), 235 / 255), atol=1e-6)


@pytest.mark.parametrize("channels", [1, 3])
def test_ssim_matches_skimage(channels, device):
    pred, target = _pair(2, (3, channels, 32, 28), noise=0.2, device=device)
    ours = ssim(pred, target).cpu()
    for i in range(3):
        if channels == 3:
            a = rgb2ycbcr(_unit(pred[i]).transpose(1, 2, 0))[..., 0] / 255
            b = rgb2ycbcr(_unit(target[i]).transpose(1, 2, 0))[..., 0] / 255
        else:
            a, b = _unit(pred[i, 0]), _unit(target[i, 0])
        ref = structural_similarity(b, a, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0)
        assert ours[i].item() == pytest.approx(ref, abs=2e-4)


def test_identical_images():
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    assert torch.isinf(psnr(x, x)).all()
    assert torch.allclose(ssim(x, x), torch.ones(2))


def test_value_range_argument():
    pred, target = _pair(3, (2, 1, 16, 16))
    assert torch.allclose(psnr(pred, target), psnr((pred + 1) / 2, (target + 1) / 2, value_range=(0, 1)), atol=1e-4)
    assert torch.allclose(
        psnr(pred, target), psnr((pred + 1) * 127.5, (target + 1) * 127.5, value_range=(0, 255)), atol=1e-3
    )


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), noise=st.floats(0.01, 0.5))
def test_symmetry_and_bounds(seed, noise):
    pred, target = _pair(seed, (1, 1, 16, 16), noise=noise)
    assert torch.allclose(psnr(pred, target), psnr(target, pred))
    assert torch.allclose(ssim(pred, target), ssim(target, pred), atol=1e-6)
    assert ssim(pred, target).item() <= 1 + 1e-6
    assert psnr(pred, target).item() > 0


def test_more_noise_means_lower_psnr():
    _, target = _pair(4, (1, 1, 16, 16))
    g = torch.Generator().manual_seed(0)
    n = torch.randn(target.shape, generator=g)
    assert psnr(target + 0.05 * n, target) > psnr(target + 0.1 * n, target)


@pytest.mark.parametrize(
    "a,b,match",
    [
        (torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 9), "same shape"),
        (torch.zeros(1, 2, 8, 8), torch.zeros(1, 2, 8, 8), "1 or 3 channels"),
        (torch.zeros(1, 8, 8), torch.zeros(1, 8, 8), r"\(B, C, H, W\)"),
        (torch.zeros(1, 1, 8, 8, dtype=torch.uint8), torch.zeros(1, 1, 8, 8, dtype=torch.uint8), "floating-point"),
    ],
)
def test_bad_inputs(a, b, match):
    with pytest.raises((ValueError, TypeError), match=match):
        psnr(a, b)


def test_ssim_too_small_and_bad_shave():
    x = torch.zeros(1, 1, 8, 8)
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(x, x)
    with pytest.raises(ValueError, match="shave=4"):
        psnr(x, x, shave=4)
