import math

import pytest
import torch

from course_lib.diffusion import GaussianDiffusion
from course_lib.schedules import make_beta_schedule
from course_lib.teaching.widgets import NoisingWidget, noising_view
from course_lib.teaching.widgets.noising import HIST_BINS


@pytest.fixture(scope="module")
def schedules(device):
    return {n: GaussianDiffusion(make_beta_schedule(n)).to(device) for n in ("linear", "cosine")}


@pytest.mark.parametrize("t", [0, 250, 999])
def test_view_of_a_zero_image_is_pure_scaled_noise(schedules, t, device):
    d = schedules["cosine"]
    v = noising_view(d, torch.zeros(1, 32, 32), t, seed=3)
    ab = torch.cumprod(1 - make_beta_schedule("cosine"), 0)[t].item()  # float64 reference
    assert v["alpha_bar"] == pytest.approx(ab) and v["snr"] == pytest.approx(ab / (1 - ab), rel=1e-4)
    assert v["noise_coef"] == pytest.approx(math.sqrt(1 - ab), rel=1e-5)
    assert torch.allclose(v["x_t"], v["noise_coef"] * v["noise"], atol=1e-6)
    assert v["std"] == pytest.approx(math.sqrt(1 - ab), rel=0.1)
    assert v["hist"].shape == (HIST_BINS,) and v["hist"].sum() <= 32 * 32


def test_view_equals_q_sample_with_the_same_noise(schedules, device):
    d = schedules["linear"]
    x0 = torch.rand(3, 8, 8, device=device) * 2 - 1
    v = noising_view(d, x0, 400, seed=0)
    expected = d.q_sample(x0[None], torch.tensor([400], device=device), noise=v["noise"][None])[0]
    assert torch.equal(v["x_t"], expected)


def test_view_rejects_bad_t(schedules):
    with pytest.raises(ValueError, match=r"0 … 999"):
        noising_view(schedules["linear"], torch.zeros(1, 4, 4), 1000)
    with pytest.raises(TypeError, match="int"):
        noising_view(schedules["linear"], torch.zeros(1, 4, 4), 3.5)


def test_widget_controls_drive_what_it_shows(schedules, device):
    images = {
        "zero": torch.zeros(1, 16, 16, device=device),
        "ramp": torch.linspace(-1, 1, 256, device=device).reshape(1, 16, 16),
    }
    w = NoisingWidget(images, schedules, t=10, seed=0)
    first_picture = w.picture.value
    assert w.view["t"] == 10 and first_picture[:4] == b"\x89PNG"

    w.t_slider.value = 600
    assert w.view["t"] == 600
    assert w.picture.value != first_picture
    assert w.view["alpha_bar"] == pytest.approx(schedules["linear"].alpha_bars[600].item())
    assert f"alpha_bar = {w.view['alpha_bar']:.4f}" in w.readout.value

    w.schedule.value = "cosine"
    assert w.view["alpha_bar"] == pytest.approx(schedules["cosine"].alpha_bars[600].item())
    w.image.value = "ramp"
    assert torch.equal(w.view["x_t"], noising_view(schedules["cosine"], images["ramp"], 600, seed=0)["x_t"])

    w.t_slider.value = 5000  # out of range: the slider clamps
    assert w.view["t"] == 999


def test_widget_bad_arguments(schedules):
    with pytest.raises(ValueError, match="images"):
        NoisingWidget({}, schedules)
    with pytest.raises(ValueError, match="same T"):
        NoisingWidget(
            {"a": torch.zeros(1, 4, 4)},
            {"a": schedules["linear"], "b": GaussianDiffusion(make_beta_schedule("linear", 500))},
        )


# ------------------------------------------------------------ denoising widget
from course_lib.experiments.cached import TRAJECTORY_EVERY, TRAJECTORY_SEED, load_ddpm_trajectory  # noqa: E402
from course_lib.teaching.widgets import DenoisingWidget, trajectory_view  # noqa: E402


@pytest.fixture(scope="module")
def trajectory():
    return load_ddpm_trajectory()


