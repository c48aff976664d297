"""Training on many processes (workflow layer): ``torchrun`` + PyTorch's DistributedDataParallel, exact by construction.

``python -m course_lib.train`` runs unchanged under ``torchrun --standalone --nproc_per_node=N`` (gloo on a CPU, nccl
on CUDA GPUs, one GPU per process). The rule that keeps it exact: **every rank draws the whole global batch** — its
indices and augmentations from the data generator, t and ε from the loss's generator, all seeded alike — and the
network evaluates only the rank's slice of it. :class:`SliceModel` does that without touching any method: it cuts the
rank's rows out of every batch-sized argument, runs the (DDP-wrapped) network on them, and gathers the other ranks'
outputs (as constants) back into a full batch, so every rank computes the same global loss. Its gradient on rank r is
that of the rank's own items; DDP averages the ranks' gradients, so the trainer scales the loss by N, and the step is
the single-process step on the same global batch (up to the order of floating-point sums). The weights, the
optimiser, the EMA and both generators are then identical on every rank, so rank 0 alone logs and saves — and a run
resumes on any number of processes (the global batch must divide by it).

Not exact: a network with BatchNorm (statistics per slice; the digit classifier) or dropout (masks from the global
RNG) — it trains, but is not equal to a single-process run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["DistContext", "from_environment", "init", "shutdown", "SliceModel", "agree"]


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
        raise ValueError(f"RANK, WORLD_SIZE, LOCAL_RANK: expected integers (torchrun sets them), got "
                         f"{env.get('RANK')!r}, {env.get('WORLD_SIZE')!r}, {env.get('LOCAL_RANK')!r}") from err
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


class SliceModel(nn.Module):
    """Evaluate ``module`` on this rank's rows of a global batch of ``batch_size`` and return the whole batch's
    output: the rank's own rows (with gradients) between the other ranks' rows (gathered, constant).

    Every tensor argument whose first dimension is ``batch_size`` is sliced (x_t, t, the condition); others pass
    through. Outputs must be one tensor with the batch first."""

    def __init__(self, module: nn.Module, ctx: DistContext, batch_size: int):
        super().__init__()
        if batch_size % ctx.world_size:
            raise ValueError(f"batch_size: expected a multiple of the number of processes ({ctx.world_size}), "
                             f"got {batch_size}")
        self.module, self.ctx, self.batch_size = module, ctx, batch_size
        self.share = batch_size // ctx.world_size

    def forward(self, *args, **kwargs):
        import torch.distributed as dist

        lo, B = self.ctx.rank * self.share, self.batch_size
        sliced = [False]

        def cut(a):
            if isinstance(a, torch.Tensor) and a.dim() > 0 and a.shape[0] == B:
                sliced[0] = True
                return a[lo : lo + self.share]
            return a

        args = [cut(a) for a in args]
        kwargs = {k: cut(v) for k, v in kwargs.items()}
        if not sliced[0]:
            raise ValueError(f"SliceModel: expected an argument with the global batch ({B}) first, got shapes "
                             f"{[tuple(a.shape) for a in args if isinstance(a, torch.Tensor)]}")
        out = self.module(*args, **kwargs)
        if not isinstance(out, torch.Tensor) or out.shape[0] != self.share:
            raise TypeError(f"SliceModel: the network must return one tensor with the batch first, got {type(out).__name__}")
        parts = [torch.empty_like(out) for _ in range(self.ctx.world_size)]
        dist.all_gather(parts, out.detach().contiguous())
        parts[self.ctx.rank] = out
        return torch.cat(parts)
