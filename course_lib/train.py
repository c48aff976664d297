"""Training loop and shipped models (workflow layer; lessons 02–03).

Brings a network (``course_lib.models``) and the process (``course_lib.diffusion``) together:
Algorithm 1 of DDPM with L_simple (Eq. 02.4), AdamW with a short warm-up, gradient clipping,
an EMA of the weights, a fixed seed, optional bf16 autocast on a GPU, and checkpoints that resume
**exactly**: N steps, save, resume, M steps gives the same weights as N + M steps straight.

Command line (the same on a CPU or a CUDA GPU)::

    python -m course_lib.train --config data/checkpoints/digits_unet.json        # train (resumes), export
    python -m course_lib.train --config ... --seconds 600                        # stop after 10 minutes

A config is JSON: ``name``, ``dataset`` (``"digits"``, ``"toy2d:spiral"``, or super-resolution pairs
``"digits_sr:4"`` (scale) and ``"photos_sr:2:32"`` (scale, HR patch size)), ``model`` (``kind`` ``"unet"``,
``"mlp"``, ``"sr3"``, ``"srcnn"`` or ``"regression_unet"`` plus its arguments; ``"sr3"`` takes ``scale``,
``residual``, ``residual_scale`` and the U-Net's arguments), ``objective`` (``"diffusion"``, or ``"regression"``
for the one-shot baselines: MSE between f(y) and HR), ``schedule``, ``T``, ``prediction``, ``batch_size``, ``lr``, ``steps``, ``warmup_steps``,
``ema_decay``, ``grad_clip``, ``seed``, ``log_every``, ``checkpoint_every``, ``autocast``, ``augment``
(random flips and 90° turns of each pair, for photos), ``init_from`` (start from a shipped model's weights:
an SR3 from the unconditional ``digits_unet``, the new input channels and injections starting at zero, so
that step 0 is the unconditional model; see :func:`init_from_pretrained`).
The resumable training state goes to ``runs/NAME/state.pt`` (ignored by git); the exported model (EMA
weights in float16, the config, the loss curve) to ``data/checkpoints/NAME.pt`` and ``NAME.log.json``.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from .data import DigitsSR, PhotosSR, data_dir, load_digits, load_manifest, register_data_file, to_tensor, toy_points
from .device import get_device
from .diffusion import GaussianDiffusion
from .models import SR3, SRCNN, MLPDenoiser, RegressionUNet, UNet
from .schedules import make_beta_schedule

__all__ = ["DEFAULTS", "Trainer", "build_model", "load_pretrained", "main"]

ROOT = Path(__file__).resolve().parent.parent
DEFAULTS = {
    "name": "model",
    "dataset": "digits",
    "model": {"kind": "unet"},
    "schedule": "cosine",
    "T": 1000,
    "prediction": "eps",
    "batch_size": 128,
    "lr": 2e-4,
    "steps": 10_000,
    "warmup_steps": 200,
    "ema_decay": 0.999,
    "grad_clip": 1.0,
    "seed": 0,
    "log_every": 50,
    "checkpoint_every": 1000,
    "autocast": True,
    "augment": False,
    "init_from": None,
    "objective": "diffusion",
}
SR3_KEYS = ("scale", "residual", "residual_scale")
REGRESSION_KINDS = ("srcnn", "regression_unet")
SR_KINDS = ("sr3", *REGRESSION_KINDS)
MODEL_KINDS = ("unet", "mlp", *SR_KINDS)


def normalise_config(config: dict) -> dict:
    unknown = set(config) - set(DEFAULTS) - {"description"}
    if unknown:
        raise ValueError(f"unknown config keys {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    out = {**DEFAULTS, **config}
    out["model"] = dict(out["model"])
    kind = out["model"].get("kind")
    if kind not in MODEL_KINDS:
        raise ValueError(f"model.kind must be one of {MODEL_KINDS}, got {kind!r}")
    if (kind in SR_KINDS) != out["dataset"].startswith(("digits_sr:", "photos_sr:")):
        raise ValueError(f"model.kind {SR_KINDS} goes with an SR dataset ('digits_sr:S', 'photos_sr:S:P') and only with one; "
                         f"got kind {kind!r} with dataset {out['dataset']!r}")
    if out["objective"] not in ("diffusion", "regression"):
        raise ValueError(f"objective must be 'diffusion' or 'regression', got {out['objective']!r}")
    if (out["objective"] == "regression") != (kind in REGRESSION_KINDS):
        raise ValueError(f"objective 'regression' goes with model.kind {REGRESSION_KINDS} and only with them; "
                         f"got objective {out['objective']!r} with kind {kind!r}")
    for key in ("batch_size", "steps", "log_every", "checkpoint_every", "T"):
        if not isinstance(out[key], int) or out[key] < 1:
            raise ValueError(f"{key} must be a positive int, got {out[key]!r}")
    if not 0 <= out["ema_decay"] < 1:
        raise ValueError(f"ema_decay must lie in [0, 1), got {out['ema_decay']}")
    return out


def build_model(model_config: dict, T: int = 1000, prediction: str = "eps") -> nn.Module:
    """The network a config describes: ``{"kind": "unet" | "mlp" | "sr3", **arguments}`` (an SR3 also
    records the config's ``prediction``)."""
    kwargs = {k: v for k, v in model_config.items() if k != "kind"}
    kwargs.setdefault("T", T)
    if "channel_mults" in kwargs:
        kwargs["channel_mults"] = tuple(kwargs["channel_mults"])
    if model_config["kind"] == "sr3":
        sr = {k: kwargs.pop(k) for k in SR3_KEYS if k in kwargs}
        return SR3(UNet(**kwargs), prediction=prediction, **sr)
    if model_config["kind"] == "srcnn":
        kwargs.pop("T")
        return SRCNN(**kwargs)
    if model_config["kind"] == "regression_unet":
        return RegressionUNet(**kwargs)
    return UNet(**kwargs) if model_config["kind"] == "unet" else MLPDenoiser(**kwargs)


def load_dataset(name: str) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """The training set of a config: digits ``(4000, 1, 32, 32)``, toy points ``(N, 2)``, or SR pairs
    ``(hr (N, C, H, W), lr (N, C, H/s, W/s))``: ``"digits_sr:S"`` all 4,000 training digits, ``"photos_sr:S:P"``
    1,024 random P × P crops of each training photo (fixed by seed 0)."""
    if name == "digits":
        return to_tensor(load_digits("train")[0])
    if name.startswith("toy2d:"):
        return toy_points(name.split(":", 1)[1], 20_000, seed=0)
    parts = name.split(":")
    try:
        if parts[0] == "digits_sr" and len(parts) == 2:
            return DigitsSR("train", scale=int(parts[1])).tensors()
        if parts[0] == "photos_sr" and len(parts) == 3:
            return PhotosSR("train", scale=int(parts[1]), patch_size=int(parts[2]), mode="random", samples_per_image=1024).tensors()
    except ValueError as err:
        raise ValueError(f"dataset {name!r}: {err}") from err
    raise ValueError(f"dataset must be 'digits', 'toy2d:NAME', 'digits_sr:SCALE' or 'photos_sr:SCALE:PATCH', got {name!r}")


def dihedral(x: torch.Tensor, k: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """Per-sample 90° turns (``k`` ``(B,)`` in 0…3) and horizontal flips (``flip`` ``(B,)`` bool) of ``(B, C, H, W)``.
    Area downsampling commutes with both, so an augmented pair is still a valid (HR, LR) pair."""
    out = torch.where(flip[:, None, None, None], x.flip(-1), x)
    for turns in (1, 2, 3):
        sel = k == turns
        if sel.any():
            out[sel] = torch.rot90(out[sel], turns, dims=(-2, -1))
    return out


class Trainer:
    """Train ``config``'s model on ``config``'s data (see the module docstring).

    Attributes:
        model, ema: the network and its exponential moving average (use ``ema`` for sampling);
        diffusion: the :class:`GaussianDiffusion`; step: optimisation steps done;
        history: list of ``(step, mean loss over the last log_every steps)``.
    """

    def __init__(self, config: dict, device: torch.device | str | None = None, data: torch.Tensor | None = None):
        self.config = normalise_config(config)
        c = self.config
        self.device = torch.device(device) if device is not None else get_device()
        torch.manual_seed(c["seed"])  # parameter initialisation
        self.model = build_model(c["model"], c["T"], c["prediction"]).to(self.device)
        if c["init_from"]:
            init_from_pretrained(self.model, c["init_from"])
        self.ema = copy.deepcopy(self.model).requires_grad_(False).eval()
        self.diffusion = GaussianDiffusion(make_beta_schedule(c["schedule"], c["T"])).to(self.device)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=c["lr"], weight_decay=0.0)
        data = load_dataset(c["dataset"]) if data is None else data
        self.data = tuple(d.to(self.device) for d in data) if isinstance(data, (tuple, list)) else data.to(self.device)
        self.n_items = (self.data[0] if isinstance(self.data, tuple) else self.data).shape[0]
        self.gen_data = torch.Generator().manual_seed(c["seed"] + 1)  # batch indices (CPU)
        self.gen_noise = torch.Generator(device=self.device).manual_seed(c["seed"] + 2)  # t and ε
        self.step = 0
        self.history: list[tuple[int, float]] = []
        self.elapsed = 0.0
        self._pending: list[float] = []

    # ------------------------------------------------------------------ steps
    def _lr(self) -> float:
        w = self.config["warmup_steps"]
        return self.config["lr"] * min(1.0, (self.step + 1) / w) if w else self.config["lr"]

    def train_step(self) -> float:
        c = self.config
        B = c["batch_size"]
        idx = torch.randint(0, self.n_items, (B,), generator=self.gen_data).to(self.device)
        cond = None
        if isinstance(self.data, tuple):  # SR pairs: x_0 is Eq. 04.3's target, the condition is y
            hr, cond = self.data[0][idx], self.data[1][idx]
            if c["augment"]:
                k = torch.randint(0, 4, (B,), generator=self.gen_data).to(self.device)
                flip = (torch.randint(0, 2, (B,), generator=self.gen_data) == 1).to(self.device)
                hr, cond = dihedral(hr, k, flip), dihedral(cond, k, flip)
            x0 = hr if c["objective"] == "regression" else self.model.target(hr, cond)
        else:
            x0 = self.data[idx]
        self.model.train()
        use_amp = c["autocast"] and self.device.type == "cuda"
        with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=use_amp):
            if c["objective"] == "regression":  # one-shot x̂ = f(y), mean squared error (lesson 05)
                loss = F.mse_loss(self.model(cond).float(), x0.float())
            else:
                loss = self.diffusion.loss(self.model, x0, cond, prediction=c["prediction"], generator=self.gen_noise)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if c["grad_clip"]:
            nn.utils.clip_grad_norm_(self.model.parameters(), c["grad_clip"])
        for group in self.opt.param_groups:
            group["lr"] = self._lr()
        self.opt.step()
        with torch.no_grad():
            d = c["ema_decay"]
            for pe, pm in zip(self.ema.parameters(), self.model.parameters()):
                pe.lerp_(pm, 1 - d)
            for be, bm in zip(self.ema.buffers(), self.model.buffers()):
                be.copy_(bm)
        self.step += 1
        value = float(loss.detach())
        self._pending.append(value)
        if len(self._pending) == c["log_every"]:
            self.history.append((self.step, sum(self._pending) / len(self._pending)))
            self._pending = []
        return value

    def train(self, steps: int | None = None, seconds: float | None = None, progress: bool = True,
              checkpoint_path: str | Path | None = None) -> "Trainer":
        """Train until ``config["steps"]`` in all (or ``steps`` more), or for ``seconds`` of wall time.

        Saves the resumable state to ``checkpoint_path`` every ``checkpoint_every`` steps and at the end.
        """
        from tqdm.auto import tqdm

        target = self.config["steps"] if steps is None else self.step + steps
        bar = tqdm(total=target, initial=self.step, desc=f"training {self.config['name']}", disable=not progress,
                   leave=False, mininterval=0.5)
        start = began = time.perf_counter()
        try:
            while self.step < target:
                if seconds is not None and time.perf_counter() - began >= seconds:
                    break
                loss = self.train_step()
                bar.update(1)
                if self.step % 10 == 0:
                    bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
                if checkpoint_path and self.step % self.config["checkpoint_every"] == 0:
                    self.elapsed += time.perf_counter() - start
                    start = time.perf_counter()
                    self.save(checkpoint_path)
        finally:
            self.elapsed += time.perf_counter() - start
            bar.close()
        if checkpoint_path:
            self.save(checkpoint_path)
        return self

    # ------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        return {
            "config": json.dumps(self.config),
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict(),
            "opt": self.opt.state_dict(),
            "step": self.step,
            "history": [list(h) for h in self.history],
            "pending": list(self._pending),
            "elapsed": self.elapsed,
            "rng_data": self.gen_data.get_state(),
            "rng_noise": self.gen_noise.get_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.opt.load_state_dict(state["opt"])
        self.step = int(state["step"])
        self.history = [tuple(h) for h in state["history"]]
        self._pending = list(state["pending"])
        self.elapsed = float(state["elapsed"])
        self.gen_data.set_state(state["rng_data"])
        self.gen_noise.set_state(state["rng_noise"].cpu())

    def save(self, path: str | Path) -> Path:
        """Write the full training state atomically (resumable with :meth:`resume`)."""
        return save_checkpoint(self.state_dict(), path)

    @classmethod
    def resume(cls, path: str | Path, device: torch.device | str | None = None, data: torch.Tensor | None = None) -> "Trainer":
        """A trainer in exactly the state :meth:`save` wrote."""
        state = load_checkpoint(path)
        trainer = cls(json.loads(state["config"]), device=device, data=data)
        trainer.load_state_dict(state)
        return trainer

    @classmethod
    def from_pretrained(cls, name: str, device: torch.device | str | None = None, data=None, **overrides) -> "Trainer":
        """A trainer whose model and EMA start from the shipped weights of ``name`` (a fresh optimiser):
        the lessons' "keep training" cells. ``overrides`` change config entries (e.g. ``steps``)."""
        ema, _, config = load_pretrained(name, device)
        trainer = cls({**config, **overrides}, device=device, data=data)
        trainer.model.load_state_dict(ema.state_dict())
        trainer.ema.load_state_dict(ema.state_dict())
        return trainer

    def export(self, path: str | Path) -> Path:
        """Write the shipped form: EMA weights in float16, the config and the training record."""
        return save_checkpoint({
            "config": json.dumps(self.config),
            "ema": {k: v.detach().to("cpu", torch.float16 if v.is_floating_point() else v.dtype) for k, v in self.ema.state_dict().items()},
            "step": self.step,
        }, path)


