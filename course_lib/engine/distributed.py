"""Training on many processes (workflow layer): ``torchrun``, exact by construction, for every method.

``python -m course_lib.train`` runs unchanged under ``torchrun --standalone --nproc_per_node=N`` (gloo on a CPU, nccl
on CUDA GPUs, one GPU per process). The rule that keeps it exact: **every rank draws the whole global batch** — its
indices and augmentations from the data generator, t and ε from the loss's generator, all seeded alike — and the
network evaluates only the rank's slice of it. :class:`SliceModel` does that without touching any method: it stands
for the network, and every call a method makes on it — the network itself, ``model.encode(x)``, ``model.prior.q_sample
(…)``, any method of any submodule — cuts the rank's rows out of every batch-sized argument (nested in tuples, lists
and dicts too), runs the real call on them, and gathers the other ranks' outputs (as constants) back into a full
batch. Every rank then computes the same global loss, and its gradient holds only its own items' terms, so the
**sum** of the ranks' gradients (:func:`all_reduce_gradients`, one all-reduce of one flat buffer) is the
single-process gradient of the same global batch, up to the order of floating-point sums. The weights, the optimiser,
the EMA and both generators are then identical on every rank, so rank 0 alone logs and saves — and a run resumes on
any number of processes (the global batch must divide by it).

Why not PyTorch's DistributedDataParallel: its reducer hooks into one ``forward()`` per step, while the course's
methods call their networks' other methods (an autoencoder's ``encode`` then ``decode``, DiffIR's four-step prior
chain, a consistency model's target) and sometimes several times a step. The all-reduce after ``backward()`` is what
DDP does, written out: exact for any call pattern (it forgoes DDP's overlap of communication with the backward pass,
which matters little at the course's scale).

Not exact: a network with BatchNorm (statistics per slice; the digit classifier) or dropout (masks from the global
RNG) — it trains, identical on every rank (rank 0's buffers are broadcast after each step, as DDP does), but is not
equal to a single-process run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn

__all__ = [
    "DistContext",
    "from_environment",
    "init",
    "shutdown",
    "SliceModel",
    "agree",
    "all_reduce_gradients",
    "broadcast_state",
]


@dataclass(frozen=True)
class DistContext:
    """Where this process stands: ``rank`` of ``world_size`` processes (``local_rank`` on its machine)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        """More than one process: the trainer wraps its network in DDP and :class:`SliceModel`."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that logs, saves and exports."""
        return self.rank == 0


def from_environment(env: dict | None = None) -> DistContext:
    """The context ``torchrun`` describes in ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` (one process without them)."""
    env = os.environ if env is None else env
    try:
        ctx = DistContext(int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0)))
    except ValueError as err:
        raise ValueError(
            f"RANK, WORLD_SIZE, LOCAL_RANK: expected integers (torchrun sets them), got "
            f"{env.get('RANK')!r}, {env.get('WORLD_SIZE')!r}, {env.get('LOCAL_RANK')!r}"
        ) from err
    if not 0 <= ctx.rank < ctx.world_size:
        raise ValueError(f"RANK: expected 0 <= RANK < WORLD_SIZE = {ctx.world_size}, got {ctx.rank}")
    return ctx


