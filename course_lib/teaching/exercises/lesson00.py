"""Exercises of lesson 00: PSNR by hand (Eq. 00.2) and area downsampling (Eq. 00.1)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from . import Exercise, Mismatch, close, psnr01, register, run_check

__all__ = ["check_psnr", "check_area_downsample"]


def _pairs() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(7)
    target = torch.rand(3, 1, 16, 16, generator=g) * 2 - 1
    noise = torch.randn(3, 1, 16, 16, generator=g) * torch.tensor([0.02, 0.1, 0.3]).reshape(3, 1, 1, 1)
    return (target + noise).clamp(-1, 1), target


def _test_psnr(fn) -> None:
    pred, target = _pairs()
    out = fn(pred, target)
    if out is None:
        raise Mismatch("your function returned None: did you forget `return`?")
    out = torch.as_tensor(out, dtype=torch.float64)
    ref = psnr01(pred, target).double()
    if out.shape != ref.shape:
        if out.numel() == 1:
            raise Mismatch(
                "you returned one number ({out:.2f}) for a batch of {ref} images: "
                "average the squared error per image (over C, H, W), not over the "
                "whole batch.",
                out=float(out),
                ref=ref.shape[0],
            )
        raise Mismatch(
            "expected one PSNR per image, shape {ref_shape}, got shape {out_shape}.",
            ref_shape=tuple(ref.shape),
            out_shape=tuple(out.shape),
        )
    if close(out, ref, atol=1e-3):
        return
    diff = (out - ref).mean().item()
    if abs(diff + 20 * math.log10(2)) < 0.01:
        raise Mismatch(
            "your PSNR is {diff:.2f} dB too low: the images are in [-1, 1], so the "
            "peak-to-peak range is 2. Map both to [0, 1] first, (x + 1) / 2, and "
            "use MAX = 1.",
            diff=-diff,
        )
    if close(out, ref / 10, atol=1e-3):
        raise Mismatch("your PSNR is 10 times too small: PSNR = 10 · log10(MAX² / MSE), in decibels.")
    if close(out, ref * math.log(10), atol=1e-3):
        raise Mismatch("use log10, not the natural log: decibels are 10 · log10(ratio).")
    if close(out, ref / 2, atol=1e-3):
        raise Mismatch(
            "your PSNR is half the expected value: with the RMSE use 20 · log10(MAX / RMSE); with the MSE, 10 · "
            "log10(MAX² / MSE)."
        )
    raise Mismatch(
        "for the first image your PSNR is {out:.2f} dB where {ref:.2f} dB was expected.",
        out=out[0].item(),
        ref=ref[0].item(),
    )


def _test_area(fn) -> None:
    g = torch.Generator().manual_seed(3)
    x = torch.rand(2, 3, 8, 12, generator=g) * 2 - 1
    for s in (2, 4):
        ref = F.avg_pool2d(x, s)
        out = fn(x, s)
        if out is None:
            raise Mismatch("your function returned None: did you forget `return`?")
        if not isinstance(out, torch.Tensor):
            raise Mismatch("return a torch.Tensor, got {out_type}.", out_type=type(out).__name__)
        if out.shape != ref.shape:
            raise Mismatch(
                "for x of shape {x_shape} and scale {s} expected shape {ref_shape}, got {out_shape}.",
                x_shape=tuple(x.shape),
                s=s,
                ref_shape=tuple(ref.shape),
                out_shape=tuple(out.shape),
            )
        if close(out, ref):
            continue
        if close(out, x[..., ::s, ::s]):
            raise Mismatch("you kept every s-th pixel (subsampling): area downsampling averages each s × s block.")
        if close(out, ref * s * s):
            raise Mismatch(
                "your values are {factor} times too large: take the mean of each block, not the sum.", factor=s * s
            )
        raise Mismatch(
            "for scale {s}, pixel (0, 0, 0, 0) is {out:.4f} where the block mean {ref:.4f} was expected.",
            s=s,
            out=out[0, 0, 0, 0].item(),
            ref=ref[0, 0, 0, 0].item(),
        )


PSNR = register(Exercise("00", 1, "psnr", _test_psnr))
AREA = register(Exercise("00", 2, "area_downsample", _test_area))


def check_psnr(fn):
    """Check ``fn(pred, target) -> (B,)`` PSNR in dB for ``(B, 1, H, W)`` images in [-1, 1] (Eq. 00.2)."""
    return run_check(PSNR, fn)


def check_area_downsample(fn):
    """Check ``fn(x, scale) -> (B, C, H/scale, W/scale)``: the mean of each scale × scale block (Eq. 00.1)."""
    return run_check(AREA, fn)
