"""The embedding explorer of lesson 03: look at TE(t) (Eq. 03.1 / 03.2) for any t, d and layout.

``embedding_view`` is the pure function; ``EmbeddingExplorer`` draws the t × dimension heatmap with a line at
t, the vector TE(t), and the cosine similarity of TE(t) with every other timestep.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from ..plotting import figure_png

from ...embeddings import sinusoidal_embedding, sinusoidal_embedding_halves

__all__ = ["embedding_view", "EmbeddingExplorer", "LAYOUTS"]

LAYOUTS = {"interleaved (Eq. 03.1)": sinusoidal_embedding, "halves [sin | cos] (Eq. 03.2)": sinusoidal_embedding_halves}


def embedding_view(t: int, dim: int, layout: str = "interleaved (Eq. 03.1)", T: int = 1000) -> dict:
    """TE for all timesteps, the row of ``t``, and cosine similarities.

    Returns:
        dict with ``table`` ``(T, dim)``, ``vector`` ``(dim,)`` (= ``table[t]``), ``similarity`` ``(T,)``
        (cosine of TE(t) with each TE(t')), and ``half_width``: how many steps away the similarity first drops below
        0.5.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {list(LAYOUTS)}, got {layout!r}")
    if not 0 <= t < T:
        raise ValueError(f"t must lie in 0 … {T - 1}, got {t}")
    table = LAYOUTS[layout](torch.arange(T), dim)
    vec = table[t]
    sim = torch.nn.functional.cosine_similarity(table, vec[None], dim=1)
    far = torch.nonzero(sim < 0.5)
    dist = (far - t).abs()
    return {
        "t": t,
        "dim": dim,
        "layout": layout,
        "table": table,
        "vector": vec,
        "similarity": sim,
        "half_width": int(dist.min()) if dist.numel() else T,
    }


def _render(view: dict) -> bytes:
    with plt.ioff():
        fig, axes = plt.subplots(1, 3, figsize=(11, 3.0), gridspec_kw={"width_ratios": [1.3, 1, 1.2]})
        axes[0].imshow(view["table"].T.numpy(), aspect="auto", cmap="RdBu", vmin=-1, vmax=1, interpolation="nearest")
        axes[0].axvline(view["t"], color="k", lw=1)
        axes[0].set_xlabel("t")
        axes[0].set_ylabel("dimension")
        axes[0].set_title(f"TE(t), d = {view['dim']}", fontsize=9)
        axes[1].bar(range(view["dim"]), view["vector"].numpy(), color="tab:blue")
        axes[1].set_ylim(-1.05, 1.05)
        axes[1].set_xlabel("dimension")
        axes[1].set_title(f"TE({view['t']})", fontsize=9)
        axes[2].plot(view["similarity"].numpy())
        axes[2].axvline(view["t"], color="tab:red", lw=1)
        axes[2].set_ylim(-1.05, 1.05)
        axes[2].set_xlabel("t'")
        axes[2].set_title(f"cos(TE({view['t']}), TE(t')); < 0.5 beyond {view['half_width']} steps", fontsize=9)
        fig.tight_layout()
        return figure_png(fig, dpi=75)


class EmbeddingExplorer:
    """Controls: t, dimension d, layout. Attribute ``view`` holds what is shown (see :func:`embedding_view`)."""

    def __init__(self, t: int = 250, dim: int = 32, T: int = 1000):
        import ipywidgets as W

        self.T = T
        self.t = W.IntSlider(
            value=t, min=0, max=T - 1, description="t", continuous_update=False, layout=W.Layout(width="420px")
        )
        self.dim = W.Dropdown(options=[8, 16, 32, 64, 128], value=dim, description="d")
        self.layout = W.Dropdown(options=list(LAYOUTS), description="layout", layout=W.Layout(width="320px"))
        self.readout = W.HTML()
        self.picture = W.Image(format="png")
        for c in (self.t, self.dim, self.layout):
            c.observe(lambda _: self._update(), names="value")
        self.box = W.VBox([W.HBox([self.t, self.dim]), self.layout, self.readout, self.picture])
        self._update()

    def _update(self) -> None:
        self.view = v = embedding_view(int(self.t.value), int(self.dim.value), self.layout.value, self.T)
        self.readout.value = (
            f"<code>TE({v['t']})[0:4] = {', '.join(f'{x:.3f}' for x in v['vector'][:4].tolist())}</code> &nbsp; "
            f"similarity drops below 0.5 at {v['half_width']} steps away"
        )
        self.picture.value = _render(v)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box)
