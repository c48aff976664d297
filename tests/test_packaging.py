"""The two install routes (pip via pyproject.toml, conda via environment.yml) and the documented commands agree."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONDA_TO_PIP = {"pytorch": "torch"}
NOT_PACKAGES = {"python", "pip"}


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _pins(specs, sep):
    out = {}
    for spec in specs:
        m = re.fullmatch(rf"\s*([A-Za-z0-9_.\-]+)\s*{sep}\s*([0-9][^\s;]*)\s*", spec)
        assert m, f"not an exact pin: {spec!r}"
        out[m.group(1).lower()] = m.group(2)
    return out


def _environment():
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    return conda, pip


def test_runtime_packages_agree():
    runtime = _pins(_pyproject()["project"]["dependencies"], "==")
    conda, _ = _environment()
    packages = [d for d in conda if re.split(r"[=<> ]", d)[0] not in NOT_PACKAGES]
    conda_pins = {CONDA_TO_PIP.get(k, k): v for k, v in _pins(packages, "=").items()}
    assert conda_pins == runtime


def test_test_tools_are_in_the_pip_section():
    test = _pins(_pyproject()["project"]["optional-dependencies"]["test"], "==")
    _, pip = _environment()
    pip_pins = _pins([p for p in pip if not p.startswith("-")], "==")
    assert pip_pins == test
    assert "-e ." in pip


def test_design_packages_are_all_pinned():
    runtime = _pins(_pyproject()["project"]["dependencies"], "==")
    test = _pins(_pyproject()["project"]["optional-dependencies"]["test"], "==")
    for name in ("jupyterlab", "torch", "matplotlib", "ipywidgets", "numpy", "jupytext"):
        assert name in runtime, name
    assert "nbval" in test and runtime["torch"] == "2.13.0"


def test_readme_shows_the_two_commands_first_and_ci_runs_the_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = re.search(r"```(?:bash|sh)?\n(.*?)```", readme, re.S).group(1)
    assert "make lab" in first_block and "make test" in first_block
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^(?:\w+=\S+ )*make test\b", ci, re.M)


def test_make_test_runs_unit_tests_and_every_notebook_on_cpu():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^test: .*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert "COURSE_DEVICE=cpu" in recipe and "pytest tests $(NOTEBOOKS)" in recipe and "$(PYTEST_NB)" in recipe
    assert "--nbval " in makefile or "--nbval\n" in makefile
