"""Every claim in SECURITY.md names a test; every named test and test file exists."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def _test_names() -> set[str]:
    names: set[str] = set()
    for f in (ROOT / "tests").rglob("test_*.py"):
        names.update(re.findall(r"^def (test_\w+)", f.read_text(encoding="utf-8"), re.M))
    return names


def test_security_md_cites_only_real_tests() -> None:
    text = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
    files = set(re.findall(r"`(tests/[\w/]+(?:\.py)?)", text))
    cited = set(re.findall(r"(test_\w+)`", text)) - {p.rsplit("/", 1)[-1] for p in files}
    assert len(files) >= 8 and len(cited) >= 10
    for f in files:
        assert (ROOT / f).exists(), f"SECURITY.md cites missing {f}"
    missing = {c for c in cited if not c.endswith(".py")} - _test_names()
    assert not missing, f"SECURITY.md cites tests that do not exist: {sorted(missing)}"
