""".github/workflows/ci.yml cannot run here (it needs the network and GitHub's runners), so its contract is checked
offline: it runs README's test command through .ci/run on Linux in a Debian container (Chromium that runs headless,
a CJK font) after PyTorch's CPU wheel, the unit tests on a second OS, every Python that pyproject.toml promises at its
lower bound and above, and it uploads the folders the tests and the student edition actually write."""

import os
import re
from pathlib import Path

import yaml

import test_browser
import test_site
from course_lib.tools import devtools

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def workflow() -> dict:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    # YAML 1.1 reads the key "on" as True
    data["on"] = data.pop(True, data.get("on"))
    return data


def runs(job: dict) -> list[str]:
    return [s["run"] for s in job["steps"] if "run" in s]


def uses(job: dict, action: str) -> list[dict]:
    return [s for s in job["steps"] if s.get("uses", "").startswith(action + "@")]


def requires_python() -> tuple[int, int]:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    m = re.search(r'^requires-python\s*=\s*">=\s*(\d+)\.(\d+)"', text, re.M)
    assert m, "pyproject.toml: requires-python is not of the form >=X.Y"
    return int(m.group(1)), int(m.group(2))


def test_it_runs_on_pushes_and_pull_requests():
    on = workflow()["on"]
    assert "push" in on and "pull_request" in on


def test_the_linux_job_runs_the_readme_command_through_ci_run():
    job = workflow()["jobs"]["course"]
    assert job["runs-on"].startswith("ubuntu")
    assert any(re.fullmatch(r"bash \.ci/run\s*", r) for r in runs(job))
    # .ci/run is what CI here runs too, and it calls README's "make test" (test_packaging checks that)
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    # the Ubuntu snap trap: the job runs in a Debian container and installs Debian's chromium and a CJK font
    assert re.match(r"(python:\$\{\{ matrix\.python \}\}-(bookworm|trixie)|debian:)", job["container"])
    system = next(r for r in runs(job) if "apt-get install" in r)
    assert "chromium" in system and "fonts-noto-cjk" in system
    # the CUDA trap: torch from the CPU index before make test installs the rest, and pinned like pyproject
    torch_step = next(r for r in runs(job) if "download.pytorch.org/whl/cpu" in r)
    pinned = re.search(r'"torch==([\d.]+)"', (ROOT / "pyproject.toml").read_text(encoding="utf-8")).group(1)
    assert f"torch=={pinned}" in torch_step and ".venv/bin/python -m pip" in torch_step
    steps = [s.get("run", s.get("uses", "")) for s in job["steps"]]
    assert steps.index(torch_step) < steps.index("bash .ci/run")
    assert uses(job, "actions/cache") and "pyproject.toml" in uses(job, "actions/cache")[0]["with"]["key"]


def test_python_versions_match_pyproject():
    low = requires_python()
    for name, job in workflow()["jobs"].items():
        versions = [tuple(int(x) for x in str(v).split(".")) for v in job["strategy"]["matrix"]["python"]]
        assert all(isinstance(v, str) for v in job["strategy"]["matrix"]["python"]), (
            f"{name}: quote versions (YAML reads 3.10 as 3.1)"
        )
        assert min(versions) == low, f"{name}: the lowest Python tested must be requires-python's {low}"
        assert len(versions) >= 2 and all(v >= low for v in versions)  # the lowest supported and a newer one


def test_a_second_os_runs_the_unit_tests_with_a_pip_cache():
    job = workflow()["jobs"]["unit-tests"]
    assert job["runs-on"].startswith(("macos", "windows"))
    setup = uses(job, "actions/setup-python")[0]["with"]
    assert setup["cache"] == "pip" and setup["python-version"] == "${{ matrix.python }}"
    assert any(re.search(r"pip install -e \"\.\[test\]\"", r) for r in runs(job))
    test_step = next(s for s in job["steps"] if "pytest tests" in s.get("run", ""))
    assert test_step["env"]["COURSE_DEVICE"] == "cpu"


def test_artifacts_are_the_folders_the_tests_and_the_student_edition_write():
    job = workflow()["jobs"]["course"]
    uploads = {s["with"]["path"].rstrip("/") for s in uses(job, "actions/upload-artifact")}
    assert all(s.get("if") == "always()" for s in uses(job, "actions/upload-artifact"))
    # the screenshots: both browser tests write under $COURSE_ARTIFACTS, which the job and .ci/run set to test-artifacts
    assert job["env"]["COURSE_ARTIFACTS"] == "${{ github.workspace }}/test-artifacts"
    assert 'COURSE_ARTIFACTS="${COURSE_ARTIFACTS:-$PWD/test-artifacts}"' in (ROOT / ".ci" / "run").read_text(
        encoding="utf-8"
    )
    where = Path(os.environ.get("COURSE_ARTIFACTS", ROOT / "test-artifacts"))
    for folder in (test_browser.ARTIFACTS, test_site.ARTIFACTS):
        assert folder.parent == where
    assert "test-artifacts" in uploads
    # the student edition: make student writes devtools.STUDENT_DIR, and the job runs it
    assert devtools.STUDENT_DIR.relative_to(ROOT).as_posix() in uploads
    assert "make student" in runs(job)
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^student: .*\n\t.*devtools student --out _build/student", makefile, re.M)
