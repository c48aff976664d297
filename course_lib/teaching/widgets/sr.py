"""The SR sampler widget of lesson 04: pick an image (or upload one), a sampler, steps, η, a seed and the
consistency projection; see LR, bicubic, the SR result, HR and how x̂_0 evolved, with the metrics.

``sr_view`` is the pure function (it samples and measures); ``SRWidget`` wires controls to it and shows a
progress bar that advances with every network evaluation.
"""

from __future__ import annotations

import time
from typing import Callable, Mapping

import matplotlib.pyplot as plt
import torch

from ...diffusion import GaussianDiffusion
from ...images import read_image, uint8_to_model
from ...methods.sr3 import super_resolve
from ...metrics import high_frequency_ratio, psnr
from ...models import SR3, TiledDenoiser, pad_to_tile
from ...operators import consistency_psnr, upsample
from ..plotting import figure_png, to_display

__all__ = ["sr_view", "render_sr_view", "SRWidget"]


def sr_view(
    model: SR3,
    diffusion: GaussianDiffusion,
    y: torch.Tensor,
    hr: torch.Tensor | None = None,
    sampler: str = "ddim",
    steps: int = 20,
    eta: float = 0.0,
    seed: int = 0,
    project: bool = False,
    tile: int | None = None,
    on_step: Callable[[int], None] | None = None,
) -> dict:
    """Super-resolve one LR image and measure the result.

    Args:
        model, diffusion: an :class:`SR3` and its diffusion (same device).
        y: ``(C, h, w)`` the LR image in [-1, 1]; hr: ``(C, s·h, s·w)`` or ``None`` (an uploaded image has no HR).
        sampler, steps, eta, seed, project: as :func:`course_lib.methods.sr3.super_resolve`.
        tile: tile larger inputs at this LR size (see :class:`TiledDenoiser`); smaller ones are padded to it.
        on_step: called with the number of network evaluations so far (from the sampling loop's callback).

    Returns:
        dict with ``y`` (also under its old name ``lr``, for one release), ``bicubic``, ``sr``, ``hr`` (``(C, H, W)`` on
        the CPU, ``hr`` may be ``None``),
        ``frames`` (x̂_0 at up to 6 recorded steps, ``(K, C, H, W)``) and ``frame_t``, ``evaluations``,
        ``seconds``, and ``metrics``: ``{"bicubic": {...}, "SR": {...}}`` with ``consistency`` (Eq. 04.1)
        and, given HR, ``psnr`` and ``hf_ratio`` (Eq. 04.6).
    """
    image = y
    if image.dim() != 3 or image.shape[0] != model.channels:
        raise ValueError(f"y must have shape ({model.channels}, h, w), got {tuple(image.shape)}")
    s = model.scale
    if hr is not None and tuple(hr.shape) != (image.shape[0], image.shape[1] * s, image.shape[2] * s):
        raise ValueError(
            f"hr must have shape {(image.shape[0], image.shape[1] * s, image.shape[2] * s)}, got {tuple(hr.shape)}"
        )
    device = diffusion.betas.device
    y = image[None].to(device)
    y_in, (h, w) = (y, tuple(y.shape[-2:])) if tile is None else pad_to_tile(y, tile)
    net = model if tile is None or max(y_in.shape[-2:]) <= tile else TiledDenoiser(model, tile)
    calls = [0]

    def count(step):  # a sampling-loop callback: the network evaluations so far (one per step, however many tiles)
        calls[0] = step.nfe
        if on_step is not None:
            on_step(step.nfe)

    start = time.perf_counter()
    sr, traj = super_resolve(
        net,
        diffusion,
        y_in,
        sampler=sampler,
        steps=steps,
        eta=eta,
        project=project,
        seed=seed,
        record_every=max(1, (steps + 4) // 5),
        progress=False,
        callback=count,
    )
    sr = sr[..., : h * s, : w * s]
    traj["x0"] = traj["x0"][..., : h * s, : w * s]
    seconds = time.perf_counter() - start
    bicubic = upsample(y, s, "bicubic")
    metrics = {}
    for name, img in (("bicubic", bicubic), ("SR", sr)):
        m = {"consistency": float(consistency_psnr(img, y, s)[0])}
        if hr is not None:
            target = hr[None].to(device)
            m["psnr"] = float(psnr(img, target)[0])
            m["hf_ratio"] = float(high_frequency_ratio(img, target, s)[0])
        metrics[name] = m
    return {
        "y": image.float().cpu(),
        "lr": image.float().cpu(),
        "bicubic": bicubic[0].float().cpu(),
        "sr": sr[0].float().cpu(),
        "hr": None if hr is None else hr.float().cpu(),
        "frames": traj["x0"][:, 0],
        "frame_t": list(traj["t"]),
        "evaluations": calls[0],
        "seconds": seconds,
        "metrics": metrics,
    }


def render_sr_view(view: dict, dpi: int = 80) -> bytes:
    """PNG: LR (nearest), bicubic, SR, HR in one row; the x̂_0 frames below."""
    with plt.ioff():
        panels = [("LR input", view["y"]), ("bicubic", view["bicubic"]), ("SR sample", view["sr"])]
        if view["hr"] is not None:
            panels.append(("HR (truth)", view["hr"]))
        frames = view["frames"]
        ncol = max(len(panels), len(frames))
        fig, axes = plt.subplots(2, ncol, figsize=(1.7 * ncol, 3.8), squeeze=False)
        for ax in axes.flat:
            ax.axis("off")
        cmap = "gray" if view["y"].shape[0] == 1 else None
        for ax, (name, img) in zip(axes[0], panels):
            ax.imshow(to_display(img), cmap=cmap, vmin=0, vmax=255, interpolation="nearest")
            ax.set_title(name, fontsize=8)
        for ax, img, t in zip(axes[1], frames, view["frame_t"]):
            ax.imshow(to_display(img), cmap=cmap, vmin=0, vmax=255, interpolation="nearest")
            ax.set_title(f"x0 at t={t}", fontsize=7)
        fig.tight_layout()
        return figure_png(fig, dpi=dpi)


class SRWidget:
    """Controls over :func:`sr_view`; press **Run** to sample (it takes seconds, so it does not run on every change).

    Args:
        model, diffusion: the SR model (e.g. ``load_sr_model("digits_sr3_concat")[:2]``).
        images: name → ``(hr (C, H, W), y (C, H/s, W/s))`` test pairs to pick from; an uploaded file joins
            them as ``"upload: NAME"`` with ``hr = None``.
        tile: LR tile size for uploaded images larger than the training size.
        max_pixels: refuse uploads whose output would exceed this many pixels.

    Attributes:
        view: the last :func:`sr_view` result (``None`` before the first run); ``error``: the last problem
        shown to the learner (``""`` if none); the ipywidgets ``image``, ``upload``, ``sampler``, ``steps``,
        ``eta``, ``seed``, ``project``, ``run``, ``progress``, ``readout``, ``picture``.
    """

    def __init__(
        self,
        model: SR3,
        diffusion: GaussianDiffusion,
        images: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
        tile: int | None = None,
        max_pixels: int = 256 * 256,
    ):
        import ipywidgets as W

        if not images:
            raise ValueError("images must name at least one (hr, y) pair")
        self.model, self.diffusion, self.tile, self.max_pixels = model, diffusion, tile, max_pixels
        self.images = {k: (v[0], v[1]) for k, v in images.items()}
        self.view, self.error = None, ""
        self.image = W.Dropdown(options=list(self.images), description="image")
        self.upload = W.FileUpload(accept="image/*", multiple=False, description="upload LR")
        self.sampler = W.Dropdown(options=["ddim", "ddpm"], value="ddim", description="sampler")
        self.steps = W.IntSlider(
            value=20, min=1, max=diffusion.num_timesteps, description="steps", continuous_update=False
        )
        self.eta = W.FloatSlider(value=0.0, min=0.0, max=1.0, step=0.1, description="eta", continuous_update=False)
        self.seed = W.BoundedIntText(value=0, min=0, max=2**31 - 1, description="seed")
        self.project = W.Checkbox(value=False, description="consistency projection")
        self.run = W.Button(description="Run", button_style="primary", icon="play")
        self.progress = W.IntProgress(value=0, min=0, max=20, description="steps done")
        self.readout = W.HTML()
        self.picture = W.Image(format="png")
        self.run.on_click(lambda _: self.update())
        self.upload.observe(self._on_upload, names="value")
        self.box = W.VBox(
            [
                W.HBox([self.image, self.upload]),
                W.HBox([self.sampler, self.steps, self.eta]),
                W.HBox([self.seed, self.project, self.run]),
                self.progress,
                self.readout,
                self.picture,
            ]
        )
        self.update()

    def _on_upload(self, change) -> None:
        files = change["new"]
        if not files:
            return
        item = files[0] if isinstance(files, (list, tuple)) else next(iter(files.values()))
        self.load_upload(item["name"], bytes(item["content"]))

    def load_upload(self, name: str, content: bytes) -> bool:
        """Use an uploaded image file (bytes) as the LR input; on a problem show it and return False."""
        import tempfile
        from pathlib import Path

        try:
            if not content:
                raise ValueError(f"{name} is an empty file")
            with tempfile.TemporaryDirectory() as d:
                path = Path(d) / (Path(name).name or "upload.png")
                path.write_bytes(content)
                try:
                    arr = read_image(path)
                except ValueError as err:
                    raise ValueError(str(err).replace(repr(str(path)), repr(name))) from None
            channels = arr.shape[-1]
            if channels != self.model.channels:
                raise ValueError(f"{name} has {channels} channel(s) but this model takes {self.model.channels}")
            out_pixels = arr.shape[0] * arr.shape[1] * self.model.scale**2
            if out_pixels > self.max_pixels:
                raise ValueError(
                    f"{name} would become {out_pixels:,} pixels, above this widget's limit of {self.max_pixels:,}; "
                    "use course_lib.tools.sr.upscale (or the command line) for large images"
                )
            x = uint8_to_model(arr).permute(2, 0, 1)
            factor = 2 ** (len(self.model.net.config["channel_mults"]) - 1)
            if self.tile is None and (
                (x.shape[-1] * self.model.scale) % factor or (x.shape[-2] * self.model.scale) % factor
            ):
                raise ValueError(
                    f"{name} is {arr.shape[1]}x{arr.shape[0]}; without tiling its size times {self.model.scale} must "
                    f"be divisible by {factor}"
                )
            key = f"upload: {Path(name).name}"
            self.images[key] = (None, x)
            self.image.options = list(self.images)
            self.image.value = key
        except (ValueError, FileNotFoundError) as err:
            self.error = str(err)
            self.readout.value = f"<b>Cannot use that file:</b> {err}"
            return False
        self.error = ""
        self.update()
        return True

    def update(self) -> None:
        """Sample with the current controls and show the result (what the Run button does)."""
        name, (hr, y) = self.image.value, self.images[self.image.value]
        steps = int(self.steps.value)
        self.progress.max, self.progress.value = steps, 0
        self.run.disabled = True
        try:
            self.view = v = sr_view(
                self.model,
                self.diffusion,
                y,
                hr,
                self.sampler.value,
                steps,
                float(self.eta.value),
                int(self.seed.value),
                bool(self.project.value),
                tile=self.tile,
                on_step=lambda k: setattr(self.progress, "value", min(k, steps)),
            )
        finally:
            self.run.disabled = False
        rows = "".join(
            f"<tr><td>{k}</td><td>{m['consistency']:.2f}</td><td>{m.get('psnr', float('nan')):.2f}</td>"
            f"<td>{m.get('hf_ratio', float('nan')):.2f}</td></tr>"
            for k, m in v["metrics"].items()
        )
        self.readout.value = (
            f"<b>{name}</b>: {self.sampler.value.upper()}, {v['evaluations']} network evaluations, "
            f"{v['seconds']:.1f} s &nbsp; <table><tr><th>method</th><th>consistency PSNR (dB)</th>"
            f"<th>PSNR to HR (dB)</th><th>HF ratio</th></tr>{rows}</table>"
        )
        self.picture.value = render_sr_view(v)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box)
