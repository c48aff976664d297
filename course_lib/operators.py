"""Degradations and the linear SR operators A, A† · 退化与投影 (lessons 00 and 04; the core math DDNM and DiffBIR
share).

* **The degradation** that makes a low-resolution input y from a high-resolution image x, Eq. 00.1:
  y = D_s(k_σ ⊛ x) + n, with k_σ an optional Gaussian blur (σ in HR pixels; 0: none), D_s downsampling by the
  integer scale s — ``"area"`` (the mean of each s × s block: an exact box filter, the course default) or
  ``"bicubic"`` (Keys cubic, a = −0.5, **with** antialiasing: the kernel is widened by s; identical to PIL's
  ``Image.resize(..., BICUBIC)`` and the kernel of MATLAB's ``imresize``) — and n optional Gaussian noise of
  standard deviation ``noise_std`` (in [-1, 1] units) drawn with an explicit generator; then clip to [-1, 1].
* **The linear operator pair** of area SR, :class:`AreaOperator`: A = s × s average pooling and A† = nearest
  (replicate) upsampling, *unscaled*, so that A A† = I exactly (Eq. 08.2; the split x = A†A x + (I − A†A) x is Eq.
  08.1). Then
  P(x) = x − A†(A x − y) = A†y + (I − A†A) x (Eq. 04.5) keeps x's null-space part (零空间, the detail A cannot
  see) and replaces its range-space part by y's: A P(x) = y. SR3's consistency projection (lesson 04) and DDNM's
  range–null-space step are this one map.
* **Consistency**, Eq. 04.1: PSNR(A x̂, y), how well an SR output explains its own input.

Shapes: batches ``(B, C, H, W)`` in [-1, 1]; y is ``(B, C, H/s, W/s)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .checks import check_int
from .metrics import psnr

__all__ = [
    "DOWNSAMPLE_KERNELS",
    "UPSAMPLE_MODES",
    "check_scale",
    "gaussian_blur",
    "downsample",
    "upsample",
    "degrade",
    "AreaOperator",
    "MaskOperator",
    "FourierOperator",
    "kspace_mask",
    "BlindDegradation",
    "consistency_projection",
    "consistency_psnr",
    "check_pair",
]

DOWNSAMPLE_KERNELS = ("area", "bicubic")
UPSAMPLE_MODES = ("bicubic", "bilinear", "nearest")


def _check_batch(x: torch.Tensor, name: str = "x") -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (B, C, H, W), got {type(x).__name__}")
    if x.dim() != 4:
        raise ValueError(f"{name} must have shape (B, C, H, W), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor in [-1, 1], got dtype {x.dtype}")


def _check_masked(x: torch.Tensor, mask: torch.Tensor, name: str, what: str, complex_ok: bool = False) -> None:
    """``x`` ``(B, C, H, W)`` whose last two sizes are the mask's (and B, C where the mask has them)."""
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        raise ValueError(
            f"{name}: expected {what} of shape (B, C, {mask.shape[-2]}, {mask.shape[-1]}), got "
            f"{getattr(x, 'shape', type(x).__name__)}"
        )
    if not (x.is_floating_point() or (complex_ok and x.is_complex())):
        raise TypeError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}")
    lead = mask.shape[:-2] if mask.dim() == 4 else ()
    fits = tuple(x.shape[-2:]) == tuple(mask.shape[-2:]) and all(m in (1, s) for m, s in zip(lead, x.shape[:2]))
    if not fits:
        shape = ", ".join(str(m) if m != 1 else "B" if i == 0 else "C" for i, m in enumerate(lead or (1, 1)))
        raise ValueError(
            f"{name}: expected {what} of shape ({shape}, {mask.shape[-2]}, {mask.shape[-1]}) to match "
            f"the operator's mask, got {tuple(x.shape)}"
        )


