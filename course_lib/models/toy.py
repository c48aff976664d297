"""A tiny MLP denoiser for 2-D points (lesson 02): ``(B, 2), (B,) → (B, 2)``."""

from __future__ import annotations

import torch
from torch import nn

from ..embeddings import make_time_embedding

__all__ = ["MLPDenoiser"]


class MLPDenoiser(nn.Module):
    """ε_θ(x_t, t) for points: an MLP on [x_t, TE(t)] (Eq. 03.1 by default).

    Args:
        dim: data dimension (2 for the toy sets); hidden, layers: width and depth; emb_dim: width of TE(t).
    """

    def __init__(
        self,
        dim: int = 2,
        hidden: int = 128,
        layers: int = 3,
        emb_dim: int = 32,
        time_embedding: str = "sinusoidal",
        T: int = 1000,
    ):
        super().__init__()
        self.config = dict(dim=dim, hidden=hidden, layers=layers, emb_dim=emb_dim, time_embedding=time_embedding, T=T)
        self.emb = make_time_embedding(time_embedding, emb_dim, T)
        width_in = dim + (0 if self.emb is None else emb_dim)
        mods: list[nn.Module] = []
        for i in range(layers):
            mods += [nn.Linear(width_in if i == 0 else hidden, hidden), nn.SiLU()]
        mods.append(nn.Linear(hidden, dim))
        self.net = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() != 2:
            raise ValueError(f"x must have shape (B, {self.config['dim']}), got {tuple(x.shape)}")
        h = x if self.emb is None else torch.cat([x, self.emb(t)], dim=1)
        return self.net(h)