def test_cached_trajectory_is_what_ddpm_produces(trajectory):
    """Re-run the first recorded DDPM steps on the CPU: they match the cache (to one uint8 level)."""
    from course_lib.engine.pretrained import load_pretrained

    from course_lib.samplers import DDPMSampler, clip_x0

    model, d, _ = load_pretrained("digits_unet", "cpu")
    sampler = DDPMSampler(d)
    n = trajectory["x_t"].shape[1]
    g = torch.Generator().manual_seed(TRAJECTORY_SEED)
    x = torch.randn((n, 1, 32, 32), generator=g)
    with torch.no_grad():
        for i, t in enumerate(range(999, 999 - TRAJECTORY_EVERY - 1, -1)):
            out = sampler.step(model(x, torch.full((n,), t), None), t, t - 1, x, generator=g, x0_transform=clip_x0)
            x, x0 = out.prev_sample, out.pred_original_sample
            if i in (0, TRAJECTORY_EVERY):
                k = i // TRAJECTORY_EVERY
                assert trajectory["t"][k] == t
                assert (x.clamp(-1, 1) - trajectory["x_t"][k]).abs().max() <= 2 / 255 + 1e-6
                assert (x0 - trajectory["x0"][k]).abs().max() <= 2 / 255 + 1e-6
    assert trajectory["t"][-1] == 0 and trajectory["x_t"].shape == (len(trajectory["t"]), n, 1, 32, 32)


def test_denoising_widget_shows_the_recorded_frames(trajectory):
    d = GaussianDiffusion(make_beta_schedule("cosine"))
    w = DenoisingWidget(trajectory, d)
    first = w.picture.value
    w.frame.value = 10
    assert w.view["t"] == trajectory["t"][10] and torch.equal(w.view["x_t"], trajectory["x_t"][10, 0])
    assert w.picture.value != first and f"t = {trajectory['t'][10]}" in w.readout.value
    w.image.value = 3
    assert torch.equal(w.view["x0"], trajectory["x0"][10, 3])
    assert w.view["noise_std"] == pytest.approx(d.sqrt_one_minus_alpha_bars[w.view["t"]].item())
    with pytest.raises(ValueError, match="frame must lie in"):
        trajectory_view(trajectory, d, len(trajectory["t"]))


# ------------------------------------------------------------ embedding explorer
from course_lib.embeddings import sinusoidal_embedding, sinusoidal_embedding_halves  # noqa: E402
from course_lib.teaching.widgets import EmbeddingExplorer, embedding_view  # noqa: E402


def test_embedding_view_is_the_formula():
    v = embedding_view(300, 16)
    assert torch.allclose(v["vector"], sinusoidal_embedding(torch.tensor([300]), 16)[0])
    assert v["similarity"][300].item() == pytest.approx(1.0)
    assert 0 < v["half_width"] < 1000
    assert (v["similarity"][300 - v["half_width"] + 1 : 300 + v["half_width"]] >= 0.5).all()
    h = embedding_view(300, 16, "halves [sin | cos] (Eq. 03.2)")
    assert torch.allclose(h["vector"], sinusoidal_embedding_halves(torch.tensor([300]), 16)[0])
    with pytest.raises(ValueError, match="layout must be one of"):
        embedding_view(3, 16, "spiral")


def test_embedding_explorer_controls():
    w = EmbeddingExplorer(t=10, dim=16)
    first = w.picture.value
    w.t.value, w.dim.value = 900, 64
    assert w.view["t"] == 900 and w.view["vector"].shape == (64,)
    assert w.picture.value != first and "TE(900)" in w.readout.value
    w.layout.value = "halves [sin | cos] (Eq. 03.2)"
    assert torch.allclose(w.view["vector"], sinusoidal_embedding_halves(torch.tensor([900]), 64)[0])


def test_a_live_run_trains_its_seconds_or_the_steps_make_test_sets(monkeypatch):
    """Lessons train live for some seconds; under make test (COURSE_LIVE_STEPS) a fixed number of steps instead."""
    from course_lib.teaching.live import describe_budget, live_budget

    monkeypatch.delenv("COURSE_LIVE_STEPS", raising=False)
    assert live_budget(15) == {"seconds": 15.0, "min_steps": 30} and describe_budget(live_budget(15)) == "15 s"
    monkeypatch.setenv("COURSE_LIVE_STEPS", "40")
    assert live_budget(15) == {"steps": 40} and describe_budget(live_budget(15)) == "40 steps"
    for bad in ("0", "-3", "ten", "4.5"):
        monkeypatch.setenv("COURSE_LIVE_STEPS", bad)
        with pytest.raises(ValueError, match="COURSE_LIVE_STEPS: expected a positive integer"):
            live_budget(15)
    monkeypatch.delenv("COURSE_LIVE_STEPS")
    with pytest.raises(ValueError, match="seconds: expected a finite number > 0"):
        live_budget(0)


