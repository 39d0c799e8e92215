"""Every module changeguard imports comes from the stdlib or a declared runtime dependency.

The dev extra once hid a missing one (click came in through check-jsonschema): this scans
every import statement of the package, lazy ones inside functions included, and resolves it
to the distribution that provides it.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata

from packaging.requirements import Requirement

from tests.conftest import ROOT

PACKAGE = ROOT / "changeguard"


def _imported_top_levels() -> dict[str, str]:
    """Top-level module name -> one place that imports it."""
    found: dict[str, str] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                found.setdefault(name.split(".")[0], f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def _runtime_closure() -> set[str]:
    """Normalised names of the declared runtime dependencies and everything they require."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    todo = [Requirement(d) for d in declared]
    seen: set[str] = set()
    while todo:
        req = todo.pop()
        name = _norm(req.name)
        if name in seen or (req.marker is not None and not req.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        todo += [Requirement(r) for r in metadata.requires(req.name) or []]
    return seen


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_import_is_stdlib_or_a_declared_runtime_dependency() -> None:
    providers = metadata.packages_distributions()
    allowed = _runtime_closure()
    undeclared = []
    for module, where in _imported_top_levels().items():
        if module in sys.stdlib_module_names or module in ("changeguard", "__future__"):
            continue
        dists = {_norm(d) for d in providers.get(module, [])}
        if not dists & allowed:
            undeclared.append(f"{module} ({where}) from {sorted(dists) or 'nowhere'}")
    assert undeclared == [], undeclared


def test_the_scan_sees_lazy_imports() -> None:
    """The scan must reach imports inside functions (the hook and commands import lazily)."""
    found = _imported_top_levels()
    assert {"yaml", "typer", "pydantic", "jsonschema", "git", "icalendar"} <= set(found)
