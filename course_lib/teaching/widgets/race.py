"""The sampler race widget of lesson 06: pick samplers and a budget of network evaluations (NFE), see each one's
super-resolved digits side by side with its time, NFE and consistency.

``race_view`` is the pure function (it runs the samplers through :func:`course_lib.methods.sr3.super_resolve` with
the same per-image seeds and measures the outputs); ``render_race_view`` draws it; ``RaceWidget`` wires a sampler
selector and an NFE slider to it.
"""

from __future__ import annotations

import time
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import torch

from ...checks import check_int
from ...metrics import psnr
from ...operators import consistency_psnr
from ..plotting import figure_png, to_display
from ...samplers import steps_for_nfe

__all__ = ["RACE_SAMPLERS", "race_view", "render_race_view", "RaceWidget"]

#: label → (sampler name, options): what the widget offers (the consistency student runs with its own model)
RACE_SAMPLERS: dict[str, tuple[str, dict]] = {
    "DDIM": ("ddim", {}),
    "DDPM (η = 1)": ("ddim", {"eta": 1.0}),
    "PLMS": ("pndm", {"warmup": "plms"}),
    "F-PNDM": ("pndm", {"warmup": "prk"}),
    "DPM-Solver++(2M)": ("dpmpp_2m", {}),
    "Heun": ("heun", {}),
    "Euler-Maruyama": ("euler_maruyama", {}),
    "consistency student": ("consistency", {}),
}


