"""The shipped models (workflow layer): load any ``data/checkpoints/NAME.pt`` through the method registry.

A shipped file holds the EMA weights and the training config; the config names the method, and the method builds
the network and says what sampling it needs (``prediction``, ``scale``, the tile size), so nothing here — nor in a
sampler — looks a model up by name or assumes a default. Files are checked against their sha256 in
``data/manifest.json`` and read with ``weights_only=True``; a missing or corrupt file is a
:class:`~course_lib.files.CheckpointError`.

* :func:`load` — a :class:`Pretrained` bundle (method, network in eval mode, process, config, training record);
* :func:`load_pretrained` — the lessons' ``(network, process, config)`` triple; :func:`load_sr_model` the same for
  an SR model;
* :func:`shipped_models`, :func:`training_record`, :func:`init_from_pretrained` (weight surgery for ``init_from``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import torch
from torch import nn

from ..device import get_device
from ..diffusion import GaussianDiffusion
from ..files import CheckpointError, data_dir, load_checkpoint, load_manifest
from ..methods import Method, get_method
from ..models import SR3
from .config import TrainConfig

__all__ = [
    "Pretrained",
    "load",
    "load_classifier",
    "training_seconds",
    "training_cost",
    "borrowed_weights",
    "load_pretrained",
    "load_sr_model",
    "shipped_models",
    "training_record",
    "init_from_pretrained",
]


@dataclass
class Pretrained:
    """A shipped model, loaded: ``method`` (a :class:`~course_lib.methods.Method` with its config), ``model`` (the EMA
    network in eval mode), ``process`` (its :class:`GaussianDiffusion`, ``None`` for one-shot methods), ``config``
    (the :class:`~course_lib.engine.train.TrainConfig` it was trained with) and ``record`` (its ``NAME.log.json``)."""

    name: str
    method: Method
    model: nn.Module
    process: GaussianDiffusion | None
    config: TrainConfig
    record: dict

    def restore(self, y: torch.Tensor, seeds=None, **options) -> torch.Tensor:
        """The method's :meth:`~course_lib.methods.Method.restore` with this model and process."""
        return self.method.restore(self.model, self.process, y, seeds=seeds, **options)


def shipped_models() -> list[str]:
    """Names of the models in ``data/checkpoints`` (from the manifest)."""
    files = load_manifest()["files"]
    return sorted(k[len("checkpoints/") : -3] for k in files if k.startswith("checkpoints/") and k.endswith(".pt"))


def training_record(name: str) -> dict:
    """``data/checkpoints/NAME.log.json``: steps, training seconds, hardware, parameters, loss curve (``{}`` if
    absent)."""
    from ..files import verify_file

    rel = f"checkpoints/{name}.log.json"
    if rel not in load_manifest()["files"] or not (data_dir() / rel).is_file():
        return {}  # the record is information about the model, not part of it
    return json.loads(verify_file(rel).read_text(encoding="utf-8"))


def _threads(hardware: str | None) -> tuple[str, int]:
    """``("cpu", threads)`` or ``("gpu", 1)`` from a training record's hardware string."""
    text = hardware or ""
    if re.search(r"cuda|nvidia|mps", text, re.IGNORECASE):
        return "gpu", 1
    found = re.search(r"(\d+) threads?", text)
    return "cpu", int(found.group(1)) if found else 1


def training_cost(name: str) -> dict:
    """What shipped model ``name`` cost to train, every part charged once: its own run, the frozen parts it borrows
    (:meth:`~course_lib.methods.Method.borrowed`), the model it started from (``init_from``) and the models its
    training ran beside it (:meth:`~course_lib.methods.Method.trained_with`: a teacher, a loss's feature network), and
    theirs in turn. CPU-minutes are wall minutes × the threads each record names; GPU time is kept apart.

    Returns ``{"cpu_minutes", "gpu_minutes", "parts": {model: {"seconds", "hardware", "device", "threads"}}}``."""
    parts: dict[str, dict] = {}

    def visit(model: str) -> None:
        if model in parts:
            return
        record = training_record(model)
        device, threads = _threads(record.get("hardware"))
        parts[model] = {
            "seconds": float(record.get("training_seconds", 0.0) or 0.0),
            "hardware": record.get("hardware"),
            "device": device,
            "threads": threads,
        }
        config = TrainConfig.from_dict(json.loads(_checkpoint(model)[0]["config"]), warn=False)
        method = get_method(config.method)(config)
        lenders = {lender for lender, _ in method.borrowed().values()} | set(method.trained_with())
        if config.init_from:
            lenders.add(config.init_from)
        for lender in sorted(lenders):
            visit(lender)

    visit(name)
    cpu = sum(p["seconds"] * p["threads"] for p in parts.values() if p["device"] == "cpu") / 60
    gpu = sum(p["seconds"] for p in parts.values() if p["device"] == "gpu") / 60
    return {"cpu_minutes": round(cpu, 1), "gpu_minutes": round(gpu, 1), "parts": parts}


