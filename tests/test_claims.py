"""data/claims.json, lesson 13's claims ledger: every number of the notes' §4 table (and the "10×") traced to a paper
that history.py knows, to a place in it, and beside a value that equals the course's caches."""

import re
from pathlib import Path

import pytest

from course_lib.experiments.field import claim_value, load_claims
from course_lib.teaching.history import PAPERS

NOTES = Path(__file__).resolve().parent.parent.parent / "shared" / "reference" / "source-notes.md"
#: the notes' §4 table: model → (parameters, steps, FID) as printed
SECTION_4 = {"SR3": ("256M", "1000", "18.7"), "LDM": ("134M", "200", "15.2"), "DiffIR": ("89M", "50", "12.3"),
             "DiffBIR": ("210M", "25", "9.8")}  # fmt: skip


@pytest.fixture(scope="module")
def ledger():
    return load_claims()


def test_every_number_of_the_notes_table_has_an_entry(ledger):
    by_id = {c["id"]: c for c in ledger["claims"]}
    assert len(by_id) == len(ledger["claims"]), "an id used twice"
    for model, values in SECTION_4.items():
        for kind, value in zip(("params", "steps", "fid"), values):
            entry = by_id[f"{model.lower()}-{kind}"]
            assert entry["notes_value"] == value and model in entry["notes"]
    assert by_id["ldm-10x"]["notes_value"] == "10×"


@pytest.mark.skipif(not NOTES.is_file(), reason="the source notes live beside the repository (../shared/reference)")
def test_the_ledger_quotes_the_notes_as_they_are():
    text = NOTES.read_text(encoding="utf-8")
    for model, (params, steps, fid) in SECTION_4.items():
        assert re.search(rf"\|\s*{model}\s*\|\s*{params}\s*\|\s*{steps}\s*\|\s*{re.escape(fid)}\s*\|", text), model
    assert "计算量减少10倍" in text


def test_every_entry_names_a_known_paper_a_place_in_it_and_whose_row(ledger):
    keys = {p.key for p in PAPERS}
    for c in ledger["claims"]:
        assert c["paper"] in keys, f"{c['id']}: {c['paper']!r} is not in history.py"
        where = c["where"]
        assert where and any(where.get(k) for k in ("table", "section", "page")), c["id"]
        if "page" in where:
            assert isinstance(where["page"], int) and where["page"] > 0
        assert c["whose"] in ("method", "baseline", "unknown")
        assert c["source"].startswith("https://") and c["version"]
        for key in ("reported", "dataset", "degradation", "metric", "verdict"):
            assert isinstance(c[key], str) and c[key], (c["id"], key)
    # the one baseline row the notes mistook for the method's
    by_id = {c["id"]: c for c in ledger["claims"]}
    assert by_id["ldm-fid"]["whose"] == "baseline" and "Image Regression" in by_id["ldm-fid"]["reported"]
    assert "Table 5" in by_id["ldm-fid"]["where"]["table"] and by_id["ldm-fid"]["where"]["page"] == 8


def test_every_ours_value_equals_the_cache_it_names(ledger):
    for c in ledger["claims"]:
        assert "value" in c["ours"], f"{c['id']}: run python -m course_lib.experiments.field --claims"
        assert c["ours"]["value"] == claim_value(c["ours"]), (
            f"{c['id']}: the ledger says {c['ours']['value']}, {c['ours']['cache']} now says "
            f"{claim_value(c['ours'])} — run python -m course_lib.experiments.field --claims"
        )


def test_a_stale_value_would_be_caught(ledger):
    claim = dict(ledger["claims"][0])
    stale = {**claim["ours"], "value": claim["ours"]["value"] + 1}
    assert stale["value"] != claim_value(stale)
    with pytest.raises(KeyError, match="no single digits_x4 row"):
        claim_value({**claim["ours"], "row": "a method the course never built"})
