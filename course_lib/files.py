"""Files, safely (ground layer): atomic writes, hashes, checkpoints, reproducible npz, the data manifest.

* **One atomic writer**, :func:`atomic_write`: everything the course writes (checkpoints, caches, the manifest,
  upscaled images) goes to a temporary file in the same folder first and is renamed over the target, so an
  interrupted write never leaves half a file and never destroys the previous one. Files are 0644.
* Checkpoints are read with ``torch.load(..., weights_only=True)``: tensors, dicts, lists, numbers and strings
  only, never arbitrary pickled code; shipped files are checked against their sha256 in ``data/manifest.json``
  first, and a missing or corrupt file is a :class:`CheckpointError` that says how to restore it.
* Data files live in ``data/`` next to the package (``COURSE_DATA_DIR`` overrides it) and are listed, with
  source, licence and sha256, in ``data/manifest.json``; :func:`register_data_file` keeps that file and the table
  in ``data/README.md`` in step.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

__all__ = [
    "computed_once",
    "CheckpointError",
    "DataFileError",
    "atomic_write",
    "write_text",
    "sha256_file",
    "save_checkpoint",
    "load_checkpoint",
    "write_npz",
    "data_dir",
    "load_manifest",
    "verify_file",
    "files_table",
    "register_data_file",
    "write_cached",
]


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupt, or does not match its recorded hash."""


class DataFileError(RuntimeError):
    """A data file is missing, corrupt, or does not match its recorded sha256."""


# ------------------------------------------------------------------ writing
@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; when the block ends without an error, rename it over ``path``.

    ``with atomic_write(out) as tmp: save_something(tmp)`` — the old ``out`` survives any failure inside the
    block, and the temporary file is removed. ``suffix`` (default: ``path``'s) lets writers that choose the format
    by extension (Pillow) see the right one. The folder is created if needed; the result is mode 0644.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix if suffix is None else suffix
    )
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; what the course writes is an ordinary file
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def sha256_file(path: str | os.PathLike) -> str:
    """The hex sha256 of a file's bytes (read in 1 MiB blocks): what ``data/manifest.json`` records."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_checkpoint(obj: dict, path: str | os.PathLike) -> Path:
    """``torch.save(obj)`` to ``path`` atomically (the old file survives an interrupted save)."""
    with atomic_write(path) as tmp:
        torch.save(obj, tmp)
    return Path(path)


def load_checkpoint(path: str | os.PathLike, expected_sha256: str | None = None, map_location="cpu") -> dict:
    """Load a checkpoint with ``weights_only=True``, after checking ``expected_sha256`` if given."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint {path} does not exist; restore it with `git checkout -- {path}` or retrain it with `make "
            "checkpoints`"
        )
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


def write_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """Like ``np.savez_compressed`` but with fixed zip timestamps, so the same arrays give the same bytes (and sha256);
    written atomically."""
    with atomic_write(path) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue())


# ------------------------------------------------------------------ data/ and its manifest
def data_dir() -> Path:
    """The folder holding the course data (``data/`` at the repository root, or ``$COURSE_DATA_DIR``)."""
    env = os.environ.get("COURSE_DATA_DIR")
    path = Path(env) if env else Path(__file__).resolve().parent.parent / "data"
    if not path.is_dir():
        raise DataFileError(
            f"the course data folder {path} does not exist; run from a clone of the course "
            "repository or set COURSE_DATA_DIR to its data/ folder"
        )
    return path


