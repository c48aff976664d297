"""Tokens and attention · 图像块与注意力 (lesson 10): the pieces every Transformer denoiser of the course shares.

An image becomes a sequence of **tokens** (图像块) by cutting it into p × p patches and flattening each (Eq. 10.1);
tokens talk to each other by **scaled dot-product attention** (缩放点积注意力, Vaswani et al., NeurIPS 2017):

    Attention(Q, K, V) = softmax(Q Kᵀ / √d) V                                                   (Eq. 10.2)

with Q = X W_Q, K = X W_K, V = X W_V for tokens X (N, D), split into H heads of d = D / H columns, each head's
result concatenated and projected (Eq. 10.3). Transformers have no notion of where a token sits, so a **position
embedding** (位置编码) is added: here the fixed 2-D sin-cos one of MAE and DiT, half of the columns for the row and half
for the column, each half the sinusoidal embedding of lesson 03 (Eq. 03.2) of that coordinate.

Everything here is a plain function or ``nn.Module`` and knows nothing of noise schedules.
"""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F
from torch import nn

from ..embeddings import sinusoidal_embedding_halves

__all__ = [
    "patchify",
    "unpatchify",
    "sincos_position_embedding_2d",
    "attention",
    "attention_by_hand",
    "MultiHeadAttention",
    "MLP",
    "PatchEmbed",
    "TimestepEmbedder",
    "check_concat_channels",
    "concat_condition",
]


def _check_image(x: torch.Tensor, patch_size: int, name: str = "x") -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must have shape (B, C, H, W), got {got}")
    if x.shape[-1] % patch_size or x.shape[-2] % patch_size:
        raise ValueError(f"{name}: H and W must be multiples of patch_size={patch_size}, got {tuple(x.shape[-2:])}")


def check_concat_channels(in_channels: int, cond_channels: int) -> None:
    """A ``ValueError`` unless y's ``cond_channels`` leave at least one of the ``in_channels`` to x_t."""
    if not 0 <= cond_channels < in_channels:
        raise ValueError(
            f"cond_channels must be in 0 … in_channels − 1, got {cond_channels} with in_channels={in_channels}"
        )


def concat_condition(net: str, x: torch.Tensor, t: torch.Tensor, cond, cond_channels: int) -> torch.Tensor:
    """``[x_t ; y]`` along the channels (Eq. 04.2) for a Transformer backbone named ``net``, with the shapes of ``cond``
    (as x's, ``cond_channels``) and ``t`` (one per image) checked."""
    if cond_channels:
        if cond is None or cond.shape[1] != cond_channels or cond.shape[-2:] != x.shape[-2:]:
            raise ValueError(
                f"this {net} expects cond of shape (B, {cond_channels}, {x.shape[-2]}, {x.shape[-1]}), "
                f"got {None if cond is None else tuple(cond.shape)}"
            )
        x = torch.cat([x, cond], dim=1)
    if t.shape != (x.shape[0],):
        raise ValueError(f"t must have shape ({x.shape[0]},), got {tuple(t.shape)}")
    return x


