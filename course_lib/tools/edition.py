"""The 中文 edition · 中文版 (tools layer): Chinese lessons built from the English ones, so that they cannot drift.

A Chinese lesson is never edited as a notebook. It is **built** from the executed English notebook
(``notebooks/NN_name.ipynb``) and the lesson's gettext catalogue ``locale/zh/LC_MESSAGES/NN_name.po``:

* every **code cell** is copied byte for byte, with its stored outputs — the same code, executed once, in English;
* every **Markdown cell** is replaced by its translation: the catalogue entry whose ``msgid`` is that cell's English
  text. When an English cell changes, its old entry no longer matches: :func:`update` carries the old translation
  over marked ``fuzzy`` (gettext's msgmerge does the same), :func:`status` names the cell, and the build keeps the
  English text there until a translator has checked it.

gettext catalogues are the ecosystem's convention for exactly this (the Python documentation translates with them,
through sphinx-intl); the English text in each ``msgid`` is the record of what was translated. Commands::

    python -m course_lib.tools.edition update STEM …   # refresh catalogues from the English lessons (or create one)
    python -m course_lib.tools.edition status           # untranslated and fuzzy cells, lesson by lesson
    python -m course_lib.tools.edition build --out DIR  # write the Chinese notebooks (DIR/zh/STEM.ipynb)
    python -m course_lib.tools.edition workspace        # copy them to workspace/zh/ (make lab EDITION=zh)
    python -m course_lib.tools.edition student          # the classroom edition: make student EDITION=zh
    python -m course_lib.tools.edition hints            # refresh the checks' catalogue
    python -m course_lib.tools.edition docs [--update]  # write README.zh-CN.md and docs/*.zh-CN.md (refresh catalogues)

The documents beside the lessons — README, the instructors' guide, the glossary — are translated the same way, block by
block (a block: a paragraph, a list, a table or a fenced code block, as sphinx-intl splits a page), in
``locale/zh/LC_MESSAGES/docs/NAME.po``; their Chinese files (``README.zh-CN.md``, ``docs/*.zh-CN.md``) are committed
so that they read on GitHub, and a test rebuilds them and finds them equal. Two parts are generated, not translated:
README's syllabus table (Chinese titles from the lessons' catalogues, the same run times) and the glossary's table
(the same rows with 中文 first).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from ..language import read_po, translation, write_po
from .devtools import NOTEBOOKS, ROOT, TIMINGS, notebook_paths, student_notebook, syllabus_entries

__all__ = [
    "LOCALE",
    "catalogue_path",
    "english_path",
    "english_cells",
    "update",
    "status",
    "build",
    "translated_lessons",
    "workspace",
    "student",
    "EXERCISES_CATALOGUE",
    "exercise_texts",
    "update_exercises",
    "hint_problems",
    "code_differences",
    "DOCUMENTS",
    "doc_blocks",
    "update_doc",
    "doc_status",
    "build_doc",
    "write_docs",
    "chinese_title",
    "syllabus_zh",
    "join_cjk_lines",
]

LOCALE = ROOT / "locale" / "zh" / "LC_MESSAGES"
HEADER = "\n".join(
    ("Project-Id-Version: diffusion-sr-course", "Language: zh_CN", "MIME-Version: 1.0",
     "Content-Type: text/plain; charset=UTF-8")
)  # fmt: skip


def catalogue_path(stem: str) -> Path:
    """``locale/zh/LC_MESSAGES/STEM.po``."""
    return LOCALE / f"{stem}.po"


def english_path(stem: str) -> Path:
    """The executed English notebook of a lesson or appendix stem (``notebooks/STEM.ipynb`` or
    ``notebooks/appendix/STEM.ipynb``)."""
    for path in notebook_paths():
        if path.stem == stem:
            return path
    raise FileNotFoundError(
        f"stem: expected a lesson or appendix of notebooks/ (e.g. 01_forward_process), got {stem!r} — no executed "
        "English notebook of that name (run make notebooks first)"
    )


def _notebook(stem: str) -> nbformat.NotebookNode:
    return nbformat.read(english_path(stem), as_version=4)


def english_cells(stem: str) -> list[str]:
    """The English lesson's Markdown cells, in order (the texts the catalogue translates)."""
    return [c.source for c in _notebook(stem).cells if c.cell_type == "markdown"]


def translated_lessons() -> list[str]:
    """Stems of the lessons and appendices that have a catalogue (the Chinese edition so far), lessons first."""
    order = [p.stem for p in notebook_paths()]
    have = {p.stem for p in LOCALE.glob("*.po")}
    return [stem for stem in order if stem in have]


