"""Data for super-resolution · 数据与退化 (lesson 00): the one place a lesson imports data from.

``from course_lib import data`` gives the datasets, the degradation of Eq. 00.1 and the image conversions, each
defined in its own module below and gathered here so that lesson 00 reads ``data.degrade(…)``, ``data.DigitsSR(…)``:

* :mod:`course_lib.images` — ``to_tensor`` / ``to_uint8`` (uint8 ↔ [-1, 1]), ``read_image``;
* :mod:`course_lib.operators` — ``gaussian_blur``, ``downsample``, ``upsample``, ``degrade`` (Eq. 00.1);
* :mod:`course_lib.datasets` — ``load_digits``, ``DigitsSR``, ``PhotosSR``, ``ImageFolderSR``, ``toy_points``;
* :mod:`course_lib.files` — ``data_dir``, the manifest (``verify_file``, ``register_data_file``), ``write_npz``.

Conventions: images in [-1, 1], float32, channels first; every dataset yields ``(hr, y)`` pairs, ``hr``
``(C, H, W)`` and ``y`` ``(C, H / s, W / s)``.
"""

from __future__ import annotations

from .datasets import TOY_SETS, DigitsSR, ImageFolderSR, PhotosSR, load_digits, photo_paths, toy_points
from .files import (
    DataFileError,
    data_dir,
    files_table,
    load_manifest,
    register_data_file,
    verify_file,
    write_cached,
    write_npz,
)
from .images import IMAGE_EXTENSIONS, read_image, to_tensor, to_uint8
from .operators import degrade, downsample, gaussian_blur, upsample

__all__ = [
    "data_dir",
    "load_manifest",
    "write_cached",
    "verify_file",
    "load_digits",
    "photo_paths",
    "to_tensor",
    "to_uint8",
    "gaussian_blur",
    "downsample",
    "degrade",
    "upsample",
    "DigitsSR",
    "ImageFolderSR",
    "PhotosSR",
    "IMAGE_EXTENSIONS",
    "DataFileError",
    "toy_points",
    "TOY_SETS",
    "register_data_file",
    "files_table",
    "write_npz",
    "read_image",
]
