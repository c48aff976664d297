"""The shipped SR models, ``upscale`` and its command line, the SR widget, and the cached evaluation."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from course_lib.files import CheckpointError
from course_lib.data import DigitsSR, PhotosSR, to_uint8, upsample
from course_lib.experiments.evaluate import LIVE_INDICES, cached_values, image_noise, load_sr_eval, load_sr_samples
from course_lib.metrics import psnr
from course_lib.images import read_image
from course_lib.methods.sr3 import super_resolve
from course_lib.operators import consistency_psnr
from course_lib.engine.pretrained import load_sr_model
from course_lib.tools.sr import main, upscale

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(scope="module")
def digits_model():
    return load_sr_model("digits_sr3_concat", "cpu")


def _digit_lr(n=4):
    """n test digits of different classes (the split is sorted by class)."""
    return DigitsSR("test", 4).tensors(range(0, 100 * n, 100))


# ------------------------------------------------------------ shipped models
@pytest.mark.parametrize(
    "name,channels,scale", [("digits_sr3_concat", 1, 4), ("digits_sr3_encoder", 1, 4), ("photos_sr3", 3, 2)]
)
def test_shipped_sr_models_load(name, channels, scale):
    model, diffusion, config = load_sr_model(name, "cpu")
    assert model.channels == channels and model.scale == scale and model.prediction == config.prediction == "x0"
    assert not model.training and diffusion.num_timesteps == 1000


def test_shipped_digits_model_beats_bicubic_on_consistency(digits_model):
    model, diffusion, _ = digits_model
    hr, lr = _digit_lr(8)
    x_T = image_noise(range(8), (1, 32, 32), "cpu")
    sr = super_resolve(model, diffusion, lr, steps=10, x_T=x_T, progress=False)
    assert consistency_psnr(sr, lr, 4).mean() > consistency_psnr(upsample(lr, 4), lr, 4).mean()
    proj = super_resolve(model, diffusion, lr, steps=10, x_T=x_T, project=True, progress=False)
    assert consistency_psnr(proj, lr, 4).mean() > 40


def test_not_an_sr_model_or_missing():
    with pytest.raises(CheckpointError, match="not a super-resolution diffusion model"):
        load_sr_model("digits_unet", "cpu")
    with pytest.raises(CheckpointError, match="no shipped model named 'cats'"):
        load_sr_model("cats", "cpu")


# -------------------------------------------------------------------- upscale
def test_upscale_grayscale_array(digits_model):
    _, lr = _digit_lr(1)
    arr = to_uint8(lr[0])[..., 0]  # (8, 8) uint8
    out = upscale(arr, model=digits_model, steps=3, seed=0, device="cpu", progress=False)
    assert out.shape == (32, 32) and out.dtype == np.uint8
    again = upscale(
        arr, model=digits_model[:2], tile=digits_model[2].model.tile, steps=3, seed=0, device="cpu", progress=False
    )
    assert np.array_equal(out, again)  # seeded; the tile comes from the model's config or from the caller
    with pytest.raises(ValueError, match="tile: a model given without its config needs tile="):
        upscale(arr, model=digits_model[:2], steps=3, progress=False)
    # consistent with its input at least as well as bicubic
    t_out = torch.from_numpy(out).float()[None, None] / 127.5 - 1
    t_in = torch.from_numpy(arr).float()[None, None] / 127.5 - 1
    assert consistency_psnr(t_out, t_in, 4).item() > consistency_psnr(upsample(t_in, 4), t_in, 4).item() - 1


def test_upscale_rgb_file_with_tiles_has_no_seams(tmp_path):
    hr, lr = PhotosSR("test", scale=2, patch_size=96, mode="grid").tensors([0])
    small = to_uint8(lr[0, :, :40, :24])  # 40 x 24 LR: more than one 16 x 16 tile each way
    path = tmp_path / "in.png"
    Image.fromarray(small).save(path)
    out = upscale(path, steps=4, seed=0, device="cpu", progress=False)
    assert out.shape == (80, 48, 3) and out.dtype == np.uint8
    t_out = torch.from_numpy(out).permute(2, 0, 1)[None].float() / 127.5 - 1
    ref = hr[:, :, :80, :48]
    assert psnr(t_out, ref).item() > psnr(upsample(lr[:, :, :40, :24], 2), ref).item() - 3
    # no seam: the jump between neighbouring columns at tile borders is no larger than elsewhere
    cols = (t_out[..., 1:] - t_out[..., :-1]).abs().mean(dim=(0, 1, 2))
    border = 2 * (16 - 4)  # the first tile border in HR pixels (stride 12 LR)
    assert cols[border - 1] < 3 * cols.median() + 0.05
    # x4 with the x2 photo model runs it twice
    out4 = upscale(small[:12, :12], scale=4, steps=2, seed=0, device="cpu", progress=False)
    assert out4.shape == (48, 48, 3)


def test_upscale_bad_input(tmp_path, digits_model):
    rgb = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="the image has 3 channels but the model given takes 1"):
        upscale(rgb, model=digits_model[:2], steps=1, progress=False)
    with pytest.raises(ValueError, match=r"shape \(H, W\), \(H, W, 1\) or \(H, W, 3\)"):
        upscale(np.zeros((8, 8, 4), np.uint8), steps=1, progress=False)
    with pytest.raises(ValueError, match="float image must lie in"):
        read_image(np.full((8, 8), 2.0))
    with pytest.raises(ValueError, match="scale must be a power of the model's factor 4"):
        upscale(np.zeros((8, 8), np.uint8), scale=2, steps=1, progress=False)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="is an empty file"):
        upscale(empty)
    junk = tmp_path / "junk.png"
    junk.write_text("this is not a picture")
    with pytest.raises(ValueError, match="is not a readable image file"):
        upscale(junk)
    rgba = tmp_path / "rgba.png"
    Image.fromarray(np.zeros((8, 8, 4), np.uint8)).save(rgba)
    with pytest.raises(ValueError, match=r"4 channels \(RGBA\)"):
        upscale(rgba)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        upscale(tmp_path / "nope.png")
    with pytest.raises(ValueError, match=r"above max_pixels=1,000.*about .* min"):
        upscale(np.zeros((64, 64), np.uint8), max_pixels=1000, progress=False)


# ------------------------------------------------------------------------ CLI
def test_cli_writes_refuses_to_overwrite_and_reports_errors(tmp_path, capsys):
    _, lr = _digit_lr(1)
    src = tmp_path / "digit.png"
    Image.fromarray(to_uint8(lr[0])[..., 0]).save(src)
    dst = tmp_path / "out" / "digit_x4.png"
    assert main([str(src), str(dst), "--scale", "4", "--steps", "2", "--device", "cpu"]) == 0
    first = np.asarray(Image.open(dst))
    assert first.shape == (32, 32)
    dst.write_bytes(b"precious")
    assert main([str(src), str(dst), "--steps", "2", "--device", "cpu"]) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert dst.read_bytes() == b"precious"  # never overwritten without --overwrite
    assert main([str(src), str(dst), "--steps", "2", "--device", "cpu", "--overwrite"]) == 0
    assert np.array_equal(np.asarray(Image.open(dst)), first)
    assert main([str(tmp_path / "missing.png"), str(tmp_path / "o.png")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main([str(src), str(tmp_path / "o.png"), "--model", "photos_sr3", "--steps", "1"]) == 2
    assert "takes 3" in capsys.readouterr().err
    assert main([str(src), str(tmp_path / "o.txt"), "--steps", "1", "--device", "cpu"]) == 2
    assert "needs an image extension" in capsys.readouterr().err
    assert not (tmp_path / "o.txt").exists() and not list(tmp_path.glob(".o*"))  # no temporary files left


def test_cli_corrupt_checkpoint(tmp_path, monkeypatch, capsys):
    for rel in ("manifest.json", "checkpoints/digits_sr3_concat.pt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DATA / rel, tmp_path / rel)
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    ckpt = tmp_path / "checkpoints" / "digits_sr3_concat.pt"
    raw = bytearray(ckpt.read_bytes())
    raw[200] ^= 0xFF
    ckpt.write_bytes(bytes(raw))
    src = tmp_path / "in.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(src)
    assert main([str(src), str(tmp_path / "out.png"), "--steps", "1", "--device", "cpu"]) == 2
    assert "does not match its recorded sha256" in capsys.readouterr().err
    ckpt.unlink()
    assert main([str(src), str(tmp_path / "out.png"), "--steps", "1", "--device", "cpu"]) == 2
    assert "does not exist" in capsys.readouterr().err


# --------------------------------------------------------------------- widget
def test_sr_widget_shows_what_course_lib_computes(digits_model):
    import io

    from course_lib.teaching.widgets import SRWidget, sr_view

    model, diffusion, _ = digits_model
    hr, lr = _digit_lr(2)
    w = SRWidget(model, diffusion, {"a": (hr[0], lr[0]), "b": (hr[1], lr[1])}, tile=8)
    w.image.value, w.steps.value, w.seed.value, w.project.value = "b", 4, 3, True
    w.run.click()
    v = w.view
    assert w.progress.value == w.progress.max == 4 and v["evaluations"] == 4
    ref = sr_view(model, diffusion, lr[1], hr[1], "ddim", 4, 0.0, 3, True)
    assert torch.equal(v["sr"], ref["sr"])
    assert abs(v["metrics"]["SR"]["consistency"] - consistency_psnr(v["sr"][None], lr[1:2], 4).item()) < 1e-4
    assert abs(v["metrics"]["SR"]["psnr"] - psnr(v["sr"][None], hr[1:2]).item()) < 1e-4
    assert "consistency PSNR" in w.readout.value and w.picture.value[:4] == b"\x89PNG"
    # an upload (a 16 x 12 grayscale PNG) joins the choices without an HR, tiled at 8
    buf = io.BytesIO()
    Image.fromarray(np.full((12, 16), 128, np.uint8)).save(buf, "PNG")
    assert w.load_upload("mine.png", buf.getvalue())
    assert w.image.value == "upload: mine.png" and w.view["hr"] is None and w.view["sr"].shape == (1, 48, 64)
    assert "psnr" not in w.view["metrics"]["SR"]
    buf = io.BytesIO()
    Image.fromarray(np.full((5, 7), 200, np.uint8)).save(buf, "PNG")  # smaller than a tile and not divisible by 4
    assert w.load_upload("tiny.png", buf.getvalue()) and w.view["sr"].shape == (1, 20, 28)
    assert not w.load_upload("empty.png", b"") and "empty" in w.error
    buf = io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(buf, "PNG")
    assert not w.load_upload("rgb.png", buf.getvalue()) and "takes 1" in w.error


# ------------------------------------------------------------ cached numbers
def test_cached_evaluation_is_reproduced_and_meets_the_targets(digits_model):
    cached = load_sr_eval()
    model, diffusion, _ = digits_model
    idx = LIVE_INDICES[:6]
    hr, lr = DigitsSR("test", 4).tensors(idx)
    x_T = image_noise(idx, (1, 32, 32), "cpu")
    sr = super_resolve(model, diffusion, lr, steps=cached["steps"], x_T=x_T, progress=False)
    got = psnr(sr, hr)
    want = cached_values(cached["digits"]["digits_sr3_concat"], "psnr", idx)
    assert (got - want).abs().max() < 0.05, (got, want)
    d = cached["digits"]
    for name in ("digits_sr3_concat", "digits_sr3_encoder"):
        assert d[f"{name} + projection"]["consistency"]["mean"] > 40
        assert d[name]["hf_ratio"]["mean"] > 2 * d["bicubic"]["hf_ratio"]["mean"]
        assert d[name]["agreement"]["mean"] > d["bicubic"]["agreement"]["mean"]
    samples = load_sr_samples()
    assert samples["digits_lr"].shape == (10, 8, 8, 1) and samples["digits_diversity"].shape == (8, 32, 32, 1)
    with pytest.raises(ValueError, match="were not evaluated"):
        cached_values(d["bicubic"], "psnr", [1])  # odd indices are not in the evaluated set
    assert samples["photos::photos_sr3"].shape == (4, 96, 96, 3)
    # the stored grids are the cached metrics' images: bicubic recomputed from the stored LR matches
    lr8 = torch.from_numpy(samples["digits_lr"]).permute(0, 3, 1, 2).float() / 127.5 - 1
    assert np.abs(to_uint8(upsample(lr8, 4)).astype(int) - samples["digits::bicubic"].astype(int)).max() <= 1