def _merge(old: dict, texts: list[tuple[str, str]]) -> list[dict]:
    """Catalogue entries for ``texts`` — (English, place) pairs — keeping ``old``'s translations: unchanged English
    keeps its translation; a changed text takes the translation of the one that stood at its place, marked
    ``fuzzy`` (gettext's msgmerge does the same); a new one gets an empty translation."""
    by_place = {e["comments"][0]: e for e in old.values() if e["comments"]}
    entries, seen = [], set()
    for text, place in texts:
        if text in seen:
            continue
        seen.add(text)
        if text in old:
            entries.append({"msgid": text, "msgstr": old[text]["msgstr"], "flags": old[text]["flags"],
                            "comments": [place]})  # fmt: skip
        elif place in by_place and by_place[place]["msgstr"]:
            entries.append({"msgid": text, "msgstr": by_place[place]["msgstr"], "flags": ["fuzzy"],
                            "comments": [place]})  # fmt: skip
        else:
            entries.append({"msgid": text, "msgstr": "", "comments": [place]})
    return entries


def update(stem: str) -> Path:
    """Rewrite the lesson's catalogue from its English cells: a translation whose English text is unchanged stays; a
    cell whose English changed keeps the translation of the cell that stood at its place, marked ``fuzzy``; a new
    cell gets an empty translation."""
    path = catalogue_path(stem)
    old = read_po(path, missing_ok=True)
    texts = [(text, f"cell {k}") for k, text in enumerate(english_cells(stem))]
    return write_po(path, _merge(old, texts), HEADER)


def _status(catalogue: dict[str, dict], texts: list[tuple[str, object]]) -> dict[str, list]:
    """``{"untranslated": [...], "fuzzy": [...]}``: the places of ``texts`` — (English, place) pairs — whose current
    English has no translation in ``catalogue``, and those whose translation is marked fuzzy."""
    out: dict[str, list] = {"untranslated": [], "fuzzy": []}
    for text, place in texts:
        entry = catalogue.get(text)
        if entry is None or not entry["msgstr"].strip():
            out["untranslated"].append(place)
        elif "fuzzy" in entry["flags"]:
            out["fuzzy"].append(place)
    return out


def status(stem: str) -> dict[str, list[int]]:
    """``{"untranslated": [...], "fuzzy": [...]}``: the Markdown cells (numbered among the Markdown cells) with no
    translation of their current English text, and those whose translation is marked fuzzy."""
    return _status(read_po(catalogue_path(stem), missing_ok=True), [(t, k) for k, t in enumerate(english_cells(stem))])


_CJK = "\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"  # CJK punctuation, ideographs, full-width forms


def join_cjk_lines(text: str) -> str:
    """Markdown with each line break between two Chinese characters removed. A renderer turns a soft line break
    into a space, which Latin text needs and Chinese does not (Chrome draws it: "本课 的"); a translator may wrap
    lines as the English does (a list item's indented continuation included). A heading line, code fences and
    display maths are left as they are."""
    import re

    out: list[str] = []
    fenced = math = False
    for line in text.split("\n"):
        # (an indented line continues a list item; its indent goes with the break)
        join = (out and not fenced and not math and re.match(f"\\s*[{_CJK}]", line)
                and re.search(f"[{_CJK}]$", out[-1]) and not out[-1].lstrip().startswith("#"))  # fmt: skip
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif line.count("$$") % 2:
            math = not math
        if join:
            out[-1] += line.lstrip()
        else:
            out.append(line)
    return "\n".join(out)


def build(stem: str, out: str | Path) -> Path:
    """Write ``OUT/zh/STEM.ipynb`` (``OUT/zh/appendix/STEM.ipynb`` for an appendix, so that the lessons' relative
    links hold): the English executed notebook with each Markdown cell translated (English where
    no checked translation exists), its code cells and outputs unchanged, marked ``metadata.course.language = zh``."""
    nb = _notebook(stem)
    catalogue = read_po(catalogue_path(stem), missing_ok=True)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            zh = translation(catalogue, cell.source)
            if zh:
                cell.source = join_cjk_lines(zh)
    nb.metadata.setdefault("course", {})["language"] = "zh"
    target = Path(out) / "zh" / english_path(stem).relative_to(NOTEBOOKS)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return target


EXERCISES_CATALOGUE = ROOT / "course_lib" / "teaching" / "locale" / "zh" / "LC_MESSAGES" / "exercises.po"


