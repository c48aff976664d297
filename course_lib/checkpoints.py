"""Moved: checkpoints are written and read by :mod:`course_lib.files` (``save_checkpoint``, ``load_checkpoint``,
``sha256_file``, ``CheckpointError``). This module keeps the old import path for one release."""

from ._compat import moved_names

__getattr__ = moved_names(__name__, {name: f"course_lib.files:{name}" for name in
                                     ("CheckpointError", "save_checkpoint", "load_checkpoint", "sha256_file")})
