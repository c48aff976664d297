"""The course as a website (workflow layer): ``python -m course_lib.site`` (``make site``) → ``_build/site/``.

Every lesson is rendered from its **executed** notebook — the committed outputs are the source, nothing is run — by
Sphinx with MyST-NB and the book theme (pinned in ``pyproject.toml``; ``docs/site/conf.py``). The build is offline
after install: MathJax and mermaid are vendored in ``docs/_vendor/``, the widgets' JavaScript is not loaded (each
widget's static view, the picture the lessons put beneath it, stands in), and no theme asset comes from a CDN.
``tests/test_site.py`` builds it and opens every page in Chromium with every non-loopback request blocked.

The builder stages the pages in ``_build/site-src/``:

* ``lessons/NN_*.ipynb`` and ``lessons/appendix/NNa_*.ipynb`` — the executed lessons and their appendices as the
  public page should show them: solution cells **out** (the
  student edition's rule, :func:`course_lib.tools.devtools.student_notebook`, keeping the measurements tagged ``answer``
  collapsed instead of cleared), and a first cell with the "Open in Colab" and "launch on Binder" links for readers
  online, built from the one repository URL in ``pyproject.toml`` (``[project.urls] Repository``);
* ``index.md`` (the front page: the two commands and the syllabus), README, the glossary, the instructor guide, the
  errata, adding-a-method and the data provenance, their links to lessons and to each other rewritten to the pages.

The Chinese half (``_build/site/zh/``, staged in ``_build/site-src-zh/``) is the same site built from the Chinese
edition (:mod:`course_lib.tools.edition`: the same executed code cells, the Markdown from the catalogues) with the
Chinese README, instructors' guide and glossary; Sphinx indexes it through jieba, with the glossary's Chinese terms as
its user dictionary (:func:`jieba_dictionary`). After both builds every page gets a language switch to the same page
in the other half (:func:`add_language_switch`); the English pages keep their URLs.
"""

from __future__ import annotations

import argparse
import posixpath
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

from . import edition
from .devtools import NOTEBOOKS, ROOT, lesson_paths, notebook_paths, student_notebook, syllabus_entries

__all__ = [
    "SITE",
    "STAGE",
    "STAGE_ZH",
    "repository_url",
    "launch_links",
    "colab_cell",
    "stage",
    "jieba_dictionary",
    "add_language_switch",
    "build",
    "main",
]

SITE = ROOT / "_build" / "site"
STAGE = ROOT / "_build" / "site-src"
STAGE_ZH = ROOT / "_build" / "site-src-zh"
CONF = ROOT / "docs" / "site"
#: (repository path, page in the site): the documents beside the lessons, in the sidebar's order
PAGES = (
    ("README.md", "readme.md"),
    ("docs/glossary.md", "glossary.md"),
    ("docs/instructors.md", "instructors.md"),
    ("docs/train-on-your-photos.md", "train-on-your-photos.md"),
    ("docs/adding-a-method.md", "adding-a-method.md"),
    ("data/README.md", "data.md"),
    ("docs/errata.md", "errata.md"),
    ("CHANGELOG.md", "changelog.md"),
)
#: the Chinese half: documents with a Chinese twin (edition.DOCUMENTS) are staged from the twin
PAGES_ZH = tuple((dict((en, zh) for en, zh in edition.DOCUMENTS.values()).get(src, src), dst) for src, dst in PAGES)
#: the reference pages in the sidebar, in order (both halves)
REFERENCE = "\n".join(Path(dst).stem for _, dst in PAGES)
WIDGET_NOTE = (
    "On this page the widgets are shown through their static views (the pictures beneath each widget); "
    "they come alive when you run the lesson in JupyterLab (`make lab`)."
)
WIDGET_NOTE_ZH = (
    "本页的交互控件只显示为静态图（每个控件下方的图片）；"
    "在 JupyterLab 中运行本课（`make lab EDITION=zh`）时它们才会动起来。"
)


def repository_url(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """The one configured repository URL (``[project.urls] Repository``), without a trailing slash."""
    url = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {}).get("urls", {}).get("Repository", "")
    m = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+?)/?", url)
    if not m:
        raise ValueError(
            f"pyproject.toml [project.urls] Repository: expected https://github.com/OWNER/NAME, got {url!r}"
        )
    return f"https://github.com/{m.group(1)}/{m.group(2)}"


