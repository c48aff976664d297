"""Sphinx configuration of the course website (``make site``; the builder is ``course_lib/site.py``).

The site is rendered from the **executed** notebooks (nothing is re-executed) and builds offline: MathJax and mermaid
are vendored in ``docs/_vendor/`` (see its README), ipywidgets' JavaScript is not loaded (widgets show through the
static pictures the lessons put beneath them), and no theme asset comes from a CDN. The builder stages the pages in
``_build/site-src/`` and passes this folder as the configuration directory.
"""

import os

project = "Diffusion SR Course · 扩散模型超分辨率交互课程"
author = "Diffusion SR Course contributors"
copyright = "the Diffusion SR Course contributors (text CC BY 4.0, code MIT)"
release = os.environ.get("COURSE_SITE_VERSION", "")

extensions = ["myst_nb", "sphinxcontrib.mermaid"]
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints", "_jieba_dict.txt"]
# the Chinese half (course_lib/tools/site.py builds it into zh/): Chinese labels, and search indexed through jieba with
# the glossary's terms as its user dictionary
language = "zh_CN" if os.environ.get("COURSE_SITE_LANGUAGE") == "zh" else "en"
if language == "zh_CN":
    from sphinx.search import languages
    from sphinx.search.zh import SearchChinese

    class _SearchChinese(SearchChinese):
        """Sphinx 9.0.4's Chinese search stems Latin words with the English Snowball stemmer but writes
        ``window.Stemmer = ChineseStemmer`` into language_data.js, a class no script defines — the search page then
        stops with a ReferenceError. Naming the stemmer it ships (English) fixes the page; the index is unchanged."""

        language_name = "English"

    languages["zh"] = _SearchChinese
    html_search_language = "zh"
    html_search_options = {"dict": os.environ.get("COURSE_SITE_JIEBA_DICT", "")}

# the notebooks are rendered as executed and committed: never run them here
nb_execution_mode = "off"
# widgets: no require.js / widget manager from a CDN; the lessons' static views stand in for them
nb_ipywidgets_js = {}
# Markdown outputs (tables, lesson 00's mermaid lineage) are parsed as MyST, so a ```mermaid fence becomes a diagram
nb_render_markdown_format = "myst"
myst_fence_as_directive = ["mermaid"]
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
# lessons start with "# NN — title"; sub-headings stay in the page
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type"]

# MathJax and mermaid from the vendored copies (paths relative to _static/)
html_static_path = ["../_vendor", "_static"]
mathjax_path = "mathjax/tex-svg-full.js"
mathjax3_config = {"tex": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]]},
                   "options": {"enableMenu": False}, "loader": {"load": []}}
# sphinxcontrib-mermaid imports an ES module; the shim exports window.mermaid, set by the single-file build that
# setup() below adds as a classic script to the pages that have a diagram
mermaid_use_local = "mermaid-shim.mjs"
mermaid_version = ""
mermaid_fullscreen = False  # its button is an icon glyph that few fonts have

html_theme = "sphinx_book_theme"
html_title = "扩散模型超分辨率交互课程" if language == "zh_CN" else "Diffusion SR Course"
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "home_page_in_toc": True,
}
html_css_files = ["course.css"]
# a fixed first theme (the theme otherwise logs "invalid theme mode" on a reader's first visit)
html_context = {"default_mode": "light"}
html_show_sourcelink = False
html_last_updated_fmt = None


def _add_mermaid_script(app, pagename, templatename, context, doctree):
    from sphinxcontrib.mermaid import mermaid

    # (sphinxcontrib-mermaid adds its module to pages without a doctree too: the index and the search page)
    if doctree is None or doctree.next_node(mermaid) is not None:
        app.add_js_file("mermaid.min.js", priority=100)


def setup(app):
    # before sphinxcontrib-mermaid's own handler, so the classic script precedes its module
    app.connect("html-page-context", _add_mermaid_script, priority=400)
