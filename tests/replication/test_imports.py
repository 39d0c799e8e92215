"""Issue 13 item 5: the replication engine has no import cycles (AST scan, lazy imports too).

invariants, blast and transition import only the model (and the rule registry below the
package); engine.py is the one module that orchestrates them.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PKG = ROOT / "changeguard"


def _module(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, known: set[str]) -> set[str]:
    """changeguard modules `path` imports anywhere in its body (function level included)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        out |= {n for n in names if n in known}
    return out


def _graph() -> dict[str, set[str]]:
    files = {_module(p): p for p in PKG.rglob("*.py")}
    known = set(files)
    return {m: _imports(p, known) - {m} for m, p in files.items()}


def _cycle_through(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """A path start -> ... -> start, if one exists (DFS)."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for nxt in graph.get(node, set()):
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def test_replication_and_plan_modules_sit_on_no_import_cycle() -> None:
    graph = _graph()
    ours = [m for m in graph if m.startswith(("changeguard.replication", "changeguard.plan"))]
    assert "changeguard.replication.engine" in ours
    cycles = {m: c for m in ours if (c := _cycle_through(graph, m)) is not None}
    assert not cycles, cycles


def test_rule_modules_import_only_the_model() -> None:
    graph = _graph()
    for name in ("invariants", "blast", "transition", "grouping"):
        deps = {d for d in graph[f"changeguard.replication.{name}"]
                if d.startswith("changeguard.replication")}
        assert deps <= {"changeguard.replication.model", "changeguard.replication.interface"}, (
            name, deps)