def exercise_texts() -> list[str]:
    """Every text a check shows a learner that is fixed in the code: the framework's words
    (:data:`course_lib.teaching.exercises.FRAMEWORK_TEXTS`), each hint of the exercise modules — a constant
    ``Mismatch("…")``, a template ``Mismatch("… {got:.3f} …", got=…)`` or a hint marked ``N_("…")`` — and each
    answer's name given to ``expect_tensor`` (read from their source, in order)."""
    import ast

    folder = ROOT / "course_lib" / "teaching" / "exercises"  # read as text: the tools layer imports no teaching code
    framework = ast.parse((folder / "__init__.py").read_text(encoding="utf-8"))
    texts = next(
        list(ast.literal_eval(node.value))
        for node in framework.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "FRAMEWORK_TEXTS"
    )
    for path in [folder / "__init__.py", *sorted(folder.glob("lesson*.py"))]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            called = getattr(node.func, "id", None)
            # Mismatch("hint" or "template", **values); N_("a hint kept in a variable"); expect_tensor(out, shape,
            # "what the answer is")
            arg = node.args[0] if called in ("Mismatch", "N_") and node.args else None
            arg = node.args[2] if called == "expect_tensor" and len(node.args) > 2 else arg
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value not in texts:
                texts.append(arg.value)
    return texts


def update_exercises() -> Path:
    """Rewrite the checks' catalogue (``course_lib/teaching/locale/zh/LC_MESSAGES/exercises.po``) from
    :func:`exercise_texts`, keeping every translation whose English is unchanged."""
    old = read_po(EXERCISES_CATALOGUE, missing_ok=True)
    entries = []
    for text in exercise_texts():
        e = old.get(text, {"msgstr": "", "flags": []})
        entries.append({"msgid": text, "msgstr": e["msgstr"], "flags": e["flags"]})
    return write_po(EXERCISES_CATALOGUE, entries, HEADER)


def hint_problems() -> dict[str, list[str]]:
    """The checks' catalogue against the code: ``missing`` (a fixed hint with no entry), ``stale`` (an entry whose
    English no check shows any more) and ``untranslated`` (an entry without Chinese)."""
    import re

    catalogue = read_po(EXERCISES_CATALOGUE, missing_ok=True)
    texts = exercise_texts()
    return {
        "missing": [t for t in texts if t not in catalogue],
        "stale": [m for m in catalogue if m not in texts],
        "untranslated": [m for m, e in catalogue.items() if not re.search(r"[\u4e00-\u9fff]", e["msgstr"])],
    }


def code_differences(stem: str, built: str | Path) -> list[int]:
    """Cells of a built Chinese lesson whose type, or whose code, outputs or metadata (for a code cell), differ from
    the English notebook's — empty when the Chinese lesson runs exactly the English code."""
    zh = nbformat.read(built, as_version=4)
    en = _notebook(stem)
    if len(zh.cells) != len(en.cells):
        return list(range(min(len(zh.cells), len(en.cells)), max(len(zh.cells), len(en.cells))))
    return [
        k
        for k, (a, b) in enumerate(zip(zh.cells, en.cells))
        if a.cell_type != b.cell_type
        or (b.cell_type == "code" and (a.source, a.outputs, a.metadata) != (b.source, b.outputs, b.metadata))
    ]


#: name → (English document, its Chinese twin), paths from the repository root
DOCUMENTS = {
    "README": ("README.md", "README.zh-CN.md"),
    "instructors": ("docs/instructors.md", "docs/instructors.zh-CN.md"),
    "glossary": ("docs/glossary.md", "docs/glossary.zh-CN.md"),
}
SYLLABUS_MARK = "<!-- syllabus:start -->"


def doc_blocks(text: str) -> list[str]:
    """A Markdown document cut into blocks at blank lines, a fenced code block kept whole (blank lines and all);
    ``"\n\n".join(doc_blocks(t))`` gives ``t`` back when ``t`` has no runs of blank lines or trailing spaces."""
    blocks, current, fenced = [], [], False
    for line in text.rstrip("\n").split("\n"):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not line.strip() and not fenced:
            if current:
                blocks.append("\n".join(current))
            current = []
        else:
            current.append(line)
    if current:
        blocks.append("\n".join(current))
    return blocks


def _is_table(block: str) -> bool:
    return all(line.startswith("|") for line in block.split("\n"))


def _catalogued(name: str, block: str) -> bool:
    """Whether a document's block is translated through its catalogue (the generated parts are not)."""
    return not block.startswith(SYLLABUS_MARK) and not (name == "glossary" and _is_table(block))


def _doc_catalogue(name: str) -> Path:
    return LOCALE / "docs" / f"{name}.po"


