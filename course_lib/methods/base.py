"""What every method shares (methods layer): the config dataclass, the interface, the registry.

A **method** is where a network and the process meet: unconditional DDPM, SR3 (concat or encoder), the one-shot
regression baselines, the digit classifier — and each landscape method to come. It is one module with

* a config dataclass (a subclass of :class:`MethodConfig`: the ``"model"`` entry of a training config),
* :meth:`Method.build` — the network, with what a sampler must know about it (``prediction``, ``scale``) on it,
* :meth:`Method.loss` — ``loss(model, process, batch, generator)``, the objective the trainer minimises,
* its entry point: :meth:`Method.restore` (an HR image from y: the SR methods) or :meth:`Method.generate`,

registered by name with ``@register_method``. The trainer (``course_lib.engine.train``), the shipped-model loader
(``course_lib.engine.pretrained``) and the evaluation harness (``course_lib.engine.harness``) are generic over the
registry, so
adding a method touches no other module (``docs/adding-a-method.md``).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import torch
from torch import nn

from ..images import check_model_range

__all__ = ["MethodConfig", "Method", "METHODS", "register_method", "get_method", "legacy_method", "EXAMPLE_RUN"]

#: the run every method's ``example()`` config trains for: two tiny steps, each logged (the conformance tests')
EXAMPLE_RUN = {"batch_size": 4, "steps": 2, "log_every": 1, "warmup_steps": 1}


def _checked_restore(restore):
    """``restore`` with its y checked first (the third positional argument or ``y=``)."""
    if getattr(restore, "_checks_y", False):
        return restore

    @functools.wraps(restore)
    def inner(self, model, process, *args, **kwargs):
        y = args[0] if args else kwargs.get("y")
        if y is not None:
            check_model_range(y, "y", noise=kwargs.get("sigma_y", 0.0) or 0.0)
        return restore(self, model, process, *args, **kwargs)

    inner._checks_y = True
    return inner


@dataclass(frozen=True)
class MethodConfig:
    """Base of the methods' config dataclasses: the ``"model"`` entry of a training config.

    Subclasses declare their fields; ``args`` (when a subclass has it) takes every other key, the network's own
    constructor arguments, passed through unchanged (the network checks them).
    """

    @classmethod
    def from_dict(cls, d: dict) -> "MethodConfig":
        """Parse the ``"model"`` dict of a config: known fields by name, the rest into ``args`` (if declared)."""
        if not isinstance(d, dict):
            raise TypeError(f"model must be a dict of the method's arguments, got {type(d).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        known = {k: v for k, v in d.items() if k in names and k != "args"}
        rest = {k: v for k, v in d.items() if k not in names}
        if "args" in names:
            known["args"] = {**d.get("args", {}), **rest}
        elif rest:
            raise ValueError(f"unknown model arguments {sorted(rest)} for {cls.__name__}; known: {sorted(names)}")
        return cls(**known)

    def to_dict(self) -> dict:
        """The flat JSON form (``args`` spread out), as configs and checkpoints store it."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "args"}
        out.update(getattr(self, "args", {}))
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


