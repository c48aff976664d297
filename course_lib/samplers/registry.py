"""The sampler registry (process layer): samplers by name, so configs, widgets and the harness can name them.

``@register_sampler`` on a :class:`~course_lib.samplers.base.Sampler` subclass with a ``name`` adds it;
``make_sampler("ddim", process, steps=20, eta=0.5)`` builds one. Adding a sampler is one new module that
registers itself plus its test (``docs/adding-a-method.md``).
"""

from __future__ import annotations
from ..checks import check_int

__all__ = ["SAMPLERS", "register_sampler", "make_sampler", "steps_for_nfe"]

#: name → Sampler subclass
SAMPLERS: dict[str, type] = {}


def register_sampler(cls: type) -> type:
    """Class decorator: add ``cls`` (a Sampler subclass with a unique ``name``) to :data:`SAMPLERS`."""
    name = getattr(cls, "name", "")
    if not isinstance(name, str) or not name:
        raise ValueError(f"a sampler class needs a non-empty string `name`, {cls.__name__} has {name!r}")
    if name in SAMPLERS and SAMPLERS[name] is not cls:
        raise ValueError(f"a sampler named {name!r} is already registered ({SAMPLERS[name].__name__})")
    SAMPLERS[name] = cls
    return cls


def make_sampler(name: str, process, steps: int | None = None, prediction: str = "eps", **options):
    """The registered sampler ``name`` for ``process``: ``SAMPLERS[name](process, steps, prediction, **options)``."""
    if name not in SAMPLERS:
        raise ValueError(f"sampler must be one of {sorted(SAMPLERS)}, got {name!r}")
    return SAMPLERS[name](process, steps, prediction, **options)


def steps_for_nfe(name: str, nfe: int, **options) -> int:
    """The most steps of sampler ``name`` whose run costs at most ``nfe`` network evaluations (at least 1 step)."""
    if name not in SAMPLERS:
        raise ValueError(f"sampler must be one of {sorted(SAMPLERS)}, got {name!r}")
    check_int(nfe, "nfe", low=1)
    cls, steps = SAMPLERS[name], 1
    while cls.nfe_for(steps + 1, **options) <= nfe:
        steps += 1
    return steps
