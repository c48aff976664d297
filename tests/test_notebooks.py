"""Every lesson and appendix is an executed, in-sync jupytext pair with the course's structure.

(nbval executes the notebooks themselves: `make test` passes them to pytest with --nbval.)
"""

import re
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
LESSONS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))
APPENDICES = sorted(NOTEBOOKS.glob("appendix/[0-9][0-9]a_*.py"))
PAIRS = LESSONS + APPENDICES


def _cells(nb):
    return [(c.cell_type, c.source.strip(), tuple(c.metadata.get("tags", []))) for c in nb.cells]


def test_there_are_lessons_and_every_file_has_its_twin():
    assert [p.stem for p in LESSONS][:2] == ["00_super_resolution", "01_forward_process"]
    py = {p.stem for p in LESSONS}
    ipynb = {p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")}
    assert py == ipynb
    assert {p.stem for p in APPENDICES} == {p.stem for p in NOTEBOOKS.glob("appendix/*.ipynb")}


def test_appendices_are_registered_and_linked_both_ways():
    """An appendix names its lesson and links back to it; the lesson links to the appendix; the syllabus lists it."""
    from course_lib.tools.devtools import APPENDICES as REGISTERED

    assert [a for a, *_ in REGISTERED] == [p.stem for p in APPENDICES]
    for py in APPENDICES:
        lesson = next(p for p in LESSONS if p.stem[:2] == py.stem[:2])
        first = jupytext.read(py).cells[0].source
        assert first.startswith(f"# Appendix to lesson {py.stem[:2]}") and f"(../{lesson.stem}.ipynb)" in first
        assert "**What is here.**" in first and "**Prerequisites.**" in first
        assert f"(appendix/{py.stem}.ipynb)" in lesson.read_text(encoding="utf-8"), f"{lesson.name} links to it"


@pytest.mark.parametrize("py", PAIRS, ids=lambda p: p.stem)
def test_pair_is_in_sync(py):
    from_py = jupytext.read(py)
    from_ipynb = jupytext.read(py.with_suffix(".ipynb"))
    assert _cells(from_py) == _cells(from_ipynb), "run `make sync` (or jupytext --sync) and re-execute the notebook"
    assert from_py.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("py", PAIRS, ids=lambda p: p.stem)
def test_notebook_is_executed_clean_and_stripped(py):
    nb = nbformat.read(py.with_suffix(".ipynb"), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), "execute it with `make notebooks`"
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), "executed top to bottom in one run"
    assert not any(o.output_type == "error" for c in code for o in c.outputs)
    assert "widgets" not in nb.metadata, "widget state must be stripped"


@pytest.mark.parametrize("py", LESSONS, ids=lambda p: p.stem)
def test_lesson_structure(py):
    nb = jupytext.read(py)
    md = [c.source for c in nb.cells if c.cell_type == "markdown"]
    assert "**Objectives.**" in md[0] and "**Prerequisites.**" in md[0]
    text = "\n".join(md)
    for heading in ("## Recap", "## Exercises", "## Further reading"):
        assert heading in text, heading
    assert text.index("## Recap") < text.index("## Exercises") < text.index("## Further reading")


@pytest.mark.parametrize("py", LESSONS, ids=lambda p: p.stem)
def test_exercises_are_stub_check_solution(py):
    cells = jupytext.read(py).cells
    solutions = [i for i, c in enumerate(cells) if "solution" in c.metadata.get("tags", [])]
    assert solutions, "every lesson has exercises"
    for i in solutions:
        assert cells[i].metadata.get("jupyter", {}).get("source_hidden") is True, "solutions are collapsed"
        check, stub = cells[i - 1], cells[i - 2]
        assert check.source.strip().startswith("check_"), check.source
        assert "raise NotImplementedError" in stub.source and "# YOUR CODE HERE" in stub.source
        assert check.source.strip() in cells[i].source, "the solution cell re-runs its check"


@pytest.mark.parametrize("py", PAIRS, ids=lambda p: p.stem)
def test_no_control_characters(py):
    """A LaTeX command written through a non-raw Python string loses its backslash (``\\t``frac, ``\\b``ig,
    ``\\n``abla): the lesson then shows broken mathematics, and nothing else fails."""
    text = py.read_text(encoding="utf-8")
    bad = [(i, repr(line)) for i, line in enumerate(text.splitlines(), 1) if any(ord(ch) < 32 for ch in line)]
    assert not bad, f"control characters in {py.name}: {bad[:3]}"
    broken = [i for i, line in enumerate(text.splitlines(), 1) if re.match(r"(# )?(abla\\|ext\{|rac\{)", line)]
    assert not broken, f"{py.name}: lines {broken} start where a backslash command was cut"