def load_pretrained(name: str, device: torch.device | str | None = None) -> tuple[nn.Module, GaussianDiffusion, dict]:
    """A shipped model: ``(ema_network in eval mode, diffusion, config)`` from ``data/checkpoints/NAME.pt``.

    The file's sha256 is checked against ``data/manifest.json`` and it is read with ``weights_only=True``;
    a missing or corrupt file is a :class:`CheckpointError`.
    """
    device = torch.device(device) if device is not None else get_device()
    rel = f"checkpoints/{name}.pt"
    files = load_manifest()["files"]
    if rel not in files:
        known = sorted(k[len("checkpoints/"):-3] for k in files if k.startswith("checkpoints/") and k.endswith(".pt"))
        raise CheckpointError(f"no shipped model named {name!r}; shipped models: {', '.join(known) or 'none'}")
    state = load_checkpoint(data_dir() / rel, expected_sha256=files[rel]["sha256"])
    config = normalise_config(json.loads(state["config"]))
    model = build_model(config["model"], config["T"], config["prediction"])
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state["ema"].items()})
    diffusion = GaussianDiffusion(make_beta_schedule(config["schedule"], config["T"]))
    return model.to(device).eval(), diffusion.to(device), config


def init_from_pretrained(model: nn.Module, name: str) -> nn.Module:
    """Copy a shipped model's weights into ``model`` (in place) where the names match.

    Where a shipped tensor is smaller than the new one (the first convolution of an SR3 that also reads U(y)),
    it fills the leading slice and the rest stays zero, so the new inputs start with no influence; new layers
    (the LR encoder, the injections P_ℓ) keep their zero initialisation. Shapes that cannot be embedded, or
    a shipped model whose weights would be left unused, are errors.
    """
    source, _, _ = load_pretrained(name, "cpu")
    src = source.state_dict()
    target = model.state_dict()
    prefix = "net." if isinstance(model, SR3) else ""
    used = set()
    with torch.no_grad():
        for key, value in target.items():
            skey = key[len(prefix):] if key.startswith(prefix) else key
            if skey not in src:
                continue
            w = src[skey].to(value.dtype)
            if w.shape == value.shape:
                value.copy_(w)
            elif w.dim() == value.dim() and all(a <= b for a, b in zip(w.shape, value.shape)):
                value.zero_()
                value[tuple(slice(0, n) for n in w.shape)] = w
            else:
                raise ValueError(f"init_from={name!r}: {skey} has shape {tuple(w.shape)}, cannot fill {tuple(value.shape)}")
            used.add(skey)
    unused = sorted(set(src) - used)
    if unused:
        raise ValueError(f"init_from={name!r}: the model has no place for {unused[:5]}{' …' if len(unused) > 5 else ''}")
    return model  # the state_dict's tensors are the model's own: filled in place above


