"""The comparer widget of lesson 05: scroll through test digits and see, side by side, LR, bicubic, SRCNN, the
regression U-Net, several SR3 samples, their mean and HR, each with its metrics, and a zoom on one patch.

``comparer_view`` is the pure function (it picks the pictures and measures them with ``course_lib.metrics``);
``render_comparer_view`` draws it; ``ComparerWidget`` wires sliders to it. The pictures come from the cached
comparison (:func:`course_lib.experiments.compare.load_comparison_samples`) or any dict of the same layout.
"""

from __future__ import annotations

from typing import Mapping

import matplotlib.pyplot as plt
import numpy as np
import torch

from ...images import uint8_to_model
from ...metrics import pixel_diversity, psnr, ssim
from ...operators import consistency_psnr
from ..plotting import figure_png, to_display

__all__ = ["comparer_view", "render_comparer_view", "ComparerWidget", "PICTURE_KEYS"]

#: keys of the pictures dict: uint8 arrays (N, H, W, C) (``lr`` (N, h, w, C); ``sr3_samples`` (K, N, H, W, C))
PICTURE_KEYS = ("hr", "lr", "bicubic", "srcnn", "regression_unet", "sr3_samples")
_ONE_SHOT = (("bicubic", "bicubic"), ("SRCNN", "srcnn"), ("regression U-Net", "regression_unet"))


