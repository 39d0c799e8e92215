"""Every `console` block of the README runs, in order, in a fresh temporary directory.

A line `$ cmd` is a command; a trailing `# exit N` states the expected exit code (default 0).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

_BLOCK = re.compile(r"(<!-- readme-test: run in checkout -->\n)?```console\n(.*?)```",
                    re.DOTALL)
_EXIT = re.compile(r"\s+# exit (\d+)\s*$")


def readme_commands() -> list[tuple[str, int]]:
    """(command, expected exit) pairs; checkout blocks run from the repository root."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    cmds: list[tuple[str, int]] = []
    for in_checkout, block in _BLOCK.findall(text):
        for line in block.splitlines():
            if not line.startswith("$ "):
                continue
            cmd = line[2:]
            m = _EXIT.search(cmd)
            code = int(m.group(1)) if m else 0
            cmd = _EXIT.sub("", cmd)
            cmds.append((f"(cd {ROOT} && {cmd})" if in_checkout else cmd, code))
    return cmds


def test_readme_has_the_two_setup_commands() -> None:
    cmds = [c for c, _ in readme_commands()]
    assert "make demo" in cmds and "make test" in cmds


def test_readme_tutorial_commands_run(tmp_path: Path, git_env: dict[str, str]) -> None:
    # a new user's identity is the one the tutorial configures per clone (`git config
    # user.email`), not the pinned one of the other tests
    env = {k: v for k, v in git_env.items()
           if k not in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME",
                        "GIT_COMMITTER_EMAIL")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    script = ["set -u", f"cd {tmp_path}"]
    ran = 0
    for cmd, code in readme_commands():
        if cmd.startswith("make ") or cmd.startswith("cd changeguard") or (
                cmd.startswith("git clone") and "changeguard" in cmd):
            continue  # the set-up commands themselves are what `make test` runs
        ran += 1
        script.append(f"( {cmd} ) > {tmp_path}/.readme-out 2>&1; rc=$?; "
                      f"if [ $rc -ne {code} ]; then echo 'FAILED ({code} expected, got '$rc'): '"
                      f"{_sh(cmd)}; cat {tmp_path}/.readme-out; exit 1; fi")
        if cmd.startswith("cd "):
            script.append(cmd)
    assert ran >= 10
    p = subprocess.run(["bash", "-c", "\n".join(script)], env=env, capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]


def _sh(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"
