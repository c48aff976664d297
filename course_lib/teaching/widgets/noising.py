"""The noising widget of lesson 01: a slider over t showing x_t ~ q(x_t | x_0) (Eq. 01.3).

``noising_view`` is the pure function: for one image, one schedule, one t and one fixed ε it
returns x_t and the numbers the widget prints. ``NoisingWidget`` draws that view: x_t, the
histogram of its pixels against N(0, 1), and the ᾱ_t and SNR curves with a marker at t.
"""

from __future__ import annotations

import math
from typing import Mapping

import matplotlib.pyplot as plt
import numpy as np
import torch

from ...device import make_generator
from ...diffusion import GaussianDiffusion
from ..plotting import figure_png, to_display

__all__ = ["noising_view", "noising_strip", "NoisingWidget"]

HIST_RANGE = (-4.0, 4.0)
HIST_BINS = 60


def noising_view(diffusion: GaussianDiffusion, x0: torch.Tensor, t: int, seed: int = 0) -> dict:
    """What the noising widget shows for one image at one timestep (Eq. 01.3, Eq. 01.4).

    Args:
        diffusion: the forward process (its schedule).
        x0: ``(C, H, W)`` clean image in [-1, 1].
        t: integer timestep in ``0 … T-1`` (code index; the paper's t + 1).
        seed: seeds ε, so the same seed gives the same noise at every t.

    Returns:
        dict with ``x_t`` ``(C, H, W)``, ``noise`` ε ``(C, H, W)``, ``alpha_bar``, ``snr``,
        ``signal_coef`` √ᾱ_t, ``noise_coef`` √(1 − ᾱ_t), ``std`` and ``mean`` of x_t's pixels,
        and ``hist`` (counts over ``HIST_BINS`` bins on ``HIST_RANGE``).
    """
    if not isinstance(x0, torch.Tensor) or x0.dim() != 3:
        raise ValueError(f"x0 must be one image of shape (C, H, W), got {getattr(x0, 'shape', type(x0).__name__)}")
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)):
        raise TypeError(f"t must be an int timestep, got {type(t).__name__}")
    T = diffusion.num_timesteps
    if not 0 <= t < T:
        raise ValueError(f"t must lie in 0 … {T - 1}, got {t}")
    device = diffusion.betas.device
    x0 = x0.to(device)
    noise = torch.randn(x0.shape, generator=make_generator(seed, device), device=device, dtype=x0.dtype)
    t_vec = torch.full((1,), int(t), dtype=torch.long, device=device)
    x_t = diffusion.q_sample(x0[None], t_vec, noise=noise[None])[0]
    ab = float(diffusion.alpha_bars[t])
    signal_coef = float(diffusion.sqrt_alpha_bars[t])
    noise_coef = float(diffusion.sqrt_one_minus_alpha_bars[t])  # exact even where ᾱ is close to 1
    counts = torch.histc(x_t.float().cpu(), bins=HIST_BINS, min=HIST_RANGE[0], max=HIST_RANGE[1])
    return {
        "t": int(t),
        "x_t": x_t,
        "noise": noise,
        "alpha_bar": ab,
        "snr": signal_coef**2 / noise_coef**2,
        "signal_coef": signal_coef,
        "noise_coef": noise_coef,
        "mean": float(x_t.mean()),
        "std": float(x_t.std(unbiased=False)),
        "hist": counts.numpy(),
    }


