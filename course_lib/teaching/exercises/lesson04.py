"""Exercises of lesson 04: the conditioned input (Eq. 04.2), the consistency check (Eq. 04.1) and the
consistency projection (Eq. 04.5)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ...operators import downsample, upsample
from . import Exercise, Mismatch, close, psnr01, register, run_check

__all__ = ["check_conditioned_input", "check_consistency_psnr", "check_projection"]


def _batch(scale: int = 4, seed: int = 41) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    hr = torch.rand(3, 1, 8 * scale, 8 * scale, generator=g) * 2 - 1
    hr = F.avg_pool2d(F.pad(hr, (1, 1, 1, 1), mode="replicate"), 3, stride=1)  # smooth a little, like images
    y = downsample(hr, scale, "area")
    x_t = torch.randn(hr.shape, generator=g)
    return hr, y, x_t


def _test_conditioned_input(fn) -> None:
    _, y, x_t = _batch()
    try:
        out = fn(x_t.clone(), y.clone(), 4)
    except RuntimeError as err:
        if "Sizes of tensors must match" in str(err):  # torch.cat of a 32 × 32 x_t with the 8 × 8 y
            raise Mismatch(
                "torch.cat failed because x_t is {x_t_shape} and y is {y_shape}: "
                "upsample y to x_t's size first, U(y) = upsample(y, scale).",
                x_t_shape=tuple(x_t.shape[-2:]),
                y_shape=tuple(y.shape[-2:]),
            ) from None
        raise
    if out is None:
        raise Mismatch("your function returned None: did you forget `return`?")
    if not isinstance(out, torch.Tensor):
        raise Mismatch("return a torch.Tensor, got {out_type}.", out_type=type(out).__name__)
    up = upsample(y, 4, "bicubic")
    ref = torch.cat([x_t, up], dim=1)
    if out.shape != ref.shape:
        if out.shape == x_t.shape:
            raise Mismatch(
                "your input has {out} channel(s): concatenate x_t and U(y) on the "
                "channel axis (torch.cat(..., dim=1)) instead of adding them; the "
                "network gets 2 channels.",
                out=out.shape[1],
            )
        if out.shape[1] == 2 and out.shape[-1] != x_t.shape[-1]:
            raise Mismatch(
                "the shapes do not line up: upsample y to x_t's size first (course_lib.data.upsample(y, scale))."
            )
        raise Mismatch(
            "expected shape {ref_shape} (x_t's channels then y's), got {out_shape}.",
            ref_shape=tuple(ref.shape),
            out_shape=tuple(out.shape),
        )
    if close(out, ref):
        return
    if close(out, torch.cat([up, x_t], dim=1)):
        raise Mismatch("x_t comes first, then U(y): the model's first input channels are the noisy image it denoises.")
    if close(out, torch.cat([x_t, upsample(y, 4, "nearest")], dim=1)):
        raise Mismatch(
            "you upsampled y with nearest neighbours: SR3 (and our models) use bicubic, upsample(y, scale) (mode "
            "'bicubic')."
        )
    if close(
        out, torch.cat([x_t, F.interpolate(y, scale_factor=4, mode="bilinear", align_corners=False)], dim=1), atol=1e-4
    ):
        raise Mismatch("you upsampled y bilinearly: the models were trained with bicubic, upsample(y, scale).")
    if close(out[:, :1], x_t) and not close(out[:, 1:], up, atol=1e-2):
        raise Mismatch("channel 0 (x_t) is right, channel 1 is not U(y): upsample y bicubically by the scale.")
    raise Mismatch("the values differ from torch.cat([x_t, upsample(y, scale)], dim=1).")


def _test_consistency_psnr(fn) -> None:
    hr, y, _ = _batch()
    g = torch.Generator().manual_seed(3)
    sr = (hr + torch.randn(hr.shape, generator=g) * torch.tensor([0.02, 0.1, 0.3]).view(3, 1, 1, 1)).clamp(-1, 1)
    out = fn(sr.clone(), y.clone(), 4)
    if out is None:
        raise Mismatch("your function returned None: did you forget `return`?")
    out = torch.as_tensor(out, dtype=torch.float64)
    ref = psnr01(downsample(sr, 4, "area"), y).double()
    if out.shape != ref.shape:
        if out.numel() == 1:
            raise Mismatch("return one PSNR per image, shape (B,), not one number for the batch.")
        raise Mismatch(
            "expected one PSNR per image, shape {ref_shape}, got shape {out_shape}.",
            ref_shape=tuple(ref.shape),
            out_shape=tuple(out.shape),
        )
    if close(out, ref, atol=1e-3):
        return
    if close(out, psnr01(sr, upsample(y, 4)).double(), atol=1e-3):
        raise Mismatch(
            "you compared the SR output with the upsampled LR image: consistency goes the other way, "
            "downsample the SR output (the degradation A that made y) and compare with y."
        )
    if close(out, psnr01(downsample(sr, 4, "bicubic"), y).double(), atol=1e-3):
        raise Mismatch(
            "use the same degradation that made y: area downsampling (downsample(x, s, 'area')), not bicubic."
        )
    if close(out, psnr01(sr[..., ::4, ::4], y).double(), atol=1e-3):
        raise Mismatch("you kept every 4th pixel: A is the area (block-mean) downsampling, downsample(x, s, 'area').")
    if abs((out - ref).mean().item() + 20 * math.log10(2)) < 0.01:
        raise Mismatch(
            "your PSNR is 6.02 dB too low: the images are in [-1, 1]; map to [0, 1] (or use course_lib.metrics.psnr)."
        )
    mse = (((downsample(sr, 4, "area") + 1) / 2 - (y + 1) / 2) ** 2).flatten(1).mean(1).double()
    if close(out, mse, atol=1e-6):
        raise Mismatch("that is the mean squared error: PSNR = 10 · log10(1 / MSE) for images in [0, 1].")
    raise Mismatch(
        "for the first image you got {out:.2f} dB where {ref:.2f} dB was expected.",
        out=out[0].item(),
        ref=ref[0].item(),
    )


def _test_projection(fn) -> None:
    hr, y, _ = _batch()
    g = torch.Generator().manual_seed(9)
    x = (hr + 0.3 * torch.randn(hr.shape, generator=g)).clamp(-1, 1)  # an inconsistent estimate
    out = fn(x.clone(), y.clone(), 4)
    if out is None:
        raise Mismatch("your function returned None: did you forget `return`?")
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        raise Mismatch(
            "return the corrected HR image with x's shape {x_shape}, got {getattr_out}.",
            x_shape=tuple(x.shape),
            getattr_out=getattr(out, 'shape', type(out).__name__),
        )
    residual = downsample(x, 4, "area") - y
    ref = x - upsample(residual, 4, "nearest")
    if close(out, ref, atol=1e-5):
        return
    if close(out, x + upsample(residual, 4, "nearest"), atol=1e-5):
        raise Mismatch("wrong sign: subtract the upsampled residual, x − A⁺(A x − y); adding it doubles the error.")
    if close(out, x - upsample(residual, 4, "bicubic"), atol=1e-4):
        raise Mismatch(
            "A⁺ must be nearest-neighbour upsampling: then A A⁺ = I and A of the result is exactly y; "
            "bicubic spreads the correction over neighbouring blocks and leaves y unmatched."
        )
    if close(out, ref.clamp(-1, 1), atol=1e-5):
        raise Mismatch("you clipped to [-1, 1]: write Eq. 04.5 alone (the sampler clips separately).")
    if close(out, x - upsample(downsample(x, 4, "area"), 4, "nearest") + upsample(y, 4, "bicubic"), atol=1e-4):
        raise Mismatch("put back y with nearest upsampling (the block means), not bicubic: x − A⁺(A x) + A⁺ y.")
    got = psnr01(downsample(out, 4, "area"), y)
    raise Mismatch(
        "A(result) should equal y exactly; yours is {got:.1f} dB away. Eq. 04.5: x − A⁺(A x − y).", got=got.min().item()
    )


CONDITIONED = register(Exercise("04", 1, "conditioned_input", _test_conditioned_input))
CONSISTENCY = register(Exercise("04", 2, "consistency_psnr", _test_consistency_psnr))
PROJECTION = register(Exercise("04", 3, "project", _test_projection))


def check_conditioned_input(fn):
    """Check ``fn(x_t (B,C,H,W), y (B,C,H/s,W/s), scale) -> (B, 2C, H, W)``: SR3's input [x_t, U(y)] (Eq. 04.2)."""
    return run_check(CONDITIONED, fn)


def check_consistency_psnr(fn):
    """Check ``fn(sr (B,C,H,W), y (B,C,H/s,W/s), scale) -> (B,)``: PSNR(A sr, y) in dB (Eq. 04.1)."""
    return run_check(CONSISTENCY, fn)


def check_projection(fn):
    """Check ``fn(x (B,C,H,W), y, scale) -> (B,C,H,W)``: x − A⁺(A x − y) (Eq. 04.5)."""
    return run_check(PROJECTION, fn)