def _tensor(a: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, C) → float32 (1, C, H, W) in [-1, 1]."""
    return uint8_to_model(a).permute(2, 0, 1)[None]


def comparer_view(
    pictures: Mapping[str, np.ndarray], position: int, samples: int = 4, patch: tuple[int, int, int] = (8, 8, 16)
) -> dict:
    """What the comparer shows for one test image.

    Args:
        pictures: uint8 arrays with :data:`PICTURE_KEYS` (and optionally ``indices``, the test-split indices).
        position: which image, ``0 ≤ position < N``.
        samples: how many SR3 samples to show (1 … K); their pixel mean is shown too.
        patch: ``(row, col, size)`` of the zoomed square in HR pixels (inside the image).

    Returns:
        dict with ``index`` (test-split index), ``panels`` (ordered ``[(name, (1, C, H, W) in [-1, 1])]``: the
        methods, the samples, their mean, HR), ``y`` ``(1, C, h, w)`` (also under its old name ``lr``), ``patch``,
        ``scale``, and ``metrics``
        ``{name: {"psnr", "ssim", "consistency"}}`` for every panel but HR (``course_lib.metrics`` on exactly
        the pictures shown), and ``diversity``: the mean per-pixel standard deviation of the shown samples.
    """
    missing = [k for k in PICTURE_KEYS if k not in pictures]
    if missing:
        raise ValueError(f"pictures lacks {missing}; expected the keys {PICTURE_KEYS}")
    n, k_max = pictures["hr"].shape[0], pictures["sr3_samples"].shape[0]
    if isinstance(position, bool) or not 0 <= int(position) < n:
        raise ValueError(f"position must be in 0 … {n - 1}, got {position!r}")
    if isinstance(samples, bool) or not 1 <= int(samples) <= k_max:
        raise ValueError(f"samples must be in 1 … {k_max}, got {samples!r}")
    p = int(position)
    hr = _tensor(pictures["hr"][p])
    y = _tensor(pictures["lr"][p])
    H, W = hr.shape[-2:]
    scale = H // y.shape[-2]
    row, col, size = (int(v) for v in patch)
    if size < 1 or not (0 <= row <= H - size and 0 <= col <= W - size):
        raise ValueError(f"patch (row, col, size) must lie inside the {H}x{W} image, got {patch}")
    panels = [(name, _tensor(pictures[key][p])) for name, key in _ONE_SHOT]
    shown = [_tensor(pictures["sr3_samples"][k][p]) for k in range(int(samples))]
    panels += [(f"SR3 sample {k + 1}", x) for k, x in enumerate(shown)]
    mean = torch.cat(shown).mean(0, keepdim=True)
    panels.append((f"mean of {len(shown)} SR3 samples", mean))
    metrics = {
        name: {
            "psnr": float(psnr(x, hr)[0]),
            "ssim": float(ssim(x, hr)[0]),
            "consistency": float(consistency_psnr(x, y, scale)[0]),
        }
        for name, x in panels
    }
    panels.append(("HR (truth)", hr))
    diversity = float(pixel_diversity(torch.stack(shown))[0]) if len(shown) > 1 else 0.0
    index = int(pictures["indices"][p]) if "indices" in pictures else p
    return {
        "index": index,
        "panels": panels,
        "y": y,
        "lr": y,
        "patch": (row, col, size),
        "scale": scale,
        "metrics": metrics,
        "diversity": diversity,
    }


def render_comparer_view(view: dict, dpi: int = 80) -> bytes:
    """PNG: the LR input and every panel with its PSNR (top row), the zoomed patch of each (bottom row)."""
    row, col, size = view["patch"]
    panels = view["panels"]
    with plt.ioff():
        ncol = len(panels) + 1
        fig, axes = plt.subplots(2, ncol, figsize=(1.25 * ncol, 3.0), squeeze=False)
        for ax in axes.flat:
            ax.axis("off")
        cmap = "gray" if view["y"].shape[1] == 1 else None
        axes[0, 0].imshow(to_display(view["y"][0]), cmap=cmap, vmin=0, vmax=255, interpolation="nearest")
        axes[0, 0].set_title("LR input", fontsize=7)
        for j, (name, img) in enumerate(panels, start=1):
            ax = axes[0, j]
            ax.imshow(to_display(img[0]), cmap=cmap, vmin=0, vmax=255, interpolation="nearest")
            m = view["metrics"].get(name)
            ax.set_title(
                name.replace(" SR3 samples", " samples") + ("" if m is None else f"\n{m['psnr']:.1f} dB"), fontsize=6
            )
            ax.add_patch(
                plt.Rectangle((col - 0.5, row - 0.5), size, size, fill=False, edgecolor="tab:red", linewidth=0.8)
            )
            axes[1, j].imshow(
                to_display(img[0, :, row : row + size, col : col + size]),
                cmap=cmap,
                vmin=0,
                vmax=255,
                interpolation="nearest",
            )
        axes[1, 0].text(
            0.5,
            0.5,
            f"zoom:\n{size}x{size} patch\nat ({row}, {col})",
            ha="center",
            va="center",
            fontsize=7,
            transform=axes[1, 0].transAxes,
        )
        fig.tight_layout(pad=0.3)
        return figure_png(fig, dpi=dpi)


class ComparerWidget:
    """Sliders over :func:`comparer_view`: which test image, how many SR3 samples, where to zoom.

    Attributes:
        view: the last :func:`comparer_view` result; the ipywidgets ``position``, ``samples``, ``row``, ``col``,
        ``size``, ``readout`` (the metrics table) and ``picture``.
    """

    def __init__(self, pictures: Mapping[str, np.ndarray], position: int = 0, samples: int = 4):
        import ipywidgets as W

        self.pictures = pictures
        n, k_max = pictures["hr"].shape[0], pictures["sr3_samples"].shape[0]
        H = pictures["hr"].shape[1]
        self.position = W.IntSlider(value=position, min=0, max=n - 1, description="test image", continuous_update=False)
        self.samples = W.IntSlider(
            value=min(samples, k_max), min=1, max=k_max, description="SR3 samples", continuous_update=False
        )
        self.size = W.Dropdown(options=[s for s in (8, 12, 16, H) if s <= H], value=min(16, H), description="zoom size")
        self.row = W.IntSlider(value=8, min=0, max=H - self.size.value, description="zoom row", continuous_update=False)
        self.col = W.IntSlider(value=8, min=0, max=H - self.size.value, description="zoom col", continuous_update=False)
        self.readout = W.HTML()
        self.picture = W.Image(format="png")
        for w in (self.position, self.samples, self.row, self.col):
            w.observe(lambda _: self.update(), names="value")
        self.size.observe(self._on_size, names="value")
        self.box = W.VBox(
            [W.HBox([self.position, self.samples]), W.HBox([self.size, self.row, self.col]), self.picture, self.readout]
        )
        self.view: dict | None = None
        self.update()

    def _on_size(self, change) -> None:
        H = self.pictures["hr"].shape[1]
        self._adjusting = True  # clamping row and col fires their observers: draw once, after both moved
        try:
            for w in (self.row, self.col):
                w.max = H - int(change["new"])  # ipywidgets clamps the value into the new range
        finally:
            self._adjusting = False
        self.update()

    def update(self) -> None:
        """Recompute :func:`comparer_view` for the current controls and redraw picture and readout."""
        if getattr(self, "_adjusting", False):
            return
        v = comparer_view(
            self.pictures, self.position.value, self.samples.value, (self.row.value, self.col.value, self.size.value)
        )
        self.view = v
        cell = "style='padding:0 10px;text-align:right'"
        rows = "".join(
            f"<tr><td>{name}</td><td {cell}>{m['psnr']:.2f}</td><td {cell}>{m['ssim']:.3f}</td>"
            f"<td {cell}>{m['consistency']:.1f}</td></tr>"
            for name, m in v["metrics"].items()
        )
        head = "".join(f"<th {cell}>{h}</th>" for h in ("PSNR (dB)", "SSIM", "consistency (dB)"))
        self.readout.value = (
            f"<b>test digit {v['index']}</b> · spread of the {self.samples.value} SR3 sample(s): "
            f"{v['diversity']:.3f} (per-pixel sd, [0, 1] scale)"
            f"<table><tr><th style='text-align:left'>method</th>{head}</tr>{rows}</table>"
        )
        self.picture.value = render_comparer_view(v)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box)
