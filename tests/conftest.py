"""Shared fixtures. Tests run on the course device (``COURSE_DEVICE``; ``make test`` sets cpu)."""

import pytest
import torch

from course_lib.device import get_device


@pytest.fixture(scope="session")
def device() -> torch.device:
    return get_device()


_STARTED = __import__("time").time()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Name the browser test's screenshots of this run at the end, so a CI log says where they are."""
    import os
    from pathlib import Path

    folder = (
        Path(os.environ.get("COURSE_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts")) / "browser"
    )
    shots = sorted(p for p in folder.glob("*.png") if p.stat().st_mtime >= _STARTED) if folder.is_dir() else []
    if shots:
        terminalreporter.write_sep("-", "browser screenshots")
        for shot in shots:
            terminalreporter.write_line(str(shot))
