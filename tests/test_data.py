import numpy as np
import pytest
import torch
from PIL import Image

from course_lib import data


# ---------------------------------------------------------------- conversions
def test_uint8_roundtrip_is_exact_for_every_level():
    levels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    t = data.to_tensor(levels)
    assert t.shape == (1, 16, 16) and t.min() == -1 and t.max() == 1
    assert np.array_equal(data.to_uint8(t)[..., 0], levels)


def test_to_tensor_layouts():
    assert data.to_tensor(np.zeros((5, 6, 3), np.uint8)).shape == (3, 5, 6)
    assert data.to_tensor(np.zeros((7, 5, 6), np.uint8)).shape == (7, 1, 5, 6)
    with pytest.raises(TypeError, match="uint8"):
        data.to_tensor(np.zeros((4, 4), np.float32))


# ---------------------------------------------------------------- degradation
def _img(shape, seed=0, device="cpu"):
    return (torch.rand(shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1).to(device)


def test_area_downsampling_is_the_block_mean(device):
    x = _img((2, 3, 8, 12), device=device)
    y = data.degrade(x, 4)
    assert y.shape == (2, 3, 2, 3)
    assert torch.allclose(y, x.reshape(2, 3, 2, 4, 3, 4).mean(dim=(3, 5)), atol=1e-6)


def test_bicubic_downsampling_equals_pil_antialiased_bicubic():
    x = _img((1, 1, 32, 32), seed=1) * 0.5
    ours = data.downsample(x, 4, "bicubic")[0, 0].numpy()
    pil = np.asarray(Image.fromarray(x[0, 0].numpy(), mode="F").resize((8, 8), Image.BICUBIC))
    assert np.allclose(ours, pil, atol=1e-5)


def test_bicubic_upsampling_equals_pil_bicubic():
    x = _img((1, 1, 8, 8), seed=2) * 0.3  # small values: no clipping to [-1, 1]
    ours = data.upsample(x, 4)[0, 0].numpy()
    pil = np.asarray(Image.fromarray(x[0, 0].numpy(), mode="F").resize((32, 32), Image.BICUBIC))
    assert np.allclose(ours, pil, atol=1e-5)


def test_upsample_modes_and_range():
    x = _img((1, 1, 4, 4), seed=3)
    near = data.upsample(x, 2, "nearest")
    assert torch.equal(near[..., ::2, ::2], x)
    assert data.upsample(x, 4).abs().max() <= 1
    assert torch.allclose(data.downsample(data.upsample(x, 4, "nearest"), 4), x)  # A A+ = I


def test_blur_preserves_constants_and_sigma_zero_is_identity(device):
    c = torch.full((1, 3, 16, 16), 0.3, device=device)
    assert torch.allclose(data.gaussian_blur(c, 2.0), c, atol=1e-6)
    x = _img((1, 1, 16, 16), device=device)
    assert data.gaussian_blur(x, 0) is x
    assert data.gaussian_blur(x, 1.0).std() < x.std()


def test_noise_is_seeded_and_has_the_requested_std(device):
    x = torch.zeros(4, 1, 64, 64, device=device)
    g = lambda: torch.Generator(device=device).manual_seed(0)  # noqa: E731
    a = data.degrade(x, 2, noise_std=0.1, generator=g())
    assert torch.equal(a, data.degrade(x, 2, noise_std=0.1, generator=g()))
    assert abs(a.std().item() - 0.1) < 0.01


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        (dict(scale=3), ValueError, r"32x32 is not divisible by scale=3"),
        (dict(scale=0), ValueError, "scale: expected an int >= 1"),
        (dict(scale=2.0), ValueError, "scale: expected an int >= 1"),
        (dict(scale=2, kernel="lanczos"), ValueError, r"kernel must be one of \('area', 'bicubic'\)"),
        (dict(scale=2, noise_std=-0.1), ValueError, "noise_std must be >= 0"),
        (dict(scale=2, blur_sigma=-1.0), ValueError, "sigma must be >= 0"),
    ],
)
def test_degrade_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        data.degrade(torch.zeros(1, 1, 32, 32), **kwargs)


def test_degrade_bad_tensors():
    with pytest.raises(ValueError, match=r"hr must have shape \(B, C, H, W\)"):
        data.degrade(torch.zeros(32, 32), 2)
    with pytest.raises(TypeError, match="hr must be a floating-point"):
        data.degrade(torch.zeros(1, 1, 32, 32, dtype=torch.uint8), 2)


