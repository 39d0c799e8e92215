"""kill -9 of every writing command at random points: the log verifies after each kill,
holds the event once or not at all, and the same command then succeeds (nothing wedged,
no stale lock). The change-log suite kills `submit`; this covers every other writer too."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import git
from tests.helpers.changelog import (
    IN_WINDOW,
    NOW,
    Cg,
    cg,
    make_repo,
    plan,
    plan_path,
    spawn,
    verify,
    wait_group,
    write_plan,
)

__all__ = ["cg"]
DBA, CAB = "dev@example.org", "chen@example.org"
LATE = "2016-04-03T04:00:00+08:00"  # inside the window, after IN_WINDOW


@dataclass(frozen=True)
class Victim:
    """A writing command: how to prepare its change, and how to run it."""

    event: str
    prepare: tuple[str, ...]  # events to record first (in-process)
    args: Callable[[str], list[str]]
    email: str
    emergency: bool = False


def _id_args(*rest: str) -> Callable[[str], list[str]]:
    return lambda cid: [cid, *rest]


VICTIMS = {
    "submit": Victim("submit", (), lambda cid: [plan_path(cid), "--now", NOW], "ana@example.org"),
    "approve": Victim("approve", ("submit",), _id_args("--revision", "1", "--now", NOW), DBA),
    "reject": Victim("reject", ("submit",), _id_args("--revision", "1", "--reason", "no",
                                                         "--now", NOW), DBA),
    "cancel": Victim("cancel", ("submit",), _id_args("--reason", "drop", "--now", NOW),
                     "ana@example.org"),
    "start": Victim("start", ("submit", "approve"), _id_args("--now", IN_WINDOW),
                    "ana@example.org"),
    "complete": Victim("complete", ("submit", "approve", "start"),
                       _id_args("--verified", "lag ok", "--now", LATE), "ana@example.org"),
    "rollback": Victim("rollback", ("submit", "approve", "start"),
                       _id_args("--reason", "lag", "--now", LATE), "ana@example.org"),
    "review": Victim("review", ("submit", "approve", "start", "complete"),
                     _id_args("--comment", "ok", "--now", LATE), DBA, emergency=True),
    "freeze": Victim("freeze", (), lambda cid: ["--reason", cid, "--now", NOW], CAB),
    "unfreeze": Victim("unfreeze", ("freeze",), lambda cid: ["--now", NOW], CAB),
}

_PREP: dict[str, Callable[[str], tuple[list[str], str]]] = {
    "submit": lambda cid: (["submit", plan_path(cid), "--now", NOW], "ana@example.org"),
    "approve": lambda cid: (["approve", cid, "--revision", "1", "--now", NOW], CAB),
    "start": lambda cid: (["start", cid, "--now", IN_WINDOW], "ana@example.org"),
    "complete": lambda cid: (["complete", cid, "--now", LATE], "ana@example.org"),
    "freeze": lambda cid: (["freeze", "--reason", cid, "--now", NOW], CAB),
}


def _count(repo: Path, event: str, cid: str) -> int:
    """How many log commits record `event` (for `cid` when the event names a change)."""
    if git(repo, "for-each-ref", "refs/heads/changeguard/log") == "":
        return 0
    subjects = git(repo, "log", "--format=%s%x00%b%x01", "changeguard/log").split("\x01")
    want = event if event in ("freeze", "unfreeze") else f"{event} {cid}"
    return sum(1 for s in subjects
               if s.strip().split("\x00")[0] == want
               and (event != "freeze" or f'"{cid}"' in s))


def _prepare(cg: Cg, repo: Path, v: Victim, cid: str, n: int) -> None:
    if v.event in ("submit", "approve", "reject", "cancel", "start", "complete", "rollback",
                   "review"):
        kind = {"type": "emergency"} if v.emergency else {}
        write_plan(repo, plan(id=cid, services=[f"svc-{n}"],
                              changes=[{"path": f"db/f{n}.yaml"}], **kind))
    for ev in v.prepare:
        args, email = _PREP[ev](cid)
        res = cg(repo, *args, email=email)
        assert res.code == 0, (ev, res.err)


def _no_stale_locks(repo: Path) -> list[str]:
    return [str(p.relative_to(repo)) for p in (repo / ".git").rglob("*.lock")]


def _calibrate(cg: Cg, repo: Path, v: Victim, seed: int) -> float:
    """Wall time of one untouched run of the command on this host, right now."""
    cid = f"CHG-K{seed}-{v.event}-cal"
    _prepare(cg, repo, v, cid, seed * 1000 + 999)
    t0 = time.monotonic()
    p = spawn(repo, v.event, *v.args(cid), email=v.email)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    if v.event == "freeze":
        assert cg(repo, "unfreeze", "--now", NOW, email=CAB).code == 0
    return time.monotonic() - t0


def kill_rounds(cg: Cg, repo: Path, name: str, tries: int, seed: int) -> tuple[int, int]:
    """Kill `name` `tries` times; returns (kills that landed the event, kills that did not)."""
    v = VICTIMS[name]
    rng = random.Random(seed)
    span = _calibrate(cg, repo, v, seed)
    landed = lost = 0
    for i in range(tries):
        cid = f"CHG-K{seed}-{name}-{i}"
        n = seed * 1000 + i
        _prepare(cg, repo, v, cid, n)
        before = _count(repo, v.event, cid)
        p: subprocess.Popen[str] = spawn(repo, v.event, *v.args(cid), email=v.email)
        time.sleep(rng.uniform(0.3, 1.1) * span)  # start-up, reading, or mid-write
        os.kill(p.pid, signal.SIGKILL)
        p.communicate()
        wait_group(p.pid)  # its git children may still move the ref after it died
        rep = verify(cg, repo)
        assert rep["ok"], (name, i, rep)
        count = _count(repo, v.event, cid) - before
        assert count in (0, 1), (name, i, count)
        if count == 0:  # the same command, run again, must go through
            again = cg(repo, v.event, *v.args(cid), email=v.email)
            assert again.code == 0, (name, i, again.err, _no_stale_locks(repo))
            assert _count(repo, v.event, cid) - before == 1
            lost += 1
        else:
            landed += 1
        if v.event == "freeze":  # leave the line open for the next try
            assert cg(repo, "unfreeze", "--now", NOW, email=CAB).code == 0
        assert verify(cg, repo)["ok"]
    return landed, lost


@pytest.fixture
def krepo(tmp_path: Path, git_env: dict[str, str]) -> Path:
    return make_repo(tmp_path / "cfg")


@pytest.mark.parametrize("name", list(VICTIMS))
def test_kill_each_writer(cg: Cg, krepo: Path, name: str) -> None:
    """2 kills per command (20 in all): quick enough for every run."""
    kill_rounds(cg, krepo, name, tries=2, seed=len(name))


@pytest.mark.slow
@pytest.mark.parametrize("name", list(VICTIMS))
def test_kill_each_writer_long(cg: Cg, krepo: Path, name: str) -> None:
    """12 kills per command (120 in all)."""
    landed, lost = kill_rounds(cg, krepo, name, tries=12, seed=100 + len(name))
    assert landed + lost == 12
    print(f"kill -9 {name}: {landed} landed, {lost} absent then retried")  # report figure
