"""Sharing the log through a real bare remote: concurrent clones, offline writes, `log sync`."""

from __future__ import annotations

import json
from pathlib import Path

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
    write_plan,
)

__all__ = ["cg"]
REF = "refs/heads/changeguard/log"


def _clones(tmp_path: Path) -> tuple[Path, Path, Path]:
    seed = make_repo(tmp_path / "seed", config(log={"remote": "origin"}))
    bare = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(bare))
    a, b = tmp_path / "a", tmp_path / "b"
    git(tmp_path, "clone", "-q", str(bare), str(a))
    git(tmp_path, "clone", "-q", str(bare), str(b))
    return bare, a, b


def test_two_clones_writing_at_once_both_land(tmp_path: Path, git_env: dict[str, str],
                                              cg: Cg) -> None:
    bare, a, b = _clones(tmp_path)
    assert cg(a, "submit", plan_path(), "--now", NOW).code == 0
    others = ["CHG-2016-0410-b1", "CHG-2016-0410-b2"]
    for i, other in enumerate(others):
        write_plan(b, plan(id=other, services=[f"svc-{i}"], changes=[{"path": f"db/{i}"}]))
    procs = [spawn(a, "approve", PLAN_ID, "--revision", "1", "--now", NOW, email="dev@example.org"),
             spawn(a, "approve", PLAN_ID, "--revision", "1", "--now", NOW,
                   email="ravi@example.org"),
             *(spawn(b, "submit", plan_path(o), "--now", NOW) for o in others)]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    assert cg(a, "log", "sync").code == 0
    assert cg(b, "log", "sync").code == 0
    remote_tip = git(bare, "rev-parse", REF).strip()
    assert git(a, "rev-parse", REF).strip() == remote_tip == git(b, "rev-parse", REF).strip()
    events = git(bare, "log", "--format=%s", REF).split("\n")
    assert sorted(e for e in events if e) == sorted(
        [f"submit {PLAN_ID}", f"approve {PLAN_ID}", f"approve {PLAN_ID}",
         *(f"submit {o}" for o in others)])
    assert verify(cg, a)["ok"] and verify(cg, b)["ok"]
    assert show(cg, b)["state"] == "approved"


def test_offline_write_is_kept_and_synced_later(tmp_path: Path, git_env: dict[str, str],
                                                cg: Cg) -> None:
    bare, a, b = _clones(tmp_path)
    assert cg(a, "submit", plan_path(), "--now", NOW).code == 0
    git(b, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    git(b, "fetch", "-q", str(bare), f"+{REF}:{REF}")
    res = cg(b, "approve", PLAN_ID, "--revision", "1", "--now", NOW, email="dev@example.org")
    assert res.code == 0 and "unreachable" in res.err
    assert git(bare, "rev-list", "--count", REF).strip() == "1"
    git(b, "remote", "set-url", "origin", str(bare))
    # meanwhile someone else writes to the shared log
    other = "CHG-2016-0410-other"
    write_plan(a, plan(id=other, services=["svc-b"], changes=[{"path": "db/b.yaml"}]))
    assert cg(a, "submit", plan_path(other), "--now", NOW).code == 0
    res = cg(b, "log", "sync")
    assert res.code == 0 and "replayed" in res.out
    assert git(bare, "rev-list", "--count", REF).strip() == "3"
    assert cg(a, "log", "sync").code == 0
    assert show(cg, a)["state"] == "approved"
    assert verify(cg, a)["ok"] and verify(cg, b)["ok"]


def test_replayed_event_that_became_illegal_is_refused(tmp_path: Path, git_env: dict[str, str],
                                                       cg: Cg) -> None:
    bare, a, b = _clones(tmp_path)
    assert cg(a, "submit", plan_path(), "--now", NOW).code == 0
    assert cg(b, "log", "sync").code == 0
    git(b, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    assert cg(b, "approve", PLAN_ID, "--revision", "1", "--now", NOW,
              email="dev@example.org").code == 0
    git(b, "remote", "set-url", "origin", str(bare))
    assert cg(a, "cancel", PLAN_ID, "--reason", "abandoned", "--now", NOW).code == 0
    res = cg(b, "log", "sync")
    assert res.code == 1 and "no longer applies" in res.err
    rows = json.loads(cg(b, "list", "--format", "json", "--now", NOW).out)
    assert rows[0]["state"] == "cancelled"
    assert verify(cg, b)["ok"]
