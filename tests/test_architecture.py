"""The house's shape: one room per step, no import cycle, no module over ~600 lines.

Imports are read from the source (every ``import`` statement, at any depth, so a
function-level import counts too), not from ``sys.modules``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "gridsim"
MAX_LINES = 600
#: Each room may import only the rooms listed for it (and itself); the flow runs one way.
ALLOWED: dict[str, set[str]] = {
    "analysis": set(),
    "errors": set(),
    "version": set(),
    "files": set(),
    "labels": set(),
    "kpi_registry": set(),
    "model": {"errors", "analysis", "files", "labels"},
    "experiment": {"errors", "version", "files", "labels", "kpi_registry", "analysis", "model"},
    "calibration": {"errors", "version", "files", "labels", "analysis", "model"},
    "validation": {"errors", "version", "files", "labels", "kpi_registry", "analysis", "model",
                   "calibration"},
    "output": {"errors", "version", "files", "labels", "kpi_registry", "analysis", "model",
               "experiment"},
    "classroom": {"errors", "version", "files", "labels", "kpi_registry", "analysis", "model",
                  "experiment", "output"},
    "province": {"errors", "version", "files", "labels", "kpi_registry", "analysis", "model",
                 "experiment", "output"},
    "cli": {"errors", "version", "files", "labels", "kpi_registry", "analysis", "model",
            "experiment", "calibration", "validation", "output", "classroom", "province"},
    "transcript": {"cli"},
    "__init__": {"errors", "version", "model", "experiment", "output"},
    "__main__": {"cli"},
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every gridsim module a file imports, at module level or inside a function."""
    tree = ast.parse(path.read_text("utf-8"))
    this = _module_name(path)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "gridsim"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.split(".")[0] != "gridsim":
                continue
            for alias in node.names:  # ``from gridsim.output import plots`` imports a module
                child = f"{module}.{alias.name}"
                found.add(child if _exists(child) else module)
    return found - {this}


def _exists(module: str) -> bool:
    rel = Path(*module.split(".")[1:])
    return (PACKAGE / rel).with_suffix(".py").is_file() or (PACKAGE / rel / "__init__.py").is_file()


def _graph() -> nx.DiGraph:
    graph = nx.DiGraph()
    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module_name(path)
        graph.add_node(name)
        for target in _imports(path):
            graph.add_edge(name, target)
    return graph


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_no_import_cycle():
    cycles = list(nx.simple_cycles(_graph()))
    assert not cycles, f"import cycles: {cycles[:5]}"


def test_rooms_import_only_downstream():
    bad = [
        f"{a} imports {b}"
        for a, b in _graph().edges
        if _room(b) != _room(a) and _room(b) not in ALLOWED.get(_room(a), set())
    ]
    assert not bad, "; ".join(bad)


def test_analysis_is_pure_maths():
    graph = _graph()
    bad = [(a, b) for a, b in graph.edges if a.startswith("gridsim.analysis") and
           not b.startswith("gridsim.analysis")]
    assert not bad


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
def test_module_size(path: Path):
    lines = len(path.read_text("utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(PACKAGE.parent)} has {lines} lines"


def test_cycle_detection_has_power(tmp_path, monkeypatch):
    pkg = tmp_path / "gridsim"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from gridsim.b import g\n")
    (pkg / "b.py").write_text("from gridsim import a\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", pkg)
    assert list(nx.simple_cycles(_graph()))
