"""DiT · Transformer 主干 (Peebles & Xie, ICCV 2023; arXiv Dec 2022): a Transformer denoiser, lesson 10.

The noisy image (with the upsampled y concatenated, as the course's SR3-style U-Net sees it, Eq. 04.2) is cut into
p × p patches (Eq. 10.1), each embedded to D numbers with a fixed 2-D sin-cos position; the timestep becomes the
condition vector c (a label embedding would be added to it; SR has none). Each block is **adaLN-Zero** (自适应层归一化):
LayerNorm without its own scale and shift, then a shift β, a scale γ and a gate α per sub-layer, all regressed from c:

    (β₁, γ₁, α₁, β₂, γ₂, α₂) = Linear(SiLU(c)),
    x ← x + α₁ · Attn(LN(x)(1 + γ₁) + β₁),   x ← x + α₂ · MLP(LN(x)(1 + γ₂) + β₂)              (Eq. 10.4)

with that Linear zero-initialised, so that α = 0 and every block starts as the identity; the final layer (an adaLN
shift and scale, then ``Linear(D, p·p·C)``) is zero-initialised too, so the untrained network outputs 0. Tokens are
put back into an image by :func:`~course_lib.models.vit.unpatchify`.

Two other conditionings of DiT's own ablation (its Fig. 5) are kept for lesson 10's comparison: ``block="adaln"``
(shift and scale only, no gate, ordinary initialisation) and ``block="in_context"`` (c appended as one more token, a
standard pre-norm Transformer block, the token dropped before the final layer).

Read DiT's ``models.py`` (``facebookresearch/DiT``, CC BY-NC: read, never copied) beside this file.
"""

from __future__ import annotations

import torch
from torch import nn

from ..checks import check_int
from .vit import (
    MLP,
    MultiHeadAttention,
    PatchEmbed,
    TimestepEmbedder,
    check_concat_channels,
    concat_condition,
    sincos_position_embedding_2d,
    unpatchify,
)

__all__ = ["DiT", "DiTBlock", "modulate", "BLOCKS"]

#: the conditionings of DiT's ablation that lesson 10 measures
BLOCKS = ("adaln_zero", "adaln", "in_context")


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``x (B, N, D) · (1 + scale) + shift`` with ``shift``, ``scale`` of shape ``(B, D)`` (one per image): Eq. 10.4's
    modulation. The 1 + makes scale = 0 the plain LayerNorm."""
    return x * (1 + scale[:, None, :]) + shift[:, None, :]


class DiTBlock(nn.Module):
    """One block of Eq. 10.4 (``kind="adaln_zero"``), or of DiT's ``"adaln"`` (no gate, ordinary initialisation) or
    ``"in_context"`` (a standard block: LayerNorm with affine, c travels as a token) ablation.

    ``forward(x (B, N, D), c (B, D)) → (B, N, D)``."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0, kind: str = "adaln_zero"):
        super().__init__()
        if kind not in BLOCKS:
            raise ValueError(f"kind must be one of {BLOCKS}, got {kind!r}")
        self.kind = kind
        affine = kind == "in_context"
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=affine, eps=1e-6)
        self.attn = MultiHeadAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=affine, eps=1e-6)
        self.mlp = MLP(dim, mlp_ratio)
        self.modulation = None
        if kind != "in_context":
            n = 6 if kind == "adaln_zero" else 4  # (β, γ, α) or (β, γ) per sub-layer
            self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, n * dim))
            if kind == "adaln_zero":
                nn.init.zeros_(self.modulation[-1].weight)
                nn.init.zeros_(self.modulation[-1].bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor, return_weights: bool = False):
        weights = None
        if self.modulation is None:  # in-context: c is already one of the tokens
            h = self.attn(self.norm1(x), return_weights=return_weights)
            h, weights = h if return_weights else (h, None)
            x = x + h
            x = x + self.mlp(self.norm2(x))
        else:
            m = self.modulation(c).chunk(6 if self.kind == "adaln_zero" else 4, dim=1)
            shift1, scale1, shift2, scale2 = m[0], m[1], m[3 if len(m) == 6 else 2], m[4 if len(m) == 6 else 3]
            gate1, gate2 = (m[2][:, None, :], m[5][:, None, :]) if len(m) == 6 else (1.0, 1.0)
            h = self.attn(modulate(self.norm1(x), shift1, scale1), return_weights=return_weights)
            h, weights = h if return_weights else (h, None)
            x = x + gate1 * h  # Eq. 10.4, attention
            x = x + gate2 * self.mlp(modulate(self.norm2(x), shift2, scale2))  # Eq. 10.4, MLP
        return (x, weights) if return_weights else x