# ---------------------------------------------------------------- lesson 10: the attention explorer
def _tiny_transformer_sr(name):
    from course_lib.diffusion import GaussianDiffusion
    from course_lib.models import SR3, make_backbone
    from course_lib.schedules import make_beta_schedule

    torch.manual_seed(0)
    args = dict(in_channels=2, cond_channels=1, patch_size=4, hidden_size=16, depth=3, heads=2)
    if name == "uvit":
        args["input_size"] = 16
    model = SR3(make_backbone(name, **args), scale=4, residual=True, prediction="x0").eval()
    for p in model.parameters():  # away from DiT's zero initialisation, so that the attention is not uniform
        torch.nn.init.normal_(p, std=0.3)
    return model, GaussianDiffusion(make_beta_schedule("cosine", 100))


@pytest.mark.parametrize("name", ["dit", "uvit"])
def test_attention_view_frames_and_widget(name):
    from course_lib.teaching.widgets import AttentionWidget, attention_frame, attention_view, render_attention

    model, process = _tiny_transformer_sr(name)
    hr = torch.rand(1, 1, 16, 16) * 2 - 1
    y = torch.nn.functional.avg_pool2d(hr, 4)
    view = attention_view(model, process, hr, y, seed=3, timesteps=[10, 50, 90])
    assert view["weights"].shape == (3, 3, 16, 16) and view["grid"] == (4, 4)  # patches only, t token dropped
    if name == "dit":
        assert torch.allclose(view["weights"].sum(-1), torch.ones(3, 3, 16))
    frame = attention_frame(view, 1, 2, 1, 3)
    assert frame["map"].shape == (4, 4) and frame["self"] == pytest.approx(float(view["weights"][1, 2, 7, 7]))
    assert frame["top"] == divmod(int(view["weights"][1, 2, 7].argmax()), 4) and 1 <= frame["spread"] <= 16
    assert render_attention(view, 0, 0, 0, 0)[:4] == b"\x89PNG"
    w = AttentionWidget(view)
    before = w.picture.value
    w.row.value, w.col.value = 0, 3
    assert w.picture.value != before and "patch (0, 3)" in w.readout.value
    w.timestep.value = 2
    assert "t = 90" in w.readout.value
    with pytest.raises(ValueError, match=r"row: expected 0 … 3, got 4"):
        attention_frame(view, 0, 0, 4, 0)
    with pytest.raises(ValueError, match="timesteps: expected increasing indices"):
        attention_view(model, process, hr, y, seed=3, timesteps=[50, 10])


def _fake_trajectories():
    import numpy as np

    rng = np.random.default_rng(0)
    data = {"times": np.linspace(1, 0, 11)}
    for arm in ("flow", "reflow", "bridge"):
        data[f"{arm}_x"] = rng.integers(0, 255, (11, 3, 32, 32, 1), dtype=np.uint8)
        data[f"{arm}_x0"] = rng.integers(0, 255, (11, 3, 32, 32, 1), dtype=np.uint8)
        s = np.linspace(0, 1, 51)
        bend = {"flow": 0.2, "reflow": 0.05, "bridge": 0.1}[arm]
        plane = np.stack([s * 30.0, bend * 30.0 * np.sin(np.pi * s)], -1)  # chord length 30
        data[f"{arm}_plane"] = np.repeat(plane[:, None], 3, 1).astype(np.float32)
    return data