def init(device: torch.device) -> tuple[DistContext, torch.device]:
    """Join the process group ``torchrun`` set up (gloo for a CPU, nccl for CUDA) and return the context and this
    rank's device (``cuda:LOCAL_RANK`` on GPUs). Without ``torchrun``: one process, ``device`` unchanged."""
    ctx = from_environment()
    if not ctx.active:
        return ctx, device
    import torch.distributed as dist

    if device.type == "cuda":
        device = torch.device("cuda", ctx.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return ctx, device


def shutdown(ctx: DistContext) -> None:
    """Leave the process group (a no-op for one process)."""
    if ctx.active:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def agree(ctx: DistContext, flag: bool) -> bool:
    """True on every rank when ``flag`` is true on any (a time limit, checked by each rank's clock, must stop all
    ranks at the same step or the next collective waits forever)."""
    if not ctx.active:
        return flag
    import torch.distributed as dist

    t = torch.tensor([1.0 if flag else 0.0])
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def _is_batch(a, batch_size: int) -> bool:
    return isinstance(a, torch.Tensor) and a.dim() > 0 and a.shape[0] == batch_size


def _map(fn, obj):
    """``fn`` applied to every tensor in ``obj`` (tuples, lists and dicts walked; other values kept)."""
    if isinstance(obj, torch.Tensor):
        return fn(obj)
    if isinstance(obj, (tuple, list)):
        return type(obj)(_map(fn, o) for o in obj)
    if isinstance(obj, dict):
        return {k: _map(fn, v) for k, v in obj.items()}
    return obj


class SliceModel:
    """A stand-in for ``module`` on this rank: every call made on it (the module, its methods, its submodules and
    theirs) evaluates this rank's rows of a global batch of ``batch_size`` and returns the whole batch's output — the
    rank's own rows (with gradients) between the other ranks' rows (gathered, constant).

    Every tensor argument whose first dimension is ``batch_size`` is sliced (x_t, t, the condition, nested in tuples,
    lists and dicts); others pass through. Outputs are tensors with the batch first, or tuples, lists and dicts of
    them. A call with no batch-sized argument runs whole on every rank, which is right for constants (``parameters()``,
    a frozen part) and refused when its output carries a gradient: every rank would count it once, N times in all.
    Attributes that are not callable (``model.scale``) are the module's own.
    """

    def __init__(self, module: nn.Module, ctx: DistContext, batch_size: int, _path: str = "model"):
        if batch_size % ctx.world_size:
            raise ValueError(
                f"batch_size: expected a multiple of the number of processes ({ctx.world_size}), got {batch_size}"
            )
        self.__dict__.update(
            module=module, ctx=ctx, batch_size=batch_size, share=batch_size // ctx.world_size, _path=_path
        )

    def __getattr__(self, name: str):
        value = getattr(self.module, name)
        if isinstance(value, nn.Module):
            return SliceModel(value, self.ctx, self.batch_size, f"{self._path}.{name}")
        if callable(value) and not isinstance(value, type):
            return lambda *args, **kwargs: self._call(value, f"{self._path}.{name}", False, args, kwargs)
        return value

    def __setattr__(self, name: str, value) -> None:
        setattr(self.module, name, value)

    def __deepcopy__(self, memo):
        """A copy of the network, not of the stand-in (a consistency model's target network is one)."""
        import copy

        return copy.deepcopy(self.module, memo)

    def __call__(self, *args, **kwargs):
        return self._call(self.module, self._path, True, args, kwargs)

    def _call(self, fn, what: str, needs_batch: bool, args, kwargs):
        B, share, ctx = self.batch_size, self.share, self.ctx
        lo = ctx.rank * share
        sliced = [False]

        def cut(a):
            if _is_batch(a, B):
                sliced[0] = True
                return a[lo : lo + share]
            return a

        args, kwargs = _map(cut, list(args)), _map(cut, kwargs)
        if not sliced[0]:
            if needs_batch:
                raise ValueError(
                    f"SliceModel: {what}() expected an argument with the global batch ({B}) first, got "
                    f"shapes {[tuple(a.shape) for a in args if isinstance(a, torch.Tensor)]}"
                )
            out = fn(*args, **kwargs)
            grads = []
            _map(lambda o: grads.append(o.requires_grad) or o, out)
            if any(grads):
                raise ValueError(
                    f"SliceModel: {what}() was called without an argument of the global batch ({B}) and "
                    f"returns a tensor with a gradient: each of the {ctx.world_size} processes would count "
                    f"its gradient once; pass the batch, or compute it under torch.no_grad()"
                )
            return out
        import torch.distributed as dist

        def gather(o):
            if o.dim() == 0 or o.shape[0] != share:
                raise TypeError(
                    f"SliceModel: {what}() must return tensors with the batch first ({share} rows on this "
                    f"rank), got shape {tuple(o.shape)}"
                )
            parts = [torch.empty_like(o) for _ in range(ctx.world_size)]
            if ctx.world_size > 1:
                dist.all_gather(parts, o.detach().contiguous())
            parts[ctx.rank] = o
            return torch.cat(parts)

        return _map(gather, fn(*args, **kwargs))


def broadcast_state(module: nn.Module, ctx: DistContext, buffers_only: bool = False) -> None:
    """Rank 0's parameters and buffers (or its buffers alone) on every rank: the start of training, and after each
    step the buffers a slice changes differently on each rank (BatchNorm's running statistics)."""
    if not ctx.active:
        return
    import torch.distributed as dist

    tensors = list(module.buffers()) + ([] if buffers_only else [p.data for p in module.parameters()])
    for t in tensors:
        dist.broadcast(t, src=0)


def all_reduce_gradients(module: nn.Module, ctx: DistContext) -> None:
    """Sum the parameters' gradients over the ranks in place (one all-reduce of one flat buffer). With
    :class:`SliceModel`, each rank's gradient holds its own items' terms of the global loss, so the sum is the global
    batch's gradient. Parameters without a gradient (the same on every rank) are left without one."""
    if not ctx.active:
        return
    import torch.distributed as dist

    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()
