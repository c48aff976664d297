"""The course website (``make site``, ``course_lib/tools/site.py``): how it is staged, and the built site in a real
browser
with every non-loopback request blocked — so "offline" is tested, not assumed.

The browser part builds the site from the committed notebooks (about 15 s), serves it on 127.0.0.1 and opens every
page in headless Chromium: no console error, no blocked request, no broken internal link or image; math typeset by
the vendored MathJax; lesson 00's lineage drawn as an SVG by the vendored mermaid; a lesson's figure visible; a Chinese
term drawn with real glyphs (the machine needs a CJK font: ``.ci/run`` installs Debian's ``fonts-noto-cjk``); offline
search finds a lesson. Screenshots go to ``test-artifacts/site/`` (or ``$COURSE_ARTIFACTS/site``). Skipped without
Chromium or playwright, unless ``COURSE_REQUIRE_BROWSER=1`` (``.ci/run``).
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path
from urllib.parse import quote, unquote, urljoin, urlparse

import nbformat
import pytest

from course_lib.tools import site
from course_lib.tools.devtools import NOTEBOOKS, lesson_paths, notebook_paths

from test_browser import CHROMIUM_FLAGS, REASON, _chromium

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(os.environ.get("COURSE_ARTIFACTS", ROOT / "test-artifacts")) / "site"


# ---------------------------------------------------------------- staging (no browser)


def test_repository_url_is_configured_once_and_checked(tmp_path):
    url = site.repository_url()
    assert url.startswith("https://github.com/") and not url.endswith("/")
    bad = tmp_path / "pyproject.toml"
    bad.write_text('[project.urls]\nRepository = "https://gitlab.com/a/b"\n', encoding="utf-8")
    with pytest.raises(
        ValueError, match=r"Repository: expected https://github.com/OWNER/NAME, got 'https://gitlab.com/a/b'"
    ):
        site.repository_url(bad)


def test_every_lesson_carries_the_colab_cell_for_the_configured_repository():
    """Colab opens the repository's own notebook, so the set-up cell must be in it — and name this repository."""
    want = site.colab_cell(site.repository_url())
    assert len(notebook_paths()) > len(lesson_paths())  # the appendices carry it too
    for ipynb in notebook_paths():
        nb = nbformat.read(ipynb, as_version=4)
        first_code = next(c for c in nb.cells if c.cell_type == "code")
        assert first_code.source == want, f"{ipynb.name}: its first code cell is not site.colab_cell(repository_url())"
        assert not first_code.outputs  # it does nothing off Colab
    # and it really does nothing here: no clone, no chdir
    cwd = os.getcwd()
    exec(compile(want, "colab_cell", "exec"), {})
    assert os.getcwd() == cwd


def test_launch_links_point_at_the_lesson_in_the_repository():
    links = site.launch_links("04_conditioning_sr3.ipynb", "https://github.com/o/r")
    assert (
        links["colab"] == "https://colab.research.google.com/github/o/r/blob/main/notebooks/04_conditioning_sr3.ipynb"
    )
    assert links["binder"] == "https://mybinder.org/v2/gh/o/r/main?labpath=notebooks%2F04_conditioning_sr3.ipynb"


def test_links_of_repository_documents_are_rewritten_to_pages():
    text = (
        "[lesson](notebooks/02_reverse_process.ipynb) [g](docs/glossary.md#top) [d](data/README.md) "
        "[web](https://example.org/x) [here](#section) [code](course_lib/engine/train.py)"
    )
    out = site._rewrite_links(text, "README.md", "https://github.com/o/r")
    assert "[lesson](lessons/02_reverse_process.ipynb)" in out and "[g](glossary.md#top)" in out
    appendix = site._rewrite_links("[a](notebooks/appendix/06a_x.ipynb#top)", "README.md", "https://github.com/o/r")
    assert appendix == "[a](lessons/appendix/06a_x.ipynb#top)"
    assert "[d](data.md)" in out and "[web](https://example.org/x)" in out and "[here](#section)" in out
    assert "[code](https://github.com/o/r/blob/main/course_lib/engine/train.py)" in out
    # relative to the document's own folder
    assert "[r](readme.md)" in site._rewrite_links("[r](../README.md)", "docs/instructors.md", "https://github.com/o/r")
    # a Chinese document links to the Chinese pages, and to an English document in the repository (the way back)
    zh = site._rewrite_links("[E](README.md) [g](docs/glossary.zh-CN.md) [e](docs/errata.md)", "README.zh-CN.md", "R")
    assert zh == "[E](R/blob/main/README.md) [g](glossary.md) [e](errata.md)"
    assert site._rewrite_links("[中文](README.zh-CN.md)", "README.md", "R") == "[中文](R/blob/main/README.zh-CN.md)"