def launch_links(notebook: str, repo: str, branch: str = "main") -> dict[str, str]:
    """Colab and Binder URLs of ``notebooks/<notebook>`` in ``repo`` (``https://github.com/OWNER/NAME``)."""
    owner_name = repo.removeprefix("https://github.com/")
    return {
        "colab": f"https://colab.research.google.com/github/{owner_name}/blob/{branch}/notebooks/{notebook}",
        "binder": f"https://mybinder.org/v2/gh/{owner_name}/{branch}?labpath=notebooks%2F{notebook}",
    }


def colab_cell(repo: str) -> str:
    """The source of every lesson's first code cell: on Colab it clones ``repo`` (so ``data/`` is there) and makes
    ``course_lib`` importable with Colab's own PyTorch; anywhere else it does nothing (``tests/test_site.py`` checks
    that each lesson carries exactly this text for the configured repository)."""
    name = repo.rsplit("/", 1)[1]
    return f"""\
# On Colab only: fetch the course (data/ comes with it) and make course_lib importable; elsewhere this does nothing.
import sys

if "google.colab" in sys.modules:
    import os
    import subprocess

    if not os.path.isdir("/content/{name}"):
        subprocess.run(["git", "clone", "--depth", "1", "{repo}", "/content/{name}"], check=True)
        # Colab's own torch, numpy, matplotlib and ipywidgets are used: install course_lib without the course's pins
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "-e", "/content/{name}"], check=True)
    sys.path.insert(0, "/content/{name}")
    os.chdir("/content/{name}/notebooks")"""


def _rewrite_links(text: str, source: str, repo: str) -> str:
    """Markdown links of a repository document, made to work in the site: lessons → their pages, the other staged
    documents → theirs, anything else in the repository → its page on the repository (readers online)."""
    chinese = source in dict(PAGES_ZH) and source not in dict(PAGES)
    pages = dict(PAGES_ZH if chinese else PAGES)  # a link to the other language's document goes to the repository
    base = posixpath.dirname(source)

    def fix(m: re.Match) -> str:
        label, target = m.group(1), m.group(2)
        if re.match(r"^[a-z]+:|^#", target):
            return m.group(0)
        path, _, anchor = target.partition("#")
        resolved = posixpath.normpath(posixpath.join(base, path))
        frag = f"#{anchor}" if anchor else ""
        if resolved.startswith("notebooks/") and resolved.endswith(".ipynb"):
            return f"[{label}](lessons/{resolved.removeprefix('notebooks/')}{frag})"
        if resolved in pages:
            return f"[{label}]({pages[resolved]}{frag})"
        return f"[{label}]({repo}/blob/main/{resolved}{frag})"

    return re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", fix, text)


def _lesson(ipynb: Path, repo: str, lang: str = "en"):
    import nbformat

    nb = nbformat.read(ipynb, as_version=4)
    answers = [c for c in nb.cells if "answer" in c.metadata.get("tags", [])]
    kept = {id(c): (c.outputs, c.execution_count) for c in answers}
    nb = student_notebook(nb)
    for c in nb.cells:  # a prediction's answer stays on the page, collapsed
        if id(c) in kept:
            c.outputs, c.execution_count = kept[id(c)]
            c.metadata.setdefault("tags", []).append("hide-output")
    for c in nb.cells:  # the Colab set-up cell is for Colab, not for the page
        if c.cell_type == "code" and c.source == colab_cell(repo):
            c.metadata.setdefault("tags", []).append("remove-cell")
    english = edition.english_path(ipynb.stem) if lang == "zh" else ipynb
    links = launch_links(english.relative_to(NOTEBOOKS).as_posix(), repo)
    if lang == "zh":
        head = nbformat.v4.new_markdown_cell(
            f":::{{container}} course-launch\n在线运行：[在 Colab 中打开]({links['colab']}) · [在 Binder 上启动]"
            f"({links['binder']})（在线打开的是英文版；中文版用 `make lab EDITION=zh` 在本机离线运行）。"
            f"{WIDGET_NOTE_ZH}练习的参考答案不在公开页面上：运行本课即可看到。\n:::"
        )
    else:
        head = nbformat.v4.new_markdown_cell(
            f":::{{container}} course-launch\nRun it online: [Open in Colab]({links['colab']}) · [launch on Binder]"
            f"({links['binder']}); or on your machine, offline. {WIDGET_NOTE} Solutions of the exercises are not on "
            f"the public pages: run the lesson to see them.\n:::"
        )
    nb.cells = [nb.cells[0], head] + nb.cells[1:]
    return nb


