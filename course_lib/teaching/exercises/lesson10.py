"""Exercises of lesson 10, each naming the classic mistake it catches: a patchify that mixes channels and positions
(Eq. 10.1), attention without the 1/√d (Eq. 10.2), adaLN's modulation without the 1 + scale or without the gate
(Eq. 10.4), a "zero" initialisation that does not make the block the identity, and a long skip added instead of
concatenated (Eq. 10.5)."""

from __future__ import annotations

import math

import torch

from ...models.dit import DiTBlock, modulate
from ...models.vit import patchify
from . import Exercise, Mismatch, close, expect_tensor, register, run_check

__all__ = ["check_patchify", "check_attention", "check_dit_block", "check_adaln_zero_init", "check_long_skip"]


def _test_patchify(fn) -> None:
    g = torch.Generator().manual_seed(101)
    x = torch.randn(2, 3, 8, 12, generator=g, dtype=torch.float64)
    p = 4
    out = fn(x.clone(), p)
    want = patchify(x, p)
    expect_tensor(out, want.shape, "the tokens (B, N, p·p·C)")
    if close(out, want):
        return
    B, C, H, W = x.shape
    if close(out, x.reshape(B, -1, p * p * C)):
        raise Mismatch(
            "a plain reshape: each 'token' is a run of consecutive numbers in memory — a strip of one channel's "
            "rows, not a p × p patch, and channels end up mixed with positions. Split H and W into (H/p, p) and "
            "(W/p, p), move the two patch-grid axes first and (row, column, channel) last, then flatten (Eq. 10.1)."
        )
    channel_first = x.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 1, 3, 5).reshape(B, -1, p * p * C)
    if close(out, channel_first):
        raise Mismatch(
            "right patches, but each token lists its pixels channel by channel (C, p, p): the course (and DiT's "
            "unpatchify) keeps the channel innermost, (p, p, C), so that unpatchify undoes it. Permute to "
            "(B, H/p, W/p, p, p, C) before flattening."
        )
    column_major = x.reshape(B, C, H // p, p, W // p, p).permute(0, 4, 2, 3, 5, 1).reshape(B, -1, p * p * C)
    if close(out, column_major):
        raise Mismatch(
            "the patches come column by column: token 1 must be the patch to the right of token 0 (row-major, "
            "as the position embedding and unpatchify expect)."
        )
    transposed = x.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 5, 3, 1).reshape(B, -1, p * p * C)
    if close(out, transposed):
        raise Mismatch(
            "inside each patch rows and columns are swapped: list a patch row by row, (row, column, channel)."
        )
    raise Mismatch("expected the tokens of Eq. 10.1: patches row by row, each its pixels as (row, column, channel).")


def _test_attention(fn) -> None:
    g = torch.Generator().manual_seed(102)
    q, k, v = (torch.randn(2, 5, 16, generator=g, dtype=torch.float64) for _ in range(3))
    out = fn(q.clone(), k.clone(), v.clone())
    scores = q @ k.transpose(-2, -1)
    if isinstance(out, torch.Tensor) and out.shape == scores.shape:
        raise Mismatch("that is the (N, N) attention weights: multiply them by v to get each query's mix of values.")
    expect_tensor(out, v.shape, "the attended values (…, N, d)")
    if close(out, torch.softmax(scores / math.sqrt(16), dim=-1) @ v):
        return
    if close(out, torch.softmax(scores, dim=-1) @ v):
        raise Mismatch(
            "no 1/√d: with d = 16 the scores are 4× too large and the softmax is nearly one-hot — at d = 64 it "
            "saturates and its gradient vanishes. Divide q kᵀ by √d before the softmax (Eq. 10.2)."
        )
    if close(out, torch.softmax(scores / 16, dim=-1) @ v):
        raise Mismatch("divided by d instead of √d: q·k sums d products of unit-variance numbers, its sd is √d.")
    if close(out, torch.softmax(scores / math.sqrt(16), dim=-2) @ v):
        raise Mismatch(
            "the softmax runs over the queries (dim −2): each query's weights over the keys must sum to 1, so "
            "normalise along the last axis."
        )
    raise Mismatch("expected softmax(q kᵀ / √d) v (Eq. 10.2).")


def _block(seed: int) -> DiTBlock:
    torch.manual_seed(seed)
    block = DiTBlock(16, 4).double()
    for p in block.parameters():  # away from adaLN-Zero's zeros, so that every part of the formula shows
        torch.nn.init.normal_(p, std=0.3)
    return block