def check_scale(scale: object) -> int:
    """``scale`` as an int ≥ 1, or a ``ValueError`` naming it."""
    check_int(scale, "scale", low=1)
    return int(scale)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur with a normalised Gaussian k_σ (Eq. 00.1), radius ⌈3σ⌉, reflect padding.

    Args:
        x: ``(B, C, H, W)``.
        sigma: standard deviation in pixels; 0 returns ``x`` unchanged.

    Returns:
        ``(B, C, H, W)`` in ``x``'s dtype.
    """
    _check_batch(x)
    if not sigma >= 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    if sigma == 0:
        return x
    radius = max(1, int(np.ceil(3 * sigma)))
    if radius >= min(x.shape[-2:]):
        raise ValueError(
            f"sigma={sigma} needs a {2 * radius + 1}-pixel kernel, too large for a {tuple(x.shape[-2:])} image"
        )
    coords = torch.arange(-radius, radius + 1, device=x.device, dtype=torch.float32)
    k = torch.exp(-(coords**2) / (2 * sigma**2))
    k = (k / k.sum()).to(x.dtype)
    c = x.shape[1]
    xp = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    xp = F.conv2d(xp, k.reshape(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(xp, k.reshape(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def downsample(x: torch.Tensor, scale: int, kernel: str = "area") -> torch.Tensor:
    """D_s of Eq. 00.1: downsample by the integer ``scale`` with the ``"area"`` or ``"bicubic"`` kernel.

    Args:
        x: ``(B, C, H, W)`` with H and W divisible by ``scale``.

    Returns:
        ``(B, C, H / scale, W / scale)``.
    """
    _check_batch(x)
    scale = check_scale(scale)
    if kernel not in DOWNSAMPLE_KERNELS:
        raise ValueError(f"kernel must be one of {DOWNSAMPLE_KERNELS}, got {kernel!r}")
    h, w = x.shape[-2:]
    if h % scale or w % scale:
        raise ValueError(f"image size {h}x{w} is not divisible by scale={scale}; crop it to a multiple of {scale}")
    if scale == 1:
        return x
    if kernel == "area":
        return F.avg_pool2d(x, scale)
    return F.interpolate(x, size=(h // scale, w // scale), mode="bicubic", align_corners=False, antialias=True)


def degrade(
    hr: torch.Tensor,
    scale: int,
    kernel: str = "area",
    blur_sigma: float = 0.0,
    noise_std: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The degradation of Eq. 00.1: y = clip(D_s(k_σ ⊛ x) + n, −1, 1).

    Args:
        hr: ``(B, C, H, W)`` in [-1, 1], H and W divisible by ``scale``.
        scale: integer downsampling factor s (e.g. 2 or 4).
        kernel: ``"area"`` (block mean) or ``"bicubic"`` (antialiased).
        blur_sigma: σ of the Gaussian blur before downsampling, in HR pixels.
        noise_std: standard deviation of the added Gaussian noise, in [-1, 1] units.
        generator: torch generator on ``hr``'s device for the noise draw.

    Returns:
        ``(B, C, H / s, W / s)`` low-resolution images in [-1, 1]. Without blur and noise
        the result is not clipped (area downsampling of [-1, 1] data stays in range).
    """
    _check_batch(hr, "hr")
    if not noise_std >= 0:
        raise ValueError(f"noise_std must be >= 0, got {noise_std}")
    y = downsample(gaussian_blur(hr, blur_sigma), scale, kernel)
    if noise_std > 0:
        y = y + noise_std * torch.randn(y.shape, generator=generator, device=y.device, dtype=y.dtype)
    if noise_std > 0 or kernel == "bicubic":
        y = y.clamp(-1.0, 1.0)
    return y


def upsample(y: torch.Tensor, scale: int, mode: str = "bicubic") -> torch.Tensor:
    """Upsample by ``scale`` (the bicubic baseline U(y) with ``mode="bicubic"``), clipped to [-1, 1].

    Args:
        y: ``(B, C, h, w)``.
        mode: ``"bicubic"`` (Keys, a = −0.5, pixel centres aligned as ``align_corners=False``: the
            same as PIL's ``BICUBIC`` and MATLAB's ``imresize``), ``"bilinear"`` or ``"nearest"``.

    Returns:
        ``(B, C, h · scale, w · scale)``.
    """
    _check_batch(y, "y")
    scale = check_scale(scale)
    if mode not in UPSAMPLE_MODES:
        raise ValueError(f"mode must be one of {UPSAMPLE_MODES}, got {mode!r}")
    if scale == 1:
        return y
    size = (y.shape[-2] * scale, y.shape[-1] * scale)
    if mode == "nearest":
        return F.interpolate(y, size=size, mode="nearest")
    # antialias=True selects the a = -0.5 cubic kernel (PIL / MATLAB); plain torch bicubic uses a = -0.75
    return F.interpolate(y, size=size, mode=mode, align_corners=False, antialias=True).clamp(-1.0, 1.0)


