"""Lesson 12's clips (course_lib.video): seeded, split-pure, inside the canvas; the exact warp and the warping error
(Eq. 12.1–12.2) — 0 on the HR clip, positive on a clip with flicker; phase correlation finds the motion."""

import pytest
import torch

from course_lib.video import MovingDigits, estimate_shift, moving_noise, valid_mask, warp, warping_error


def test_clips_reproduce_stay_in_the_canvas_and_never_mix_the_splits():
    a, b = MovingDigits("test", 20, seed=3), MovingDigits("test", 20, seed=3)
    for i in (0, 7, 19):
        ca, cb = a.clip(i), b.clip(i)
        assert torch.equal(ca["hr"], cb["hr"]) and torch.equal(ca["y"], cb["y"])
        assert ca["hr"].shape == (8, 1, 48, 48) and ca["y"].shape == (8, 1, 12, 12)
        assert (ca["positions"] >= 0).all() and (ca["positions"] <= 16).all()
        assert (ca["shifts"] == ca["shifts"][0]).all() and ca["shifts"].abs().max() <= 2  # constant, integer velocity
    assert not torch.equal(MovingDigits("test", 5, seed=4).clip(0)["hr"], a.clip(0)["hr"])
    train, test = MovingDigits("train", 50), MovingDigits("test", 50)
    train_images = {bytes(im.tobytes()) for im in train.digits.images}
    used = [test.clip(i)["hr"][0] for i in range(50)]
    crops = [bytes(test.digits.images[test.motion(i)["digit"]].tobytes()) for i in range(50)]
    assert not set(crops) & train_images and all(u.max() > 0 for u in used)  # test clips: test digits only
    with pytest.raises(ValueError, match="travels 21 pixels"):
        MovingDigits("test", 2, frames=8, max_speed=3)
    with pytest.raises(ValueError, match="split must be"):
        MovingDigits("val")


def test_the_warping_error_is_zero_on_hr_and_positive_with_flicker():
    clip = MovingDigits("test", 4, seed=1).clip(2)
    assert warping_error(clip["hr"], clip["shifts"]).abs().max() == 0  # exact shifts of each other
    g = torch.Generator().manual_seed(0)
    flicker = (clip["hr"] + 0.2 * torch.randn(clip["hr"].shape, generator=g)).clamp(-1, 1)
    assert (warping_error(flicker, clip["shifts"]) > 0.05).all()
    # the classic mistake: warping the wrong way
    wrong = torch.stack([warp(clip["hr"][t], tuple((-clip["shifts"][t]).tolist())) for t in range(7)])
    moving = (clip["shifts"][0] != 0).any()
    assert not moving or (wrong - clip["hr"][1:]).abs().mean() > 0
    with pytest.raises(ValueError, match=r"shifts must have shape \(7, 2\)"):
        warping_error(clip["hr"], clip["shifts"][:3])


def test_warp_and_its_mask():
    x = torch.arange(16.0).reshape(1, 4, 4)
    w = warp(x, (1, -1))
    assert w[0, 1, 0] == x[0, 0, 1] and w[0, 0, 0] == -1 and w[0, 3, 3] == -1
    m = valid_mask((4, 4), (1, -1))
    assert m.sum() == 9 and not m[0].any() and not m[:, 3].any()


@pytest.mark.parametrize("d", [(0, 0), (2, -1), (-3, 4)])
def test_phase_correlation_finds_the_shift(d):
    g = torch.Generator().manual_seed(1)
    a = torch.randn(1, 32, 32, generator=g)
    b = torch.roll(a, d, dims=(-2, -1))
    assert estimate_shift(a, b) == d


def test_noise_that_moves_with_the_content_is_warped_by_the_motion():
    clips = MovingDigits("test", 20, seed=2)
    clip = next(clips.clip(i) for i in range(20) if (clips.clip(i)["shifts"][0] != 0).all())  # moving on both axes
    noise = moving_noise(clip["positions"], (1, 48, 48), torch.Generator().manual_seed(0))
    assert noise.shape == (8, 1, 48, 48)
    assert warping_error(noise, clip["shifts"]).abs().max() == 0  # the same noise relative to the digit
    fixed = torch.randn(1, 48, 48, generator=torch.Generator().manual_seed(0)).expand(8, 1, 48, 48)
    assert (warping_error(fixed.contiguous(), clip["shifts"]) > 0.5).all()  # fixed to the canvas: not
    with pytest.raises(ValueError, match=r"positions must have shape \(F, 2\)"):
        moving_noise(torch.zeros(3), (1, 4, 4))


def test_estimate_shift_upsampled_finds_hr_motion_from_lr_frames():
    from course_lib.operators import downsample

    yy, xx = torch.meshgrid(torch.arange(48.0), torch.arange(48.0), indexing="ij")
    blob = torch.exp(-((yy - 22) ** 2 + (xx - 25) ** 2) / (2 * 5.0**2))[None] * 2 - 1
    for d in [(3, -2), (1, 1), (-2, 0)]:
        lr_a, lr_b = (downsample(x[None], 4, "area")[0] for x in (blob, warp(blob, d)))
        assert estimate_shift(lr_a, lr_b, upsample=4) == d
        assert estimate_shift(lr_a, lr_b) != d  # on the LR grid alone: a multiple of 4 HR pixels at best
    with pytest.raises(ValueError, match="upsample"):
        estimate_shift(lr_a, lr_b, upsample=0)
