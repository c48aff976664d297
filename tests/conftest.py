"""Shared fixtures. Tests run on the course device (``COURSE_DEVICE``; ``make test`` sets cpu)."""

import pytest
import torch

from course_lib.device import get_device


@pytest.fixture(scope="session")
def device() -> torch.device:
    return get_device()
