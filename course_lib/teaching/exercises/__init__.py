"""Auto-checked exercises (teaching layer).

Each exercise in a lesson is three cells: a **stub** the learner edits (it raises
``NotImplementedError`` until they do), a **check** cell that calls ``check_<name>(fn)``,
and a **solution** cell (tagged ``solution``, collapsed). A check

* runs the learner's function on cases of its own,
* answers in one line: passed, not done yet, or which property failed with a hint,
* recognises the classic mistakes (std vs variance, off-by-one timestep, …) by comparing
  the answer with what each mistake would give,
* never raises into the kernel and never prints a traceback.

``summary(lesson)`` shows which exercises of a lesson pass so far.
"""

from __future__ import annotations

import functools
from pathlib import Path

import traceback
from dataclasses import dataclass, field
from typing import Callable

import torch

__all__ = [
    "Mismatch",
    "Exercise",
    "CheckResult",
    "run_check",
    "N_",
    "summary",
    "close",
    "expect_tensor",
    "psnr01",
    "reset_progress",
]

STATUS_ICON = {"pass": "✅", "fail": "❌", "todo": "⏳", "error": "⚠️"}
#: the framework's own words, translated like the hints (``python -m course_lib.tools.edition hints`` collects both)
FRAMEWORK_TEXTS = (
    "Exercise",
    "expected your function `{name}`, got {got}.",
    "not done yet: replace `raise NotImplementedError` with your code, run that cell, then this one.",
    "your function raised {error}{where}: {text}",
    " (line {line} of your cell)",
    "passed. Well done!",
    "Lesson {lesson}: {passed} of {total} exercises pass",
    "passed",
    "not yet right",
    "not done yet",
    "raised an error",
    "not checked yet",
)
#: the checks' words in Chinese (the 中文 edition): msgid = the English text
CATALOGUE = Path(__file__).resolve().parent.parent / "locale" / "zh" / "LC_MESSAGES" / "exercises.po"


@functools.lru_cache(maxsize=1)
def _catalogue() -> dict[str, dict]:
    """The checks' catalogue, read once per version of the file (every label, hint and summary line asks it)."""
    return _read_catalogue(CATALOGUE.stat().st_mtime_ns if CATALOGUE.is_file() else None)


@functools.lru_cache(maxsize=1)
def _read_catalogue(stamp: int | None) -> dict[str, dict]:
    from ...language import read_po

    return read_po(CATALOGUE, missing_ok=True)


def translate(text: str) -> str:
    """``text`` in the learner's language (:func:`course_lib.language.language`): its checked translation
    from ``exercises.po`` in the Chinese edition, else the English."""
    from ...language import language

    if language() != "zh":
        return text
    from ...language import translation

    return translation(_catalogue(), text) or text


def N_(text: str) -> str:
    """Mark a hint kept in a variable for the catalogue (gettext's ``gettext_noop``): returns ``text`` unchanged; the
    check that raises ``Mismatch(text)`` later shows its translation, and ``course_lib.tools.edition`` finds it."""
    return text


class Mismatch(Exception):
    """Raised by an exercise's test with the hint shown to the learner: ``Mismatch(text)``, or
    ``Mismatch(template, **values)`` for a hint with measured numbers in it — the template (``str.format`` fields,
    e.g. ``"your loss is {got:.5f} where {want:.5f} was expected."``) is what the catalogue translates, so the Chinese
    edition shows the same numbers in a Chinese sentence."""

    def __init__(self, template: str, **values) -> None:
        self.template, self.values = template, values
        super().__init__(self.render(template))

    def render(self, template: str) -> str:
        """``template`` (this hint's, or its translation) with this hint's values."""
        return template.format(**self.values) if self.values else template


@dataclass(frozen=True)
class Exercise:
    lesson: str  # "01"
    number: int  # 2 -> "Exercise 01.2"
    name: str  # the function the learner writes
    test: Callable[[Callable], None] = field(repr=False)

    @property
    def label(self) -> str:
        """``Exercise LL.N (name)``, as the checks and the summary print it (``练习 LL.N`` in Chinese)."""
        return f"{translate('Exercise')} {self.lesson}.{self.number} ({self.name})"


@dataclass(frozen=True)
class CheckResult:
    exercise: Exercise
    status: str  # "pass" | "fail" | "todo" | "error"
    message: str

    @property
    def passed(self) -> bool:
        """Whether the check passed."""
        return self.status == "pass"

    def __repr__(self) -> str:
        return f"{STATUS_ICON[self.status]} {self.exercise.label}: {self.message}"

    __str__ = __repr__


_REGISTRY: dict[str, list[Exercise]] = {}
_PROGRESS: dict[tuple[str, int], str] = {}


