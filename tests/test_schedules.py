import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.schedules import SCHEDULES, make_beta_schedule


@pytest.mark.parametrize("name", ["linear", "cosine"])
def test_shape_dtype_range(name):
    b = make_beta_schedule(name)
    assert b.shape == (1000,) and b.dtype == torch.float64
    assert (b > 0).all() and (b < 1).all()


def test_linear_endpoints_and_scaling():
    b = make_beta_schedule("linear", 1000)
    assert b[0].item() == pytest.approx(1e-4) and b[-1].item() == pytest.approx(0.02)
    assert (b.diff() > 0).all()
    b500 = make_beta_schedule("linear", 500)
    assert b500[0].item() == pytest.approx(2e-4) and b500[-1].item() == pytest.approx(0.04)


def test_cosine_matches_the_formula_elementwise():
    T, s = 1000, 0.008
    f = [math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2 for t in range(T + 1)]
    expected = [min(1 - f[t + 1] / f[t], 0.999) for t in range(T)]
    assert torch.allclose(
        make_beta_schedule("cosine", T), torch.tensor(expected, dtype=torch.float64), rtol=1e-12, atol=1e-15
    )
    assert make_beta_schedule("cosine", T).max().item() == pytest.approx(0.999)  # the last beta is clipped


@pytest.mark.parametrize("name", ["linear", "cosine"])
def test_sqrt_alpha_bar_T_is_small_for_default_schedules(name):
    ab = torch.cumprod(1 - make_beta_schedule(name), 0)
    assert ab[-1].sqrt() < 0.01


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(["linear", "cosine"]), T=st.integers(min_value=51, max_value=4000))
def test_alpha_bar_strictly_decreasing_and_reaches_noise(name, T):
    ab = torch.cumprod(1 - make_beta_schedule(name, T), 0)
    assert (ab.diff() < 0).all()
    assert 0 < ab[-1] < ab[0] < 1
    assert ab[-1].sqrt() < 0.01


def test_unknown_name_lists_known_ones():
    with pytest.raises(ValueError, match="'quadratic'.*'linear', 'cosine'"):
        make_beta_schedule("quadratic")
    assert set(SCHEDULES) == {"linear", "cosine"}


@pytest.mark.parametrize(
    "T,exc", [(1, ValueError), (0, ValueError), (10.0, TypeError), ("1000", TypeError), (20, ValueError)]
)
def test_bad_T(T, exc):
    with pytest.raises(exc, match="T"):
        make_beta_schedule("linear", T)
