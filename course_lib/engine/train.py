"""The trainer, generic over methods (workflow layer; lessons 02–05).

One loop for every model the course ships: draw a batch (indices from one generator), augment it, ask the
method for its loss (``method.loss(model, process, batch, generator)``: L_simple, Eq. 02.4, for the diffusion
methods; the MSE for the regression baselines; cross-entropy for the classifier), AdamW with a short warm-up (or a
one-cycle schedule), gradient clipping, an EMA of the weights, a fixed seed, optional bf16 autocast on a GPU, and
checkpoints that resume **exactly**: N steps, save, resume, M steps gives the same weights as N + M steps straight.

Command line (the same on a CPU or a CUDA GPU)::

    python -m course_lib.train --config data/checkpoints/digits_unet.json        # train (resumes), export
    python -m course_lib.train --config ... --seconds 600                        # stop after 10 minutes

A config is JSON with the fields of :class:`TrainConfig`: ``name``, ``dataset`` (see
:func:`course_lib.datasets.load_training_set`), ``method`` (a registered method: ``"ddpm"``, ``"sr3"``, ``"srcnn"``,
``"regression_unet"``, ``"classifier"``, …) and ``model`` (the method's config: its own fields plus the network's
arguments), then the process (``schedule``, ``T``, ``prediction``) and the optimisation (``batch_size``,
``learning_rate``, ``steps``, ``warmup_steps``, ``lr_schedule``, ``weight_decay``, ``ema_decay``, ``grad_clip``,
``seed``, ``log_every``, ``checkpoint_every``, ``autocast``, ``augment`` (random flips and 90° turns of every
image of a batch, for photos), ``init_from`` (start from a shipped model's weights, see
:func:`course_lib.engine.pretrained.init_from_pretrained`)). Configs of the previous release (``lr``, ``model.kind``,
``objective``, the classifier's ``task``/``epochs``) are still read.

The resumable training state goes to ``runs/NAME/state.pt`` (ignored by git); the exported model (EMA weights, the
config, the loss curve) to ``data/checkpoints/NAME.pt`` and ``NAME.log.json``.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import torch
from torch import nn

from ..checks import check_int
from ..datasets import dihedral as _dihedral
from ..device import describe_hardware, get_device
from .distributed import DistContext, SliceModel, agree, all_reduce_gradients, broadcast_state, init, shutdown
from ..files import data_dir, load_checkpoint, register_data_file, save_checkpoint
from ..methods import get_method
from .config import LR_SCHEDULES, TrainConfig, as_config

__all__ = ["TrainConfig", "Trainer", "LR_SCHEDULES", "strip_borrowed", "checkpoint_order", "export_run", "main"]

ROOT = Path(__file__).resolve().parents[2]  # the repository (course_lib/engine/train.py)


def _as_tensors(data) -> dict[str, torch.Tensor]:
    """Training data given directly: a tensor (``{"x"}``), a ``(hr, y)`` pair, or a dict of tensors."""
    if isinstance(data, torch.Tensor):
        return {"x": data}
    if isinstance(data, (tuple, list)):
        if len(data) != 2:
            raise ValueError(f"data as a sequence must be (hr, y), got {len(data)} items")
        return {"x": data[0], "y": data[1]}
    if isinstance(data, dict):
        return dict(data)
    raise TypeError(f"data must be a tensor, an (hr, y) pair or a dict of tensors, got {type(data).__name__}")


class Trainer:
    """Train a config's method on its data (see the module docstring).

    Attributes:
        config: the :class:`TrainConfig`; method: its :class:`~course_lib.methods.Method`;
        model, ema: the network and its exponential moving average (use ``ema`` for sampling);
        tensors: the training set on the device (``{"x": …, "y": …}``), data: the same in its plain form;
        diffusion: the :class:`GaussianDiffusion` (``None`` for methods without a process); step: optimisation steps
        done; history: list of ``(step, mean loss over the last log_every steps)``.
    """

    def __init__(
        self,
        config: TrainConfig | dict,
        device: torch.device | str | None = None,
        data=None,
        dist: DistContext | None = None,
    ):
        from .pretrained import init_from_pretrained
        from .pretrained import load as load_shipped

        self.config = c = as_config(config)
        self.device = get_device(device)
        self.dist = dist or DistContext()
        self.method = get_method(c.method)(c)
        torch.manual_seed(c.seed)  # parameter initialisation
        self.model = self.method.build().to(self.device)
        if c.init_from:
            init_from_pretrained(self.model, c.init_from)
        self.method.initialise(self.model, lambda name: load_shipped(name, self.device).model)
        self.ema = copy.deepcopy(self.model).requires_grad_(False).eval()
        self.method.setup(lambda name: load_shipped(name, self.device).model, self.device)
        process = self.method.make_process()  # a GaussianDiffusion, a LinearPath (lesson 11) or None
        self.diffusion = None if process is None else process.to(self.device)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=c.learning_rate, weight_decay=c.weight_decay)
        self.scheduler = (
            torch.optim.lr_scheduler.OneCycleLR(self.opt, c.learning_rate, total_steps=c.steps)
            if c.lr_schedule == "onecycle"
            else None
        )
        tensors = self.method.training_set(c.dataset) if data is None else _as_tensors(data)
        self.tensors = {k: v.to(self.device) for k, v in tensors.items()}
        sizes = {v.shape[0] for v in self.tensors.values()}
        if len(sizes) != 1:
            raise ValueError(f"the training tensors must have the same number of items, got {sorted(sizes)}")
        self.n_items = sizes.pop()
        # many processes (course_lib.engine.distributed): every rank draws the global batch, the network sees the rank's
        # slice of it, and the ranks' gradients are summed after backward()
        self._loss_model = self.model
        if self.dist.active:
            broadcast_state(self.model, self.dist)
            self.ema.load_state_dict(self.model.state_dict())
            self._loss_model = SliceModel(self.model, self.dist, c.batch_size)
        self.gen_data = torch.Generator().manual_seed(c.seed + 1)  # batch indices and augmentation (CPU)
        self.gen_noise = torch.Generator(device=self.device).manual_seed(c.seed + 2)  # what the loss draws: t and ε
        self.step = 0
        self.history: list[tuple[int, float]] = []
        self.elapsed = 0.0
        self._pending: list[float] = []

    @property
    def data(self):
        """The training data on the device: a tensor ``(N, ...)`` for unlabelled data, ``(hr, y)`` for SR pairs, else
        the dict :attr:`tensors` (``{"x", …}``) the batches are drawn from."""
        keys = set(self.tensors)
        if keys == {"x"}:
            return self.tensors["x"]
        if keys == {"x", "y"}:
            return self.tensors["x"], self.tensors["y"]
        return self.tensors

    # ------------------------------------------------------------------ steps
    def _lr(self) -> float:
        w, rate = self.config.warmup_steps, self.config.learning_rate
        return rate * min(1.0, (self.step + 1) / w) if w else rate

    def next_batch(self) -> dict[str, torch.Tensor]:
        """Draw the next batch: ``batch_size`` random items (and, with ``augment``, one random turn and flip per
        item, applied alike to every image of it — area downsampling commutes with both, so SR pairs stay valid)."""
        B = self.config.batch_size
        idx = torch.randint(0, self.n_items, (B,), generator=self.gen_data).to(self.device)
        batch = {k: v[idx] for k, v in self.tensors.items()}
        if self.config.augment:
            k = torch.randint(0, 4, (B,), generator=self.gen_data).to(self.device)
            flip = (torch.randint(0, 2, (B,), generator=self.gen_data) == 1).to(self.device)
            batch = {key: _dihedral(v, k, flip) if v.dim() == 4 else v for key, v in batch.items()}
        return batch

    def backward(self) -> torch.Tensor:
        """Draw the next batch, compute the method's loss on it and its gradient (left in the parameters' ``.grad``;
        with N processes, every rank holds the global batch's gradient). Returns the loss (detached)."""
        batch = self.next_batch()
        self.model.train()
        use_amp = self.config.autocast and self.device.type == "cuda"
        with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=use_amp):
            loss = self.method.loss(self._loss_model, self.diffusion, batch, self.gen_noise)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        # with N processes each rank's gradient holds only its slice's items: their sum is the global batch's
        all_reduce_gradients(self.model, self.dist)
        return loss.detach()

    def train_step(self) -> float:
        """One optimisation step on the next batch: the method's loss (:meth:`backward`), AdamW, clipping, the LR
        schedule, the EMA. Returns the batch's loss."""
        c = self.config
        loss = self.backward()
        if c.grad_clip:
            nn.utils.clip_grad_norm_(self.model.parameters(), c.grad_clip)
        if self.scheduler is None:
            for group in self.opt.param_groups:
                group["lr"] = self._lr()
        self.opt.step()
        if self.scheduler is not None:
            self.scheduler.step()
        broadcast_state(self.model, self.dist, buffers_only=True)  # BatchNorm's statistics: rank 0's on every rank
        with torch.no_grad():
            for pe, pm in zip(self.ema.parameters(), self.model.parameters()):
                pe.lerp_(pm, 1 - c.ema_decay)
            for be, bm in zip(self.ema.buffers(), self.model.buffers()):
                be.copy_(bm)
        self.step += 1
        value = float(loss.detach())
        self._pending.append(value)
        if len(self._pending) == c.log_every:
            self.history.append((self.step, sum(self._pending) / len(self._pending)))
            self._pending = []
        return value

    def train(
        self,
        steps: int | None = None,
        seconds: float | None = None,
        progress: bool = True,
        checkpoint_path: str | Path | None = None,
        min_steps: int = 0,
    ) -> "Trainer":
        """Train until ``config.steps`` in all (or ``steps`` more), or for ``seconds`` of wall time — but at least
        ``min_steps`` more steps (a live run in a lesson on a slow or busy machine still shows its loss fall).

        Saves the resumable state to ``checkpoint_path`` every ``checkpoint_every`` steps and at the end.
        """
        from tqdm.auto import tqdm

        min_steps = check_int(min_steps, "min_steps", low=0)
        floor = self.step + min_steps
        target = self.config.steps if steps is None else self.step + steps
        bar = tqdm(
            total=target,
            initial=self.step,
            desc=f"training {self.config.name}",
            disable=not progress or not self.dist.is_main,
            leave=False,
            mininterval=0.5,
        )
        start = began = time.perf_counter()
        try:
            while self.step < target:
                if (
                    seconds is not None
                    and self.step >= floor
                    and agree(self.dist, time.perf_counter() - began >= seconds)
                ):
                    break  # (every rank stops at the same step)
                loss = self.train_step()
                bar.update(1)
                if self.step % 10 == 0:
                    bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
                if checkpoint_path and self.step % self.config.checkpoint_every == 0:
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
        """Everything :meth:`resume` needs: config, weights, EMA, optimiser (and LR schedule), step, log, generators."""
        state = {
            "config": json.dumps(self.config.to_dict()),
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
        if self.scheduler is not None:
            state["scheduler"] = self.scheduler.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict` (the exact state: training continues as if never interrupted)."""
        self.model.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.opt.load_state_dict(state["opt"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.step = int(state["step"])
        self.history = [tuple(h) for h in state["history"]]
        self._pending = list(state["pending"])
        self.elapsed = float(state["elapsed"])
        self.gen_data.set_state(state["rng_data"])
        self.gen_noise.set_state(state["rng_noise"].cpu())

    def save(self, path: str | Path) -> Path:
        """Write the full training state atomically (resumable with :meth:`resume`). With many processes rank 0
        writes it (the state is the same on every rank) and the others wait until it is written."""
        path = Path(path)
        if self.dist.is_main:
            save_checkpoint(self.state_dict(), path)
        if self.dist.active:
            import torch.distributed

            torch.distributed.barrier()
        return path

    @classmethod
    def resume(
        cls, path: str | Path, device: torch.device | str | None = None, data=None, dist: DistContext | None = None
    ) -> "Trainer":
        """A trainer in exactly the state :meth:`save` wrote (on any number of processes: the state is global)."""
        state = load_checkpoint(path)
        trainer = cls(
            TrainConfig.from_dict(json.loads(state["config"]), warn=False), device=device, data=data, dist=dist
        )
        trainer.load_state_dict(state)
        return trainer

    @classmethod
    def from_pretrained(cls, name: str, device: torch.device | str | None = None, data=None, **overrides) -> "Trainer":
        """A trainer whose model and EMA start from the shipped weights of ``name`` (a fresh optimiser):
        the lessons' "keep training" cells. ``overrides`` change config fields (e.g. ``steps``)."""
        from .pretrained import load

        shipped = load(name, device)
        trainer = cls(shipped.config.replace(**overrides), device=device, data=data)
        trainer.model.load_state_dict(shipped.model.state_dict())
        trainer.ema.load_state_dict(shipped.model.state_dict())
        return trainer

    def export(self, path: str | Path) -> Path:
        """Write the shipped form: EMA weights (in the method's export dtype, float16 by default) and the config;
        frozen parts borrowed from other shipped models (:meth:`Method.borrowed`) are left out and named instead."""
        dtype = self.method.export_dtype
        ema = {
            k: v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype)
            for k, v in self.ema.state_dict().items()
        }
        ema, borrowed = strip_borrowed(ema, self.method.borrowed())
        return save_checkpoint(
            {
                "config": json.dumps(self.config.to_dict()),
                "ema": ema,
                "step": self.step,
                **({"borrowed": json.dumps(borrowed)} if borrowed else {}),
            },
            path,
        )


def strip_borrowed(weights: dict[str, torch.Tensor], borrowed: dict[str, tuple[str, str]]) -> tuple[dict, dict]:
    """``weights`` without the parts ``borrowed`` from shipped models, and what to write instead: per prefix the
    model, its prefix and the sha256 of its file now. Refuses (``ValueError``) when a part differs from the shipped
    model's — a part that moved in training is not borrowed and must be stored."""
    if not borrowed:
        return weights, {}
    from ..files import load_manifest
    from .pretrained import load

    files, kept, record = load_manifest()["files"], dict(weights), {}
    for prefix, (name, source_prefix) in borrowed.items():
        source = {
            k[len(source_prefix) :]: v
            for k, v in load(name, "cpu").model.state_dict().items()
            if k.startswith(source_prefix)
        }
        mine = {k[len(prefix) :]: kept.pop(k) for k in list(kept) if k.startswith(prefix)}
        if set(mine) != set(source):
            raise ValueError(
                f"borrowed part {prefix!r}: expected the tensors of {name!r} ({len(source)}), got {len(mine)}"
            )
        moved = [k for k, v in mine.items() if not torch.equal(v.float(), source[k].float())]
        if moved:
            raise ValueError(
                f"borrowed part {prefix!r} differs from the shipped {name!r} in {moved[:3]}: it trained, so "
                "it must be stored (remove it from the method's borrowed())"
            )
        record[prefix] = {"model": name, "prefix": source_prefix, "sha256": files[f"checkpoints/{name}.pt"]["sha256"]}
    return kept, record


def checkpoint_order(folder: str | Path) -> list[Path]:
    """The configs ``folder/*.json`` (training records excluded) in an order that trains every model after the shipped
    models it starts from or reads (``init_from``, and any name in ``model`` — SRDiff's ``encoder``, ResDiff's
    ``cnn``, DiffIR's ``stage1``, a distillation ``teacher``): alphabetical otherwise, so a stage-2 model is never
    retrained from a stale stage 1."""
    paths = sorted(p for p in Path(folder).glob("*.json") if not p.name.endswith(".log.json"))
    names = {p.stem: p for p in paths}
    needs: dict[str, set[str]] = {}
    for p in paths:
        config = json.loads(p.read_text(encoding="utf-8"))
        refs = {config.get("init_from")} | {v for v in (config.get("model") or {}).values() if isinstance(v, str)}
        needs[p.stem] = {r for r in refs if r in names and r != p.stem}
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise ValueError(f"the configs in {folder} refer to each other in a cycle through {name!r}")
        visiting.add(name)
        for dep in sorted(needs[name]):
            visit(dep)
        visiting.discard(name)
        order.append(name)

    for name in sorted(names):
        visit(name)
    return [names[n] for n in order]


def main(argv: list[str] | None = None) -> int:
    """``python -m course_lib.train --config FILE``: train (or resume) a course model, then export and register it.

    Under ``torchrun --standalone --nproc_per_node=N`` the same command trains on N processes
    (:mod:`course_lib.engine.distributed`): rank 0 logs, saves and exports; the others train in step."""
    parser = argparse.ArgumentParser(
        prog="python -m course_lib.train",
        description="Train (or resume) a course model from its config, then export it.",
    )
    parser.add_argument("--config", help="JSON config, e.g. data/checkpoints/digits_unet.json")
    parser.add_argument(
        "--order", metavar="FOLDER", help="print FOLDER's configs in training order (dependencies first) and stop"
    )
    parser.add_argument("--seconds", type=float, default=None, help="stop after this much wall time (resume later)")
    parser.add_argument("--until", type=int, default=None, metavar="STEP", help="stop at this step (resume later)")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: COURSE_DEVICE or the best available)")
    parser.add_argument("--fresh", action="store_true", help="ignore an existing runs/NAME/state.pt and start over")
    parser.add_argument("--no-export", action="store_true", help="train only; do not write data/checkpoints/NAME.pt")
    parser.add_argument("--runs", default=str(ROOT / "runs"), help="folder of the resumable states (default: runs/)")
    args = parser.parse_args(argv)
    if args.order:
        print("\n".join(str(p) for p in checkpoint_order(args.order)))
        return 0
    if not args.config:
        parser.error("--config is required (or --order FOLDER)")
    config_path = Path(args.config)
    if not config_path.is_file():
        parser.error(f"--config {config_path} does not exist")
    if args.until is not None and args.until < 1:
        parser.error(f"--until: expected a positive step, got {args.until}")
    config = _read_config(config_path, parser)
    state_path = Path(args.runs) / config.name / "state.pt"
    ctx, device = init(get_device(args.device))
    say = print if ctx.is_main else (lambda *a, **k: None)
    try:
        if state_path.exists() and not args.fresh:
            trainer = Trainer.resume(state_path, device=device, dist=ctx)
            say(f"resumed {config.name} at step {trainer.step} from {state_path}")
        else:
            try:  # what only building the run can check (the dataset, the network's arguments, a borrowed model)
                trainer = Trainer(config, device=device, dist=ctx)
            except (ValueError, TypeError, KeyError) as err:
                _config_error(parser, config_path, err)
        where = describe_hardware(device) + (f", {ctx.world_size} processes" if ctx.active else "")
        target = config.steps if args.until is None else min(args.until, config.steps)
        say(f"training {config.name} ({config.method}) on {where} to step {target}")
        trainer.train(steps=max(target - trainer.step, 0), seconds=args.seconds, checkpoint_path=state_path)
        logged = (
            f"last logged loss {trainer.history[-1][1]:.4f}"
            if trainer.history
            else f"no loss logged yet (every {config.log_every} steps)"
        )
        say(f"step {trainer.step}, {logged}, {trainer.elapsed:.0f} s in all")
        if args.no_export or trainer.step < config.steps:
            say("not exported (unfinished or --no-export); run the same command again to resume")
            return 0
        if ctx.is_main:
            export_run(trainer, config, config_path, where)
        return 0
    finally:
        shutdown(ctx)


def _read_config(path: Path, parser: argparse.ArgumentParser) -> TrainConfig:
    """The config in ``path``, or one line on stderr naming the file, the field and what was expected (exit 2)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        parser.exit(
            2, f"{parser.prog}: error: {path}: not valid JSON: {err.msg} (line {err.lineno}, column {err.colno})\n"
        )
    except (OSError, UnicodeDecodeError) as err:
        parser.exit(2, f"{parser.prog}: error: {path}: cannot be read: {err}\n")
    try:
        return TrainConfig.from_dict(raw)
    except (ValueError, TypeError, KeyError) as err:
        _config_error(parser, path, err)


def _config_error(parser: argparse.ArgumentParser, path: Path, err: Exception) -> None:
    """Exit with one line naming the config file and the error (a KeyError's message without its quotes)."""
    message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
    parser.exit(2, f"{parser.prog}: error: {path}: {str(message).replace(chr(10), ' ')}\n")


def export_run(trainer: Trainer, config: TrainConfig, config_path: Path, where: str) -> None:
    """Write data/checkpoints/NAME.pt and its training record (``where``: the hardware line), and register both in
    the manifest with the command that made them (``config_path``)."""
    out = data_dir() / "checkpoints" / f"{config.name}.pt"
    trainer.export(out)
    log = {
        "name": config.name,
        "method": config.method,
        "steps": trainer.step,
        "training_seconds": round(trainer.elapsed, 1),
        "hardware": where,
        "parameters": sum(p.numel() for p in trainer.model.parameters()),
        **trainer.method.record(trainer.ema),
        "loss_curve": [[s, round(v, 5)] for s, v in trainer.history],
    }
    log_path = out.with_suffix(".log.json")
    log_path.write_text(json.dumps(log, indent=1) + "\n", encoding="utf-8")
    for path, desc in (
        (
            out,
            f"EMA weights of {config.name} ({config.method}), {log['parameters']:,} parameters, {trainer.step} steps",
        ),
        (log_path, f"training record of {config.name}: loss curve, time, hardware"),
    ):
        register_data_file(
            path.relative_to(data_dir()).as_posix(),
            {
                "description": desc,
                "source": f"python -m course_lib.train --config {config_path.as_posix()} "
                f"({log['training_seconds']:.0f} s on {log['hardware']})",
                "licence": "MIT (trained by the course from the data above)",
            },
        )
    print(f"exported {out} ({out.stat().st_size / 1e6:.1f} MB) and registered it in data/manifest.json")


if __name__ == "__main__":
    sys.exit(main())
