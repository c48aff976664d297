import numpy as np
import pytest
import torch

from course_lib.device import describe_device, get_device, make_generator, seed_everything


def test_env_var_forces_cpu(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")


def test_prefer_overrides_env(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "not-a-device")
    assert get_device("cpu") == torch.device("cpu")


def test_bad_env_value_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "gpu0")
    with pytest.raises(ValueError, match="COURSE_DEVICE='gpu0'"):
        get_device()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_missing_cuda_is_reported_not_silently_replaced(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        get_device()


def test_default_order(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert get_device().type == expected
    assert describe_device("cpu").startswith("cpu (")


def test_seed_everything_reproduces_torch_and_numpy():
    seed_everything(123)
    a, na = torch.rand(5), np.random.rand(3)
    seed_everything(123)
    assert torch.equal(a, torch.rand(5))
    assert np.array_equal(na, np.random.rand(3))


@pytest.mark.parametrize("bad", [1.5, "3", True, -1])
def test_bad_seeds(bad):
    with pytest.raises((TypeError, ValueError), match="seed"):
        seed_everything(bad)


def test_make_generator_is_seeded_on_device(device):
    g1, g2 = make_generator(7, device), make_generator(7, device)
    a = torch.randn(4, generator=g1, device=device)
    assert torch.equal(a, torch.randn(4, generator=g2, device=device))
    assert not torch.equal(a, torch.randn(4, generator=make_generator(8, device), device=device))
