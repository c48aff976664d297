"""The "what does each method generate?" widget of lesson 09: for one digit, side by side, what each method starts
from (bicubic, a CNN's output), what its diffusion model generated (the whole residual image, or DiffIR's 64 numbers),
and the final image — for two samples (seeds), so that what a method leaves to chance shows too.

``generation_view`` computes everything once (the shipped models on a few digits, each sample from its harness
seed); ``generation_frame`` reads one digit and sample of it; ``render_generation`` draws it; ``GenerationWidget``
wires a digit slider and a sample toggle to the picture (no recomputation: it is instant).
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import torch

from ...metrics import psnr
from ...operators import upsample
from ..plotting import figure_png, to_display

__all__ = ["GENERATION_METHODS", "generation_view", "generation_frame", "render_generation", "GenerationWidget"]

#: row label → (shipped model, what its diffusion generates)
GENERATION_METHODS: dict[str, tuple[str, str]] = {
    "SR3-style": ("digits_sr3_concat", "HR − bicubic"),
    "SRDiff": ("digits_srdiff", "2 (HR − bicubic), clipped"),
    "ResDiff": ("digits_resdiff", "HR − CNN(y)"),
    "DiffIR": ("digits_diffir", "a 64-number prior z"),
}


@torch.no_grad()
def generation_view(
    hr: torch.Tensor, y: torch.Tensor, seeds: Sequence[Sequence[int]], device="cpu", steps: int = 50
) -> dict:
    """Run every method of :data:`GENERATION_METHODS` on ``y`` ``(B, 1, 8, 8)`` once per seed list.

    Args:
        hr, y: the digits and their LR images; seeds: one list of B seeds per sample (e.g. the harness's
            ``image_seeds(indices, k)`` for k = 0, 1); steps: DDIM steps of the diffusion methods.

    Returns:
        ``{"hr", "y", "labels", "base" {label: (B, 1, H, W) or None}, "final" {label: (K, B, 1, H, W)},
        "prior" (K, B, D) DiffIR's sampled z, "prior_s1" (B, D) stage 1's z from HR, "psnr" {label: (K, B)},
        "residual_scale" {label: c}}``.
    """
    from ...engine.pretrained import load

    if not seeds or any(len(s) != y.shape[0] for s in seeds):
        raise ValueError(f"seeds: expected lists of {y.shape[0]} seeds (one per image), got {[len(s) for s in seeds]}")
    hr, y = hr.to(device), y.to(device)
    view = {
        "hr": hr.cpu(),
        "y": y.cpu(),
        "labels": list(GENERATION_METHODS),
        "base": {},
        "final": {},
        "psnr": {},
        "what": {k: v[1] for k, v in GENERATION_METHODS.items()},
        "residual_scale": {},
    }
    for label, (name, _) in GENERATION_METHODS.items():
        shipped = load(name, device)
        outs = []
        for s in seeds:
            options = {} if not shipped.method.iterative else {"sampler": "ddim", "steps": steps}
            outs.append(shipped.restore(y, seeds=list(s), **options).float())
        final = torch.stack(outs)
        view["final"][label] = final.cpu()
        view["psnr"][label] = torch.stack([psnr(f, hr) for f in final]).cpu()
        model = shipped.model
        view["residual_scale"][label] = float(getattr(model, "residual_scale", 1.0))
        if label == "DiffIR":
            view["base"][label] = None
            view["prior"] = torch.stack([shipped.method.sample_prior(model, y, list(s)) for s in seeds]).cpu()
            view["prior_s1"] = model.prior_s1(hr, y).cpu()
        elif label == "ResDiff":
            view["base"][label] = model.upsampled(y).cpu()  # its base is CNN(y)
        else:
            view["base"][label] = upsample(y, 4, "bicubic").clamp(-1, 1).cpu()
    return view


def generation_frame(view: dict, i: int, k: int = 0) -> dict:
    """Digit ``i`` and sample ``k`` of a :func:`generation_view`: per label ``{"base", "generated", "final", "psnr"}``
    (``generated`` = (final − base) / c: the residual as the diffusion model generated it, c = 0.5 for SRDiff's
    doubled residual (Eq. 09.2); DiffIR: its sampled prior), plus ``"prior_s1"``."""
    B, K = view["hr"].shape[0], next(iter(view["final"].values())).shape[0]
    if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < B:
        raise ValueError(f"i must be an int in 0 … {B - 1}, got {i!r}")
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < K:
        raise ValueError(f"k must be an int in 0 … {K - 1}, got {k!r}")
    out = {"i": i, "k": k, "hr": view["hr"][i], "rows": {}}
    for label in view["labels"]:
        final, base = view["final"][label][k, i], view["base"][label]
        gen = view["prior"][k, i] if base is None else (final - base[i]) / view["residual_scale"][label]
        out["rows"][label] = {
            "base": None if base is None else base[i],
            "generated": gen,
            "final": final,
            "psnr": float(view["psnr"][label][k, i]),
            "what": view["what"][label],
        }
    out["prior_s1"] = view["prior_s1"][i]
    return out


def render_generation(view: dict, i: int, k: int = 0, dpi: int = 80) -> bytes:
    """PNG: one row per method — its base, what its diffusion generated (a signed residual image, or DiffIR's prior
    as bars beside stage 1's), its final image — and HR."""
    f = generation_frame(view, i, k)
    rows = f["rows"]
    with plt.ioff():
        fig, axes = plt.subplots(
            len(rows), 4, figsize=(6.4, 1.45 * len(rows)), squeeze=False, gridspec_kw={"width_ratios": [1, 1.6, 1, 1]}
        )
        for r, (label, row) in enumerate(rows.items()):
            ax_b, ax_g, ax_f, ax_h = axes[r]
            if row["base"] is None:
                ax_b.text(0.5, 0.5, "no base:\nthe restorer\nmaps y itself", ha="center", va="center", fontsize=7)
                ax_b.axis("off")
                n = row["generated"].numel()
                ax_g.bar(range(n), row["generated"].numpy(), color="tab:blue", width=1.0, label="sampled ẑ")
                ax_g.plot(range(n), f["prior_s1"].numpy(), "k.", markersize=2, label="stage 1's z (from HR)")
                ax_g.set_xticks([])
                ax_g.tick_params(labelsize=6)
                ax_g.legend(fontsize=5, loc="upper right")
            else:
                ax_b.imshow(to_display(row["base"]), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
                g = row["generated"][0].numpy()
                ax_g.imshow(g, cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
            ax_g.set_title(f"generated: {row['what']}", fontsize=7)
            ax_f.imshow(to_display(row["final"]), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            ax_f.set_title(f"final, {row['psnr']:.1f} dB", fontsize=7)
            ax_h.imshow(to_display(f["hr"]), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            for ax in (ax_b, ax_f, ax_h) + (() if row["base"] is None else (ax_g,)):
                ax.set_xticks([])
                ax.set_yticks([])
            ax_b.set_title("base" if row["base"] is not None else "", fontsize=7)
            ax_b.set_ylabel(label, fontsize=8)
            if row["base"] is None:
                ax_b.text(
                    -0.15, 0.5, label, transform=ax_b.transAxes, rotation=90, ha="center", va="center", fontsize=8
                )
            ax_h.set_title("HR", fontsize=7)
        fig.suptitle(f"digit {i}, sample {k + 1}: what each method generates", fontsize=8)
        fig.tight_layout(pad=0.3, rect=(0, 0, 1, 0.97))
        return figure_png(fig, dpi=dpi)


class GenerationWidget:
    """A digit slider and a sample toggle over a precomputed :func:`generation_view` (instant redraws).

    Attributes:
        view; the ipywidgets ``digit``, ``sample``, ``picture``, ``readout``.
    """

    def __init__(self, view: dict, i: int = 0, k: int = 0):
        import ipywidgets as W

        self.view = view
        B, K = view["hr"].shape[0], next(iter(view["final"].values())).shape[0]
        self.digit = W.IntSlider(value=i, min=0, max=B - 1, description="digit", continuous_update=False)
        self.sample = W.ToggleButtons(options=[(f"sample {j + 1}", j) for j in range(K)], value=k, description="seed")
        self.picture = W.Image(format="png", layout=W.Layout(max_width="560px"))
        self.readout = W.HTML()
        self.digit.observe(lambda _: self.redraw(), names="value")
        self.sample.observe(lambda _: self.redraw(), names="value")
        self.box = W.VBox([W.HBox([self.digit, self.sample]), self.picture, self.readout])
        self.redraw()

    def redraw(self) -> None:
        """Show the chosen digit and sample: the picture, then how far the two samples differ per method."""
        i, k = int(self.digit.value), int(self.sample.value)
        self.picture.value = render_generation(self.view, i, k)
        parts = []
        for label in self.view["labels"]:
            final = self.view["final"][label][:, i]
            spread = float((final - final.mean(0)).abs().mean()) if final.shape[0] > 1 else 0.0
            parts.append(f"{label} {float(self.view['psnr'][label][k, i]):.1f} dB (samples differ by {spread:.3f})")
        self.readout.value = f"<b>digit {i}, sample {k + 1}</b>: " + " · ".join(parts)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box)
