"""Lesson 10's backbones: tokens, attention, DiT's adaLN-Zero and U-ViT's long skips — identities and behaviour,
a cross-check with diffusers at the level where the two match, and the SR3-style wrapper built on each."""

import math

import pytest
import torch
import torch.nn.functional as F

from course_lib.embeddings import sinusoidal_embedding_halves
from course_lib.models import DiT, SR3, UViT, make_backbone
from course_lib.models.dit import DiTBlock, modulate
from course_lib.models.vit import (
    MLP,
    MultiHeadAttention,
    PatchEmbed,
    attention,
    patchify,
    sincos_position_embedding_2d,
    unpatchify,
)


@pytest.mark.parametrize("shape,p", [((2, 1, 32, 32), 4), ((3, 2, 8, 12), 2), ((1, 4, 8, 8), 1), ((2, 3, 6, 6), 3)])
def test_patchify_round_trip_is_exact(shape, p):
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    tokens = patchify(x, p)
    assert tokens.shape == (shape[0], (shape[2] // p) * (shape[3] // p), p * p * shape[1])
    assert torch.equal(unpatchify(tokens, p, shape[1], (shape[2] // p, shape[3] // p)), x)


def test_patchify_keeps_channels_apart_and_orders_patches_row_major():
    """Token i is patch (i // w, i % w); inside it, element (r, c, ch) is pixel (row·p + r, col·p + c) of channel ch."""
    B, C, H, W, p = 2, 3, 8, 12, 4
    x = torch.arange(B * C * H * W, dtype=torch.float32).reshape(B, C, H, W)
    tokens = patchify(x, p).reshape(B, (H // p) * (W // p), p, p, C)
    w = W // p
    for i in range(tokens.shape[1]):
        row, col = divmod(i, w)
        for ch in range(C):
            assert torch.equal(tokens[:, i, :, :, ch], x[:, ch, row * p : (row + 1) * p, col * p : (col + 1) * p])


def test_patch_embedding_is_a_linear_map_of_the_tokens():
    embed = PatchEmbed(2, 16, 4)
    x = torch.randn(3, 2, 16, 16)
    kernel = embed.proj.weight  # (D, C, p, p) → (D, p·p·C) in patchify's (row, column, channel) order
    as_linear = kernel.permute(0, 2, 3, 1).reshape(16, -1)
    assert torch.allclose(embed(x), patchify(x, 4) @ as_linear.T + embed.proj.bias, atol=1e-5)


def test_bad_images_are_named():
    with pytest.raises(ValueError, match=r"multiples of patch_size=4, got \(30, 32\)"):
        patchify(torch.zeros(1, 1, 30, 32), 4)
    with pytest.raises(ValueError, match=r"x must have shape \(B, C, H, W\), got \(1, 32, 32\)"):
        patchify(torch.zeros(1, 32, 32), 4)
    with pytest.raises(ValueError, match=r"tokens must have shape \(B, 4, 16\)"):
        unpatchify(torch.zeros(1, 5, 16), 2, 4, (2, 2))


def test_position_embedding_encodes_row_and_column_separately():
    pe = sincos_position_embedding_2d(16, (3, 5))
    assert pe.shape == (15, 16)
    rows, cols = torch.arange(3).repeat_interleave(5), torch.arange(5).repeat(3)
    assert torch.allclose(pe[:, :8], sinusoidal_embedding_halves(rows, 8))
    assert torch.allclose(pe[:, 8:], sinusoidal_embedding_halves(cols, 8))
    assert len({tuple(r.tolist()) for r in pe}) == 15  # every position distinct
    with pytest.raises(ValueError, match="multiple of 4"):
        sincos_position_embedding_2d(6, (2, 2))


def test_attention_by_hand_matches_pytorch_single_and_multi_head():
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(2, 7, 8, generator=g) for _ in range(3))
    out, w = attention(q, k, v, return_weights=True)
    assert torch.allclose(out, F.scaled_dot_product_attention(q, k, v), atol=1e-6)
    assert torch.allclose(w.sum(-1), torch.ones(2, 7)) and (w >= 0).all()
    # the 1/√d matters: without it the weights are sharper and the result differs
    sharper = torch.softmax(q @ k.transpose(-2, -1), dim=-1) @ v
    assert not torch.allclose(sharper, out, atol=1e-3)
    mha = MultiHeadAttention(16, heads=4)
    x = torch.randn(3, 10, 16, generator=g)
    fused = mha(x)
    by_hand, weights = mha(x, return_weights=True)
    assert weights.shape == (3, 4, 10, 10) and torch.allclose(fused, by_hand, atol=1e-5)
    # heads = 4 is four independent Eq. 10.2 on column blocks of Q, K, V
    qkv = mha.qkv(x).reshape(3, 10, 3, 4, 4)
    heads = [attention(qkv[:, :, 0, h], qkv[:, :, 1, h], qkv[:, :, 2, h]) for h in range(4)]
    assert torch.allclose(mha.proj(torch.cat(heads, dim=-1)), fused, atol=1e-5)
    with pytest.raises(ValueError, match="dim must be divisible by heads, got dim=10, heads=4"):
        MultiHeadAttention(10, 4)


def test_adaln_zero_block_is_the_identity_at_initialisation_and_still_learns():
    torch.manual_seed(0)
    block = DiTBlock(32, 4, kind="adaln_zero")
    x, c = torch.randn(2, 9, 32), torch.randn(2, 32)
    assert torch.equal(block(x, c), x)
    block(x, c).pow(2).sum().backward()
    assert block.modulation[-1].weight.grad.abs().sum() > 0  # ∂/∂W of a zero layer is not zero
    ordinary = DiTBlock(32, 4, kind="adaln")
    assert not torch.allclose(ordinary(x, c), x)


def test_modulation_has_the_one_plus_scale():
    x, shift, scale = torch.randn(2, 3, 4), torch.zeros(2, 4), torch.zeros(2, 4)
    assert torch.equal(modulate(x, shift, scale), x)  # scale 0 is the plain LayerNorm output, not zero
    assert torch.allclose(modulate(x, shift, scale + 1), 2 * x)


@pytest.mark.parametrize("p", [2, 4])
def test_dit_outputs_zero_at_initialisation_and_not_after_a_step(p):
    torch.manual_seed(0)
    net = DiT(in_channels=2, cond_channels=1, patch_size=p, hidden_size=32, depth=2, heads=4)
    x, c, t = torch.randn(2, 1, 16, 16), torch.randn(2, 1, 16, 16), torch.tensor([5, 900])
    assert torch.equal(net(x, t, c), torch.zeros(2, 1, 16, 16))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    F.mse_loss(net(x, t, c), torch.randn(2, 1, 16, 16)).backward()
    opt.step()
    out = net(x, t, c)
    assert out.abs().sum() > 0 and torch.isfinite(out).all()
    assert not torch.allclose(out[0], out[1])  # t and the input reach the output


def test_dit_variants_of_its_ablation():
    torch.manual_seed(0)
    x, c, t = torch.randn(2, 1, 16, 16), torch.randn(2, 1, 16, 16), torch.tensor([5, 900])
    in_context = DiT(hidden_size=32, depth=2, heads=4, block="in_context")
    out, weights = in_context(x, t, c, return_weights=True)
    assert out.shape == (2, 1, 16, 16) and weights[0].shape == (2, 4, 17, 17)  # 16 patches + the t token
    assert not torch.equal(DiT(hidden_size=32, depth=2, heads=4, block="adaln")(x, t, c), torch.zeros_like(x))
    with pytest.raises(ValueError, match="block must be one of"):
        DiT(block="cross_attention")
    with pytest.raises(ValueError, match=r"this DiT expects cond of shape \(B, 1, 16, 16\), got \(2, 1, 8, 8\)"):
        in_context(x, t, torch.zeros(2, 1, 8, 8))


def test_uvit_long_skips_concatenate_and_pair_last_in_first_out():
    torch.manual_seed(0)
    net = UViT(input_size=16, patch_size=4, hidden_size=32, depth=5, heads=4)
    assert [b.skip.in_features for b in net.out_blocks] == [64, 64]  # [h ; h_skip]: 2D → D, not an addition
    plain = UViT(input_size=16, patch_size=4, hidden_size=32, depth=5, heads=4, long_skips=False)
    assert all(b.skip is None for b in plain.out_blocks)
    x, c, t = torch.randn(2, 1, 16, 16), torch.randn(2, 1, 16, 16), torch.tensor([5, 900])
    out, weights = net(x, t, c, return_weights=True)
    assert out.shape == (2, 1, 16, 16) and len(weights) == 5 and weights[0].shape == (2, 4, 17, 17)
    # last in, first out: the first out block reads the last in block's output
    seen = {}
    net.out_blocks[0].skip.register_forward_hook(lambda m, i, o: seen.setdefault("first", i[0][..., 32:]))
    net.in_blocks[1].register_forward_hook(lambda m, i, o: seen.setdefault("deepest", o))
    net(x, t, c)
    assert torch.equal(seen["first"], seen["deepest"])
    with pytest.raises(ValueError, match="depth must be odd"):
        UViT(depth=4)
    with pytest.raises(ValueError, match=r"x must have shape \(B, 1, 16, 16\)"):
        net(torch.zeros(2, 1, 32, 32), t, torch.zeros(2, 1, 32, 32))


def test_diffusers_adaln_zero_attention_and_feed_forward_match_with_copied_weights():
    from diffusers.models.attention import FeedForward
    from diffusers.models.attention_processor import Attention
    from diffusers.models.normalization import AdaLayerNormZero

    torch.manual_seed(0)
    D, heads = 32, 4
    block = DiTBlock(D, heads, kind="adaln_zero")
    for p in block.parameters():  # leave the zero initialisation: every part must carry weight to be compared
        torch.nn.init.normal_(p, std=0.2)
    x, c = torch.randn(2, 9, D), torch.randn(2, D)
    # the modulation: diffusers' AdaLayerNormZero given the embedding c directly
    ada = AdaLayerNormZero(D)
    ada.linear.load_state_dict(block.modulation[-1].state_dict())
    normed, gate_msa, shift_mlp, scale_mlp, gate_mlp = ada(x, emb=c)
    shift1, scale1, gate1, shift2, scale2, gate2 = block.modulation(c).chunk(6, dim=1)
    assert torch.allclose(normed, modulate(block.norm1(x), shift1, scale1), atol=1e-5)
    for theirs, ours in ((gate_msa, gate1), (shift_mlp, shift2), (scale_mlp, scale2), (gate_mlp, gate2)):
        assert torch.allclose(theirs, ours, atol=1e-6)
    # the attention: diffusers' Attention with our fused Q, K, V split into its three projections
    attn = Attention(D, heads=heads, dim_head=D // heads, bias=True)
    wq, wk, wv = block.attn.qkv.weight.chunk(3, dim=0)
    bq, bk, bv = block.attn.qkv.bias.chunk(3)
    for lin, w, b in ((attn.to_q, wq, bq), (attn.to_k, wk, bk), (attn.to_v, wv, bv)):
        lin.weight.data.copy_(w)
        lin.bias.data.copy_(b)
    attn.to_out[0].load_state_dict(block.attn.proj.state_dict())
    assert torch.allclose(attn(normed), block.attn(normed), atol=1e-5)
    # the feed-forward: GELU with the tanh approximation between two linear maps
    ff = FeedForward(D, mult=4, activation_fn="gelu-approximate")
    ff.net[0].proj.load_state_dict(block.mlp.fc1.state_dict())
    ff.net[2].load_state_dict(block.mlp.fc2.state_dict())
    assert torch.allclose(ff(x), block.mlp(x), atol=1e-5)
    # and so the whole block, as diffusers' pieces compose it
    h = x + gate_msa[:, None] * attn(normed)
    h = h + gate_mlp[:, None] * ff(modulate(block.norm2(h), shift_mlp, scale_mlp))
    assert torch.allclose(h, block(x, c), atol=1e-4)


@pytest.mark.parametrize(
    "name,args",
    [
        ("dit", dict(in_channels=2, cond_channels=1, patch_size=4, hidden_size=32, depth=2, heads=4)),
        ("uvit", dict(in_channels=2, cond_channels=1, input_size=16, patch_size=4, hidden_size=32, depth=3, heads=4)),
    ],
)
def test_the_sr3_wrapper_takes_a_transformer_backbone(name, args):
    torch.manual_seed(0)
    model = SR3(make_backbone(name, **args), scale=4, residual=True, prediction="x0")
    y, x_t, t = torch.rand(2, 1, 4, 4) * 2 - 1, torch.randn(2, 1, 16, 16), torch.tensor([10, 800])
    out = model(x_t, t, y)
    assert out.shape == (2, 1, 16, 16) and torch.isfinite(out).all()
    with pytest.raises(ValueError, match="backbone must be one of"):
        make_backbone("resnet")
    with pytest.raises(ValueError, match=rf"backbone '{name}' \({type(model.net).__name__}\): .*unexpected keyword"):
        make_backbone(name, channel_mults=(1, 2))


def test_parameter_count_of_a_block_is_eighteen_d_squared():
    """A third of a DiT block sits in its adaLN modulation: 6D² of 18D² (+ biases)."""
    D = 64
    block = DiTBlock(D, 4)
    count = {
        name: sum(p.numel() for p in m.parameters())
        for name, m in (("attention", block.attn), ("mlp", block.mlp), ("modulation", block.modulation))
    }
    assert count == {"attention": 4 * D * D + 4 * D, "mlp": 8 * D * D + 5 * D, "modulation": 6 * D * D + 6 * D}
    assert math.isclose(count["modulation"] / sum(count.values()), 1 / 3, rel_tol=0.02)


def test_mlp_is_two_linear_maps_around_tanh_gelu():
    mlp = MLP(8, ratio=2)
    x = torch.randn(3, 8)
    assert torch.allclose(mlp(x), mlp.fc2(F.gelu(mlp.fc1(x), approximate="tanh")))
