"""Argument checks (ground layer): the one way the course says that a number it was handed is not one it can use.

Every message has one form — ``NAME: expected WHAT, got VALUE`` — so that a learner reads the argument's name first::

    check_int(steps, "steps", low=1, high=T)     # steps: expected an int in 1 … 1000, got 0
    check_number(learning_rate, "learning_rate", low=0, low_open=True)   # expected a number > 0, got -1

``bool`` is refused where an int or a number is expected (``True`` is an int to Python, never a step count to us).
"""

from __future__ import annotations

import math
import numbers

__all__ = ["check_int", "check_number"]


def _range(low, high, low_open: bool = False, high_open: bool = False) -> str:
    if low is not None and high is not None:
        if low_open or high_open:
            return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        return f"in {low} … {high}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high}"
    return ""


def check_int(value, name: str, low: int | None = None, high: int | None = None, note: str = "") -> int:
    """``value`` as an int (NumPy integers too) within ``low`` … ``high`` (either may be ``None``), or a ``ValueError``
    naming ``name``: ``check_int(0, "steps", 1)`` → "steps: expected an int >= 1, got 0"; ``note`` says what the
    bounds mean ("tile: expected an int >= 2 (LR pixels), got 1")."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if ok and (low is None or value >= low) and (high is None or value <= high):
        return int(value)
    bounds = _range(low, high)
    raise ValueError(
        f"{name}: expected an int{' ' + bounds if bounds else ''}{f' ({note})' if note else ''}, got {value!r}"
    )


def check_number(
    value,
    name: str,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a finite float within the bounds (``low_open``: strictly above ``low``), or a ``ValueError``
    naming ``name``: ``check_number(-1, "learning_rate", 0, low_open=True)`` → "learning_rate: expected a finite number
    > 0, got -1"."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))
    if ok:
        v = float(value)
        above = low is None or (v > low if low_open else v >= low)
        below = high is None or (v < high if high_open else v <= high)
        if above and below:
            return v
    bounds = _range(low, high, low_open, high_open)
    raise ValueError(f"{name}: expected a finite number{' ' + bounds if bounds else ''}, got {value!r}")
