"""The 中文 edition (course_lib.tools.edition, course_lib.language): Chinese lessons built from the English
ones and gettext catalogues — the same code cells by construction, stale translations named, the catalogues read as
Babel (the reader behind sphinx-intl) reads them."""

import re

import nbformat
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.language import language, read_po, write_po
from course_lib.tools import edition

CJK = re.compile(r"[\u4e00-\u9fff]")
LESSONS = edition.translated_lessons()


# ---------------------------------------------------------------- the catalogue format
@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list('ab \\"\n\t$超分{}#*')), min_size=1, max_size=40), min_size=1,
                max_size=5, unique=True))  # fmt: skip
def test_write_then_read_gives_the_same_entries(tmp_path_factory, texts):
    path = tmp_path_factory.mktemp("po") / "t.po"
    entries = [{"msgid": t, "msgstr": t[::-1], "comments": [f"cell {k}"]} for k, t in enumerate(texts)]
    write_po(path, entries, "Language: zh_CN")
    back = read_po(path)
    assert list(back) == texts
    assert all(back[e["msgid"]]["msgstr"] == e["msgstr"] for e in entries)


def test_our_reader_agrees_with_babel_on_every_catalogue(tmp_path):
    from babel.messages.pofile import read_po as babel_read

    tricky = tmp_path / "tricky.po"
    write_po(
        tricky, [{"msgid": 'a "quoted" \\frac{1}{2}\nline two\n', "msgstr": "引号 \\alpha\n第二行", "flags": ["fuzzy"]}]
    )
    for path in [tricky, *edition.LOCALE.rglob("*.po"), edition.EXERCISES_CATALOGUE]:
        ours = read_po(path)
        with open(path, "rb") as f:
            theirs = {m.id: m for m in babel_read(f) if m.id}
        assert set(ours) == set(theirs), path.name
        for msgid, entry in ours.items():
            assert entry["msgstr"] == theirs[msgid].string, (path.name, msgid[:40])
            assert ("fuzzy" in entry["flags"]) == theirs[msgid].fuzzy


