"""`make demo` replays the incident end to end (real CLI, real git, real hook)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_demo_runs_end_to_end(git_env: dict[str, str]) -> None:
    p = subprocess.run([sys.executable, "-m", "changeguard.demo"], cwd=ROOT, env=git_env,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-4000:]
    out = p.stdout
    # the 2016 plan is denied with the exact rules and file lines
    for rule in ("rollback-required", "verification-required", "redundancy-blast-radius",
                 "replication-upstream-exists"):
        assert rule in out, rule
    assert "db/apac-gateway.topology.yaml:" in out
    # the uncovered edit is refused by the real hook, the covered one accepted
    assert "guarded-path-coverage" in out
    # Monday's resync: refused as a normal change, overdue until reviewed
    assert "window-in-maintenance" in out and "disruptive-steps-in-window" in out
    assert "CHG-2016-0404-resync" in out
    assert "is at:" in out
    # its times are made up, and it says so (SPEC §12 "Time")
    assert "Every time in this demo is simulated" in out