@torch.no_grad()
def race_view(
    models: Mapping[str, tuple],
    y: torch.Tensor,
    hr: torch.Tensor,
    seeds: Sequence[int],
    samplers: Sequence[str],
    nfe: int,
) -> dict:
    """Run each of ``samplers`` (labels of :data:`RACE_SAMPLERS`) within ``nfe`` network evaluations per image.

    Args:
        models: ``{"teacher": (SR3 model, process), "student": (consistency model, process)}`` (the student only
            for "consistency student").
        y, hr: ``(B, 1, 8, 8)`` LR inputs and ``(B, 1, 32, 32)`` HR, on the models' device; seeds: one per image.
        samplers: which samplers; nfe: the budget (each sampler takes the most steps it can afford).

    Returns:
        ``{"rows": [{"label", "steps", "nfe", "ms_per_image", "images" (B, 1, H, W) cpu, "psnr", "consistency"}], "y",
        "hr", "nfe"}`` — ``nfe`` of a row is what the sampling loop counted.
    """
    from ...methods.sr3 import super_resolve

    unknown = [s for s in samplers if s not in RACE_SAMPLERS]
    if unknown:
        raise ValueError(f"samplers must be among {list(RACE_SAMPLERS)}, got {unknown}")
    check_int(nfe, "nfe", low=1)
    rows = []
    for label in samplers:
        name, options = RACE_SAMPLERS[label]
        model, process = models["student" if name == "consistency" else "teacher"]
        steps = min(steps_for_nfe(name, nfe, **options), process.num_timesteps - 1)
        counted = []
        start = time.perf_counter()
        out = super_resolve(
            model,
            process,
            y,
            sampler=name,
            steps=steps,
            seeds=list(seeds),
            progress=False,
            eta=options.get("eta", 0.0),
            sampler_options={k: v for k, v in options.items() if k != "eta"},
            callback=lambda s: counted.append(s.nfe),
        )
        seconds = time.perf_counter() - start
        rows.append(
            {
                "label": label,
                "steps": steps,
                "nfe": counted[-1],
                "ms_per_image": 1000 * seconds / y.shape[0],
                "images": out.float().cpu(),
                "psnr": psnr(out, hr).cpu(),
                "consistency": consistency_psnr(out, y, hr.shape[-1] // y.shape[-1]).cpu(),
            }
        )
    return {"rows": rows, "y": y.float().cpu(), "hr": hr.float().cpu(), "nfe": nfe}


def render_race_view(view: dict, dpi: int = 80) -> bytes:
    """PNG: one row per sampler (its images, NFE, ms/image, mean consistency), the LR inputs and HR on top."""
    rows, B = view["rows"], view["hr"].shape[0]
    with plt.ioff():
        fig, axes = plt.subplots(len(rows) + 2, B, figsize=(0.9 * B + 2.2, 0.95 * (len(rows) + 2)), squeeze=False)
        for ax in axes.flat:
            ax.set_xticks([])
            ax.set_yticks([])
        names = [("LR", view["y"]), ("HR", view["hr"])] + [(r["label"], r["images"]) for r in rows]
        for i, (name, imgs) in enumerate(names):
            for j in range(B):
                axes[i, j].imshow(to_display(imgs[j]), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            if i < 2:
                axes[i, 0].set_ylabel(name, fontsize=7, rotation=0, ha="right", va="center")
            else:
                r = rows[i - 2]
                axes[i, 0].set_ylabel(
                    f"{name}\n{r['nfe']} NFE · {r['ms_per_image']:.0f} ms\n"
                    f"consistency {float(r['consistency'].mean()):.1f} dB",
                    fontsize=6,
                    rotation=0,
                    ha="right",
                    va="center",
                )
        fig.suptitle(f"every sampler within {view['nfe']} network evaluations per image", fontsize=8)
        fig.tight_layout(pad=0.3)
        return figure_png(fig, dpi=dpi)


class RaceWidget:
    """A sampler selector and an NFE slider over :func:`race_view` (runs when "race" is clicked).

    Attributes:
        view: the last :func:`race_view` result; the ipywidgets ``samplers``, ``nfe``, ``go``, ``picture``, ``readout``.
    """

    def __init__(
        self,
        models: Mapping[str, tuple],
        y: torch.Tensor,
        hr: torch.Tensor,
        seeds: Sequence[int],
        samplers: Sequence[str] = ("DDIM", "DPM-Solver++(2M)", "consistency student"),
        nfe: int = 4,
    ):
        import ipywidgets as W

        self.models, self.y, self.hr, self.seeds = models, y, hr, list(seeds)
        offered = [s for s in RACE_SAMPLERS if s != "consistency student" or "student" in models]
        self.samplers = W.SelectMultiple(
            options=offered, value=tuple(s for s in samplers if s in offered), rows=len(offered), description="samplers"
        )
        self.nfe = W.IntSlider(value=nfe, min=1, max=50, description="NFE budget", continuous_update=False)
        self.go = W.Button(description="race", button_style="primary")
        self.picture = W.Image(format="png")
        self.readout = W.HTML()
        self.go.on_click(lambda _: self.update())
        self.box = W.VBox([W.HBox([self.samplers, W.VBox([self.nfe, self.go])]), self.picture, self.readout])
        self.view: dict | None = None
        self.update()

    def update(self) -> None:
        """Run :func:`race_view` for the current controls and redraw."""
        if not self.samplers.value:
            self.readout.value = "pick at least one sampler"
            return
        self.view = v = race_view(
            self.models, self.y, self.hr, self.seeds, list(self.samplers.value), int(self.nfe.value)
        )
        cell = "style='padding:0 8px;text-align:right'"
        body = "".join(
            f"<tr><td>{r['label']}</td><td {cell}>{r['steps']}</td><td {cell}>{r['nfe']}</td>"
            f"<td {cell}>{r['ms_per_image']:.0f}</td><td {cell}>{float(r['psnr'].mean()):.2f}</td>"
            f"<td {cell}>{float(r['consistency'].mean()):.1f}</td></tr>"
            for r in v["rows"]
        )
        head = "".join(f"<th {cell}>{h}</th>" for h in ("steps", "NFE", "ms/image", "PSNR (dB)", "consistency (dB)"))
        self.readout.value = f"<table><tr><th style='text-align:left'>sampler</th>{head}</tr>{body}</table>"
        self.picture.value = render_race_view(v)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box)
