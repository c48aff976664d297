"""Lesson 13's SwinIR-style regressor (course_lib.models.swinir) and its method (course_lib.methods.swinir)."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.engine.config import TrainConfig
from course_lib.methods import get_method
from course_lib.methods.swinir import feature_maps, perceptual_loss
from course_lib.models import Autoencoder, SwinIR
from course_lib.models.swinir import SwinLayer, WindowAttention, shift_mask, window_merge, window_partition
from course_lib.operators import upsample


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.sampled_from([2, 4]))
def test_window_partition_and_merge_are_inverse(b, gh, gw, w):
    x = torch.randn(b, gh * w, gw * w, 5)
    windows = window_partition(x, w)
    assert windows.shape == (b * gh * gw, w * w, 5)
    # the first window holds the top-left w × w block, row by row
    assert torch.equal(windows[0], x[0, :w, :w].reshape(w * w, 5))
    assert torch.equal(window_merge(windows, w, gh * w, gw * w), x)


def test_shift_mask_blocks_only_pairs_the_roll_brought_together():
    H = W = 8
    window, shift = 4, 2
    mask = shift_mask(H, W, window, shift)
    assert mask.shape == (4, 16, 16)
    assert torch.equal(mask, mask.transpose(1, 2))  # symmetric
    assert torch.all(mask.diagonal(dim1=1, dim2=2) == 0)  # a token always sees itself
    assert torch.all(mask[0] == 0)  # the top-left window of the rolled map holds one region: nothing masked
    assert (mask[3] == -100).any()  # the bottom-right window joins four regions from the map's edges
    # by hand: in the rolled map, the bottom-right window's tokens come from 4 regions, each 2 × 2
    region = torch.tensor([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]]).flatten()
    expected = torch.where(region[:, None] == region[None, :], 0.0, -100.0)
    assert torch.equal(mask[3], expected)


def test_relative_position_bias_depends_only_on_the_offset():
    torch.manual_seed(0)
    attn = WindowAttention(dim=6, window=3, heads=2)
    B = attn.bias()  # (heads, 9, 9)
    assert B.shape == (2, 9, 9)
    coords = [(i, j) for i in range(3) for j in range(3)]
    for p, (i1, j1) in enumerate(coords):
        for q, (i2, j2) in enumerate(coords):
            for r, (i3, j3) in enumerate(coords):
                for s, (i4, j4) in enumerate(coords):
                    if (i1 - i2, j1 - j2) == (i3 - i4, j3 - j4):
                        assert torch.equal(B[:, p, q], B[:, r, s])
    # (2w − 1)² = 25 distinct offsets, each its own table row
    assert attn.bias_index.unique().numel() == 25


def test_attention_by_hand_matches_eq_13_1():
    torch.manual_seed(1)
    attn = WindowAttention(dim=4, window=2, heads=1)
    x = torch.randn(3, 4, 4)
    q, k, v = attn.qkv(x).chunk(3, dim=-1)
    weights = torch.softmax(q @ k.transpose(-2, -1) / 2.0 + attn.bias()[0], dim=-1)  # √d = √4
    expected = attn.proj(weights @ v)
    torch.testing.assert_close(attn(x), expected)


def test_an_unshifted_layer_commutes_with_a_roll_by_whole_windows():
    torch.manual_seed(2)
    layer = SwinLayer(dim=6, window=4, heads=2, shift=0)
    x = torch.randn(2, 8, 8, 6)
    rolled = torch.roll(x, shifts=(4, 4), dims=(1, 2))
    torch.testing.assert_close(layer(rolled), torch.roll(layer(x), shifts=(4, 4), dims=(1, 2)))
    # the shifted layer mixes across window borders: moving one pixel changes tokens of a neighbouring window
    shifted = SwinLayer(dim=6, window=4, heads=2, shift=2)
    x2 = x.clone()
    x2[:, 3, 3] += torch.randn(6)  # a pixel in the top-left window (not a constant: LayerNorm would remove it)
    changed = (shifted(x2) - shifted(x)).abs().sum(-1)[0] > 1e-6
    assert changed[4:, 4:].any()  # the bottom-right window feels it through the shifted window


@pytest.mark.parametrize("upsampler", ["pixelshuffledirect", "pixelshuffle"])
def test_swinir_starts_as_bicubic_with_either_upsampler(upsampler):
    torch.manual_seed(3)
    net = SwinIR(channels=1, scale=4, dim=12, groups=1, depth=2, heads=2, window=4, upsampler=upsampler).eval()
    y = torch.rand(2, 1, 8, 8) * 2 - 1
    out = net(y)
    assert out.shape == (2, 1, 32, 32)
    torch.testing.assert_close(out, upsample(y, 4, "bicubic").clamp(-1, 1))
    # after a step of training it departs from bicubic: the zero convolution was the only thing holding it there
    net.train()
    loss = (net(y) - torch.rand(2, 1, 32, 32)).pow(2).mean()
    loss.backward()
    zero = net.upsampler if upsampler == "pixelshuffledirect" else net.last
    assert zero.weight.grad.abs().sum() > 0


def test_the_light_upsampler_is_one_convolution_and_a_shuffle():
    light, classical = SwinIR(dim=48), SwinIR(dim=48, upsampler="pixelshuffle")
    from course_lib.models import count_parameters

    assert tuple(light.upsampler.weight.shape) == (16, 48, 3, 3) and isinstance(light.last, torch.nn.PixelShuffle)
    assert count_parameters(classical) - count_parameters(light) == count_parameters(classical.upsampler) + (
        count_parameters(classical.last) - count_parameters(light.upsampler)
    )
    with pytest.raises(ValueError, match="upsampler must be 'pixelshuffledirect' or 'pixelshuffle', got 'nearest'"):
        SwinIR(upsampler="nearest")


def test_swinir_checks_its_input():
    net = SwinIR(channels=1, scale=4, dim=12, groups=1, depth=2, heads=2, window=4).eval()
    with pytest.raises(ValueError, match="multiples of window=4"):
        net(torch.zeros(1, 1, 6, 8))
    with pytest.raises(ValueError, match=r"y must have shape \(B, 1, h, w\)"):
        net(torch.zeros(1, 3, 8, 8))
    with pytest.raises(ValueError, match="scale must be a power of 2"):
        SwinIR(scale=3)
    with pytest.raises(ValueError, match="multiple of heads"):
        SwinIR(dim=10, heads=3)


def test_perceptual_loss_is_zero_only_at_the_target_and_reaches_every_layer():
    torch.manual_seed(4)
    encoder = Autoencoder(width=8).encoder.eval()
    hr = torch.rand(3, 1, 32, 32) * 2 - 1
    sr = hr + 0.1 * torch.randn_like(hr)
    with torch.no_grad():
        assert float(perceptual_loss(encoder, hr, hr)) == 0.0
        assert float(perceptual_loss(encoder, sr, hr)) > 0
    maps = feature_maps(encoder, hr)
    assert [tuple(m.shape[-2:]) for m in maps] == [(32, 32), (16, 16), (8, 8)]
    sr.requires_grad_(True)
    perceptual_loss(encoder, sr, hr).backward()
    assert sr.grad.abs().sum() > 0


def _config(loss: str, **model) -> TrainConfig:
    return TrainConfig.from_dict(
        {"name": "t", "dataset": "digits_sr:4", "method": "swinir", "model": {"dim": 12, "groups": 1, "heads": 2,
                                                                              "loss": loss, **model}}
    )  # fmt: skip


def test_the_method_names_its_feature_network_and_checks_its_options():
    l1 = get_method("swinir")(_config("l1"))
    perceptual = get_method("swinir")(_config("perceptual"))
    assert l1.trained_with() == ()
    assert perceptual.trained_with() == ("digits_autoencoder",)
    with pytest.raises(ValueError, match="model.loss must be 'l1' or 'perceptual'"):
        get_method("swinir")(_config("vgg")).build()
    with pytest.raises(ValueError, match="model.perceptual_weight must be > 0"):
        get_method("swinir")(_config("perceptual", perceptual_weight=0.0)).build()
    with pytest.raises(RuntimeError, match="setup"):
        net = perceptual.build()
        perceptual.loss(net, None, {"y": torch.zeros(1, 1, 8, 8), "x": torch.zeros(1, 1, 32, 32)}, None)
    with pytest.raises(ValueError, match="model.feature_net must name a shipped autoencoder"):
        perceptual.setup(lambda name: torch.nn.Linear(2, 2), "cpu")


def test_the_perceptual_method_trains_against_the_shipped_autoencoder():
    from course_lib.engine.pretrained import load

    method = get_method("swinir")(_config("perceptual"))
    method.setup(lambda name: load(name, "cpu").model, "cpu")
    net = method.build()
    batch = {"y": torch.rand(2, 1, 8, 8) * 2 - 1, "x": torch.rand(2, 1, 32, 32) * 2 - 1}
    loss = method.loss(net, None, batch, torch.Generator().manual_seed(0))
    pixel = torch.nn.functional.l1_loss(net(batch["y"]), batch["x"])
    assert float(loss.detach()) > float(pixel.detach())  # the feature term adds to the pixel term
    loss.backward()
    assert all(p.grad is None for p in method.features.parameters())  # the feature network stays frozen