def borrowed_weights(name: str, borrowed: dict, files: dict) -> dict[str, torch.Tensor]:
    """The frozen parts model ``name`` borrows from other shipped models (see :meth:`Method.borrowed`), read from
    those models — after checking that each is still the file ``name`` was trained with (its sha256)."""
    out = {}
    for prefix, b in borrowed.items():
        now = files.get(f"checkpoints/{b['model']}.pt", {}).get("sha256")
        if now is None:
            raise CheckpointError(
                f"{name!r} borrows its frozen part {prefix!r} from the shipped {b['model']!r}, which is "
                "missing: restore it with `git checkout -- data/`"
            )
        if now != b["sha256"]:
            raise CheckpointError(
                f"{name!r} was trained with {b['model']!r} of sha256 {b['sha256'][:12]}…, but the shipped "
                f"{b['model']!r} is now {now[:12]}…: retrain {name!r} (`make checkpoints` trains it after "
                f"{b['model']!r}) or restore the old file"
            )
        source = load(b["model"], "cpu").model.state_dict()
        out.update({prefix + k[len(b["prefix"]) :]: v for k, v in source.items() if k.startswith(b["prefix"])})
    return out


def _checkpoint(name: str) -> tuple[dict, dict]:
    """The shipped checkpoint ``name`` (sha256-checked) and the manifest's files."""
    rel = f"checkpoints/{name}.pt"
    files = load_manifest()["files"]
    if rel not in files:
        raise CheckpointError(
            f"no shipped model named {name!r}; shipped models: {', '.join(shipped_models()) or 'none'}"
        )
    return load_checkpoint(data_dir() / rel, expected_sha256=files[rel]["sha256"]), files


def load(name: str, device: torch.device | str | None = None) -> Pretrained:
    """The shipped model ``name`` on ``device`` (see the module docstring)."""
    device = get_device(device)
    state, files = _checkpoint(name)
    config = TrainConfig.from_dict(json.loads(state["config"]), warn=False)
    method = get_method(config.method)(config)
    model = method.build()
    weights = state["ema"] if "ema" in state else state["state"]  # "state": the previous release's classifier files
    weights = {**weights, **borrowed_weights(name, json.loads(state.get("borrowed", "{}")), files)}
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in weights.items()})
    process = method.make_process()
    process = None if process is None else process.to(device)
    return Pretrained(name, method, model.to(device).eval(), process, config, training_record(name))


def load_pretrained(
    name: str, device: torch.device | str | None = None
) -> tuple[nn.Module, GaussianDiffusion | None, TrainConfig]:
    """A shipped model as ``(network in eval mode, process, config)`` (the process is ``None`` for one-shot methods)."""
    p = load(name, device)
    return p.model, p.process, p.config


def load_sr_model(name: str, device: torch.device | str | None = None) -> tuple[SR3, GaussianDiffusion, TrainConfig]:
    """A shipped SR diffusion model ``(SR3 in eval mode, process, config)``; another kind is a CheckpointError."""
    model, process, config = load_pretrained(name, device)
    if not isinstance(model, SR3):
        raise CheckpointError(f"{name!r} is not a super-resolution diffusion model (its method is {config.method!r})")
    return model, process, config


def init_from_pretrained(model: nn.Module, name: str) -> nn.Module:
    """Copy a shipped model's weights into ``model`` (in place) where the names match.

    Where a shipped tensor is smaller than the new one (the first convolution of an SR3 that also reads U(y)),
    it fills the leading slice and the rest stays zero, so the new inputs start with no influence; new layers
    (the LR encoder, the injections P_ℓ) keep their zero initialisation. Shapes that cannot be embedded, or
    a shipped model whose weights would be left unused, are errors.
    """
    src = load(name, "cpu").model.state_dict()
    target = model.state_dict()
    prefix = "net." if isinstance(model, SR3) else ""
    used = set()
    with torch.no_grad():
        for key, value in target.items():
            skey = (
                key if key in src else key[len(prefix) :] if key.startswith(prefix) else key
            )  # SR3 from SR3, or from a UNet
            if skey not in src:
                continue
            w = src[skey].to(value.dtype)
            if w.shape == value.shape:
                value.copy_(w)
            elif w.dim() == value.dim() and all(a <= b for a, b in zip(w.shape, value.shape)):
                value.zero_()
                value[tuple(slice(0, n) for n in w.shape)] = w
            else:
                raise ValueError(
                    f"init_from={name!r}: {skey} has shape {tuple(w.shape)}, cannot fill {tuple(value.shape)}"
                )
            used.add(skey)
    unused = sorted(set(src) - used)
    if unused:
        raise ValueError(
            f"init_from={name!r}: the model has no place for {unused[:5]}{' …' if len(unused) > 5 else ''}"
        )
    return model  # the state_dict's tensors are the model's own: filled in place above


def load_classifier(name: str = "digit_classifier", device: torch.device | str | None = None) -> nn.Module:
    """The shipped digit classifier ``name`` (lesson 04's fidelity judge, lesson 05's feature space), hash-checked, in
    eval mode; a CheckpointError if ``name`` is another kind of model."""
    shipped = load(name, get_device(device))
    if shipped.config.method != "classifier":
        raise CheckpointError(f"{name!r} is not a classifier (its method is {shipped.config.method!r})")
    return shipped.model


def training_seconds(name: str) -> float:
    """The training seconds of shipped model ``name`` with those of every frozen shipped part it borrows
    (:meth:`~course_lib.methods.Method.borrowed`), and theirs in turn, each model counted once."""
    seen: set[str] = set()

    def visit(model: str) -> float:
        if model in seen:
            return 0.0
        seen.add(model)
        total = float(training_record(model).get("training_seconds", 0.0) or 0.0)
        config = TrainConfig.from_dict(json.loads(_checkpoint(model)[0]["config"]), warn=False)
        lenders = {lender for lender, _ in get_method(config.method)(config).borrowed().values()}
        return total + sum(visit(lender) for lender in sorted(lenders))

    return visit(name)
