"""Many writers at once: on one repo, and through three clones of one bare remote.

No event is lost or duplicated, every change ends in the state its own events imply
(the replay), and `log verify` passes everywhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, git
from tests.helpers.changelog import (
    IN_WINDOW,
    NOW,
    Cg,
    cg,
    config,
    make_repo,
    plan,
    plan_path,
    verify,
    write_plan,
)

__all__ = ["cg"]
REF = "refs/heads/changeguard/log"
AUTHOR, DBA = "ana@example.org", "dev@example.org"
LIFE = ("submit", "approve", "start", "complete")
FINAL = {1: "submitted", 2: "approved", 3: "in_progress", 4: "completed"}


def _calls(cid: str, n: int) -> list[tuple[str, list[str]]]:
    """The first `n` lifecycle events of one change, each with its actor."""
    full = [(AUTHOR, ["submit", plan_path(cid), "--now", NOW]),
            (DBA, ["approve", cid, "--revision", "1", "--now", NOW]),
            (AUTHOR, ["start", cid, "--now", IN_WINDOW]),
            (AUTHOR, ["complete", cid, "--now", IN_WINDOW])]
    return full[:n]


def _script(repo: Path, worker: str, events: int) -> tuple[list[tuple[str, list[str]]],
                                                            dict[str, int]]:
    """`events` calls over fresh changes of this worker; returns calls and events per change."""
    calls: list[tuple[str, list[str]]] = []
    per_change: dict[str, int] = {}
    i = 0
    while len(calls) < events:
        cid = f"CHG-{worker}-{i}"
        n = min(len(LIFE), events - len(calls))
        write_plan(repo, plan(id=cid, services=[f"svc-{worker}-{i}"],
                              changes=[{"path": f"db/{worker}-{i}.yaml"}]))
        calls += _calls(cid, n)
        per_change[cid] = n
        i += 1
    return calls, per_change


def _start(repo: Path, calls: list[tuple[str, list[str]]]) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "tests.adversarial._worker", str(repo),
                             json.dumps(calls)], cwd=repo, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(procs: list[subprocess.Popen[str]]) -> int:
    """Wait for every writer; all calls succeed. Returns how often CAS retries gave up."""
    gave_up = 0
    for p in procs:
        out, err = p.communicate(timeout=900)
        assert p.returncode == 0, err
        result = json.loads(out)
        assert all(c == 0 for c in result["codes"]), "\n".join(result["errors"])
        gave_up += result["gave_up"]
    return gave_up


def _subjects(repo: Path, ref: str = REF) -> list[str]:
    return [s for s in git(repo, "log", "--format=%s", ref).split("\n") if s]


def _assert_replayed(cg: Cg, repo: Path, expected: dict[str, int]) -> None:
    """Each event exactly once, in lifecycle order, and each change in its replayed state."""
    subjects = _subjects(repo)
    want = sorted(f"{LIFE[k]} {cid}" for cid, n in expected.items() for k in range(n))
    assert sorted(subjects) == want
    chronological = subjects[::-1]
    for cid, n in expected.items():
        mine = [s.split()[0] for s in chronological if s.split()[1] == cid]
        assert mine == list(LIFE[:n]), (cid, mine)
    rows = json.loads(cg(repo, "list", "--format", "json", "--now", IN_WINDOW).out)
    assert {r["id"]: r["state"] for r in rows} == {c: FINAL[n] for c, n in expected.items()}
    rep = verify(cg, repo)
    assert rep == {"ok": True, "events": len(want), "problems": []}


def one_repo(cg: Cg, tmp_path: Path, workers: int, events: int) -> int:
    repo = make_repo(tmp_path / "cfg")
    scripts = [_script(repo, f"W{w}", events) for w in range(workers)]
    gave_up = _finish([_start(repo, calls) for calls, _ in scripts])
    expected = {cid: n for _, per in scripts for cid, n in per.items()}
    _assert_replayed(cg, repo, expected)
    print(f"{workers}x{events} events on one repo: {gave_up} CAS give-ups retried")
    return workers * events


def test_four_writers_five_events(cg: Cg, tmp_path: Path, git_env: dict[str, str]) -> None:
    assert one_repo(cg, tmp_path, 4, 5) == 20


@pytest.mark.slow
def test_sixteen_writers_twenty_five_events(cg: Cg, tmp_path: Path,
                                            git_env: dict[str, str]) -> None:
    assert one_repo(cg, tmp_path, 16, 25) == 400


def three_clones(cg: Cg, tmp_path: Path, events: int) -> None:
    seed = make_repo(tmp_path / "seed", config(log={"remote": "origin"}))
    bare = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(bare))
    clones = []
    for i in range(3):
        c = tmp_path / f"clone{i}"
        git(tmp_path, "clone", "-q", str(bare), str(c))
        clones.append(c)
    scripts = [_script(c, f"C{i}", events) for i, c in enumerate(clones)]
    gave_up = _finish([_start(c, calls) for c, (calls, _) in zip(clones, scripts, strict=True)])
    print(f"3 clones x {events} events: {gave_up} CAS give-ups retried")
    for c in clones:
        assert cg(c, "log", "sync").code == 0
    tips = {git(c, "rev-parse", REF).strip() for c in [*clones, bare]}
    assert len(tips) == 1, "clones and remote disagree after sync"
    expected = {cid: n for _, per in scripts for cid, n in per.items()}
    for c in clones:
        _assert_replayed(cg, c, expected)
    assert sorted(_subjects(bare)) == sorted(_subjects(clones[0]))


def test_three_clones_push_concurrently(cg: Cg, tmp_path: Path,
                                        git_env: dict[str, str]) -> None:
    three_clones(cg, tmp_path, 4)


@pytest.mark.slow
def test_three_clones_push_concurrently_long(cg: Cg, tmp_path: Path,
                                             git_env: dict[str, str]) -> None:
    three_clones(cg, tmp_path, 20)


