"""Image quality metrics · 评价指标 (lesson 00): PSNR and SSIM in torch.

Conventions (the ones the SR literature reports, stated once):

* **Value range.** Inputs are batches ``(B, C, H, W)`` in ``value_range`` (default
  ``(-1, 1)``, the course's model range). They are mapped to [0, 1] first, so the
  peak value MAX in Eq. 00.2 is 1 (255 on the 8-bit scale).
* **Channel.** One-channel images are compared as they are. RGB images are compared
  on the luma Y of YCbCr (ITU-R BT.601, "studio swing", as MATLAB's ``rgb2ycbcr``),
  Eq. 00.4: Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255 for R, G, B in [0, 1].
  Pass ``y_channel=False`` to average over the RGB channels instead.
* **Border shave.** ``shave`` pixels are cropped from every side before comparing
  (SR papers usually shave ``scale`` pixels). Default 0.
* **SSIM window.** An 11 × 11 Gaussian window with σ = 1.5, K1 = 0.01, K2 = 0.03
  (Wang et al., IEEE TIP 2004), population (not sample) covariances, evaluated only
  where the window fits (no padding); this matches scikit-image's
  ``structural_similarity(..., gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=1)``.

PSNR, SSIM and MSE return one value per image, shape ``(B,)``, as float32 on the
inputs' device (computed in float32 even for half-precision inputs).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from .checks import check_int

__all__ = [
    "to_unit_range",
    "rgb_to_y",
    "mse",
    "psnr",
    "ssim",
    "high_frequency_energy",
    "high_frequency_ratio",
    "sliced_wasserstein",
    "frechet_distance",
    "laplacian_patches",
    "patch_distance",
    "pixel_diversity",
]

_Y_WEIGHTS = (65.481, 128.553, 24.966)


def _check_pair(pred: torch.Tensor, target: torch.Tensor) -> None:
    for name, x in (("pred", pred), ("target", target)):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of shape (B, C, H, W), got {type(x).__name__}")
        if x.dim() != 4:
            raise ValueError(f"{name} must have shape (B, C, H, W), got {tuple(x.shape)}")
        if not x.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
        if x.shape[1] not in (1, 3):
            raise ValueError(f"{name} must have 1 or 3 channels, got {x.shape[1]} (shape {tuple(x.shape)})")
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape, got {tuple(pred.shape)} and {tuple(target.shape)}")
    if pred.device != target.device:
        raise ValueError(f"pred is on {pred.device} but target is on {target.device}")


def to_unit_range(x: torch.Tensor, value_range: tuple[float, float] = (-1.0, 1.0)) -> torch.Tensor:
    """Map ``x`` from ``value_range`` to [0, 1] (float32, no clamping). Shape unchanged."""
    lo, hi = value_range
    if not hi > lo:
        raise ValueError(f"value_range must be (low, high) with high > low, got {value_range}")
    return (x.float() - lo) / (hi - lo)


def rgb_to_y(x: torch.Tensor) -> torch.Tensor:
    """Luma Y of YCbCr (BT.601 studio swing), Eq. 00.4, for RGB in [0, 1].

    Args:
        x: ``(B, 3, H, W)`` RGB in [0, 1].

    Returns:
        ``(B, 1, H, W)`` Y in [16/255, 235/255].
    """
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"x must have shape (B, 3, H, W), got {tuple(x.shape)}")
    w = torch.tensor(_Y_WEIGHTS, dtype=x.dtype, device=x.device).reshape(1, 3, 1, 1)
    return (16.0 + (x * w).sum(dim=1, keepdim=True)) / 255.0


def _prepare(
    pred: torch.Tensor,
    target: torch.Tensor,
    value_range: tuple[float, float],
    shave: int,
    y_channel: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    _check_pair(pred, target)
    check_int(shave, "shave", low=0)
    h, w = pred.shape[-2:]
    if 2 * shave >= min(h, w):
        raise ValueError(f"shave={shave} crops away the whole {h}x{w} image")
    a, b = to_unit_range(pred, value_range), to_unit_range(target, value_range)
    if y_channel and a.shape[1] == 3:
        a, b = rgb_to_y(a), rgb_to_y(b)
    if shave:
        a, b = a[..., shave:-shave, shave:-shave], b[..., shave:-shave, shave:-shave]
    return a, b


def mse(
    pred: torch.Tensor,
    target: torch.Tensor,
    value_range: tuple[float, float] = (-1.0, 1.0),
    shave: int = 0,
    y_channel: bool = True,
) -> torch.Tensor:
    """Mean squared error per image on the [0, 1] scale (after the conventions above).

    Args:
        pred, target: ``(B, C, H, W)`` with C = 1 or 3.

    Returns:
        ``(B,)`` float32.
    """
    a, b = _prepare(pred, target, value_range, shave, y_channel)
    return ((a - b) ** 2).flatten(1).mean(dim=1)


def psnr(
    pred: torch.Tensor,
    target: torch.Tensor,
    value_range: tuple[float, float] = (-1.0, 1.0),
    shave: int = 0,
    y_channel: bool = True,
) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, Eq. 00.2: PSNR = 10 log10(MAX² / MSE), MAX = 1.

    Identical images give ``inf``.

    Args:
        pred, target: ``(B, C, H, W)`` with C = 1 or 3, in ``value_range``.
        value_range: the range the inputs are expressed in, mapped to [0, 1].
        shave: pixels cropped from each border.
        y_channel: compare RGB images on Y (Eq. 00.4).

    Returns:
        ``(B,)`` float32 PSNR per image.
    """
    err = mse(pred, target, value_range, shave, y_channel)
    return 10.0 * torch.log10(1.0 / err)


