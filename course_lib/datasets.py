"""Datasets · 数据 (lesson 00): the digits, the photos, your own image folders, 2-D toys — and the training sets
that configs name.

Every SR dataset yields ``(hr, y)`` pairs: ``hr`` ``(C, H, W)`` and ``y`` ``(C, H / s, W / s)``, both in [-1, 1],
with y made by the degradation of Eq. 00.1 (:func:`course_lib.operators.degrade`). Files are read from ``data/``
and checked against ``data/manifest.json`` (sha256) before use.

:func:`load_training_set` turns a config's ``dataset`` string into the tensors a method trains on, a dict
``{"x": …}`` (plus ``"y"`` for SR pairs, ``"label"`` for labelled digits) whose first dimension indexes the items.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from .checks import check_int
from .files import load_manifest, verify_file
from .images import IMAGE_EXTENSIONS, image_size, read_image, to_tensor
from .operators import DOWNSAMPLE_KERNELS, check_scale, degrade

__all__ = [
    "load_digits",
    "photo_paths",
    "toy_points",
    "TOY_SETS",
    "DigitsSR",
    "ImageFolderSR",
    "PhotosSR",
    "load_training_set",
    "training_lr_size",
    "DATASET_NAMES",
    "BLIND_SEED_BASE",
    "TRAIN_DIGITS",
    "dihedral",
]


def load_digits(split: str) -> tuple[np.ndarray, np.ndarray]:
    """The digits dataset: ``(images, labels)`` of one split.

    Args:
        split: ``"train"`` (4,000 digits) or ``"test"`` (1,000 digits).

    Returns:
        ``images`` uint8 ``(N, 32, 32)`` and ``labels`` uint8 ``(N,)``.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    path = verify_file("digits.npz")
    with np.load(path, allow_pickle=False) as z:
        return z[f"x_{split}"], z[f"y_{split}"]


