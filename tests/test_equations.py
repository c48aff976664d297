"""Equation numbers: each lesson displays its equations in order (NN.1, NN.2, … as a reader meets them), and every
"Eq. NN.k" the course cites — in ``course_lib`` docstrings and comments, the lessons, the tests, the docs — is displayed
in lesson NN. A lesson the syllabus still marks "(coming)" (no notebook yet) is exempt until it lands."""

import re
from pathlib import Path

import pytest

from course_lib.tools.devtools import SYLLABUS

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
LESSONS = {stem[:2]: stem for stem, *_ in SYLLABUS}
LANDED = {nn: stem for nn, stem in LESSONS.items() if (NOTEBOOKS / f"{stem}.py").exists()}

CITE = re.compile(r"Eqs?\.\s?(\d\d)\.(\d+)(?:\s?[–-]\s?(\d\d)\.(\d+))?")
TAG = re.compile(r"\\text\{\(Eq\.\s?(\d\d)\.(\d+)\)\}")


def markdown_of(stem: str) -> str:
    """The Markdown cells of a lesson's py:percent twin, comment marks removed."""
    cells, current, is_md = [], [], False
    for line in (NOTEBOOKS / f"{stem}.py").read_text(encoding="utf-8").splitlines():
        if line.startswith("# %%"):
            if is_md:
                cells.append("\n".join(current))
            current, is_md = [], "[markdown]" in line
        elif is_md:
            current.append(line[2:] if line.startswith("# ") else line.lstrip("#"))
    if is_md:
        cells.append("\n".join(current))
    return "\n".join(cells)


def displayed(stem: str) -> list[tuple[str, int]]:
    """(lesson, k) of every equation tag inside a $$ … $$ display, in the order a reader meets them."""
    out = []
    for block in re.findall(r"\$\$(.*?)\$\$", markdown_of(stem), re.S):
        out += [(nn, int(k)) for nn, k in TAG.findall(block)]
    return out


def citations() -> list[tuple[str, int, str]]:
    """(lesson, k, where) of every "Eq. NN.k" (both ends of a range "Eq. NN.a–NN.b") in the course's own text."""
    files = [
        *sorted((ROOT / "course_lib").rglob("*.py")),
        *sorted(NOTEBOOKS.rglob("*.py")),
        *sorted((ROOT / "tests").glob("*.py")),
        *sorted((ROOT / "docs").glob("*.md")),
        ROOT / "README.md",
    ]
    out = []
    for path in files:
        if path.name in ("errata.md", "test_equations.py"):  # old numbers on purpose; made-up ones in the self-test
            continue
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for m in CITE.finditer(line):
                where = f"{path.relative_to(ROOT)}:{lineno}"
                out.append((m.group(1), int(m.group(2)), where))
                if m.group(3):
                    out.append((m.group(3), int(m.group(4)), where))
    return out


@pytest.mark.parametrize("nn", sorted(LANDED))
def test_each_lesson_displays_its_equations_once_in_order(nn):
    tags = displayed(LANDED[nn])
    assert tags, f"lesson {nn} displays no numbered equation"
    foreign = [f"{a}.{k}" for a, k in tags if a != nn]
    assert not foreign, f"lesson {nn} displays equations numbered for another lesson: {foreign}"
    ks = [k for _, k in tags]
    assert ks == list(range(1, len(ks) + 1)), (
        f"lesson {nn} displays Eq. {nn}.k in the order {ks}; a reader must meet them as 1, 2, 3, … with none "
        "skipped or repeated"
    )


def test_every_cited_equation_is_displayed_in_its_lesson():
    shown = {nn: {k for _, k in displayed(stem)} for nn, stem in LANDED.items()}
    cites = citations()
    assert len(cites) > 100  # the parser found the course's citations
    unknown = [f"Eq. {nn}.{k} ({where})" for nn, k, where in cites if nn not in LESSONS]
    assert not unknown, f"citations of a lesson the syllabus does not have: {unknown}"
    missing = [f"Eq. {nn}.{k} ({where})" for nn, k, where in cites if nn in LANDED and k not in shown[nn]]
    assert not missing, f"cited but not displayed in their lesson: {missing}"


def test_the_checks_catch_what_they_are_for(tmp_path):
    """The parser sees a tag only inside a display, and a range's second end is a citation too."""
    assert [
        (m.group(1), m.group(2), m.group(3), m.group(4)) for m in CITE.finditer("see Eq. 04.2–04.3 and Eq. 01.1")
    ] == [("04", "2", "04", "3"), ("01", "1", None, None)]
    text = "inline (Eq. 01.9) and $$x = y \\qquad \\text{(Eq. 01.7)}$$"
    assert [TAG.findall(b) for b in re.findall(r"\$\$(.*?)\$\$", text, re.S)] == [[("01", "7")]]
