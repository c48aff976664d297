"""Every lesson is an executed, in-sync jupytext pair with the course's structure.

(nbval executes the notebooks themselves: `make test` passes them to pytest with --nbval.)
"""

from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
LESSONS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))


def _cells(nb):
    return [(c.cell_type, c.source.strip(), tuple(c.metadata.get("tags", []))) for c in nb.cells]


def test_there_are_lessons_and_every_file_has_its_twin():
    assert [p.stem for p in LESSONS][:2] == ["00_super_resolution", "01_forward_process"]
    py = {p.stem for p in LESSONS}
    ipynb = {p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")}
    assert py == ipynb


@pytest.mark.parametrize("py", LESSONS, ids=lambda p: p.stem)
def test_pair_is_in_sync(py):
    from_py = jupytext.read(py)
    from_ipynb = jupytext.read(py.with_suffix(".ipynb"))
    assert _cells(from_py) == _cells(from_ipynb), "run `make sync` (or jupytext --sync) and re-execute the notebook"
    assert from_py.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("py", LESSONS, ids=lambda p: p.stem)
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
