"""A SwinIR-style regressor (networks layer; lesson 13: the Transformer era of the notes' §3 table).

SwinIR (Liang et al., ICCV Workshops 2021) restores an image with shifted-window self-attention, at toy size:

* a 3 × 3 convolution lifts y to ``dim`` channels (**shallow features**);
* ``groups`` **residual Swin Transformer blocks** (RSTB), each ``depth`` Swin layers and a 3 × 3 convolution with a
  skip around them. A Swin layer is pre-norm attention inside non-overlapping ``window`` × ``window`` windows, then a
  pre-norm MLP; every second layer rolls the feature map by ``window // 2`` first (**shifted windows**), so
  information crosses window borders, and masks the pairs that the roll brought together from opposite edges;
* attention inside a window adds a learned **relative position bias** B, one number per head for each offset
  (Δi, Δj) between two tokens (Eq. 13.1):  Attention(Q, K, V) = softmax(Q Kᵀ / √d + B) V;
* a convolution after the body with a skip from the shallow features, then an upsampler: SwinIR's "pixelshuffle"
  (classical SR: a convolution to 4 · ``dim`` channels and a pixel shuffle per factor 2, and a last convolution) or
  its "pixelshuffledirect" (lightweight SR, SwinIR's 0.9 M-parameter models: one convolution straight to
  ``channels`` · scale² channels and one pixel shuffle) — the light one is the course's default, a fifth of the
  parameters at this width.

Two choices differ from the paper, both the course's convention for its one-shot baselines
(:class:`~course_lib.models.RRDBNet`, :class:`~course_lib.models.SRCNN`): the output is added to the bicubic
upsampling U(y) with the last convolution starting at zero (the network starts as bicubic), and it is clipped to
[-1, 1] only outside training. Reference: ``JingyunLiang/SwinIR`` ``models/network_swinir.py`` (``WindowAttention``,
``SwinTransformerBlock``, ``RSTB``, ``Upsample``).

Shapes: ``forward(y (B, C, h, w)) → (B, C, s·h, s·w)``, with h and w multiples of ``window``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..checks import check_int
from ..operators import upsample

__all__ = ["WindowAttention", "SwinLayer", "RSTB", "SwinIR", "window_partition", "window_merge", "shift_mask"]


def window_partition(x: torch.Tensor, window: int) -> torch.Tensor:
    """``(B, H, W, C)`` → ``(B · H/window · W/window, window², C)``: the tokens of each window, row by row."""
    B, H, W, C = x.shape
    x = x.view(B, H // window, window, W // window, window, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, window * window, C)


def window_merge(windows: torch.Tensor, window: int, H: int, W: int) -> torch.Tensor:
    """The inverse of :func:`window_partition`: ``(B · n_windows, window², C)`` → ``(B, H, W, C)``."""
    C = windows.shape[-1]
    x = windows.view(-1, H // window, W // window, window, window, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, H, W, C)


def shift_mask(H: int, W: int, window: int, shift: int, device=None) -> torch.Tensor:
    """The additive mask of a shifted layer, ``(n_windows, window², window²)``: 0 between tokens of the same region
    of the unrolled map, −100 between tokens the cyclic roll brought together from opposite edges (SwinIR's value)."""
    region = torch.zeros(1, H, W, 1, device=device)
    cuts = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    label = 0
    for hs in cuts:
        for ws in cuts:
            region[:, hs, ws, :] = label
            label += 1
    r = window_partition(region, window).squeeze(-1)  # (n_windows, window²)
    same = r.unsqueeze(1) == r.unsqueeze(2)
    return torch.zeros(same.shape, device=device).masked_fill(~same, -100.0)


class WindowAttention(nn.Module):
    """Multi-head self-attention inside a window with a relative position bias (Eq. 13.1)."""

    def __init__(self, dim: int, window: int, heads: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim must be a multiple of heads, got dim={dim}, heads={heads}")
        self.heads, self.window = heads, window
        self.scale = (dim // heads) ** -0.5
        # one bias per head for each of the (2w − 1)² offsets (Δi, Δj) between two tokens of a window
        self.bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        nn.init.trunc_normal_(self.bias_table, std=0.02)
        i, j = torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")
        coords = torch.stack([i.flatten(), j.flatten()])  # (2, w²)
        delta = (coords[:, :, None] - coords[:, None, :]) + (window - 1)  # (2, w², w²), each in 0 … 2w − 2
        self.register_buffer("bias_index", delta[0] * (2 * window - 1) + delta[1], persistent=False)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def bias(self) -> torch.Tensor:
        """B: ``(heads, w², w²)``, looked up from the table by each pair's offset."""
        return self.bias_table[self.bias_index].permute(2, 0, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` ``(B · n_windows, w², dim)``; ``mask`` ``(n_windows, w², w²)`` or None."""
        n, L, C = x.shape
        q, k, v = self.qkv(x).view(n, L, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        logits = (q * self.scale) @ k.transpose(-2, -1) + self.bias()  # Q Kᵀ / √d + B   (Eq. 13.1)
        if mask is not None:
            w = mask.shape[0]
            logits = logits.view(n // w, w, self.heads, L, L) + mask[None, :, None]
            logits = logits.view(n, self.heads, L, L)
        out = logits.softmax(-1) @ v  # softmax(·) V
        return self.proj(out.transpose(1, 2).reshape(n, L, C))


class SwinLayer(nn.Module):
    """Pre-norm window attention (shifted by ``shift`` when > 0) and a pre-norm MLP, each with a residual."""

    def __init__(self, dim: int, window: int, heads: int, shift: int, mlp_ratio: float = 2.0):
        super().__init__()
        self.window, self.shift = window, shift
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window, heads)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``(B, H, W, dim)`` → the same shape."""
        B, H, W, C = x.shape
        h = self.norm1(x)
        mask = None
        if self.shift:
            h = torch.roll(h, shifts=(-self.shift, -self.shift), dims=(1, 2))  # cyclic shift
            mask = shift_mask(H, W, self.window, self.shift, x.device).to(h.dtype)
        h = window_merge(self.attn(window_partition(h, self.window), mask), self.window, H, W)
        if self.shift:
            h = torch.roll(h, shifts=(self.shift, self.shift), dims=(1, 2))  # and back
        x = x + h
        return x + self.mlp(self.norm2(x))


class RSTB(nn.Module):
    """A residual Swin Transformer block: ``depth`` Swin layers (every second one shifted), a 3 × 3 convolution, and
    a skip around them."""

    def __init__(self, dim: int, window: int, heads: int, depth: int, mlp_ratio: float = 2.0):
        super().__init__()
        self.layers = nn.ModuleList(
            SwinLayer(dim, window, heads, shift=0 if i % 2 == 0 else window // 2, mlp_ratio=mlp_ratio)
            for i in range(depth)
        )
        self.conv = nn.Conv2d(dim, dim, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``(B, dim, H, W)`` → the same shape."""
        h = x.permute(0, 2, 3, 1)
        for layer in self.layers:
            h = layer(h)
        return x + self.conv(h.permute(0, 3, 1, 2))


class SwinIR(nn.Module):
    """Shallow features, ``groups`` RSTBs, pixel-shuffle upsampling, plus U(y) (see the module docstring).

    Args:
        channels: image channels; scale: the factor (a power of 2); dim: the feature width; groups: RSTBs;
        depth: Swin layers per RSTB; heads: attention heads; window: the window side (h and w must be multiples);
        mlp_ratio: the MLP's hidden width over ``dim``; upsampler: ``"pixelshuffledirect"`` or ``"pixelshuffle"``.
    """

    def __init__(
        self,
        channels: int = 1,
        scale: int = 4,
        dim: int = 48,
        groups: int = 2,
        depth: int = 2,
        heads: int = 3,
        window: int = 4,
        mlp_ratio: float = 2.0,
        upsampler: str = "pixelshuffledirect",
    ):
        super().__init__()
        if upsampler not in ("pixelshuffledirect", "pixelshuffle"):
            raise ValueError(f"upsampler must be 'pixelshuffledirect' or 'pixelshuffle', got {upsampler!r}")
        for name, v in (("channels", channels), ("dim", dim), ("groups", groups), ("depth", depth), ("heads", heads)):
            check_int(v, name, low=1)
        check_int(window, "window", low=2)
        check_int(scale, "scale", low=2)
        if scale & (scale - 1):
            raise ValueError(f"scale must be a power of 2, got {scale}")
        self.channels, self.scale, self.window = channels, scale, window
        self.first = nn.Conv2d(channels, dim, 3, padding=1)
        self.body = nn.ModuleList(RSTB(dim, window, heads, depth, mlp_ratio) for _ in range(groups))
        self.norm = nn.LayerNorm(dim)
        self.after_body = nn.Conv2d(dim, dim, 3, padding=1)
        if upsampler == "pixelshuffle":
            up: list[nn.Module] = [nn.Conv2d(dim, dim, 3, padding=1), nn.LeakyReLU(0.2)]
            for _ in range(int(math.log2(scale))):
                up += [nn.Conv2d(dim, 4 * dim, 3, padding=1), nn.PixelShuffle(2)]
            self.upsampler = nn.Sequential(*up)
            self.last = nn.Conv2d(dim, channels, 3, padding=1)
        else:  # one convolution to channels · scale² maps, shuffled into the HR grid
            self.upsampler = nn.Conv2d(dim, channels * scale * scale, 3, padding=1)
            self.last = nn.PixelShuffle(scale)
        last_conv = self.last if upsampler == "pixelshuffle" else self.upsampler
        nn.init.zeros_(last_conv.weight)  # starts as bicubic
        nn.init.zeros_(last_conv.bias)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        if not isinstance(y, torch.Tensor) or y.dim() != 4 or y.shape[1] != self.channels:
            got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
            raise ValueError(f"y must have shape (B, {self.channels}, h, w), got {got}")
        if y.shape[-1] % self.window or y.shape[-2] % self.window:
            raise ValueError(f"y's height and width must be multiples of window={self.window}, got {tuple(y.shape)}")
        shallow = self.first(y)
        h = shallow
        for block in self.body:
            h = block(h)
        h = self.norm(h.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        h = self.after_body(h) + shallow
        out = upsample(y, self.scale, "bicubic") + self.last(self.upsampler(h))
        return out if self.training else out.clamp(-1.0, 1.0)
