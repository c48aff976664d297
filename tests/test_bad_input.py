"""Bad input at the front doors gets a clear error, never a silent wrong answer: an LR image in another range or
holding NaN at every method's restore(), an image of the wrong size at the linear operators, a malformed or wrong
training config at the command line (one line, no traceback) and in TrainConfig, noise of the wrong shape at a step."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from course_lib.images import RANGE_SLACK, check_model_range, to_model_range, uint8_to_model
from course_lib.methods import METHODS
from course_lib.operators import FourierOperator, MaskOperator, kspace_mask
from course_lib.engine.pretrained import load
from course_lib.engine.train import TrainConfig

ROOT = Path(__file__).resolve().parent.parent
EIGHT_BIT = torch.linspace(0, 255, 64).reshape(1, 1, 8, 8)


@pytest.fixture(scope="module")
def sr3():
    return load("digits_sr3_concat", "cpu")


@pytest.fixture(scope="module")
def ddpm():
    return load("digits_unet", "cpu")


def test_an_8_bit_image_is_refused_with_the_fix(sr3, ddpm):
    for restore in (
        lambda y: sr3.restore(y, seeds=[0], steps=2),
        lambda y: ddpm.restore(y, seeds=[0], scale=4, steps=2),
    ):
        with pytest.raises(
            ValueError,
            match=r"y: expected values in the model range \[-1, 1\] \(± 0\.1\), got \[0, 255\] "
            r"\(8-bit values\?\); convert with course_lib\.images\.to_model_range",
        ):
            restore(EIGHT_BIT)
    y = to_model_range(EIGHT_BIT)  # the fix the message names works
    assert torch.allclose(y, uint8_to_model(EIGHT_BIT)) and sr3.restore(y, seeds=[0], steps=2).shape == (1, 1, 32, 32)


def test_nan_and_infinity_are_refused(sr3, ddpm):
    y = torch.zeros(1, 1, 8, 8)
    y[0, 0, 0, :3] = float("nan")
    y[0, 0, 1, 0] = float("inf")
    for restore in (
        lambda y: sr3.restore(y, seeds=[0], steps=2),
        lambda y: ddpm.restore(y, seeds=[0], scale=4, steps=2),
    ):
        with pytest.raises(ValueError, match=r"y: expected finite values in \[-1, 1\], got 3 NaN and 1 infinite of 64"):
            restore(y)
    op = MaskOperator(torch.ones(32, 32))
    with pytest.raises(ValueError, match="y: expected finite measurements"):
        ddpm.method.ddnm(ddpm.model, ddpm.process, op, torch.full((1, 1, 32, 32), float("nan")), (1, 32, 32), [0])


def test_the_range_check_allows_overshoot_and_declared_noise():
    check_model_range(torch.full((1, 1, 2, 2), 1 + RANGE_SLACK / 2))  # a resize's overshoot
    noisy = torch.full((1, 1, 2, 2), 2.0)
    with pytest.raises(ValueError, match=r"y: expected values in the model range \[-1, 1\] \(± 0\.1\), got \[2, 2\];"):
        check_model_range(noisy)
    check_model_range(noisy, noise=0.2)  # DDNM+ is told σ_y: 6 σ of slack
    with pytest.raises(TypeError, match="y: expected a floating-point tensor in the model range"):
        check_model_range(EIGHT_BIT.to(torch.uint8))
    with pytest.raises(ValueError, match="high: expected a number above low"):
        to_model_range(EIGHT_BIT, 1, 1)


def test_every_methods_restore_checks_its_y():
    """The check is put on every method's restore() by the base class, so a new method gets it without a line."""
    from course_lib.methods import Method

    with_restore = [cls for cls in METHODS.values() if cls.restore is not Method.restore]
    assert len(with_restore) >= 12
    assert all(getattr(cls.restore, "_checks_y", False) for cls in with_restore), [
        cls.name for cls in with_restore if not getattr(cls.restore, "_checks_y", False)
    ]


