"""Running the CLI: as a real subprocess (the default), or in-process where speed matters."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.paths import ROOT


@dataclass
class Result:
    code: int
    out: str
    err: str


RunCli = Callable[..., Result]


def run_cli(base_env: dict[str, str], *args: str, cwd: Path, env: dict[str, str] | None = None,
            input: str | None = None) -> Result:
    """Run `python -m changeguard ARGS` as a real subprocess in `base_env` (+ `env`)."""
    e = dict(base_env)
    if env:
        e.update(env)
    p = subprocess.run([sys.executable, "-m", "changeguard", *args], cwd=cwd, env=e,
                       capture_output=True, text=True, input=input, timeout=120)
    return Result(p.returncode, p.stdout, p.stderr)


def spawn_cli(repo: Path, *args: str, email: str = "ana@example.org",
              env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start `python -m changeguard ARGS` as a real process with this identity (not waited).

    It leads a session of its own, so a test that kills it can wait for the git children it
    leaves behind (`wait_group`): they run on and may still move the ref after it died."""
    e = dict(os.environ)
    e.update(GIT_AUTHOR_EMAIL=email, GIT_AUTHOR_NAME=email.split("@")[0],
             PYTHONPATH=str(ROOT))
    e.update(env or {})
    return subprocess.Popen([sys.executable, "-m", "changeguard", *args], cwd=repo, env=e,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def wait_group(pgid: int, timeout: float = 60.0) -> None:
    """Wait until no live process of group `pgid` is left (a killed CLI's orphaned git children).

    Read from /proc rather than `killpg(pgid, 0)`: an orphan whose reaper is slow lingers as a
    zombie, which has finished everything it would write."""
    deadline = time.monotonic() + timeout
    while _live_in_group(pgid):
        if time.monotonic() > deadline:
            raise AssertionError(f"process group {pgid} still alive after {timeout} s")
        time.sleep(0.01)


def _live_in_group(pgid: int) -> bool:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone while we looked
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def run_in_process(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                   repo: Path, *args: str, email: str = "ana@example.org") -> Result:
    """Run the CLI in-process (fast) as `email` in `repo`; code/out/err."""
    from changeguard.cli import main

    monkeypatch.setenv("GIT_AUTHOR_EMAIL", email)
    monkeypatch.setenv("GIT_AUTHOR_NAME", email.split("@")[0])
    monkeypatch.chdir(repo)
    capsys.readouterr()
    code = main(["--repo", str(repo), *args])
    got = capsys.readouterr()
    return Result(code, got.out, got.err)
