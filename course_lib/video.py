"""Moving digits: clips for video super-resolution, with their motion known exactly · 视频超分的运动数字 (lesson 12).

Moving MNIST's idea (Srivastava et al., ICML 2015) on the course's digits: one 32 × 32 digit slides by an integer
number of pixels per frame across a larger canvas (48 × 48 by default: 16 pixels of travel), seeded per clip, with
the LR frames made by the course's ×4 degradation (Eq. 00.1). Train clips use the train digits and test clips the test
digits — never mixed. The background is uniform (−1, black), so the motion of the whole frame *is* the digit's
motion: the warp from frame t to t + 1 is an exact integer shift of the canvas, and the pixels that stay in view are
those whose source lies inside the previous frame.

* Eq. 12.1  warp(x, d)[i, j] = x[i − d_y, j − d_x] where the source is inside the frame, undefined elsewhere
* Eq. 12.2  the warping error  E_warp = mean over t and over the pixels that stay in view of
  |warp(SR_t, d_t) − SR_{t+1}| (the HR clip's own value is 0: its frames are exact shifts of each other)
* :func:`estimate_shift` — phase correlation (Kuglin & Hines, 1975): the integer shift between two frames from the
  peak of their normalised cross-power spectrum, for the row where the motion is not given.
"""

from __future__ import annotations

import torch

from .checks import check_int
from .datasets import DigitsSR
from .operators import degrade, upsample

__all__ = ["MovingDigits", "frame_pairs", "warp", "valid_mask", "warping_error", "estimate_shift", "moving_noise"]


def _check_frames(x: torch.Tensor, name: str) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or not x.is_floating_point():
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a float tensor of frames (F, C, H, W), got {got}")


def warp(x: torch.Tensor, shift: tuple[int, int], fill: float = -1.0) -> torch.Tensor:
    """Eq. 12.1: frames ``x`` ``(..., H, W)`` moved by the integer ``shift`` = (d_y, d_x) (down and right positive);
    pixels whose source left the frame are ``fill``."""
    dy, dx = (int(v) for v in shift)
    H, W = x.shape[-2:]
    out = torch.full_like(x, fill)
    if abs(dy) >= H or abs(dx) >= W:
        return out
    src = x[..., max(0, -dy) : H - max(0, dy), max(0, -dx) : W - max(0, dx)]
    out[..., max(0, dy) : H - max(0, -dy), max(0, dx) : W - max(0, -dx)] = src
    return out


def valid_mask(size: tuple[int, int], shift: tuple[int, int]) -> torch.Tensor:
    """``(H, W)`` bool: the pixels of the warped frame whose source lies inside the frame (they stay in view)."""
    H, W = size
    return warp(torch.ones(1, H, W), shift, fill=0.0)[0] > 0.5