def test_staged_lessons_keep_outputs_drop_solutions_and_link_out(tmp_path):
    out = site.stage(tmp_path / "src")
    repo = site.repository_url()
    for ipynb in notebook_paths():
        rel = ipynb.relative_to(NOTEBOOKS).as_posix()
        original = nbformat.read(ipynb, as_version=4)
        staged = nbformat.read(out / "lessons" / rel, as_version=4)
        assert not any("solution" in c.metadata.get("tags", []) for c in staged.cells)
        n_solutions = sum("solution" in c.metadata.get("tags", []) for c in original.cells)
        assert len(staged.cells) == len(original.cells) - n_solutions + 1  # + the launch-links cell
        assert site.launch_links(rel, repo)["colab"] in staged.cells[1].source
        # outputs before the exercises are the committed ones, untouched (nothing is re-executed)
        first_out = next(c for c in original.cells if c.cell_type == "code" and c.outputs)
        assert any(c.cell_type == "code" and c.outputs == first_out.outputs for c in staged.cells)
        for c in staged.cells:  # measurements that answer a prediction stay, collapsed
            if "answer" in c.metadata.get("tags", []):
                assert c.outputs and "hide-output" in c.metadata["tags"]
    index = (out / "index.md").read_text(encoding="utf-8")
    assert all(f"lessons/{p.relative_to(NOTEBOOKS).as_posix()}" in index for p in notebook_paths())
    # a planned lesson (in the syllabus, not yet in notebooks/) is listed without a link, and only then
    landed = {p.relative_to(NOTEBOOKS).with_suffix("").as_posix() for p in notebook_paths()}
    planned = [rel for *_, rel in site.syllabus_entries() if rel not in landed]
    assert all(f"lessons/{rel}.ipynb" not in index for rel in planned)
    assert ("(coming)" in index) == bool(planned)


def test_the_chinese_half_stages_the_same_code_with_chinese_text_and_documents(tmp_path):
    en, zh = site.stage(tmp_path / "en"), site.stage(tmp_path / "zh", "zh")
    for ipynb in notebook_paths():
        rel = ipynb.relative_to(NOTEBOOKS)
        a, b = (nbformat.read(root / "lessons" / rel, as_version=4) for root in (en, zh))
        assert [c.source for c in a.cells if c.cell_type == "code"] == [
            c.source for c in b.cells if c.cell_type == "code"
        ]
        assert [c.get("outputs") for c in a.cells] == [c.get("outputs") for c in b.cells], rel
        assert "在 Colab 中打开" in b.cells[1].source  # the launch links open the English notebook: said in Chinese
        assert site.launch_links(rel.as_posix(), site.repository_url())["colab"] in b.cells[1].source
    index = (zh / "index.md").read_text(encoding="utf-8")
    assert "lessons/01_forward_process.ipynb" in index and "前向扩散" in index
    assert "学习目标" not in (en / "lessons" / "00_super_resolution.ipynb").read_text(encoding="utf-8")
    # the documents with a Chinese twin come from it; the others stay English
    assert (zh / "readme.md").read_text(encoding="utf-8").startswith("# README：")
    assert "| 中文 | English |" in (zh / "glossary.md").read_text(encoding="utf-8")
    assert (zh / "errata.md").read_text(encoding="utf-8") == (en / "errata.md").read_text(encoding="utf-8")


def test_the_search_dictionary_makes_each_glossary_term_one_word(tmp_path):
    import jieba

    words = site.jieba_dictionary(tmp_path / "dict.txt").read_text(encoding="utf-8").split("\n")
    terms = {line.split(" ")[0] for line in words if line}
    assert {"前向扩散过程", "前向扩散", "噪声预测", "时间步嵌入"} <= terms
    plain = jieba.Tokenizer()
    assert "前向扩散" not in plain.lcut_for_search("学习前向扩散过程")  # without the dictionary: two words
    tuned = jieba.Tokenizer()
    tuned.load_userdict(str(tmp_path / "dict.txt"))
    assert "前向扩散" in tuned.lcut("学习前向扩散的公式") and "前向扩散过程" in tuned.lcut_for_search(
        "学习前向扩散过程"
    )


