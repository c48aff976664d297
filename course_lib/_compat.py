"""Old names kept for one release (ground layer): learners' copies of the lessons keep working.

``make lab`` never overwrites a learner's ``workspace/`` copy, so a lesson written against the previous release
must still run. Everything renamed or moved in a release stays reachable under its old name until the next one,
with a ``DeprecationWarning`` that names the new one (``CHANGELOG.md`` lists them):

* :func:`moved_names` — a module-level ``__getattr__`` for names that moved to another module;
* :func:`renamed_kwargs` — a decorator for keyword arguments that were renamed (``lr=`` → ``y=``);
* :func:`deprecated` — a function kept under its old name.
"""

from __future__ import annotations

import functools
import importlib
import warnings
from typing import Callable

__all__ = ["moved_names", "renamed_kwargs", "deprecated", "warn_renamed"]


def warn_renamed(old: str, new: str, stacklevel: int = 3) -> None:
    """Emit the course's one form of deprecation warning: ``OLD is deprecated; use NEW``."""
    warnings.warn(f"{old} is deprecated and will be removed in the next release; use {new}", DeprecationWarning,
                  stacklevel=stacklevel)


def moved_names(module: str, table: dict[str, str | tuple[Callable[[], object], str]]) -> Callable[[str], object]:
    """A module ``__getattr__`` that serves ``table``'s old names: ``{"old": "package.module:new"}``, or
    ``{"old": (make, "what replaces it")}`` for a value that is now computed (``make()`` gives it).

    ``__getattr__ = moved_names(__name__, {...})`` at the bottom of a module makes ``module.old`` (and
    ``from module import old``) return ``new`` from its new home with a ``DeprecationWarning``.
    """

    def __getattr__(name: str) -> object:
        if name not in table:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        if isinstance(table[name], tuple):
            make, new = table[name]
            warn_renamed(f"{module}.{name}", new)
            return make()
        target_module, _, target = table[name].partition(":")
        value = getattr(importlib.import_module(target_module), target)
        warn_renamed(f"{module}.{name}", f"{target_module}.{target}")
        return value

    return __getattr__


def renamed_kwargs(**renames: str) -> Callable[[Callable], Callable]:
    """Decorator: accept each old keyword (``@renamed_kwargs(lr="y")``) as its new name, with a warning."""

    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{fn.__qualname__}() got both {old}= (deprecated) and {new}=; pass only {new}=")
                    warn_renamed(f"the keyword {old}= of {fn.__qualname__}()", f"{new}=")
                    kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)

        return inner

    return wrap


def deprecated(fn: Callable, old: str, new: str) -> Callable:
    """``fn`` under its old name ``old``: calling it warns that ``new`` replaces it."""

    @functools.wraps(fn)
    def inner(*args, **kwargs):
        warn_renamed(old, new)
        return fn(*args, **kwargs)

    inner.__doc__ = f"Deprecated alias of :func:`{new}` (kept for one release)."
    return inner