def register(exercise: Exercise) -> Exercise:
    """Add ``exercise`` to its lesson's list (once; kept in order of number) and return it."""
    _REGISTRY.setdefault(exercise.lesson, [])
    if all(e.number != exercise.number for e in _REGISTRY[exercise.lesson]):
        _REGISTRY[exercise.lesson].append(exercise)
        _REGISTRY[exercise.lesson].sort(key=lambda e: e.number)
    return exercise


def reset_progress() -> None:
    """Forget every recorded check result (tests use it)."""
    _PROGRESS.clear()


def _where(err: BaseException) -> str:
    """' (line N of your cell)' for the innermost frame that comes from a notebook cell, if any."""
    frames = traceback.extract_tb(err.__traceback__)
    for fr in reversed(frames):
        if "ipykernel" in fr.filename or fr.filename.startswith("<"):
            return translate(" (line {line} of your cell)").format(line=fr.lineno)
    return ""


def run_check(exercise: Exercise, fn: object) -> CheckResult:
    """Run ``exercise.test(fn)`` and turn every outcome into a one-line :class:`CheckResult`."""
    if not callable(fn):
        result = CheckResult(
            exercise,
            "error",
            translate("expected your function `{name}`, got {got}.").format(name=exercise.name, got=type(fn).__name__),
        )
    else:
        try:
            with torch.no_grad():
                exercise.test(fn)
        except NotImplementedError:
            result = CheckResult(
                exercise,
                "todo",
                translate(
                    "not done yet: replace `raise NotImplementedError` with your code, run that cell, then this one."
                ),
            )
        except Mismatch as m:
            result = CheckResult(exercise, "fail", m.render(translate(m.template)))
        except Exception as err:  # the learner's code failed: report it in one line
            text = str(err).strip().splitlines()[0] if str(err).strip() else ""
            result = CheckResult(
                exercise,
                "error",
                translate("your function raised {error}{where}: {text}").format(
                    error=type(err).__name__, where=_where(err), text=text
                )[:400],
            )
        else:
            result = CheckResult(exercise, "pass", translate("passed. Well done!"))
    _PROGRESS[(exercise.lesson, exercise.number)] = result.status
    return result


@dataclass(frozen=True)
class Summary:
    lesson: str
    rows: tuple[tuple[str, str], ...]

    @property
    def passed(self) -> int:
        """How many of the lesson's exercises pass."""
        return sum(status == "pass" for _, status in self.rows)

    def __repr__(self) -> str:
        lines = [
            translate("Lesson {lesson}: {passed} of {total} exercises pass").format(
                lesson=self.lesson, passed=self.passed, total=len(self.rows)
            )
        ]
        for label, status in self.rows:
            word = translate(
                {
                    "pass": "passed",
                    "fail": "not yet right",
                    "todo": "not done yet",
                    "error": "raised an error",
                    "": "not checked yet",
                }[status]
            )
            lines.append(f"  {STATUS_ICON.get(status, '·')} {label}: {word}")
        return "\n".join(lines)


def summary(lesson: str) -> Summary:
    """Which exercises of ``lesson`` (e.g. ``"01"``) pass, from the checks run in this kernel."""
    if lesson not in _REGISTRY:
        _import_lesson(lesson)
    rows = tuple((e.label, _PROGRESS.get((lesson, e.number), "")) for e in _REGISTRY.get(lesson, []))
    if not rows:
        raise ValueError(f"lesson {lesson!r} has no exercises; lessons with exercises: {', '.join(sorted(_REGISTRY))}")
    return Summary(lesson, rows)


def _import_lesson(lesson: str) -> None:
    import importlib

    try:
        importlib.import_module(f"{__name__}.lesson{lesson}")
    except ModuleNotFoundError:
        pass


def close(actual: torch.Tensor, expected: torch.Tensor, atol: float = 1e-5, rtol: float = 1e-4) -> bool:
    """Same shape and allclose (helper for the tests of the exercises)."""
    return (
        isinstance(actual, torch.Tensor)
        and actual.shape == expected.shape
        and torch.allclose(actual.double(), expected.double(), atol=atol, rtol=rtol)
    )


def expect_tensor(out, shape, what: str) -> None:
    """A learner's answer must be a tensor of ``shape``: a :class:`Mismatch` saying so (a forgotten ``return`` named as
    such) otherwise; ``what`` names the answer in the hint."""
    if out is None:
        raise Mismatch("your function returned None: did you forget `return`?")
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != tuple(shape):
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise Mismatch("return {what} of shape {shape}, got {got}.", what=translate(what), shape=tuple(shape), got=got)


def psnr01(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The reference PSNR the checks compare with: ``(B,)`` dB for images in [-1, 1] mapped to [0, 1] (MAX = 1)."""
    mse = (((pred + 1) / 2 - (target + 1) / 2) ** 2).flatten(1).mean(1)
    return 10 * torch.log10(1 / mse)
