"""Figures and tables for the lessons (teaching layer: matplotlib lives here, not in the math).

Every function returns a matplotlib ``Figure`` (or a string) and never calls ``plt.show()``:
the notebook decides when to show. Text in figures is English only (no CJK font is assumed).
"""

from __future__ import annotations

import re

import io
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from ..images import to_uint8

__all__ = [
    "show_images",
    "image_rows",
    "animated_gif",
    "markdown_table",
    "timeline_figure",
    "to_display",
    "figure_png",
    "loss_curve",
]


def figure_png(fig: Figure, dpi: int = 80) -> bytes:
    """Render ``fig`` to PNG bytes and close it (widgets show figures as ``ipywidgets.Image``)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()


def to_display(img: torch.Tensor | np.ndarray) -> np.ndarray:
    """A [-1, 1] tensor ``(C, H, W)`` (or a uint8 array) as an array ``imshow`` understands."""
    if isinstance(img, torch.Tensor):
        if img.dim() == 2:
            img = img[None]
        arr = to_uint8(img)
    else:
        arr = np.asarray(img)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    return arr


def show_images(
    images: Sequence[torch.Tensor | np.ndarray] | torch.Tensor,
    titles: Sequence[str] | None = None,
    ncols: int | None = None,
    size: float = 1.6,
    suptitle: str | None = None,
    interpolation: str = "nearest",
) -> Figure:
    """A grid of images (tensors in [-1, 1] ``(C, H, W)``, a batch ``(B, C, H, W)``, or uint8 arrays)."""
    items = list(images)
    n = len(items)
    if n == 0:
        raise ValueError("images is empty")
    ncols = ncols or n
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * nrows + (0.4 if suptitle else 0)), squeeze=False
    )
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            arr = to_display(items[k])
            ax.imshow(arr, cmap="gray" if arr.ndim == 2 else None, vmin=0, vmax=255, interpolation=interpolation)
            if titles is not None and k < len(titles):
                ax.set_title(titles[k], fontsize=8)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return fig


def image_rows(
    rows: dict[str, Sequence[torch.Tensor | np.ndarray]],
    col_titles: Sequence[str] | None = None,
    size: float = 1.4,
    suptitle: str | None = None,
) -> Figure:
    """Rows of images with a label at the left of each row (e.g. HR / LR / bicubic)."""
    names = list(rows)
    ncols = max(len(v) for v in rows.values())
    fig, axes = plt.subplots(
        len(names), ncols, figsize=(size * ncols + 0.8, size * len(names) + (0.4 if suptitle else 0)), squeeze=False
    )
    for r, name in enumerate(names):
        for c in range(ncols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c < len(rows[name]):
                arr = to_display(rows[name][c])
                ax.imshow(arr, cmap="gray" if arr.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
            if c == 0:
                ax.set_ylabel(name, fontsize=9)
            if r == 0 and col_titles is not None and c < len(col_titles):
                ax.set_title(col_titles[c], fontsize=8)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return fig


def animated_gif(clips: dict[str, torch.Tensor | np.ndarray], zoom: int = 2, seconds_per_frame: float = 0.4) -> bytes:
    """An animated GIF (Pillow; no ffmpeg) of clips side by side: ``clips`` maps a name to frames ``(F, H, W)`` or
    ``(F, 1, H, W)``, uint8 or in [-1, 1]; smaller clips are enlarged (nearest) to the largest height, each clip
    ``zoom`` times. Lesson 12 shows the flicker with it; a notebook displays it with ``IPython.display.Image``."""
    from PIL import Image as PILImage

    if not clips:
        raise ValueError("clips: expected at least one clip, got none")
    arrays = []
    for name, frames in clips.items():
        a = frames if isinstance(frames, np.ndarray) else to_uint8(frames.float().cpu())
        a = np.asarray(a)
        a = a[..., 0] if a.ndim == 4 else a  # (F, H, W, 1) from to_uint8, or (F, 1, H, W) uint8
        if a.ndim == 4:
            a = a[:, 0]
        if a.ndim != 3 or a.dtype != np.uint8:
            raise ValueError(f"clips[{name!r}]: expected frames (F, H, W) as uint8 or in [-1, 1], got {a.shape}")
        arrays.append(a)
    if len({a.shape[0] for a in arrays}) != 1:
        raise ValueError(f"clips: expected the same number of frames in every clip, got {[a.shape[0] for a in arrays]}")
    height = max(a.shape[1] for a in arrays) * zoom
    gap = np.full((height, 4), 255, np.uint8)
    frames = []
    for f in range(arrays[0].shape[0]):
        tiles = []
        for a in arrays:
            k = height // a.shape[1]
            tiles += [np.kron(a[f], np.ones((k, k), np.uint8)), gap]
        frames.append(PILImage.fromarray(np.concatenate(tiles[:-1], 1)))
    buf = io.BytesIO()
    frames[0].save(
        buf, format="GIF", save_all=True, append_images=frames[1:], duration=int(1000 * seconds_per_frame), loop=0
    )
    return buf.getvalue()


def loss_curve(
    history: Sequence[tuple[int, float]], ylabel: str, title: str, figsize: tuple[float, float] = (5, 2.5)
) -> Figure:
    """The training loss of a live run: ``history`` is ``Trainer.history``, a list of ``(step, mean loss)``."""
    if not history:
        raise ValueError("history is empty: the run logged no loss yet (train longer, or lower log_every)")
    steps, losses = zip(*history)
    fig, ax = plt.subplots(figsize=figsize)
    ax.plot(steps, losses)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def interval_text(verdict: dict, digits: int = 4) -> str:
    """A cached :mod:`course_lib.stats` verdict's interval as the lessons print it: ``"+0.80 [+0.43, +1.17]"``."""
    iv = verdict["interval"]
    return f"{iv['estimate']:+.{digits}f} [{iv['low']:+.{digits}f}, {iv['high']:+.{digits}f}]"


