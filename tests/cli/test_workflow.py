"""The approval workflow end to end through the CLI, on real git repos (issue 5 §2–§4)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.conftest import RunCli, git
from tests.helpers.changelog import (
    IN_WINDOW,
    NOW,
    PLAN_ID,
    Cg,
    cg,
    make_repo,
    plan,
    plan_path,
    show,
    verify,
    write_plan,
)

__all__ = ["cg"]

LATER = "2016-03-28T10:00:00+08:00"


@pytest.fixture
def r(tmp_path: Path, git_env: dict[str, str]) -> Path:
    return make_repo(tmp_path / "cfg")


def _submitted(cg: Cg, r: Path) -> None:
    res = cg(r, "submit", plan_path(), "--now", NOW)
    assert res.code == 0, res.err
    assert "submitted revision 1" in res.out


def test_happy_path_and_json_shapes(cg: Cg, r: Path) -> None:
    _submitted(cg, r)
    assert cg(r, "approve", PLAN_ID, "--revision", "1", "--comment", "ok", "--now", NOW,
              email="dev@example.org").code == 0
    assert cg(r, "start", PLAN_ID, "--now", IN_WINDOW).code == 0
    res = cg(r, "complete", PLAN_ID, "--verified", "lag < 5s", "--now", IN_WINDOW)
    assert res.code == 0 and "completed" in res.out
    data = show(cg, r)
    assert list(data)[:10] == ["id", "title", "state", "revision", "digest", "author",
                               "window", "approvals", "rejections", "events"]  # §8, then §13
    assert data["state"] == "completed" and data["revision"] == 1
    assert list(data["window"]) == ["start", "end"]
    assert data["approvals"] == [{"actor": "dev@example.org", "digest": data["digest"],
                                  "stale": False, "at": NOW, "revision": 1, "comment": "ok"}]
    assert [e["event"] for e in data["events"]] == ["submit", "approve", "start", "complete"]
    log = git(r, "log", "--format=%H", "changeguard/log").split()
    assert [e["commit"] for e in data["events"]] == log[::-1]
    rows = json.loads(cg(r, "list", "--format", "json", "--now", IN_WINDOW).out)
    assert rows == [{"id": PLAN_ID, "title": data["title"], "state": "completed",
                     "author": "ana@example.org", "window": data["window"], "overdue": False}]
    assert verify(cg, r) == {"ok": True, "events": 4, "problems": []}
    # the user's branch, index and work tree are untouched
    assert git(r, "status", "--porcelain") == ""
    assert git(r, "rev-list", "--count", "main").strip() == "1"


def test_trailers_on_every_event(cg: Cg, r: Path) -> None:
    _submitted(cg, r)
    body = git(r, "log", "-1", "--format=%B", "changeguard/log")
    for t in ("Changeguard-Event: submit", f"Changeguard-Change: {PLAN_ID}",
              "Changeguard-Digest: sha256:", "Changeguard-Actor: ana@example.org"):
        assert t in body
    tree = git(r, "ls-tree", "-r", "--name-only", "changeguard/log").split()
    # the sharded tip tree of DESIGN.md: changes/<xx>/<ID>/, paths/<xx>/<sha1(path)>/<ID>
    xx = hashlib.sha1(PLAN_ID.encode()).hexdigest()[:2]
    assert f"changes/{xx}/{PLAN_ID}/plan.yaml" in tree
    assert f"changes/{xx}/{PLAN_ID}/state.json" in tree
    key = hashlib.sha1(b"db/apac-gateway.topology.yaml").hexdigest()
    assert f"paths/{key[:2]}/{key}/{PLAN_ID}" in tree


def test_self_approval_refused_and_nothing_recorded(cg: Cg, r: Path) -> None:
    _submitted(cg, r)
    before = git(r, "rev-parse", "changeguard/log")
    res = cg(r, "approve", PLAN_ID, "--revision", "1", "--now", NOW, email="ana@example.org")
    assert res.code == 1 and "author" in res.err
    assert git(r, "rev-parse", "changeguard/log") == before


def test_non_roster_approver_refused(cg: Cg, r: Path) -> None:
    _submitted(cg, r)
    before = git(r, "rev-parse", "changeguard/log")
    res = cg(r, "approve", PLAN_ID, "--revision", "1", "--now", NOW, email="mallory@example.org")
    assert res.code == 1 and "not on the reviewer roster" in res.err
    assert git(r, "rev-parse", "changeguard/log") == before


def test_missing_role_is_recorded_but_does_not_approve(cg: Cg, r: Path) -> None:
    write_plan(r, plan(risk="high"))
    _submitted(cg, r)
    res = cg(r, "approve", PLAN_ID, "--revision", "1", "--now", NOW, email="chen@example.org")
    assert res.code == 0 and "state submitted" in res.out
    assert "dba" in res.out and "dev@example.org" in res.out and "ravi@example.org" in res.out
    assert cg(r, "start", PLAN_ID, "--now", IN_WINDOW).code == 1
    assert cg(r, "approve", PLAN_ID, "--revision", "1", "--now", NOW,
              email="dev@example.org").code == 0
    assert show(cg, r)["state"] == "approved"
    assert verify(cg, r)["ok"]


def test_duplicate_approval_refused(cg: Cg, r: Path) -> None:
    write_plan(r, plan(risk="high"))
    _submitted(cg, r)
    assert cg(r, "approve", PLAN_ID, "--revision", "1", "--now", NOW,
              email="dev@example.org").code == 0
    res = cg(r, "approve", PLAN_ID, "--revision", "1", "--now", NOW, email="dev@example.org")
    assert res.code == 1 and "already approved" in res.err
    assert show(cg, r)["state"] == "submitted"  # one person cannot be both approvers


def test_resubmit_makes_approvals_stale(cg: Cg, r: Path) -> None:
    _submitted(cg, r)
    assert cg(r, "approve", PLAN_ID, "--revision", "1", "--now", NOW,
              email="dev@example.org").code == 0
    same = cg(r, "submit", plan_path(), "--now", NOW)
    assert same.code == 0 and "unchanged" in same.out
    write_plan(r, plan(title="Improve storage, take two"))
    res = cg(r, "submit", plan_path(), "--now", NOW)
    assert res.code == 0 and "revision 2" in res.out
    data = show(cg, r)
    assert data["state"] == "submitted" and data["revision"] == 2
    assert [a["stale"] for a in data["approvals"]] == [True]
    assert data["approvals"][0]["digest"] != data["digest"]
    assert cg(r, "start", PLAN_ID, "--now", IN_WINDOW).code == 1
    assert cg(r, "approve", PLAN_ID, "--revision", "2", "--now", NOW,
              email="dev@example.org").code == 0
    assert show(cg, r)["state"] == "approved"
    assert verify(cg, r)["ok"]


def test_changed_proposed_file_is_a_new_revision(cg: Cg, r: Path) -> None:
    _submitted(cg, r)
    (r / "db" / "apac-gateway.topology.yaml").write_text("proposed: 2\n")
    res = cg(r, "submit", plan_path(), "--now", NOW)
    assert res.code == 0 and "revision 2" in res.out


def test_reject_then_resubmit(cg: Cg, r: Path) -> None:
    _submitted(cg, r)
    res = cg(r, "reject", PLAN_ID, "--revision", "1", "--reason", "no evidence", "--now", NOW,
             email="dev@example.org")
    assert res.code == 0 and "rejected" in res.out
    assert cg(r, "approve", PLAN_ID, "--revision", "1", "--now", NOW,
              email="ravi@example.org").code == 1
    assert cg(r, "submit", plan_path(), "--now", NOW).code == 1  # same plan: still rejected
    write_plan(r, plan(description="with evidence"))
    assert cg(r, "submit", plan_path(), "--now", NOW).code == 0
    data = show(cg, r)
    assert data["state"] == "submitted" and data["revision"] == 2
    assert data["rejections"][0]["actor"] == "dev@example.org"
    assert verify(cg, r)["ok"]


def test_start_outside_window_refused(cg: Cg, r: Path) -> None:
    _submitted(cg, r)
    cg(r, "approve", PLAN_ID, "--revision", "1", "--now", NOW, email="dev@example.org")
    res = cg(r, "start", PLAN_ID, "--now", "2016-04-03T06:00:00+08:00")
    assert res.code == 1 and "inside its window" in res.err
    assert show(cg, r)["state"] == "approved"


def test_submit_refused_on_deny_writes_nothing(cg: Cg, r: Path) -> None:
    write_plan(r, plan(rollback=None))
    res = cg(r, "submit", plan_path(), "--now", NOW)
    assert res.code == 1 and "rollback-required" in res.out + res.err
    assert git(r, "for-each-ref", "refs/heads/changeguard") == ""


def test_only_author_may_submit(cg: Cg, r: Path) -> None:
    res = cg(r, "submit", plan_path(), "--now", NOW, email="dev@example.org")
    assert res.code == 1 and "author" in res.err


def test_unknown_change_and_bad_id(cg: Cg, r: Path) -> None:
    assert cg(r, "approve", "CHG-nope", "--revision", "1", "--now", NOW,
              email="dev@example.org").code == 1
    assert cg(r, "show", "../etc", "--now", NOW).code == 2


def test_freeze_blocks_start_except_emergency(cg: Cg, r: Path) -> None:
    _submitted(cg, r)
    cg(r, "approve", PLAN_ID, "--revision", "1", "--now", NOW, email="dev@example.org")
    denied = cg(r, "freeze", "--reason", "incident", "--now", NOW, email="ana@example.org")
    assert denied.code == 1 and "ravi@example.org" in denied.err
    assert cg(r, "freeze", "--reason", "incident", "--now", NOW, email="chen@example.org").code == 0
    res = cg(r, "start", PLAN_ID, "--now", IN_WINDOW)
    assert res.code == 1 and "freeze" in res.err
    assert cg(r, "unfreeze", "--now", NOW, email="dev@example.org").code == 0
    assert cg(r, "start", PLAN_ID, "--now", IN_WINDOW).code == 0
    assert verify(cg, r)["ok"]


def test_freeze_until_expires(cg: Cg, r: Path) -> None:
    _submitted(cg, r)
    cg(r, "approve", PLAN_ID, "--revision", "1", "--now", NOW, email="dev@example.org")
    assert cg(r, "freeze", "--reason", "x", "--until", "2016-04-03T01:30:00+08:00",
              "--now", NOW, email="ravi@example.org").code == 0
    assert cg(r, "start", PLAN_ID, "--now", "2016-04-03T01:10:00+08:00").code == 1
    assert cg(r, "start", PLAN_ID, "--now", IN_WINDOW).code == 0


def test_emergency_path_and_overdue_review(cg: Cg, r: Path) -> None:
    eid = "CHG-2016-0402-hotfix"
    write_plan(r, plan(id=eid, type="emergency",
                       window={"start": "2016-03-27T11:00:00+08:00",
                               "end": "2016-03-27T15:00:00+08:00"}))
    assert cg(r, "submit", plan_path(eid), "--now", NOW).code == 0
    assert cg(r, "approve", eid, "--revision", "1", "--now", NOW, email="dev@example.org").code == 0
    assert show(cg, r, eid)["state"] == "submitted"  # needs role cab
    assert cg(r, "approve", eid, "--revision", "1", "--now", NOW,
              email="chen@example.org").code == 0
    assert cg(r, "freeze", "--reason", "incident", "--now", NOW, email="ravi@example.org").code == 0
    assert cg(r, "start", eid, "--now", NOW).code == 0  # any time, even frozen
    assert cg(r, "complete", eid, "--now", "2016-03-27T12:00:00+08:00").code == 0
    late = "2016-03-30T13:00:00+08:00"  # > 72 h after complete
    rows = json.loads(cg(r, "list", "--overdue", "--format", "json", "--now", late).out)
    assert [x["id"] for x in rows] == [eid] and rows[0]["overdue"] is True
    early = json.loads(cg(r, "list", "--overdue", "--format", "json", "--now", LATER).out)
    assert early == []
    assert cg(r, "review", eid, "--comment", "rca done", "--now", late).code == 1  # author
    assert cg(r, "review", eid, "--comment", "rca done", "--now", late,
              email="ravi@example.org").code == 0
    assert json.loads(cg(r, "list", "--overdue", "--format", "json", "--now", late).out) == []
    assert verify(cg, r)["ok"]


def test_conflicting_changes_at_submit_and_waiver(cg: Cg, r: Path) -> None:
    _submitted(cg, r)
    other = "CHG-2016-0403-other"
    write_plan(r, plan(id=other, changes=[]))  # same service, overlapping window
    res = cg(r, "submit", plan_path(other), "--now", NOW)
    assert res.code == 1 and "conflicting-changes" in res.err and PLAN_ID in res.err
    write_plan(r, plan(id=other, changes=[], waivers=[
        {"rule": "conflicting-changes", "reason": "same team, coordinated"}]))
    assert cg(r, "submit", plan_path(other), "--now", NOW).code == 0
    # once the first change is cancelled it no longer conflicts
    third = "CHG-2016-0403-third"
    write_plan(r, plan(id=third, services=["other-svc"]))  # shares the path
    assert cg(r, "submit", plan_path(third), "--now", NOW).code == 1
    assert cg(r, "cancel", PLAN_ID, "--reason", "superseded", "--now", NOW).code == 0
    assert cg(r, "submit", plan_path(third), "--now", NOW).code == 0
    assert verify(cg, r)["ok"]


def test_cli_subprocess_identity_from_env(run_cli: RunCli, r: Path) -> None:
    assert run_cli("submit", plan_path(), "--now", NOW, cwd=r).code == 0
    res = run_cli("approve", PLAN_ID, "--revision", "1", "--now", NOW, cwd=r,
                  env={"GIT_AUTHOR_EMAIL": "dev@example.org", "GIT_INDEX_FILE": "/nonexistent"})
    assert res.code == 0, res.err
    assert "Changeguard-Actor: dev@example.org" in git(r, "log", "-1", "--format=%B",
                                                       "changeguard/log")


def test_list_filters_and_text_output(cg: Cg, r: Path) -> None:
    _submitted(cg, r)
    assert cg(r, "list", "--state", "approved", "--format", "json").out.strip() == "[]"
    rows = json.loads(cg(r, "list", "--state", "submitted", "--format", "json").out)
    assert [x["id"] for x in rows] == [PLAN_ID]
    assert cg(r, "list", "--state", "bogus").code == 2
    text = cg(r, "list").out
    assert PLAN_ID in text and "submitted" in text
    shown = cg(r, "show", PLAN_ID).out
    assert "revision 1" in shown and "waiting for approvals-normal" in shown


def test_log_sync_without_remote_is_a_usage_error(cg: Cg, r: Path) -> None:
    res = cg(r, "log", "sync")
    assert res.code == 2 and "no log remote" in res.err


def test_verify_empty_log(cg: Cg, r: Path) -> None:
    assert verify(cg, r) == {"ok": True, "events": 0, "problems": []}


def test_lifecycle_refusals_and_rollback(cg: Cg, r: Path) -> None:
    _submitted(cg, r)
    assert cg(r, "complete", PLAN_ID, "--now", IN_WINDOW).code == 1  # not started
    assert cg(r, "cancel", PLAN_ID, "--reason", "x", "--now", NOW,
              email="mallory@example.org").code == 1  # neither author nor roster
    cg(r, "approve", PLAN_ID, "--revision", "1", "--now", NOW, email="dev@example.org")
    assert cg(r, "start", PLAN_ID, "--now", IN_WINDOW, email="chen@example.org").code == 0
    res = cg(r, "rollback", PLAN_ID, "--reason", "lag > 60s", "--now", IN_WINDOW)
    assert res.code == 0 and "rolled_back" in res.out
    assert cg(r, "cancel", PLAN_ID, "--reason", "x", "--now", IN_WINDOW).code == 1  # closed
    write_plan(r, plan(title="retry"))
    assert cg(r, "submit", plan_path(), "--now", NOW).code == 1  # closed: use a new id
    assert show(cg, r)["state"] == "rolled_back"
    assert verify(cg, r)["ok"]
