"""The landscape widget of lesson 13: pick two methods of the field and a test digit; see both side by side.

The pictures come from ``data/cache/field_pictures.npz`` and the rows from ``data/cache/field.json`` (``python -m
course_lib.experiments.field``): 16 test digits, the LR and HR of each, and every row's samples 0 and 1 (one for a
deterministic row), uint8. ``field_view`` gathers what is shown — the pictures, each picture's PSNR to HR and
consistency computed on exactly the pixels shown, and each row's measures over all 500 evaluation digits with their
intervals and its cost; ``render_field_view`` draws it; ``LandscapeWidget`` wires two method pickers and a digit
slider to the picture (nothing is recomputed but the two numbers per picture: instant).
"""

from __future__ import annotations

import html

import matplotlib.pyplot as plt
import numpy as np
import torch

from ...images import uint8_to_model
from ...metrics import psnr
from ...operators import consistency_psnr
from ..plotting import figure_png

__all__ = ["field_view", "render_field_view", "row_summary", "LandscapeWidget"]


def _row(field: dict, name: str) -> dict:
    names = [r["name"] for r in field["rows"]]
    if name not in names:
        raise ValueError(f"method: expected one of {names}, got {name!r}")
    return field["rows"][names.index(name)]


def row_summary(row: dict) -> str:
    """One line: the row's PSNR and patch SWD with their 95 % intervals, its Fréchet distance at N = 500 (as measured:
    its bias-corrected value is mostly the 1/N bias, lesson 13 §1), agreement, NFE, ms/image, parameters and
    training CPU-minutes (every part charged)."""

    def iv(key: str, fmt: str) -> str:
        m = row[key]
        return f"{m['estimate']:{fmt}} [{m['low']:{fmt}}, {m['high']:{fmt}}]"

    gpu = f" + {row['training_gpu_minutes']:.0f} GPU-min" if row.get("training_gpu_minutes") else ""
    return (
        f"PSNR {iv('psnr', '.2f')} dB · patch SWD {iv('patch_swd', '.4f')} · Fréchet {row['frechet']['plain']:.3f} · "
        f"agreement {100 * row['agreement']['estimate']:.1f} % · NFE {row['nfe']} · "
        f"{row['ms_per_image']:.1f} ms/image · {row['parameters']:,} parameters · "
        f"{row['training_cpu_minutes']:.0f} training CPU-min{gpu}"
    )


def field_view(field: dict, pictures: dict, a: str, b: str, digit: int) -> dict:
    """Methods ``a`` and ``b`` (row names of ``field``) on picture digit ``digit`` (0 … 15): ``{"hr", "lr",
    "test_index", "a", "b"}``, each method ``{"row", "samples" (K, 32, 32) uint8, "psnr" and "consistency" (K,) of
    those samples}``."""
    n = pictures["hr"].shape[0]
    if isinstance(digit, bool) or not isinstance(digit, (int, np.integer)) or not 0 <= digit < n:
        raise ValueError(f"digit: expected an integer 0 … {n - 1}, got {digit!r}")
    hr = uint8_to_model(pictures["hr"][digit])[None, None]
    lr = uint8_to_model(pictures["y"][digit])[None, None]
    scale = hr.shape[-1] // lr.shape[-1]
    out = {"hr": pictures["hr"][digit], "lr": pictures["y"][digit], "test_index": int(pictures["indices"][digit])}
    for key, name in (("a", a), ("b", b)):
        row = _row(field, name)
        samples = pictures[row["picture_key"]][:, digit]
        x = torch.stack([uint8_to_model(s) for s in samples])[:, None]
        out[key] = {
            "row": row,
            "samples": samples,
            "psnr": psnr(x, hr.expand_as(x)).numpy(),
            "consistency": consistency_psnr(x, lr.expand(x.shape[0], -1, -1, -1), scale).numpy(),
        }
    return out


def render_field_view(view: dict) -> bytes:
    """PNG: LR, HR, and each method's samples with their PSNR to HR."""
    columns = [(view["lr"], "LR (×4)"), (view["hr"], f"HR (test digit {view['test_index']})")]
    for key in ("a", "b"):
        m = view[key]
        for k, sample in enumerate(m["samples"]):
            label = m["row"]["name"] + (f", sample {k}" if len(m["samples"]) > 1 else "")
            columns.append((sample, f"{label}\n{m['psnr'][k]:.1f} dB"))
    fig, axes = plt.subplots(1, len(columns), figsize=(1.7 * len(columns), 2.1))
    for ax, (image, title) in zip(axes, columns):
        ax.imshow(image, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        ax.set_title(title, fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return figure_png(fig)


class LandscapeWidget:
    """Two method pickers and a digit slider over the cached pictures and rows.

    Attributes:
        field, pictures; the ipywidgets ``method_a``, ``method_b``, ``digit``, ``picture``, ``readout``.
    """

    def __init__(
        self,
        field: dict | None = None,
        pictures: dict | None = None,
        a: str = "SwinIR-style (L1)",
        b: str = "SR3-style (DDIM-50)",
        digit: int = 0,
    ):
        import ipywidgets as W

        from ...experiments.field import load_field, load_pictures

        self.field = load_field() if field is None else field
        self.pictures = load_pictures() if pictures is None else pictures
        names = [r["name"] for r in self.field["rows"]]
        self.method_a = W.Dropdown(options=names, value=a, description="method A")
        self.method_b = W.Dropdown(options=names, value=b, description="method B")
        self.digit = W.IntSlider(
            value=digit, min=0, max=self.pictures["hr"].shape[0] - 1, description="digit", continuous_update=False
        )
        self.picture = W.Image(format="png", layout=W.Layout(max_width="980px"))
        self.readout = W.HTML()
        for control in (self.method_a, self.method_b, self.digit):
            control.observe(lambda _: self.redraw(), names="value")
        self.box = W.VBox([W.HBox([self.method_a, self.method_b, self.digit]), self.picture, self.readout])
        self.redraw()

    def redraw(self) -> None:
        """Draw both methods on the chosen digit and list their measures over the 500 digits."""
        view = field_view(self.field, self.pictures, str(self.method_a.value), str(self.method_b.value),
                          int(self.digit.value))  # fmt: skip
        self.picture.value = render_field_view(view)
        lines = [f"digit {int(self.digit.value)} (test index {view['test_index']})"]
        for key in ("a", "b"):
            m = view[key]
            shown = ", ".join(f"{p:.1f} dB" for p in m["psnr"])
            lines.append(
                f"<b>{html.escape(m['row']['name'])}</b> ({html.escape(m['row']['family'])}): this digit {shown}; "
                f"over 500 digits: {html.escape(row_summary(m['row']))}"
            )
        self.readout.value = "<br>".join(lines)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box)
