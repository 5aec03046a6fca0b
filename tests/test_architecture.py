"""The shape of the package: no import loops, and no arrow from a lower layer up to a higher one.

Every ``bakeoff`` import counts, at module level or inside a function (a lazy import is still a
dependency); only imports under ``if TYPE_CHECKING:`` are left out, since they never run.
docs/architecture.md draws the same layers.
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "src" / "bakeoff"

# Lowest first. A module may import from its own layer (without a loop) and from layers below.
LAYERS: list[tuple[str, set[str]]] = [
    ("foundation", {"errors", "scalars", "constraints", "yamlfile", "measures", "cpu", "examples", "storage", "catalog", "forkserver", "metrics", "versions", "spec", "records",
                    "kfp.backends"}),
    ("model", {"data", "header", "preprocess", "modeling", "search", "training", "diagnostics", "svg", "figures", "leaderboard", "report", "runs", "tracking", "history",
               "costs", "schedule", "predict", "served_model"}),
    ("steps", {"steps", "progress"}),
    ("places", {"supervise", "kfp", "kfp.components", "kfp.pipeline", "kfp.stepio", "kfp.validate", "kfp.ui_metrics",
                "kfp.client", "kfp.submit", "kfp.generate"}),
    ("runners", {"runners", "runners.base", "runners.local", "runners.kfp_docker", "runners.cluster", "runners.preload",
                 "runners.k8s"}),
    ("front", {"cli", "doctor", "deploy", "ui", "ui.app", "ui.page", "ui.files", "ui.jobs", "ui.kubeflow", "ui.results", "ui.roundtrip",
               "ui.sections", "ui.state", "ui.suggest", "ui.widgets"}),
]


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(path: Path, known: set[str]) -> set[str]:
    """The bakeoff modules ``path`` imports when it runs."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import):
                found.update(a.name.removeprefix("bakeoff.") for a in child.names if a.name.startswith("bakeoff."))
            elif isinstance(child, ast.ImportFrom) and child.module and child.module.startswith("bakeoff"):
                base = child.module.removeprefix("bakeoff").lstrip(".")
                for alias in child.names:
                    name = f"{base}.{alias.name}".lstrip(".")
                    found.add(name if name in known else base)
            visit(child)

    visit(ast.parse(path.read_text()))
    return {m for m in found if m in known}


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found) - {""}
    return {name: imports(path, known) - {name} for name, path in found.items() if name}


def loops(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in edges:
        if v not in index:
            strong(v)
    return found


def test_every_module_has_a_layer() -> None:
    placed = [m for _, group in LAYERS for m in group]
    assert len(placed) == len(set(placed))
    assert sorted(set(graph())) == sorted(placed)


def test_no_import_loops() -> None:
    assert loops(graph()) == []


def test_no_arrow_points_up_a_layer() -> None:
    rank = {m: i for i, (_, group) in enumerate(LAYERS) for m in group}
    upward = sorted(f"{m} -> {d} ({LAYERS[rank[m]][0]} imports {LAYERS[rank[d]][0]})"
                    for m, deps in graph().items() for d in deps if rank[d] > rank[m])
    assert upward == []


def test_the_checks_can_fail() -> None:
    assert loops({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    source = "from bakeoff import steps\nif TYPE_CHECKING:\n    from bakeoff.cli import app\ndef f():\n    import bakeoff.runs\n"
    path = ROOT / "tests" / "__probe_architecture.py"
    try:
        path.write_text(source)
        assert imports(path, {"steps", "cli", "runs"}) == {"steps", "runs"}
    finally:
        path.unlink()
