"""Semantic editing with a diffusion prior · 语义编辑 (lesson 12): SDEdit and inversion, guided toward a class.

Both start from an image x and go *part of the way* up the process, to a time t*, then come back down with the
sampler steered toward the edit — here a class: classifier-free guidance (lesson 07's
:class:`~course_lib.models.GuidedModel`) or classifier guidance (:class:`~course_lib.models.ClassifierGuidedModel`,
Eq. 12.5):

* **SDEdit** (Meng et al., ICLR 2022): x_{t*} = √ᾱ_{t*} x + √(1 − ᾱ_{t*}) ε — fresh noise (Eq. 01.3), so the
  round trip forgets detail at random; t* trades faithfulness to x against freedom to change it (Eq. 12.3).
* **Inversion** (lesson 06's DDIM inversion, Song et al., ICLR 2021; Mokady et al., CVPR 2023 for text): x_{t*} by
  running the η = 0 ODE *forward* from x — the noise that the unguided sampler would have turned into x, so that
  with no guidance the round trip gives x back (nearly), and what changes is what guidance changes.

Both sample back with DDIM (η = 0) on the timesteps at or below t* (:func:`~course_lib.samplers.start_at`).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..device import per_image_generators, randn
from ..images import check_model_range
from ..samplers import ProgressBar, make_sampler, sample, start_at
from ..samplers.base import clip_x0
from ..samplers.ddim import ddim_invert

__all__ = ["sdedit", "inversion_edit", "restart_time"]


def restart_time(process, t_star: int, steps: int) -> int:
    """The timestep a DDIM-``steps`` run restarted at t* actually begins from: the largest of its timesteps ≤ t*."""
    return start_at(make_sampler("ddim", process, steps), t_star).timesteps[0]


@torch.no_grad()
def sdedit(
    model: nn.Module,
    process,
    x: torch.Tensor,
    t_star: int,
    seeds: Sequence[int],
    steps: int = 25,
    guided: nn.Module | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """SDEdit: ``x`` ``(B, C, H, W)`` in [-1, 1] noised to t* (image i's noise from ``seeds[i]``), then DDIM-``steps``
    from there with ``guided`` (a :class:`~course_lib.models.GuidedModel` or
    :class:`~course_lib.models.ClassifierGuidedModel` around ``model``) or
    ``model`` itself. Returns ``(B, C, H, W)``."""
    check_model_range(x, "x")
    if len(seeds) != x.shape[0]:
        raise ValueError(f"seeds: expected one seed per image ({x.shape[0]}), got {len(seeds)}")
    sampler = start_at(make_sampler("ddim", process, steps, getattr(model, "prediction", "eps")), t_star)
    gens = per_image_generators(seeds)
    x = x.to(process.device)
    t0 = torch.full((x.shape[0],), sampler.timesteps[0], dtype=torch.long, device=x.device)
    x_t = process.q_sample(x, t0, randn(tuple(x.shape), gens, x.device))
    net = model if guided is None else guided
    return sample(
        net, sampler, x_t, x0_transform=clip_x0, callback=[ProgressBar("SDEdit", enabled=progress)], generator=gens
    )


@torch.no_grad()
def inversion_edit(
    model: nn.Module,
    process,
    x: torch.Tensor,
    t_star: int,
    steps: int = 25,
    guided: nn.Module | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """Inversion-based editing: ``x`` to x_{t*} by DDIM inversion with the unguided ``model`` (on the timesteps of
    DDIM-``steps`` up to t*), then DDIM back with ``guided`` (or ``model``: the round trip). Deterministic."""
    check_model_range(x, "x")
    prediction = getattr(model, "prediction", "eps")
    x_t = ddim_invert(model, process, x.to(process.device), steps=steps, prediction=prediction, until=t_star)
    sampler = start_at(make_sampler("ddim", process, steps, prediction), t_star)
    net = model if guided is None else guided
    return sample(net, sampler, x_t, x0_transform=clip_x0, callback=[ProgressBar("inversion", enabled=progress)])
