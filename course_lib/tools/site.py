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

from .devtools import NOTEBOOKS, ROOT, lesson_paths, notebook_paths, student_notebook, syllabus_entries

__all__ = ["SITE", "STAGE", "repository_url", "launch_links", "colab_cell", "stage", "build", "main"]

SITE = ROOT / "_build" / "site"
STAGE = ROOT / "_build" / "site-src"
CONF = ROOT / "docs" / "site"
#: (repository path, page in the site): the documents beside the lessons
PAGES = (
    ("README.md", "readme.md"),
    ("docs/glossary.md", "glossary.md"),
    ("docs/instructors.md", "instructors.md"),
    ("docs/errata.md", "errata.md"),
    ("docs/adding-a-method.md", "adding-a-method.md"),
    ("docs/train-on-your-photos.md", "train-on-your-photos.md"),
    ("data/README.md", "data.md"),
    ("CHANGELOG.md", "changelog.md"),
)
WIDGET_NOTE = (
    "On this page the widgets are shown through their static views (the pictures beneath each widget); "
    "they come alive when you run the lesson in JupyterLab (`make lab`)."
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
    pages = {src: dst for src, dst in PAGES}
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


def _lesson(ipynb: Path, repo: str):
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
    links = launch_links(ipynb.relative_to(NOTEBOOKS).as_posix(), repo)
    head = nbformat.v4.new_markdown_cell(
        f":::{{container}} course-launch\nRun it online: [Open in Colab]({links['colab']}) · [launch on Binder]"
        f"({links['binder']}); or on your machine, offline. {WIDGET_NOTE} Solutions of the exercises are not on "
        f"the public pages: run the lesson to see them.\n:::"
    )
    nb.cells = [nb.cells[0], head] + nb.cells[1:]
    return nb


def _index(repo: str) -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.search(r"```bash\n(.*?)```", readme, re.S).group(1)
    rows = []
    landed = {p.relative_to(NOTEBOOKS).with_suffix("").as_posix() for p in notebook_paths()}
    for stem, title, learn, prereq, rel in syllabus_entries():
        number = stem[:3].rstrip("_")
        name = f"[{number} — {title}](lessons/{rel}.ipynb)" if rel in landed else f"{number} — {title}"
        learn = learn.replace("|", "\\|")
        rows.append(f"| {name} | {learn} | {prereq} |")
    toc = "\n".join(f"lessons/{rel}" for *_, rel in syllabus_entries() if rel in landed)
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
{chr(10).join(rows)}

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

readme
glossary
instructors
train-on-your-photos
adding-a-method
data
errata
changelog
```
"""


def stage(out: Path = STAGE) -> Path:
    """Write the site's source pages to ``out`` (replacing it) and return it."""
    import nbformat

    repo = repository_url()
    if out.exists():
        shutil.rmtree(out)
    (out / "lessons" / "appendix").mkdir(parents=True)
    for ipynb in notebook_paths():
        nbformat.write(_lesson(ipynb, repo), out / "lessons" / ipynb.relative_to(NOTEBOOKS))
    for src, dst in PAGES:
        text = (ROOT / src).read_text(encoding="utf-8")
        if src == "README.md":  # the front page has the course's title; this page is the README
            text = re.sub(r"\A# .*\n", "# README: install, commands, how the code is organised\n", text)
        (out / dst).write_text(_rewrite_links(text, src, repo), encoding="utf-8")
    (out / "index.md").write_text(_index(repo), encoding="utf-8")
    return out


def build(out: Path = SITE, quiet: bool = True) -> Path:
    """Stage the pages and run Sphinx (``-W``: a warning is an error, so a broken reference fails the build)."""
    src = stage()
    if out.exists():
        shutil.rmtree(out)
    cmd = [
        sys.executable,
        "-m",
        "sphinx",
        "-b",
        "html",
        "-c",
        str(CONF),
        "-W",
        "--keep-going",
        "-j",
        "1",
        "-d",
        str(ROOT / "_build" / "site-doctrees"),
        str(src),
        str(out),
    ] + (["-q"] if quiet else [])
    subprocess.run(cmd, check=True, cwd=ROOT)
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
