from course_lib.tools import devtools


def test_workspace_copies_missing_lessons_and_never_overwrites(tmp_path, monkeypatch, capsys):
    nbs, ws = tmp_path / "notebooks", tmp_path / "workspace"
    nbs.mkdir()
    (nbs / "00_a.ipynb").write_text("original 00")
    (nbs / "01_b.ipynb").write_text("original 01")
    monkeypatch.setattr(devtools, "NOTEBOOKS", nbs)
    monkeypatch.setattr(devtools, "WORKSPACE", ws)
    assert devtools.main(["workspace"]) == 0
    assert (ws / "00_a.ipynb").read_text() == "original 00"
    (ws / "00_a.ipynb").write_text("my edits")
    (nbs / "01_b.ipynb").write_text("updated upstream")
    (ws / "01_b.ipynb").unlink()  # the learner asks for a fresh copy of lesson 01
    devtools.main(["workspace"])
    assert (ws / "00_a.ipynb").read_text() == "my edits"
    assert (ws / "01_b.ipynb").read_text() == "updated upstream"
    assert "kept     workspace/00_a.ipynb" in capsys.readouterr().out
    (nbs / "appendix").mkdir()
    (nbs / "appendix" / "00a_more.ipynb").write_text("appendix 00a")
    devtools.main(["workspace"])
    assert (
        ws / "appendix" / "00a_more.ipynb"
    ).read_text() == "appendix 00a"  # beside its lesson's copy, as in notebooks/


def test_syllabus_table_escapes_pipes_and_marks_planned_lessons(tmp_path, monkeypatch):
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    (nbs / "01_forward_process.ipynb").write_text("{}")
    monkeypatch.setattr(devtools, "NOTEBOOKS", nbs)
    table = devtools.syllabus_table({"01_forward_process": 12.3})
    row = next(line for line in table.splitlines() if "01 —" in line)
    assert r"q(x_t \| x_{t-1})" in row and row.endswith("| 12 s |")
    assert all(line.count(" | ") == 3 for line in table.splitlines()[2:] if "\\|" not in line)
    assert "planned" in next(line for line in table.splitlines() if "02 —" in line)


def test_syllabus_lists_each_appendix_right_after_its_lesson(tmp_path, monkeypatch):
    nbs = tmp_path / "notebooks"
    (nbs / "appendix").mkdir(parents=True)
    for rel in ("06_faster_sampling", "appendix/06a_sampling_in_depth"):
        (nbs / f"{rel}.ipynb").write_text("{}")
    monkeypatch.setattr(devtools, "NOTEBOOKS", nbs)
    lines = devtools.syllabus_table({"06a_sampling_in_depth": 9.6}).splitlines()
    i = next(i for i, line in enumerate(lines) if line.startswith("| [06 —"))
    assert (
        lines[i + 1].startswith("| [06a — Appendix to 06")
        and "(notebooks/appendix/06a_sampling_in_depth.ipynb)" in lines[i + 1]
    )
    assert lines[i + 1].endswith("| 06 | 10 s |")


def test_readme_syllabus_is_up_to_date():
    import json

    timings = json.loads(devtools.TIMINGS.read_text())
    assert devtools.syllabus_table(timings) in devtools.README.read_text(encoding="utf-8")
