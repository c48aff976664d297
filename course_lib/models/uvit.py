"""U-ViT · 全局建模的 ViT 主干 (Bao et al., CVPR 2023; arXiv Sep 2022): a ViT denoiser with a U-Net's long skips.

**Everything is a token**: the timestep's sinusoidal embedding is one token, prepended to the image's patch tokens
(Eq. 10.1; the upsampled y is concatenated to x_t before patchifying, as the course's SR3-style U-Net sees it, so the
token count and the cost match DiT's); a learned position embedding covers all of them. ``depth // 2`` "in" blocks,
one middle block and ``depth // 2`` "out" blocks, all plain pre-norm Transformer blocks; the out blocks take the in
blocks' outputs in reverse order through **long skips** (长跳跃连接), concatenated and mapped back to D columns:

    h ← Linear_{2D→D}([h ; h_skip])                                                              (Eq. 10.5)

(concatenated, not added). After the last block the extra token is dropped, the tokens are projected to p·p·C pixels
each and unpatchified, and a 3 × 3 convolution smooths the seams between patches.

Why y by concatenation and not as extra tokens: it keeps the comparison with the U-Net and DiT about the backbone
alone (the same input, the same number of tokens), and y's 8 × 8 pixels would add tokens whose cost grows with N².

Read U-ViT's ``libs/uvit.py`` (``baofff/U-ViT``) beside this file.
"""

from __future__ import annotations

import torch
from torch import nn

from ..checks import check_int
from ..embeddings import sinusoidal_embedding_halves
from .vit import MLP, MultiHeadAttention, PatchEmbed, check_concat_channels, concat_condition, unpatchify

__all__ = ["UViT", "UViTBlock"]


