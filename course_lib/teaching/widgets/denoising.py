"""The denoising widget of lesson 02: a player over a recorded reverse trajectory.

``trajectory_view`` is the pure function: for frame ``k`` of a trajectory (from
``GaussianDiffusion.sample(..., record_every=…)`` or ``course_lib.experiments.cached.load_ddpm_trajectory``) it returns
x_t, the predicted x̂_0 and the noise level at that step. ``DenoisingWidget`` shows them side by side.
"""

from __future__ import annotations

import matplotlib.pyplot as plt

from ...diffusion import GaussianDiffusion
from ..plotting import figure_png, to_display

__all__ = ["trajectory_view", "trajectory_strip", "DenoisingWidget"]


def _check_trajectory(trajectory: dict) -> int:
    for key in ("t", "x_t", "x0"):
        if key not in trajectory:
            raise ValueError(f"trajectory must have keys 't', 'x_t', 'x0'; missing {key!r}")
    K = len(trajectory["t"])
    if K == 0 or trajectory["x_t"].shape[0] != K or trajectory["x0"].shape[0] != K:
        raise ValueError(
            f"trajectory has {K} timesteps but x_t/x0 hold {trajectory['x_t'].shape[0]}/{trajectory['x0'].shape[0]} "
            "frames"
        )
    return K


def trajectory_view(trajectory: dict, diffusion: GaussianDiffusion, frame: int, image: int = 0) -> dict:
    """What the widget shows at ``frame`` for sample ``image``.

    Returns:
        dict with ``t`` (the step about to be taken), ``x_t`` and ``x0`` (``(C, H, W)``), ``alpha_bar``,
        ``noise_std`` √(1 − ᾱ_t) and ``signal`` √ᾱ_t.
    """
    K = _check_trajectory(trajectory)
    if not 0 <= frame < K:
        raise ValueError(f"frame must lie in 0 … {K - 1}, got {frame}")
    n = trajectory["x_t"].shape[1]
    if not 0 <= image < n:
        raise ValueError(f"image must lie in 0 … {n - 1}, got {image}")
    t = int(trajectory["t"][frame])
    return {
        "frame": frame,
        "t": t,
        "x_t": trajectory["x_t"][frame, image],
        "x0": trajectory["x0"][frame, image],
        "alpha_bar": float(diffusion.alpha_bars[t]),
        "noise_std": float(diffusion.sqrt_one_minus_alpha_bars[t]),
        "signal": float(diffusion.sqrt_alpha_bars[t]),
    }


def trajectory_strip(
    trajectory: dict, diffusion: GaussianDiffusion, image: int = 0, frames: int = 8, title: str | None = None
):
    """Static strip: x_t (top) and x̂_0 (bottom) at ``frames`` evenly spaced recorded steps."""
    K = _check_trajectory(trajectory)
    idx = sorted({round(i * (K - 1) / (frames - 1)) for i in range(frames)})
    fig, axes = plt.subplots(2, len(idx), figsize=(1.3 * len(idx), 3.0), squeeze=False)
    for col, k in enumerate(idx):
        v = trajectory_view(trajectory, diffusion, k, image)
        for row, key in enumerate(("x_t", "x0")):
            axes[row, col].imshow(to_display(v[key]), cmap="gray", vmin=0, vmax=255)
            axes[row, col].set_xticks([])
            axes[row, col].set_yticks([])
        axes[0, col].set_title(f"t={v['t']}", fontsize=8)
    axes[0, 0].set_ylabel("x_t", fontsize=9)
    axes[1, 0].set_ylabel("predicted x0", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def _render(view: dict) -> bytes:
    with plt.ioff():
        fig, axes = plt.subplots(1, 2, figsize=(5.0, 2.8))
        for ax, key, name in ((axes[0], "x_t", "x_t"), (axes[1], "x0", "predicted x0")):
            ax.imshow(to_display(view[key]), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            ax.set_title(f"{name} at t = {view['t']}", fontsize=9)
            ax.axis("off")
        fig.tight_layout()
        return figure_png(fig, dpi=80)


class DenoisingWidget:
    """Slider and play button over the frames of a trajectory; x_t and x̂_0 side by side with the noise level.

    Attributes:
        view: the dict from :func:`trajectory_view` for the current controls;
        frame, play, image, readout, picture: the ipywidgets.
    """

    def __init__(self, trajectory: dict, diffusion: GaussianDiffusion, image: int = 0):
        import ipywidgets as W

        K = _check_trajectory(trajectory)
        self.trajectory, self.diffusion = trajectory, diffusion
        self.frame = W.IntSlider(value=0, min=0, max=K - 1, description="step", continuous_update=True)
        self.play = W.Play(value=0, min=0, max=K - 1, step=1, interval=150, description="play")
        W.jslink((self.play, "value"), (self.frame, "value"))
        self.image = W.Dropdown(options=list(range(trajectory["x_t"].shape[1])), value=image, description="sample")
        self.readout = W.HTML()
        self.picture = W.Image(format="png")
        self.frame.observe(lambda _: self._update(), names="value")
        self.image.observe(lambda _: self._update(), names="value")
        self.box = W.VBox([W.HBox([self.play, self.frame, self.image]), self.readout, self.picture])
        self._update()

    def _update(self) -> None:
        self.view = v = trajectory_view(self.trajectory, self.diffusion, int(self.frame.value), int(self.image.value))
        self.readout.value = (
            f"<code>t = {v['t']}</code> &nbsp; <code>alpha_bar = {v['alpha_bar']:.4f}</code> &nbsp; "
            f"<code>noise std sqrt(1 - alpha_bar) = {v['noise_std']:.3f}</code>"
        )
        self.picture.value = _render(v)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box)
