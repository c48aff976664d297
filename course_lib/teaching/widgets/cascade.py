"""The cascade explorer of lesson 07: ask the class-conditional base for a digit with guidance weight w, corrupt its
8 × 8 output to level s (Eq. 07.2), and let an SR stage (trained with or without conditioning augmentation) take it
to 32 × 32 — every stage in one picture, with the digit classifier's reading of the base and of the result.

``cascade_view`` computes one run (pure: the shipped models in, tensors and readings out; tested without a browser);
``render_cascade`` draws it; ``CascadeExplorer`` wires the controls to a new run on every change (about half a
second on a laptop CPU at the default 20 steps per stage).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from ..plotting import figure_png, to_display

__all__ = ["cascade_view", "render_cascade", "CascadeExplorer"]

STAGES = (
    ("base", "base 8 × 8"),
    ("upsampled", "bicubic ×4"),
    ("corrupted", "z_s (what the SR stage sees)"),
    ("sr", "SR stage 32 × 32"),
)


@torch.no_grad()
def cascade_view(base, sr, classifier, label: int, w: float, aug_level: int, seed: int, steps: int = 20) -> dict:
    """One image through the cascade (:func:`course_lib.experiments.cascade.run_cascade`) and the classifier's calls.

    Returns ``{"stages": {name: (1, 1, H, W)}, "label", "w", "s", "seed", "base_reads", "sr_reads", "sr_confidence",
    "told"}``: ``base_reads`` is the classifier's call on the bicubic ×4 of the base's output, ``sr_reads`` on the SR
    stage's output (with its softmax probability), ``told`` whether the SR stage is told s."""
    from ...experiments.cascade import run_cascade

    if not 0 <= int(label) <= 9:
        raise ValueError(f"label must be a digit 0 … 9, got {label!r}")
    stages = run_cascade(base, sr, int(label), float(w), int(aug_level), int(seed), steps=steps)
    p_base = torch.softmax(classifier(stages["upsampled"]), dim=1)[0]
    p_sr = torch.softmax(classifier(stages["sr"]), dim=1)[0]
    return {
        "stages": stages,
        "label": int(label),
        "w": float(w),
        "s": int(aug_level),
        "seed": int(seed),
        "base_reads": int(p_base.argmax()),
        "sr_reads": int(p_sr.argmax()),
        "sr_confidence": float(p_sr.max()),
        "told": bool(sr.model.told),
    }


def render_cascade(view: dict, dpi: int = 80) -> bytes:
    """The four stages side by side, as PNG bytes."""
    fig, axes = plt.subplots(1, len(STAGES), figsize=(2.0 * len(STAGES), 2.3))
    for ax, (key, title) in zip(axes, STAGES):
        ax.imshow(to_display(view["stages"][key][0]), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    fig.suptitle(f"asked for a {view['label']} · w = {view['w']:g} · s = {view['s']} · seed {view['seed']}", fontsize=9)
    fig.tight_layout(pad=0.3, rect=(0, 0, 1, 0.93))
    return figure_png(fig, dpi=dpi)


class CascadeExplorer:
    """Controls ``digit``, ``w``, ``s``, ``seed`` and ``stage`` (the augmented or the unaugmented SR stage) over
    :func:`cascade_view`; every change reruns the cascade and redraws ``picture`` and ``readout``.

    Args:
        base: the shipped base (``load("digits8_cfg")``); stages: ``{name: shipped SR stage}``; classifier: the digit
            classifier; label, w, aug_level, seed: the first run; steps: DDIM steps per stage.
    """

    def __init__(
        self,
        base,
        stages: dict,
        classifier,
        label: int = 7,
        w: float = 1.0,
        aug_level: int = 100,
        seed: int = 0,
        steps: int = 20,
    ):
        import ipywidgets as W

        if not stages:
            raise ValueError("stages: expected at least one SR stage, got none")
        self.base, self.stages, self.classifier, self.steps = base, dict(stages), classifier, steps
        self.digit = W.Dropdown(options=list(range(10)), value=int(label), description="ask for")
        self.w = W.FloatSlider(value=float(w), min=0.0, max=8.0, step=0.5, description="w", continuous_update=False)
        self.s = W.IntSlider(value=int(aug_level), min=0, max=450, step=25, description="s", continuous_update=False)
        self.seed = W.IntText(value=int(seed), description="seed")
        self.stage = W.ToggleButtons(options=list(self.stages), value=list(self.stages)[0], description="SR stage")
        self.picture = W.Image(format="png", layout=W.Layout(max_width="640px"))
        self.readout = W.HTML()
        for control in (self.digit, self.w, self.s, self.seed, self.stage):
            control.observe(lambda _: self.redraw(), names="value")
        self.box = W.VBox(
            [W.HBox([self.digit, self.w, self.s]), W.HBox([self.seed, self.stage]), self.picture, self.readout]
        )
        self.view = None
        self.redraw()

    def redraw(self) -> None:
        """Run the cascade with the controls' values and show it."""
        sr = self.stages[self.stage.value]
        self.view = cascade_view(
            self.base, sr, self.classifier, self.digit.value, self.w.value, self.s.value, self.seed.value, self.steps
        )
        v = self.view
        self.picture.value = render_cascade(v)
        told = "told s" if v["told"] else "never told s: trained on clean LR only"
        self.readout.value = (
            f"<b>asked for a {v['label']}</b>, w = {v['w']:g}, s = {v['s']} ({self.stage.value}, {told}): "
            f"the classifier reads the base as a {v['base_reads']} and the result as a {v['sr_reads']} "
            f"(p = {v['sr_confidence']:.2f})"
        )

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box)