def noising_strip(diffusion: GaussianDiffusion, x0: torch.Tensor, ts, seed: int = 0, title: str | None = None):
    """A static strip of x_t at the timesteps ``ts`` (for readers without a running kernel)."""
    ts = list(ts)
    fig, axes = plt.subplots(1, len(ts), figsize=(1.5 * len(ts), 1.9), squeeze=False)
    for ax, t in zip(axes[0], ts):
        v = noising_view(diffusion, x0, int(t), seed)
        arr = to_display(v["x_t"].cpu())
        ax.imshow(arr, cmap="gray" if arr.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
        ax.set_title(f"t={t}\nabar={v['alpha_bar']:.3f}", fontsize=8)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def render_view(view: dict, diffusion: GaussianDiffusion, schedule: str) -> bytes:
    """PNG bytes of the three panels for a view from :func:`noising_view`."""
    with plt.ioff():
        fig, (ax_img, ax_hist, ax_curve) = plt.subplots(
            1, 3, figsize=(10.5, 3.0), gridspec_kw={"width_ratios": [1, 1.3, 1.3]}
        )
        arr = to_display(view["x_t"].cpu())
        ax_img.imshow(arr, cmap="gray" if arr.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
        ax_img.set_title(f"x_t at t = {view['t']} (clipped for display)", fontsize=9)
        ax_img.axis("off")

        edges = np.linspace(*HIST_RANGE, HIST_BINS + 1)
        width = edges[1] - edges[0]
        total = max(float(view["hist"].sum()), 1.0)
        ax_hist.bar(
            edges[:-1],
            view["hist"] / (total * width),
            width=width,
            align="edge",
            color="tab:blue",
            alpha=0.6,
            label="pixels of x_t",
        )
        grid = np.linspace(*HIST_RANGE, 200)
        ax_hist.plot(grid, np.exp(-(grid**2) / 2) / math.sqrt(2 * math.pi), color="black", lw=1.2, label="N(0, 1)")
        ax_hist.set_xlim(*HIST_RANGE)
        ax_hist.set_ylim(0, 1.6)
        ax_hist.set_title(f"histogram: mean {view['mean']:.2f}, std {view['std']:.2f}", fontsize=9)
        ax_hist.legend(fontsize=7, loc="upper right")

        T = diffusion.num_timesteps
        steps = np.arange(T)
        ab = diffusion.alpha_bars.detach().cpu().numpy()
        ax_curve.plot(steps, ab, color="tab:green", label="alpha_bar_t")
        ax_curve.set_ylim(-0.02, 1.02)
        ax_curve.set_xlabel("t")
        ax_curve.axvline(view["t"], color="tab:red", lw=1)
        ax_curve.plot([view["t"]], [view["alpha_bar"]], "o", color="tab:red")
        ax2 = ax_curve.twinx()
        ax2.semilogy(steps, ab / (1 - ab), color="tab:purple", lw=1, label="SNR(t)")
        ax2.set_ylim(1e-5, 1e4)
        ax_curve.set_title(f"{schedule}: alpha_bar = {view['alpha_bar']:.4f}, SNR = {view['snr']:.3g}", fontsize=9)
        lines = ax_curve.get_lines()[:1] + ax2.get_lines()
        ax_curve.legend(lines, [ln.get_label() for ln in lines], fontsize=7, loc="center right")
        fig.tight_layout()
        return figure_png(fig, dpi=80)


class NoisingWidget:
    """Slider over t, schedule menu and image picker; shows x_t, its histogram and ᾱ_t / SNR(t).

    Args:
        images: name → ``(C, H, W)`` image in [-1, 1].
        diffusions: schedule name → :class:`GaussianDiffusion`.
        t: initial timestep; ``seed``: seeds ε (fixed while the slider moves).

    Attributes:
        view: the dict from :func:`noising_view` for the current controls (what is shown).
        t_slider, schedule, image, readout, picture: the ipywidgets.
    """

    def __init__(
        self, images: Mapping[str, torch.Tensor], diffusions: Mapping[str, GaussianDiffusion], t: int = 0, seed: int = 0
    ):
        import ipywidgets as W

        if not images:
            raise ValueError("images must name at least one image")
        if not diffusions:
            raise ValueError("diffusions must name at least one schedule")
        Ts = {d.num_timesteps for d in diffusions.values()}
        if len(Ts) != 1:
            raise ValueError(f"all schedules must have the same T, got {sorted(Ts)}")
        T = Ts.pop()
        self.images, self.diffusions, self.seed = dict(images), dict(diffusions), seed
        self.t_slider = W.IntSlider(
            value=t, min=0, max=T - 1, step=1, description="t", continuous_update=False, layout=W.Layout(width="420px")
        )
        self.play = W.Play(value=t, min=0, max=T - 1, step=max(1, T // 50), interval=120, description="play")
        W.jslink((self.play, "value"), (self.t_slider, "value"))
        self.schedule = W.Dropdown(options=list(self.diffusions), description="schedule")
        self.image = W.Dropdown(options=list(self.images), description="image")
        self.readout = W.HTML()
        self.picture = W.Image(format="png")
        for control in (self.t_slider, self.schedule, self.image):
            control.observe(self._on_change, names="value")
        self.box = W.VBox(
            [W.HBox([self.play, self.t_slider]), W.HBox([self.schedule, self.image]), self.readout, self.picture]
        )
        self._update()

    def _on_change(self, _change) -> None:
        self._update()

    def _update(self) -> None:
        diffusion = self.diffusions[self.schedule.value]
        self.view = noising_view(diffusion, self.images[self.image.value], int(self.t_slider.value), self.seed)
        v = self.view
        self.readout.value = (
            f"<code>t = {v['t']}</code> (paper step {v['t'] + 1}) &nbsp; "
            f"<code>alpha_bar = {v['alpha_bar']:.4f}</code> &nbsp; "
            f"<code>x_t = {v['signal_coef']:.3f}·x0 + {v['noise_coef']:.3f}·eps</code> &nbsp; "
            f"<code>SNR = {v['snr']:.3g}</code> &nbsp; <code>std(x_t) = {v['std']:.3f}</code>"
        )
        self.picture.value = render_view(v, diffusion, self.schedule.value)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box)