def test_a_broken_catalogue_is_named_with_its_line(tmp_path):
    bad = tmp_path / "bad.po"
    bad.write_text('msgid "a"\nmsgstr "b"\nthis is not gettext\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.po:3: not a line of a .po catalogue"):
        read_po(bad)


def test_the_language_comes_from_the_environment_or_the_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_LANGUAGE", raising=False)
    monkeypatch.chdir(tmp_path)
    assert language() == "en"
    (tmp_path / "zh").mkdir()
    monkeypatch.chdir(tmp_path / "zh")
    assert language() == "zh"
    (tmp_path / "zh" / "appendix").mkdir()
    monkeypatch.chdir(tmp_path / "zh" / "appendix")
    assert language() == "zh"
    (tmp_path / "appendix").mkdir()
    monkeypatch.chdir(tmp_path / "appendix")
    assert language() == "en"
    monkeypatch.setenv("COURSE_LANGUAGE", "en")
    assert language() == "en"
    monkeypatch.setenv("COURSE_LANGUAGE", "fr")
    with pytest.raises(ValueError, match=r"COURSE_LANGUAGE: expected one of \('en', 'zh'\), got 'fr'"):
        language()


# ---------------------------------------------------------------- the built lessons
def _is_math_or_code_only(text: str) -> bool:
    rest = re.sub(r"\$\$.*?\$\$|\$[^$]*\$|`[^`]*`|```.*?```", "", text, flags=re.S)
    return not re.search(r"[A-Za-z]{3,}", rest)


@pytest.mark.parametrize("stem", LESSONS)
def test_a_chinese_lesson_has_the_english_code_and_outputs_byte_for_byte(stem, tmp_path):
    path = edition.build(stem, tmp_path)
    assert edition.code_differences(stem, path) == []
    built = nbformat.read(path, as_version=4)
    assert built.metadata["course"]["language"] == "zh"
    # the guard, on a planted mismatch: one code cell edited in the Chinese copy is named
    k = next(i for i, c in enumerate(built.cells) if c.cell_type == "code" and c.source.strip())
    built.cells[k].source += "\nprint('only in Chinese')"
    nbformat.write(built, path)
    assert edition.code_differences(stem, path) == [k]


@pytest.mark.parametrize("stem", LESSONS)
def test_every_markdown_cell_of_a_chinese_lesson_is_translated_and_current(stem, tmp_path):
    s = edition.status(stem)
    assert not s["untranslated"] and not s["fuzzy"], (
        f"{stem}: Markdown cells {s['untranslated']} have no translation of their current English text and "
        f"{s['fuzzy']} are marked fuzzy — run python -m course_lib.tools.edition update {stem} and translate them"
    )
    built = nbformat.read(edition.build(stem, tmp_path), as_version=4)
    for k, cell in enumerate(c for c in built.cells if c.cell_type == "markdown"):
        assert CJK.search(cell.source) or _is_math_or_code_only(cell.source), (
            f"{stem}: Markdown cell {k} has no Chinese"
        )


LESSONS_ONLY = [s for s in LESSONS if edition.english_path(s).parent == edition.NOTEBOOKS]


@pytest.mark.parametrize("stem", LESSONS_ONLY)
def test_a_chinese_lesson_has_the_lesson_structure_in_chinese(stem, tmp_path):
    """The English structure test's rule (tests/test_notebooks.py), in the Chinese edition's house words."""
    built = nbformat.read(edition.build(stem, tmp_path), as_version=4)
    md = [c.source for c in built.cells if c.cell_type == "markdown"]
    assert re.match(rf"# {stem[:2]} — \S", md[0]), md[0][:40]
    assert "**学习目标。**" in md[0] and "**先修知识。**" in md[0], md[0][:200]
    text = "\n".join(md)
    for heading in ("## 小结", "## 练习", "## 延伸阅读"):
        assert heading in text, f"{stem}: no {heading}"
    assert text.index("## 小结") < text.index("## 练习") < text.index("## 延伸阅读")


@pytest.mark.parametrize("stem", LESSONS)
def test_a_translation_keeps_the_displayed_maths_and_the_link_targets(stem):
    """Math unchanged and links intact: each ``$$…$$`` block and each link target of an English cell is in its
    translation, and no control character (a LaTeX backslash lost to an escape) crept in."""
    for msgid, entry in read_po(edition.catalogue_path(stem)).items():
        zh = entry["msgstr"]
        for block in re.findall(r"\$\$.*?\$\$", msgid, flags=re.S):
            assert block in zh, f"{stem}: a displayed equation changed in translation: {block[:60]}"
        for target in re.findall(r"\]\(([^)\s]+)\)", msgid):
            assert f"]({target})" in zh, f"{stem}: the link to {target} is lost in translation"
        assert not re.search(r"[\x00-\x08\x0b-\x1f]", zh), f"{stem}: a control character in {zh[:60]!r}"


def test_a_changed_english_cell_is_named_and_its_old_translation_marked_fuzzy(tmp_path, monkeypatch):
    """The drift guard, on a planted mismatch: one English cell edited after its translation."""
    cells = ["# Title", "Some **text** with $x_t$.", "A last cell."]
    monkeypatch.setattr(edition, "LOCALE", tmp_path)
    monkeypatch.setattr(edition, "english_cells", lambda stem: list(cells))
    write_po(edition.catalogue_path("t"), [
        {"msgid": "# Title", "msgstr": "# 标题", "comments": ["cell 0"]},
        {"msgid": "Some **text** with $x_t$.", "msgstr": "一些含 $x_t$ 的**文字**。", "comments": ["cell 1"]},
        {"msgid": "A last cell.", "msgstr": "最后一格。", "comments": ["cell 2"]},
    ])  # fmt: skip
    assert edition.status("t") == {"untranslated": [], "fuzzy": []}
    cells[1] = "Some **new** text with $x_t$."  # the English changes
    assert edition.status("t") == {"untranslated": [1], "fuzzy": []}
    edition.update("t")  # msgmerge's behaviour: the old translation carried over, marked fuzzy
    catalogue = read_po(edition.catalogue_path("t"))
    assert catalogue["Some **new** text with $x_t$."]["flags"] == ["fuzzy"]
    assert catalogue["Some **new** text with $x_t$."]["msgstr"] == "一些含 $x_t$ 的**文字**。"
    assert "Some **text** with $x_t$." not in catalogue
    assert edition.status("t") == {"untranslated": [], "fuzzy": [1]}


# ---------------------------------------------------------------- the checks speak the learner's language
def test_the_checks_catalogue_holds_every_fixed_hint_translated_and_nothing_stale(monkeypatch):
    assert len(edition.exercise_texts()) > 200  # the framework's words and the lessons' constant hints were found
    problems = edition.hint_problems()
    assert problems == {"missing": [], "stale": [], "untranslated": []}, (
        f"run python -m course_lib.tools.edition hints, then translate: { ({k: v[:3] for k, v in problems.items()}) }"
    )
    # the guard, on a planted mismatch: a hint added to a check, and one whose English changed
    texts = edition.exercise_texts()
    changed = texts[-1]
    monkeypatch.setattr(edition, "exercise_texts", lambda: [*texts[:-1], changed + " (reworded)", "a new hint"])
    planted = edition.hint_problems()
    assert planted["missing"] == [changed + " (reworded)", "a new hint"] and planted["stale"] == [changed]


def test_every_fixed_hint_is_translated_with_its_placeholders():
    catalogue = read_po(edition.EXERCISES_CATALOGUE)
    untranslated = [m[:60] for m, e in catalogue.items() if not CJK.search(e["msgstr"]) and m.strip() != "Exercise"]
    assert not untranslated, f"{len(untranslated)} hints without Chinese, e.g. {untranslated[:3]}"
    assert catalogue["Exercise"]["msgstr"] == "练习"
    for msgid, e in catalogue.items():
        fields = r"(?<!\{)\{\w+(?:![rsa])?(?::[^{}]*)?\}"  # a str.format field, its conversion and format spec
        assert sorted(re.findall(fields, msgid)) == sorted(re.findall(fields, e["msgstr"])), msgid[:60]
        names = {m.group(1) for m in re.finditer(r"(?<!\{)\{(\w+)", msgid)}
        try:  # a template (a constant hint may hold braces of its own, x_{t'}: it is never formatted)
            msgid.format(**dict.fromkeys(names, 1))
        except (ValueError, KeyError, IndexError):
            continue
        assert e["msgstr"].format(**dict.fromkeys(names, 1)), msgid[:60]  # no stray brace in the translation


def test_a_check_answers_in_chinese_in_the_chinese_edition(monkeypatch):
    from course_lib.teaching.exercises import lesson13, summary

    def steps_as_nfe(solver, steps):
        return steps

    monkeypatch.setenv("COURSE_LANGUAGE", "en")
    english = lesson13.check_nfe(steps_as_nfe)
    assert english.message.startswith("steps are not NFE") and "Exercise 13.4" in repr(english)
    monkeypatch.setenv("COURSE_LANGUAGE", "zh")
    chinese = lesson13.check_nfe(steps_as_nfe)
    assert chinese.status == "fail" and CJK.search(chinese.message) and "练习 13.4" in repr(chinese)
    assert chinese.message == read_po(edition.EXERCISES_CATALOGUE)[english.message]["msgstr"]
    assert CJK.search(repr(summary("13")))
    passed = lesson13.check_nfe(lambda solver, steps: 2 * steps - 1 if solver == "heun" else steps)
    assert passed.passed and CJK.search(passed.message)


def test_a_hint_with_measured_numbers_is_a_chinese_sentence_with_the_same_numbers(monkeypatch):
    import torch

    from course_lib.teaching.exercises import lesson01

    def too_short(betas):  # the wrong shape: the template's fields carry the shapes
        return torch.cumprod(1 - betas, 0)[:-1]

    monkeypatch.setenv("COURSE_LANGUAGE", "en")
    english = lesson01.check_alpha_bars(too_short)
    assert english.status == "fail" and english.message.startswith("expected shape (1000,)"), english.message
    monkeypatch.setenv("COURSE_LANGUAGE", "zh")
    chinese = lesson01.check_alpha_bars(too_short)
    assert CJK.search(chinese.message) and "(1000,)" in chinese.message and "(999,)" in chinese.message, chinese


def _glossary() -> list[tuple[str, str]]:
    """(English term, 中文 term) of docs/glossary.md, each reduced to the words a lesson would use: the English without
    its parenthesis and the Chinese before its own parenthesis, both at their first alternative (" / ")."""
    text = (edition.ROOT / "docs" / "glossary.md").read_text(encoding="utf-8")
    out = []
    for line in text.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) != 3 or cells[0] in ("English", "---") or not CJK.search(cells[1]):
            continue
        english = re.sub(r"\s*\(.*?\)", "", cells[0].split(" / ")[0]).strip().lower()
        chinese = re.split(r"[（(]", cells[1].split(" / ")[0])[0].strip()
        if len(english) > 3 and re.fullmatch(r"[a-z][a-z \-–']+", english):
            out.append((english, chinese))
    return out