def _test_dit_block(fn) -> None:
    block = _block(103)
    g = torch.Generator().manual_seed(103)
    x, c = torch.randn(3, 6, 16, generator=g, dtype=torch.float64), torch.randn(3, 16, generator=g, dtype=torch.float64)
    out = fn(x.clone(), c.clone(), block)
    expect_tensor(out, x.shape, "the block's output (B, N, D)")
    if close(out, block(x, c)):
        return
    sh1, sc1, g1, sh2, sc2, g2 = block.modulation(c).chunk(6, dim=1)

    def variant(mod=modulate, gate=True, order=(sh1, sc1, g1, sh2, sc2, g2)):
        a, b, ga, d, e, gb = order
        ga, gb = (ga[:, None], gb[:, None]) if gate else (1.0, 1.0)
        h = x + ga * block.attn(mod(block.norm1(x), a, b))
        return h + gb * block.mlp(mod(block.norm2(h), d, e))

    if close(out, variant(mod=lambda t, shift, scale: t * scale[:, None] + shift[:, None])):
        raise Mismatch(
            "the modulation lacks the 1 +: x·(1 + γ) + β, not x·γ + β. With the 1 +, γ = 0 leaves the normalised "
            "tokens as they are; without it, a zero-initialised γ wipes them out (Eq. 10.4)."
        )
    if close(out, variant(gate=False)):
        raise Mismatch(
            "no gate: each sub-layer's output is multiplied by its α (gate_msa, gate_mlp) before it is added back; "
            "α = 0 at initialisation is what makes the block start as the identity (Eq. 10.4)."
        )
    if close(out, variant(order=(sc1, sh1, g1, sc2, sh2, g2))):
        raise Mismatch("shift and scale swapped: the chunks come as (shift, scale, gate) per sub-layer.")
    if close(out, variant(order=(sh1, sc1, g1, sh1, sc1, g1))):
        raise Mismatch("the MLP reused the attention's shift, scale and gate: it has its own three (chunks 3–5).")
    raise Mismatch("expected x + α₁·Attn(LN(x)(1 + γ₁) + β₁), then the same with the MLP and (β₂, γ₂, α₂) (Eq. 10.4).")


def _test_adaln_zero_init(fn) -> None:
    block = _block(104)
    out = fn(block)
    if out is not None and out is not block:
        raise Mismatch("initialise the block you were given, in place (return it or nothing).")
    g = torch.Generator().manual_seed(104)
    x, c = torch.randn(3, 6, 16, generator=g, dtype=torch.float64), torch.randn(3, 16, generator=g, dtype=torch.float64)
    mod = block.modulation[-1]
    y = block(x, c)
    identity = close(y, x, atol=1e-12)
    if not identity and torch.all(mod.weight == 0) and not torch.all(mod.bias == 0):
        raise Mismatch(
            "the modulation's weight is zero but its bias is not: α = bias ≠ 0 still lets Attn and MLP through. "
            "Zero both (adaLN-Zero)."
        )
    if not identity:
        raise Mismatch(
            "the block is not the identity yet: zero the last Linear of block.modulation (weight and bias), so that "
            "every α, β and γ starts at 0."
        )
    if not (torch.all(mod.weight == 0) and torch.all(mod.bias == 0)):
        raise Mismatch(
            "the block is the identity, but not by adaLN-Zero: something other than the modulation was zeroed "
            "(attention's or the MLP's output layer, a residual branch). DiT zeroes the modulation's last Linear: "
            "α = 0 closes both branches, and β = γ = 0 make the first steps a plain LayerNorm."
        )
    if not mod.weight.requires_grad:
        raise Mismatch("the modulation is frozen (requires_grad False): zero it, but let it learn.")
    with torch.enable_grad():
        block(x, c).pow(2).sum().backward()
    if mod.weight.grad is None or not mod.weight.grad.abs().sum() > 0:
        raise Mismatch("no gradient reaches the modulation: it must still learn from zero.")


def _test_long_skip(fn) -> None:
    g = torch.Generator().manual_seed(105)
    h, skip = (torch.randn(2, 5, 8, generator=g, dtype=torch.float64) for _ in range(2))
    torch.manual_seed(105)
    linear = torch.nn.Linear(16, 8).double()
    out = fn(h.clone(), skip.clone(), linear)
    expect_tensor(out, h.shape, "the joined tokens (B, N, D)")
    if close(out, linear(torch.cat([h, skip], dim=-1))):
        return
    if close(out, h + skip):
        raise Mismatch(
            "added: U-ViT concatenates the two, [h ; h_skip] with 2D columns, and maps them back to D with a "
            "Linear(2D, D) (Eq. 10.5) — the network learns how much of each to keep."
        )
    if close(out, linear(torch.cat([skip, h], dim=-1))):
        raise Mismatch("concatenated in the other order: [h ; h_skip], the block's own tokens first (U-ViT's order).")
    if close(out, torch.cat([h, skip], dim=-1)):
        raise Mismatch("concatenated, but not mapped back: apply the Linear(2D, D) to [h ; h_skip].")
    raise Mismatch("expected linear([h ; h_skip]), the concatenation along the last axis (Eq. 10.5).")


PATCHIFY = register(Exercise("10", 1, "patchify", _test_patchify))
ATTENTION = register(Exercise("10", 2, "attention", _test_attention))
DIT_BLOCK = register(Exercise("10", 3, "dit_block", _test_dit_block))
ADALN_ZERO_INIT = register(Exercise("10", 4, "adaln_zero_init", _test_adaln_zero_init))
LONG_SKIP = register(Exercise("10", 5, "long_skip", _test_long_skip))


def check_patchify(fn):
    """Check ``fn(x, p) -> tokens``: Eq. 10.1, patches row by row, each as (row, column, channel)."""
    return run_check(PATCHIFY, fn)


def check_attention(fn):
    """Check ``fn(q, k, v) -> out``: softmax(q kᵀ / √d) v (Eq. 10.2)."""
    return run_check(ATTENTION, fn)


def check_dit_block(fn):
    """Check ``fn(x, c, block) -> out``: the adaLN-Zero block's forward from its parts (Eq. 10.4)."""
    return run_check(DIT_BLOCK, fn)


def check_adaln_zero_init(fn):
    """Check ``fn(block)``: the block made the identity by zeroing its modulation, still trainable."""
    return run_check(ADALN_ZERO_INIT, fn)


def check_long_skip(fn):
    """Check ``fn(h, skip, linear) -> tokens``: U-ViT's long skip, concatenated then mapped back (Eq. 10.5)."""
    return run_check(LONG_SKIP, fn)
