"""The attention explorer of lesson 10: where does one patch of a noisy digit look?

``attention_view`` runs a Transformer SR model (an :class:`~course_lib.models.SR3` around a DiT or a U-ViT) once per
timestep on one digit, x_t drawn from its own seed, and keeps every block's attention weights, averaged over the
heads (Eq. 10.2–10.3); ``attention_frame`` reads the weights of one query patch at one timestep and block;
``render_attention`` draws x_t with the query patch outlined beside the map of where it attends; ``AttentionWidget``
wires timestep, block and patch sliders to the picture (no recomputation: instant).
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import torch

from ...device import per_image_generators, randn
from ..plotting import figure_png, to_display

__all__ = ["attention_view", "attention_frame", "render_attention", "AttentionWidget"]


@torch.no_grad()
def attention_view(model, process, hr: torch.Tensor, y: torch.Tensor, seed: int, timesteps: Sequence[int]) -> dict:
    """Every block's head-averaged attention weights for one digit at each timestep.

    Args:
        model: an SR3 whose ``net`` is a DiT or a U-ViT (eval mode); process: its diffusion process.
        hr, y: ``(1, 1, H, W)`` and ``(1, 1, h, w)``; seed: x_t's noise; timesteps: 0-based indices, increasing.

    Returns:
        ``{"x_t" (K, H, W), "x0_hat" (K, H, W) the network's output as an image, "weights" (K, blocks, N, N) over the
        patch tokens only (a U-ViT's time token dropped), "grid" (h_p, w_p), "patch_size", "timesteps", "hr" (H, W)}``.
    """
    net = model.net
    if not hasattr(net, "patch_size"):
        raise ValueError(f"model.net must be a Transformer backbone (DiT or UViT), got {type(net).__name__}")
    if hr.dim() != 4 or hr.shape[0] != 1 or y.dim() != 4 or y.shape[0] != 1:
        raise ValueError(f"hr and y: expected one image each, (1, C, H, W), got {tuple(hr.shape)} and {tuple(y.shape)}")
    ts = [int(t) for t in timesteps]
    if sorted(ts) != ts or not all(0 <= t < process.num_timesteps for t in ts):
        raise ValueError(f"timesteps: expected increasing indices in 0 … {process.num_timesteps - 1}, got {ts}")
    device = process.betas.device
    hr, y = hr.to(device), y.to(device)
    x0 = model.target(hr, y)
    noise = randn(x0.shape, per_image_generators([seed]), device)
    extra = 0 if type(net).__name__ == "DiT" and net.block != "in_context" else 1  # U-ViT / in-context: a t token
    frames, images, maps = [], [], []
    for t in ts:
        tt = torch.full((1,), t, device=device)
        x_t = process.q_sample(x0, tt, noise)
        out, weights = net(x_t, tt, model.condition(y), return_weights=True)
        w = torch.stack([wb[0].mean(0)[extra:, extra:] for wb in weights])  # (blocks, N, N), patches only
        frames.append(model.to_image(x_t, y)[0, 0].cpu())
        x0_hat = out if model.prediction == "x0" else process.predict_x0_from_eps(x_t, tt, out)
        images.append(model.to_image(x0_hat, y)[0, 0].cpu())
        maps.append(w.cpu())
    grid = (hr.shape[-2] // net.patch_size, hr.shape[-1] // net.patch_size)
    return {
        "x_t": torch.stack(frames),
        "x0_hat": torch.stack(images),
        "weights": torch.stack(maps),
        "grid": grid,
        "patch_size": net.patch_size,
        "timesteps": ts,
        "hr": hr[0, 0].cpu(),
    }


def attention_frame(view: dict, k: int, block: int, row: int, col: int) -> dict:
    """The query patch (``row``, ``col``)'s weights at timestep index ``k`` and ``block``: ``{"map" (h_p, w_p) summing
    to 1, "self" its weight on itself, "top" (row, col) of the patch it attends to most, "spread" the entropy of its
    weights in patches (2**entropy: 1 = one patch, N = uniform)}``."""
    K, blocks, N, _ = view["weights"].shape
    h, w = view["grid"]
    for name, value, n in (("k", k, K), ("block", block, blocks), ("row", row, h), ("col", col, w)):
        if not 0 <= value < n:
            raise ValueError(f"{name}: expected 0 … {n - 1}, got {value}")
    q = row * w + col
    weights = view["weights"][k, block, q].double()
    top = int(weights.argmax())
    entropy = float(-(weights.clamp_min(1e-12).log2() * weights).sum())
    return {"map": weights.reshape(h, w), "self": float(weights[q]), "top": divmod(top, w), "spread": 2**entropy}


def render_attention(view: dict, k: int, block: int, row: int, col: int) -> bytes:
    """PNG: x_t with the query patch outlined; where it attends (the weights over x_t); the network's x̂₀; HR."""
    frame = attention_frame(view, k, block, row, col)
    p = view["patch_size"]
    fig, axes = plt.subplots(1, 4, figsize=(8.4, 2.4))
    x_t = to_display(view["x_t"][k])
    axes[0].imshow(x_t, cmap="gray", vmin=0, vmax=255)
    axes[1].imshow(x_t, cmap="gray", vmin=0, vmax=255)
    heat = frame["map"].repeat_interleave(p, 0).repeat_interleave(p, 1)
    axes[1].imshow(heat.numpy(), cmap="magma", alpha=0.75, vmin=0, vmax=float(frame["map"].max()))
    for ax in axes[:2]:
        ax.add_patch(plt.Rectangle((col * p - 0.5, row * p - 0.5), p, p, fill=False, edgecolor="cyan", lw=1.5))
    axes[2].imshow(to_display(view["x0_hat"][k]), cmap="gray", vmin=0, vmax=255)
    axes[3].imshow(to_display(view["hr"]), cmap="gray", vmin=0, vmax=255)
    t = view["timesteps"][k]
    titles = (f"x_t (t = {t})", f"where it attends (block {block + 1})", "network's x̂₀", "HR")
    for ax, title in zip(axes, titles):
        ax.set_title(title, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return figure_png(fig)


class AttentionWidget:
    """Timestep, block and patch sliders over a precomputed :func:`attention_view` (instant redraws).

    Attributes:
        view; the ipywidgets ``timestep``, ``block``, ``row``, ``col``, ``picture``, ``readout``.
    """

    def __init__(self, view: dict, k: int = 0, block: int = 0, row: int | None = None, col: int | None = None):
        import ipywidgets as W

        self.view = view
        K, blocks = view["weights"].shape[:2]
        h, w = view["grid"]
        options = [(str(t), i) for i, t in enumerate(view["timesteps"])]
        self.timestep = W.SelectionSlider(options=options, value=k, description="t", continuous_update=False)
        self.block = W.IntSlider(value=block, min=0, max=blocks - 1, description="block", continuous_update=False)
        self.row = W.IntSlider(value=h // 2 if row is None else row, min=0, max=h - 1, description="patch row")
        self.col = W.IntSlider(value=w // 2 if col is None else col, min=0, max=w - 1, description="patch col")
        for s in (self.row, self.col):
            s.continuous_update = False
        self.picture = W.Image(format="png", layout=W.Layout(max_width="720px"))
        self.readout = W.HTML()
        for control in (self.timestep, self.block, self.row, self.col):
            control.observe(lambda _: self.redraw(), names="value")
        self.box = W.VBox(
            [W.HBox([self.timestep, self.block]), W.HBox([self.row, self.col]), self.picture, self.readout]
        )
        self.redraw()

    def redraw(self) -> None:
        """Draw the chosen query patch's attention and say where most of it goes."""
        k, b, r, c = int(self.timestep.value), int(self.block.value), int(self.row.value), int(self.col.value)
        self.picture.value = render_attention(self.view, k, b, r, c)
        f = attention_frame(self.view, k, b, r, c)
        self.readout.value = (
            f"<b>patch ({r}, {c}), t = {self.view['timesteps'][k]}, block {b + 1}</b>: most to patch {f['top']}, "
            f"{100 * f['self']:.0f} % to itself, spread over about {f['spread']:.1f} of {f['map'].numel()} patches"
        )

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box)