def test_the_linear_operators_name_the_shape_they_expected():
    mask = MaskOperator(torch.ones(32, 32))
    with pytest.raises(
        ValueError,
        match=r"x: expected an image of shape \(B, C, 32, 32\) to match the operator's mask, "
        r"got \(2, 1, 16, 16\)",
    ):
        mask.A(torch.zeros(2, 1, 16, 16))
    with pytest.raises(ValueError, match=r"y: expected the masked image of shape \(B, C, 32, 32\)"):
        mask.A_pinv(torch.zeros(2, 1, 16, 16))
    per_image = MaskOperator(torch.ones(2, 1, 8, 8))
    with pytest.raises(ValueError, match=r"x: expected an image of shape \(2, C, 8, 8\)"):
        per_image.A(torch.zeros(3, 1, 8, 8))
    fourier = FourierOperator(kspace_mask(16, 0.3))
    with pytest.raises(ValueError, match=r"x: expected an image of shape \(B, C, 16, 16\)"):
        fourier.A(torch.zeros(1, 1, 8, 8))
    with pytest.raises(ValueError, match=r"y: expected the measured spectrum of shape \(B, C, 16, 16\)"):
        fourier.A_pinv(torch.zeros(1, 1, 8, 8, dtype=torch.complex64))
    assert fourier.A_pinv(fourier.A(torch.zeros(1, 1, 16, 16))).shape == (1, 1, 16, 16)


def test_a_step_names_noise_of_the_wrong_shape():
    from course_lib.diffusion import GaussianDiffusion
    from course_lib.samplers import DDIMSampler, DDPMSampler
    from course_lib.schedules import make_beta_schedule

    process = GaussianDiffusion(make_beta_schedule("cosine", 10))
    for sampler in (DDIMSampler(process, steps=5, eta=1.0), DDPMSampler(process)):
        with pytest.raises(ValueError, match=r"noise: expected the fresh noise of x_t's shape \(4, 2\), got \(2, 2\)"):
            sampler.step(torch.zeros(4, 2), 5, 4, torch.zeros(4, 2), noise=torch.zeros(2, 2))


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("learning_rate", -1, "learning_rate: expected a finite number > 0, got -1"),
        ("learning_rate", float("nan"), "learning_rate: expected a finite number > 0, got nan"),
        ("batch_size", 0, "batch_size: expected an int >= 1, got 0"),
        ("warmup_steps", 2.5, "warmup_steps: expected an int >= 0, got 2.5"),
        ("ema_decay", 1.0, r"ema_decay: expected a finite number in \[0, 1\), got 1.0"),
        ("weight_decay", -0.1, "weight_decay: expected a finite number >= 0, got -0.1"),
        ("autocast", "yes", "autocast: expected true or false, got 'yes'"),
        ("schedule", "quadratic", r"schedule: expected one of \['cosine', 'linear'\], got 'quadratic'"),
    ],
)
def test_train_config_checks_its_own_numbers(field, value, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig.from_dict({"name": "x", field: value})


@pytest.mark.parametrize(
    "text,message",
    [
        (
            '{"name": "x",, }',
            r"bad\.json: not valid JSON: Expecting property name enclosed in double quotes \(line 1, column 14\)",
        ),
        ('{"name": "x", "learning_rate": -1}', r"bad\.json: learning_rate: expected a finite number > 0, got -1"),
        ('{"name": "x", "bogus": 1}', r"bad\.json: unknown config keys \['bogus'\]"),
        ('{"name": "x", "dataset": "nodata"}', r"bad\.json: method 'ddpm' trains on datasets 'digits', 'toy2d'"),
    ],
)
def test_the_training_command_prints_one_line_naming_file_and_field(tmp_path, text, message):
    import re

    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "course_lib.engine.train",
            "--config",
            str(path),
            "--no-export",
            "--runs",
            str(tmp_path / "runs"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("python -m course_lib.train: error: "), out.stderr
    assert re.search(message, lines[0]), lines[0]
    assert not (tmp_path / "runs").exists()
    assert path.read_text(encoding="utf-8") == text
