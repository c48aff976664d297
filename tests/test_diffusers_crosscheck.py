"""Our process against the diffusers library's DDPMScheduler and DDIMScheduler (test-only dependency)."""

import pytest
import torch

from course_lib.diffusion import GaussianDiffusion
from course_lib.samplers import DDIMSampler, DDPMSampler, clip_x0, ddim_timesteps
from course_lib.schedules import make_beta_schedule

diffusers = pytest.importorskip("diffusers")

SCHEDULES = {"linear": "linear", "cosine": "squaredcos_cap_v2"}
T = 1000


def _pair(name):
    ours = GaussianDiffusion(make_beta_schedule(name, T))
    kw = dict(num_train_timesteps=T, beta_schedule=SCHEDULES[name], clip_sample=False, prediction_type="epsilon")
    if name == "linear":
        kw.update(beta_start=1e-4, beta_end=0.02)
    return ours, kw


def _batch(seed):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(T, 1, 4, 4, generator=g) * 2 - 1, torch.randn(T, 1, 4, 4, generator=g)


@pytest.mark.parametrize("name", SCHEDULES)
def test_alphas_cumprod_and_add_noise(name):
    ours, kw = _pair(name)
    ddpm = diffusers.DDPMScheduler(**kw, variance_type="fixed_small")
    assert torch.allclose(ours.alpha_bars, ddpm.alphas_cumprod, rtol=1e-5, atol=1e-7)
    x0, eps = _batch(0)
    t = torch.arange(T)  # every t, 0 and T-1 included
    assert torch.allclose(ours.q_sample(x0, t, eps), ddpm.add_noise(x0, eps, t), atol=1e-5)


@pytest.mark.parametrize("name", SCHEDULES)
def test_ddpm_step_posterior_mean_and_variance(name):
    ours, kw = _pair(name)
    ddpm = diffusers.DDPMScheduler(**kw, variance_type="fixed_small")
    x0, xt = _batch(1)
    eps_hat = torch.randn(xt.shape, generator=torch.Generator().manual_seed(2))
    for t in range(T):
        # variance: β̃_t. diffusers computes it in float32 (1 − ᾱ loses digits at small t; ours is float64
        # rounded once), and clamps it at 1e-20 where ours is exactly 0 (t = 0)
        assert ours.posterior_variance[t].item() == pytest.approx(
            ddpm._get_variance(t).item() if t else 0.0, rel=2e-3, abs=1e-12
        )
        # the whole step with the same noise: mean + σ z
        z = torch.randn(1, 1, 4, 4, generator=torch.Generator().manual_seed(t))
        ref = ddpm.step(eps_hat[t : t + 1], t, xt[t : t + 1], generator=torch.Generator().manual_seed(t)).prev_sample
        mine = DDPMSampler(ours).step(eps_hat[t : t + 1], t, t - 1, xt[t : t + 1], noise=z).prev_sample
        assert torch.allclose(mine, ref, atol=1e-4, rtol=1e-4), t


@pytest.mark.parametrize("name", SCHEDULES)
@pytest.mark.parametrize("steps", [10, 50, 100])
@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_ddim_step(name, steps, eta):
    ours, kw = _pair(name)
    ddim = diffusers.DDIMScheduler(**kw, set_alpha_to_one=True, timestep_spacing="trailing")
    ddim.set_timesteps(steps)
    assert ddim.timesteps.tolist() == ddim_timesteps(T, steps)
    x0, xt = _batch(3)
    eps = torch.randn(xt.shape, generator=torch.Generator().manual_seed(4))
    ts = ddim_timesteps(T, steps)
    sampler = DDIMSampler(ours, steps, eta=eta)
    assert sampler.timesteps == ts
    for i, t in enumerate(ts):
        t_prev = ts[i + 1] if i + 1 < len(ts) else -1
        z = torch.randn(1, 1, 4, 4, generator=torch.Generator().manual_seed(t))
        ref = ddim.step(eps[t : t + 1], t, xt[t : t + 1], eta=eta, variance_noise=z).prev_sample
        mine = sampler.step(eps[t : t + 1], t, t_prev, xt[t : t + 1], noise=z)
        assert torch.allclose(mine.prev_sample, ref, atol=1e-4, rtol=1e-4), (t, t_prev)


