"""PyYAML is imported without compiling its pure-Python reader's Unicode class up front
(changeguard/yamlimport.py, issue 17): the pattern, compiled on first use, answers as the
compiled one does, the pure-Python loader still refuses what it refused, and no module of
the package imports PyYAML another way (the first import in a process must be the one that
defers it)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from changeguard import yamlimport
from tests.conftest import ROOT

_FRESH = ("import sys; from changeguard.hook import main; import yaml; "
          "print(type(yaml.reader.Reader.NON_PRINTABLE).__name__)")


def test_the_hook_imports_yaml_with_the_pattern_deferred() -> None:
    out = subprocess.run([sys.executable, "-c", _FRESH.replace(
        "from changeguard.hook import main; ", "import changeguard.hook.staged; "
        "import changeguard.replication.load; ")], cwd=ROOT, capture_output=True, text=True,
        check=True).stdout
    assert out.strip() == "_OnFirstUse"


def test_the_pure_python_loader_still_refuses_a_control_character() -> None:
    yaml = yamlimport.yaml
    try:
        yaml.load("a: b\x07\n", Loader=yaml.SafeLoader)
    except yaml.reader.ReaderError as e:
        assert e.character == 7
    else:  # pragma: no cover - the assertion that fails
        raise AssertionError("the reader accepted a control character")
    assert yaml.load("a: é\n", Loader=yaml.SafeLoader) == {"a": "é"}


@given(st.text())
def test_the_deferred_pattern_finds_what_the_compiled_one_finds(text: str) -> None:
    deferred = yamlimport._OnFirstUse(yamlimport._NON_PRINTABLE)
    now = re.compile(yamlimport._NON_PRINTABLE)
    got, want = deferred.search(text), now.search(text)
    assert (got and (got.start(), got.group())) == (want and (want.start(), want.group()))


def test_it_is_pyyamls_own_pattern() -> None:
    """Else the deferral silently stops applying (a new PyYAML): this names the change."""
    source = Path(yamlimport.yaml.reader.__file__)
    tree = ast.parse(source.read_text(encoding="utf-8"))
    patterns = [n.value.args[0].value for n in ast.walk(tree)
                if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call)
                and n.value.args and isinstance(n.value.args[0], ast.Constant)
                and getattr(n.targets[0], "id", "") == "NON_PRINTABLE"]
    assert patterns == [yamlimport._NON_PRINTABLE]


def _yaml_imports(tree: ast.Module) -> tuple[list[int], int | None]:
    """Lines importing PyYAML, and the line of the module-level yamlimport import."""
    lines, first = [], None
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
            if node.module == "changeguard.yamlimport" and node in tree.body:
                first = node.lineno if first is None else min(first, node.lineno)
        else:
            continue
        if any(n == "yaml" or n.startswith("yaml.") for n in names):
            lines.append(node.lineno)
    return lines, first


def test_every_module_imports_yaml_after_yamlimport() -> None:
    bad = []
    for path in sorted((ROOT / "changeguard").rglob("*.py")):
        if path.name == "yamlimport.py":
            continue
        lines, first = _yaml_imports(ast.parse(path.read_text(encoding="utf-8")))
        bad += [f"{path.relative_to(ROOT)}:{n}" for n in lines if first is None or n < first]
    assert bad == []