def warping_error(frames: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Eq. 12.2 for one clip: ``frames`` ``(F, C, H, W)``, ``shifts`` ``(F − 1, 2)`` the integer motion from frame t to
    t + 1. Returns ``(F − 1,)``: the mean |warp(frame_t) − frame_{t+1}| over the pixels that stay in view, per pair
    (in the model range [-1, 1]: an error of 2 is black against white)."""
    _check_frames(frames, "frames")
    shifts = torch.as_tensor(shifts)
    if shifts.shape != (frames.shape[0] - 1, 2):
        raise ValueError(
            f"shifts must have shape ({frames.shape[0] - 1}, 2), one per pair of frames, got {tuple(shifts.shape)}"
        )
    out = []
    for t in range(frames.shape[0] - 1):
        d = tuple(int(v) for v in shifts[t])
        mask = valid_mask(frames.shape[-2:], d)
        diff = (warp(frames[t], d) - frames[t + 1]).abs()[:, mask]
        out.append(diff.mean() if diff.numel() else frames.new_tensor(float("nan")))
    return torch.stack(out)


def estimate_shift(a: torch.Tensor, b: torch.Tensor, upsample: int = 1) -> tuple[int, int]:
    """The shift d with b ≈ warp(a, d), by phase correlation: the peak of the inverse FFT of the normalised
    cross-power spectrum F(b)·conj(F(a)) / |…|. ``a``, ``b`` ``(H, W)`` or ``(C, H, W)`` (channels averaged).

    ``upsample`` u > 1 finds the peak on a u-times finer grid (the spectrum zero-padded before the inverse FFT,
    Guizar-Sicairos et al., Opt. Lett. 2008) and returns d in units of 1/u pixel: on LR frames with u = s, the
    motion in HR pixels."""
    check_int(upsample, "upsample", low=1)
    if a.shape != b.shape or a.dim() not in (2, 3):
        raise ValueError(
            f"a and b must be frames of one shape, (H, W) or (C, H, W), got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    a2, b2 = (x.double().mean(0) if x.dim() == 3 else x.double() for x in (a, b))
    a2, b2 = a2 - a2.mean(), b2 - b2.mean()
    cross = torch.fft.fft2(b2) * torch.fft.fft2(a2).conj()
    spectrum = cross / cross.abs().clamp_min(1e-12)
    H, W = spectrum.shape
    if upsample > 1:  # zero-pad the centred spectrum: the same correlation, sampled u times more finely
        padded = torch.zeros(H * upsample, W * upsample, dtype=spectrum.dtype)
        oy, ox = (H * upsample - H) // 2, (W * upsample - W) // 2
        padded[oy : oy + H, ox : ox + W] = torch.fft.fftshift(spectrum)
        spectrum, H, W = torch.fft.ifftshift(padded), H * upsample, W * upsample
    corr = torch.fft.ifft2(spectrum).real
    dy, dx = divmod(int(corr.argmax()), W)
    return (dy - H if dy > H // 2 else dy, dx - W if dx > W // 2 else dx)


def moving_noise(
    positions: torch.Tensor, shape: tuple[int, ...], generator: torch.Generator | None = None
) -> torch.Tensor:
    """Noise that moves with the content: ``(F, *shape)`` with frame f's noise the crop of one larger draw at the
    content's position, so that warp(noise_f, d_f) = noise_{f+1} wherever the source stays in view. The same seed
    for every frame (noise fixed to the canvas) is *not* this: relative to a moving digit it is different noise.

    Args:
        positions: ``(F, 2)`` integer positions of the content (e.g. a clip's ``positions``).
        shape: ``(C, H, W)`` of one frame; generator: for the one draw.
    """
    positions = torch.as_tensor(positions, dtype=torch.long)
    if positions.dim() != 2 or positions.shape[1] != 2:
        raise ValueError(f"positions must have shape (F, 2), got {tuple(positions.shape)}")
    C, H, W = shape
    lo, hi = positions.min(0).values, positions.max(0).values
    span = (hi - lo).tolist()
    big = torch.randn(C, H + span[0], W + span[1], generator=generator)
    frames = []
    for py, px in (positions - lo).tolist():
        oy, ox = span[0] - py, span[1] - px  # content at +p in the frame: the crop starts p before the big draw's end
        frames.append(big[:, oy : oy + H, ox : ox + W])
    return torch.stack(frames)


class MovingDigits:
    """Clips of one digit moving at a constant integer velocity across a canvas (see the module docstring).

    Args:
        split: ``"train"`` or ``"test"`` — which digits the clips are made from.
        n_clips: how many clips; clip i uses digit ``i mod N`` of the split's seeded permutation.
        frames: frames per clip; canvas: the canvas side (the digit is 32 × 32; canvas − 32 pixels of travel);
        scale: the SR factor of the LR frames; max_speed: the largest speed per axis (pixels per frame).
        seed: the clips' seed (clip i draws its digit, start and velocity from seed and i alone).
    """

    def __init__(
        self,
        split: str = "test",
        n_clips: int = 100,
        frames: int = 8,
        canvas: int = 48,
        scale: int = 4,
        max_speed: int = 2,
        seed: int = 0,
    ):
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        check_int(n_clips, "n_clips", low=1)
        check_int(frames, "frames", low=2)
        check_int(scale, "scale", low=1)
        check_int(canvas, "canvas", low=32)
        check_int(max_speed, "max_speed", low=0)
        if canvas % scale:
            raise ValueError(f"canvas ({canvas}) must be divisible by scale ({scale}) for the LR frames")
        if max_speed * (frames - 1) > canvas - 32:
            raise ValueError(
                f"max_speed {max_speed} over {frames} frames travels {max_speed * (frames - 1)} pixels; "
                f"the canvas leaves {canvas - 32}: use a larger canvas, fewer frames or a lower speed"
            )
        self.split, self.n_clips, self.frames, self.canvas = split, n_clips, frames, canvas
        self.scale, self.max_speed, self.seed = scale, max_speed, seed
        self.digits = DigitsSR(split, scale)
        self._order = torch.randperm(len(self.digits), generator=torch.Generator().manual_seed(seed))

    def __len__(self) -> int:
        return self.n_clips

    def motion(self, i: int) -> dict:
        """Clip i's digit index, start (y, x) and velocity (v_y, v_x), drawn from its own generator."""
        if not 0 <= i < self.n_clips:
            raise IndexError(f"clip {i} out of range for {self.n_clips} clips")
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + i)
        travel = self.canvas - 32
        v = torch.randint(-self.max_speed, self.max_speed + 1, (2,), generator=g)
        span = (v.abs() * (self.frames - 1)).tolist()
        start = [int(torch.randint(0, travel - s + 1, (1,), generator=g)) for s in span]
        start = [p + s if vi < 0 else p for p, s, vi in zip(start, span, v.tolist())]  # moving up/left: start low
        return {"digit": int(self._order[i % len(self._order)]), "start": tuple(start), "velocity": tuple(v.tolist())}

    def clip(self, i: int) -> dict:
        """Clip i: ``hr`` ``(F, 1, canvas, canvas)``, ``y`` ``(F, 1, canvas/s, canvas/s)`` in [-1, 1], ``positions``
        ``(F, 2)`` the digit's top-left corner, ``shifts`` ``(F − 1, 2)`` the motion between frames, ``label``."""
        m = self.motion(i)
        digit = self.digits._hr_all[m["digit"]]  # (1, 32, 32)
        positions = torch.tensor(
            [[m["start"][0] + f * m["velocity"][0], m["start"][1] + f * m["velocity"][1]] for f in range(self.frames)]
        )
        hr = torch.full((self.frames, 1, self.canvas, self.canvas), -1.0)
        for f, (py, px) in enumerate(positions.tolist()):
            hr[f, :, py : py + 32, px : px + 32] = digit
        return {
            "hr": hr,
            "y": degrade(hr, self.scale),
            "positions": positions,
            "shifts": positions[1:] - positions[:-1],
            "label": int(self.digits.labels[m["digit"]]),
            "digit": m["digit"],
        }

    def upsampled(self, y: torch.Tensor) -> torch.Tensor:
        """U(y) of LR frames (bicubic, clipped), the input an SR model concatenates."""
        return upsample(y, self.scale, "bicubic").clamp(-1, 1)


def frame_pairs(n_clips: int, scale: int = 4) -> dict[str, torch.Tensor]:
    """The training set ``"digits_video:S:N"``: the consecutive frame pairs of N training clips (8 frames of 48 × 48,
    so 7·N pairs): ``{"x": HR frame f + 1, "y": its LR frame, "previous": warp(HR frame f, d_f)}`` (Eq. 12.1) — the
    input of lesson 12's temporal model (on these clips the warped previous frame equals the current one exactly)."""
    clips = MovingDigits("train", n_clips=n_clips, scale=scale)
    x, y, previous = [], [], []
    for i in range(len(clips)):
        c = clips.clip(i)
        x.append(c["hr"][1:])
        y.append(c["y"][1:])
        previous.append(torch.stack([warp(c["hr"][f], c["shifts"][f]) for f in range(clips.frames - 1)]))
    return {"x": torch.cat(x), "y": torch.cat(y), "previous": torch.cat(previous)}
