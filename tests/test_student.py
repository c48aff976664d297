"""The classroom edition (``make student``): no solutions, and every check answers "not done yet"."""

import ast
import re

import nbformat
import pytest

from course_lib.tools import devtools
from course_lib.teaching import exercises

LESSONS = devtools.lesson_paths()


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    assert devtools.main(["student", "--out", str(out)]) == 0
    return out


def test_every_lesson_is_there_without_solutions(edition):
    assert sorted(p.name for p in edition.glob("*.ipynb")) == [p.name for p in LESSONS]
    appendices = devtools.appendix_paths()
    assert sorted(p.name for p in edition.glob("appendix/*.ipynb")) == [p.name for p in appendices] != []
    assert "solution cells are removed" in (edition / "README.md").read_text()
    for lesson in LESSONS:
        original = nbformat.read(lesson, as_version=4)
        student = nbformat.read(edition / lesson.name, as_version=4)
        solutions = [c for c in original.cells if "solution" in c.metadata.get("tags", [])]
        assert solutions
        assert len(student.cells) == len(original.cells) - len(solutions)
        for sol in solutions:
            body = sol.source.split("\n# %%")[0]
            assert all(body not in c.source or "NotImplementedError" in c.source for c in student.cells)
        stubs = [c for c in student.cells if "raise NotImplementedError" in c.source and "# YOUR CODE HERE" in c.source]
        assert len(stubs) == len(solutions)  # one stub per removed solution
        assert "passed" not in str([c.outputs for c in student.cells if c.cell_type == "code" and "check_" in c.source])


def test_answers_to_predictions_are_not_given_away(edition):
    """A cell tagged ``answer`` (lesson 05's measured k = 16) has outputs in the complete edition, where it starts
    collapsed, and none in the classroom edition."""
    tagged = 0
    for lesson in LESSONS:
        original = nbformat.read(lesson, as_version=4)
        student = nbformat.read(edition / lesson.name, as_version=4)
        for cell in original.cells:
            if "answer" not in cell.metadata.get("tags", []):
                continue
            tagged += 1
            assert cell.outputs and cell.metadata.get("jupyter", {}).get("outputs_hidden") is True
            twin = next(c for c in student.cells if c.source == cell.source)
            assert twin.outputs == [] and twin.execution_count is None
    assert tagged >= 1
    k16 = next(
        c
        for c in nbformat.read(edition / "05_cnn_vs_diffusion.ipynb", as_version=4).cells
        if "answer" in c.metadata.get("tags", [])
    )
    assert "k = 16" in k16.source and not k16.outputs


def _exercise_cells(nb):
    """Code cells between the "## Exercises" and "## Further reading" headings (stubs, checks, the summary and
    the imports they carry), preceded by any stub or check cell placed earlier in the lesson (lesson 05 asks
    for a prediction before the cell that measures it)."""
    start = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and "## Exercises" in c.source)
    end = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and "## Further reading" in c.source)
    early = [
        c.source
        for c in nb.cells[:start]
        if c.cell_type == "code" and ("# YOUR CODE HERE" in c.source or c.source.strip().startswith("check_"))
    ]
    return early + [c.source for c in nb.cells[start:end] if c.cell_type == "code"]


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_every_check_says_not_done_yet(edition, lesson):
    """Run only the stub and check cells (with the imports they carry), as a student who has written nothing."""
    exercises.reset_progress()
    nb = nbformat.read(edition / lesson.name, as_version=4)
    ns: dict = {}
    results = []
    for source in _exercise_cells(nb):
        tree = ast.parse(source)
        last = tree.body[-1] if tree.body else None
        if isinstance(last, ast.Expr):  # like a notebook: evaluate the last expression
            exec(compile(ast.Module(tree.body[:-1], []), "<cell>", "exec"), ns)
            value = eval(compile(ast.Expression(last.value), "<cell>", "eval"), ns)
            results.append(value)
        else:
            exec(compile(tree, "<cell>", "exec"), ns)
    checks = [r for r in results if isinstance(r, exercises.CheckResult)]
    summaries = [r for r in results if isinstance(r, exercises.Summary)]
    assert checks, "the lesson has check cells"
    assert all(r.status == "todo" and "not done yet" in r.message for r in checks), checks
    assert len(summaries) == 1 and summaries[0].passed == 0
    assert len(re.findall("not done yet", repr(summaries[0]))) == len(checks)