def _front_matter(readme: str, syllabus: list[tuple[str, str, str, str, str]], coming: str = ""):
    """What a front page takes from the course: the README's two commands, the syllabus as table rows (a planned
    lesson unlinked, ``coming`` after its title) and the lessons' toctree."""
    commands = re.search(r"```bash\n(.*?)```", (ROOT / readme).read_text(encoding="utf-8"), re.S).group(1)
    landed = {p.relative_to(NOTEBOOKS).with_suffix("").as_posix() for p in notebook_paths()}
    rows = []
    for stem, title, learn, prereq, rel in syllabus:
        number = stem[:3].rstrip("_")
        name = f"[{number} — {title}](lessons/{rel}.ipynb)" if rel in landed else f"{number} — {title}{coming}"
        rows.append(f"| {name} | {learn.replace('|', chr(92) + '|')} | {prereq} |")
    toc = "\n".join(f"lessons/{rel}" for *_, rel in syllabus if rel in landed)
    return commands, "\n".join(rows), toc


def _index(repo: str) -> str:
    commands, rows, toc = _front_matter("README.md", syllabus_entries())
    return f"""# Diffusion SR Course · 扩散模型超分辨率交互课程

An open, interactive course that builds **diffusion models for image super-resolution** from first principles, one
idea per notebook, with a small tested PyTorch library, `course_lib`. Every lesson runs top to bottom offline on a
laptop CPU in under a minute. These pages are the executed lessons; to run them:

```bash
git clone {repo}
cd {repo.rsplit('/', 1)[1]}
{commands.strip()}
```

{WIDGET_NOTE}

## Lessons · 课程

| lesson | what you learn | prerequisites |
|---|---|---|
{rows}

Start at 00. The last lesson, [13 — The field, measured](lessons/13_the_field_measured.ipynb), puts every method of the
course side by side on the same test digits and traces the notes' numbers to their papers.

Terms: the [glossary](glossary.md) (English ↔ 中文 ↔ symbol). For teachers: the [instructor guide](instructors.md).

```{{toctree}}
:hidden:
:caption: Lessons

{toc}
```

```{{toctree}}
:hidden:
:caption: Reference

{REFERENCE}
```
"""


def _index_zh(repo: str) -> str:
    commands, rows, toc = _front_matter(edition.DOCUMENTS["README"][1], edition.syllabus_zh(), "（即将推出）")
    return f"""# 扩散模型超分辨率交互课程

一门开放的交互式课程：从第一性原理出发，一课一个思想，搭建用于**图像超分辨率的扩散模型**，背后是一个经过测试的
小型 PyTorch 库 `course_lib`。每一课都能在笔记本电脑的 CPU 上离线从头运行到尾，用时不到一分钟。这些页面就是执行过的
课程（中文版：代码与输出和英文版逐字节相同）；要在本机运行：

```bash
git clone {repo}
cd {repo.rsplit('/', 1)[1]}
{commands.strip()}
```

{WIDGET_NOTE_ZH}

## 课程

| 课 | 学习内容 | 先修 |
|---|---|---|
{rows}

从第 00 课开始。最后一课 [13 — {edition.chinese_title("13_the_field_measured")}](lessons/13_the_field_measured.ipynb)
把课程中的每一种方法放在同一批测试数字上并排比较，并把笔记中的数字追溯到各自的论文。

术语见[术语表](glossary.md)（中文 ↔ English ↔ 符号）。教师请看[教师指南](instructors.md)。

```{{toctree}}
:hidden:
:caption: 课程

{toc}
```

```{{toctree}}
:hidden:
:caption: 参考

{REFERENCE}
```
"""


def jieba_dictionary(path: Path) -> Path:
    """Write jieba's user dictionary for the Chinese search: every Chinese term of ``docs/glossary.md`` (each
    alternative, with and without a parenthesis), and a term ending in 过程 also without it (learners search for
    前向扩散 as often as for 前向扩散过程) — one word per line, with a frequency that lets it win over its parts."""
    text = (ROOT / "docs" / "glossary.md").read_text(encoding="utf-8")
    words: list[str] = []
    for line in text.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) != 3:
            continue
        for word in re.findall(r"[\u4e00-\u9fff][\u4e00-\u9fffA-Za-z0-9\-]*[\u4e00-\u9fff]", cells[1]):
            words += [word] + ([word.removesuffix("过程")] if word.endswith("过程") and len(word) > 4 else [])
    unique = list(dict.fromkeys(words))
    path.write_text("".join(f"{w} 100000\n" for w in unique), encoding="utf-8")
    return path


