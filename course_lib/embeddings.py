"""Timestep embeddings · 时间步嵌入 (lesson 03).

The denoising network must know how much noise it faces, so t is turned into a vector.

* Eq. 03.1  sinusoidal (正余弦编码), the notes' formula on the 0-based code index t:
            TE(t, 2i) = sin(t / 10000^{2i/d}),  TE(t, 2i+1) = cos(t / 10000^{2i/d}),  i = 0 … d/2 − 1
* Eq. 03.2  the "halves" layout, [sin(t ω_0) … sin(t ω_{d/2-1}) | cos(t ω_0) … ], ω_i = 10000^{−2i/d}:
            the same numbers as Eq. 03.1, with the columns permuted. Other codebases' conventions: diffusers'
            ``UNet2DModel`` (``flip_sin_to_cos=True, freq_shift=0``) uses [cos | sin] with these ω_i (a permutation);
            DDPM's original code uses [sin | cos] with ω_i = 10000^{−i/(d/2−1)} (other frequencies, not a permutation)
* learnable (可学习嵌入): a table with one trained row per timestep, or an MLP on the scalar t / T.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = [
    "sinusoidal_embedding",
    "sinusoidal_embedding_halves",
    "SinusoidalEmbedding",
    "LearnedTableEmbedding",
    "MLPTimeEmbedding",
    "TIME_EMBEDDINGS",
    "make_time_embedding",
]

TIME_EMBEDDINGS = ("sinusoidal", "learned", "mlp", "none")


def _check_dim(dim: int) -> None:
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 2 or dim % 2:
        raise ValueError(f"dim must be an even int >= 2 (sin and cos come in pairs), got {dim!r}")


def _check(t: torch.Tensor, dim: int) -> torch.Tensor:
    _check_dim(dim)
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"t must be a torch.Tensor of shape (B,), got {type(t).__name__}")
    if t.dim() != 1:
        raise ValueError(f"t must have shape (B,), got {tuple(t.shape)}")
    return t.float()


def _periods(dim: int, device: torch.device, max_period: float) -> torch.Tensor:
    """10000^(2i/d) for i = 0 … d/2 − 1, computed as in the formula (float32, also on devices without float64)."""
    i = torch.arange(dim // 2, device=device, dtype=torch.float32)
    return max_period ** (2 * i / dim)


def sinusoidal_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Eq. 03.1, interleaved: column 2i is sin(t / 10000^(2i/d)), column 2i+1 is cos(t / 10000^(2i/d)).

    Args:
        t: ``(B,)`` timesteps (integer code indices 0 … T−1, or floats).
        dim: d, an even number of columns.

    Returns:
        ``(B, dim)`` float32 on ``t``'s device.
    """
    tf = _check(t, dim)
    angles = tf[:, None] / _periods(dim, t.device, max_period)[None, :]  # (B, d/2): t / 10000^(2i/d)
    return torch.stack([angles.sin(), angles.cos()], dim=-1).reshape(t.shape[0], dim)


def sinusoidal_embedding_halves(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Eq. 03.2: the [sin | cos] halves layout (diffusers' ``get_timestep_embedding(t, d, flip_sin_to_cos=False,
    downscale_freq_shift=0)``); a column permutation of Eq. 03.1.

    Returns:
        ``(B, dim)`` float32.
    """
    tf = _check(t, dim)
    angles = tf[:, None] / _periods(dim, t.device, max_period)[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class SinusoidalEmbedding(nn.Module):
    """Eq. 03.1 as a module (no parameters): ``(B,)`` → ``(B, dim)``."""

    def __init__(self, dim: int, T: int = 1000):
        super().__init__()
        _check_dim(dim)
        self.dim = dim

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return sinusoidal_embedding(t, self.dim)


class LearnedTableEmbedding(nn.Module):
    """A learnable table, one row per timestep: ``(B,)`` integer t → ``(B, dim)``."""

    def __init__(self, dim: int, T: int = 1000):
        super().__init__()
        if dim < 1 or T < 1:
            raise ValueError(f"dim and T must be positive, got dim={dim}, T={T}")
        self.table = nn.Embedding(T, dim)
        nn.init.normal_(self.table.weight, std=0.02)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        if t.is_floating_point():
            raise TypeError(f"a table embedding needs integer timesteps, got dtype {t.dtype}")
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= self.table.num_embeddings):
            raise ValueError(f"t must lie in 0 … {self.table.num_embeddings - 1}, got {int(t.min())} … {int(t.max())}")
        return self.table(t)


class MLPTimeEmbedding(nn.Module):
    """A learnable MLP on the scalar t / T: ``(B,)`` → ``(B, dim)``."""

    def __init__(self, dim: int, T: int = 1000, hidden: int | None = None):
        super().__init__()
        self.T = T
        hidden = hidden or dim
        self.net = nn.Sequential(nn.Linear(1, hidden), nn.SiLU(), nn.Linear(hidden, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.net((t.float() / self.T)[:, None])


def make_time_embedding(kind: str, dim: int, T: int = 1000) -> nn.Module | None:
    """``"sinusoidal"``, ``"learned"`` (table), ``"mlp"``, or ``"none"`` (returns ``None``: the network ignores t)."""
    if kind not in TIME_EMBEDDINGS:
        raise ValueError(f"time_embedding must be one of {TIME_EMBEDDINGS}, got {kind!r}")
    if kind == "none":
        return None
    return {"sinusoidal": SinusoidalEmbedding, "learned": LearnedTableEmbedding, "mlp": MLPTimeEmbedding}[kind](dim, T)
