"""Measured subprocess runs of `python -m changeguard` and the bad-input verdict."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import ROOT, git

# Catastrophe bounds only (issue 12): these inputs cost well under 2 CPU s; an alias bomb or
# a quadratic blow-up costs minutes. 30 s is >= 15x headroom on a loaded 2-core machine, so
# the bound can only fail on a catastrophe, never on a slow host. Speed lives in bench/.
CATASTROPHE_CPU_S = 30.0  # CPU seconds of the child (user + sys, its git children included)
HANG_TIMEOUT_S = 120.0  # the child is killed after this: a hang fails on its exit code
MEMORY_BUDGET_MB = 300.0


@dataclass
class Measured:
    code: int
    out: str
    err: str
    seconds: float  # wall clock
    cpu: float  # user + sys
    peak_mb: float


def run_measured(args: list[str], cwd: Path, env: dict[str, str], *,
                 timeout: float = HANG_TIMEOUT_S, prefix: list[str] | None = None) -> Measured:
    """Run the CLI; wait4 gives the child's own peak RSS (its git children included)."""
    e = dict(env)
    e["PYTHONPATH"] = str(ROOT)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        p = subprocess.Popen([*(prefix or []), sys.executable, "-m", "changeguard", *args],
                             cwd=cwd, env=e,
                             stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        timer = threading.Timer(timeout, p.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(p.pid, 0)
        finally:
            timer.cancel()
        seconds = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again
        out.seek(0)
        err.seek(0)
        return Measured(p.returncode, out.read().decode("utf-8", "replace"),
                        err.read().decode("utf-8", "replace"), seconds,
                        usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def log_refs(repo: Path) -> str:
    """Every change-log ref with its commit: equal before/after means nothing written."""
    return git(repo, "for-each-ref", "refs/heads/changeguard", "refs/remotes")


def assert_bounded(m: Measured) -> None:
    """No traceback, no catastrophic CPU use, inside the memory budget."""
    assert "Traceback" not in m.err + m.out, m.err
    assert "internal error" not in m.err, m.err
    assert "{value" not in m.err, m.err  # an unformatted message template
    assert m.code >= 0, f"killed by signal {-m.code} (hang or crash)"
    assert m.cpu < CATASTROPHE_CPU_S, f"used {m.cpu:.1f} CPU seconds"
    assert m.peak_mb < MEMORY_BUDGET_MB, f"peak RSS {m.peak_mb:.0f} MB"


def assert_rejected(m: Measured, file: str, *, line: int | None = None, code: int = 2,
                    words: tuple[str, ...] = ()) -> None:
    """Exit `code`, `error: FILE:LINE: message` naming the file (and line), bounded."""
    assert m.code == code, (m.code, m.out, m.err)
    assert_bounded(m)
    where = f"error: {file}:{line}: " if line is not None else f"error: {file}:"
    assert where in m.err, m.err
    for w in words:
        assert w.lower() in m.err.lower(), (w, m.err)
