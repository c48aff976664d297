"""data/ is what the manifest and data/README.md say it is, and damage to it is reported clearly."""

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from course_lib import data

DATA = Path(__file__).resolve().parent.parent / "data"
NOT_DATA = {"README.md", "manifest.json", "make_datasets.py"}


def _manifest():
    return json.loads((DATA / "manifest.json").read_text(encoding="utf-8"))["files"]


def test_every_file_is_listed_with_its_sha256():
    files = {p.relative_to(DATA).as_posix() for p in DATA.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    configs = {f for f in files if f.startswith("checkpoints/") and f.endswith(".json") and not f.endswith(".log.json")}
    listed = set(_manifest())
    assert files - NOT_DATA - configs == listed
    for cfg in configs:  # every training config beside the checkpoints has produced its shipped model
        assert cfg[:-5] + ".pt" in listed, cfg
    for rel, meta in _manifest().items():
        assert hashlib.sha256((DATA / rel).read_bytes()).hexdigest() == meta["sha256"], rel
        assert meta["source"] and meta["licence"], rel


def test_readme_lists_every_file_with_source_licence_and_hash():
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    for rel, meta in _manifest().items():
        row = next((line for line in readme.splitlines() if line.startswith(f"| `{rel}` |")), None)
        assert row is not None, rel
        assert meta["sha256"] in row and meta["licence"] in row and meta["source"] in row
    assert "make_datasets.py" in readme


def test_decoded_pixels_match_content_hashes():
    meta = _manifest()
    with np.load(DATA / "digits.npz", allow_pickle=False) as z:
        for key, digest in meta["digits.npz"]["content_sha256"].items():
            assert hashlib.sha256(np.ascontiguousarray(z[key]).tobytes()).hexdigest() == digest, key
    for rel, m in meta.items():
        if rel.startswith("photos/"):
            pixels = np.asarray(Image.open(DATA / rel).convert("RGB"))
            assert pixels.shape == (256, 256, 3)
            assert hashlib.sha256(pixels.tobytes()).hexdigest() == m["content_sha256"], rel


def test_digits_split_is_stratified():
    xtr, ytr = data.load_digits("train")
    xte, yte = data.load_digits("test")
    assert xtr.shape == (4000, 32, 32) and xte.shape == (1000, 32, 32) and xtr.dtype == np.uint8
    assert np.bincount(ytr).tolist() == [400] * 10 and np.bincount(yte).tolist() == [100] * 10
    assert (xtr[:, :2].max() == 0) and (xtr[:, :, -2:].max() == 0)  # the 2-pixel padding


@pytest.fixture
def data_copy(tmp_path, monkeypatch):
    shutil.copy(DATA / "manifest.json", tmp_path)
    shutil.copy(DATA / "digits.npz", tmp_path)
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    return tmp_path


def test_corrupt_file_is_a_clear_error(data_copy):
    assert data.load_digits("test")[0].shape == (1000, 32, 32)  # the intact copy loads
    raw = bytearray((data_copy / "digits.npz").read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (data_copy / "digits.npz").write_bytes(bytes(raw))
    with pytest.raises(data.DataFileError, match=r"digits.npz does not match its sha256.*corrupt"):
        data.load_digits("test")


def test_missing_file_is_a_clear_error(data_copy):
    (data_copy / "digits.npz").unlink()
    with pytest.raises(data.DataFileError, match=r"digits.npz is missing"):
        data.load_digits("train")


def test_missing_data_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(data.DataFileError, match="does not exist"):
        data.load_digits("train")


def test_write_cached_writes_registers_and_reads_back(data_copy):
    import json

    import numpy as np

    (data_copy / "README.md").write_text("# data\n\n<!-- files:start -->\n<!-- files:end -->\n", encoding="utf-8")
    arrays = {"a": np.arange(6, dtype=np.uint8).reshape(2, 3)}
    data.write_cached(
        "cache/x.json", {"k": [1, 2]}, "cache/x.npz", arrays, "python -m something (test)", ("the json", "the npz")
    )
    assert json.loads(data.verify_file("cache/x.json").read_text()) == {"k": [1, 2]}
    with np.load(data.verify_file("cache/x.npz")) as z:
        assert np.array_equal(z["a"], arrays["a"])
    entry = data.load_manifest()["files"]["cache/x.json"]
    assert (
        entry["source"] == "python -m something (test)"
        and entry["description"] == "the json"
        and entry["licence"].startswith("MIT")
    )
    assert "cache/x.npz" in (data_copy / "README.md").read_text() and not list((data_copy / "cache").glob("*.tmp"))
    first = (data_copy / "cache/x.npz").read_bytes()
    data.write_cached("cache/x.json", {"k": [1, 2]}, "cache/x.npz", arrays, "again", ("the json", "the npz"))
    assert (data_copy / "cache/x.npz").read_bytes() == first  # same arrays, same bytes (same sha256)


def test_computed_once_computes_then_reads_back(tmp_path):
    """The experiments' resumable step: the first call computes and keeps the result, the next reads it back."""
    import torch

    from course_lib.files import computed_once

    calls = []

    def make():
        calls.append(1)
        return {"x": torch.arange(3.0), "seconds": 1.5}

    path = tmp_path / "runs" / "step.pt"
    first, again = computed_once(path, make), computed_once(path, make)
    assert len(calls) == 1 and path.exists()
    assert torch.equal(first["x"], again["x"]) and again["seconds"] == 1.5
