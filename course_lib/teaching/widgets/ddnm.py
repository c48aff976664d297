"""The DDNM widget of lesson 08: pick a degradation — SR scale, a mask, a k-space fraction, measurement noise — and
watch the unconditional digits model restore it step by step.

``ddnm_view`` is the pure function: it measures y = A x (+ n) for the chosen task, runs DDNM (or DDNM+) with the
posterior sampler (:func:`course_lib.samplers.ddnm_transform`, Eq. 08.3–08.5) and records, at every step, x_t, the
network's x̂₀ **before** the range–null-space step and x̂₀′ **after** it, with the consistency of each
(PSNR(A x̂₀, y): low before, float-exact after for noiseless y). ``ddnm_frame`` reads one step of it;
``render_ddnm_frame`` draws it; ``DDNMWidget`` wires a task picker, a noise slider, a DDNM+ switch and a step slider.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import torch

from ...device import per_image_generators, randn
from ...metrics import psnr
from ..plotting import figure_png, to_display

__all__ = ["DDNM_TASKS", "measure_y", "ddnm_view", "ddnm_frame", "render_ddnm_frame", "DDNMWidget"]

#: label → task name of :func:`course_lib.experiments.zeroshot.operator_for`
DDNM_TASKS: dict[str, str] = {
    "SR ×2": "sr2",
    "SR ×4": "sr4",
    "inpainting: centre square": "inpaint:center",
    "inpainting: right half": "inpaint:half",
    "k-space 25 %": "kspace:0.25",
    "k-space 12.5 %": "kspace:0.125",
}


def measure_y(op, hr: torch.Tensor, noise: float = 0.0, seed: int = 900) -> torch.Tensor:
    """y = A x + n for the operator ``op``: n has standard deviation ``noise`` on the [0, 1] scale (2·noise on
    [-1, 1] images) on every measured value — at the LR pixels (SR), the observed pixels (a mask) or the measured
    frequencies (k-space: the orthonormal FFT of white image noise, which is white again), drawn from a generator
    seeded ``seed``."""
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0 (standard deviation on the [0, 1] scale), got {noise!r}")
    y = op.A(hr)
    if noise == 0:
        return y
    g = torch.Generator().manual_seed(seed)
    if y.is_complex():  # k-space: F n for white n, on the measured frequencies only
        n = randn(hr.shape, g, hr.device, hr.dtype)
        return y + 2 * noise * op.A(n)
    n = randn(y.shape, g, y.device, y.dtype)
    return y + 2 * noise * (op.A_pinv(n) if y.shape == hr.shape else n)  # a mask: noise on the observed pixels


@torch.no_grad()
def ddnm_view(
    model,
    process,
    hr: torch.Tensor,
    seeds: Sequence[int],
    task: str,
    noise: float = 0.0,
    plus: bool = False,
    steps: int = 50,
) -> dict:
    """Run DDNM on ``hr`` degraded by ``task`` and record every step.

    Args:
        model, process: the unconditional ε-model and its process (the shipped ``digits_unet``).
        hr: ``(B, 1, 32, 32)`` on the model's device; seeds: one per image (x_T and the steps' noise).
        task: a value of :data:`DDNM_TASKS` (``"sr2"``, ``"inpaint:half"``, ``"kspace:0.25"``, …).
        noise: σ_y on the [0, 1] scale; plus: DDNM+ (σ_y passed to the step, doubled for [-1, 1]) or plain DDNM.
        steps: posterior-sampler steps (one network evaluation each).

    Returns:
        ``{"task", "noise", "plus", "t" (K,), "x_t", "x0", "x0_corrected" (K, B, 1, H, W) cpu, "consistency_before",
        "consistency_after" (K, B) dB, "hr", "pinv" (A†y), "final" (clipped), "psnr" (B,), "nfe"}``.
    """
    from ...samplers import ddnm_transform, make_sampler, sample
    from ...experiments.zeroshot import measurement_consistency, operator_for

    if task not in DDNM_TASKS.values():
        raise ValueError(f"task must be one of {list(DDNM_TASKS.values())}, got {task!r}")
    if len(seeds) != hr.shape[0]:
        raise ValueError(f"seeds: expected one per image ({hr.shape[0]}), got {len(seeds)}")
    op = operator_for(task, hr.device)
    y = measure_y(op, hr, noise)
    step = ddnm_transform(op, y, 2 * noise if plus else 0.0)
    record = {"x0": [], "x0_corrected": [], "x_t": [], "t": []}

    def hook(x0, ctx):
        out = step(x0, ctx)
        record["x0"].append(x0.float().cpu())
        record["x0_corrected"].append(out.float().cpu())
        record["x_t"].append(ctx.x_t.float().cpu())  # the state the step starts from
        record["t"].append(int(ctx.t))
        return out

    gens = per_image_generators(seeds)
    x_T = randn(hr.shape, gens, hr.device)
    smp = make_sampler("posterior", process, steps)
    final = sample(model, smp, x_T, None, x0_transform=hook, generator=gens)
    x0, x0c = torch.stack(record["x0"]), torch.stack(record["x0_corrected"])
    K, B = x0.shape[:2]
    yc = y.cpu()
    cons = lambda xs: torch.stack([measurement_consistency(_cpu(op), xs[k], yc) for k in range(K)])  # noqa: E731
    return {
        "task": task,
        "noise": float(noise),
        "plus": bool(plus),
        "t": torch.tensor(record["t"]),
        "x_t": torch.stack(record["x_t"]),
        "x0": x0,
        "x0_corrected": x0c,
        "consistency_before": cons(x0),
        "consistency_after": cons(x0c),
        "hr": hr.float().cpu(),
        "pinv": op.A_pinv(y).float().cpu().clamp(-1, 1),
        "final": final.clamp(-1, 1).float().cpu(),
        "psnr": psnr(final.clamp(-1, 1), hr).float().cpu(),
        "nfe": smp.nfe,
    }


def _cpu(op):
    """The operator with its mask on the CPU (the view's tensors are there)."""
    import copy

    out = copy.copy(op)
    if hasattr(out, "mask"):
        out.mask = out.mask.cpu()
    return out


def ddnm_frame(view: dict, k: int) -> dict:
    """Step ``k`` (0 … K − 1) of a :func:`ddnm_view`: ``{"k", "t", "x_t", "x0", "x0_corrected" (B, 1, H, W),
    "consistency_before", "consistency_after" (mean dB)}``."""
    K = len(view["t"])
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < K:
        raise ValueError(f"k must be an int in 0 … {K - 1}, got {k!r}")
    return {
        "k": k,
        "t": int(view["t"][k]),
        "x_t": view["x_t"][k],
        "x0": view["x0"][k],
        "x0_corrected": view["x0_corrected"][k],
        "consistency_before": float(view["consistency_before"][k].mean()),
        "consistency_after": float(view["consistency_after"][k].mean()),
    }


def render_ddnm_frame(view: dict, k: int, dpi: int = 80) -> bytes:
    """PNG: the measurements A†y, x_t, x̂₀ before and after the step at step ``k``, the final output and HR."""
    f = ddnm_frame(view, k)
    rows = [
        ("A†y", view["pinv"]),
        (f"x_t (t = {f['t']})", f["x_t"].clamp(-1, 1)),
        ("x̂₀ (network)", f["x0"].clamp(-1, 1)),
        ("x̂₀′ (after the step)", f["x0_corrected"].clamp(-1, 1)),
        ("final", view["final"]),
        ("HR", view["hr"]),
    ]
    B = view["hr"].shape[0]
    with plt.ioff():
        fig, axes = plt.subplots(len(rows), B, figsize=(0.9 * B + 1.6, 0.95 * len(rows)), squeeze=False)
        for i, (name, imgs) in enumerate(rows):
            for j in range(B):
                ax = axes[i, j]
                ax.imshow(to_display(imgs[j]), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
            axes[i, 0].set_ylabel(name, fontsize=7, rotation=0, ha="right", va="center")
        kind = "DDNM+" if view["plus"] else "DDNM"
        fig.suptitle(f"{kind}, {view['task']}, σ_y = {view['noise']:.2f}: step {k + 1} of {len(view['t'])}", fontsize=8)
        fig.tight_layout(pad=0.3, rect=(0, 0, 1, 0.97))
        return figure_png(fig, dpi=dpi)


class DDNMWidget:
    """A task picker, a σ_y slider and a DDNM+ switch (re-run DDNM on change), and a step slider (redraw only).

    Attributes:
        view: the last :func:`ddnm_view`; the ipywidgets ``task``, ``noise``, ``plus``, ``step``, ``picture``,
        ``readout``.
    """

    def __init__(
        self,
        model,
        process,
        hr: torch.Tensor,
        seeds: Sequence[int],
        task: str = "sr4",
        noise: float = 0.0,
        plus: bool = False,
        steps: int = 50,
    ):
        import ipywidgets as W

        self.model, self.process, self.hr, self.seeds, self.steps = model, process, hr, list(seeds), steps
        self.task = W.Dropdown(options=list(DDNM_TASKS.items()), value=task, description="degradation")
        self.noise = W.FloatSlider(
            value=noise, min=0.0, max=0.2, step=0.05, description="σ_y [0, 1]", continuous_update=False
        )
        self.plus = W.Checkbox(value=plus, description="DDNM+ (σ_y-aware)")
        self.step = W.IntSlider(value=steps, min=1, max=steps, description="step", continuous_update=False)  # 1-based
        self.picture = W.Image(format="png", layout=W.Layout(max_width="640px"))
        self.readout = W.HTML()
        for control in (self.task, self.noise, self.plus):
            control.observe(lambda _: self.update(), names="value")
        self.step.observe(lambda _: self.redraw(), names="value")
        self.box = W.VBox([W.HBox([self.task, self.noise, self.plus]), self.step, self.picture, self.readout])
        self.view: dict | None = None
        self.update()

    def update(self) -> None:
        """Re-run :func:`ddnm_view` for the current task, noise and switch, then redraw."""
        self.view = ddnm_view(
            self.model,
            self.process,
            self.hr,
            self.seeds,
            self.task.value,
            float(self.noise.value),
            bool(self.plus.value),
            self.steps,
        )
        self.redraw()

    def redraw(self) -> None:
        """Show step ``step`` (1-based) of the current view: the picture first, then the readout."""
        v, k = self.view, int(self.step.value) - 1
        f = ddnm_frame(v, k)
        self.picture.value = render_ddnm_frame(v, k)
        self.readout.value = (
            f"<b>step {k + 1} of {len(v['t'])}</b> (t = {f['t']}): consistency PSNR(A x̂₀, y) "
            f"{f['consistency_before']:.1f} dB before the step, {f['consistency_after']:.1f} dB after"
            f" · final PSNR to HR {float(v['psnr'].mean()):.2f} dB · {v['nfe']} NFE"
        )

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box)