class UViTBlock(nn.Module):
    """A pre-norm Transformer block; with ``skip``, first Eq. 10.5's ``Linear(2D, D)`` on ``[h ; h_skip]``.

    ``forward(x (B, N, D), skip (B, N, D) | None) → (B, N, D)``."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0, skip: bool = False):
        super().__init__()
        self.skip = nn.Linear(2 * dim, dim) if skip else None
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = MultiHeadAttention(dim, heads, qkv_bias=False)
        self.mlp = MLP(dim, mlp_ratio)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None, return_weights: bool = False):
        if self.skip is not None:
            if skip is None:
                raise ValueError("this block has a long skip: pass the matching in-block's output as skip")
            x = self.skip(torch.cat([x, skip], dim=-1))  # Eq. 10.5
        h = self.attn(self.norm1(x), return_weights=return_weights)
        h, weights = h if return_weights else (h, None)
        x = x + h
        x = x + self.mlp(self.norm2(x))
        return (x, weights) if return_weights else x


class UViT(nn.Module):
    """ε_θ(x_t, t, y) as a U-ViT (module docstring; Eq. 10.1, 10.5).

    Args:
        in_channels, out_channels, cond_channels: as :class:`~course_lib.models.DiT`.
        input_size: the image side the learned position embedding is made for (a multiple of ``patch_size``).
        patch_size, hidden_size, heads, mlp_ratio: p, D, attention heads, the MLP's width ratio.
        depth: blocks in all, odd: ``depth // 2`` in, one middle, ``depth // 2`` out.
        long_skips: Eq. 10.5 between in and out blocks (``False``: a plain ViT of the same depth, the ablation).
        conv_out: the final 3 × 3 convolution.
        T: number of timesteps (kept in the config).

    ``forward(x (B, C_x, H, W), t (B,), cond) → (B, out_channels, H, W)``; with ``return_weights`` also every
    block's attention weights ``[(B, heads, 1 + N, 1 + N)]`` (token 0 is the timestep).
    """

    conditioning = "concat"  # how y enters, for the SR3 wrapper (Eq. 04.2)

    def __init__(
        self,
        in_channels: int = 2,
        out_channels: int | None = None,
        cond_channels: int = 1,
        input_size: int = 32,
        patch_size: int = 4,
        hidden_size: int = 128,
        depth: int = 5,
        heads: int = 4,
        mlp_ratio: float = 4.0,
        long_skips: bool = True,
        conv_out: bool = True,
        T: int = 1000,
    ):
        super().__init__()
        check_int(patch_size, "patch_size", low=1)
        check_int(depth, "depth", low=1)
        check_int(input_size, "input_size", low=1)
        if depth % 2 == 0:
            raise ValueError(f"depth must be odd (in blocks, one middle block, out blocks), got {depth}")
        if input_size % patch_size:
            raise ValueError(f"input_size must be a multiple of patch_size={patch_size}, got {input_size}")
        check_concat_channels(in_channels, cond_channels)
        if hidden_size % 2:
            raise ValueError(f"hidden_size must be even (the sinusoidal time token), got {hidden_size}")
        self.config = dict(
            in_channels=in_channels,
            out_channels=out_channels,
            cond_channels=cond_channels,
            input_size=input_size,
            patch_size=patch_size,
            hidden_size=hidden_size,
            depth=depth,
            heads=heads,
            mlp_ratio=mlp_ratio,
            long_skips=long_skips,
            conv_out=conv_out,
            T=T,
        )
        self.cond_channels = cond_channels
        self.x_channels = in_channels - cond_channels
        self.out_channels = out_channels or self.x_channels
        self.patch_size, self.hidden_size, self.input_size = patch_size, hidden_size, input_size
        self.patch_embed = PatchEmbed(in_channels, hidden_size, patch_size)
        n = (input_size // patch_size) ** 2
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + n, hidden_size))  # the time token's and every patch's
        half = depth // 2
        self.in_blocks = nn.ModuleList(UViTBlock(hidden_size, heads, mlp_ratio) for _ in range(half))
        self.mid_block = UViTBlock(hidden_size, heads, mlp_ratio)
        self.out_blocks = nn.ModuleList(UViTBlock(hidden_size, heads, mlp_ratio, skip=long_skips) for _ in range(half))
        self.norm = nn.LayerNorm(hidden_size)
        self.decoder = nn.Linear(hidden_size, patch_size * patch_size * self.out_channels)
        self.conv = nn.Conv2d(self.out_channels, self.out_channels, 3, padding=1) if conv_out else nn.Identity()
        self._initialise()

    def _initialise(self) -> None:
        """U-ViT's initialisation: truncated normal (std 0.02) for the linear layers and the position embedding."""
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None = None, return_weights=False):
        if x.dim() != 4 or x.shape[1] != self.x_channels or x.shape[-2:] != (self.input_size, self.input_size):
            raise ValueError(
                f"x must have shape (B, {self.x_channels}, {self.input_size}, {self.input_size}) (the learned "
                f"positions are for this size), got {tuple(x.shape)}"
            )
        x = concat_condition("UViT", x, t, cond, self.cond_channels)
        grid = (x.shape[-2] // self.patch_size, x.shape[-1] // self.patch_size)
        patches = self.patch_embed(x)  # (B, N, D), Eq. 10.1
        time_token = sinusoidal_embedding_halves(t, self.hidden_size).to(patches.dtype)[:, None, :]
        h = torch.cat([time_token, patches], dim=1) + self.pos_embed.to(patches.dtype)  # (B, 1 + N, D)
        weights, skips = [], []

        def run(block, h, skip=None):
            out = block(h, skip, return_weights=return_weights)
            h, w = out if return_weights else (out, None)
            weights.append(w)
            return h

        for blk in self.in_blocks:
            h = run(blk, h)
            skips.append(h)
        h = run(self.mid_block, h)
        for blk in self.out_blocks:
            h = run(blk, h, skips.pop() if blk.skip is not None else None)  # last in, first out
        tokens = self.decoder(self.norm(h))[:, 1:]  # drop the time token
        out = self.conv(unpatchify(tokens, self.patch_size, self.out_channels, grid))
        return (out, weights) if return_weights else out
