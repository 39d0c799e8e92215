"""`log verify` re-derives submits on every core (changelog/pool.py): same verdicts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from changeguard.changelog import pool
from changeguard.changelog.layout import change_dir
from tests.conftest import git
from tests.helpers.changelog import NOW, PLAN_ID, Cg, cg, make_repo, plan_path

__all__ = ["cg"]
REF = "refs/heads/changeguard/log"


def _square_and_pid(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def test_short_lists_stay_in_process() -> None:
    with pool.fork_start(_square_and_pid, [1, 2, 3]) as pending:
        got = pending.result()
    assert got == [(1, os.getpid()), (4, os.getpid()), (9, os.getpid())]


def test_pooled_verify_finds_a_submit_whose_plan_was_swapped(
        tmp_path: Path, git_env: dict[str, str], cg: Cg,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool, "MIN_ITEMS", 1)
    monkeypatch.setattr(pool, "workers", lambda: 2)
    repo = make_repo(tmp_path / "cfg")
    assert cg(repo, "submit", plan_path(), "--now", NOW).code == 0
    ok = cg(repo, "log", "verify", "--from-scratch", "--format", "json")
    assert ok.code == 0, ok.err
    # rewrite the submit so its stored plan.yaml is a different text than the event says
    tip = git(repo, "rev-parse", REF).strip()
    path = f"{change_dir(PLAN_ID)}/plan.yaml"
    text = git(repo, "show", f"{tip}:{path}").replace("db2 volume", "db3 volume")
    env = dict(os.environ, GIT_INDEX_FILE=str(repo / ".git" / "tamper-index"))
    import subprocess

    subprocess.run(["git", "read-tree", tip], cwd=repo, env=env, check=True)
    sha = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=repo, input=text,
                         capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run(["git", "update-index", "--cacheinfo", f"100644,{sha},{path}"], cwd=repo,
                   env=env, check=True)
    tree = subprocess.run(["git", "write-tree"], cwd=repo, env=env, capture_output=True,
                          text=True, check=True).stdout.strip()
    msg = git(repo, "log", "-1", "--format=%B", tip)
    new = subprocess.run(["git", "commit-tree", tree], cwd=repo, input=msg, env=env,
                         capture_output=True, text=True, check=True).stdout.strip()
    git(repo, "update-ref", REF, new, tip)
    bad = cg(repo, "log", "verify", "--from-scratch", "--format", "json")
    assert bad.code == 1
    problems = json.loads(bad.out)["problems"]
    assert any("plan.yaml" in p["message"] for p in problems), problems


def _fails_on_seven(x: int) -> int:
    if x == 7:
        raise ValueError("seven")
    return x


def test_a_slice_a_worker_cannot_finish_is_done_again_in_the_parent(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An error in a worker is raised by `result()` as it would be without workers, and a
    worker killed mid-way costs nothing but its slices, which the parent computes."""
    monkeypatch.setattr(pool, "MIN_ITEMS", 1)
    monkeypatch.setattr(pool, "workers", lambda: 2)
    with pool.fork_start(_fails_on_seven, list(range(50))) as pending, \
            pytest.raises(ValueError, match="seven"):
        pending.result()
    with pool.fork_start(_square_and_pid, list(range(50))) as pending:
        import signal

        for pid, _ in pending._workers:
            os.kill(pid, signal.SIGKILL)
        got = pending.result()
    assert [v for v, _ in got] == [x * x for x in range(50)]


def _slow_square_and_pid(x: int) -> tuple[int, int]:
    import time

    time.sleep(0.0005)  # the workers start before the parent has taken every slice
    return x * x, os.getpid()


def test_fork_start_keeps_order_and_shares_the_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool, "workers", lambda: 2)
    items = list(range(pool.MIN_ITEMS * 2))
    with pool.fork_start(_slow_square_and_pid, items) as pending:
        got = pending.result()
    assert [v for v, _ in got] == [x * x for x in items]
    assert len({pid for _, pid in got} - {os.getpid()}) >= 1  # forked workers took slices