def stage(out: Path = STAGE, lang: str = "en") -> Path:
    """Write the site's source pages to ``out`` (replacing it) and return it; ``lang="zh"``: the Chinese half, from
    the Chinese edition's lessons and documents."""
    import tempfile

    import nbformat

    repo = repository_url()
    if out.exists():
        shutil.rmtree(out)
    (out / "lessons" / "appendix").mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        for ipynb in notebook_paths():
            if lang == "zh":  # untranslated lessons are built too, in English (edition.build keeps the English)
                ipynb = edition.build(ipynb.stem, tmp)
            rel = edition.english_path(ipynb.stem).relative_to(NOTEBOOKS)
            nbformat.write(_lesson(ipynb, repo, lang), out / "lessons" / rel)
    for src, dst in PAGES_ZH if lang == "zh" else PAGES:
        text = (ROOT / src).read_text(encoding="utf-8")
        if src == "README.md":  # the front page has the course's title; this page is the README
            text = re.sub(r"\A# .*\n", "# README: install, commands, how the code is organised\n", text)
        elif src == edition.DOCUMENTS["README"][1]:
            text = re.sub(r"\A# .*\n", "# README：安装、命令与代码结构\n", text)
        (out / dst).write_text(_rewrite_links(text, src, repo), encoding="utf-8")
    (out / "index.md").write_text(_index_zh(repo) if lang == "zh" else _index(repo), encoding="utf-8")
    if lang == "zh":
        jieba_dictionary(out / "_jieba_dict.txt")
    return out


SWITCH = '<a class="course-lang-switch" href="{href}" hreflang="{lang}" lang="{lang}" title="{title}">{label}</a>'


def add_language_switch(site: Path) -> int:
    """Put a link to the same page in the other language right after ``<body>`` of every page of ``site`` (English)
    and ``site/zh`` (Chinese); a page without a twin links to the other half's front page. Returns the pages
    changed."""
    zh_root = site / "zh"
    changed = 0
    for page in sorted(site.rglob("*.html")):
        if "_static" in page.parts or "_sources" in page.parts:
            continue
        is_zh = zh_root in page.parents
        rel = page.relative_to(zh_root if is_zh else site)
        other_root = site if is_zh else zh_root
        twin = other_root / rel if (other_root / rel).is_file() else other_root / "index.html"
        href = posixpath.relpath(twin.as_posix(), page.parent.as_posix())
        link = (SWITCH.format(href=href, lang="en", title="This page in English", label="English") if is_zh
                else SWITCH.format(href=href, lang="zh", title="本页的中文版", label="中文"))  # fmt: skip
        html = page.read_text(encoding="utf-8")
        if "course-lang-switch" in html:
            continue
        html, n = re.subn(r"(<body[^>]*>)", lambda m: m.group(1) + link, html, count=1)
        if n:
            page.write_text(html, encoding="utf-8")
            changed += 1
    return changed


def _sphinx(src: Path, out: Path, doctrees: Path, quiet: bool, lang: str) -> None:
    import os

    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-c", str(CONF), "-W", "--keep-going", "-j", "1",
           "-d", str(doctrees), str(src), str(out)] + (["-q"] if quiet else [])  # fmt: skip
    env = dict(os.environ, COURSE_SITE_LANGUAGE=lang)
    if lang == "zh":
        env["COURSE_SITE_JIEBA_DICT"] = str(src / "_jieba_dict.txt")
    subprocess.run(cmd, check=True, cwd=ROOT, env=env)


def build(out: Path = SITE, quiet: bool = True) -> Path:
    """Stage the pages and run Sphinx twice — English into ``out``, Chinese into ``out/zh`` — (``-W``: a warning is
    an error, so a broken reference fails the build), then add the language switch to every page."""
    src, src_zh = stage(), stage(STAGE_ZH, "zh")
    if out.exists():
        shutil.rmtree(out)
    _sphinx(src, out, ROOT / "_build" / "site-doctrees", quiet, "en")
    _sphinx(src_zh, out / "zh", ROOT / "_build" / "site-doctrees-zh", quiet, "zh")
    add_language_switch(out)
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m course_lib.site [--out DIR]``: build the website from the executed lessons."""
    parser = argparse.ArgumentParser(prog="python -m course_lib.site", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(SITE), help="output folder (default: _build/site)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    out = build(Path(args.out), quiet=not args.verbose)
    print(
        f"site in {out}/ ({len(lesson_paths())} lessons, {len(notebook_paths()) - len(lesson_paths())} appendices, "
        f"{time.perf_counter() - start:.0f} s); open {out}/index.html"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
