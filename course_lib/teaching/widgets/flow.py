"""The path explorer of lesson 11: drag t along a flow's path and watch x_t and x̂₀ (Eq. 11.1, 11.7).

The trajectories come from ``data/cache/flow_trajectories.npz`` (``python -m course_lib.flow``): for three curve
digits, the Euler-50 paths of the 1-rectified flow (noise → HR), the 2-rectified flow (after reflow) and the LR → HR
path, each kept every fifth step as x_t in image coordinates (U(y) + x_t) and the x̂₀ its step used, and every state's
position in the plane of its chord and its largest deviation from it. ``path_frame`` reads one arm at one time,
``render_path`` draws all three side by side with their paths in the plane, ``FlowPathWidget`` wires a time slider
and a digit choice to the picture (no recomputation: instant).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ...files import data_dir
from ..plotting import figure_png

__all__ = ["ARMS", "load_trajectories", "path_frame", "render_path", "FlowPathWidget"]

#: the arms of the explorer, in its columns: (key in the cache, title)
ARMS = (("flow", "noise → HR, 1-RF"), ("reflow", "noise → HR, 2-RF (reflow)"), ("bridge", "LR → HR"))


def load_trajectories(path=None) -> dict:
    """The cached trajectories (``data/cache/flow_trajectories.npz``) as a dict of arrays."""
    with np.load(data_dir() / "cache" / "flow_trajectories.npz" if path is None else path) as f:
        return {k: f[k] for k in f.files}


def path_frame(data: dict, arm: str, digit: int, k: int) -> dict:
    """Arm ``arm``'s state ``k`` (0: the source at t = 1 … K − 1: the end at t = 0) on digit ``digit``:
    ``{"t", "x_t" (H, W) uint8, "x0" (H, W) uint8, "plane" (S, 2) the whole path in its plane, normalised by the
    chord's length, "point" (2,) this state's place on it, "bend" the largest distance from the chord (a share of the
    chord), "done" the share of the chord walked}``."""
    keys = [a for a, _ in ARMS]
    if arm not in keys:
        raise ValueError(f"arm: expected one of {keys}, got {arm!r}")
    K, n = data[f"{arm}_x"].shape[:2]
    for name, value, size in (("digit", digit, n), ("k", k, K)):
        if not 0 <= value < size:
            raise ValueError(f"{name}: expected 0 … {size - 1}, got {value}")
    plane = data[f"{arm}_plane"][:, digit].astype(np.float64)  # (S, 2): every Euler state
    chord = float(np.linalg.norm(plane[-1] - plane[0])) or 1.0
    plane = plane / chord
    every = (plane.shape[0] - 1) // (K - 1)
    point = plane[k * every]
    return {
        "t": float(data["times"][k]),
        "x_t": data[f"{arm}_x"][k, digit, ..., 0],
        "x0": data[f"{arm}_x0"][k, digit, ..., 0],
        "plane": plane,
        "point": point,
        "bend": float(np.abs(plane[:, 1]).max()),
        "done": float(point[0]),
    }


def render_path(data: dict, digit: int, k: int) -> bytes:
    """PNG: for each arm, x_t and x̂₀ at state ``k``; then the three paths in their planes with the current states."""
    fig = plt.figure(figsize=(10.5, 2.9))
    grid = fig.add_gridspec(2, 4, width_ratios=(1, 1, 1, 1.6))
    colours = ("tab:blue", "tab:orange", "tab:green")
    ax_plane = fig.add_subplot(grid[:, 3])
    for j, ((arm, title), colour) in enumerate(zip(ARMS, colours)):
        f = path_frame(data, arm, digit, k)
        for row, (image, what) in enumerate(((f["x_t"], "x_t"), (f["x0"], "x̂₀"))):
            ax = fig.add_subplot(grid[row, j])
            ax.imshow(image, cmap="gray", vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{title}: {what}" if row == 0 else what, fontsize=7)
        ax_plane.plot(f["plane"][:, 0], f["plane"][:, 1], color=colour, lw=1.2, label=f"{title} (bend {f['bend']:.3f})")
        ax_plane.plot(*f["point"], "o", color=colour, ms=5)
    ax_plane.plot([0, 1], [0, 0], "k:", lw=0.8, label="the straight segment")
    ax_plane.set_xlabel("along the chord (source 0 → end 1)", fontsize=7)
    ax_plane.set_ylabel("away from it", fontsize=7)
    ax_plane.set_title(f"the paths, t = {float(data['times'][k]):.2f}", fontsize=8)
    ax_plane.legend(fontsize=6, loc="best")
    ax_plane.tick_params(labelsize=6)
    fig.tight_layout()
    return figure_png(fig)


class FlowPathWidget:
    """A time slider (t from 1 to 0) and a digit choice over the cached trajectories.

    Attributes:
        data; the ipywidgets ``time``, ``digit``, ``picture``, ``readout``.
    """

    def __init__(self, data: dict | None = None, k: int = 0, digit: int = 0):
        import ipywidgets as W

        self.data = load_trajectories() if data is None else data
        options = [(f"{t:.2f}", i) for i, t in enumerate(self.data["times"])]
        self.time = W.SelectionSlider(options=options, value=k, description="t", continuous_update=False)
        n = self.data["flow_x"].shape[1]
        self.digit = W.Dropdown(options=list(range(n)), value=digit, description="digit")
        self.picture = W.Image(format="png", layout=W.Layout(max_width="900px"))
        self.readout = W.HTML()
        for control in (self.time, self.digit):
            control.observe(lambda _: self.redraw(), names="value")
        self.box = W.VBox([W.HBox([self.time, self.digit]), self.picture, self.readout])
        self.redraw()

    def redraw(self) -> None:
        """Draw the three paths at the chosen time and say how far along and how bent each is."""
        k, d = int(self.time.value), int(self.digit.value)
        self.picture.value = render_path(self.data, d, k)
        parts = []
        for arm, title in ARMS:
            f = path_frame(self.data, arm, d, k)
            parts.append(f"{title}: {100 * f['done']:.0f} % of the chord walked, bend {f['bend']:.3f}")
        self.readout.value = f"<b>t = {float(self.data['times'][k]):.2f}</b> — " + "; ".join(parts)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box)
