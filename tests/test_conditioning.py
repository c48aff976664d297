"""Lesson 04's library without trained weights: conditioning, SR3 targets, the projection, sampling, tiling."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.data import DigitsSR, downsample, upsample
from course_lib.diffusion import GaussianDiffusion
from course_lib.metrics import high_frequency_energy, high_frequency_ratio, psnr
from course_lib.models import SR3, UNet
from course_lib.schedules import make_beta_schedule
from course_lib.datasets import dihedral
from course_lib.methods.sr3 import super_resolve
from course_lib.models.tiling import TiledDenoiser, _window
from course_lib.operators import consistency_projection, consistency_psnr
from course_lib.engine.pretrained import init_from_pretrained
from course_lib.engine.train import Trainer

SMALL = dict(base_channels=8, channel_mults=(1, 2), attention=False)


def _pairs(n=6, scale=4):
    return DigitsSR("test", scale=scale).tensors(range(n))


@pytest.fixture(scope="module")
def diffusion():
    return GaussianDiffusion(make_beta_schedule("cosine", 1000))


# ----------------------------------------------------------------- networks
def test_encoder_unet_reads_lr_at_its_own_size(device):
    torch.manual_seed(0)
    net = UNet(1, cond_channels=1, conditioning="encoder", **SMALL).to(device)
    with torch.no_grad():
        net.out[-1].weight.normal_(0, 0.1)  # the output layer starts at zero too
    x, t, y = (
        torch.randn(3, 1, 32, 32, device=device),
        torch.tensor([1, 50, 999], device=device),
        torch.randn(3, 1, 8, 8, device=device),
    )
    assert net(x, t, y).shape == (3, 1, 32, 32)
    # the injections start at zero: at initialisation y has no influence at all (as a fresh concat channel would)
    assert torch.equal(net(x, t, y), net(x, t, torch.zeros_like(y)))
    with torch.no_grad():
        for conv in net.inject:
            conv.weight.normal_(0, 0.1)
    assert not torch.allclose(net(x, t, y), net(x, t, torch.zeros_like(y)))
    with pytest.raises(ValueError, match=r"expects cond of shape \(3, 1, h, w\)"):
        net(x, t, None)
    with pytest.raises(ValueError, match=r"expects cond of shape"):
        net(x, t, torch.randn(3, 3, 8, 8, device=device))


def test_concat_unet_checks_its_inputs():
    net = UNet(2, cond_channels=1, **SMALL)
    with pytest.raises(ValueError, match=r"expects cond of shape \(B, 1, 32, 32\)"):
        net(torch.randn(2, 1, 32, 32), torch.zeros(2, dtype=torch.long), torch.randn(2, 1, 8, 8))  # y not upsampled
    with pytest.raises(ValueError, match=r"x must have shape \(B, 1, H, W\)"):
        net(torch.randn(2, 2, 32, 32), torch.zeros(2, dtype=torch.long), torch.randn(2, 1, 32, 32))
    with pytest.raises(ValueError, match="conditioning must be"):
        UNet(2, cond_channels=1, conditioning="cross-attention")
    with pytest.raises(ValueError, match="needs cond_channels >= 1"):
        UNet(1, conditioning="encoder")


def test_sr3_target_and_image_are_inverse():
    hr, lr = _pairs()
    for residual in (False, True):
        m = SR3(UNet(2, cond_channels=1, **SMALL), scale=4, residual=residual, residual_scale=2.0)
        x0 = m.target(hr, lr)
        assert torch.allclose(m.to_image(x0, lr), hr, atol=1e-6)
        if residual:  # Eq. 04.4: the residual over bicubic, divided by c
            assert torch.allclose(x0, (hr - upsample(lr, 4)) / 2.0)
            assert x0.abs().mean() < hr.abs().mean()
    concat = SR3(UNet(2, cond_channels=1, **SMALL), scale=4)
    encoder = SR3(UNet(1, cond_channels=1, conditioning="encoder", **SMALL), scale=4)
    assert torch.equal(concat.condition(lr), upsample(lr, 4))  # Eq. 04.2: U(y) beside x_t
    assert torch.equal(encoder.condition(lr), lr)  # Eq. 04.3: y at its own size
    with pytest.raises(ValueError, match=r"hr must have shape \(6, 1, 32, 32\)"):
        concat.target(hr[..., :16, :16], lr)
    with pytest.raises(ValueError, match=r"y \(the LR image\) must have shape \(B, 1, h, w\)"):
        concat(hr, torch.zeros(6), torch.zeros(6, 3, 8, 8))
    with pytest.raises(ValueError, match="needs a UNet with cond_channels > 0"):
        SR3(UNet(1, **SMALL), scale=4)


# --------------------------------------------------------------- consistency
@settings(max_examples=25, deadline=None)
@given(
    scale=st.sampled_from([2, 3, 4]),
    h=st.integers(1, 6),
    w=st.integers(1, 6),
    c=st.sampled_from([1, 3]),
    seed=st.integers(0, 2**16),
)
def test_projection_makes_any_image_consistent(scale, h, w, c, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(2, c, h * scale, w * scale, generator=g) * 2 - 1
    y = torch.rand(2, c, h, w, generator=g) * 2 - 1
    p = consistency_projection(x, y, scale)
    assert torch.allclose(downsample(p, scale, "area"), y, atol=1e-5)  # A(x − A⁺(Ax − y)) = y since A A⁺ = I
    assert torch.allclose(consistency_projection(p, y, scale), p, atol=1e-5)  # a projection: idempotent
    # it changes only what A sees: the detail within each s × s block is kept
    assert torch.allclose(
        p - upsample(downsample(p, scale, "area"), scale, "nearest"),
        x - upsample(downsample(x, scale, "area"), scale, "nearest"),
        atol=1e-5,
    )


def test_consistency_psnr():
    hr, lr = _pairs()
    assert torch.isinf(consistency_psnr(hr, lr, 4)).all()  # HR explains its own LR exactly
    bic = consistency_psnr(upsample(lr, 4), lr, 4)
    assert bic.shape == (6,) and (bic > 20).all() and (bic < 40).all()
    with pytest.raises(
        ValueError, match=r"sr must have shape \(6, 1, 16, 16\) \(y \(6, 1, 8, 8\) at scale 2\), got \(6, 1, 32, 32\)"
    ):
        consistency_psnr(hr, lr, 2)


def test_high_frequency_ratio():
    hr, lr = _pairs(20)
    assert torch.allclose(high_frequency_ratio(hr, hr, 4), torch.ones(20))
    bic = high_frequency_ratio(upsample(lr, 4), hr, 4)
    assert (bic < 0.3).all()  # bicubic leaves the band above the LR Nyquist nearly empty
    # Parseval: a checkerboard at the Nyquist frequency has all its power in the band
    board = (torch.arange(32)[:, None] + torch.arange(32)[None, :]) % 2 * 2.0 - 1
    assert torch.allclose(high_frequency_energy(board[None, None], 2), torch.tensor([0.25]), atol=1e-6)
    assert torch.allclose(high_frequency_energy(torch.zeros(1, 1, 32, 32), 2), torch.zeros(1))
    with pytest.raises(ValueError, match="scale: expected an int >= 2"):
        high_frequency_energy(hr, 1)


# ------------------------------------------------------------------ sampling
class Oracle(SR3):
    """An SR3 whose network knows the answer: it returns the x_0 of the true HR (prediction="x0")."""

    def __init__(self, hr, residual=True):
        super().__init__(UNet(2, cond_channels=1, **SMALL), scale=4, residual=residual, prediction="x0")
        self.hr = hr

    def forward(self, x_t, t, lr):
        return self.target(self.hr, lr)


@pytest.mark.parametrize("sampler,steps", [("ddim", 10), ("ddpm", 20)])
def test_super_resolve_with_an_oracle_returns_hr(diffusion, sampler, steps):
    hr, lr = _pairs()
    for project in (False, True):
        sr = super_resolve(
            Oracle(hr), diffusion, lr, sampler=sampler, steps=steps, project=project, seed=0, progress=False
        )
        assert sr.shape == hr.shape
        assert (psnr(sr, hr) > 60).all()


def test_projection_fixes_an_inconsistent_model(diffusion):
    hr, lr = _pairs()
    wrong = torch.roll(hr, 1, dims=0)  # a model that returns another digit
    raw = super_resolve(Oracle(wrong), diffusion, lr, steps=10, progress=False)
    projected = super_resolve(Oracle(wrong), diffusion, lr, steps=10, project=True, progress=False)
    assert (consistency_psnr(raw, lr, 4) < 20).all()
    assert (consistency_psnr(projected, lr, 4) > 40).all()  # exact but for the clip to [-1, 1]


def test_super_resolve_records_image_space_trajectory_and_is_seeded(diffusion):
    hr, lr = _pairs(2)
    torch.manual_seed(0)
    model = SR3(UNet(2, cond_channels=1, **SMALL), scale=4, residual=True, prediction="x0").eval()
    with torch.no_grad():
        model.net.out[-1].weight.normal_(0, 0.05)
    a, traj = super_resolve(model, diffusion, lr, steps=6, record_every=2, seed=3, progress=False)
    b = super_resolve(model, diffusion, lr, steps=6, seed=3, progress=False)
    c = super_resolve(model, diffusion, lr, steps=6, seed=4, progress=False)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert traj["x0"].shape == (4, 2, 1, 32, 32) and traj["x0"].abs().max() <= 1
    assert torch.allclose(traj["x0"][-1], a, atol=1e-5)
    with pytest.raises(TypeError, match="must be an SR3"):
        super_resolve(model.net, diffusion, lr)


# -------------------------------------------------------------------- tiling
def test_tiles_cover_and_blend_without_seams():
    for n, overlap in ((16, 4), (9, 3), (8, 0)):
        w = _window(n, overlap, torch.device("cpu"))
        assert (w > 0).all() and w.max() == 1
    hr = torch.rand(1, 1, 80, 56) * 2 - 1
    lr = downsample(hr, 4)
    pointwise = Oracle(hr, residual=False)

    # a network that is the same everywhere gives the same result tiled or not
    class Local(SR3):
        def forward(self, x_t, t, lr):
            return 0.5 * x_t + self.upsampled(lr)

    local = Local(UNet(2, cond_channels=1, **SMALL), scale=4)
    tiled = TiledDenoiser(local, tile=8, overlap=2)
    t = torch.zeros(1, dtype=torch.long)
    x = torch.randn(1, 1, 80, 56)
    whole = local(x, t, lr)
    # bicubic upsampling of a tile differs from that of the whole image only within 2 LR pixels of its border
    assert torch.allclose(tiled(x, t, lr)[..., 16:-16, 16:-16], whole[..., 16:-16, 16:-16], atol=0.15)
    coords = tiled.tiles(20, 14)
    covered = torch.zeros(20, 14)
    for a, b in coords:
        covered[a : a + 8, b : b + 8] = 1
    assert covered.all() and len(pointwise.hr) == 1
    with pytest.raises(ValueError, match="overlap must be in 0"):
        TiledDenoiser(local, tile=8, overlap=8)


# ------------------------------------------------------------------ training
def test_dihedral_commutes_with_area_downsampling():
    x = torch.randn(8, 3, 16, 16)
    k, flip = torch.arange(8) % 4, torch.arange(8) >= 4
    assert torch.allclose(downsample(dihedral(x, k, flip), 2), dihedral(downsample(x, 2), k, flip), atol=1e-6)
    assert torch.equal(dihedral(x, torch.zeros(8, dtype=torch.long), torch.zeros(8, dtype=torch.bool)), x)


def test_sr_training_runs_and_learns(device):
    hr, lr = DigitsSR("train", 4).tensors(range(256))
    config = {
        "name": "tiny_sr",
        "dataset": "digits_sr:4",
        "method": "sr3",
        "prediction": "x0",
        "batch_size": 32,
        "learning_rate": 2e-3,
        "log_every": 10,
        "warmup_steps": 5,
        "augment": True,
        "model": {"scale": 4, "residual": True, "in_channels": 2, "cond_channels": 1, **SMALL},
    }
    trainer = Trainer(config, device=device, data=(hr, lr)).train(steps=60, progress=False)
    first, last = trainer.history[0][1], trainer.history[-1][1]
    assert last < 0.8 * first
    assert isinstance(trainer.ema, SR3) and trainer.ema.prediction == "x0"
    with pytest.raises(ValueError, match=r"method 'sr3' trains on datasets 'digits_sr', 'photos_sr'"):
        Trainer({**config, "dataset": "digits"}, data=hr)


def test_init_from_the_unconditional_model():
    model = SR3(UNet(2, cond_channels=1, base_channels=32, channel_mults=(1, 2, 2)), scale=4)
    init_from_pretrained(model, "digits_unet")
    from course_lib.engine.pretrained import load_pretrained

    uncond, _, _ = load_pretrained("digits_unet", "cpu")
    x, t = torch.randn(2, 1, 32, 32), torch.tensor([10, 500])
    lr = torch.rand(2, 1, 8, 8) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(model(x, t, lr), uncond(x, t), atol=1e-5)  # the new input channel starts at zero
    with pytest.raises(ValueError, match="cannot fill"):
        init_from_pretrained(
            SR3(UNet(2, cond_channels=1, base_channels=16, channel_mults=(1, 2, 2)), scale=4), "digits_unet"
        )


# -------------------------------------------- realism and diversity (lesson 05)
def test_frechet_distance_matches_the_gaussian_formula():
    from course_lib.metrics import frechet_distance

    g = torch.Generator().manual_seed(0)
    a = torch.randn(4000, 3, generator=g, dtype=torch.float64)
    b = torch.randn(4000, 3, generator=g, dtype=torch.float64) * 2 + 1
    # for N(0, I) vs N(1, 4I) in 3-D: |μ|² = 3, tr = 3 + 12 − 2 · tr((4I)^{1/2}) = 15 − 12 = 3 → 6
    assert abs(frechet_distance(a, b).item() - 6.0) < 0.3
    assert frechet_distance(a, a).abs().item() < 1e-8
    with pytest.raises(ValueError, match=r"shapes \(N, D\) and \(M, D\)"):
        frechet_distance(a, b[:, :2])


def test_laplacian_patches_and_diversity():
    from course_lib.metrics import laplacian_patches, pixel_diversity, sliced_wasserstein

    hr, lr = DigitsSR("test", 4).tensors(range(0, 1000, 10))
    g = torch.Generator().manual_seed(0)
    p_hr = laplacian_patches(hr[:50], generator=g)
    p_hr2 = laplacian_patches(hr[50:], generator=g)
    p_bic = laplacian_patches(upsample(lr[50:], 4), generator=g)
    assert p_hr.shape == (3 * 256, 49) and torch.allclose(p_hr.mean(1), torch.zeros(768), atol=1e-6)
    same = sliced_wasserstein(p_hr, p_hr2, generator=torch.Generator().manual_seed(1))
    blurry = sliced_wasserstein(p_hr, p_bic, generator=torch.Generator().manual_seed(1))
    assert blurry > 2 * same  # two halves of the data are closer than data and bicubic
    k = torch.stack([hr[:4], hr[:4] + 0.2 * torch.randn(hr[:4].shape, generator=g)])
    assert torch.allclose(pixel_diversity(torch.stack([hr[:4], hr[:4]])), torch.zeros(4))
    assert (pixel_diversity(k) > 0.01).all()


# ------------------------------------------------- regression baselines (lesson 05)
def test_regression_baselines_start_at_bicubic_and_learn(device):
    from course_lib.models import SRCNN, RegressionUNet

    hr, lr = DigitsSR("train", 4).tensors(range(256))
    for model in (SRCNN(1, 4), RegressionUNet(1, 4, **SMALL)):
        model.eval()
        assert torch.allclose(model(lr[:4]), upsample(lr[:4], 4), atol=1e-6)  # zero-initialised last layer
        with pytest.raises(ValueError, match=r"y \(the LR image\) must have shape \(B, 1, h, w\)"):
            model(hr[:2, :, :, :].repeat(1, 3, 1, 1))
    base = {
        "name": "reg",
        "dataset": "digits_sr:4",
        "batch_size": 32,
        "learning_rate": 2e-3,
        "log_every": 10,
        "warmup_steps": 5,
    }
    for method, model_cfg in (
        ("srcnn", {"channels": 1, "scale": 4, "n1": 16, "n2": 8}),
        ("regression_unet", {"channels": 1, "scale": 4, **SMALL}),
    ):
        trainer = Trainer({**base, "method": method, "model": model_cfg}, device=device, data=(hr, lr)).train(
            steps=40, progress=False
        )
        assert trainer.diffusion is None and trainer.method.objective == "regression"
        assert trainer.history[-1][1] < trainer.history[0][1]
        with torch.no_grad():
            out = trainer.ema.eval()(lr[:8].to(device))
        assert out.shape == hr[:8].shape
    with (
        pytest.raises(ValueError, match="objective 'diffusion' does not match method 'srcnn'"),
        pytest.warns(DeprecationWarning),
    ):
        Trainer({**base, "objective": "diffusion", "method": "srcnn"}, data=(hr, lr))
    with pytest.raises(ValueError, match="method must be one of"):
        Trainer({**base, "method": "gan"}, data=(hr, lr))
    with pytest.raises(ValueError, match=r"unknown model arguments \['layers'\] for SRCNNConfig"):
        Trainer({**base, "method": "srcnn", "model": {"layers": 3}}, data=(hr, lr))
