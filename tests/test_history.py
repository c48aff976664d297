import re

import pytest

from course_lib.teaching import history


def test_checked_venues():
    assert (history.paper("ddnm").venue, history.paper("ddnm").year) == ("ICLR", 2023)
    assert (history.paper("diffbir").venue, history.paper("diffbir").year) == ("ECCV", 2024)
    assert (history.paper("ddpm").venue, history.paper("ddpm").year) == ("NeurIPS", 2020)
    assert (history.paper("ldm").venue, history.paper("ldm").year) == ("CVPR", 2022)


def test_srdiff_preprint_predates_ldm_and_dit_uvit_ldm_is_not_chronological():
    assert history.paper("srdiff").preprint < history.paper("ldm").preprint
    assert history.paper("ldm").preprint < history.paper("uvit").preprint < history.paper("dit").preprint


def test_every_arrow_points_forward_in_time_and_names_known_papers():
    keys = {p.key for p in history.PAPERS}
    assert len(keys) == len(history.PAPERS)
    for a, b, rel in history.LINEAGE:
        assert a in keys and b in keys and rel
        assert history.paper(a).preprint <= history.paper(b).preprint, (a, b)


def test_preprint_format_and_publication_not_before_preprint():
    for p in history.PAPERS:
        assert re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", p.preprint), p.key
        assert p.year >= p.preprint_year, p.key


def test_generated_markdown_mentions_every_paper():
    graph, bib, corr = history.mermaid(), history.bibliography_markdown(), history.corrections_markdown()
    assert graph.startswith("graph LR")
    for p in history.PAPERS:
        assert f'{p.key}["{p.name}' in graph
        assert p.title in bib
    assert graph.count("-->") == len(history.LINEAGE)
    assert "DDNM: ICLR 2023" in corr and "CVPR 2023" in corr


def test_unknown_key():
    with pytest.raises(KeyError, match="no paper with key 'sr4'"):
        history.paper("sr4")
