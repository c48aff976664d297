"""Generating with a sampler named by a string (process layer; lesson 02): :func:`generate`, the front door to the one
loop (:func:`~course_lib.samplers.loop.sample`) that builds the sampler, draws x_T and clips x̂₀."""

from __future__ import annotations

import inspect
from typing import Callable

import torch

from ..checks import check_int
from ..device import randn
from ..diffusion import GaussianDiffusion
from .base import clip_x0 as clip, compose
from .loop import ProgressBar, Trajectory, sample
from .registry import SAMPLERS, make_sampler

__all__ = ["generate"]


def generate(
    model: Callable,
    process: GaussianDiffusion,
    shape: tuple[int, ...],
    cond=None,
    sampler: str = "ddpm",
    steps: int | None = None,
    eta: float = 0.0,
    generator: torch.Generator | None = None,
    progress: bool = True,
    record_every: int | None = None,
    prediction: str | None = None,
    clip_x0: bool = True,
    x_T: torch.Tensor | None = None,
    x0_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
):
    """Generate samples of ``process`` with a sampler named by a string — lesson 02's front door to :func:`sample`.

    Builds ``make_sampler(sampler, process, steps, prediction)`` (DDPM, Eq. 02.5, or DDIM with ``eta``, Eq. 02.6),
    draws x_T from ``generator``, clips x̂₀ to [-1, 1] when ``clip_x0``, and runs the one loop.

    Args:
        model: ``model(x_t, t, cond)``; put it in ``eval()`` mode first.
        shape: ``(B, ...)`` of the samples (on the diffusion's device).
        sampler: ``"ddpm"`` (ancestral; all T steps, or with ``steps < T`` the respaced version, i.e. DDIM with
            η = 1) or ``"ddim"`` (``steps`` trailing timesteps, η as given); any registered sampler name.
        steps: number of network evaluations, 1 … T (default: the sampler's: T for DDPM, 50 for DDIM).
        generator: seeds x_T and every step's noise (one generator on the diffusion's device, or one per image).
        progress: show a progress bar.
        record_every: also return the trajectory, recording x_t and x̂_0 every this many steps (and at the last
            step) — :class:`course_lib.samplers.Trajectory` does the recording.
        prediction: what the network outputs; default: the model's ``prediction`` attribute (set by the method
            that built it), else ``"eps"``.
        x_T: start from this ``(B, ...)`` instead of fresh noise.
        x0_fn: applied to every step's x̂_0 (after clipping); the step continues from the changed x̂_0.

    Returns:
        ``x_0`` ``(B, ...)``, or ``(x_0, trajectory)`` when ``record_every`` is set, where
        ``trajectory = {"t": [int], "x_t": (K, B, ...), "x0": (K, B, ...)}`` on the CPU.
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {tuple(SAMPLERS)}, got {sampler!r}")
    if not eta >= 0:
        raise ValueError(f"eta must be >= 0, got {eta}")
    if record_every is not None:
        check_int(record_every, "record_every", low=1)
    prediction = prediction or getattr(model, "prediction", "eps")
    accepts = inspect.signature(SAMPLERS[sampler]).parameters
    options = {key: value for key, value in (("clip_sample", clip_x0), ("eta", eta)) if key in accepts}
    s = make_sampler(sampler, process, steps, prediction, **options)
    shape = tuple(int(v) for v in shape)
    if x_T is None:
        x_T = randn(shape, generator, process.betas.device)
    elif tuple(x_T.shape) != shape:
        raise ValueError(f"x_T must have shape {shape}, got {tuple(x_T.shape)}")
    transform = None if x0_fn is None else (lambda x0, ctx: x0_fn(x0))
    if clip_x0 and "clip_sample" not in accepts:  # a sampler without diffusers' option: clip through the hook
        transform = compose(clip, transform)
    trajectory = None if record_every is None else Trajectory(record_every)
    callbacks = [ProgressBar(f"{sampler} sampling", enabled=progress)] + ([trajectory] if trajectory else [])
    x = sample(model, s, x_T, cond, x0_transform=transform, callback=callbacks, generator=generator)
    return x if trajectory is None else (x, trajectory.as_dict())