def photo_paths(split: str) -> list[Path]:
    """Paths of the photos of one split (``"train"`` or ``"test"``), sorted by name, hashes verified."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    prefix = f"photos/{split}/"
    names = sorted(rel for rel in load_manifest()["files"] if rel.startswith(prefix))
    return [verify_file(rel) for rel in names]


# ------------------------------------------------------------- toy 2-D data
TOY_SETS = ("spiral", "moons", "rings")


def toy_points(name: str = "spiral", n: int = 10_000, seed: int = 0) -> torch.Tensor:
    """2-D point clouds for lesson 02's toy denoiser, roughly within [-2, 2]² (about unit variance, like the
    noise they are mixed with): ``(n, 2)`` float32.

    ``"spiral"`` (a 1.5-turn spiral), ``"moons"`` (two interleaved half circles), ``"rings"`` (two circles);
    each with a little Gaussian jitter, drawn from ``seed``.
    """
    if name not in TOY_SETS:
        raise ValueError(f"name must be one of {TOY_SETS}, got {name!r}")
    check_int(n, "n", low=1)
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(n, generator=g)
    if name == "spiral":
        theta = 3 * np.pi * u.sqrt() + 0.5
        pts = torch.stack([theta * torch.cos(theta), theta * torch.sin(theta)], 1) / (3 * np.pi + 0.5)
    elif name == "moons":
        upper = torch.rand(n, generator=g) < 0.5
        ang = np.pi * u
        x = torch.where(upper, torch.cos(ang), 1 - torch.cos(ang)) - 0.5
        y = torch.where(upper, torch.sin(ang), 0.5 - torch.sin(ang)) - 0.25
        pts = torch.stack([x, y], 1) * 0.9
    else:
        radius = torch.where(torch.rand(n, generator=g) < 0.5, 0.4, 0.85)
        ang = 2 * np.pi * u
        pts = torch.stack([radius * torch.cos(ang), radius * torch.sin(ang)], 1)
    return (2.0 * pts + 0.04 * torch.randn(n, 2, generator=g)).float()


# ------------------------------------------------------------------- datasets
class _SRPairs(Dataset):
    """Shared ``(hr, y)`` logic: subclasses provide ``_hr(index) -> (C, H, W)`` in [-1, 1]."""

    def __init__(self, scale: int, kernel: str, blur_sigma: float, noise_std: float, seed: int):
        self.scale = check_scale(scale)
        if kernel not in DOWNSAMPLE_KERNELS:
            raise ValueError(f"kernel must be one of {DOWNSAMPLE_KERNELS}, got {kernel!r}")
        if not blur_sigma >= 0:
            raise ValueError(f"blur_sigma must be >= 0, got {blur_sigma}")
        if not noise_std >= 0:
            raise ValueError(f"noise_std must be >= 0, got {noise_std}")
        self.kernel, self.blur_sigma, self.noise_std, self.seed = kernel, blur_sigma, noise_std, int(seed)

    def _hr(self, index: int) -> torch.Tensor:  # pragma: no cover - abstract
        """The HR image of item ``index``, ``(C, H, W)`` in [-1, 1] (subclasses define it)."""
        raise NotImplementedError

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for a dataset of {len(self)} items")
        index = index % len(self)
        hr = self._hr(index)
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + index) if self.noise_std > 0 else None
        y = degrade(hr[None], self.scale, self.kernel, self.blur_sigma, self.noise_std, gen)[0]
        return hr, y

    def tensors(self, indices: Sequence[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """All (or the chosen) pairs stacked: ``hr`` ``(N, C, H, W)`` and ``y`` ``(N, C, H/s, W/s)``."""
        idx = range(len(self)) if indices is None else indices
        pairs = [self[i] for i in idx]
        if not pairs:
            raise ValueError("indices selects no items")
        return torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])


class DigitsSR(_SRPairs):
    """Digits as super-resolution pairs: ``hr`` ``(1, 32, 32)``, ``y`` ``(1, 32/s, 32/s)`` in [-1, 1].

    Args:
        split: ``"train"`` or ``"test"``.
        scale: 2 or 4 (any divisor of 32 works).
        kernel, blur_sigma, noise_std: the degradation of Eq. 00.1.
        seed: seeds the per-item noise draw (item ``i`` always gets the same noise).

    Attributes:
        images: uint8 ``(N, 32, 32)``;  labels: uint8 ``(N,)``, the digit in each image.
    """

    def __init__(
        self,
        split: str = "train",
        scale: int = 4,
        kernel: str = "area",
        blur_sigma: float = 0.0,
        noise_std: float = 0.0,
        seed: int = 0,
    ):
        super().__init__(scale, kernel, blur_sigma, noise_std, seed)
        if 32 % self.scale:
            raise ValueError(f"scale={scale} does not divide the 32x32 digits; use 2, 4, 8 or 16")
        self.split = split
        self.images, self.labels = load_digits(split)
        self._hr_all = to_tensor(self.images)  # (N, 1, 32, 32)

    def __len__(self) -> int:
        return len(self.images)

    def _hr(self, index: int) -> torch.Tensor:
        return self._hr_all[index]

    def tensors(self, indices: Sequence[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """All (or the chosen) pairs at once: ``hr`` ``(N, 1, 32, 32)`` and ``y`` ``(N, 1, 32/s, 32/s)``."""
        hr = self._hr_all if indices is None else self._hr_all[torch.as_tensor(list(indices), dtype=torch.long)]
        if self.noise_std > 0:
            return super().tensors(indices)
        return hr, degrade(hr, self.scale, self.kernel, self.blur_sigma)


class ImageFolderSR(_SRPairs):
    """Patches from a folder of your own images (e.g. DIV2K) as ``(hr, y)`` pairs.

    Args:
        root: folder searched recursively for ``IMAGE_EXTENSIONS`` files (sorted by path).
        scale: integer SR factor; ``patch_size`` must be divisible by it.
        patch_size: side of the square HR patches.
        mode: ``"grid"`` -- every non-overlapping patch of every image, row by row (for
            evaluation); ``"random"`` -- ``samples_per_image`` crops per image at positions
            drawn once from ``seed`` (for training; the same items every time).
        channels: 3 (RGB) or 1 (grayscale).
        paths: an explicit list of files instead of searching ``root``.

    Attributes:
        paths: the image files; ``sources[i]``: the file stem patch ``i`` comes from;
        ``positions[i]``: ``(image_index, top, left)``.
    """

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        scale: int = 4,
        patch_size: int = 64,
        mode: str = "random",
        samples_per_image: int = 16,
        channels: int = 3,
        kernel: str = "area",
        blur_sigma: float = 0.0,
        noise_std: float = 0.0,
        seed: int = 0,
        paths: Sequence[str | os.PathLike] | None = None,
        cache_images: int = 16,
    ):
        super().__init__(scale, kernel, blur_sigma, noise_std, seed)

        if mode not in ("grid", "random"):
            raise ValueError(f"mode must be 'grid' or 'random', got {mode!r}")
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels!r}")
        check_int(patch_size, "patch_size", low=1)
        if patch_size % self.scale:
            raise ValueError(f"patch_size={patch_size} is not divisible by scale={self.scale}")
        if mode == "random" and (not isinstance(samples_per_image, int) or samples_per_image < 1):
            raise ValueError(f"samples_per_image must be a positive int, got {samples_per_image!r}")
        if paths is None:
            if root is None:
                raise ValueError("give root (a folder of images) or paths (a list of image files)")
            root = Path(root)
            if not root.is_dir():
                raise FileNotFoundError(f"root={str(root)!r} is not a folder")
            paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
            if not paths:
                raise ValueError(f"root={str(root)!r} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
        self.paths = [Path(p) for p in paths]
        self.patch_size, self.mode, self.channels = patch_size, mode, channels

        gen = torch.Generator().manual_seed(self.seed)
        self.positions: list[tuple[int, int, int]] = []
        for i, path in enumerate(self.paths):
            w, h = image_size(path)
            if h < patch_size or w < patch_size:
                raise ValueError(f"{path} is {w}x{h}, smaller than patch_size={patch_size}")
            if mode == "grid":
                self.positions += [
                    (i, top, left)
                    for top in range(0, h - patch_size + 1, patch_size)
                    for left in range(0, w - patch_size + 1, patch_size)
                ]
            else:
                tops = torch.randint(0, h - patch_size + 1, (samples_per_image,), generator=gen)
                lefts = torch.randint(0, w - patch_size + 1, (samples_per_image,), generator=gen)
                self.positions += [(i, int(a), int(b)) for a, b in zip(tops, lefts)]
        self.sources = [self.paths[i].stem for i, _, _ in self.positions]
        self._load = functools.lru_cache(maxsize=cache_images)(self._load_uncached)

    def _load_uncached(self, image_index: int) -> torch.Tensor:
        return to_tensor(read_image(self.paths[image_index], self.channels))

    def __len__(self) -> int:
        return len(self.positions)

    def _hr(self, index: int) -> torch.Tensor:
        i, top, left = self.positions[index]
        p = self.patch_size
        return self._load(i)[:, top : top + p, left : left + p]


class PhotosSR(ImageFolderSR):
    """The course's photos (``data/photos``) as ``(hr, y)`` RGB patch pairs, split by source photo.

    Args:
        split: ``"train"`` (8 photos) or ``"test"`` (4 held-out photos: camera, chelsea,
            coffee, gravel); other arguments as :class:`ImageFolderSR`. ``mode`` defaults to
            ``"grid"`` for the test split and ``"random"`` for the train split.
    """

    def __init__(self, split: str = "train", scale: int = 4, patch_size: int = 64, mode: str | None = None, **kwargs):
        self.split = split
        mode = mode or ("grid" if split == "test" else "random")
        super().__init__(paths=photo_paths(split), scale=scale, patch_size=patch_size, mode=mode, **kwargs)


#: the number of training digits (the classifier's epochs of the previous release count them)
TRAIN_DIGITS = 4000


def dihedral(x: torch.Tensor, k: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """Per-sample 90° turns (``k`` ``(B,)`` in 0…3) and horizontal flips (``flip`` ``(B,)`` bool) of ``(B, C, H, W)``.
    Area downsampling commutes with both, so an augmented pair is still a valid (HR, y) pair."""
    out = torch.where(flip[:, None, None, None], x.flip(-1), x)
    for turns in (1, 2, 3):
        sel = k == turns
        if sel.any():
            out[sel] = torch.rot90(out[sel], turns, dims=(-2, -1))
    return out


#: the forms of a config's ``dataset`` entry (see :func:`load_training_set`)
DATASET_NAMES = (
    "digits",
    "digits_labels",
    "digits_labels:FACTOR",
    "toy2d:NAME",
    "digits_sr:SCALE",
    "digits_video:SCALE:CLIPS",
    "photos_sr:SCALE:PATCH",
    "folder_sr:SCALE:PATCH:PER_IMAGE:FOLDER",
    "digits_blind:COPIES[:N]",
)
#: digits_blind's per-image seeds: copy k of training digit i is degraded with seed BLIND_SEED_BASE + 4000·k + i
BLIND_SEED_BASE = 500_000


@functools.lru_cache(maxsize=2)
def _digits_blind(copies: int, first: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``copies`` degraded copies of the training digits (the ``first`` ones only, for quick examples), cached: the
    JPEG round trips take a while. Copy k of digit i always has the seed ``BLIND_SEED_BASE + 4000·k + i``."""
    from .operators import BlindDegradation

    if copies < 1:
        raise ValueError(f"copies must be >= 1, got {copies}")
    hr = to_tensor(load_digits("train")[0])
    n = hr.shape[0]
    used = n if first is None else first
    if not 1 <= used <= n:
        raise ValueError(f"the number of digits must be in 1 … {n}, got {first}")
    seeds = [BLIND_SEED_BASE + n * k + i for k in range(copies) for i in range(used)]
    x = hr[:used].repeat(copies, 1, 1, 1)
    return x, BlindDegradation().apply(x, seeds)[0]


