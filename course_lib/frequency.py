"""Frequency tools of lesson 09 (ResDiff · 频域引导): the CNN's FFT and Haar-DWT losses, the FFT high-pass of its
output that the denoiser is given, and the radial power spectrum that shows what each loss leaves out.

All functions take images ``(B, C, H, W)`` and work on any device; the FFTs are orthonormal (``norm="ortho"``), so a
spectrum's energy equals the image's (Parseval) and the FFT loss is on the pixel loss's scale.

Reference: ``LYL1015/ResDiff`` ``pretrain_CNN/loss.py`` (FFT and DWT losses), ``model/resdiff_modules/unet.py``
(``FD_Info_Spliter``: the Gaussian high-pass 1 − exp(−D²/2σ²) with a learned σ).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "haar_dwt",
    "fft_loss",
    "dwt_loss",
    "resdiff_cnn_loss",
    "frequency_radius",
    "gaussian_highpass",
    "radial_power_spectrum",
]


def _check(x: torch.Tensor, name: str = "x") -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must be images (B, C, H, W), got {got}")


def haar_dwt(x: torch.Tensor) -> torch.Tensor:
    """One level of the orthonormal Haar wavelet transform: ``(B, C, H, W)`` → ``(B, 4, C, H/2, W/2)``, the bands
    LL, LH, HL, HH (energy preserved; H and W even)."""
    _check(x)
    if x.shape[-1] % 2 or x.shape[-2] % 2:
        raise ValueError(f"x must have even height and width for the Haar transform, got {tuple(x.shape[-2:])}")
    a, b = x[..., 0::2, 0::2], x[..., 0::2, 1::2]
    c, d = x[..., 1::2, 0::2], x[..., 1::2, 1::2]
    return 0.5 * torch.stack([a + b + c + d, a - b + c - d, a + b - c - d, a - b - c + d], dim=1)


def fft_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE between the orthonormal 2-D FFTs' real and imaginary parts (ResDiff's FFT loss). By Parseval it equals
    the pixel MSE exactly (the orthonormal FFT preserves the error's energy): alone it only reweights the MSE."""
    fp, ft = torch.fft.fft2(pred.float(), norm="ortho"), torch.fft.fft2(target.float(), norm="ortho")
    return F.mse_loss(fp.real, ft.real) + F.mse_loss(fp.imag, ft.imag)


def dwt_loss(pred: torch.Tensor, target: torch.Tensor, levels: int = 4) -> torch.Tensor:
    """ResDiff's DWT loss: the Haar transform to ``levels`` levels, then the MSE of each detail band (LH, HL, HH at
    every level; the final LL is left out), each band averaged on its own and the averages summed. A band at level j
    has 4^−j of the pixels, so each of its coefficients weighs 4^j times more than a pixel in the MSE: the loss leans
    on the coarse detail bands, not the finest ones."""
    total = pred.new_zeros((), dtype=torch.float32)
    a, b = pred.float(), target.float()
    for _ in range(levels):
        da, db = haar_dwt(a), haar_dwt(b)
        for band in (1, 2, 3):
            total = total + F.mse_loss(da[:, band], db[:, band])
        a, b = da[:, 0], db[:, 0]
    return total


def resdiff_cnn_loss(
    pred: torch.Tensor, target: torch.Tensor, fft_weight: float = 0.2, dwt_weight: float = 0.1
) -> torch.Tensor:
    """ResDiff's CNN objective: MSE + ``fft_weight`` · FFT loss + ``dwt_weight`` · DWT loss."""
    return (
        F.mse_loss(pred.float(), target.float())
        + fft_weight * fft_loss(pred, target)
        + dwt_weight * dwt_loss(pred, target)
    )


def frequency_radius(h: int, w: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """D: each FFT coefficient's distance from zero frequency, in cycles per pixel (0 … √2/2), ``(h, w)`` in
    ``torch.fft.fft2``'s order."""
    fy = torch.fft.fftfreq(h, device=device)[:, None]
    fx = torch.fft.fftfreq(w, device=device)[None, :]
    return (fy**2 + fx**2).sqrt()


def gaussian_highpass(x: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
    """x filtered by 1 − exp(−D² / 2σ²) (ResDiff's frequency-domain splitter; σ in cycles per pixel, may be a learned
    parameter: the filter is differentiable in it)."""
    _check(x)
    sigma = torch.as_tensor(sigma, dtype=torch.float32, device=x.device)
    d2 = frequency_radius(x.shape[-2], x.shape[-1], x.device) ** 2
    gain = 1 - torch.exp(-d2 / (2 * sigma**2))
    return torch.fft.ifft2(torch.fft.fft2(x.float(), norm="ortho") * gain, norm="ortho").real.to(x.dtype)


def radial_power_spectrum(x: torch.Tensor, bins: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean power |FFT|² of ``x`` (e.g. an error image SR − HR) in ``bins`` rings of D from 0 to 0.5 cycles per
    pixel (the corners beyond 0.5 join the last ring), averaged over images and channels: ``(centres, power)``."""
    _check(x)
    power = torch.fft.fft2(x.float(), norm="ortho").abs().pow(2).mean(dim=(0, 1))
    d = frequency_radius(x.shape[-2], x.shape[-1], x.device)
    idx = (d / 0.5 * bins).long().clamp(max=bins - 1)
    total = torch.zeros(bins, device=x.device).index_add_(0, idx.flatten(), power.flatten())
    count = torch.zeros(bins, device=x.device).index_add_(0, idx.flatten(), torch.ones_like(power).flatten())
    centres = (torch.arange(bins, device=x.device) + 0.5) * 0.5 / bins
    return centres.cpu(), (total / count.clamp(min=1)).cpu()
