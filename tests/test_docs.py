"""docs/rules.md, docs/cli.md and docs/config.md are generated from the code and kept fresh."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from changeguard import docsgen
from changeguard.rules import RULES
from tests.conftest import ROOT


@pytest.mark.parametrize("name", sorted(docsgen.DOCS))
def test_generated_docs_are_current(name: str) -> None:
    path = ROOT / "docs" / name
    fresh = docsgen.DOCS[name]()
    assert path.is_file(), f"docs/{name} is missing: run `make docs`"
    assert path.read_text(encoding="utf-8") == fresh, f"docs/{name} is stale: run `make docs`"


def test_generation_is_deterministic() -> None:
    assert docsgen.render_all() == docsgen.render_all()


def test_rules_doc_covers_every_rule() -> None:
    text = docsgen.render_rules()
    for rule in RULES.values():
        assert f"## {rule.id}\n" in text
        assert rule.rationale in text and rule.hint in text
    assert "severity: warn" in text  # how to lower a severity with a pack


def test_cli_doc_covers_every_registered_command() -> None:
    from changeguard.cli import app

    text = docsgen.render_cli()
    leaves = [" ".join(p) for p, _ in docsgen._walk(typer.main.get_command(app), ())]
    assert {"validate", "policy test", "rules"} <= set(leaves)
    for name in leaves:
        assert f"## changeguard {name}\n" in text
    assert "`--format`" in text and "`DIR`" in text


def test_config_doc_covers_every_schema_key() -> None:
    text = docsgen.render_config()
    for short, _, root in docsgen.CONFIG_SCHEMAS:
        schema = json.loads((ROOT / "schemas" / f"{short}.schema.json").read_text())
        objects = {root: schema, **schema["$defs"]}
        for name, obj in objects.items():
            for key in obj.get("properties", {}):
                assert f"| `{key}` |" in text, (name, key)
            if obj.get("type") == "object":
                assert f"### {name}\n" in text
    assert '`["builtin:default"]`' in text  # defaults from default_factory fields too


def test_module_entry_point_writes_all_three(tmp_path: Path) -> None:
    p = subprocess.run([sys.executable, "-m", "changeguard.docsgen", str(tmp_path)],
                       capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    assert sorted(f.name for f in tmp_path.iterdir()) == ["cli.md", "config.md", "rules.md"]
    assert (tmp_path / "rules.md").read_text() == docsgen.render_rules()
