"""Diagrams drawn by code (teaching layer): the DDPM chain as a graphical model (lesson 02) and the U-Net with its
skips and the places where t and y enter (lessons 03–04), read from a network's own config so that the picture is of
the model the lesson trains.

Each function returns a matplotlib ``Figure`` and never calls ``plt.show()``; text is English only.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyBboxPatch

from ..images import to_uint8

__all__ = ["ddpm_chain_figure", "unet_figure", "conditioning_figure"]

TIME = "tab:orange"  # where t enters
COND = "tab:green"  # where y enters
FLOW = "0.25"


def _box(ax, xy, w, h, text, color="white", edge="0.3", fontsize=8, **kw):
    x, y = xy
    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2),
            w,
            h,
            boxstyle="round,pad=0.02,rounding_size=0.06",
            facecolor=color,
            edgecolor=edge,
            lw=1.0,
            **kw,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, a, b, color=FLOW, style="-|>", lw=1.0, ls="-", rad=0.0, text=None, text_xy=None, fontsize=7, **kw):
    ax.annotate(
        "",
        xy=b,
        xytext=a,
        arrowprops=dict(
            arrowstyle=style,
            color=color,
            lw=lw,
            linestyle=ls,
            shrinkA=2,
            shrinkB=2,
            connectionstyle=f"arc3,rad={rad}",
            **kw,
        ),
    )
    if text:
        tx, ty = text_xy if text_xy is not None else ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
        ax.text(tx, ty, text, ha="center", va="center", fontsize=fontsize, color=color)


def _image(img) -> np.ndarray:
    img = to_uint8(img if isinstance(img, torch.Tensor) else torch.as_tensor(img))
    return img[..., 0] if img.shape[-1] == 1 else img


def ddpm_chain_figure(
    images: Sequence[torch.Tensor] | None = None, t_shown: Sequence[int | str] | None = None
) -> Figure:
    """The DDPM chain as a graphical model (Ho et al. 2020, Fig. 2; lesson 02): nodes x_T … x_t, x_{t−1} … x_0, the
    learned reverse steps p_θ(x_{t−1} | x_t) (solid, towards the data), the fixed forward steps q(x_t | x_{t−1})
    (dashed, towards noise), and the posterior q(x_{t−1} | x_t, x_0) of Eq. 02.1 that training compares p_θ with.

    Args:
        images: optional thumbnails ``(C, H, W)`` in [-1, 1] of one image at the five nodes, in the order
            x_T, x_t, x_{t−1}, x_1, x_0 (e.g. ``q_sample`` of a digit), drawn above them.
        t_shown: what to print above each thumbnail: an int as "t = …" (its code index), anything else as itself.
    """
    if images is not None and len(images) != 5:
        raise ValueError(f"images must hold 5 thumbnails (x_T, x_t, x_(t-1), x_1, x_0), got {len(images)}")
    if t_shown is not None and (images is None or len(t_shown) != 5):
        raise ValueError(f"t_shown needs images and must hold 5 indices, got {t_shown!r}")
    names = ["$x_T$", "$x_t$", "$x_{t-1}$", "$x_1$", "$x_0$"]
    xs = [0.0, 2.6, 5.2, 7.8, 10.4]
    gaps = {0: "", 2: ""}  # an ellipsis between x_T and x_t, and between x_{t-1} and x_1
    fig, ax = plt.subplots(figsize=(10.5, 3.6 if images is not None else 2.4))
    r = 0.42
    for x, name in zip(xs, names):
        ax.add_patch(Circle((x, 0), r, facecolor="white", edgecolor="0.2", lw=1.3, zorder=3))
        ax.text(x, 0, name, ha="center", va="center", fontsize=12, zorder=4)
    for i in range(4):
        a, b = xs[i], xs[i + 1]
        if i in gaps:  # an ellipsis: many steps
            ax.text((a + b) / 2, 0, r"$\cdots$", ha="center", va="center", fontsize=16)
            _arrow(ax, (a + r, 0.08), ((a + b) / 2 - 0.35, 0.08), color="0.45")
            _arrow(ax, ((a + b) / 2 + 0.35, 0.08), (b - r, 0.08), color="0.45")
            _arrow(ax, ((a + b) / 2 - 0.35, -0.08), (a + r, -0.08), color="0.45", ls="--")
            _arrow(ax, (b - r, -0.08), ((a + b) / 2 + 0.35, -0.08), color="0.45", ls="--")
            continue
        _arrow(ax, (a + r * 0.8, 0.25), (b - r * 0.8, 0.25), color="tab:blue", lw=1.6, rad=-0.35)
        _arrow(ax, (b - r * 0.8, -0.25), (a + r * 0.8, -0.25), color="0.35", lw=1.2, ls="--", rad=-0.35)
    ax.text(
        (xs[1] + xs[2]) / 2,
        0.85,
        r"$p_\theta(x_{t-1} \mid x_t)$" + "\nlearned (Eq. 02.5)",
        ha="center",
        va="center",
        fontsize=9,
        color="tab:blue",
    )
    ax.text(
        (xs[1] + xs[2]) / 2,
        -0.85,
        r"$q(x_t \mid x_{t-1})$" + "\nfixed noise (Eq. 01.1)",
        ha="center",
        va="center",
        fontsize=9,
        color="0.35",
    )
    # the posterior: x_0 and x_t together pin down x_{t-1}
    _arrow(ax, (xs[4] - 0.1, -r), (xs[2] + 0.1, -r), color="tab:red", lw=1.2, ls=":", rad=-0.3)
    ax.text(
        (xs[2] + xs[4]) / 2,
        -1.75,
        r"$q(x_{t-1} \mid x_t, x_0)$: the posterior (Eq. 02.1), the target of training",
        ha="center",
        va="center",
        fontsize=9,
        color="tab:red",
    )
    ax.text(xs[0], -0.75, "noise", ha="center", fontsize=8, color="0.4")
    ax.text(xs[4], 0.62, "data", ha="center", fontsize=8, color="0.4")
    top = 1.2
    if images is not None:
        size = 1.5
        for k, (x, img) in enumerate(zip(xs, images)):
            y0 = 1.45
            ax.imshow(
                _image(img),
                cmap="gray",
                vmin=0,
                vmax=255,
                extent=(x - size / 2, x + size / 2, y0, y0 + size),
                interpolation="nearest",
                zorder=2,
            )
            if t_shown is not None:
                v = t_shown[k]
                ax.text(x, y0 + size + 0.15, f"t = {v}" if isinstance(v, int) else str(v), ha="center", fontsize=8)
        top = 1.45 + size + 0.45
    ax.set_xlim(-0.9, 11.3)
    ax.set_ylim(-2.0, top)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.tight_layout()
    return fig


def _unet_layout(config: dict):
    mults = list(config.get("channel_mults", (1, 2, 2)))
    if not mults:
        raise ValueError("config['channel_mults'] must list at least one level, got []")
    return mults, int(config.get("base_channels", 32)), int(config.get("num_res_blocks", 1))


def _draw_unet(ax, config: dict, image_size: int, condition: str, scale: int, title: str | None) -> None:
    mults, base, nres = _unet_layout(config)
    L = len(mults)
    cond_ch = int(config.get("cond_channels", 0))
    x_ch = int(config.get("in_channels", 1)) - (cond_ch if condition == "concat" else 0)
    w, h = 1.5, 0.62
    dx = 1.75
    down = [(1.8 + dx * i, -1.25 * i) for i in range(L)]
    mid = (down[-1][0] + dx, -1.25 * L - 0.2)
    up = [(mid[0] + dx * (L - i), -1.25 * i) for i in range(L)]
    sizes = [image_size // 2**i for i in range(L)]
    blocks = []
    for i in range(L):
        ch = base * mults[i]
        _box(ax, down[i], w, h, f"{nres}× ResBlock\n{sizes[i]}×{sizes[i]}×{ch}", color="#e8f0fa")
        _box(ax, up[i], w, h, f"{nres + 1}× ResBlock\n{sizes[i]}×{sizes[i]}×{ch}", color="#e8f0fa")
        blocks += [down[i], up[i]]
        # the skip: the down path's features, concatenated on the way up
        _arrow(
            ax,
            (down[i][0] + w / 2, down[i][1] + 0.1),
            (up[i][0] - w / 2, up[i][1] + 0.1),
            color="0.55",
            ls="--",
            text="skip (concat)" if i == 0 else None,
            text_xy=((down[i][0] + up[i][0]) / 2, down[i][1] + 0.28),
        )
        if i < L - 1:
            _arrow(
                ax,
                (down[i][0] + 0.25, down[i][1] - h / 2),
                (down[i + 1][0] - 0.25, down[i + 1][1] + h / 2),
                text="stride 2",
                text_xy=((down[i][0] + down[i + 1][0]) / 2 - 0.45, (down[i][1] + down[i + 1][1]) / 2),
            )
            _arrow(
                ax,
                (up[i + 1][0] + 0.25, up[i + 1][1] + h / 2),
                (up[i][0] - 0.25, up[i][1] - h / 2),
                text="up ×2",
                text_xy=((up[i][0] + up[i + 1][0]) / 2 + 0.42, (up[i][1] + up[i + 1][1]) / 2),
            )
    ch = base * mults[-1]
    attn = "+ self-attention\n" if config.get("attention", True) else ""
    _box(ax, mid, w + 0.1, h + 0.4, f"ResBlock\n{attn}ResBlock\n{sizes[-1]}×{sizes[-1]}×{ch}", color="#f3e8fa")
    blocks.append(mid)
    _arrow(ax, (down[-1][0] + 0.2, down[-1][1] - h / 2), (mid[0] - 0.35, mid[1] + h / 2 + 0.2))
    _arrow(ax, (mid[0] + 0.35, mid[1] + h / 2 + 0.2), (up[-1][0] - 0.2, up[-1][1] - h / 2))
    # input and output
    x_in = (down[0][0] - 1.55, 0.0)
    label = r"$x_t$" + f"\n{image_size}×{image_size}×{x_ch}"
    if condition == "concat":
        _box(ax, (x_in[0], 0.42), 0.95, 0.52, label, fontsize=7)
        _box(
            ax,
            (x_in[0], -0.42),
            0.95,
            0.52,
            r"$U(y)$" + f"\n{image_size}×{image_size}×{cond_ch}",
            color="#e6f5e6",
            edge=COND,
            fontsize=7,
        )
        _arrow(ax, (x_in[0] + 0.48, 0.42), (down[0][0] - w / 2, 0.08))
        _arrow(ax, (x_in[0] + 0.48, -0.42), (down[0][0] - w / 2, -0.08), color=COND, lw=1.4)
        ax.text(x_in[0], -0.95, "concat on channels\n(Eq. 04.2)", ha="center", va="top", fontsize=7, color=COND)
        yb = (x_in[0] - 1.45, -0.42)
        _box(
            ax,
            yb,
            0.8,
            0.45,
            f"$y$  {image_size // scale}×{image_size // scale}",
            color="#e6f5e6",
            edge=COND,
            fontsize=7,
        )
        _arrow(
            ax,
            (yb[0] + 0.4, yb[1]),
            (x_in[0] - 0.48, -0.42),
            color=COND,
            text=f"bicubic ×{scale}",
            text_xy=(yb[0], -0.85),
        )
    else:
        _box(ax, x_in, 0.95, 0.55, label, fontsize=7)
        _arrow(ax, (x_in[0] + 0.48, 0), (down[0][0] - w / 2, 0))
    out = (up[0][0] + 1.55, 0.0)
    _box(ax, out, 0.95, 0.55, r"$\hat\varepsilon$ or $\hat x_0$" + f"\n{image_size}×{image_size}×{x_ch}", fontsize=7)
    _arrow(ax, (up[0][0] + w / 2, 0), (out[0] - 0.48, 0))
    # the timestep: one embedding, into every ResBlock
    tpos = (mid[0], mid[1] - 1.45)
    inj = "scale/shift, Eq. 03.3" if config.get("time_injection", "scale_shift") == "scale_shift" else "added, Eq. 03.4"
    _box(ax, tpos, 3.3, 0.5, r"$t$ → TE (Eq. 03.1) → MLP → $e$", color="#fdf0e0", edge=TIME, fontsize=7.5)
    for bx, by in blocks:
        _arrow(
            ax,
            (tpos[0] + (bx - tpos[0]) * 0.25, tpos[1] + 0.25),
            (bx, by - h / 2),
            color=TIME,
            lw=0.8,
            style="-|>",
            alpha=0.75,
        )
    ax.text(tpos[0], tpos[1] - 0.45, f"e enters every ResBlock ({inj})", ha="center", va="top", fontsize=7, color=TIME)
    if condition == "encoder":
        epos = (down[0][0] - 1.55, mid[1] - 0.2)
        _box(
            ax,
            (epos[0], epos[1] - 0.9),
            0.95,
            0.45,
            f"$y$  {image_size // scale}×{image_size // scale}",
            color="#e6f5e6",
            edge=COND,
            fontsize=7,
        )
        _box(ax, epos, 1.05, 0.55, "encoder $E$\n(at LR size)", color="#e6f5e6", edge=COND, fontsize=7)
        _arrow(ax, (epos[0], epos[1] - 0.68), (epos[0], epos[1] - 0.28), color=COND)
        for i in range(L):
            _arrow(
                ax,
                (epos[0] + 0.3, epos[1] + 0.28),
                (down[i][0] - w / 2, down[i][1] - 0.12),
                color=COND,
                lw=1.2,
                rad=-0.15,
            )
        ax.text(
            epos[0] - 0.05,
            epos[1] + 1.45,
            "+ $P_\\ell$(resize $E(y)$)\nat every level\n(Eq. 04.3)",
            ha="center",
            va="center",
            fontsize=7,
            color=COND,
        )
    ax.set_xlim(x_in[0] - (2.0 if condition == "concat" else 1.4 if condition == "encoder" else 0.7), out[0] + 0.7)
    ax.set_ylim(tpos[1] - 0.8, 0.9)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)


def unet_figure(
    config: dict | None = None,
    image_size: int = 32,
    condition: str | None = None,
    scale: int = 4,
    title: str | None = None,
) -> Figure:
    """The U-Net of ``course_lib.models.UNet`` as a diagram (lessons 03–04): the way down (ResBlocks, stride-2
    convolutions), the middle (with self-attention when ``config['attention']``), the way up with the skips
    concatenated, and where the timestep embedding (orange) and the LR image y (green) enter.

    Args:
        config: a UNet's ``config`` dict (``model.config``) or the ``model`` part of a training config; widths and
            levels are read from ``base_channels``, ``channel_mults``, ``num_res_blocks``, ``attention``,
            ``time_injection``, ``in_channels``, ``cond_channels``. Default: ``UNet()``'s.
        image_size: the side of x_t, for the shapes printed in the boxes.
        condition: ``"none"``, ``"concat"`` (Eq. 04.2) or ``"encoder"`` (Eq. 04.3); default: read from the config.
        scale: the SR factor, for y's size.
    """
    config = dict(config or {})
    if condition is None:
        condition = "none" if not config.get("cond_channels") else config.get("conditioning", "concat")
    if condition not in ("none", "concat", "encoder"):
        raise ValueError(f"condition must be 'none', 'concat' or 'encoder', got {condition!r}")
    mults, _, _ = _unet_layout(config)
    if image_size % 2 ** (len(mults) - 1) or image_size % scale:
        raise ValueError(
            f"image_size must be divisible by 2^(levels - 1) = {2 ** (len(mults) - 1)} and by "
            f"scale = {scale}, got {image_size}"
        )
    fig, ax = plt.subplots(figsize=(10, 4.4))
    _draw_unet(ax, config, image_size, condition, scale, title)
    fig.tight_layout()
    return fig


def conditioning_figure(concat_config: dict, encoder_config: dict, image_size: int = 32, scale: int = 4) -> Figure:
    """Lesson 04's two ways for y to enter the same U-Net, one above the other: concatenation of U(y) with x_t at the
    input (SR3, Eq. 04.2) and an LR encoder whose features are added at every level on the way down (Eq. 04.3)."""
    fig, axes = plt.subplots(2, 1, figsize=(10, 8.6))
    _draw_unet(axes[0], concat_config, image_size, "concat", scale, "Concatenation (SR3): y enters once, at full size")
    _draw_unet(
        axes[1],
        encoder_config,
        image_size,
        "encoder",
        scale,
        "Encoder (SRDiff-style): y is read at its own size and enters every level",
    )
    fig.tight_layout()
    return fig