def _doc_texts(name: str) -> list[tuple[str, str]]:
    """(text to translate, where) of a document: its catalogued blocks, and for README the "what you learn" of each
    syllabus row (and its prerequisites where they are words, not lesson numbers)."""
    import re

    source = DOCUMENTS[name][0]
    out = [(b, f"block {k}") for k, b in enumerate(doc_blocks((ROOT / source).read_text(encoding="utf-8")))
           if _catalogued(name, b)]  # fmt: skip
    if name == "README":
        out += [(learn, f"syllabus {stem}") for stem, _, learn, _, _ in syllabus_entries()]
        out += [(pre, f"prerequisites {stem}") for stem, _, _, pre, _ in syllabus_entries() if re.search("[a-z]", pre)]
    return out


def update_doc(name: str) -> Path:
    """Refresh (or create) a document's catalogue, as :func:`update` does for a lesson: unchanged English keeps its
    translation; a changed block keeps the translation of the block that stood at its place, marked fuzzy."""
    path = _doc_catalogue(name)
    old = read_po(path, missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_po(path, _merge(old, _doc_texts(name)), HEADER)


def doc_status(name: str) -> dict[str, list[str]]:
    """``{"untranslated": [...], "fuzzy": [...]}``: the places (``block K``, ``syllabus STEM``) of a document
    without a checked translation of their current English."""
    return _status(read_po(_doc_catalogue(name), missing_ok=True), _doc_texts(name))


def chinese_title(stem: str) -> str | None:
    """A translated lesson's Chinese title, from the first heading of its catalogue's first cell (``None`` when the
    lesson has no checked translation of it)."""
    import re

    if not catalogue_path(stem).is_file():
        return None
    zh = translation(read_po(catalogue_path(stem)), english_cells(stem)[0])
    if not zh:
        return None
    m = re.match(r"# *\S+ *— *(.+)", zh.split("\n", 1)[0])
    return m.group(1).strip() if m else None


def syllabus_zh() -> list[tuple[str, str, str, str, str]]:
    """:func:`course_lib.tools.devtools.syllabus_entries` in Chinese: (stem, title, what you learn, prerequisites,
    path) with each lesson's Chinese title and README's catalogued "what you learn" (English where untranslated)."""
    path = _doc_catalogue("README")
    catalogue = read_po(path, missing_ok=True)
    out = []
    for stem, title, learn, prereq, rel in syllabus_entries():
        zh_title = chinese_title(stem) if (NOTEBOOKS / f"{rel}.ipynb").exists() else None
        learn, prereq = translation(catalogue, learn) or learn, translation(catalogue, prereq) or prereq
        out.append((stem, zh_title or title, learn, prereq, rel))
    return out


def _zh_syllabus() -> str:
    import json

    timings = json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}
    rows = ["| 课 | 学习内容 | 先修 | CPU 运行时间* |", "|---|---|---|---|"]
    for stem, title, learn, prereq, rel in syllabus_zh():
        exists = (NOTEBOOKS / f"{rel}.ipynb").exists()
        number = stem[:3].rstrip("_")
        name = f"[{number} — {title}](notebooks/{rel}.ipynb)" if exists else f"{number} — {title}"
        secs = f"{timings[stem]:.0f} 秒" if stem in timings else ("—" if exists else "计划中")
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in [name, learn, prereq, secs]) + " |")
    return "\n".join([SYLLABUS_MARK, *rows, "<!-- syllabus:end -->"])


def _zh_glossary_table(block: str) -> str:
    import re

    out = []
    for line in block.split("\n"):
        cells = re.split(r"(?<!\\)\|", line)[1:-1]
        if len(cells) == 3:
            cells = [cells[1], cells[0], cells[2]]
        if line.startswith("| English "):
            cells = [" 中文 ", " English ", " 符号 / 代码名 "]
        out.append("|" + "|".join(cells) + "|")
    return "\n".join(out)


def _zh_links(block: str, source: str) -> str:
    """Links to a document that has a Chinese twin go to the twin (except a link labelled "English", the way back)."""
    import posixpath
    import re

    base = posixpath.dirname(source)
    twins = {en: zh for en, zh in DOCUMENTS.values()}

    def fix(m: re.Match) -> str:
        label, target = m.group(1), m.group(2)
        path, sep, anchor = target.partition("#")
        resolved = posixpath.normpath(posixpath.join(base, path)) if path else ""
        if resolved in twins and not re.match(r"^[a-z]+:", target) and "English" not in label:
            return f"[{label}]({posixpath.relpath(twins[resolved], base or '.')}{sep}{anchor})"
        return m.group(0)

    return re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", fix, block)