@functools.lru_cache(maxsize=4)
def _manifest(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise DataFileError(f"{path} is missing; regenerate the data with `make data`") from err
    except json.JSONDecodeError as err:
        raise DataFileError(f"{path} is not valid JSON ({err}); restore it with `git checkout -- data/`") from err


def load_manifest() -> dict:
    """The parsed ``data/manifest.json``: ``{"files": {relative_path: {"sha256": …, …}}}``."""
    return _manifest(data_dir() / "manifest.json")


@functools.lru_cache(maxsize=64)
def _verified(path: Path, size: int, mtime_ns: int, expected: str) -> bool:
    return sha256_file(path) == expected


def verify_file(relpath: str) -> Path:
    """Return the absolute path of a data file after checking its sha256 against the manifest.

    Raises ``DataFileError`` naming the file when it is missing, not in the manifest, or
    its content differs from the recorded hash (a corrupt or modified file).
    """
    root = data_dir()
    files = load_manifest().get("files", {})
    if relpath not in files:
        raise DataFileError(f"{relpath!r} is not listed in {root / 'manifest.json'}")
    path = root / relpath
    if not path.is_file():
        raise DataFileError(f"data file {path} is missing; restore it with `git checkout -- data/` or `make data`")
    expected = files[relpath]["sha256"]
    st = path.stat()
    if not _verified(path, st.st_size, st.st_mtime_ns, expected):
        raise DataFileError(
            f"data file {path} does not match its sha256 in manifest.json (expected {expected[:16]}…): "
            "it is corrupt or was modified; restore it with `git checkout -- data/` or `make data`"
        )
    return path


def files_table(manifest: dict) -> str:
    """The Markdown table of ``data/README.md``: one row per manifest entry (file, description, source, licence,
    sha256)."""
    rows = ["| file | description | source | licence | sha256 |", "|---|---|---|---|---|"]
    for rel, meta in manifest["files"].items():
        rows.append(f"| `{rel}` | {meta['description']} | {meta['source']} | {meta['licence']} | `{meta['sha256']}` |")
    return "\n".join(rows)


def register_data_file(relpath: str, meta: dict) -> None:
    """Add or update one entry of ``data/manifest.json`` and rewrite the table of ``data/README.md`` between its
    ``files:start/end`` markers. ``meta`` gives ``description``, ``source`` and ``licence``; ``sha256`` and
    ``bytes`` are computed from the file when absent."""
    missing = {"description", "source", "licence"} - set(meta)
    if missing:
        raise ValueError(f"meta for {relpath!r} lacks {sorted(missing)}")
    root = data_dir()
    file = root / relpath
    meta = {
        "sha256": meta.get("sha256") or sha256_file(file),
        "bytes": meta.get("bytes") or file.stat().st_size,
        **meta,
    }
    path = root / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"files": {}}
    manifest["files"][relpath] = meta
    write_text(path, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    _manifest.cache_clear()
    readme = root / "README.md"
    start, end = "<!-- files:start -->", "<!-- files:end -->"
    text = readme.read_text(encoding="utf-8") if readme.exists() else f"# data/\n\n{start}\n{end}\n"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        tail = rest.split(end, 1)[1]
        write_text(readme, f"{head}{start}\n{files_table(manifest)}\n{end}{tail}")


def write_cached(
    json_relpath: str,
    result: dict,
    npz_relpath: str | None,
    arrays: dict[str, np.ndarray] | None,
    source: str,
    descriptions: tuple[str, ...],
) -> None:
    """Write a cached evaluation — ``result`` as JSON, ``arrays`` (if any) as a reproducible npz — under ``data/``,
    atomically, and register the files in the manifest with the same ``source`` (the command and hardware) and the
    course's licence."""
    out = data_dir() / json_relpath
    write_text(out, json.dumps(result, indent=1) + "\n")
    written = [(json_relpath, descriptions[0])]
    if npz_relpath is not None:
        write_npz(data_dir() / npz_relpath, arrays or {})
        written.append((npz_relpath, descriptions[1]))
    for rel, description in written:
        register_data_file(
            rel, {"description": description, "source": source, "licence": "MIT (computed by the course)"}
        )
    print("wrote " + " and ".join(str(data_dir() / rel) for rel, _ in written))


def computed_once(path: str | Path, make):
    """``make()``'s result (tensors, or dicts and lists of them), kept in ``path`` (a ``.pt`` file under ``runs/``):
    computed the first time, read back afterwards — so that an interrupted experiment resumes where it stopped."""
    path = Path(path)
    if path.exists():
        return torch.load(path, weights_only=True)
    out = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(out, path)
    return out