def verdict_text(verdict: dict, digits: int = 4, bold: bool = False) -> str:
    """A cached verdict with its word: ``"+0.80 [+0.43, +1.17] better"`` (``bold``: the word in Markdown bold)."""
    word = f"**{verdict['verdict']}**" if bold else verdict["verdict"]
    return f"{interval_text(verdict, digits)} {word}"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]], floatfmt: str = ".2f") -> str:
    """A Markdown table; floats formatted with ``floatfmt`` (rounded, so stored outputs are stable). A ``|`` inside a
    header or a cell (as in |1 − HF|) is escaped, so that it does not split the column."""

    def fmt(v: object) -> str:
        if isinstance(v, (float, np.floating)):
            v = format(float(v), floatfmt)
        return re.sub(r"(?<!\\)\|", r"\\|", str(v))

    lines = ["| " + " | ".join(fmt(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def timeline_figure(papers, lineage, highlight: Sequence[str] = (), since: int = 2020) -> Figure:
    """The lineage as a timeline: x = first preprint (year + month/12), one row per paper, arrows for 'builds on'.

    Papers first released before ``since`` are left out (with their arrows), so the years that matter get the room.
    """
    order = sorted((p for p in papers if p.preprint_year >= since), key=lambda p: p.preprint)
    pos = {}
    for i, p in enumerate(order):
        y, m = int(p.preprint[:4]), int(p.preprint[5:7])
        pos[p.key] = (y + (m - 0.5) / 12, len(order) - 1 - i)
    fig, ax = plt.subplots(figsize=(10, 0.34 * len(order) + 1))
    for a, b, _ in lineage:
        if a in pos and b in pos:
            ax.annotate(
                "",
                xy=pos[b],
                xytext=pos[a],
                arrowprops=dict(arrowstyle="->", color="0.6", lw=0.8, shrinkA=4, shrinkB=4),
            )
    for p in order:
        x, y = pos[p.key]
        color = "tab:red" if p.key in highlight else "tab:blue"
        ax.plot([x], [y], "o", color=color)
        ax.text(x + 0.08, y, f"{p.name}  ({p.venue} {p.year})", va="center", fontsize=8)
    years = range(int(min(x for x, _ in pos.values())), int(max(x for x, _ in pos.values())) + 2)
    ax.set_xticks(list(years))
    ax.set_yticks([])
    ax.set_xlim(min(years) - 0.2, max(years) + 1.2)
    ax.set_xlabel("first preprint")
    ax.set_title(
        f"Diffusion and super-resolution since {since}: who builds on whom (arrows point forward in time)", fontsize=10
    )
    for spine in ("left", "right", "top"):
        ax.spines[spine].set_visible(False)
    fig.tight_layout()
    return fig