class DiT(nn.Module):
    """ε_θ(x_t, t, y) as a Diffusion Transformer (module docstring; Eq. 10.1, 10.4).

    Args:
        in_channels: channels of the patch embedding's input: x_t plus the concatenated condition.
        out_channels: channels predicted (default: x_t's).
        cond_channels: channels of ``cond``, concatenated to x_t (0: unconditional).
        patch_size: p; the image side must be a multiple of it. Tokens: (H/p)(W/p).
        hidden_size, depth, heads, mlp_ratio: D, the number of blocks, attention heads, the MLP's width ratio.
        block: ``"adaln_zero"`` (DiT's), ``"adaln"`` or ``"in_context"`` (its ablation).
        T: number of timesteps (kept in the config; the sinusoidal embedding needs no table).
        freq_dim: columns of the sinusoidal timestep embedding before its MLP.

    ``forward(x (B, C_x, H, W), t (B,), cond (B, cond_channels, H, W)) → (B, out_channels, H, W)``;
    ``forward(…, return_weights=True)`` also returns every block's attention weights ``[(B, heads, N, N)]``.
    """

    conditioning = "concat"  # how y enters, for the SR3 wrapper (Eq. 04.2)

    def __init__(
        self,
        in_channels: int = 2,
        out_channels: int | None = None,
        cond_channels: int = 1,
        patch_size: int = 4,
        hidden_size: int = 128,
        depth: int = 4,
        heads: int = 4,
        mlp_ratio: float = 4.0,
        block: str = "adaln_zero",
        T: int = 1000,
        freq_dim: int = 128,
    ):
        super().__init__()
        check_int(patch_size, "patch_size", low=1)
        check_int(depth, "depth", low=1)
        check_int(hidden_size, "hidden_size", low=4)
        check_concat_channels(in_channels, cond_channels)
        if block not in BLOCKS:
            raise ValueError(f"block must be one of {BLOCKS}, got {block!r}")
        if hidden_size % 4:
            raise ValueError(f"hidden_size must be a multiple of 4 (the 2-D sin-cos positions), got {hidden_size}")
        self.config = dict(
            in_channels=in_channels,
            out_channels=out_channels,
            cond_channels=cond_channels,
            patch_size=patch_size,
            hidden_size=hidden_size,
            depth=depth,
            heads=heads,
            mlp_ratio=mlp_ratio,
            block=block,
            T=T,
            freq_dim=freq_dim,
        )
        self.cond_channels, self.block = cond_channels, block
        self.x_channels = in_channels - cond_channels
        self.out_channels = out_channels or self.x_channels
        self.patch_size, self.hidden_size = patch_size, hidden_size
        self.patch_embed = PatchEmbed(in_channels, hidden_size, patch_size)
        self.t_embed = TimestepEmbedder(hidden_size, freq_dim)
        self.blocks = nn.ModuleList(DiTBlock(hidden_size, heads, mlp_ratio, block) for _ in range(depth))
        self.norm_out = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.out_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 2 * hidden_size))
        self.out = nn.Linear(hidden_size, patch_size * patch_size * self.out_channels)
        self._initialise()

    def _initialise(self) -> None:
        """DiT's initialisation: Xavier-uniform linear layers (the patch embedding's kernel as a linear map), small
        normal timestep MLP; then, for adaLN-Zero, every modulation and the output layer zero."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        w = self.patch_embed.proj.weight
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.zeros_(self.patch_embed.proj.bias)
        for layer in (self.t_embed.mlp[0], self.t_embed.mlp[2]):
            nn.init.normal_(layer.weight, std=0.02)
        if self.block == "adaln_zero":
            for blk in self.blocks:
                nn.init.zeros_(blk.modulation[-1].weight)
                nn.init.zeros_(blk.modulation[-1].bias)
            for layer in (self.out_modulation[-1], self.out):
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None = None, return_weights=False):
        if x.dim() != 4 or x.shape[1] != self.x_channels:
            raise ValueError(f"x must have shape (B, {self.x_channels}, H, W), got {tuple(x.shape)}")
        x = concat_condition("DiT", x, t, cond, self.cond_channels)
        grid = (x.shape[-2] // self.patch_size, x.shape[-1] // self.patch_size)
        tokens = self.patch_embed(x)  # (B, N, D), Eq. 10.1
        tokens = tokens + sincos_position_embedding_2d(self.hidden_size, grid, x.device).to(tokens.dtype)
        c = self.t_embed(t)  # (B, D); a class label's embedding would be added here
        if self.block == "in_context":
            tokens = torch.cat([c[:, None, :].to(tokens.dtype), tokens], dim=1)  # t as one more token
        weights = []
        for blk in self.blocks:
            out = blk(tokens, c, return_weights=return_weights)
            tokens, w = out if return_weights else (out, None)
            weights.append(w)
        if self.block == "in_context":
            tokens = tokens[:, 1:]  # drop the t token
        shift, scale = self.out_modulation(c).chunk(2, dim=1)
        out = unpatchify(
            self.out(modulate(self.norm_out(tokens), shift, scale)), self.patch_size, self.out_channels, grid
        )
        return (out, weights) if return_weights else out
