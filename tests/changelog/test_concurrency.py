"""Concurrent writers and writers killed mid-event: the log never loses, duplicates or tears."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import git
from tests.helpers.changelog import (
    NOW,
    PLAN_ID,
    Cg,
    cg,
    config,
    make_repo,
    plan,
    plan_path,
    show,
    spawn,
    verify,
    wait_group,
    write_plan,
)

__all__ = ["cg"]

APPROVERS = [f"rev{i}@example.org" for i in range(8)]


def _roster() -> list[dict[str, object]]:
    return [{"email": "ana@example.org", "roles": ["engineer"]},
            *({"email": e, "roles": ["dba", "cab"]} for e in APPROVERS)]


def test_eight_concurrent_approvals_all_land_once(tmp_path: Path, git_env: dict[str, str],
                                                  cg: Cg) -> None:
    r = make_repo(tmp_path / "cfg", config(reviewers=_roster()))
    assert cg(r, "submit", plan_path(), "--now", NOW).code == 0
    procs = [spawn(r, "approve", PLAN_ID, "--revision", "1", "--now", NOW,
                   email=e) for e in APPROVERS]
    results = [(p.wait(timeout=60), p.communicate()) for p in procs]
    assert all(code == 0 for code, _ in results), results
    data = show(cg, r)
    assert sorted(a["actor"] for a in data["approvals"]) == APPROVERS
    assert [e["event"] for e in data["events"]].count("approve") == 8
    assert git(r, "rev-list", "--count", "changeguard/log").strip() == "9"
    assert data["state"] == "approved"
    assert verify(cg, r) == {"ok": True, "events": 9, "problems": []}


def _full_run_seconds(r: Path) -> float:
    """How long one unkilled submit takes here, so kill points span the whole run."""
    write_plan(r, plan(id="CHG-KILL-probe", services=["svc-probe"], changes=[]))
    t = time.perf_counter()
    p = spawn(r, "submit", plan_path("CHG-KILL-probe"), "--now", NOW)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    return time.perf_counter() - t


def _kill_loop(r: Path, cg: Cg, rounds: int, seed: int) -> int:
    rng = random.Random(seed)
    span = _full_run_seconds(r)
    # One probe misjudges a run when the machine's load changes; steer the kill points by
    # what happened, so they keep straddling the moment the ref moves.
    scale = 1.0
    landed = 0
    for i in range(rounds):
        cid = f"CHG-KILL-{i}"
        write_plan(r, plan(id=cid, services=[f"svc-{i}"], changes=[
            {"path": f"db/f{i}.yaml"}]))
        before = int(git(r, "rev-list", "--count", "--all").strip() or 0)
        p = spawn(r, "submit", plan_path(cid), "--now", NOW)
        time.sleep(rng.uniform(0.3, 1.1) * span * scale)
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        p.communicate()
        # git children it started run on (update-ref among them) and may move the ref after
        # the writer died: the event is judged once they are done.
        wait_group(p.pid)
        after = int(git(r, "rev-list", "--count", "--all").strip())
        rep = verify(cg, r)
        assert rep["ok"], rep
        ids = {x["id"] for x in json.loads(cg(r, "list", "--format", "json", "--now", NOW).out)}
        assert (cid in ids) == (after > before)  # the event is complete or absent
        landed += cid in ids
        scale = min(max(scale * (0.9 if cid in ids else 1.12), 0.2), 8.0)
    return landed


def test_kill_writer_at_random_points_short(tmp_path: Path, git_env: dict[str, str],
                                           cg: Cg) -> None:
    r = make_repo(tmp_path / "cfg")
    _kill_loop(r, cg, 10, seed=5)
    # after the chaos the log still accepts writes
    assert cg(r, "submit", plan_path(), "--now", NOW).code == 0


@pytest.mark.slow
def test_kill_writer_at_random_points_long(tmp_path: Path, git_env: dict[str, str],
                                          cg: Cg) -> None:
    r = make_repo(tmp_path / "cfg")
    landed = _kill_loop(r, cg, 60, seed=11)
    assert 0 < landed < 60  # the kill points really spanned before and after the ref moved
