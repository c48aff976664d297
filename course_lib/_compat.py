"""Old names kept for one release (ground layer): learners' copies of the lessons keep working.

``make lab`` never overwrites a learner's ``workspace/`` copy, so a lesson written against the previous release
must still run. Everything renamed or moved in a release stays reachable under its old name until the next one,
with a ``DeprecationWarning`` that names the new one (``CHANGELOG.md`` lists them):

* :func:`moved_names` — a module-level ``__getattr__`` for names that moved to another module;
* :func:`renamed_kwargs` — a decorator for keyword arguments that were renamed (``lr=`` → ``y=``);
* :func:`deprecated` — a function kept under its old name;
* :data:`MOVED_MODULES` and :func:`install_module_aliases` — modules that moved to another folder (0.5.0: the layer
  folders): ``import course_lib.race`` and ``from course_lib import plotting`` give the module from its new home
  with a warning, and ``python -m course_lib.cascade`` runs the new one (the README's commands keep their names);
* :data:`LEGACY_ATTRIBUTES` and :func:`legacy_attribute` — methods of a core class that moved out of it
  (``GaussianDiffusion.sample`` → :func:`course_lib.samplers.generate`): the class asks here for a name it lacks,
  so the old code lives here, not in the class. Targets are named by strings and imported when first used, so this
  module (the lowest layer) imports nothing above it.
"""

from __future__ import annotations

import functools
import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from typing import Callable

__all__ = [
    "moved_names",
    "renamed_kwargs",
    "deprecated",
    "warn_renamed",
    "MOVED_MODULES",
    "MOVED_COMMANDS",
    "COMMANDS",
    "install_module_aliases",
    "LEGACY_ATTRIBUTES",
    "legacy_attribute",
]

#: modules moved in 0.5.0 (old → new); each old name works for one release with a DeprecationWarning
MOVED_MODULES = {
    **{f"course_lib.{m}": f"course_lib.engine.{m}" for m in ("train", "distributed", "pretrained", "harness")},
    **{
        f"course_lib.{m}": f"course_lib.experiments.{m}"
        for m in (
            "evaluate",
            "compare",
            "race",
            "cascade",
            "latents",
            "zeroshot",
            "blind",
            "residual",
            "ablation",
            "cached",
        )
    },
    **{
        f"course_lib.{m}": f"course_lib.teaching.{m}"
        for m in ("plotting", "diagrams", "history", "widgets", "exercises")
    },
    **{f"course_lib.{m}": f"course_lib.tools.{m}" for m in ("sr", "site", "devtools", "benchmark")},
    "course_lib.classifier": "course_lib.engine.pretrained",  # load_classifier
}
#: old commands whose ``python -m`` now runs another module than their import gives: the harness keeps its
#: mechanics, and the course's table (its rows and its command) is :mod:`course_lib.experiments.landscape`
MOVED_COMMANDS = {"course_lib.harness": "course_lib.experiments.landscape"}
#: short command names of modules that were never anywhere else (``python -m course_lib.backbones``): the same
#: finder resolves them, without a warning — they are not deprecated, only short
COMMANDS = {
    "course_lib.backbones": "course_lib.experiments.backbones",
    "course_lib.flow": "course_lib.experiments.flow",
}


def warn_renamed(old: str, new: str, stacklevel: int = 3) -> None:
    """Emit the course's one form of deprecation warning: ``OLD is deprecated; use NEW``."""
    warnings.warn(
        f"{old} is deprecated and will be removed in the next release; use {new}",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


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
                        raise TypeError(
                            f"{fn.__qualname__}() got both {old}= (deprecated) and {new}=; pass only {new}="
                        )
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


class _ModuleAlias(importlib.abc.Loader):
    """Loads an old module name as its new module (the same object), with a warning; runs it for ``python -m``."""

    def __init__(self, old: str, new: str, warn: bool = True):
        self.old, self.new, self.warn = old, new, warn
        self.command = MOVED_COMMANDS.get(old, new)

    def create_module(self, spec):
        module = importlib.import_module(self.new)
        if self.warn:
            warnings.warn(
                f"the module {self.old} is deprecated and will be removed in the next release; use {self.new}",
                DeprecationWarning,
                stacklevel=2,
            )  # warnings skips the import machinery's frames
        return module

    def exec_module(self, module) -> None:
        """Nothing to run: :meth:`create_module` returned the new module, already imported."""

    def get_code(self, fullname: str):
        """What ``python -m OLD`` runs: the new module as ``__main__`` (runpy asks for this, the import system
        never)."""
        return compile(
            f"import runpy\nrunpy.run_module({self.command!r}, run_name='__main__', alter_sys=True)\n",
            f"<{fullname} → {self.command}>",
            "exec",
        )


class _ModuleAliasFinder(importlib.abc.MetaPathFinder):
    """Finds the old names of :data:`MOVED_MODULES` (and their submodules: ``course_lib.widgets.sr``)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname in COMMANDS:
            return importlib.util.spec_from_loader(fullname, _ModuleAlias(fullname, COMMANDS[fullname], warn=False))
        new = MOVED_MODULES.get(fullname)
        if new is None:
            parent = next((old for old in MOVED_MODULES if fullname.startswith(old + ".")), None)
            if parent is None:
                return None
            new = MOVED_MODULES[parent] + fullname[len(parent) :]
        return importlib.util.spec_from_loader(fullname, _ModuleAlias(fullname, new))


def install_module_aliases() -> None:
    """Put the finder of the moved modules' old names on ``sys.meta_path`` (once; ``course_lib/__init__`` calls it)."""
    if not any(isinstance(f, _ModuleAliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _ModuleAliasFinder())  # before the path finder, which would load a second copy


def _process_sample(process, model, shape, *args, **kwargs):
    return importlib.import_module("course_lib.samplers.generate").generate(model, process, shape, *args, **kwargs)


#: (class name, attribute) → (the function of (self, *args), its new name): methods moved out of core classes
LEGACY_ATTRIBUTES: dict[tuple[str, str], tuple[Callable, str]] = {
    ("GaussianDiffusion", "sample"): (_process_sample, "course_lib.samplers.generate(model, process, shape, …)"),
}


def legacy_attribute(obj, cls_name: str, name: str):
    """``obj.name`` for a name its class ``cls_name`` no longer has: a method of :data:`LEGACY_ATTRIBUTES` bound to
    ``obj`` (it warns when called), else the ``AttributeError`` Python would raise."""
    entry = LEGACY_ATTRIBUTES.get((cls_name, name))
    if entry is None:
        raise AttributeError(f"{cls_name!r} object has no attribute {name!r}")
    fn, new = entry

    @functools.wraps(fn)
    def bound(*args, **kwargs):
        warn_renamed(f"{cls_name}.{name}", new)
        return fn(obj, *args, **kwargs)

    return bound
