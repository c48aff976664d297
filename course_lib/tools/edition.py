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
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from ..language import read_po, write_po
from .devtools import NOTEBOOKS, ROOT, lesson_paths, student_notebook

__all__ = [
    "LOCALE",
    "catalogue_path",
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
]

LOCALE = ROOT / "locale" / "zh" / "LC_MESSAGES"
HEADER = "\n".join(
    ("Project-Id-Version: diffusion-sr-course", "Language: zh_CN", "MIME-Version: 1.0",
     "Content-Type: text/plain; charset=UTF-8")
)  # fmt: skip


def catalogue_path(stem: str) -> Path:
    """``locale/zh/LC_MESSAGES/STEM.po``."""
    return LOCALE / f"{stem}.po"


def _notebook(stem: str) -> nbformat.NotebookNode:
    path = NOTEBOOKS / f"{stem}.ipynb"
    if not path.is_file():
        raise FileNotFoundError(f"stem: no executed English lesson {path} (run make notebooks first)")
    return nbformat.read(path, as_version=4)


def english_cells(stem: str) -> list[str]:
    """The English lesson's Markdown cells, in order (the texts the catalogue translates)."""
    return [c.source for c in _notebook(stem).cells if c.cell_type == "markdown"]


def translated_lessons() -> list[str]:
    """Stems of the lessons that have a catalogue (the Chinese edition so far)."""
    stems = {p.stem for p in lesson_paths()}
    return sorted(p.stem for p in LOCALE.glob("*.po") if p.stem in stems)


def update(stem: str) -> Path:
    """Rewrite the lesson's catalogue from its English cells: a translation whose English text is unchanged stays; a
    cell whose English changed keeps the translation of the cell that stood at its place, marked ``fuzzy``; a new
    cell gets an empty translation."""
    path = catalogue_path(stem)
    old = read_po(path) if path.is_file() else {}
    by_place = {e["comments"][0]: (msgid, e) for msgid, e in old.items() if e["comments"]}
    entries, seen = [], set()
    for k, text in enumerate(english_cells(stem)):
        if text in seen:
            continue
        seen.add(text)
        place = f"cell {k}"
        if text in old:
            e = old[text]
            entries.append({"msgid": text, "msgstr": e["msgstr"], "flags": e["flags"], "comments": [place]})
        elif place in by_place and by_place[place][1]["msgstr"]:
            entries.append({"msgid": text, "msgstr": by_place[place][1]["msgstr"], "flags": ["fuzzy"],
                            "comments": [place]})  # fmt: skip
        else:
            entries.append({"msgid": text, "msgstr": "", "comments": [place]})
    return write_po(path, entries, HEADER)


def status(stem: str) -> dict[str, list[int]]:
    """``{"untranslated": [...], "fuzzy": [...]}``: the Markdown cells (numbered among the Markdown cells) with no
    translation of their current English text, and those whose translation is marked fuzzy."""
    catalogue = read_po(catalogue_path(stem)) if catalogue_path(stem).is_file() else {}
    out: dict[str, list[int]] = {"untranslated": [], "fuzzy": []}
    for k, text in enumerate(english_cells(stem)):
        entry = catalogue.get(text)
        if entry is None or not entry["msgstr"].strip():
            out["untranslated"].append(k)
        elif "fuzzy" in entry["flags"]:
            out["fuzzy"].append(k)
    return out


def build(stem: str, out: str | Path) -> Path:
    """Write ``OUT/zh/STEM.ipynb``: the English executed notebook with each Markdown cell translated (English where
    no checked translation exists), its code cells and outputs unchanged, marked ``metadata.course.language = zh``."""
    nb = _notebook(stem)
    catalogue = read_po(catalogue_path(stem)) if catalogue_path(stem).is_file() else {}
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            entry = catalogue.get(cell.source)
            if entry and entry["msgstr"].strip() and "fuzzy" not in entry["flags"]:
                cell.source = entry["msgstr"]
    nb.metadata.setdefault("course", {})["language"] = "zh"
    target = Path(out) / "zh" / f"{stem}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return target


EXERCISES_CATALOGUE = ROOT / "course_lib" / "teaching" / "locale" / "zh" / "LC_MESSAGES" / "exercises.po"


def exercise_texts() -> list[str]:
    """Every text a check shows a learner that is fixed in the code: the framework's words
    (:data:`course_lib.teaching.exercises.FRAMEWORK_TEXTS`) and each hint written as a string constant in
    ``Mismatch("…")`` of the lessons' exercise modules (read from their source, in order)."""
    import ast

    folder = ROOT / "course_lib" / "teaching" / "exercises"  # read as text: the tools layer imports no teaching code
    framework = ast.parse((folder / "__init__.py").read_text(encoding="utf-8"))
    texts = next(
        list(ast.literal_eval(node.value))
        for node in framework.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "FRAMEWORK_TEXTS"
    )
    for path in sorted(folder.glob("lesson*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "Mismatch"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
                and node.args[0].value not in texts
            ):
                texts.append(node.args[0].value)
    return texts


def update_exercises() -> Path:
    """Rewrite the checks' catalogue (``course_lib/teaching/locale/zh/LC_MESSAGES/exercises.po``) from
    :func:`exercise_texts`, keeping every translation whose English is unchanged."""
    old = read_po(EXERCISES_CATALOGUE) if EXERCISES_CATALOGUE.is_file() else {}
    entries = []
    for text in exercise_texts():
        e = old.get(text, {"msgstr": "", "flags": []})
        entries.append({"msgid": text, "msgstr": e["msgstr"], "flags": e["flags"]})
    return write_po(EXERCISES_CATALOGUE, entries, HEADER)


def hint_problems() -> dict[str, list[str]]:
    """The checks' catalogue against the code: ``missing`` (a fixed hint with no entry), ``stale`` (an entry whose
    English no check shows any more) and ``untranslated`` (an entry without Chinese)."""
    import re

    catalogue = read_po(EXERCISES_CATALOGUE) if EXERCISES_CATALOGUE.is_file() else {}
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


def workspace(root: str | Path = ROOT / "workspace") -> list[Path]:
    """Copy every translated lesson into ``ROOT/zh/`` (``make lab EDITION=zh``) — built afresh, but a learner's copy
    that is already there is never overwritten (as ``make workspace`` does for the English lessons)."""
    import tempfile

    written = []
    with tempfile.TemporaryDirectory() as tmp:
        for stem in translated_lessons():
            fresh = build(stem, tmp)
            target = Path(root) / "zh" / fresh.name
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
        for stem in translated_lessons():
            s = status(stem)
            total = len(english_cells(stem))
            print(f"{stem}: {total - len(s['untranslated']) - len(s['fuzzy'])}/{total} cells translated; "
                  f"untranslated {s['untranslated']}; fuzzy {s['fuzzy']}")  # fmt: skip
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