def check_pair(x: torch.Tensor, y: torch.Tensor, scale: int, name: str = "x") -> None:
    """``x`` ``(B, C, s·h, s·w)`` and ``y`` ``(B, C, h, w)`` at ``scale``, or a ``ValueError`` naming what is wrong."""
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        raise ValueError(f"{name} must be a (B, C, H, W) tensor, got {getattr(x, 'shape', type(x).__name__)}")
    if not isinstance(y, torch.Tensor) or y.dim() != 4:
        raise ValueError(f"y (the LR image) must be a (B, C, h, w) tensor, got {getattr(y, 'shape', type(y).__name__)}")
    expected = (*y.shape[:2], y.shape[-2] * scale, y.shape[-1] * scale)
    if tuple(x.shape) != expected:
        raise ValueError(
            f"{name} must have shape {expected} (y {tuple(y.shape)} at scale {scale}), got {tuple(x.shape)}"
        )


class AreaOperator:
    """The degradation of area SR as a linear operator: A = s × s average pooling, A† = nearest upsampling.

    A A† = I (each block of A†y is constant, and its mean is that LR pixel), so A† is a right inverse of A and
    A†A is the orthogonal projection onto block-constant images (the range space, 值域空间); I − A†A keeps the
    detail within each block (the null space, 零空间). ``A(x)`` ``(B, C, s·h, s·w) → (B, C, h, w)``;
    ``A_pinv(y)`` the reverse.

    Args:
        scale: s.
    """

    def __init__(self, scale: int):
        self.scale = check_scale(scale)

    def A(self, x: torch.Tensor) -> torch.Tensor:
        """A x: the mean of every s × s block (Eq. 00.1 with the area kernel, no blur or noise)."""
        return downsample(x, self.scale, "area")

    def A_pinv(self, y: torch.Tensor) -> torch.Tensor:
        """A† y: every LR pixel repeated over its s × s block (nearest upsampling, unscaled)."""
        return upsample(y, self.scale, "nearest")

    def project(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Eq. 04.5: x − A†(A x − y) = A†y + (I − A†A) x, the image closest to x (in L2) with A x = y."""
        return x - self.A_pinv(self.A(x) - y)

    def __repr__(self) -> str:
        return f"AreaOperator(scale={self.scale})"


def consistency_projection(
    x: torch.Tensor, y: torch.Tensor, scale: int, clip: bool = False, iterations: int = 1
) -> torch.Tensor:
    """Eq. 04.5: x − A†(A x − y), the closest image to x whose area-downsampling is y (投影).

    A shifts each s × s block by the same amount so that its mean becomes the LR pixel; the detail within
    the block is kept. With ``clip=True`` the result must also stay in [-1, 1]: the projection and the clip
    alternate ``iterations`` times (projections onto two convex sets, POCS; both contain the true HR image,
    so the alternation converges towards a point in both — about 43 dB of consistency after 10 rounds even
    for a badly wrong x).

    Args:
        x: ``(B, C, H, W)`` an HR estimate; y: ``(B, C, H/s, W/s)`` the LR input; scale: s.
        clip, iterations: see above.

    Returns:
        ``(B, C, H, W)``; without ``clip``, ``downsample(result, s, "area") == y`` up to rounding.
    """
    check_pair(x, y, scale)
    check_int(iterations, "iterations", low=1)
    op = AreaOperator(scale)
    for _ in range(iterations if clip else 1):
        x = op.project(x, y)
        if clip:
            x = x.clamp(-1.0, 1.0)
    return x


def consistency_psnr(sr: torch.Tensor, y: torch.Tensor, scale: int) -> torch.Tensor:
    """Eq. 04.1: PSNR(A x̂, y) in dB per image, ``(B,)`` (A = area downsampling, the degradation that made y)."""
    check_pair(sr, y, scale, "sr")
    return psnr(AreaOperator(scale).A(sr), y)


class MaskOperator:
    """Inpainting as a linear operator: A = A† = multiplication by a 0/1 mask (1: the pixel is observed).

    y lives in image space (the masked image, zeros where unobserved), A A† = A (a projection: on the observed pixels
    the identity), A†A the observed part of x and I − A†A the missing part — the null space the prior must fill.

    Args:
        mask: ``(H, W)``, ``(1, 1, H, W)`` or ``(B, C, H, W)`` of 0/1 (bool or float), broadcast against x.
    """

    def __init__(self, mask: torch.Tensor):
        if not isinstance(mask, torch.Tensor) or mask.dim() not in (2, 4):
            raise ValueError(
                "mask must be a (H, W) or (B, C, H, W) tensor of 0/1, got "
                f"{getattr(mask, 'shape', type(mask).__name__)}"
            )
        m = mask.float()
        if not torch.all((m == 0) | (m == 1)):
            raise ValueError("mask must hold only 0 (missing) and 1 (observed)")
        self.mask = m[None, None] if m.dim() == 2 else m

    def A(self, x: torch.Tensor) -> torch.Tensor:
        """A x: the observed pixels (zeros elsewhere), ``(B, C, H, W)``."""
        _check_masked(x, self.mask, "x", "an image")
        return x * self.mask.to(x)

    def A_pinv(self, y: torch.Tensor) -> torch.Tensor:
        """A† y = the mask applied again (a 0/1 diagonal is its own pseudo-inverse)."""
        _check_masked(y, self.mask, "y", "the masked image")
        return y * self.mask.to(y)

    def project(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x − A†(A x − y): y on the observed pixels, x elsewhere (Eq. 04.5's map for this A)."""
        return x - self.A_pinv(self.A(x) - y)

    def __repr__(self) -> str:
        return f"MaskOperator(observed={self.mask.mean().item():.0%})"


def kspace_mask(size: int, fraction: float, center: int = 4, generator: torch.Generator | None = None) -> torch.Tensor:
    """A **conjugate-symmetric** random sampling mask of the 2-D frequency plane (``(size, size)`` bool, unshifted FFT
    order): the lowest frequencies |f| ≤ center // 2 in both directions always (a square of (2·(center // 2) + 1)²,
    symmetric about 0), then random frequencies until about ``fraction`` of the plane is measured, each frequency k
    together with −k (mod size). Symmetry keeps A†(A x − y) real for a real image — the undersampled-MRI setting of
    lesson 08.

    Args:
        size: side of the image (and of its spectrum); fraction: share of frequencies measured, in (0, 1] (more if
        the low square alone is larger); center: see above (0: only f = 0); generator: the random draw.
    """
    check_int(size, "size", low=2)
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction!r}")
    check_int(center, "center", low=0, high=size)
    k = torch.arange(size)
    freq = torch.where(k <= size // 2, k, k - size)  # signed frequency of each FFT index
    low = (freq.abs() <= center // 2)[:, None] & (freq.abs() <= center // 2)[None, :]
    mask = low.clone()
    neg = (-k) % size
    order = torch.randperm(size * size, generator=generator)
    target = round(fraction * size * size)
    for flat in order.tolist():
        if int(mask.sum()) >= target:
            break
        i, j = divmod(flat, size)
        mask[i, j] = mask[neg[i], neg[j]] = True
    return mask


class FourierOperator:
    """Undersampled Fourier measurements (compressed-sensing MRI, 磁共振欠采样): A x = M ⊙ F x with F the
    **orthonormal** 2-D FFT (``norm="ortho"``, so F⁻¹ = Fᴴ) and M a 0/1 mask of measured frequencies;
    A† y = Re Fᴴ(M ⊙ y).

    y is complex, ``(B, C, H, W)`` with zeros at unmeasured frequencies. A A† = M on measured data, so the step
    x − A†(A x − y) gives an x̂ with A x̂ = y exactly; with a conjugate-symmetric mask (:func:`kspace_mask`) and data of
    a real image, Fᴴ(M ⊙ (F x − y)) is real, so taking the real part loses nothing.

    Args:
        mask: ``(H, W)`` bool or 0/1 of measured frequencies (unshifted FFT order).
    """

    def __init__(self, mask: torch.Tensor):
        if not isinstance(mask, torch.Tensor) or mask.dim() != 2:
            raise ValueError(f"mask must be an (H, W) tensor of 0/1, got {getattr(mask, 'shape', type(mask).__name__)}")
        m = mask.float()
        if not torch.all((m == 0) | (m == 1)):
            raise ValueError("mask must hold only 0 (not measured) and 1 (measured)")
        self.mask = m

    def symmetric(self) -> bool:
        """Whether the mask is conjugate-symmetric (M[k] = M[−k]), the condition for a real A†."""
        flipped = torch.roll(torch.flip(self.mask, (0, 1)), shifts=(1, 1), dims=(0, 1))
        return bool(torch.equal(flipped, self.mask))

    def A(self, x: torch.Tensor) -> torch.Tensor:
        """A x = M ⊙ F x, complex ``(B, C, H, W)``."""
        _check_masked(x, self.mask, "x", "an image")
        return torch.fft.fft2(x, norm="ortho") * self.mask.to(x.device)

    def A_pinv(self, y: torch.Tensor) -> torch.Tensor:
        """A† y = Re Fᴴ(M ⊙ y), real ``(B, C, H, W)`` (the zero-filled inverse FFT for y = A x)."""
        _check_masked(y, self.mask, "y", "the measured spectrum", complex_ok=True)
        return torch.fft.ifft2(y * self.mask.to(y.device), norm="ortho").real

    def project(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x − A†(A x − y): the measured frequencies replaced by y's, the others kept from x."""
        return x - self.A_pinv(self.A(x) - y)

    def __repr__(self) -> str:
        return f"FourierOperator(measured={self.mask.mean().item():.0%})"


@dataclass(frozen=True)
class BlindDegradation:
    """A real-world-style degradation at toy scale (DiffBIR's pipeline, ``dataset/codeformer.py``, scaled to 32 × 32
    digits; lesson 08): blur k_σ → downsample ×s → Gaussian noise → JPEG → resize back to the input size. Each image
    draws its own σ, s, noise level and JPEG quality, uniformly from the ranges below, from its own generator — so a
    degraded set is reproducible image by image (:meth:`apply`).

    Attributes:
        blur: σ range of the Gaussian blur, in HR pixels; scale: range of the (real-valued) downsampling factor;
        noise: range of the noise's standard deviation on the [0, 1] scale; jpeg: range of Pillow's JPEG quality
        (an int; 100 is nearly lossless).
    """

    blur: tuple[float, float] = (0.1, 2.0)
    scale: tuple[float, float] = (1.0, 4.0)
    noise: tuple[float, float] = (0.0, 0.06)
    jpeg: tuple[int, int] = (40, 95)

    def __post_init__(self):
        for name, lo, hi in (("blur", 0, None), ("scale", 1, None), ("noise", 0, None), ("jpeg", 1, 100)):
            a, b = getattr(self, name)
            if not (a <= b and a >= lo and (hi is None or b <= hi)):
                raise ValueError(
                    f"{name}: expected a range (low, high) with {lo} <= low <= high"
                    f"{'' if hi is None else f' <= {hi}'}, got {(a, b)}"
                )

    def draw(self, generator: torch.Generator) -> dict:
        """One image's parameters: ``{"blur", "scale", "noise", "jpeg"}``, drawn from ``generator`` (CPU)."""
        u = torch.rand(4, generator=generator, dtype=torch.float64).tolist()
        lerp = lambda r, v: r[0] + (r[1] - r[0]) * v  # noqa: E731
        return {
            "blur": lerp(self.blur, u[0]),
            "scale": lerp(self.scale, u[1]),
            "noise": lerp(self.noise, u[2]),
            "jpeg": int(round(lerp(self.jpeg, u[3]))),
        }

    def apply(self, x: torch.Tensor, seeds) -> tuple[torch.Tensor, list[dict]]:
        """Degrade ``x`` ``(B, C, H, W)`` in [-1, 1], image i with the generator seeded by ``seeds[i]``: the degraded
        images (same size, in [-1, 1]) and each image's parameters."""
        from .images import jpeg_round_trip, to_tensor, to_uint8

        _check_batch(x)
        if len(seeds) != x.shape[0]:
            raise ValueError(f"seeds: expected one per image ({x.shape[0]}), got {len(seeds)}")
        H, W = x.shape[-2:]
        outs, params = [], []
        for xi, seed in zip(x, seeds):
            g = torch.Generator().manual_seed(int(seed))
            p = self.draw(g)
            z = gaussian_blur(xi[None].float().cpu(), p["blur"])
            h, w = max(1, round(H / p["scale"])), max(1, round(W / p["scale"]))
            if (h, w) != (H, W):
                z = F.interpolate(z, size=(h, w), mode="bicubic", align_corners=False, antialias=True)
            z = z + 2 * p["noise"] * torch.randn(z.shape, generator=g)  # [0, 1]-scale σ is 2σ on [-1, 1]
            arr = to_uint8(z.clamp(-1, 1)[0])  # (h, w, C) uint8
            arr = jpeg_round_trip(arr[..., 0] if arr.shape[-1] == 1 else arr, p["jpeg"])
            z = to_tensor(arr)[None]
            if (h, w) != (H, W):
                z = F.interpolate(z, size=(H, W), mode="bicubic", align_corners=False)
            outs.append(z.clamp(-1, 1)[0].to(x))
            params.append(p)
        return torch.stack(outs), params