def hardware(dev: torch.device) -> str:
    """One line naming the device training ran on, for the shipped training records."""
    if dev.type == "cuda":
        return f"{torch.cuda.get_device_name(dev)} (CUDA), torch {torch.__version__}"
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads, torch {torch.__version__}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.train", description="Train (or resume) a course model from its config, then export it.")
    parser.add_argument("--config", required=True, help="JSON config, e.g. data/checkpoints/digits_unet.json")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this much wall time (resume later)")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: COURSE_DEVICE or the best available)")
    parser.add_argument("--fresh", action="store_true", help="ignore an existing runs/NAME/state.pt and start over")
    parser.add_argument("--no-export", action="store_true", help="train only; do not write data/checkpoints/NAME.pt")
    args = parser.parse_args(argv)

    config_path = Path(args.config)
    if not config_path.is_file():
        parser.error(f"--config {config_path} does not exist")
    raw = json.loads(config_path.read_text(encoding="utf-8"))
    if raw.get("task") == "classifier":
        return _main_classifier(raw, config_path, get_device(args.device) if args.device else get_device())
    config = normalise_config(raw)
    state_path = ROOT / "runs" / config["name"] / "state.pt"
    device = get_device(args.device) if args.device else get_device()
    if state_path.exists() and not args.fresh:
        trainer = Trainer.resume(state_path, device=device)
        print(f"resumed {config['name']} at step {trainer.step} from {state_path}")
    else:
        trainer = Trainer(config, device=device)
    print(f"training {config['name']} on {hardware(device)} to step {config['steps']}")
    trainer.train(seconds=args.seconds, checkpoint_path=state_path)
    print(f"step {trainer.step}, last logged loss {trainer.history[-1][1] if trainer.history else float('nan'):.4f}, {trainer.elapsed:.0f} s in all")
    if args.no_export or trainer.step < config["steps"]:
        print("not exported (unfinished or --no-export); run the same command again to resume")
        return 0
    out = data_dir() / "checkpoints" / f"{config['name']}.pt"
    trainer.export(out)
    log = {"name": config["name"], "steps": trainer.step, "training_seconds": round(trainer.elapsed, 1),
           "hardware": hardware(device), "parameters": sum(p.numel() for p in trainer.model.parameters()),
           "loss_curve": [[s, round(v, 5)] for s, v in trainer.history]}
    log_path = out.with_suffix(".log.json")
    log_path.write_text(json.dumps(log, indent=1) + "\n", encoding="utf-8")
    for path, desc in ((out, f"EMA weights (float16) of {config['name']}, {log['parameters']:,} parameters, {trainer.step} steps"),
                       (log_path, f"training record of {config['name']}: loss curve, time, hardware")):
        register_data_file(path.relative_to(data_dir()).as_posix(), {
            "description": desc,
            "source": f"python -m course_lib.train --config {config_path.as_posix()} ({log['training_seconds']:.0f} s on {log['hardware']})",
            "licence": "MIT (trained by the course from the data above)",
        })
    print(f"exported {out} ({out.stat().st_size / 1e6:.1f} MB) and registered it in data/manifest.json")
    return 0


def _main_classifier(config: dict, config_path: Path, device: torch.device) -> int:
    from .classifier import export_classifier, train_classifier

    print(f"training {config['name']} on {hardware(device)}")
    model, record = train_classifier(config, device=device)
    out = data_dir() / "checkpoints" / f"{record['name']}.pt"
    export_classifier(model, record, out)
    log_path = out.with_suffix(".log.json")
    record["hardware"] = hardware(device)
    log_path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    source = f"python -m course_lib.train --config {config_path.as_posix()} ({record['training_seconds']:.0f} s on {record['hardware']})"
    for path, desc in ((out, f"digit classifier, {record['parameters']:,} parameters, test accuracy {record['test_accuracy']:.3f}"),
                       (log_path, f"training record of {record['name']}: loss curve, accuracy, time, hardware")):
        register_data_file(path.relative_to(data_dir()).as_posix(), {"description": desc, "source": source,
                                                                    "licence": "MIT (trained by the course from the data above)"})
    print(f"test accuracy {record['test_accuracy']:.4f} (bicubic x4 inputs: {record['test_accuracy_bicubic_x4']:.4f}); exported {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
