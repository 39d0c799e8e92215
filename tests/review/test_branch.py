"""SPEC §13 branch workflow: the hook accepts a change's proposed content on a branch other
than the trusted one (saying what it still needs); the gate judges what enters main.

Real repos, the real installed hooks (`git commit` runs pre-commit and commit-msg), the real
CLI; simulated time through `--now`/CHANGEGUARD_NOW and GIT_COMMITTER_DATE.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from changeguard.hook.coverage import window_text
from tests.conftest import git
from tests.helpers import Result
from tests.helpers.changelog import (
    IN_WINDOW,
    NOW,
    PLAN_ID,
    Cg,
    cg,
    make_repo,
    plan,
    plan_path,
    write_plan,
)

__all__ = ["cg"]
GUARDED = "db/apac-gateway.topology.yaml"
PROPOSED = "proposed: 2\n"
BEFORE_APPROVAL = "2016-03-28T09:00:00+08:00"
APPROVED_AT = "2016-03-29T10:00:00+08:00"
GATE_NOW = "2016-04-03T03:00:00+08:00"
WINDOW_TEXT = "2016-04-03 01:00–05:00 +08:00"
REF = "refs/heads/changeguard/log"


# ------------------------------------------------------------------ helpers


def _env(when: str) -> dict[str, str]:
    return dict(os.environ, CHANGEGUARD_NOW=when, GIT_COMMITTER_DATE=when,
                GIT_AUTHOR_DATE=when)


def _commit(repo: Path, when: str, msg: str = "db2 volume") -> subprocess.CompletedProcess[str]:
    """A real `git commit` at `when`: the installed pre-commit and commit-msg hooks run."""
    return subprocess.run(["git", "commit", "-q", "-m", msg], cwd=repo, env=_env(when),
                          capture_output=True, text=True, timeout=120)


def _merge(repo: Path, when: str, *args: str) -> None:
    subprocess.run(["git", "merge", "-q", *args], cwd=repo, env=_env(when), check=True,
                   capture_output=True, timeout=120)


def _hook(repo: Path, when: str, *args: str) -> Result:
    """The hook entry point itself (`python -m changeguard.hook`), as pre-commit runs it."""
    p = subprocess.run([sys.executable, "-m", "changeguard.hook", "--now", when, *args],
                       cwd=repo, env=_env(when), capture_output=True, text=True, timeout=120)
    return Result(p.returncode, p.stdout, p.stderr)


def _gate(repo: Path, base: str, head: str = "main") -> Result:
    p = subprocess.run([sys.executable, "-m", "changeguard", "check", "--range",
                        f"{base}..{head}", "--now", GATE_NOW, "--format", "json"],
                       cwd=repo, env=_env(GATE_NOW), capture_output=True, text=True,
                       timeout=120)
    return Result(p.returncode, p.stdout, p.stderr)


def _install(repo: Path) -> None:
    p = subprocess.run([sys.executable, "-m", "changeguard", "install-hook"], cwd=repo,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr


def _review(cg: Cg, repo: Path, verb: str, email: str, when: str, *extra: str) -> Result:
    """A workflow verb (`approve`, `reject`, `start`, ...) on the change as `email` at `when`
    (one place to bind approvals to a revision)."""
    bound = ("--revision", "1") if verb in ("approve", "reject") else ()  # one submit each
    return cg(repo, verb, PLAN_ID, *bound, "--now", when, *extra, email=email)


def _submitted(tmp_path: Path, cg: Cg, **changes: object) -> tuple[Path, str]:
    """A config repo on main whose change proposes PROPOSED for GUARDED (hooks installed)."""
    repo = make_repo(tmp_path / "cfg")
    if changes:
        write_plan(repo, plan(**changes))
        git(repo, "commit", "-q", "-am", "plan")
    base = git(repo, "rev-parse", "HEAD").strip()
    (repo / GUARDED).write_text(PROPOSED)
    r = cg(repo, "submit", plan_path(), "--now", NOW)
    assert r.code == 0, r.out + r.err
    git(repo, "checkout", "-q", "--", GUARDED)  # the working tree holds main's content again
    _install(repo)
    return repo, base


def _stage(repo: Path, text: str = PROPOSED, path: str = GUARDED) -> None:
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(text)
    git(repo, "add", path)


def _count(repo: Path, rev: str = "HEAD") -> int:
    return int(git(repo, "rev-list", "--count", rev))


def _coverage_findings(r: Result) -> list[dict[str, str]]:
    return [f for f in json.loads(r.out)["findings"] if f["rule"] == "guarded-path-coverage"]


# ------------------------------------------------------------------ the hook on a branch


def test_branch_commit_of_submitted_content_is_accepted_with_what_it_needs(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    repo, _ = _submitted(tmp_path, cg)
    git(repo, "checkout", "-q", "-b", "feature/x")
    _stage(repo)
    p = _commit(repo, BEFORE_APPROVAL)
    assert p.returncode == 0, p.stdout + p.stderr
    out = p.stdout + p.stderr
    assert (f"{GUARDED}: proposed content of {PLAN_ID} (revision 1, submitted): accepted on "
            f"branch feature/x; before it can reach main it needs 1 approval "
            f"(Dev, Chen, Ravi) and its window {WINDOW_TEXT}") in out
    assert "git merge --no-ff feature/x" in out
    assert _count(repo) == 2
    # the commit-msg stage anchored the branch commit to the verified log tip
    tip = git(repo, "rev-parse", REF).strip()
    assert f"Changeguard-Log: {tip}" in git(repo, "log", "-1", "--format=%B")
    # machine-readable: a warning, the run passes
    r = _hook(repo, BEFORE_APPROVAL, "--format", "json", GUARDED)
    assert r.code == 0 and json.loads(r.out)["ok"] is True  # nothing staged any more
    _stage(repo, "proposed: 1\n")
    git(repo, "commit", "-q", "--no-verify", "-m", "back")
    _stage(repo)
    r = _hook(repo, BEFORE_APPROVAL, "--format", "json")
    assert r.code == 0, r.out + r.err
    [f] = _coverage_findings(r)
    assert f["severity"] == "warn" and "accepted on branch feature/x" in f["message"]


def test_the_trusted_branch_and_a_detached_head_stay_strict(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    repo, _ = _submitted(tmp_path, cg)
    _stage(repo)
    p = _commit(repo, BEFORE_APPROVAL)
    assert p.returncode == 1 and "state is submitted, not approved" in p.stdout + p.stderr
    assert "accepted on branch" not in p.stdout + p.stderr
    git(repo, "checkout", "-q", "--detach")
    p = _commit(repo, BEFORE_APPROVAL)
    assert p.returncode == 1 and "accepted on branch" not in p.stdout + p.stderr
    assert _count(repo) == 1


def test_roles_still_missing_are_named_with_who_may_give_them(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    repo, _ = _submitted(tmp_path, cg, risk="high")  # builtin:default: 2 people, one dba
    git(repo, "checkout", "-q", "-b", "feature/x")
    _stage(repo)
    r = _hook(repo, BEFORE_APPROVAL)
    assert r.code == 0, r.out + r.err
    assert "needs 2 approvals, one of them by dba (Dev, Ravi)" in r.out
    assert _review(cg, repo, "approve", "chen@example.org", APPROVED_AT).code == 0
    r = _hook(repo, APPROVED_AT)
    assert r.code == 0, r.out + r.err
    assert f"it needs 1 approval by dba (Dev, Ravi) and its window {WINDOW_TEXT}" in r.out
    assert _review(cg, repo, "approve", "dev@example.org", APPROVED_AT).code == 0
    r = _hook(repo, APPROVED_AT)
    assert r.code == 0, r.out + r.err
    assert "(revision 1, approved)" in r.out
    assert f"before it can reach main it needs its window {WINDOW_TEXT}" in r.out


def test_branch_commit_in_a_linked_worktree_is_accepted(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    """HEAD is read from the worktree's own git dir (`.git` is a `gitdir:` file there)."""
    repo, _ = _submitted(tmp_path, cg)
    wt = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", "feature/wt", str(wt))
    _stage(wt)
    p = _commit(wt, BEFORE_APPROVAL)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "accepted on branch feature/wt" in p.stdout + p.stderr
    _stage(repo)  # the main worktree is still on main: strict
    assert _commit(repo, BEFORE_APPROVAL).returncode == 1


