"""Saving and loading models safely (ground layer).

* Files are written atomically (to a temporary name, then renamed), so an interrupted save never
  destroys the previous checkpoint.
* Files are read with ``torch.load(..., weights_only=True)``: tensors, dicts, lists, numbers and
  strings only, never arbitrary pickled code.
* Shipped files are checked against their sha256 in ``data/manifest.json`` first; a missing or
  corrupt file is a :class:`CheckpointError` that names the file and says how to restore it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import torch

__all__ = ["CheckpointError", "save_checkpoint", "load_checkpoint", "sha256_file"]


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupt, or does not match its recorded hash."""


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_checkpoint(obj: dict, path: str | os.PathLike) -> Path:
    """``torch.save`` to ``path`` atomically (the old file survives an interrupted save)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a saved model is an ordinary file
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_checkpoint(path: str | os.PathLike, expected_sha256: str | None = None, map_location="cpu") -> dict:
    """Load a checkpoint with ``weights_only=True``, after checking ``expected_sha256`` if given."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; restore it with `git checkout -- {path}` or retrain it with `make checkpoints`")
    if expected_sha256 is not None and sha256_file(path) != expected_sha256:
        raise CheckpointError(
            f"checkpoint {path} does not match its recorded sha256 ({expected_sha256[:16]}…): it is corrupt or was "
            "modified; restore it with `git checkout -- data/` or retrain it with `make checkpoints`"
        )
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # truncated zip, wrong format, disallowed pickle content
        raise CheckpointError(f"checkpoint {path} could not be read ({type(err).__name__}: {str(err)[:200]})") from err
    if not isinstance(obj, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(obj).__name__}, expected a dict")
    return obj