def test_the_path_explorer_reads_its_frames_and_redraws():
    from course_lib.teaching.widgets import FlowPathWidget, path_frame, render_path

    data = _fake_trajectories()
    f = path_frame(data, "flow", 1, 5)
    assert f["t"] == pytest.approx(0.5) and f["x_t"].shape == (32, 32) and f["done"] == pytest.approx(0.5)
    assert f["bend"] == pytest.approx(0.2, rel=1e-3) and f["point"][1] == pytest.approx(0.2, rel=1e-3)
    assert path_frame(data, "reflow", 1, 5)["bend"] < f["bend"]
    assert (path_frame(data, "bridge", 0, 10)["x0"] == data["bridge_x0"][10, 0, ..., 0]).all()
    assert render_path(data, 0, 3)[:4] == b"\x89PNG"
    w = FlowPathWidget(data, k=0, digit=0)
    before = w.picture.value
    assert "t = 1.00" in w.readout.value and "0 % of the chord walked" in w.readout.value
    w.time.value = 5
    assert w.picture.value != before and "t = 0.50" in w.readout.value and "50 % of the chord" in w.readout.value
    w.digit.value = 2
    assert "bend 0.050" in w.readout.value
    with pytest.raises(ValueError, match=r"arm: expected one of"):
        path_frame(data, "sde", 0, 0)
    with pytest.raises(ValueError, match=r"k: expected 0 … 10, got 11"):
        path_frame(data, "flow", 0, 11)


def _fake_frames():
    import numpy as np

    from course_lib.images import to_uint8
    from course_lib.video import MovingDigits

    clip = MovingDigits("test", n_clips=1).clip(0)
    hr = to_uint8(clip["hr"])[..., 0]  # (8, 48, 48)
    rng = np.random.default_rng(0)
    noisy = np.clip(hr.astype(int) + rng.integers(-60, 60, hr.shape), 0, 255).astype(np.uint8)
    return {
        "rows": np.array(["hr", "bicubic", "independent"]),
        "frames": np.stack([hr, hr, noisy])[:, None],  # "bicubic" here is the HR itself: no flicker
        "lr": to_uint8(clip["y"])[..., 0][None],
        "shifts": clip["shifts"].numpy()[None].astype(np.int8),
    }


def test_the_clip_scrubber_measures_the_flicker_and_redraws():
    import numpy as np

    from course_lib.teaching.widgets import ClipWidget, clip_frame, render_clip
    from course_lib.teaching.widgets.video import pair_error

    data = _fake_frames()
    still = clip_frame(data, "bicubic", 0, 3)
    assert still["sr"].shape == (48, 48) and still["lr"].shape == (12, 12)
    assert still["error"] == pytest.approx(0.0, abs=1e-6) and np.allclose(still["errors"], 0, atol=1e-6)
    flicker = clip_frame(data, "independent", 0, 3)
    assert flicker["error"] > 0.05 and flicker["errors"].shape == (7,)
    diff, err = pair_error(data, "independent", 0, 3)
    assert np.isnan(diff).any() == bool(np.abs(data["shifts"][0, 2]).sum())  # pixels that came from outside
    assert err == pytest.approx(np.nanmean(diff), rel=1e-5)
    assert clip_frame(data, "independent", 0, 0)["diff"] is None
    assert render_clip(data, "independent", 0, 0)[:4] == b"\x89PNG"
    w = ClipWidget(data, row="independent", clip=0, frame=0)
    assert "frame 0 has no previous frame" in w.readout.value
    before = w.picture.value
    w.frame.value = 3
    assert w.picture.value != before and f"this pair's warping error {flicker['error']:.3f}" in w.readout.value
    w.method.value = "bicubic"
    assert "this pair's warping error 0.000" in w.readout.value
    with pytest.raises(ValueError, match=r"row: expected one of"):
        clip_frame(data, "sdedit", 0, 1)
    with pytest.raises(ValueError, match=r"f: expected 0 … 7, got 8"):
        clip_frame(data, "hr", 0, 8)


def test_animated_gif_has_one_picture_per_frame_side_by_side():
    import io

    from PIL import Image as PILImage

    from course_lib.teaching.plotting import animated_gif

    hr = torch.rand(5, 1, 16, 16) * 2 - 1
    lr = (torch.rand(5, 4, 4) * 255).to(torch.uint8).numpy()
    gif = animated_gif({"HR": hr, "LR": lr}, zoom=2)
    im = PILImage.open(io.BytesIO(gif))
    assert im.format == "GIF" and im.n_frames == 5 and im.size == (2 * 32 + 4, 32)
    with pytest.raises(ValueError, match="same number of frames"):
        animated_gif({"HR": hr, "short": hr[:3]})
