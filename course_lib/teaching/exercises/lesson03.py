"""Exercises of lesson 03: the sinusoidal embedding (Eq. 03.1), and a bug hunt (swapped sin / cos)."""

from __future__ import annotations

import torch

from . import Exercise, Mismatch, close, register, run_check

__all__ = ["check_sinusoidal", "check_fixed_embedding", "buggy_embedding"]


def _reference(
    t: torch.Tensor, dim: int, sin_first: bool = True, layout: str = "interleaved", exponent: str = "2i"
) -> torch.Tensor:
    i = torch.arange(dim // 2, dtype=torch.float64)
    if exponent == "2i":
        angles = t.double()[:, None] / 10000 ** (2 * i / dim)
    elif exponent == "i":
        angles = t.double()[:, None] / 10000 ** (i / dim)
    else:  # "mul"
        angles = t.double()[:, None] * 10000 ** (2 * i / dim)
    a, b = (angles.sin(), angles.cos()) if sin_first else (angles.cos(), angles.sin())
    if layout == "interleaved":
        return torch.stack([a, b], -1).reshape(t.shape[0], dim)
    return torch.cat([a, b], -1)


def _column_exponent(t: torch.Tensor, dim: int) -> torch.Tensor:
    """The mistake of giving column k the exponent k/d (so odd columns get (2i+1)/d)."""
    k = torch.arange(dim, dtype=torch.float64)
    angles = t.double()[:, None] / 10000 ** (k / dim)
    out = angles.sin()
    out[:, 1::2] = angles[:, 1::2].cos()
    return out


def _test_embedding(fn) -> None:
    t = torch.tensor([0, 1, 7, 250, 999])
    dim = 16
    out = fn(t.clone(), dim)
    if out is None:
        raise Mismatch("your function returned None: did you forget `return`?")
    if not isinstance(out, torch.Tensor) or out.shape != (5, dim):
        raise Mismatch(
            "expected a tensor of shape (5, {dim}) for 5 timesteps and d = {dim}, got {getattr_out}.",
            dim=dim,
            getattr_out=getattr(out, 'shape', type(out).__name__),
        )
    out = out.double()
    ref = _reference(t, dim)
    if close(out, ref, atol=1e-4):
        return
    if close(out, _reference(t, dim, sin_first=False), atol=1e-4):
        raise Mismatch(
            "sin and cos are swapped: column 2i is sin(t / 10000^(2i/d)) and column 2i+1 is the cos. "
            "A tell-tale sign: TE(0) should be [0, 1, 0, 1, …]."
        )
    if close(out, _reference(t, dim, layout="halves"), atol=1e-4):
        raise Mismatch(
            "that is the [sin | cos] halves layout (Eq. 03.2): the same numbers in another column order. "
            "Eq. 03.1 interleaves them: sin, cos, sin, cos, …"
        )
    if close(out, _reference(t, dim, exponent="i"), atol=1e-4):
        raise Mismatch("the exponent is 2i/d, not i/d: the pair (2i, 2i+1) shares the frequency 1 / 10000^(2i/d).")
    if close(out, _column_exponent(t, dim), atol=1e-4):
        raise Mismatch(
            "columns 2i and 2i+1 must share one frequency, 1 / 10000^(2i/d); you gave column k the exponent k/d."
        )
    if close(out[:2], _reference(t, dim, exponent="mul")[:2], atol=1e-3):  # t = 0, 1: angles small enough for float32
        raise Mismatch("divide t by 10000^(2i/d): the frequencies fall from 1 to about 1/10000 along the dimensions.")
    raise Mismatch(
        "TE(7) starts {v_tolist} where {v_tolist2} was expected.",
        v_tolist=[round(v, 3) for v in out[2, :4].tolist()],
        v_tolist2=[round(v, 3) for v in ref[2, :4].tolist()],
    )


def buggy_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """A sinusoidal embedding with one bug (find it in lesson 03)."""
    i = torch.arange(dim // 2, device=t.device, dtype=torch.float32)
    angles = t.float()[:, None] / 10000 ** (2 * i / dim)
    return torch.stack([angles.cos(), angles.sin()], dim=-1).reshape(t.shape[0], dim)


SINUSOIDAL = register(Exercise("03", 1, "sinusoidal_embedding", _test_embedding))
FIXED = register(Exercise("03", 2, "fixed_embedding", _test_embedding))


def check_sinusoidal(fn):
    """Check ``fn(t (B,), dim) -> (B, dim)`` against Eq. 03.1 (interleaved sin / cos)."""
    return run_check(SINUSOIDAL, fn)


def check_fixed_embedding(fn):
    """Check the repaired version of :func:`buggy_embedding` against Eq. 03.1."""
    return run_check(FIXED, fn)
