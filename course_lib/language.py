"""The learner's language · 语言 (core, ground layer): English, or Chinese for the 中文 edition.

The Chinese edition is built from the English lessons (``course_lib.tools.edition``): the same code cells, the Markdown
from gettext catalogues, ``locale/zh/LC_MESSAGES/*.po`` — the format of the Python documentation's translations
(sphinx-intl): each entry's ``msgid`` is the English text it translates, so a changed English cell no longer finds
its translation and a test names it. This module reads those catalogues (a small reader of the format, no
dependency; ``tests/test_edition.py`` checks it against Babel's) and says which language a running lesson speaks:

* ``COURSE_LANGUAGE`` (``en`` or ``zh``) when set, else
* ``zh`` when the kernel runs in a folder named ``zh`` — where the Chinese lessons are built (``workspace/zh/``,
  ``_build/zh/``) — so the code cells, identical in both editions, need no switch of their own.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["LANGUAGES", "language", "read_po", "write_po", "po_escape", "translation"]

LANGUAGES = ("en", "zh")


def language() -> str:
    """``"en"`` or ``"zh"``: ``COURSE_LANGUAGE`` if set, else ``"zh"`` in a folder named ``zh`` or in its
    ``appendix/`` (where the Chinese edition puts the appendices)."""
    chosen = os.environ.get("COURSE_LANGUAGE", "").strip().lower()
    if chosen:
        if chosen not in LANGUAGES:
            raise ValueError(f"COURSE_LANGUAGE: expected one of {LANGUAGES}, got {chosen!r}")
        return chosen
    here = Path.cwd()
    return "zh" if here.name == "zh" or (here.name == "appendix" and here.parent.name == "zh") else "en"


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t"}
_UNESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t"}


def po_escape(text: str) -> str:
    """A string as it stands between the quotes of a .po line: backslash, quote, newline and tab escaped."""
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def _unescape(quoted: str) -> str:
    return re.sub(r"\\(.)", lambda m: _UNESCAPES.get(m.group(1), "\\" + m.group(1)), quoted)


def _po_lines(key: str, text: str) -> list[str]:
    """``msgid "…"`` / ``msgstr "…"``: one quoted line per line of ``text`` (gettext's multi-line form)."""
    parts = text.splitlines(keepends=True)
    if len(parts) <= 1:
        return [f'{key} "{po_escape(text)}"']
    return [f'{key} ""'] + [f'"{po_escape(p)}"' for p in parts]


def write_po(path: str | os.PathLike, entries: list[dict], header: str = "") -> Path:
    """Write a catalogue: ``entries`` of ``{"msgid", "msgstr", "comments": [...], "flags": [...]}`` (a flag such as
    ``fuzzy`` marks a translation to check). ``header``: the catalogue's metadata (``Language: zh``, …)."""
    path = Path(path)
    lines = ['msgid ""', 'msgstr ""'] + [f'"{po_escape(h)}\\n"' for h in header.splitlines()] + [""]
    for e in entries:
        lines += [f"#. {c}" for c in e.get("comments", [])]
        if e.get("flags"):
            lines.append("#, " + ", ".join(e["flags"]))
        lines += _po_lines("msgid", e["msgid"]) + _po_lines("msgstr", e.get("msgstr", "")) + [""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def translation(catalogue: dict[str, dict], text: str) -> str | None:
    """The checked translation of ``text`` in a catalogue read by :func:`read_po`: its ``msgstr`` when there is one
    and it is not marked ``fuzzy``, else ``None`` (the English stands)."""
    entry = catalogue.get(text)
    return entry["msgstr"] if entry and entry["msgstr"].strip() and "fuzzy" not in entry["flags"] else None


def read_po(path: str | os.PathLike, missing_ok: bool = False) -> dict[str, dict]:
    """A catalogue as ``{msgid: {"msgstr", "flags", "comments"}}`` (the header entry left out; ``{}`` for a file
    that does not exist when ``missing_ok``). Raises ``ValueError`` naming the file and line of anything it cannot
    read."""
    path = Path(path)
    if missing_ok and not path.is_file():
        return {}
    entries: dict[str, dict] = {}
    current: dict = {"flags": [], "comments": []}
    field = None

    def finish():
        if "msgid" in current and current["msgid"] != "":
            entries[current["msgid"]] = {k: current.get(k, "") for k in ("msgstr", "flags", "comments")}

    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#,"):
            if "msgstr" in current:
                finish()
                current, field = {"flags": [], "comments": []}, None
            current["flags"] += [f.strip() for f in line[2:].split(",") if f.strip()]
        elif line.startswith("#"):
            if "msgstr" in current:
                finish()
                current, field = {"flags": [], "comments": []}, None
            if line.startswith("#."):
                current["comments"].append(line[2:].strip())
        elif line.startswith(("msgid ", "msgstr ")):
            key, _, rest = line.partition(" ")
            if key == "msgid" and "msgstr" in current:
                finish()
                current = {"flags": [], "comments": []}
            if not (rest.startswith('"') and rest.endswith('"')):
                raise ValueError(f"{path}:{n}: expected {key} \"…\", got {raw!r}")
            current[key], field = _unescape(rest[1:-1]), key
        elif line.startswith('"') and line.endswith('"') and field:
            current[field] += _unescape(line[1:-1])
        else:
            raise ValueError(f"{path}:{n}: not a line of a .po catalogue: {raw!r}")
    finish()
    return entries