@pytest.mark.parametrize("stem", LESSONS)
def test_each_glossary_term_of_an_english_lesson_is_in_its_chinese_twin(stem, tmp_path):
    english = " ".join(edition.english_cells(stem)).lower()
    built = nbformat.read(edition.build(stem, tmp_path), as_version=4)
    chinese = " ".join(c.source for c in built.cells if c.cell_type == "markdown")
    terms = [(en, zh) for en, zh in _glossary() if re.search(rf"\b{re.escape(en)}\b", english)]
    appendix = edition.english_path(stem).parent.name == "appendix"  # a short appendix may use a single term
    assert len(terms) >= (1 if appendix else 3), f"{stem}: the glossary parser found too few terms ({terms})"
    missing = [f"{en} → {zh}" for en, zh in terms if zh not in chinese]
    assert not missing, f"{stem}: glossary terms in the English lesson whose 中文 the Chinese twin lacks: {missing}"


@pytest.mark.skipif(not LESSONS, reason="no lesson translated yet")
def test_the_workspace_copy_keeps_a_learners_edits_and_the_student_edition_drops_solutions(tmp_path):
    first = edition.workspace(tmp_path)
    assert [p.relative_to(tmp_path / "zh") for p in first] == [
        edition.english_path(s).relative_to(edition.NOTEBOOKS) for s in LESSONS
    ]
    first[0].write_text(first[0].read_text(encoding="utf-8").replace("学习目标", "我的笔记"), encoding="utf-8")
    assert edition.workspace(tmp_path) == []  # nothing overwritten
    assert "我的笔记" in first[0].read_text(encoding="utf-8")
    for path in edition.student(tmp_path / "student"):
        nb = nbformat.read(path, as_version=4)
        assert not any("solution" in c.metadata.get("tags", []) for c in nb.cells)
        english = nbformat.read(edition.english_path(path.stem), as_version=4)
        assert any("solution" in c.metadata.get("tags", []) for c in english.cells) or path.parent.name == "appendix"


