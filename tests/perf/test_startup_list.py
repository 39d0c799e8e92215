"""Issue 17: `list` starts as the hook does: `inspect` (with ast, dis and tokenize) is only a
stand-in until something reads it (changeguard/hook/_defer.py), the cycle collector is off
(`__main__._without_cycle_collector`), and the answer is the same as through Typer's full
CLI. Module sets and collector state, never times."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.changelog import NOW, make_repo, plan_path

PROBE = ("import atexit, sys\n"
         "def _report():\n"
         "    import gc\n"
         "    real = sorted(m for m in ('ast', 'dis', 'tokenize') if m in sys.modules)\n"
         "    sys.stderr.write('\\nLOADED ' + ','.join(real) + (' GC' if gc.isenabled() else ''))\n"
         "atexit.register(_report)\n"
         "sys.argv = ['changeguard', *sys.argv[1:]]\n"
         "from changeguard.__main__ import run; run()\n")


@pytest.mark.parametrize("args", [["list"], ["list", "--format", "json"],
                                  ["list", "--state", "submitted", "--now", NOW]])
def test_list_does_not_load_inspect(tmp_path: Path, git_env: dict[str, str],
                                    args: list[str]) -> None:
    repo = make_repo(tmp_path / "cfg")
    sub = subprocess.run([sys.executable, "-m", "changeguard", "submit", plan_path(), "--now",
                          NOW], cwd=repo, env=git_env, capture_output=True, text=True)
    assert sub.returncode == 0, sub.stderr
    via_typer = subprocess.run([sys.executable, "-c", "import sys; from changeguard.cli import "
                                "main; sys.exit(main(sys.argv[1:]))", *args], cwd=repo,
                               env=git_env, capture_output=True, text=True)
    p = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=repo, env=git_env,
                       capture_output=True, text=True, timeout=120)
    assert (p.returncode, p.stdout) == (via_typer.returncode, via_typer.stdout) == (
        0, via_typer.stdout)
    assert "CHG-" in p.stdout
    assert p.stderr.rpartition("\nLOADED ")[2] == ""
