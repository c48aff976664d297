"""docs/train-on-your-photos.md: the folder dataset, the config to copy, and the recipe end to end on a tiny folder —
training with the documented command, then the evaluation block of the page, run as it is written."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from course_lib.datasets import load_training_set, training_lr_size
from course_lib.engine.train import TrainConfig

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "train-on-your-photos.md"
RECIPE = ROOT / "docs" / "recipes" / "my_photos_sr.json"


def _folder(path: Path, sizes) -> Path:
    path.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i, (w, h) in enumerate(sizes):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path / f"img{i}.png")
    return path


def test_the_folder_dataset_gives_fixed_random_crops(tmp_path):
    folder = _folder(tmp_path / "photos:with:colons", [(40, 30), (33, 50)])
    name = f"folder_sr:2:16:3:{folder}"
    data = load_training_set(name)
    assert data["x"].shape == (6, 3, 16, 16) and data["y"].shape == (6, 3, 8, 8)
    assert data["x"].min() >= -1 and data["x"].max() <= 1
    assert torch.equal(load_training_set(name)["x"], data["x"])  # positions fixed by the seed
    # y is the course's degradation of x: area ×2
    assert torch.allclose(data["y"], torch.nn.functional.avg_pool2d(data["x"], 2), atol=1e-6)
    assert training_lr_size(name) == 8
    with pytest.raises(ValueError, match="patch_size=15 is not divisible by scale=2"):
        load_training_set(f"folder_sr:2:15:3:{folder}")
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        load_training_set(f"folder_sr:2:16:3:{tmp_path / 'missing'}")


def test_the_recipe_config_is_valid_and_names_a_folder_to_change():
    raw = json.loads(RECIPE.read_text(encoding="utf-8"))
    config = TrainConfig.from_dict(raw)
    assert config.method == "sr3" and config.dataset.startswith("folder_sr:2:64:32:") and config.augment
    assert config.model.scale == 2 and int(config.dataset.split(":")[1]) == config.model.scale
    doc = DOC.read_text(encoding="utf-8")
    steps, batch = config.steps, config.batch_size
    assert f"{steps:,} steps of {batch} crops of 64 × 64, {steps * batch:,} crops" in doc


def test_the_recipe_runs_end_to_end_on_a_tiny_folder(tmp_path):
    train = _folder(tmp_path / "train", [(80, 72), (64, 96)])
    held = _folder(tmp_path / "held", [(128, 64)])
    raw = json.loads(RECIPE.read_text(encoding="utf-8"))
    raw.update(
        dataset=f"folder_sr:2:64:2:{train}", steps=3, batch_size=4, checkpoint_every=3, log_every=1, warmup_steps=1
    )
    config = tmp_path / "my_photos_sr.json"
    config.write_text(json.dumps(raw), encoding="utf-8")
    runs = tmp_path / "runs"
    env = {"COURSE_DEVICE": "cpu", "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    subprocess.run(
        [sys.executable, "-m", "course_lib.engine.train", "--config", str(config), "--no-export", "--runs", str(runs)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    block = re.search(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S).group(1)
    line = 'STATE, HELD_OUT, N = "runs/my_photos_sr/state.pt", "path/to/DIV2K_valid_HR", 64'
    assert line in block
    block = block.replace(line, f'STATE, HELD_OUT, N = {str(runs / "my_photos_sr" / "state.pt")!r}, {str(held)!r}, 64')
    out = subprocess.run([sys.executable, "-c", block], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    m = re.search(r"2 held-out patches: PSNR ([\d.]+) dB, ([+-][\d.]+) dB over bicubic", out.stdout)
    assert m, out.stdout
    assert 0 < float(m.group(1)) < 60