# ---------------------------------------------------------------- the documents: README, instructors' guide, glossary
@pytest.mark.parametrize("name", list(edition.DOCUMENTS))
def test_a_chinese_document_is_built_from_its_catalogue_and_current(name):
    status = edition.doc_status(name)
    assert status == {"untranslated": [], "fuzzy": []}, (
        f"{name}: {status} — run python -m course_lib.tools.edition docs --update and translate them"
    )
    twin = edition.ROOT / edition.DOCUMENTS[name][1]
    assert twin.read_text(encoding="utf-8") == edition.build_doc(name), (
        f"{twin.name} is not what its catalogue and the English give: run python -m course_lib.tools.edition docs"
    )


@pytest.mark.parametrize("name", list(edition.DOCUMENTS))
def test_every_block_of_a_chinese_document_is_chinese_and_its_commands_are_the_english_ones(name):
    english = edition.doc_blocks((edition.ROOT / edition.DOCUMENTS[name][0]).read_text(encoding="utf-8"))
    chinese = edition.doc_blocks(edition.build_doc(name))
    assert len(english) == len(chinese)
    for k, (en, zh) in enumerate(zip(english, chinese)):
        if en.startswith("```"):  # a command block: only its comments are translated

            def commands(block):
                return [line.split("#", 1)[0].rstrip() for line in block.split("\n")]

            assert commands(en) == commands(zh), f"{name}: block {k}'s commands differ from the English"
        else:
            assert CJK.search(zh) or _is_math_or_code_only(zh), f"{name}: block {k} has no Chinese: {zh[:60]!r}"


