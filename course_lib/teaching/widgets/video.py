"""The clip scrubber of lesson 12: step through the frames of a clip, pick a method, see the flicker (Eq. 12.2).

The frames come from ``data/cache/video_frames.npz`` (``python -m course_lib.experiments.video``): three test clips,
every row of the experiment (HR, bicubic, the regression U-Net, (a)–(d)), eight frames of 48 × 48 each, uint8.
``clip_frame`` reads one row at one frame — the frame, the HR and LR frames, and the map |warp(frame f − 1, d) −
frame f| over the pixels that stay in view, whose mean is that pair's warping error; ``render_clip`` draws it with
the error of every pair of the clip; ``ClipWidget`` wires a frame slider, a clip choice and a method picker to the
picture (no recomputation: instant).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from ...files import data_dir
from ...images import uint8_to_model
from ...video import valid_mask, warp
from ..plotting import figure_png

__all__ = ["load_frames", "pair_error", "clip_frame", "render_clip", "ClipWidget"]


def load_frames(path=None) -> dict:
    """The cached frames (``data/cache/video_frames.npz``) as a dict of arrays (``rows`` the row names, in order)."""
    with np.load(data_dir() / "cache" / "video_frames.npz" if path is None else path) as f:
        return {k: f[k] for k in f.files}


def pair_error(data: dict, row: str, clip: int, f: int) -> tuple[np.ndarray, float]:
    """Row ``row``'s map |warp(frame f − 1, d) − frame f| on clip ``clip`` (``(H, W)`` in the model range, NaN where
    the pixel came from outside the frame) and its mean over the pixels that stay in view (Eq. 12.2), f ≥ 1."""
    rows = list(data["rows"])
    if row not in rows:
        raise ValueError(f"row: expected one of {rows}, got {row!r}")
    frames = data["frames"][rows.index(row), clip]
    if not 1 <= f < frames.shape[0]:
        raise ValueError(f"f: expected 1 … {frames.shape[0] - 1} (a pair needs a previous frame), got {f}")
    d = tuple(int(v) for v in data["shifts"][clip, f - 1])
    diff = (warp(uint8_to_model(frames[f - 1])[None], d)[0] - uint8_to_model(frames[f])).abs().numpy()
    mask = valid_mask(frames.shape[-2:], d).numpy()
    return np.where(mask, diff, np.nan), float(diff[mask].mean())


def clip_frame(data: dict, row: str, clip: int, f: int) -> dict:
    """Row ``row`` at frame ``f`` of clip ``clip``: ``{"sr", "hr" (48, 48) uint8, "lr" (12, 12) uint8, "diff" the
    map of :func:`pair_error` (``None`` at f = 0), "error" its mean, "errors" every pair's (F − 1,)}``."""
    rows = list(data["rows"])
    if row not in rows:
        raise ValueError(f"row: expected one of {rows}, got {row!r}")
    n_clips, F = data["frames"].shape[1:3]
    for name, value, size in (("clip", clip, n_clips), ("f", f, F)):
        if not 0 <= value < size:
            raise ValueError(f"{name}: expected 0 … {size - 1}, got {value}")
    errors = np.array([pair_error(data, row, clip, k)[1] for k in range(1, F)])
    diff, error = pair_error(data, row, clip, f) if f else (None, None)
    return {
        "sr": data["frames"][rows.index(row), clip, f],
        "hr": data["frames"][rows.index("hr"), clip, f],
        "lr": data["lr"][clip, f],
        "diff": diff,
        "error": error,
        "errors": errors,
    }


def render_clip(data: dict, row: str, clip: int, f: int, reference: str = "bicubic") -> bytes:
    """PNG: HR, LR and ``row``'s frame f, the flicker map |warp(frame f − 1) − frame f|, and the warping error of every
    pair of the clip for ``row``, ``reference`` and HR, the current pair marked."""
    c = clip_frame(data, row, clip, f)
    fig = plt.figure(figsize=(10.5, 2.6))
    grid = fig.add_gridspec(1, 5, width_ratios=(1, 1, 1, 1, 1.8))
    for j, (image, title, vmax) in enumerate(
        ((c["hr"], f"HR, frame {f}", 255), (c["lr"], "LR (×4)", 255), (c["sr"], row, 255))
    ):
        ax = fig.add_subplot(grid[0, j])
        ax.imshow(image, cmap="gray", vmin=0, vmax=vmax, interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    ax = fig.add_subplot(grid[0, 3])
    if c["diff"] is None:
        ax.text(0.5, 0.5, "frame 0:\nno previous frame", ha="center", va="center", fontsize=8)
        ax.set_title("|warp(prev) − this|", fontsize=8)
    else:
        ax.imshow(c["diff"], cmap="magma", vmin=0, vmax=1)
        ax.set_title(f"|warp(prev) − this|: {c['error']:.3f}", fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    ax = fig.add_subplot(grid[0, 4])
    pairs = np.arange(1, len(c["errors"]) + 1)
    for name, style in ((row, "o-"), (reference, "s--"), ("hr", "k:")):
        errs = clip_frame(data, name, clip, 0)["errors"] if name != row else c["errors"]
        ax.plot(pairs, errs, style, ms=3, label=name)
    if f:
        ax.axvline(f, color="grey", lw=0.8)
    ax.set_xlabel("pair (frame f − 1 → f)", fontsize=7)
    ax.set_ylabel("warping error (Eq. 12.2)", fontsize=7)
    ax.legend(fontsize=6)
    ax.tick_params(labelsize=6)
    fig.tight_layout()
    return figure_png(fig)


class ClipWidget:
    """A frame slider, a clip choice and a method picker over the cached frames.

    Attributes:
        data; the ipywidgets ``frame``, ``clip``, ``method``, ``picture``, ``readout``.
    """

    def __init__(self, data: dict | None = None, row: str = "independent", clip: int = 0, frame: int = 1):
        import ipywidgets as W

        self.data = load_frames() if data is None else data
        rows = [r for r in self.data["rows"] if r != "hr"]
        n_clips, F = self.data["frames"].shape[1:3]
        self.frame = W.IntSlider(value=frame, min=0, max=F - 1, description="frame", continuous_update=False)
        self.clip = W.Dropdown(options=list(range(n_clips)), value=clip, description="clip")
        self.method = W.Dropdown(options=rows, value=row, description="method")
        self.picture = W.Image(format="png", layout=W.Layout(max_width="900px"))
        self.readout = W.HTML()
        for control in (self.frame, self.clip, self.method):
            control.observe(lambda _: self.redraw(), names="value")
        self.box = W.VBox([W.HBox([self.method, self.clip, self.frame]), self.picture, self.readout])
        self.redraw()

    def redraw(self) -> None:
        """Draw the chosen frame and say this pair's warping error and the clip's mean."""
        row, clip, f = str(self.method.value), int(self.clip.value), int(self.frame.value)
        self.picture.value = render_clip(self.data, row, clip, f)
        c = clip_frame(self.data, row, clip, f)
        now = "frame 0 has no previous frame" if f == 0 else f"this pair's warping error {c['error']:.3f}"
        self.readout.value = f"<b>{row}</b>, clip {clip}, frame {f}: {now}; the clip's mean {c['errors'].mean():.3f}"

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box)