def test_the_language_switch_goes_to_the_same_page_or_the_other_front_page(tmp_path):
    for rel in ["index.html", "lessons/01_x.html", "only_en.html", "zh/index.html", "zh/lessons/01_x.html"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text('<html><body class="x"><p>page</p></body></html>', encoding="utf-8")
    assert site.add_language_switch(tmp_path) == 5
    assert site.add_language_switch(tmp_path) == 0  # once only
    page = (tmp_path / "lessons/01_x.html").read_text(encoding="utf-8")
    assert '<body class="x"><a class="course-lang-switch" href="../zh/lessons/01_x.html" hreflang="zh"' in page
    assert 'href="../../lessons/01_x.html" hreflang="en"' in (tmp_path / "zh/lessons/01_x.html").read_text("utf-8")
    assert 'href="zh/index.html"' in (tmp_path / "only_en.html").read_text(encoding="utf-8")


# ---------------------------------------------------------------- the built site in a browser


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    out = site.build(tmp_path_factory.mktemp("site") / "html")
    handler = functools.partial(_Quiet, directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield out, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


CJK_GLYPHS = """(sel) => {
  // Two different Chinese characters drawn in the element's font: real glyphs differ, missing-glyph boxes do not.
  const el = document.querySelector(sel);
  const font = getComputedStyle(el).fontFamily;
  const draw = (ch) => { const c = document.createElement('canvas'); c.width = 64; c.height = 64;
    const g = c.getContext('2d'); g.font = `48px ${font}`; g.fillText(ch, 4, 52);
    return Array.from(g.getImageData(0, 0, 64, 64).data); };
  const a = draw('中'), b = draw('文');
  let diff = 0; for (let i = 3; i < a.length; i += 4) diff += Math.abs(a[i] - b[i]) > 64;
  return {font, diff, ink: a.filter((v, i) => i % 4 === 3 && v > 64).length};
}"""


@pytest.mark.skipif(REASON is not None, reason=REASON or "")
def test_every_page_works_offline_in_a_browser(served):
    from playwright.sync_api import sync_playwright

    out, base = served
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pages = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.html") if "_static" not in p.parts)
    assert {"index.html", "glossary.html", "instructors.html", "readme.html", "search.html"} <= set(pages)
    assert all(f"lessons/{p.relative_to(NOTEBOOKS).with_suffix('.html').as_posix()}" in pages for p in notebook_paths())
    assert all(
        f"zh/lessons/{p.relative_to(NOTEBOOKS).with_suffix('.html').as_posix()}" in pages for p in notebook_paths()
    )
    assert {"zh/index.html", "zh/glossary.html", "zh/instructors.html", "zh/readme.html", "zh/search.html"} <= set(
        pages
    )
    blocked, problems = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), args=CHROMIUM_FLAGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})

        def route(r):
            host = urlparse(r.request.url).hostname
            if host in ("127.0.0.1", "localhost") or r.request.url.startswith(("data:", "blob:")):
                r.continue_()
            else:
                blocked.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
        for name in pages:
            errors.clear()
            page.goto(base + name, wait_until="load")
            switch = page.locator("a.course-lang-switch")
            if switch.count() != 1 or not switch.is_visible():
                problems.append(f"{name}: no visible language switch")
            if name.startswith(("lessons/", "zh/lessons/")) or name in ("index.html", "zh/index.html"):
                page.wait_for_function(
                    "() => !window.MathJax || (MathJax.startup && MathJax.startup.promise)", timeout=20_000
                )
                page.evaluate("() => window.MathJax && MathJax.startup.promise")
            # internal links resolve to files of the site; images load
            hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
            for href in hrefs:
                url = urljoin(base + name, href)
                if urlparse(url).hostname != "127.0.0.1" or href.startswith(("mailto:", "javascript:")):
                    continue
                target = out / unquote(urlparse(url).path).lstrip("/")
                if target.is_dir():
                    target = target / "index.html"
                if not target.exists():
                    problems.append(f"{name}: broken link {href}")
            broken = page.eval_on_selector_all(
                "img", "els => els.filter(e => !(e.complete && e.naturalWidth > 0)).map(e => e.getAttribute('src'))"
            )
            problems += [f"{name}: image not loaded {src}" for src in broken]
            problems += [f"{name}: {e}" for e in errors]
        # math typeset as SVG by the vendored MathJax, on a lesson full of it
        page.goto(base + "lessons/01_forward_process.html", wait_until="load")
        page.evaluate("() => MathJax.startup.promise")
        n_math = page.locator("mjx-container svg").count()
        assert n_math > 20, f"MathJax rendered {n_math} formulas on lesson 01"
        page.screenshot(path=str(ARTIFACTS / "lesson01_math.png"))
        # lesson 00: the lineage as a mermaid SVG, a figure visible, a Chinese term drawn with real glyphs
        page.goto(base + "lessons/00_super_resolution.html", wait_until="load")
        page.wait_for_selector(".mermaid svg", timeout=30_000)
        box = page.locator(".mermaid svg").first.bounding_box()
        assert box and box["width"] > 200 and box["height"] > 100, box
        page.locator(".mermaid svg").first.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "lesson00_mermaid.png"))
        figure = page.locator(".cell_output img").first
        figure.scroll_into_view_if_needed()
        assert figure.is_visible() and figure.evaluate("e => e.naturalWidth") > 100
        glyphs = page.evaluate(CJK_GLYPHS, "h1")
        assert glyphs["ink"] > 50 and glyphs["diff"] > 50, (
            f"Chinese drawn as boxes (font {glyphs['font']}): install a CJK font, e.g. Debian's fonts-noto-cjk"
        )
        page.evaluate("() => window.scrollTo(0, 0)")
        page.screenshot(path=str(ARTIFACTS / "lesson00_top.png"))
        # offline search finds a lesson
        page.goto(base + "search.html?q=Tweedie", wait_until="load")
        page.wait_for_selector("#search-results li", timeout=20_000)
        found = page.eval_on_selector_all("#search-results li a", "els => els.map(e => e.getAttribute('href'))")
        assert any("06_faster_sampling" in h for h in found), found
        page.screenshot(path=str(ARTIFACTS / "search.png"))
        # the Chinese half: lesson 01 in Chinese with its math; the switch goes to the same lesson and back
        page.goto(base + "lessons/01_forward_process.html", wait_until="load")
        page.click("a.course-lang-switch")
        page.wait_for_load_state("load")
        assert page.url == base + "zh/lessons/01_forward_process.html", page.url
        assert page.get_attribute("html", "lang") == "zh-CN"
        assert "前向扩散" in page.locator("h1").first.inner_text()
        page.evaluate("() => MathJax.startup.promise")
        assert page.locator("mjx-container svg").count() > 20
        glyphs = page.evaluate(CJK_GLYPHS, "h1")
        assert glyphs["ink"] > 50 and glyphs["diff"] > 50, glyphs
        page.screenshot(path=str(ARTIFACTS / "zh_lesson01.png"))
        page.click("a.course-lang-switch")
        page.wait_for_load_state("load")
        assert page.url == base + "lessons/01_forward_process.html", page.url
        # offline Chinese search: 前向扩散 is one word of the index (jieba with the glossary) and finds lesson 01
        page.goto(base + "zh/search.html?q=" + quote("前向扩散"), wait_until="load")
        page.wait_for_selector("#search-results li", timeout=20_000)
        found = page.eval_on_selector_all("#search-results li a", "els => els.map(e => e.getAttribute('href'))")
        assert any("01_forward_process" in h for h in found), found
        page.screenshot(path=str(ARTIFACTS / "zh_search.png"))
        browser.close()
    assert not blocked, f"requests that left the machine: {blocked[:5]}"
    assert not problems, "\n".join(problems[:20])


def test_vendored_scripts_match_their_recorded_hashes():
    import hashlib
    import re

    table = (ROOT / "docs" / "_vendor" / "README.md").read_text(encoding="utf-8")
    recorded = dict(re.findall(r"^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|$", table, re.M))
    assert set(recorded) == {"mermaid.min.js", "mathjax/tex-svg-full.js"}
    for name, digest in recorded.items():
        assert hashlib.sha256((ROOT / "docs" / "_vendor" / name).read_bytes()).hexdigest() == digest, name