def test_the_chinese_glossary_has_every_row_with_chinese_first():
    english = (edition.ROOT / "docs" / "glossary.md").read_text(encoding="utf-8")
    chinese = edition.build_doc("glossary")
    rows = [line for line in english.splitlines() if line.startswith("| ") and not line.startswith("| English")]
    for row in rows:
        en, zh, symbol = re.split(r"(?<!\\)\|", row)[1:-1]
        assert f"|{zh}|{en}|{symbol}|" in chinese, row


def test_the_chinese_readme_lists_every_lesson_with_its_chinese_title_and_run_time():
    import json

    text = edition.build_doc("README")
    timings = json.loads(edition.TIMINGS.read_text())
    for stem in LESSONS:
        title = edition.chinese_title(stem)
        assert title and f"{stem[:3].rstrip('_')} — {title}" in text, stem
        assert f"| {timings[stem]:.0f} 秒 |" in text, stem
    assert "[English README](README.md)" in text  # the way back is not turned into a link to itself
    assert "(docs/glossary.zh-CN.md)" in text and "(docs/glossary.md)" not in text


def test_a_changed_english_block_of_a_document_is_named_and_kept_english_until_checked(tmp_path, monkeypatch):
    """The drift guard for documents, on a planted mismatch."""
    (tmp_path / "doc.md").write_text("# Title\n\nFirst paragraph.\n\n```bash\nmake lab  # open\n```\n", "utf-8")
    monkeypatch.setattr(edition, "ROOT", tmp_path)
    monkeypatch.setattr(edition, "LOCALE", tmp_path / "locale")
    monkeypatch.setitem(edition.DOCUMENTS, "doc", ("doc.md", "doc.zh-CN.md"))
    edition.update_doc("doc")
    catalogue = read_po(tmp_path / "locale" / "docs" / "doc.po")
    entries = [{"msgid": m, "msgstr": z, "comments": catalogue[m]["comments"]}
               for m, z in zip(catalogue, ["# 标题", "第一段。", "```bash\nmake lab  # 打开\n```"])]  # fmt: skip
    write_po(tmp_path / "locale" / "docs" / "doc.po", entries)
    assert edition.build_doc("doc") == "# 标题\n\n第一段。\n\n```bash\nmake lab  # 打开\n```\n"
    (tmp_path / "doc.md").write_text(
        "# Title\n\nFirst paragraph, changed.\n\n```bash\nmake lab  # open\n```\n", "utf-8"
    )
    assert edition.doc_status("doc") == {"untranslated": ["block 1"], "fuzzy": []}
    edition.update_doc("doc")
    assert edition.doc_status("doc") == {"untranslated": [], "fuzzy": ["block 1"]}
    assert "First paragraph, changed." in edition.build_doc("doc")  # English until a translator checks it


def test_line_breaks_between_chinese_characters_are_removed_and_nothing_else():
    text = (
        "# 标题\n正文第一行，\n第二行。\n1. 一项，\n   续行。\nEnglish line\nnext line\n```\n代码\n注释\n```\n"
        "$$\n\\text{甲}\n\\text{乙}\n$$\n中文 end\n中文"
    )
    joined = edition.join_cjk_lines(text)
    assert joined == (
        "# 标题\n正文第一行，第二行。\n1. 一项，续行。\nEnglish line\nnext line\n```\n代码\n注释\n```\n"
        "$$\n\\text{甲}\n\\text{乙}\n$$\n中文 end\n中文"
    )
    assert edition.join_cjk_lines(joined) == joined  # idempotent
    assert edition.join_cjk_lines("plain English\nwrapped\n") == "plain English\nwrapped\n"


def test_a_chinese_lesson_runs_where_make_lab_puts_it_and_its_checks_answer_in_chinese(tmp_path, monkeypatch):
    """workspace/zh/ is one folder deeper than notebooks/: the lesson still finds its data and models, and the
    language comes from the folder (no code cell differs from the English)."""
    from nbclient import NotebookClient

    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    monkeypatch.delenv("COURSE_LANGUAGE", raising=False)
    path = next(p for p in edition.workspace(tmp_path) if p.stem == "03_timestep_embedding")
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    printed = "".join(
        o.get("text", "") + o.get("data", {}).get("text/plain", "")
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
    )
    assert "✅ 练习 03.1" in printed and "通过" in printed and "Exercise 03.1" not in printed
