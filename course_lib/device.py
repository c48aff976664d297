"""Where tensors live and how random draws are seeded.

The course runs the same code on ``cpu``, ``cuda`` and ``mps``. Nothing in
``course_lib`` hard-codes a device: lessons call :func:`get_device` once and move
models and data there, and every random draw takes a ``torch.Generator`` made by
:func:`make_generator` (or seeded globally by :func:`seed_everything`).

Environment variable
--------------------
``COURSE_DEVICE``
    Forces the device (``cpu``, ``cuda``, ``cuda:1``, ``mps``). ``make test`` and
    ``make notebooks`` set ``COURSE_DEVICE=cpu`` so that stored notebook outputs do
    not depend on the machine that executed them.
"""

from __future__ import annotations

import contextlib
import os
import platform
import random
from typing import Sequence

import numpy as np
import torch

__all__ = [
    "get_device",
    "one_thread",
    "seed_everything",
    "make_generator",
    "describe_device",
    "describe_hardware",
    "per_image_generators",
    "randn",
]

_ENV = "COURSE_DEVICE"


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def get_device(prefer: str | torch.device | None = None) -> torch.device:
    """Pick the device the course computes on — the one device fallback of ``course_lib``.

    Order: the ``prefer`` argument (a name or a ``torch.device``), else the ``COURSE_DEVICE``
    environment variable, else ``cuda`` if available, else ``mps`` if available, else ``cpu``.
    Every function with a ``device=None`` argument resolves it here.

    Raises ``ValueError`` when the requested device is not a device name torch knows,
    and ``RuntimeError`` when it names a backend this machine does not have (so a
    typo or a missing GPU is reported instead of silently falling back to the CPU).
    """
    if isinstance(prefer, torch.device):
        prefer = str(prefer)
    requested = prefer if prefer is not None else os.environ.get(_ENV, "").strip()
    if requested:
        source = "prefer" if prefer is not None else _ENV
        try:
            device = torch.device(requested)
        except (RuntimeError, TypeError) as err:
            raise ValueError(
                f"{source}={requested!r} is not a device name; expected one of 'cpu', 'cuda', 'cuda:N' or 'mps'"
            ) from err
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"{source}={requested!r} asks for CUDA, but torch sees no CUDA GPU here")
        if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
            raise RuntimeError(
                f"{source}={requested!r} asks for GPU {device.index}, "
                f"but only {torch.cuda.device_count()} CUDA device(s) are visible"
            )
        if device.type == "mps" and not _mps_available():
            raise RuntimeError(f"{source}={requested!r} asks for MPS, but this machine has no MPS backend")
        if device.type not in {"cpu", "cuda", "mps"}:
            raise ValueError(f"{source}={requested!r}: the course supports 'cpu', 'cuda' and 'mps'")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def describe_device(device: torch.device | str | None = None) -> str:
    """One line naming the device, e.g. ``'cuda (NVIDIA H100)'`` or ``'cpu (2 threads)'``."""
    device = get_device() if device is None else torch.device(device)
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return device.type


def describe_hardware(device: torch.device | str | None = None) -> str:
    """The one line that names the machine in training records and cached evaluations.

    ``'x86_64 (cpu), torch 2.13.0+cpu, 2 threads'`` or ``'NVIDIA H200 (cuda), torch 2.11.0+cu130'``.
    """
    device = get_device(device)
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (cuda), torch {torch.__version__}"
    return (
        f"{platform.processor() or platform.machine()} ({device.type}), torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= int(seed) < 2**63:
        raise ValueError(f"seed must be in [0, 2**63), got {seed}")
    return int(seed)


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (all devices).

    Use it once at the top of a lesson; inside ``course_lib`` prefer passing an
    explicit ``generator`` (see :func:`make_generator`) to each random draw.
    """
    seed = _check_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


def make_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed``.

    Random draws for tensors on ``device`` must use a generator on the same device.
    """
    seed = _check_seed(seed)
    return torch.Generator(device=torch.device(device)).manual_seed(seed)


def per_image_generators(seeds: Sequence[int]) -> list[torch.Generator]:
    """One CPU generator per image, seeded with ``seeds[i]``: pass the list as ``generator`` to the samplers
    (and to :func:`randn`) so that image ``i``'s random draws never depend on the other images of its batch,
    nor on the device (CPU draws are moved to the device)."""
    return [torch.Generator().manual_seed(_check_seed(s)) for s in seeds]


def randn(
    shape: Sequence[int],
    generator: torch.Generator | Sequence[torch.Generator] | None = None,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Standard normal noise of ``shape`` ``(B, ...)`` on ``device``: the one random draw of the samplers.

    Args:
        generator: one ``torch.Generator`` for the whole batch (on ``device``; the draw then depends on the
            batch it is in), a sequence of ``B`` generators, one per image (each image's ``(...)`` noise is
            drawn from its own generator on that generator's device, then moved: independent of the batch
            and of the device), or ``None`` (torch's global generator).

    Returns:
        ``(B, ...)`` tensor of ``dtype`` on ``device``.
    """
    shape = tuple(int(s) for s in shape)
    if generator is None or isinstance(generator, torch.Generator):
        return torch.randn(shape, generator=generator, device=device, dtype=dtype)
    generators = list(generator)
    if not shape or len(generators) != shape[0]:
        raise ValueError(
            f"generator: expected one generator per image ({shape[0] if shape else 0}) or a single "
            f"torch.Generator, got a sequence of {len(generators)}"
        )
    out = [torch.randn(shape[1:], generator=g, device=g.device, dtype=dtype) for g in generators]
    return torch.stack(out).to(device)


@contextlib.contextmanager
def one_thread():
    """Run the block on one CPU thread (an experiment's runs: CPU-minutes comparable between runs, two of them side by
    side on two cores), then give the process its thread count back — a caller's later work keeps its own."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
