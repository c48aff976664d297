import math

import pytest
import torch

from course_lib.embeddings import (
    LearnedTableEmbedding,
    MLPTimeEmbedding,
    make_time_embedding,
    sinusoidal_embedding,
    sinusoidal_embedding_halves,
)
from course_lib.models import MLPDenoiser, UNet, count_parameters


def test_sinusoidal_is_exactly_the_notes_formula():
    t = torch.tensor([0, 1, 17, 999])
    d = 8
    emb = sinusoidal_embedding(t, d)
    assert emb.shape == (4, d) and emb.dtype == torch.float32
    for b, tv in enumerate(t.tolist()):
        for i in range(d // 2):
            w = tv / 10000 ** (2 * i / d)
            assert emb[b, 2 * i].item() == pytest.approx(math.sin(w), abs=1e-5)
            assert emb[b, 2 * i + 1].item() == pytest.approx(math.cos(w), abs=1e-5)
    assert torch.equal(sinusoidal_embedding(torch.tensor([0]), 6)[0], torch.tensor([0.0, 1.0] * 3))


def test_halves_layout_is_a_column_permutation():
    t = torch.arange(0, 1000, 37)
    inter, halves = sinusoidal_embedding(t, 16), sinusoidal_embedding_halves(t, 16)
    perm = [2 * i for i in range(8)] + [2 * i + 1 for i in range(8)]
    assert torch.allclose(inter[:, perm], halves)


def test_nearby_timesteps_have_similar_embeddings():
    e = sinusoidal_embedding(torch.tensor([500, 501, 900]), 64)
    cos = torch.nn.functional.cosine_similarity
    assert cos(e[0:1], e[1:2]) > cos(e[0:1], e[2:3])


@pytest.mark.parametrize("dim", [7, 0, 3.0])
def test_bad_dimension(dim):
    with pytest.raises(ValueError, match="dim must be an even int"):
        sinusoidal_embedding(torch.tensor([1]), dim)


def test_learnable_embeddings():
    table = LearnedTableEmbedding(16, T=100)
    assert table(torch.tensor([0, 99])).shape == (2, 16)
    with pytest.raises(ValueError, match=r"0 … 99"):
        table(torch.tensor([100]))
    with pytest.raises(TypeError, match="integer"):
        table(torch.tensor([1.5]))
    assert MLPTimeEmbedding(16, T=100)(torch.tensor([3, 50])).shape == (2, 16)
    assert make_time_embedding("none", 16) is None
    with pytest.raises(ValueError, match="time_embedding must be one of"):
        make_time_embedding("rotary", 16)


@pytest.mark.parametrize("emb", ["sinusoidal", "learned", "mlp"])
@pytest.mark.parametrize("injection", ["scale_shift", "add"])
def test_unet_shapes_and_time_dependence(emb, injection, device):
    torch.manual_seed(0)
    net = UNet(in_channels=1, base_channels=16, channel_mults=(1, 2), time_embedding=emb, time_injection=injection).to(
        device
    )
    for p in net.parameters():  # leave the zero-initialised output layers non-zero so t matters
        torch.nn.init.normal_(p, std=0.05)
    x = torch.randn(2, 1, 16, 16, device=device)
    out_a = net(x, torch.tensor([5, 5], device=device))
    out_b = net(x, torch.tensor([900, 900], device=device))
    assert out_a.shape == x.shape
    assert not torch.allclose(out_a, out_b)


def test_unet_without_time_ignores_t_and_conditioning_concatenates(device):
    net = UNet(in_channels=1, base_channels=16, channel_mults=(1, 2), time_embedding="none").to(device)
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.05)
    x = torch.randn(2, 1, 16, 16, device=device)
    assert torch.equal(net(x, torch.tensor([1, 2], device=device)), net(x, torch.tensor([800, 3], device=device)))
    sr = UNet(in_channels=2, cond_channels=1, base_channels=16, channel_mults=(1, 2)).to(device)
    assert sr(x, torch.tensor([1, 2], device=device), x).shape == (2, 1, 16, 16)
    with pytest.raises(ValueError, match=r"expects cond of shape \(B, 1, 16, 16\)"):
        sr(x, torch.tensor([1, 2], device=device))


def test_unet_bad_input_and_size():
    net = UNet()
    assert 0.9e6 < count_parameters(net) < 1.3e6
    with pytest.raises(ValueError, match="divisible by 4"):
        net(torch.zeros(1, 1, 30, 30), torch.tensor([1]))
    with pytest.raises(ValueError, match=r"t must have shape \(1,\)"):
        net(torch.zeros(1, 1, 32, 32), torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="time_injection"):
        UNet(time_injection="concat")


def test_mlp_denoiser():
    net = MLPDenoiser()
    assert net(torch.zeros(5, 2), torch.arange(5)).shape == (5, 2)
    with pytest.raises(ValueError, match=r"shape \(B, 2\)"):
        net(torch.zeros(5, 1, 2), torch.arange(5))