def build_doc(name: str) -> str:
    """A document's Chinese text: each block's checked translation (the English where there is none), README's
    syllabus and the glossary's table generated, links to translated documents pointing at their twins."""
    source = DOCUMENTS[name][0]
    catalogue = read_po(_doc_catalogue(name), missing_ok=True)
    out = []
    for block in doc_blocks((ROOT / source).read_text(encoding="utf-8")):
        if block.startswith(SYLLABUS_MARK):
            out.append(_zh_syllabus())
        elif name == "glossary" and _is_table(block):
            out.append(_zh_glossary_table(block))
        else:
            zh = translation(catalogue, block)
            out.append(_zh_links(join_cjk_lines(zh), source) if zh else block)
    return "\n\n".join(out) + "\n"


def write_docs(update_catalogues: bool = False) -> list[Path]:
    """Write every document's Chinese twin (``README.zh-CN.md``, ``docs/*.zh-CN.md``), refreshing the catalogues
    first when asked."""
    written = []
    for name, (_, twin) in DOCUMENTS.items():
        if update_catalogues:
            update_doc(name)
        (ROOT / twin).write_text(build_doc(name), encoding="utf-8")
        written.append(ROOT / twin)
    return written


def workspace(root: str | Path = ROOT / "workspace") -> list[Path]:
    """Copy every translated lesson into ``ROOT/zh/`` (``make lab EDITION=zh``) — built afresh, but a learner's copy
    that is already there is never overwritten (as ``make workspace`` does for the English lessons)."""
    import tempfile

    written = []
    with tempfile.TemporaryDirectory() as tmp:
        for stem in translated_lessons():
            fresh = build(stem, tmp)
            target = Path(root) / "zh" / fresh.relative_to(Path(tmp) / "zh")
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(fresh.read_bytes())
                written.append(target)
    return written


def student(out: str | Path) -> list[Path]:
    """The classroom edition of every translated lesson (solutions removed, as ``make student``): ``OUT/zh/``."""
    written = []
    for stem in translated_lessons():
        path = build(stem, out)
        nbformat.write(student_notebook(nbformat.read(path, as_version=4)), path)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.tools.edition", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("update", help="refresh (or create) lessons' catalogues from the English lessons")
    up.add_argument("stems", nargs="+", help="lesson stems, e.g. 00_super_resolution")
    sub.add_parser("status", help="untranslated and fuzzy cells of every translated lesson")
    sub.add_parser("hints", help="refresh the checks' catalogue (exercise hints and the framework's words)")
    dc = sub.add_parser("docs", help="write README.zh-CN.md and docs/*.zh-CN.md from their catalogues")
    dc.add_argument("--update", action="store_true", help="refresh the documents' catalogues from the English first")
    bu = sub.add_parser("build", help="write the Chinese notebooks of every translated lesson")
    bu.add_argument("--out", default=str(ROOT / "_build"), help="folder; the notebooks go to OUT/zh/")
    sub.add_parser("workspace", help="copy the Chinese lessons to workspace/zh/ (never overwriting a learner's copy)")
    sd = sub.add_parser("student", help="the classroom edition of the Chinese lessons (solutions removed)")
    sd.add_argument("--out", default=str(ROOT / "_build" / "student"), help="folder; the notebooks go to OUT/zh/")
    args = parser.parse_args(argv)
    if args.cmd == "update":
        for stem in args.stems:
            print(f"wrote {update(stem)}")
    elif args.cmd == "status":
        for name in DOCUMENTS:
            s = doc_status(name)
            print(f"{name}: untranslated {s['untranslated']}; fuzzy {s['fuzzy']}")
        for stem in translated_lessons():
            s = status(stem)
            total = len(english_cells(stem))
            print(f"{stem}: {total - len(s['untranslated']) - len(s['fuzzy'])}/{total} cells translated; "
                  f"untranslated {s['untranslated']}; fuzzy {s['fuzzy']}")  # fmt: skip
    elif args.cmd == "docs":
        for path in write_docs(update_catalogues=args.update):
            print(f"wrote {path.relative_to(ROOT)}")
        for name in DOCUMENTS:
            s = doc_status(name)
            print(f"{name}: untranslated {s['untranslated']}; fuzzy {s['fuzzy']}")
    elif args.cmd == "hints":
        print(f"wrote {update_exercises()}")
    elif args.cmd == "student":
        for path in student(args.out):
            print(f"wrote {path}")
    elif args.cmd == "workspace":
        written = workspace()
        print(f"{len(written)} Chinese lessons copied to workspace/zh/ (existing copies kept)")
    else:
        for stem in translated_lessons():
            print(f"wrote {build(stem, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
