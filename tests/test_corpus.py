"""The real-config corpus through the real CLI: every MANIFEST case gets its verdict.

Each case (a single file or a group folder) is copied into a fresh git repo with a
`.changeguard.yaml` mapping every file (`format: auto`, and again with the case's own
format), then `python -m changeguard check --all --format json` runs as a subprocess, and again
with the case's config files named explicitly (supporting files such as a Vagrantfile
left out: the group brings them along, issue 16.1):
pass ⇒ exit 0; fail ⇒ exit 1 with every listed violation `X` reported as
`replication-X`. Nothing here names a corpus file: new cases only need MANIFEST rows.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import DATA, RunCli, git

CORPUS = DATA / "corpus"
MANIFEST = json.loads((CORPUS / "MANIFEST.json").read_text(encoding="utf-8"))

# MANIFEST `system` → the format an explicit mapping would name
_FORMAT = {"patroni": "patroni", "mysql": "mysql", "mongodb": "mongodb", "redis": "redis",
           "postgresql": "postgresql"}


@dataclass(frozen=True)
class Case:
    key: str
    files: tuple[str, ...]
    expected: str
    violations: tuple[str, ...]
    format: str
    configs: tuple[str, ...]  # the files a user would name (no supporting files or docs)


def _cases() -> list[Case]:
    grouped: dict[str, list[dict[str, object]]] = {}
    for row in MANIFEST:
        grouped.setdefault(str(row["group"] or row["file"]), []).append(row)
    out = []
    for key, rows in grouped.items():
        first = rows[0]
        violations = first["violations"]
        assert isinstance(violations, list)
        out.append(Case(key, tuple(str(r["file"]) for r in rows), str(first["expected"]),
                        tuple(str(v) for v in violations),
                        _FORMAT.get(str(first["system"]), "kubernetes"),
                        tuple(str(r["file"]) for r in rows if not _support(r))))
    return out


def _support(row: dict[str, object]) -> bool:
    return str(row["note"]).startswith(("Supporting file", "Documentation"))


CASES = _cases()


def _repo(tmp_path: Path, case: Case, fmt: str) -> Path:
    r = tmp_path / "repo"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    for f in case.files:
        dest = r / f
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(CORPUS / f, dest)
    (r / ".changeguard.yaml").write_text(
        "apiVersion: changeguard/v1\nkind: GuardConfig\n"
        f'schemas:\n  - {{paths: ["**"], format: {fmt}}}\n', encoding="utf-8")
    return r


def test_manifest_is_complete() -> None:
    """Every MANIFEST file exists and every case has a verdict the test can judge."""
    assert len(CASES) >= 20
    for case in CASES:
        assert case.expected in ("pass", "fail"), case.key
        assert (case.expected == "fail") == bool(case.violations), case.key
        for f in case.files:
            assert (CORPUS / f).is_file(), f


@pytest.mark.parametrize("how", ["all", "files"])
@pytest.mark.parametrize("mode", ["auto", "explicit"])
@pytest.mark.parametrize("case", CASES, ids=[c.key for c in CASES])
def test_case_verdict(case: Case, mode: str, how: str, tmp_path: Path,
                      run_cli: RunCli) -> None:
    fmt = "auto" if mode == "auto" else case.format
    repo = _repo(tmp_path, case, fmt)
    which = ["--all"] if how == "all" else ["--", *case.configs]
    res = run_cli("check", "--format", "json", *which, cwd=repo)
    assert res.code in (0, 1), res.err
    report = json.loads(res.out)
    denied = {f["rule"] for f in report["findings"] if f["severity"] == "deny"}
    if case.expected == "pass":
        assert res.code == 0, report["findings"]
        assert report["ok"] is True
        return
    assert res.code == 1, report
    for v in case.violations:
        assert f"replication-{v}" in denied, (v, report["findings"])
    for f in report["findings"]:
        assert f["file"] in case.files, f  # findings point into the case's own files
        assert isinstance(f["line"], int) and f["line"] >= 1, f
