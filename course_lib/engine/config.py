"""The training config (engine layer): :class:`TrainConfig`, everything a run needs, read from its JSON file.

A config is JSON with the fields of :class:`TrainConfig`: ``name``, ``dataset`` (see
:func:`course_lib.datasets.load_training_set`), ``method`` (a registered method: ``"ddpm"``, ``"sr3"``, ``"srcnn"``,
``"regression_unet"``, ``"classifier"``, …) and ``model`` (the method's config: its own fields plus the network's
arguments), then the process (``schedule``, ``T``, ``prediction``) and the optimisation (``batch_size``,
``learning_rate``, ``steps``, ``warmup_steps``, ``lr_schedule``, ``weight_decay``, ``ema_decay``, ``grad_clip``,
``seed``, ``log_every``, ``checkpoint_every``, ``autocast``, ``augment``, ``init_from``). Every number is checked
where it is read. Configs of earlier releases (``lr``, ``model.kind``, ``objective``, the classifier's
``task``/``epochs``) are still read: shipped checkpoints store them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .._compat import warn_renamed
from ..checks import check_int, check_number
from ..datasets import TRAIN_DIGITS, training_lr_size
from ..diffusion import check_prediction
from ..methods import MethodConfig, get_method, legacy_method
from ..schedules import SCHEDULES

__all__ = ["TrainConfig", "LR_SCHEDULES", "as_config"]

LR_SCHEDULES = ("warmup", "onecycle")
#: keys of earlier releases' configs and their new names
_RENAMED_KEYS = {"lr": "learning_rate"}
#: keys of the previous release's configs and their new names
_RENAMED_KEYS = {"lr": "learning_rate"}


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs (the JSON config, parsed). ``model`` is the method's config dataclass.

    ``config.replace(batch_size=64)`` gives a changed copy; :meth:`to_dict` the JSON form. For one release a config
    can still be read like the dict it used to be (``config["T"]``), with a ``DeprecationWarning``.
    """

    name: str = "model"
    dataset: str = "digits"
    method: str = "ddpm"
    model: MethodConfig = dataclasses.field(default_factory=lambda: get_method("ddpm").Config())
    schedule: str = "cosine"
    T: int = 1000
    prediction: str = "eps"
    batch_size: int = 128
    learning_rate: float = 2e-4
    steps: int = 10_000
    warmup_steps: int = 200
    lr_schedule: str = "warmup"
    weight_decay: float = 0.0
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    seed: int = 0
    log_every: int = 50
    checkpoint_every: int = 1000
    autocast: bool = True
    augment: bool = False
    init_from: str | None = None
    description: str = ""

    def __post_init__(self):
        """Every number checked where it is read: a ``ValueError`` names the field, what it expects and what came."""
        for key in ("batch_size", "steps", "log_every", "checkpoint_every", "T"):
            check_int(getattr(self, key), key, low=1)
        check_int(self.warmup_steps, "warmup_steps", low=0)
        check_int(self.seed, "seed")
        check_number(self.learning_rate, "learning_rate", low=0, low_open=True)
        check_number(self.weight_decay, "weight_decay", low=0)
        check_number(self.grad_clip, "grad_clip", low=0)  # 0: no clipping
        check_number(self.ema_decay, "ema_decay", low=0, high=1, high_open=True)
        for key in ("name", "dataset"):
            if not isinstance(getattr(self, key), str) or not getattr(self, key):
                raise ValueError(f"{key}: expected a non-empty string, got {getattr(self, key)!r}")
        for key in ("autocast", "augment"):
            if not isinstance(getattr(self, key), bool):
                raise ValueError(f"{key}: expected true or false, got {getattr(self, key)!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule: expected one of {sorted(SCHEDULES)}, got {self.schedule!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule: expected one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        cls = get_method(self.method)
        if cls.objective != "flow":  # a flow method checks its own ("velocity", lesson 11)
            check_prediction(self.prediction)
        if not isinstance(self.model, cls.Config):
            raise TypeError(
                f"model must be a {cls.Config.__name__} for method {self.method!r}, got {type(self.model).__name__}"
            )
        cls.check(self)

    # ------------------------------------------------------------------ JSON
    @classmethod
    def from_dict(cls, raw: dict, warn: bool = True) -> "TrainConfig":
        """Parse a JSON config (new or previous-release names; ``warn``: say so when old names are used)."""
        if not isinstance(raw, dict):
            raise TypeError(f"a config must be a dict, got {type(raw).__name__}")
        d = dict(raw)
        if d.get("task") == "classifier":
            d = _legacy_classifier(d)
        for old, new in _RENAMED_KEYS.items():
            if old in d:
                if new in d:
                    raise ValueError(f"config has both {old!r} (the old name) and {new!r}; keep {new!r}")
                if warn:
                    warn_renamed(f"the config key {old!r}", repr(new))
                d[new] = d.pop(old)
        objective = d.pop("objective", None)
        if objective is not None and warn:
            warn_renamed("the config key 'objective'", "\"method\" (the method implies its objective)")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown config keys {sorted(unknown)}; known: {sorted(names)}")
        model = dict(d.get("model", {}))
        if "method" not in d:  # the previous release named the method by model.kind
            had_kind = "kind" in model
            kind = model.pop("kind", "unet")
            if warn and had_kind:
                warn_renamed("the config key model.kind", "\"method\" (and model.network for \"ddpm\")")
            method = legacy_method(kind)
            if method is None:
                raise ValueError(f"model.kind {kind!r} names no method; give \"method\": one of {sorted(_methods())}")
            d["method"] = method
            if method == "ddpm":
                model["network"] = kind
        elif "kind" in model:
            raise ValueError(
                f"model.kind {model['kind']!r} is the previous release's name for the method; "
                f"with \"method\": {d['method']!r} leave it out"
            )
        mcls = get_method(d["method"])
        if objective is not None and objective != mcls.objective:
            raise ValueError(
                f"objective {objective!r} does not match method {d['method']!r}, whose objective is {mcls.objective!r}"
            )
        config = mcls.Config.from_dict(model)
        if getattr(config, "tile", 0) is None:  # an SR model tiles at the LR side of its training crops
            config = dataclasses.replace(config, tile=training_lr_size(d.get("dataset", cls.dataset)))
        d["model"] = config
        return cls(**d)

    def to_dict(self) -> dict:
        """The JSON form: every field, ``model`` flattened (its ``args`` spread out)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["model"] = self.model.to_dict()
        if not out["description"]:
            del out["description"]
        return out

    def replace(self, **changes) -> "TrainConfig":
        """A copy with ``changes`` (old key names are accepted with a warning)."""
        for old, new in _RENAMED_KEYS.items():
            if old in changes:
                warn_renamed(f"the config key {old!r}", repr(new))
                changes[new] = changes.pop(old)
        if isinstance(changes.get("model"), dict):
            changes["model"] = get_method(changes.get("method", self.method)).Config.from_dict(changes["model"])
        return dataclasses.replace(self, **changes)


def _methods():
    from ..methods import METHODS

    return METHODS


def _legacy_classifier(d: dict) -> dict:
    """The previous release's classifier config (``task``, ``epochs``, one-cycle schedule implied) in the new form."""
    known = {
        "name",
        "task",
        "width",
        "dropout",
        "epochs",
        "batch_size",
        "lr",
        "weight_decay",
        "seed",
        "log_every",
        "degrade_prob",
        "description",
    }
    unknown = set(d) - known
    if unknown:
        raise ValueError(f"unknown classifier config keys {sorted(unknown)}; known: {sorted(known)}")
    batch = d.get("batch_size", 64)
    return {
        "name": d.get("name", "digit_classifier"),
        "dataset": "digits_labels",
        "method": "classifier",
        "model": {
            "width": d.get("width", 32),
            "dropout": d.get("dropout", 0.3),
            "degrade_prob": d.get("degrade_prob", 0.0),
        },
        "batch_size": batch,
        "learning_rate": d.get("lr", 3e-3),
        "steps": d.get("epochs", 30) * TRAIN_DIGITS // batch,
        "warmup_steps": 0,
        "lr_schedule": "onecycle",
        "weight_decay": d.get("weight_decay", 1e-4),
        "ema_decay": 0.0,
        "grad_clip": 0.0,
        "seed": d.get("seed", 0),
        "log_every": d.get("log_every", 50),
        "autocast": False,
        "description": d.get("description", ""),
    }


def as_config(config: TrainConfig | dict, warn: bool = True) -> TrainConfig:
    """A :class:`TrainConfig` from itself or from a JSON-style dict."""
    return config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config, warn=warn)
