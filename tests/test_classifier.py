import pytest
import torch

from course_lib.engine.pretrained import load_classifier
from course_lib.methods.classifier import accuracy, augment, degrade_some
from course_lib.data import downsample, load_digits, to_tensor, upsample
from course_lib.models import DigitClassifier
from course_lib.engine.train import Trainer


@pytest.fixture(scope="module")
def test_split():
    x, y = load_digits("test")
    return to_tensor(x), torch.as_tensor(y).long()


def test_shipped_classifier_reaches_98_percent(test_split):
    model = load_classifier(device="cpu")
    assert accuracy(model, *test_split) >= 0.98
    # it reads a blurry digit as its digit (trained with bicubic round trips), so SR fidelity measures identity
    blurry = upsample(downsample(test_split[0], 4), 4)
    assert accuracy(model, blurry, test_split[1]) >= 0.8
    with torch.no_grad():
        assert model.features(test_split[0][:5]).shape == (5, 128)


ONE_EPOCH = {
    "name": "c",
    "dataset": "digits_labels",
    "method": "classifier",
    "model": {"width": 8},
    "batch_size": 64,
    "learning_rate": 3e-3,
    "steps": 4000 // 64,
    "warmup_steps": 0,
    "lr_schedule": "onecycle",
    "weight_decay": 1e-4,
    "ema_decay": 0.0,
    "grad_clip": 0.0,
    "log_every": 10,
    "autocast": False,
}


def test_a_short_run_learns_and_is_seeded():
    first = Trainer(ONE_EPOCH, device="cpu").train(progress=False)
    record = first.method.record(first.model)
    assert record["test_accuracy"] > 0.3  # chance is 0.1
    again = Trainer(ONE_EPOCH, device="cpu").train(progress=False)
    assert again.history == first.history
    # with ema_decay 0 the EMA is the model itself, bit for bit (what the shipped classifier exports)
    assert all(torch.equal(a, b) for a, b in zip(first.ema.state_dict().values(), first.model.state_dict().values()))


def test_augment_keeps_shape_and_background():
    x = torch.full((4, 1, 32, 32), -1.0)
    x[:, :, 12:20, 12:20] = 1.0
    out = augment(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out[:, :, :3, :3].max() < -0.99
    assert not torch.equal(out[0], out[1])


def test_degrade_some_applies_bicubic_round_trips():
    x = to_tensor(load_digits("test")[0][:64])
    g = torch.Generator().manual_seed(0)
    out = degrade_some(x, 0.5, g)
    same = (out == x).flatten(1).all(1)
    assert 10 < int(same.sum()) < 54  # about half kept
    for i in torch.nonzero(~same).flatten().tolist():
        assert any(torch.allclose(out[i], upsample(downsample(x[i : i + 1], s), s)[0]) for s in (2, 4))
    assert torch.equal(degrade_some(x, 0.0, g), x)


def test_bad_input():
    with pytest.raises(ValueError, match=r"shape \(B, 1, H, W\)"):
        DigitClassifier().features(torch.zeros(2, 3, 32, 32))
    with pytest.raises(ValueError, match=r"unknown model arguments \['layers'\] for ClassifierConfig"):
        Trainer({**ONE_EPOCH, "model": {"layers": 3}})
    with pytest.raises(ValueError, match="method 'classifier' trains on datasets 'digits_labels'"):
        Trainer({**ONE_EPOCH, "dataset": "digits"})
