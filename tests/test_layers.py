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
#: the layers, bottom to top (README's "How the code is organised"). A folder is one layer; the flat core modules at the
#: top of course_lib/ are ranked among themselves (ground < math < data < process), all below the folders above them.
LAYERS = [
    ("ground", {"_compat", "checks", "device", "files", "images", "language"}),
    ("math", {"schedules", "embeddings", "metrics", "operators", "frequency", "stats"}),
    ("data", {"datasets", "data", "video"}),
    ("process", {"diffusion", "sde", "paths", "samplers"}),
    ("networks", {"models"}),
    ("methods", {"methods"}),
    ("engine", {"engine"}),
    ("experiments", {"experiments"}),
    ("tools", {"tools"}),
    ("teaching", {"teaching"}),
]
#: the folders; everything else at the top of course_lib/ is a flat core module
FOLDERS = {"samplers", "models", "methods", "engine", "experiments", "tools", "teaching"}
RANK = {name: i for i, (_, names) in enumerate(LAYERS) for name in names}
TEACHING = RANK["teaching"]
MODULES = sorted(p for p in PKG.rglob("*.py"))


def _top(path: Path) -> str:
    rel = path.relative_to(PKG).with_suffix("").parts
    return rel[0]


def _module(path: Path) -> str:
    parts = path.relative_to(PKG).with_suffix("").parts
    return ".".join(("course_lib",) + (parts[:-1] if parts[-1] == "__init__" else parts))


def _targets(path: Path) -> set[str]:
    """The course_lib modules a file imports, anywhere in it (lazily or not), as absolute dotted names; ``from pkg
    import name`` counts ``pkg.name`` when that is a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module(path) if path.name == "__init__.py" else _module(path).rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.split(".")[0] == "course_lib":
                target = node.module
            else:
                continue
            out.add(target)
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if (PKG.parent / Path(*sub.split("."))).with_suffix(".py").exists() or (
                    PKG.parent / Path(*sub.split("."))
                ).is_dir():
                    out.add(sub)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == "course_lib")
    return out


def _imports(path: Path) -> set[str]:
    """The layer units (a folder or a flat core module) a file imports."""
    return {t.split(".")[1] for t in _targets(path) if t.count(".") >= 1 and t.split(".")[1] in RANK}


def test_every_module_has_a_layer():
    tops = {_top(p) for p in MODULES if p.name != "__init__.py" or p.parent != PKG}
    assert tops <= set(RANK), sorted(tops - set(RANK))
    flat = {t for t in tops if (PKG / f"{t}.py").exists()}
    assert not flat & FOLDERS and {t for t in tops if (PKG / t).is_dir()} == FOLDERS


def test_readme_draws_the_layers_the_test_enforces():
    """README's "How the code is organised" names every folder and core module, in this order, top layer first."""
    readme = (PKG.parent / "README.md").read_text(encoding="utf-8")
    block = readme[readme.index("## How the code is organised") :]
    block = block[block.index("```") + 3 :]
    block = block[: block.index("```")]
    order = []
    for line in block.splitlines():
        for name in re.findall(r"\b[a-z_]+\b", line):
            if name in RANK and name not in order and (line.strip().startswith(name) or f"{name}/" in line):
                order.append(name)
    folders_in_order = [n for n in order if n in FOLDERS]
    assert folders_in_order == sorted(FOLDERS, key=lambda n: -RANK[n]), folders_in_order


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PKG)))
def test_arrows_point_down_only(path):
    if path == PKG / "__init__.py":
        return
    me = _top(path)
    above = {m for m in _imports(path) if RANK[m] > RANK[me]}
    assert not above, f"{path.relative_to(PKG)} ({LAYERS[RANK[me]][0]}) imports from higher layers: {sorted(above)}"


def test_no_import_cycle_lazy_imports_included():
    """Module to module (``course_lib.engine.train`` → ``course_lib.engine.pretrained``), every import statement
    counted wherever it stands; a package's ``__init__`` re-exporting its modules is not a cycle with them."""
    graph = {}
    for path in MODULES:
        me = _module(path)
        graph[me] = {
            t
            for t in _targets(path)
            if t != me and not me.startswith(t + ".") and not (path.name == "__init__.py" and t.startswith(me + "."))
        }
    modules = set(graph)
    graph = {m: {t for t in ts if t in modules} for m, ts in graph.items()}
    state, stack, cycles = {}, [], []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for t in sorted(graph[m]):
            if state.get(t) == 1:
                cycles.append(stack[stack.index(t) :] + [t])
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert not cycles, "import cycles: " + "; ".join(" → ".join(c) for c in cycles)


def test_no_module_imports_another_modules_private_name():
    offenders = []
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("course_lib")):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__") and node.module != "_compat":
                        offenders.append(
                            f"{path.relative_to(PKG)}: {alias.name} from {'.' * node.level}{node.module or ''}"
                        )
    assert not offenders, offenders


@pytest.mark.parametrize(
    "path", [p for p in MODULES if RANK.get(_top(p), 99) < TEACHING], ids=lambda p: str(p.relative_to(PKG))
)
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
    (
        r"torch\.device\(device\) if device is not None|get_device\(args\.device\) if args\.device",
        None,
        "the device fallback",
    ),
    (r"^DEFAULT_TILES\s*=", None, "a tile size looked up by model name"),
]


@pytest.mark.parametrize("pattern,home,idea", ONE_DEFINITION, ids=[i[2] for i in ONE_DEFINITION])
def test_each_repeated_idea_has_one_definition(pattern, home, idea):
    where = sorted(str(p.relative_to(PKG)) for p in MODULES if re.search(pattern, p.read_text(encoding="utf-8"), re.M))
    assert where == ([home] if home else []), f"{idea}: written in {where}, expected only in {home}"