def _gaussian_window(size: int, sigma: float, device: torch.device) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float32, device=device) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).reshape(1, 1, size, size)


def ssim(
    pred: torch.Tensor,
    target: torch.Tensor,
    value_range: tuple[float, float] = (-1.0, 1.0),
    shave: int = 0,
    y_channel: bool = True,
    win_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
) -> torch.Tensor:
    """Structural similarity, Eq. 00.3 (Wang et al. 2004), mean over valid windows and channels.

    SSIM(a, b) = ((2 μ_a μ_b + C1)(2 σ_ab + C2)) / ((μ_a² + μ_b² + C1)(σ_a² + σ_b² + C2)),
    C1 = (k1 · 1)², C2 = (k2 · 1)², local statistics under a Gaussian window.

    Args:
        pred, target: ``(B, C, H, W)`` with C = 1 or 3, H and W ≥ ``win_size`` after shaving.

    Returns:
        ``(B,)`` float32 SSIM per image, 1 for identical images.
    """
    a, b = _prepare(pred, target, value_range, shave, y_channel)
    if win_size % 2 != 1 or win_size < 3:
        raise ValueError(f"win_size must be an odd int >= 3, got {win_size}")
    h, w = a.shape[-2:]
    if min(h, w) < win_size:
        raise ValueError(
            f"ssim needs images at least {win_size}x{win_size} (after shave={shave}), got {h}x{w}; "
            "use psnr for tiny images or a smaller win_size"
        )
    c = a.shape[1]
    window = _gaussian_window(win_size, sigma, a.device).expand(c, 1, win_size, win_size)

    def filt(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, window, groups=c)

    mu_a, mu_b = filt(a), filt(b)
    var_a = filt(a * a) - mu_a**2
    var_b = filt(b * b) - mu_b**2
    cov = filt(a * b) - mu_a * mu_b
    c1, c2 = k1**2, k2**2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.flatten(1).mean(dim=1)


def high_frequency_energy(
    x: torch.Tensor, scale: int, value_range: tuple[float, float] = (-1.0, 1.0), y_channel: bool = True
) -> torch.Tensor:
    """Power above the LR Nyquist frequency, Eq. 04.6: E_s(x) = Σ_{max(|f_x|, |f_y|) > 1/(2s)} |X(f)|² / (H W)².

    X is the 2-D DFT of the image (on [0, 1], Y channel for RGB as above); f in cycles per pixel, so
    |f| ≤ 1/2. A ×s LR image cannot carry frequencies above 1/(2s): this band is exactly what an SR
    method has to supply, and bicubic upsampling leaves it nearly empty.

    Args:
        x: ``(B, C, H, W)`` with C = 1 or 3; scale: s ≥ 2.

    Returns:
        ``(B,)`` float32.
    """
    check_int(scale, "scale", low=2)
    a, _ = _prepare(x, x, value_range, 0, y_channel)
    a = a.float().mean(dim=1)  # (B, H, W); one channel after Y, or the mean of the channels
    H, W = a.shape[-2:]
    spec = torch.fft.fft2(a).abs() ** 2 / (H * W)
    fy = torch.fft.fftfreq(H, device=a.device).abs()[:, None]
    fx = torch.fft.fftfreq(W, device=a.device).abs()[None, :]
    band = torch.maximum(fy, fx) > 0.5 / scale
    return (spec * band).flatten(1).sum(dim=1) / (H * W)