# ------------------------------------------------------------------- datasets
@pytest.mark.parametrize("scale", [2, 4])
def test_digits_pairs(scale):
    ds = data.DigitsSR("test", scale=scale)
    assert len(ds) == 1000 and len(data.DigitsSR("train", scale=scale)) == 4000
    hr, lr = ds[17]
    assert hr.shape == (1, 32, 32) and lr.shape == (1, 32 // scale, 32 // scale)
    assert hr.dtype == torch.float32 and -1 <= hr.min() and hr.max() <= 1
    assert torch.allclose(lr, data.downsample(hr[None], scale)[0])
    H, L = ds.tensors([3, 17])
    assert torch.equal(H[1], hr) and torch.equal(L[1], lr)
    assert np.bincount(ds.labels).tolist() == [100] * 10


def test_digits_noise_is_fixed_per_item():
    ds = data.DigitsSR("test", scale=4, noise_std=0.05, seed=1)
    assert torch.equal(ds[5][1], ds[5][1])
    assert not torch.equal(ds[5][1], data.DigitsSR("test", scale=4, noise_std=0.05, seed=2)[5][1])
    assert torch.equal(ds.tensors([5])[1][0], ds[5][1])


def test_dataset_index_errors():
    ds = data.DigitsSR("test")
    with pytest.raises(IndexError, match="out of range"):
        ds[1000]
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        data.DigitsSR("valid")
    with pytest.raises(ValueError, match="scale=3"):
        data.DigitsSR("test", scale=3)


def test_photos_split_by_source_photo():
    test = data.PhotosSR("test", scale=4, patch_size=64)
    train = data.PhotosSR("train", scale=2, patch_size=64, samples_per_image=4)
    assert set(test.sources) == {"camera", "chelsea", "coffee", "gravel"}
    assert len(set(train.sources)) == 8 and not set(train.sources) & set(test.sources)
    assert len(test) == 4 * 16 and len(train) == 8 * 4
    hr, lr = test[0]
    assert hr.shape == (3, 64, 64) and lr.shape == (3, 16, 16)
    assert train[0][1].shape == (3, 32, 32)
    assert test.mode == "grid" and train.mode == "random"


def test_random_crops_are_seeded():
    a = data.PhotosSR("train", samples_per_image=3, seed=0)
    assert a.positions == data.PhotosSR("train", samples_per_image=3, seed=0).positions
    assert a.positions != data.PhotosSR("train", samples_per_image=3, seed=1).positions


# ------------------------------------------------------ your own image folder
@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    sub = tmp_path / "more"
    sub.mkdir()
    Image.fromarray(rng.integers(0, 256, (32, 32), dtype=np.uint8)).save(sub / "b.jpg")
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


def test_image_folder_grid_and_random(folder):
    grid = data.ImageFolderSR(folder, scale=2, patch_size=16, mode="grid")
    assert [p.name for p in grid.paths] == ["a.png", "b.jpg"]
    assert len(grid) == 2 * 3 + 2 * 2
    hr, lr = grid[0]
    assert hr.shape == (3, 16, 16) and lr.shape == (3, 8, 8)
    expected = data.to_tensor(np.asarray(Image.open(folder / "a.png")))[:, :16, :16]
    assert torch.equal(hr, expected)
    gray = data.ImageFolderSR(folder, scale=4, patch_size=16, mode="random", samples_per_image=5, channels=1)
    assert len(gray) == 10 and gray[7][0].shape == (1, 16, 16) and gray.sources[7] == "b"


def test_image_folder_errors(folder, tmp_path_factory):
    empty = tmp_path_factory.mktemp("empty")
    with pytest.raises(ValueError, match="holds no images"):
        data.ImageFolderSR(empty)
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        data.ImageFolderSR(empty / "missing")
    with pytest.raises(ValueError, match="smaller than patch_size=64"):
        data.ImageFolderSR(folder, patch_size=64)
    with pytest.raises(ValueError, match="patch_size=18 is not divisible by scale=4"):
        data.ImageFolderSR(folder, scale=4, patch_size=18)
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(ValueError, match="broken.png is not a readable image"):
        data.ImageFolderSR(folder, patch_size=16)


def test_read_image_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.read_image(tmp_path / "nope.png")
    (tmp_path / "x.png").write_text("hello")
    with pytest.raises(ValueError, match="not a readable image"):
        data.read_image(tmp_path / "x.png", channels=3)
    with pytest.raises(ValueError, match="channels must be None, 1 or 3, got 4"):
        data.read_image(tmp_path / "x.png", channels=4)
