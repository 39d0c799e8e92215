"""Without git on PATH every entry says so (exit 2, one line and a hint), never a traceback:
the one runner (`changeguard/git.py`) builds that error for each way it starts git."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.changelog import approved_repo, cg

__all__ = ["cg"]

ENTRIES = {
    "list": ["-m", "changeguard", "list"],  # the kept cat-file of the change log
    "log verify": ["-m", "changeguard", "log", "verify", "--from-scratch"],
    "check --staged": ["-m", "changeguard", "check", "--staged"],
    "hook": ["-c", "from changeguard.hook import main; raise SystemExit(main())"],
}


@pytest.mark.parametrize("entry", sorted(ENTRIES))
def test_no_git_on_path_is_a_usage_error(entry: str, tmp_path: Path, cg: object) -> None:
    repo = approved_repo(tmp_path / "cfg", cg)  # type: ignore[arg-type]
    (repo / "db").mkdir(exist_ok=True)
    bare = tmp_path / "empty-bin"  # a PATH holding no git at all
    bare.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PATH"}
    env["PATH"] = str(bare)
    p = subprocess.run([sys.executable, *ENTRIES[entry]], cwd=repo, env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert "git is not installed or not on PATH" in p.stderr
    assert "install git 2.30 or newer" in p.stderr
    assert "Traceback" not in p.stderr
