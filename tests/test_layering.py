"""Who may import whom: the arrows of the design, enforced on every import of src/repalign.

Every ``import`` and ``from ... import`` statement of the package (at module
level or inside a function) is read with :mod:`ast`, resolved to the module it
names, and placed in its layer. An import is allowed only along an arrow:

    cli, demo, studies --> the public API (repalign/__init__, public subpackages, results)
    public API --> grid --> measures, inference, store
               `-> benchmarks --> grid, extraction, datasets
               `-> extraction --> store
    viz --> result rows only (repalign.results); never measures, inference or store
    inference --> measures, results;  store --> results;  measures --> base only

where *base* holds the modules every layer may use (_array_api, _validation,
_memory, _version, exceptions). A new top-level module must be placed in a
layer here before it can import anything.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "repalign"

#: Layer of each top-level module or subpackage of repalign ("" is repalign/__init__).
LAYER = {
    "": "api",
    "_array_api": "base", "_validation": "base", "_memory": "base", "_version": "base",
    "exceptions": "base",
    "datasets": "datasets",
    "measures": "measures",
    "results": "results",
    "inference": "inference",
    "store": "store",
    "streaming": "streaming",
    "extraction": "extraction",
    "grid": "grid",
    "benchmarks": "benchmarks",
    "viz": "viz",
    "testing": "testing",
    "losses": "losses",
    "studies": "studies",
    "demo": "demo",
    "cli": "cli",
}

#: The layers each layer may import (besides itself).
ALLOWED = {
    "base": {"base"},
    "datasets": {"base"},
    "measures": {"base"},
    "results": {"base"},
    "inference": {"measures", "results", "base"},
    "store": {"results", "base"},
    "streaming": {"measures", "store", "base"},
    "extraction": {"store", "base"},
    "grid": {"measures", "inference", "store", "results", "base"},
    "benchmarks": {"grid", "measures", "inference", "store", "extraction", "datasets",
                   "results", "base"},
    "viz": {"results", "base"},
    "testing": {"measures", "streaming", "base"},
    "losses": {"measures", "base"},
    "api": {"base", "datasets", "measures", "results", "inference", "store", "streaming",
            "extraction", "grid", "benchmarks", "viz", "testing"},
    "studies": {"api", "datasets", "results", "viz", "losses"},
    "demo": {"api", "datasets", "results", "viz", "studies"},
    "cli": {"api", "datasets", "results", "viz", "studies", "demo"},
}

#: Within the base layer, the finer order (a module may import those listed).
BASE_ALLOWED = {
    "exceptions": set(), "_version": set(), "_array_api": set(),
    "_memory": {"exceptions", "_array_api"},
    "_validation": {"exceptions", "_array_api"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every repalign module ``path`` imports."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:  # "from . import datasets" imports a module
                candidate = f"{target}.{alias.name}"
                is_module = (PACKAGE.parent / Path(*candidate.split("."))).with_suffix(".py")
                is_package = PACKAGE.parent / Path(*candidate.split("."))
                found.append((node.lineno, candidate if is_module.exists() or is_package.is_dir()
                              else target))
    return [(line, module) for line, module in found
            if module == "repalign" or module.startswith("repalign.")]


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _violations() -> list[str]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = _module_name(path)
        top = _top(source)
        if top not in LAYER:
            out.append(f"{source}: a new top-level module; give it a layer in {__file__}")
            continue
        layer = LAYER[top]
        for line, target in _imports(path):
            other = _top(target)
            if other not in LAYER:
                out.append(f"{source}:{line} imports {target}, which has no layer")
            elif other == top:
                continue
            elif LAYER[other] not in ALLOWED[layer]:
                out.append(f"{source}:{line} imports {target} ({layer} -> {LAYER[other]})")
            elif layer == "base" and other not in BASE_ALLOWED[top]:
                out.append(f"{source}:{line} imports {target} (base: {top} -> {other})")
    return out


def test_every_import_runs_along_an_arrow_of_the_design():
    violations = _violations()
    assert not violations, "imports against the design:\n" + "\n".join(violations)


def test_the_layering_check_catches_an_import_against_the_arrows(tmp_path, monkeypatch):
    """The check itself can fail: a viz module importing the measures is reported."""
    fake = tmp_path / "repalign"
    (fake / "viz").mkdir(parents=True)
    (fake / "measures").mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "viz" / "__init__.py").write_text("")
    (fake / "measures" / "__init__.py").write_text("")
    (fake / "viz" / "plot.py").write_text("def f():\n    from ..measures import get\n")
    monkeypatch.setitem(globals(), "PACKAGE", fake)
    assert _violations() == ["repalign.viz.plot:2 imports repalign.measures (viz -> measures)"]
