"""The structure of course_lib, checked: arrows point down only, the math never imports matplotlib or ipywidgets,
every public definition has a docstring, and each repeated idea has exactly one definition."""

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import course_lib

PKG = Path(course_lib.__file__).resolve().parent
#: the layers, bottom to top (README's "How the code is organised")
LAYERS = [
    ("ground", {"_compat", "checks", "device", "files", "images", "checkpoints"}),
    ("math", {"schedules", "embeddings", "metrics", "operators", "history", "frequency", "stats"}),
    ("data", {"datasets", "data"}),
    ("process", {"diffusion", "sde", "samplers"}),
    ("networks", {"models"}),
    ("methods", {"methods"}),
    ("workflows", {"train", "pretrained", "harness", "evaluate", "compare", "sr", "benchmark", "cached", "ablation",
                   "classifier", "devtools", "race", "site", "distributed", "zeroshot", "blind", "residual",
                   "cascade", "latents"}),
    ("teaching", {"plotting", "diagrams", "widgets", "exercises"}),
]
RANK = {name: i for i, (_, names) in enumerate(LAYERS) for name in names}
TEACHING = [i for i, (layer, _) in enumerate(LAYERS) if layer == "teaching"][0]
MODULES = sorted(p for p in PKG.rglob("*.py"))


def _top(path: Path) -> str:
    rel = path.relative_to(PKG).with_suffix("").parts
    return rel[0]


def _imports(path: Path) -> set[str]:
    """The top-level course_lib modules a file imports (anywhere in it, lazily or not)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    depth = len(path.relative_to(PKG).parts) - 1  # 0 for course_lib/x.py, 1 for course_lib/pkg/x.py
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the package
                up = node.level - 1
                if up < depth:  # inside the same subpackage
                    base = path.relative_to(PKG).parts[: depth - up]
                    out.add(base[0])
                    continue
                if node.module:
                    out.add(node.module.split(".")[0])
                else:
                    out.update(a.name for a in node.names)
            elif node.module and node.module.startswith("course_lib."):
                out.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".")[1] for a in node.names if a.name.startswith("course_lib."))
    return {m for m in out if m in RANK}


def test_every_module_has_a_layer():
    tops = {_top(p) for p in MODULES if p.name != "__init__.py" or p.parent != PKG}
    assert tops <= set(RANK), sorted(tops - set(RANK))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PKG)))
def test_arrows_point_down_only(path):
    if path == PKG / "__init__.py":
        return
    me = _top(path)
    above = {m for m in _imports(path) if RANK[m] > RANK[me]}
    assert not above, f"{path.relative_to(PKG)} ({LAYERS[RANK[me]][0]}) imports from higher layers: {sorted(above)}"


@pytest.mark.parametrize("path", [p for p in MODULES if RANK.get(_top(p), 99) < TEACHING],
                         ids=lambda p: str(p.relative_to(PKG)))
def test_only_the_teaching_layer_imports_matplotlib_or_ipywidgets(path):
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"^\s*(import|from) (matplotlib|ipywidgets)", text, re.M), path


def _public_definitions():
    skip_methods = {"forward", "extra_repr", "state_dict", "load_state_dict", "main"}
    for info in pkgutil.walk_packages(course_lib.__path__, "course_lib."):
        mod = importlib.import_module(info.name)
        for name, obj in vars(mod).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != mod.__name__:
                continue
            if inspect.isfunction(obj) and name != "main":
                yield f"{mod.__name__}.{name}", obj
            elif inspect.isclass(obj):
                yield f"{mod.__name__}.{name}", obj
                for mname, m in vars(obj).items():
                    if mname.startswith("_") or mname in skip_methods:
                        continue
                    if isinstance(m, (staticmethod, classmethod)):
                        m = m.__func__
                    if inspect.isfunction(m) or isinstance(m, property):
                        yield f"{mod.__name__}.{name}.{mname}", m


def test_every_public_definition_has_a_docstring():
    missing = [name for name, obj in _public_definitions() if not (obj.__doc__ or "").strip()]
    assert not missing, f"{len(missing)} public definitions without a docstring: {missing}"


def test_module_docstrings_name_their_layer_or_lesson():
    for path in MODULES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert ast.get_docstring(tree), f"{path.relative_to(PKG)} has no module docstring"


#: each repeated idea and the one module allowed to write it
ONE_DEFINITION = [
    (r"/ 127\.5|\* 127\.5", "images.py", "the uint8 <-> [-1, 1] conversion"),
    (r"Image\.open\(", "images.py", "the image reader"),
    (r"os\.replace\(|\.replace\(path\)|tmp\.replace\(", "files.py", "the atomic writer"),
    (r"platform\.(processor|machine)\(", "device.py", "the hardware string"),
    (r"\.std\(dim=0\)", "metrics.py", "pixel diversity"),
    (r"torch\.device\(device\) if device is not None|get_device\(args\.device\) if args\.device", None, "the device fallback"),
    (r"^DEFAULT_TILES\s*=", None, "a tile size looked up by model name"),
]


@pytest.mark.parametrize("pattern,home,idea", ONE_DEFINITION, ids=[i[2] for i in ONE_DEFINITION])
def test_each_repeated_idea_has_one_definition(pattern, home, idea):
    where = sorted(str(p.relative_to(PKG)) for p in MODULES if re.search(pattern, p.read_text(encoding="utf-8"), re.M))
    assert where == ([home] if home else []), f"{idea}: written in {where}, expected only in {home}"