class Method:
    """Base of the methods. ``Method(config)`` with a :class:`course_lib.engine.train.TrainConfig` (the method reads its
    own
    ``config.model`` and the process settings it needs: ``prediction``, ``T``, ``dataset``).

    Class attributes a subclass sets:
        name: the registry key (``"sr3"``); Config: its :class:`MethodConfig` subclass;
        objective: ``"diffusion"`` (it trains against a :class:`~course_lib.diffusion.GaussianDiffusion`),
        ``"flow"`` (against lesson 11's :class:`~course_lib.paths.LinearPath`), ``"regression"`` or
        ``"classification"`` (no process); datasets: the ``dataset`` forms it trains on (the part
        before the first ``:``); task: ``"sr"`` for methods with :meth:`restore`, ``"blind"`` for a restore() from a
        degraded image of the output's size, ``"generate"``, ``"classify"``;
        legacy_kinds: the ``model.kind`` values that named it in configs of the previous release.
    """

    name: ClassVar[str] = ""
    Config: ClassVar[type[MethodConfig]] = MethodConfig
    objective: ClassVar[str] = "diffusion"
    datasets: ClassVar[tuple[str, ...]] = ()
    task: ClassVar[str] = "sr"
    legacy_kinds: ClassVar[tuple[str, ...]] = ()
    #: dtype of the weights in the shipped file (float16 halves the size where it does not matter)
    export_dtype: ClassVar[torch.dtype] = torch.float16

    def __init_subclass__(cls, **kwargs):
        """Every method's front door checks its input: a subclass's :meth:`restore` refuses a y that is not finite or
        not in the model range (:func:`course_lib.images.check_model_range`, noise allowed by its ``sigma_y``)."""
        super().__init_subclass__(**kwargs)
        if "restore" in vars(cls):
            cls.restore = _checked_restore(vars(cls)["restore"])

    def __init__(self, config: Any):
        self.train_config = config
        self.config = config.model
        self.prediction = getattr(config, "prediction", "eps")
        #: network evaluations per image of the last :meth:`restore` / :meth:`generate` call (counted by the loop)
        self.last_nfe = 0

    # ------------------------------------------------------------------ interface
    @classmethod
    def example(cls) -> dict:
        """A tiny training config of this method (JSON form) that trains in seconds: the conformance tests and
        ``docs/adding-a-method.md`` use it, so a new method is covered by them without editing any test."""
        raise NotImplementedError(f"method {cls.name!r} gives no example config")

    @classmethod
    def check(cls, config: Any) -> None:
        """Raise a ``ValueError`` naming the entry when ``config`` (a ``TrainConfig``) does not suit this method."""
        kind = str(config.dataset).split(":", 1)[0]
        if cls.datasets and kind not in cls.datasets:
            raise ValueError(
                f"method {cls.name!r} trains on datasets {', '.join(repr(d) for d in cls.datasets)} "
                f"(the part before ':'), got dataset {config.dataset!r}"
            )

    @property
    def iterative(self) -> bool:
        """Whether the method restores by integrating a process with a sampler (diffusion and flow methods): the
        harness and the curves then pass it sampler options."""
        return self.objective in ("diffusion", "flow")

    def make_process(self):
        """The process the method trains against and samples (on the CPU; move it with ``.to(device)``): a
        :class:`~course_lib.diffusion.GaussianDiffusion` of the config's ``schedule`` and ``T`` for diffusion
        methods, ``None`` for one-shot ones; a flow method returns its :class:`~course_lib.paths.LinearPath`. The
        trainer and the shipped-model loader call it, so a new path plugs in by a method overriding it."""
        if self.objective != "diffusion":
            return None
        from ..diffusion import GaussianDiffusion
        from ..schedules import make_beta_schedule

        return GaussianDiffusion(make_beta_schedule(self.train_config.schedule, self.train_config.T))

    def training_set(self, name: str) -> dict[str, torch.Tensor]:
        """The tensors the trainer draws batches from for the config's ``dataset`` ``name``:
        :func:`course_lib.datasets.load_training_set` unless the method builds its own (lesson 12's clips)."""
        from ..datasets import load_training_set

        return load_training_set(name)

    def build(self) -> nn.Module:
        """The network, freshly initialised (the trainer seeds torch first)."""
        raise NotImplementedError

    def network_args(self) -> dict:
        """``config.args`` ready for a network constructor: ``T`` from the training config unless given, and
        ``channel_mults`` as a tuple (JSON has lists)."""
        kwargs = dict(getattr(self.config, "args", {}))
        kwargs.setdefault("T", self.train_config.T)
        if "channel_mults" in kwargs:
            kwargs["channel_mults"] = tuple(kwargs["channel_mults"])
        return kwargs

    def borrowed(self) -> dict[str, tuple[str, str]]:
        """Frozen parts copied unchanged from other shipped models, ``{prefix in this model's state_dict: (shipped
        model, prefix in its state_dict)}``: an export leaves them out (no weights stored twice in ``data/``) and
        :func:`course_lib.engine.pretrained.load` fills them back from those models, checking that they are still the
        files
        this model was trained with. None by default."""
        return {}

    def trained_with(self) -> tuple[str, ...]:
        """Shipped models whose training this model's training used without storing them: a distillation teacher, a
        perceptual loss's feature network. The cost of a model (:func:`course_lib.engine.pretrained.training_cost`)
        charges these, its borrowed parts (:meth:`borrowed`) and the model it started from (``init_from``). None by
        default."""
        return ()

    def initialise(self, model: nn.Module, load_model) -> None:
        """Called by the trainer right after :meth:`build` (before the EMA copy and the optimiser): a method whose
        network starts from shipped weights — a ControlNet's frozen base — loads them here with
        ``load_model(name) -> nn.Module``."""

    def setup(self, load_model, device: torch.device) -> None:
        """Called by the trainer before the first step. A method that trains against another shipped network (a
        distillation teacher) loads it here with ``load_model(name) -> nn.Module`` (eval mode, on ``device``)."""

    def loss(
        self, model: nn.Module, process, batch: dict[str, torch.Tensor], generator: torch.Generator
    ) -> torch.Tensor:
        """The training loss (float32 scalar) on ``batch`` (``{"x": …, "y": …, "label": …}`` as the dataset gives)."""
        raise NotImplementedError

    def restore(
        self, model: nn.Module, process, y: torch.Tensor, seeds: Sequence[int] | None = None, **options
    ) -> torch.Tensor:
        """An HR estimate ``(B, C, s·h, s·w)`` in [-1, 1] from LR images ``y`` ``(B, C, h, w)`` (SR methods);
        ``seeds`` give image i its own random draws (results independent of the batch)."""
        raise NotImplementedError(f"method {self.name!r} does not restore images")

    def record(self, model: nn.Module) -> dict:
        """Extra fields for the training record after training (e.g. the classifier's test accuracy)."""
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config})"


#: name → Method subclass
METHODS: dict[str, type[Method]] = {}


def register_method(cls: type[Method]) -> type[Method]:
    """Class decorator: add ``cls`` (a :class:`Method` subclass with a unique ``name``) to :data:`METHODS`."""
    if not isinstance(cls.name, str) or not cls.name:
        raise ValueError(f"a method class needs a non-empty string `name`, {cls.__name__} has {cls.name!r}")
    if cls.name in METHODS and METHODS[cls.name] is not cls:
        raise ValueError(f"a method named {cls.name!r} is already registered ({METHODS[cls.name].__name__})")
    METHODS[cls.name] = cls
    return cls


def get_method(name: str) -> type[Method]:
    """The registered method class ``name``, or a ``ValueError`` listing the known ones."""
    if name not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {name!r}")
    return METHODS[name]


def legacy_method(kind: str) -> str | None:
    """The method that a previous release's ``model.kind`` named (``"unet"`` → ``"ddpm"``), or ``None``."""
    for name, cls in METHODS.items():
        if kind in cls.legacy_kinds:
            return name
    return None
