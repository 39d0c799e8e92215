"""Issue 13 §1/§7: the layer arrows of ARCHITECTURE.md as rules over the source (AST scan).

`cli → commands → core → base`: imports only point down. `cli/` only parses (Typer) and calls
`commands`; nothing below `commands` imports it or `cli`; the package has no import cycle
(counting imports inside functions too: a lazy import is still an arrow).
"""

from __future__ import annotations

import ast
import sys
from functools import cache
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "changeguard"
# Never imported at run time (ARCHITECTURE.md `_dev/`): they may drive the CLI like a user.
DEV_TOOLS = {"changeguard.demo", "changeguard.docsgen", "changeguard.schemagen"}
# What a `cli/` module may import besides the standard library: Typer, its own package,
# `commands`, the error base the handler maps to exit codes, and `changeguard.__version__`.
CLI_MAY_IMPORT = ("typer", "changeguard.cli", "changeguard.commands", "changeguard.errors")


def _name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


@cache
def _modules() -> dict[str, ast.Module]:
    return {_name(p): ast.parse(p.read_text(encoding="utf-8"))
            for p in sorted(PKG.rglob("*.py"))}


def _package_of(name: str) -> str:
    is_pkg = (PKG.parent / name.replace(".", "/") / "__init__.py").exists()
    return name if is_pkg else name.rpartition(".")[0]


def _imports(name: str) -> set[str]:
    """Every module `name` imports, anywhere in its body (absolute names, relative resolved)."""
    out: set[str] = set()
    for node in ast.walk(_modules()[name]):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = _package_of(name).split(".")
                pkg = pkg[:len(pkg) - node.level + 1]
                base = ".".join([*pkg, base]) if base else ".".join(pkg)
            # `from changeguard import hook` is an arrow to the module changeguard.hook, and
            # `from changeguard.config import defaults` one to the leaf, not to the package
            # (whose __init__ runs first, but is not what the importer depends on)
            subs = {f"{base}.{a.name}" for a in node.names} & _modules().keys()
            out.update(subs)
            if len(subs) < len(node.names):
                out.add(base)
    return out


def _internal_edges(name: str) -> set[str]:
    return {m for m in _imports(name) if m in _modules() and m != name}


def _layer(name: str) -> int:
    if name == "changeguard.__main__":
        return 3
    if name.startswith("changeguard.cli"):
        return 2
    if name.startswith("changeguard.commands"):
        return 1
    return 0


def test_the_scan_sees_the_layers() -> None:
    # guards the rules below against passing vacuously (a wrong PKG, a renamed package)
    assert "changeguard.cli" in _modules() and "changeguard.commands.check" in _modules()
    assert "changeguard.commands.check" in _internal_edges("changeguard.cli.check")


def test_cli_imports_only_typer_commands_and_its_own_modules() -> None:
    for name in _modules():
        if _layer(name) != 2:
            continue
        bad = {m for m in _imports(name)
               if m.split(".")[0] not in sys.stdlib_module_names
               and not m.startswith(CLI_MAY_IMPORT) and m not in ("changeguard", "__future__")}
        assert not bad, f"{name} imports {sorted(bad)}: cli/ only parses and calls commands"


def test_imports_only_point_down() -> None:
    for name in _modules():
        if name in DEV_TOOLS:
            continue
        up = {m for m in _internal_edges(name) if _layer(m) > _layer(name)}
        assert not up, f"{name} imports {sorted(up)}: a lower layer must not import a higher one"


def test_no_import_cycles() -> None:
    graph = {n: _internal_edges(n) for n in _modules()}
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            cycle = [*path[path.index(node):], node]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if node in done:
            return
        for nxt in sorted(graph[node]):
            visit(nxt, [*path, node])
        done.add(node)

    for n in sorted(graph):
        visit(n, [])
