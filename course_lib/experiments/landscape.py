"""The landscape table · 全景表 (workflow layer): every method's row of the one evaluation harness, in order.

Each lesson's experiment module owns its rows (``ROWS``: lessons 04–05 in :mod:`.evaluate`, 06 in :mod:`.race`,
07 in :mod:`.cascade` and :mod:`.latents`, 08 in :mod:`.zeroshot` and :mod:`.blind`, 09 in :mod:`.residual`, 10 in
:mod:`.backbones`, 11 in :mod:`.flow`, 13 in :mod:`.era`); this
module registers them with the harness (:func:`course_lib.engine.harness.register_entry`, the mechanics: the same test
images, per-image seeds and measures for every row) in the table's order, and runs it:

    python -m course_lib.harness [--only LABEL …] [--table]      (the README's name; it runs this module)

which writes ``data/cache/landscape.json``. A new lesson adds its module's ``ROWS`` to :data:`LESSON_ROWS`.
"""

from __future__ import annotations

from ..engine import harness
from ..engine.harness import Entry, register_entry
from . import backbones, blind, cascade, era, evaluate, flow, latents, race, residual, zeroshot

__all__ = ["LESSON_ROWS", "ENTRIES", "main"]

#: (lesson, its rows), in the table's order
LESSON_ROWS: tuple[tuple[str, tuple[Entry, ...]], ...] = (
    ("04–05", evaluate.ROWS),
    ("06", race.ROWS),
    ("08 zero-shot", zeroshot.ROWS),
    ("08 blind", blind.ROWS),
    ("09", residual.ROWS),
    ("07", cascade.ROWS + latents.ROWS),
    ("10", backbones.ROWS),
    ("11", flow.ROWS),
    ("13", era.ROWS),
)

#: every row of the table, registered with the harness once (this module is imported once)
ENTRIES: list[Entry] = [register_entry(e) for _, rows in LESSON_ROWS for e in rows]


def main(argv: list[str] | None = None) -> int:
    """``python -m course_lib.harness [--table] [--only LABEL …]``: compute the rows of :data:`ENTRIES` (or print the
    cached table) — :func:`course_lib.engine.harness.main` on the course's rows."""
    return harness.main(argv, ENTRIES)


if __name__ == "__main__":
    raise SystemExit(main())