@pytest.mark.parametrize("name", SCHEDULES)
@pytest.mark.parametrize("prediction", ["epsilon", "sample", "v_prediction"])
def test_ddim_step_with_clipping_and_every_prediction_type(name, prediction):
    """diffusers' clip_sample (clip x̂₀, re-derive ε̂ from it) is our clip_sample, and the x̂₀ hook with clip_x0 gives
    the same step (to rounding), for ε, x₀ and v outputs."""
    ours, kw = _pair(name)
    kw.update(clip_sample=True, prediction_type=prediction)
    ddim = diffusers.DDIMScheduler(**kw, set_alpha_to_one=True, timestep_spacing="trailing")
    ddim.set_timesteps(20)
    ours_pred = {"epsilon": "eps", "sample": "x0", "v_prediction": "v"}[prediction]
    sampler = DDIMSampler(ours, 20, prediction=ours_pred, eta=0.5, clip_sample=True)
    hooked = DDIMSampler(ours, 20, prediction=ours_pred, eta=0.5)
    _, xt = _batch(5)
    out = 3 * torch.randn(xt.shape, generator=torch.Generator().manual_seed(6))  # large: the clip is active
    ts = sampler.timesteps
    for i, t in enumerate(ts):
        t_prev = ts[i + 1] if i + 1 < len(ts) else -1
        z = torch.randn(1, 1, 4, 4, generator=torch.Generator().manual_seed(t))
        ref = ddim.step(out[t : t + 1], t, xt[t : t + 1], eta=0.5, variance_noise=z, use_clipped_model_output=True)
        for mine in (
            sampler.step(out[t : t + 1], t, t_prev, xt[t : t + 1], noise=z),
            hooked.step(out[t : t + 1], t, t_prev, xt[t : t + 1], x0_transform=clip_x0, noise=z),
        ):
            assert torch.allclose(mine.pred_original_sample, ref.pred_original_sample, atol=1e-4, rtol=1e-4), t
            assert torch.allclose(mine.prev_sample, ref.prev_sample, atol=1e-4, rtol=1e-4), t


@pytest.mark.parametrize("name", SCHEDULES)
def test_leading_spacing_is_diffusers_leading(name):
    _, kw = _pair(name)
    for steps in (10, 50, 100):
        ddim = diffusers.DDIMScheduler(**kw, timestep_spacing="leading")
        ddim.set_timesteps(steps)
        assert ddim.timesteps.tolist() == ddim_timesteps(T, steps, "leading")


# ------------------------------------------------------------------ timestep embeddings (lesson 03, Eq. 03.1–03.2)
@pytest.mark.parametrize("dim", [8, 64, 128])
def test_timestep_embedding_conventions_against_diffusers(dim):
    from diffusers.models.embeddings import get_timestep_embedding

    from course_lib.embeddings import sinusoidal_embedding, sinusoidal_embedding_halves

    t = torch.arange(1000)
    half = dim // 2
    halves = sinusoidal_embedding_halves(t, dim)
    # Eq. 03.2 is diffusers' function with no frequency shift and sines first …
    assert torch.allclose(
        halves, get_timestep_embedding(t, dim, flip_sin_to_cos=False, downscale_freq_shift=0), atol=2e-4
    )
    # … UNet2DModel's defaults (flip_sin_to_cos=True, freq_shift=0) put the cosines first: the halves swapped,
    unet = get_timestep_embedding(t, dim, flip_sin_to_cos=True, downscale_freq_shift=0)
    assert torch.allclose(unet, torch.cat([halves[:, half:], halves[:, :half]], 1), atol=2e-4)
    # … which is Eq. 03.1 (interleaved) with its columns permuted: odd columns (cos), then even (sin)
    inter = sinusoidal_embedding(t, dim)
    assert torch.allclose(unet, inter[:, list(range(1, dim, 2)) + list(range(0, dim, 2))], atol=2e-4)
    # DDPM's original code (diffusers' default downscale_freq_shift=1): ω_i = 10000^(−i/(d/2 − 1)), other frequencies
    ddpm = get_timestep_embedding(t, dim, flip_sin_to_cos=False, downscale_freq_shift=1)
    i = torch.arange(half, dtype=torch.float64)
    omega = 10000 ** (-i / (half - 1))
    angles = t[:, None].double() * omega[None]
    assert torch.allclose(ddpm.double(), torch.cat([angles.sin(), angles.cos()], 1), atol=2e-4)
    assert not torch.allclose(ddpm, halves, atol=1e-2)  # not a permutation of ours: the frequencies differ
    assert omega[-1].item() == pytest.approx(1e-4)  # DDPM's lowest frequency, at any d
    assert 10000 ** (-2 * (half - 1) / dim) > 1.1 * omega[-1].item()  # ours is higher (1.33e-4 at d = 64)


@pytest.mark.parametrize("strength", [0.3, 0.6, 0.85, 1.0])
def test_sdedit_restart_is_diffusers_img2img(strength):
    """Lesson 12's SDEdit start (``start_at``, Eq. 12.3) against diffusers' img2img pipelines: their ``strength`` keeps
    the last ⌊steps·strength⌋ timesteps of the scheduler and noises the image to the first of them
    (``add_noise``); ``start_at`` at that timestep keeps the same timesteps, and ``q_sample`` there is that noise."""
    from course_lib.samplers import make_sampler, start_at

    ours, kw = _pair("cosine")
    steps = 25
    ddim = diffusers.DDIMScheduler(**kw, set_alpha_to_one=True, timestep_spacing="trailing")
    ddim.set_timesteps(steps)
    # diffusers' StableDiffusionImg2ImgPipeline.get_timesteps, verbatim in substance
    init_timestep = min(int(steps * strength), steps)
    t_start = max(steps - init_timestep, 0)
    theirs = ddim.timesteps[t_start:].tolist()
    mine = start_at(make_sampler("ddim", ours, steps), int(theirs[0])).timesteps
    assert mine == theirs
    x0, eps = _batch(3)
    t0 = torch.full((x0.shape[0],), mine[0], dtype=torch.long)
    assert torch.allclose(ours.q_sample(x0, t0, eps), ddim.add_noise(x0, eps, t0), atol=1e-5)