def load_training_set(name: str) -> dict[str, torch.Tensor]:
    """The training set a config names, as tensors whose first dimension indexes the items.

    * ``"digits"``: ``{"x": (4000, 1, 32, 32)}``; ``"digits_labels"``: the same plus ``"label"`` ``(4000,)`` int64;
      ``"digits_labels:S"``: the digits area-downsampled by S (``"digits_labels:4"``: 8 × 8, a cascade's base), with
      labels;
    * ``"toy2d:NAME"``: ``{"x": (20000, 2)}`` points of :func:`toy_points` (seed 0);
    * ``"digits_sr:S"``: ``{"x": hr (4000, 1, 32, 32), "y": (4000, 1, 32/S, 32/S)}``, all training digits;
    * ``"photos_sr:S:P"``: ``{"x": hr (8192, 3, P, P), "y": (8192, 3, P/S, P/S)}``, 1,024 random P × P crops of
      each training photo (positions fixed by seed 0).
    * ``"digits_blind:K"``: ``{"x": hr (4000·K, 1, 32, 32), "y": degraded (4000·K, 1, 32, 32)}``, K differently
      degraded copies of every training digit by :class:`~course_lib.operators.BlindDegradation` (lesson 08),
      copy k of digit i with seed ``BLIND_SEED_BASE + 4000·k + i``; ``"digits_blind:K:N"``: of the first N only;
    * ``"digits_video:S:N"``: the frame pairs of N training clips (lesson 12), built by
      :func:`course_lib.video.frame_pairs` — the ``video_sr3`` method's :meth:`~course_lib.methods.Method.training_set`
      (the clips live above this module);
    * ``"folder_sr:S:P:K:FOLDER"``: your own RGB images (every image file under FOLDER, e.g. DIV2K's 800 HR images):
      K random P × P crops of each (positions fixed by seed 0), held in memory — N·K·3·P²·4 bytes for the HR crops
      (800 images, K = 32, P = 64: 1.3 GB). FOLDER may contain ":" (it is everything after the fourth).
    """
    if name in ("digits", "digits_labels"):
        images, labels = load_digits("train")
        out = {"x": to_tensor(images)}
        if name == "digits_labels":
            out["label"] = torch.as_tensor(labels).long()
        return out
    if isinstance(name, str) and name.startswith("toy2d:"):
        return {"x": toy_points(name.split(":", 1)[1], 20_000, seed=0)}
    parts = name.split(":") if isinstance(name, str) else []
    try:
        if parts and parts[0] == "digits_labels" and len(parts) == 2:
            s = int(parts[1])
            if s < 1 or 32 % s:
                raise ValueError(f"the downsampling factor must divide 32, got {s}")
            images, labels = load_digits("train")
            x = torch.nn.functional.avg_pool2d(to_tensor(images), s) if s > 1 else to_tensor(images)
            return {"x": x, "label": torch.as_tensor(labels).long()}
        if parts and parts[0] == "digits_sr" and len(parts) == 2:
            hr, y = DigitsSR("train", scale=int(parts[1])).tensors()
            return {"x": hr, "y": y}
        if parts and parts[0] == "digits_video":
            raise ValueError(
                "the clips' frame pairs are built by course_lib.video.frame_pairs, through the video_sr3 method "
                "(Method.training_set): train with method 'video_sr3'"
            )
        if parts and parts[0] == "photos_sr" and len(parts) == 3:
            hr, y = PhotosSR(
                "train", scale=int(parts[1]), patch_size=int(parts[2]), mode="random", samples_per_image=1024
            ).tensors()
            return {"x": hr, "y": y}
        if parts and parts[0] == "digits_blind" and len(parts) in (2, 3):
            x, y = _digits_blind(int(parts[1]), int(parts[2]) if len(parts) == 3 else None)
            return {"x": x.clone(), "y": y.clone()}
        if parts and parts[0] == "folder_sr" and len(parts) >= 5:
            hr, y = ImageFolderSR(
                ":".join(parts[4:]),
                scale=int(parts[1]),
                patch_size=int(parts[2]),
                mode="random",
                samples_per_image=int(parts[3]),
            ).tensors()
            return {"x": hr, "y": y}
    except ValueError as err:
        raise ValueError(f"dataset {name!r}: {err}") from err
    raise ValueError(f"dataset must be one of the forms {', '.join(repr(n) for n in DATASET_NAMES)}, got {name!r}")


def training_lr_size(name: str) -> int | None:
    """The side of the LR images a config's SR ``dataset`` trains on (``"digits_sr:4"`` → 8, ``"photos_sr:2:32"``
    → 16), or ``None`` for other datasets: an SR model's natural tile size."""
    parts = name.split(":") if isinstance(name, str) else []
    if parts and parts[0] == "digits_sr" and len(parts) == 2:
        return 32 // int(parts[1])
    if parts and parts[0] == "digits_video" and len(parts) == 3:
        return 48 // int(parts[1])
    if parts and parts[0] in ("photos_sr", "folder_sr") and len(parts) >= 3:
        return int(parts[2]) // int(parts[1])
    return None