# ------------------------------------------------------------------ what a branch refuses


def test_attacker_content_no_change_proposes_is_refused_on_a_branch(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    repo, _ = _submitted(tmp_path, cg)
    git(repo, "checkout", "-q", "-b", "feature/x")
    _stage(repo, "proposed: 666\n")  # a path the change lists, other content
    p = _commit(repo, BEFORE_APPROVAL)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "blob differs" in p.stderr and "accepted on branch" not in p.stderr
    git(repo, "reset", "-q", "--hard")
    _stage(repo, "evil: 1\n", "db/evil.yaml")  # a path no change lists
    p = _commit(repo, BEFORE_APPROVAL)
    assert p.returncode == 1 and "no change in the log lists it" in p.stderr
    assert _count(repo) == 1


CLOSE = {
    "rejected": [("reject", "dev@example.org", APPROVED_AT, "--reason", "no")],
    "cancelled": [("cancel", "ana@example.org", APPROVED_AT, "--reason", "not now")],
    "completed": [("approve", "dev@example.org", APPROVED_AT),
                  ("start", "ana@example.org", "2016-04-03T01:10:00+08:00"),
                  ("complete", "ana@example.org", "2016-04-03T01:50:00+08:00")],
}


@pytest.mark.parametrize("closed", sorted(CLOSE))
def test_closed_change_content_is_refused_on_a_branch(
        closed: str, tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    repo, _ = _submitted(tmp_path, cg)
    for verb, email, when, *extra in CLOSE[closed]:
        r = _review(cg, repo, verb, email, when, *extra)
        assert r.code == 0, r.out + r.err
    git(repo, "checkout", "-q", "-b", "feature/x")
    _stage(repo)
    p = _commit(repo, IN_WINDOW)  # in the window, and after the change closed
    assert p.returncode == 1, p.stdout + p.stderr
    assert f"state is {closed}" in p.stderr and "accepted on branch" not in p.stderr


def test_content_of_a_change_whose_window_closed_is_refused_on_a_branch(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    repo, _ = _submitted(tmp_path, cg)
    git(repo, "checkout", "-q", "-b", "feature/x")
    _stage(repo)
    r = _hook(repo, "2016-04-03T06:00:00+08:00")  # it can never reach main with that window
    assert r.code == 1 and "accepted on branch" not in r.out


def test_a_freeze_does_not_refuse_a_branch_commit_but_is_named(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    repo, _ = _submitted(tmp_path, cg)
    r = cg(repo, "freeze", "--reason", "incident", "--now", NOW, email="ravi@example.org")
    assert r.code == 0, r.out + r.err
    git(repo, "checkout", "-q", "-b", "feature/x")
    _stage(repo)
    r = _hook(repo, BEFORE_APPROVAL)
    assert r.code == 0, r.out + r.err
    assert "accepted on branch feature/x" in r.out
    assert "the end of the freeze in force now (the line is frozen (incident))" in r.out
    git(repo, "checkout", "-q", "main")
    assert _hook(repo, BEFORE_APPROVAL).code == 1  # on main a freeze refuses, as ever


# ------------------------------------------------------------------ the gate judges main


def _branch_commit_before_approval(tmp_path: Path, cg: Cg) -> tuple[Path, str]:
    repo, base = _submitted(tmp_path, cg)
    git(repo, "checkout", "-q", "-b", "feature/x")
    _stage(repo)
    p = _commit(repo, BEFORE_APPROVAL)
    assert p.returncode == 0 and "accepted on branch feature/x" in p.stdout + p.stderr
    git(repo, "checkout", "-q", "main")
    return repo, base


def test_branch_merged_with_a_merge_commit_inside_the_window_passes_the_gate(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    repo, base = _branch_commit_before_approval(tmp_path, cg)
    assert _review(cg, repo, "approve", "dev@example.org", APPROVED_AT).code == 0
    _merge(repo, IN_WINDOW, "--no-ff", "-m", "Merge feature/x", "feature/x")
    assert (repo / GUARDED).read_text() == PROPOSED
    r = _gate(repo, base)
    assert r.code == 0, r.out + r.err
    assert json.loads(r.out)["ok"] is True
    assert cg(repo, "log", "verify").code == 0  # the merge's anchor names a real log tip


def test_fast_forward_of_a_pre_approval_commit_is_refused_with_merge_advice(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    repo, base = _branch_commit_before_approval(tmp_path, cg)
    assert _review(cg, repo, "approve", "dev@example.org", APPROVED_AT).code == 0
    _merge(repo, IN_WINDOW, "--ff-only", "feature/x")
    assert git(repo, "rev-parse", "main") == git(repo, "rev-parse", "feature/x")
    r = _gate(repo, base)
    assert r.code == 1, r.out + r.err
    [f] = _coverage_findings(r)
    assert f"approved only at {APPROVED_AT}, after this time" in f["message"]
    assert "git merge --no-ff" in f["hint"] and "merge commit made inside the window" in \
        f["hint"] and WINDOW_TEXT in f["hint"]


def test_gate_refuses_unapproved_branch_content_merged_into_main(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    repo, base = _branch_commit_before_approval(tmp_path, cg)
    _merge(repo, IN_WINDOW, "--no-ff", "-m", "Merge feature/x", "feature/x")
    r = _gate(repo, base)
    assert r.code == 1, r.out + r.err
    [f] = _coverage_findings(r)
    assert "state is submitted, not approved" in f["message"]
    assert git(repo, "rev-parse", "HEAD").strip()[:12] in f["message"]  # the merge is judged


def test_a_clone_of_a_shared_remote_is_strict_on_main_and_lenient_on_its_branch(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    """The trusted revision is `origin/main` there; HEAD's branch still decides."""
    origin, _ = _submitted(tmp_path, cg)
    bare = tmp_path / "shared.git"
    git(tmp_path, "clone", "-q", "--bare", str(origin), str(bare))
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(bare), str(clone))
    git(clone, "fetch", "-q", "origin", f"{REF}:{REF}")
    _install(clone)
    _stage(clone)
    p = _commit(clone, BEFORE_APPROVAL)
    assert p.returncode == 1 and "accepted on branch" not in p.stderr
    git(clone, "checkout", "-q", "-b", "review/db2")
    p = _commit(clone, BEFORE_APPROVAL)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "accepted on branch review/db2; before it can reach main" in p.stderr
    git(clone, "push", "-q", "origin", "review/db2")
    assert git(bare, "rev-parse", "review/db2") == git(clone, "rev-parse", "HEAD")


def test_window_text_names_both_days_when_it_spans_midnight() -> None:
    start = datetime.fromisoformat("2016-04-02T23:00:00-03:30")
    end = datetime.fromisoformat("2016-04-03T05:00:00+00:00")
    assert window_text(start, end) == "2016-04-02 23:00–2016-04-03 01:30 -03:30"
    early = datetime.fromisoformat("2016-04-02T20:00:00-03:30")
    same_day = datetime.fromisoformat("2016-04-03T02:00:00+00:00")  # 22:30 at -03:30
    assert window_text(early, same_day) == "2016-04-02 20:00–22:30 -03:30"
