"""Live training in a lesson · 现场训练 (teaching layer): how long a lesson's live run trains.

A lesson trains a small model for a few seconds of wall time, to show the loss falling on the learner's own machine
(``live.train(**live_budget(15))``). Under ``make test`` the same cell only has to show that the loss falls — the
lesson runs in full elsewhere — so the environment variable ``COURSE_LIVE_STEPS`` (``make test`` sets it) replaces the
seconds by that many steps: the same on every machine, and a few seconds here instead of fifteen.
"""

from __future__ import annotations

import os

from ..checks import check_number

__all__ = ["live_budget", "describe_budget", "MIN_STEPS"]

ENV = "COURSE_LIVE_STEPS"


#: a live run trains at least this many steps, however slow or busy the machine (the lessons check that the loss
#: falls, which a handful of steps cannot show)
MIN_STEPS = 30


def live_budget(seconds: float) -> dict:
    """The keyword arguments of ``Trainer.train`` for a live run: ``{"seconds": seconds, "min_steps": MIN_STEPS}``, or
    ``{"steps": N}`` when ``COURSE_LIVE_STEPS`` = N is set (a positive integer; anything else is refused, naming the
    variable)."""
    check_number(seconds, "seconds", low=0, low_open=True)
    raw = os.environ.get(ENV)
    if raw is None or raw == "":
        return {"seconds": float(seconds), "min_steps": MIN_STEPS}
    try:
        steps = int(raw)
    except ValueError:
        steps = 0
    if steps < 1 or str(steps) != raw.strip():
        raise ValueError(f"{ENV}: expected a positive integer (steps of a lesson's live training), got {raw!r}")
    return {"steps": steps}


def describe_budget(budget: dict) -> str:
    """``"15 s"`` or ``"40 steps"``: what a :func:`live_budget` trains, for a figure's title."""
    return f"{budget['seconds']:g} s" if "seconds" in budget else f"{budget['steps']} steps"
