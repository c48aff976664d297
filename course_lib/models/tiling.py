"""Tiling · 分块 (networks): the same SR denoiser on overlapping tiles of an image of any size (lesson 04).

:class:`TiledDenoiser` wraps a network ``model(x_t, t, y)`` (``model.scale``: the SR factor) and blends its outputs
on overlapping tiles with smooth weights **at every sampling step**: the tiles share one x_t, so neighbouring tiles
agree and no seam appears. :func:`pad_to_tile` pads an input smaller than one tile.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from ..checks import check_int

__all__ = ["TiledDenoiser", "pad_to_tile"]


def _starts(size: int, tile: int, stride: int) -> list[int]:
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile, stride)) + [size - tile]
    return sorted(set(starts))


def _window(n: int, overlap: int, device: torch.device) -> torch.Tensor:
    """1-D blending weights: a raised-cosine ramp over ``overlap`` pixels at each end, 1 in between (> 0 everywhere)."""
    w = torch.ones(n, device=device)
    if overlap > 0:
        ramp = 0.5 - 0.5 * torch.cos(math.pi * (torch.arange(overlap, device=device) + 0.5) / overlap)
        w[:overlap] = ramp
        w[n - overlap :] = torch.minimum(w[n - overlap :], ramp.flip(0))
    return w


class TiledDenoiser(nn.Module):
    """Run an SR denoiser (an :class:`~course_lib.models.SR3`) on overlapping LR tiles of ``tile × tile`` (HR
    ``s·tile``) and blend its outputs (分块).

    ``forward(x_t (B, C, H, W), t (B,), y (B, C, H/s, W/s)) → (B, C, H, W)``: every tile of x_t and the matching
    tile of y go through the network (in batches of ``batch``); the outputs are averaged with raised-cosine
    weights that ramp over the ``overlap``. Because this happens at every sampling step on one shared x_t,
    neighbouring tiles agree and no seam appears. Inputs no larger than one tile pass straight through.
    """

    def __init__(self, model: nn.Module, tile: int, overlap: int | None = None, batch: int = 64):
        super().__init__()
        check_int(tile, "tile", low=2, note="LR pixels")
        overlap = tile // 4 if overlap is None else overlap
        if not 0 <= overlap < tile:
            raise ValueError(f"overlap must be in 0 … tile − 1 = {tile - 1}, got {overlap}")
        self.model, self.tile, self.overlap, self.batch = model, tile, overlap, int(batch)
        self.scale = model.scale
        self.prediction = getattr(model, "prediction", "eps")  # what the wrapped network outputs

    def tiles(self, h: int, w: int) -> list[tuple[int, int]]:
        """LR ``(top, left)`` of every tile covering an ``h × w`` LR image."""
        stride = self.tile - self.overlap
        return [(a, b) for a in _starts(h, self.tile, stride) for b in _starts(w, self.tile, stride)]

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        B, C, h, w = y.shape
        if h <= self.tile and w <= self.tile:
            return self.model(x_t, t, y)
        if h < self.tile or w < self.tile:
            raise ValueError(f"an LR image of {h}x{w} is smaller than the tile ({self.tile}) on one side; pad it first")
        s, T_ = self.scale, self.tile
        H = T_ * s
        win = _window(H, self.overlap * s, x_t.device)
        weight2d = win[:, None] * win[None, :]
        out = torch.zeros_like(x_t, dtype=torch.float32)
        norm = torch.zeros((1, 1, *x_t.shape[-2:]), device=x_t.device)
        coords = self.tiles(h, w)
        for i in range(0, len(coords), max(1, self.batch // B)):
            chunk = coords[i : i + max(1, self.batch // B)]
            xs = torch.cat([x_t[:, :, a * s : a * s + H, b * s : b * s + H] for a, b in chunk])
            ys = torch.cat([y[:, :, a : a + T_, b : b + T_] for a, b in chunk])
            ts = t.repeat(len(chunk))
            pred = self.model(xs, ts, ys).float()
            for k, (a, b) in enumerate(chunk):
                out[:, :, a * s : a * s + H, b * s : b * s + H] += pred[k * B : (k + 1) * B] * weight2d
                norm[:, :, a * s : a * s + H, b * s : b * s + H] += weight2d
        return (out / norm).to(x_t.dtype)


def pad_to_tile(y: torch.Tensor, tile: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad ``(B, C, h, w)`` on the bottom and right (replicating the edge) to at least ``tile`` on each side.

    Returns the padded tensor and the original ``(h, w)``; crop the SR result to ``(s·h, s·w)`` afterwards.
    """
    h, w = y.shape[-2:]
    ph, pw = max(0, tile - h), max(0, tile - w)
    if ph or pw:
        y = torch.nn.functional.pad(y, (0, pw, 0, ph), mode="replicate")
    return y, (h, w)