def patchify(x: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Eq. 10.1: ``(B, C, H, W) → (B, N, p·p·C)`` with N = (H/p)(W/p) tokens in row-major order (row of patches
    first), each token its patch's pixels in (row, column, channel) order — channels innermost, never mixed with
    positions."""
    _check_image(x, patch_size)
    B, C, H, W = x.shape
    p = patch_size
    x = x.reshape(B, C, H // p, p, W // p, p)  # B, C, h, row-in-patch, w, column-in-patch
    return x.permute(0, 2, 4, 3, 5, 1).reshape(B, (H // p) * (W // p), p * p * C)


def unpatchify(tokens: torch.Tensor, patch_size: int, channels: int, grid: tuple[int, int]) -> torch.Tensor:
    """The inverse of :func:`patchify`: ``(B, h·w, p·p·C) → (B, C, h·p, w·p)`` for a grid of h × w patches."""
    h, w = grid
    p = patch_size
    if tokens.dim() != 3 or tokens.shape[1] != h * w or tokens.shape[2] != p * p * channels:
        raise ValueError(
            f"tokens must have shape (B, {h * w}, {p * p * channels}) for a {h} × {w} grid of {p} × {p} patches of "
            f"{channels} channels, got {tuple(tokens.shape)}"
        )
    B = tokens.shape[0]
    x = tokens.reshape(B, h, w, p, p, channels)
    return x.permute(0, 5, 1, 3, 2, 4).reshape(B, channels, h * p, w * p)


def sincos_position_embedding_2d(dim: int, grid: tuple[int, int], device=None) -> torch.Tensor:
    """Fixed 2-D sin-cos position embedding ``(h·w, dim)``, tokens in :func:`patchify`'s order: the first ``dim/2``
    columns embed the patch's row, the last ``dim/2`` its column, each with lesson 03's [sin | cos] layout (Eq. 03.2)
    — MAE's and DiT's embedding up to the order of its columns."""
    if dim % 4:
        raise ValueError(f"dim must be a multiple of 4 (two axes, sin and cos), got {dim}")
    h, w = grid
    rows = torch.arange(h, device=device).repeat_interleave(w)  # 0 0 … 0 1 1 …: the token's row
    cols = torch.arange(w, device=device).repeat(h)  # 0 1 … w−1 0 1 …: its column
    return torch.cat([sinusoidal_embedding_halves(rows, dim // 2), sinusoidal_embedding_halves(cols, dim // 2)], dim=1)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, return_weights: bool = False):
    """Eq. 10.2 by hand: ``softmax(q kᵀ / √d) v`` over the last two dimensions (``(…, N, d)`` each).

    With ``return_weights`` also the ``(…, N, N)`` attention weights (row i: how much token i takes from each)."""
    d = q.shape[-1]
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d), dim=-1)
    out = weights @ v
    return (out, weights) if return_weights else out


@contextlib.contextmanager
def attention_by_hand():
    """Within this block every ``F.scaled_dot_product_attention`` call (the U-Net's and the Transformers') computes
    Eq. 10.2 by hand: the same numbers, but as matrix products that ``torch.utils.flop_counter`` counts (it does not
    count the fused kernel on every device)."""
    fused = F.scaled_dot_product_attention
    F.scaled_dot_product_attention = lambda q, k, v, **kwargs: attention(q, k, v)
    try:
        yield
    finally:
        F.scaled_dot_product_attention = fused


class MultiHeadAttention(nn.Module):
    """Multi-head self-attention (Eq. 10.3): one ``Linear(D, 3D)`` for Q, K, V, ``heads`` heads of D/heads columns,
    each Eq. 10.2, concatenated and projected by ``Linear(D, D)``.

    ``forward(x (B, N, D)) → (B, N, D)`` uses ``F.scaled_dot_product_attention`` (the same numbers, a fused kernel
    on GPUs); ``forward(x, return_weights=True)`` computes Eq. 10.2 by hand and also returns the weights
    ``(B, heads, N, N)`` (lesson 10's attention widget)."""

    def __init__(self, dim: int, heads: int, qkv_bias: bool = True):
        super().__init__()
        if heads < 1 or dim % heads:
            raise ValueError(f"dim must be divisible by heads, got dim={dim}, heads={heads}")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, return_weights: bool = False):
        B, N, D = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)  # 3 × (B, H, N, d)
        if return_weights:
            out, weights = attention(q, k, v, return_weights=True)
        else:
            out, weights = F.scaled_dot_product_attention(q, k, v), None
        out = self.proj(out.transpose(1, 2).reshape(B, N, D))  # heads side by side again
        return (out, weights) if return_weights else out


class MLP(nn.Module):
    """The Transformer's feed-forward part: ``Linear(D, r·D)``, GELU (tanh approximation, as DiT's), then
    ``Linear(r·D, D)``."""

    def __init__(self, dim: int, ratio: float = 4.0):
        super().__init__()
        hidden = int(dim * ratio)
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class PatchEmbed(nn.Module):
    """Eq. 10.1 followed by one linear map to D columns, written as what it is fastest as: a convolution with kernel
    and stride p. ``(B, C, H, W) → (B, (H/p)(W/p), D)``; the same as ``Linear(p·p·C, D)`` on :func:`patchify`'s
    tokens with the kernel's weights rearranged (a test checks it)."""

    def __init__(self, in_channels: int, dim: int, patch_size: int):
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_channels, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_image(x, self.patch_size)
        return self.proj(x).flatten(2).transpose(1, 2)


class TimestepEmbedder(nn.Module):
    """t → a D-vector: lesson 03's sinusoidal embedding (Eq. 03.2, ``freq_dim`` columns) and a two-layer MLP, as DiT's
    ``TimestepEmbedder``."""

    def __init__(self, dim: int, freq_dim: int = 128):
        super().__init__()
        self.freq_dim = freq_dim
        self.mlp = nn.Sequential(nn.Linear(freq_dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(sinusoidal_embedding_halves(t, self.freq_dim).to(self.mlp[0].weight.dtype))
