"""The one sampling loop (process layer): any sampler, any network, one x̂₀ hook, callbacks for everything else.

::

    x = sample(model, DDIMSampler(process, steps=50), x_T, cond=y, x0_transform=clip_x0,
               callback=[ProgressBar("DDIM"), trajectory := Trajectory(every=10)])

The loop walks the sampler's ``(t, t_prev)`` pairs, evaluates ``model(x_t, t, cond)`` (counting every evaluation:
the NFE, number of function evaluations, 网络评估次数), lets the sampler step, and tells each callback what
happened (:class:`SampleStep`). Trajectories, progress bars and the widgets' step counters are callbacks; the
return value is always the final sample. A pair whose ``t_prev`` is larger than ``t`` goes back up the chain
(time travel: :meth:`~course_lib.samplers.base.Sampler.renoise`, no network evaluation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from ..checks import check_int
from .base import Sampler, X0Transform

__all__ = ["SampleStep", "sample", "Trajectory", "ProgressBar"]


@dataclass
class SampleStep:
    """What a callback is told after each step of :func:`sample`.

    Attributes:
        index: the step's position, 0 … ``steps`` − 1; steps: the number of steps of this run.
        t, t_prev: the step's times (``t_prev > t`` for a step back up the chain).
        x: ``(B, ...)`` the state after the step (at ``t_prev``); x0: ``(B, ...)`` the x̂₀ it used (``None`` when it
            went back up the chain); nfe: network evaluations so far.
    """

    index: int
    steps: int
    t: int
    t_prev: int
    x: torch.Tensor
    x0: torch.Tensor | None
    nfe: int


Callback = Callable[[SampleStep], None]


@torch.no_grad()
def sample(model: Callable, sampler: Sampler, x_T: torch.Tensor, cond=None, x0_transform: X0Transform | None = None,
           callback: Callback | Sequence[Callback] | None = None,
           generator: torch.Generator | Sequence[torch.Generator] | None = None) -> torch.Tensor:
    """Run ``sampler`` from ``x_T`` to x₀ with ``model``.

    Args:
        model: any callable ``model(x_t (B, ...), t (B,) long, cond) -> (B, ...)`` of the sampler's prediction type;
            put a network in ``eval()`` mode first.
        sampler: a :class:`~course_lib.samplers.base.Sampler` (e.g. ``make_sampler("ddim", process, 50)``).
        x_T: ``(B, ...)`` the starting noise (moved to the process's device).
        cond: what the method conditions on, passed to ``model`` unchanged (y for SR, ``None`` if unconditional).
        x0_transform: the x̂₀ hook, ``f(x0, ctx) -> x0`` (clipping, a projection, DDNM's step).
        callback: one callable or a list, each called with a :class:`SampleStep` after every step.
        generator: the steps' noise — one ``torch.Generator``, or one per image (batch-independent results).

    Returns:
        ``(B, ...)`` the final sample; ``sampler.nfe`` holds the number of network evaluations.
    """
    if not isinstance(sampler, Sampler):
        raise TypeError(f"sampler must be a Sampler (e.g. make_sampler('ddim', process)), got {type(sampler).__name__}")
    if not isinstance(x_T, torch.Tensor) or not x_T.is_floating_point() or x_T.dim() < 1:
        got = getattr(x_T, "shape", type(x_T).__name__)
        raise TypeError(f"x_T must be a floating-point tensor of shape (B, ...), got {got}")
    callbacks = [] if callback is None else [callback] if callable(callback) else list(callback)
    device = sampler.device
    x = x_T.to(device)
    nfe = 0
    per_call = int(getattr(model, "nfe_per_call", 1))  # a guided model runs its network twice (two branches)

    def evaluate(x_: torch.Tensor, t_: int) -> torch.Tensor:
        nonlocal nfe
        nfe += per_call
        return model(x_, sampler.model_time(t_, x_), cond)

    sampler.reset()
    pairs = sampler.pairs()
    for i, (t, t_prev) in enumerate(pairs):
        if t_prev > t:  # time travel: back up the chain, no network evaluation
            x, x0 = sampler.renoise(x, t, t_prev, generator), None
        else:
            out = sampler.step(evaluate(x, t), t, t_prev, x, generator=generator, x0_transform=x0_transform,
                               model=evaluate)
            x, x0 = out.prev_sample, out.pred_original_sample
        sampler.nfe = nfe
        for cb in callbacks:
            cb(SampleStep(i, len(pairs), t, t_prev, x, x0, nfe))
    return x


class Trajectory:
    """A callback that records the reverse trajectory every ``every`` steps (and at the last step), on the CPU.

    After the run: ``t`` (the recorded steps' t), ``x_t`` ``(K, B, ...)`` the state after each recorded step,
    ``x0`` ``(K, B, ...)`` the x̂₀ it used; :meth:`as_dict` gives ``{"t", "x_t", "x0"}`` (lesson 02's widget reads it).
    """

    def __init__(self, every: int = 1):
        check_int(every, "every", low=1)
        self.every = every
        self.t: list[int] = []
        self._x: list[torch.Tensor] = []
        self._x0: list[torch.Tensor] = []

    def __call__(self, s: SampleStep) -> None:
        """Record step ``s`` if it is one of every ``every``-th or the last."""
        if s.index % self.every == 0 or s.index == s.steps - 1:
            self.t.append(s.t)
            self._x.append(s.x.detach().float().cpu())
            self._x0.append((s.x if s.x0 is None else s.x0).detach().float().cpu())

    @property
    def x_t(self) -> torch.Tensor:
        """``(K, B, ...)`` the recorded states."""
        return torch.stack(self._x)

    @property
    def x0(self) -> torch.Tensor:
        """``(K, B, ...)`` the recorded x̂₀."""
        return torch.stack(self._x0)

    def as_dict(self) -> dict:
        """``{"t": [int], "x_t": (K, B, ...), "x0": (K, B, ...)}``."""
        return {"t": list(self.t), "x_t": self.x_t, "x0": self.x0}


class ProgressBar:
    """A callback that shows a tqdm progress bar over the steps (closed at the last step)."""

    def __init__(self, desc: str = "sampling", enabled: bool = True):
        self.desc, self.enabled, self._bar = desc, enabled, None

    def __call__(self, s: SampleStep) -> None:
        """Advance the bar by one step; open it at the first, close it at the last."""
        if not self.enabled:
            return
        if self._bar is None:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=s.steps, desc=self.desc, leave=False)
        self._bar.update(1)
        if s.index == s.steps - 1:
            self._bar.close()
            self._bar = None