def high_frequency_ratio(
    pred: torch.Tensor,
    target: torch.Tensor,
    scale: int,
    value_range: tuple[float, float] = (-1.0, 1.0),
    y_channel: bool = True,
) -> torch.Tensor:
    """E_s(pred) / E_s(target) per image (Eq. 04.6): 1 means as much fine detail as the HR image, bicubic
    gives far less than 1, noise or ringing can push it above 1. Says nothing about *where* the detail is:
    read it next to PSNR. Returns ``(B,)``."""
    _check_pair(pred, target)
    return high_frequency_energy(pred, scale, value_range, y_channel) / high_frequency_energy(
        target, scale, value_range, y_channel
    ).clamp_min(1e-12)


def sliced_wasserstein(
    a: torch.Tensor, b: torch.Tensor, projections: int = 128, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Sliced Wasserstein-1 distance between two point clouds (a distance between distributions).

    Both clouds are projected on ``projections`` random unit directions; in one dimension the
    Wasserstein-1 distance is the mean absolute difference of the sorted values. The result is the
    mean over directions.

    Args:
        a: ``(N, D)``, b: ``(N, D)`` samples (the same N, so sorted values pair up).
        generator: for the directions (on ``a``'s device).

    Returns:
        float32 scalar, 0 for identical clouds.
    """
    if a.dim() != 2 or b.dim() != 2 or a.shape != b.shape:
        raise ValueError(f"a and b must both have shape (N, D), got {tuple(a.shape)} and {tuple(b.shape)}")
    dirs = torch.randn(
        a.shape[1], projections, generator=generator, device=generator.device if generator is not None else a.device
    )
    dirs = (dirs / dirs.norm(dim=0, keepdim=True)).to(a.device)
    pa, _ = torch.sort(a.float() @ dirs, dim=0)
    pb, _ = torch.sort(b.float() @ dirs, dim=0)
    return (pa - pb).abs().mean()


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Fréchet distance between Gaussians fitted to two feature sets (the formula behind FID):

    d² = ‖μ_a − μ_b‖² + tr(Σ_a + Σ_b − 2 (Σ_a^{1/2} Σ_b Σ_a^{1/2})^{1/2}).

    Computed in float64 with symmetric eigendecompositions (no complex square roots). Which features (e.g.
    the shipped digit classifier's penultimate layer) decides what "realistic" means: a stand-in for FID.

    Args:
        a: ``(N, D)``, b: ``(M, D)`` feature vectors, N, M ≥ 2.

    Returns:
        float64 scalar ≥ 0 (the squared distance, as FID reports it).
    """
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b must have shapes (N, D) and (M, D), got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.shape[0] < 2 or b.shape[0] < 2:
        raise ValueError(f"need at least 2 vectors in each set, got {a.shape[0]} and {b.shape[0]}")
    a, b = a.double(), b.double()
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T).reshape(a.shape[1], -1), torch.cov(b.T).reshape(b.shape[1], -1)
    w, v = torch.linalg.eigh(cov_a)
    sqrt_a = (v * w.clamp(min=0).sqrt()) @ v.T
    inner = torch.linalg.eigvalsh(sqrt_a @ cov_b @ sqrt_a).clamp(min=0).sqrt().sum()
    return ((mu_a - mu_b) ** 2).sum() + torch.trace(cov_a) + torch.trace(cov_b) - 2 * inner


def laplacian_patches(
    x: torch.Tensor, levels: int = 3, patch: int = 7, per_level: int = 256, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Random patches of a Laplacian pyramid, the features of a sliced-Wasserstein realism measure for photos.

    Level ℓ is the band x_ℓ − up(down(x_ℓ)) with x_0 = x (Y channel for RGB, on [0, 1]) and x_{ℓ+1} =
    down(x_ℓ) by 2 × 2 averaging, up by nearest-neighbour repetition: a box (Haar) pyramid, not the Gaussian-filtered
    Laplacian pyramid of Burt & Adelson or Karras et al. — cruder band separation, the same idea. From each level
    ``per_level`` patches of ``patch × patch`` are taken at random
    positions of random images; every patch is normalised to zero mean (its texture, not its brightness).

    Args:
        x: ``(B, C, H, W)`` in [-1, 1], C = 1 or 3, H and W ≥ patch · 2^(levels − 1).

    Returns:
        ``(levels · per_level, patch²)`` float32.
    """
    a, _ = _prepare(x, x, (-1.0, 1.0), 0, True)
    a = a.float().mean(dim=1, keepdim=True)
    out = []
    for _ in range(levels):
        if min(a.shape[-2:]) < patch:
            raise ValueError(
                f"images of {tuple(x.shape[-2:])} are too small for {levels} levels of {patch} x {patch} patches"
            )
        low = F.avg_pool2d(a, 2) if min(a.shape[-2:]) >= 2 else a
        band = a - F.interpolate(low, size=a.shape[-2:], mode="nearest")
        windows = F.unfold(band, patch)  # (B, patch², L)
        B, _, L = windows.shape
        gen_device = (
            generator.device if generator is not None else x.device
        )  # a CPU generator: the same patches on any device
        pick_b = torch.randint(0, B, (per_level,), generator=generator, device=gen_device).to(x.device)
        pick_l = torch.randint(0, L, (per_level,), generator=generator, device=gen_device).to(x.device)
        p = windows[pick_b, :, pick_l]
        out.append(p - p.mean(dim=1, keepdim=True))
        a = low
    return torch.cat(out)


def patch_distance(
    a: torch.Tensor,
    b: torch.Tensor,
    levels: int = 3,
    patch: int = 7,
    per_level: int = 1024,
    projections: int = 128,
    repeats: int = 4,
    seed: int = 0,
) -> torch.Tensor:
    """Realism of photos' texture (Eq. 05.4): sliced Wasserstein distance between Laplacian-pyramid patches of two image
    sets, averaged over ``repeats`` independent draws of patches and directions (seeded: the same call gives the
    same value). A stand-in for learned measures (LPIPS/FID) that needs no downloaded weights.

    Args:
        a: ``(N, C, H, W)``, b: ``(M, C, H, W)`` in [-1, 1] (C = 1 or 3; N and M may differ: the same number of
            patches is drawn from each).

    Returns:
        float32 scalar ≥ 0; 0 for the same patches, larger when the band-pass statistics differ (bicubic's missing
        detail, or noise).
    """
    for name, x in (("a", a), ("b", b)):
        if not isinstance(x, torch.Tensor) or x.dim() != 4:
            raise ValueError(
                f"{name} must be a tensor of shape (N, C, H, W), got {getattr(x, 'shape', type(x).__name__)}"
            )
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    total = torch.zeros((), device=a.device)
    for r in range(repeats):  # CPU generators: the same patches and directions (and value) on cpu, cuda and mps
        ga = torch.Generator().manual_seed(seed + 3 * r)
        gb = torch.Generator().manual_seed(seed + 3 * r + 1)
        gd = torch.Generator().manual_seed(seed + 3 * r + 2)
        pa = laplacian_patches(a, levels, patch, per_level, ga)
        pb = laplacian_patches(b, levels, patch, per_level, gb).to(a.device)
        total = total + sliced_wasserstein(pa, pb, projections, gd)
    return total / repeats


def pixel_diversity(samples: torch.Tensor) -> torch.Tensor:
    """Diversity of several SR samples for one input: the per-pixel standard deviation across samples, averaged.

    Args:
        samples: ``(K, B, C, H, W)`` (K ≥ 2 samples for each of B inputs) in [-1, 1].

    Returns:
        ``(B,)`` float32 on the [0, 1] scale (0: all samples identical).
    """
    if samples.dim() != 5 or samples.shape[0] < 2:
        raise ValueError(f"samples must have shape (K >= 2, B, C, H, W), got {tuple(samples.shape)}")
    return ((samples.float() + 1) / 2).std(dim=0).flatten(1).mean(dim=1)
