"""Measured subprocess runs of `python -m changeguard` and the bad-input verdict."""

from __future__ import annotations

import json
import os
import signal
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
    """Run `python -m changeguard ARGS` (after `prefix`) as `measure` does."""
    return measure([*(prefix or []), sys.executable, "-m", "changeguard", *args], cwd, env,
                   timeout=timeout)


# Started by a small Python that waits for it: wait4's peak RSS of a child spawned straight
# from the test process counts the test process's own pages (Linux carries the pre-exec
# high-water mark over exec), so a pytest worker past 300 MB failed every bound.
_LAUNCHER = """
import json, os, subprocess, sys
p = subprocess.Popen(sys.argv[2:])
_, status, u = os.wait4(p.pid, 0)
with open(sys.argv[1], "w") as f:
    json.dump([os.waitstatus_to_exitcode(status), u.ru_utime + u.ru_stime, u.ru_maxrss], f)
"""


def measure(argv: list[str], cwd: Path, env: dict[str, str], *,
            timeout: float = HANG_TIMEOUT_S) -> Measured:
    """Run `argv` with the checkout on PYTHONPATH: exit code, output, wall and CPU seconds
    and peak RSS, its own and its git children's; killed after `timeout` (a hang)."""
    e = dict(env)
    e["PYTHONPATH"] = str(ROOT)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.TemporaryDirectory() as tmp:
        usage = Path(tmp) / "usage.json"
        t0 = time.monotonic()
        p = subprocess.Popen([sys.executable, "-S", "-c", _LAUNCHER, str(usage), *argv],
                             cwd=cwd, env=e, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                             start_new_session=True)
        timer = threading.Timer(timeout, os.killpg, (p.pid, signal.SIGKILL))
        timer.start()
        try:
            p.wait()
        finally:
            timer.cancel()
        seconds = time.monotonic() - t0
        code, cpu, peak_kb = (json.loads(usage.read_text()) if usage.is_file()
                              else (-signal.SIGKILL, 0.0, 0))
        out.seek(0)
        err.seek(0)
        return Measured(code, out.read().decode("utf-8", "replace"),
                        err.read().decode("utf-8", "replace"), seconds, cpu, peak_kb / 1024)


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
