"""docs/glossary.md is the course's one list of English ↔ 中文 terms: every Chinese term a lesson gives in brackets
beside an idea is in it (a few phrases quoted from the notes' tables are not terms), and the table is well formed."""

import re
from pathlib import Path

import pytest

from test_equations import LANDED, markdown_of

ROOT = Path(__file__).resolve().parent.parent
GLOSSARY = (ROOT / "docs" / "glossary.md").read_text(encoding="utf-8")
CJK = re.compile(r"[\u4e00-\u9fff]")
#: bracketed Chinese in the lessons that is not a term: the notes' title and the column headings of the notes'
#: comparison table that lesson 05 quotes
NOT_TERMS = {
    "扩散模型超分辨率学习笔记",
    "特征提取",
    "生成逻辑",
    "时间控制",
    "核心机制",
    "训练目标",
    "生成方式",
    "优势场景",
}


def bracketed_terms(text: str) -> set[str]:
    """Chinese terms given in brackets, "(中文)" or "（中文）", split at ; , / — the way lessons introduce them."""
    out = set()
    for m in re.finditer(r"[（(]([^()（）]*)[)）]", " ".join(text.split())):
        for part in re.split(r"[;；,，/]", m.group(1)):
            part = part.strip()
            if CJK.search(part) and len(part) < 20:
                out.add(part)
    return out


def glossary_rows() -> list[list[str]]:
    rows = [line for line in GLOSSARY.splitlines() if line.startswith("| ") and not line.startswith("| English")]
    return [[c.strip() for c in re.split(r"(?<!\\)\|", r)[1:-1]] for r in rows]


def test_the_table_is_well_formed():
    rows = glossary_rows()
    assert len(rows) > 60
    assert all(len(r) == 3 for r in rows), [r for r in rows if len(r) != 3]
    assert all(r[0] and CJK.search(r[1]) for r in rows)  # an English name and a Chinese term on every row
    english = [r[0] for r in rows]
    assert len(english) == len(set(english)), "an English term listed twice"


@pytest.mark.parametrize("nn", sorted(LANDED))
def test_every_term_a_lesson_introduces_is_in_the_glossary(nn):
    missing = sorted(t for t in bracketed_terms(markdown_of(LANDED[nn])) - NOT_TERMS if t not in GLOSSARY)
    assert not missing, f"lesson {nn} introduces Chinese terms that docs/glossary.md lacks: {missing}"


def test_the_parser_finds_terms():
    assert bracketed_terms(
        "a **prior** (先验) and the\nMarkov chain （马尔可夫链）; (plain) (噪声预测 / 速度参数化)"
    ) == {"先验", "马尔可夫链", "噪声预测", "速度参数化"}
    assert "先验" in bracketed_terms(markdown_of(LANDED["00"]))
