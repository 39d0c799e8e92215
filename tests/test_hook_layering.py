"""Issue 13 §3/§4 as rules over the source: one module spawns git; the hook stays light."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "changeguard"
# demo.py plays a user at a terminal (it runs the CLI and git as they would); never imported
# at run time (ARCHITECTURE.md: `_dev/`)
DEV_TOOLS = {"demo.py"}
HOOK_SAFE = ("__future__", "collections", "dataclasses", "gc", "datetime", "os", "pathlib", "sys",
             "types", "typing", "re", "subprocess", "hashlib", "shlex", "changeguard.errors",
             "changeguard.findings",
             "changeguard.globs", "changeguard.git", "changeguard.config",
             "changeguard.loader", "changeguard.hook", "changeguard.changelog.layout",
             # SPEC §12: the hook reads the verified-tip cache before anything heavy
             "changeguard.changelog.verified", "changeguard.changelog.freshness")


def _imports(tree: ast.AST, top_level_only: bool) -> set[str]:
    nodes = tree.body if top_level_only and isinstance(tree, ast.Module) else ast.walk(tree)
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def _modules() -> list[tuple[Path, ast.Module]]:
    return [(p, ast.parse(p.read_text(encoding="utf-8"))) for p in sorted(PKG.rglob("*.py"))]


_SPAWN = {"run", "Popen", "call", "check_call", "check_output", "system", "execvp"}


def _spawns(tree: ast.AST) -> bool:
    """Calls subprocess/os process functions, or imports GitPython."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and isinstance(node.func.value, ast.Name) \
                and node.func.value.id in ("subprocess", "os") and node.func.attr in _SPAWN:
            return True
    return "git" in _imports(tree, top_level_only=False)


def test_only_git_py_spawns_git() -> None:
    spawners = {p.relative_to(PKG).as_posix() for p, tree in _modules()
                if _spawns(tree) and p.name not in DEV_TOOLS}
    assert spawners == {"git.py"}


def test_hook_package_top_levels_import_only_hook_safe_modules() -> None:
    for p, tree in _modules():
        if p.parent.name != "hook" and p.relative_to(PKG).as_posix() not in (
                "git.py", "clock.py", "config/light.py", "config/load.py",
                "config/defaults.py", "config/__init__.py", "changelog/layout.py",
                "changelog/verified.py", "changelog/freshness.py"):
            continue
        bad = {m for m in _imports(tree, top_level_only=True)
               if not (m.startswith(HOOK_SAFE) or m == "changeguard")}
        assert not bad, f"{p.relative_to(PKG)} imports {sorted(bad)} at the top level"
