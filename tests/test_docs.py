"""The contributor page quotes the code as it stands; the version is the same everywhere; the changelog names it."""

import re
from pathlib import Path

import pytest

import course_lib

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "adding-a-method.md"


def _excerpts():
    text = PAGE.read_text(encoding="utf-8")
    for m in re.finditer(r"<!-- excerpt: (\S+) -->\n```python\n(.*?)```", text, re.S):
        yield m.group(1), m.group(2)


@pytest.mark.parametrize(
    "source,block", list(_excerpts()), ids=lambda v: v if isinstance(v, str) and "/" in v else None
)
def test_every_excerpt_is_in_its_source_file(source, block):
    code = {line.strip() for line in (ROOT / source).read_text(encoding="utf-8").splitlines()}
    missing = [line for line in block.splitlines() if line.strip() and line.strip() not in code]
    assert not missing, f"docs/adding-a-method.md quotes lines that {source} no longer has: {missing}"


def test_the_page_has_excerpts_of_the_sampler_the_method_and_a_row():
    sources = {s for s, _ in _excerpts()}
    assert {"course_lib/samplers/ddim.py", "course_lib/methods/sr3.py", "course_lib/experiments/evaluate.py"} <= sources


def test_one_version_everywhere():
    version = course_lib.__version__
    assert f'version = "{version}"' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert f"version: {version}" in (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    first = re.search(r"^## (\S+)", (ROOT / "CHANGELOG.md").read_text(encoding="utf-8"), re.M).group(1)
    assert first == version, "CHANGELOG.md's newest entry must be the package's version"
