"""SPEC §12 "Only a verified log is believed" (the hook), "A shortened log is visible to a
fresh clone" and "Stale clones say so", attacked with real git plumbing and the real CLI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from changeguard.changelog.state import dump_json, dump_state, list_row
from changeguard.changelog.store import Git as LogGit
from changeguard.changelog.verify import verify as verify_log
from changeguard.config import load_config
from tests.conftest import git
from tests.helpers.changelog import (
    IN_WINDOW,
    NOW,
    PLAN_ID,
    Cg,
    cg,
    config,
    make_repo,
    plan_path,
)

__all__ = ["cg"]
REF = "refs/heads/changeguard/log"
GUARDED = "db/apac-gateway.topology.yaml"


def _path(repo: Path, rev: str, part: str) -> str:
    return next(p for p in git(repo, "ls-tree", "-r", "--name-only", rev).split() if part in p)


def _plumb(repo: Path, *args: str, input: bytes | None = None) -> str:
    return subprocess.run(["git", *args], cwd=repo, input=input, capture_output=True,
                          check=True).stdout.decode().strip()


def _tree_with(repo: Path, tree: str, files: dict[str, str], prefix: str = "") -> str:
    """`tree` with some blobs replaced, rebuilt level by level with `mktree`."""
    rows = []
    for line in _plumb(repo, "ls-tree", tree).splitlines():
        meta, name = line.split("\t", 1)
        mode, kind, sha = meta.split()
        full = prefix + name
        if kind == "tree" and any(f.startswith(full + "/") for f in files):
            sha = _tree_with(repo, sha, files, full + "/")
        elif full in files:
            sha = files[full]
        rows.append(f"{mode} {kind} {sha}\t{name}\n")
    return _plumb(repo, "mktree", input="".join(rows).encode())


def _forge_approval(repo: Path) -> str:
    """A writer's forgery: the submitted change marked approved in state.json, no event."""
    tip = git(repo, "rev-parse", REF).strip()
    state_path = _path(repo, tip, "state.json")
    state = json.loads(git(repo, "show", f"{tip}:{state_path}"))
    state["state"] = "approved"
    state["approvals"] = [{"actor": "dev@example.org", "digest": state["digest"],
                           "stale": False, "at": NOW, "roles": ["dba"], "comment": None}]
    blobs = {p: _plumb(repo, "hash-object", "-w", "--stdin", input=data) for p, data in {
        state_path: dump_state(state),
        _path(repo, tip, "list/"): dump_json({PLAN_ID: list_row(state)})}.items()}
    tree = _tree_with(repo, git(repo, "rev-parse", f"{tip}^{{tree}}").strip(), blobs)
    forged = _plumb(repo, "commit-tree", tree, "-p", tip, "-m", "approve it quietly")
    git(repo, "update-ref", REF, forged, tip)
    return forged


def _commit(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A real `git commit` (installed hooks run), in the change's window."""
    env = dict(os.environ, CHANGEGUARD_NOW=IN_WINDOW, GIT_COMMITTER_DATE=IN_WINDOW,
               GIT_AUTHOR_DATE=IN_WINDOW)
    return subprocess.run(["git", "commit", "-q", "-m", "db2 volume", *args], cwd=repo,
                          env=env, capture_output=True, text=True, timeout=120)


def _install(repo: Path) -> None:
    p = subprocess.run([sys.executable, "-m", "changeguard", "install-hook"], cwd=repo,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr


def _stage_proposed(repo: Path) -> None:
    (repo / GUARDED).write_text("proposed: 2\n")
    git(repo, "add", GUARDED)


# --------------------------------------------------------------- 11. the hook verifies


def test_attack_forged_state_approval_fools_no_hook(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    repo = make_repo(tmp_path / "cfg")
    (repo / GUARDED).write_text("proposed: 2\n")
    assert cg(repo, "submit", plan_path(), "--now", NOW).code == 0
    assert cg(repo, "list", "--now", NOW).code == 0  # the genuine tip verifies and is cached
    forged = _forge_approval(repo)
    _install(repo)
    _stage_proposed(repo)
    p = _commit(repo)
    assert p.returncode == 1, p.stdout + p.stderr
    out = p.stdout + p.stderr
    assert f"does not verify at {forged}" in out and GUARDED in out
    assert git(repo, "rev-list", "--count", "HEAD").strip() == "1"  # nothing was committed
    res = cg(repo, "check", "--staged", "--now", IN_WINDOW)
    assert res.code == 1 and forged in res.out + res.err
    # the same approval given for real is believed: the hook verifies the new tip and commits
    # (the forgery is undone and forgotten: a ref moved back is itself a problem otherwise)
    git(repo, "update-ref", REF, f"{forged}~1", forged)
    git(repo, "reflog", "expire", "--expire=now", "--all")
    assert cg(repo, "approve", PLAN_ID, "--revision", "1", "--now", NOW,
              email="dev@example.org").code == 0
    p = _commit(repo)
    assert p.returncode == 0, p.stdout + p.stderr
    tip = git(repo, "rev-parse", REF).strip()
    assert f"Changeguard-Log: {tip}" in git(repo, "log", "-1", "--format=%B")


def test_incremental_verification_is_the_full_one_from_a_verified_tip(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    repo = make_repo(tmp_path / "cfg")
    assert cg(repo, "submit", plan_path(), "--now", NOW).code == 0
    base = git(repo, "rev-parse", REF).strip()
    for who in ("dev@example.org", "ravi@example.org"):
        assert cg(repo, "approve", PLAN_ID, "--revision", "1", "--now", NOW, email=who).code == 0
    log = LogGit(repo)
    try:
        cfg = load_config(repo)
        full, inc = verify_log(log, cfg), verify_log(log, cfg, since=base)
        assert full.ok and inc.ok and (full.events, inc.events) == (3, 3)  # all counted
        forged = _forge_approval(repo)  # a state no event explains, after the verified base
        full, inc = verify_log(log, cfg), verify_log(log, cfg, since=base)
    finally:
        log.close()
    assert [p.commit for p in inc.problems] == [p.commit for p in full.problems] == [forged]
    assert inc.problems[0].message == full.problems[0].message


# --------------------------------------------------------------- 10. anchors in the branch


def _shared(tmp_path: Path) -> tuple[Path, Path]:
    """A config repo whose log and main branch live on a bare remote (`origin`)."""
    seed = make_repo(tmp_path / "seed", config(log={"remote": "origin"}))
    bare = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(bare))
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(bare), str(work))
    return bare, work


def _fresh_clone(tmp_path: Path, bare: Path, name: str) -> Path:
    """What CI has: a new clone of the branch plus the fetched log."""
    fresh = tmp_path / name
    git(tmp_path, "clone", "-q", str(bare), str(fresh))
    git(fresh, "fetch", "-q", "origin", f"+{REF}:{REF}")
    return fresh


def test_attack_dropped_log_events_visible_to_fresh_clone(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    bare, work = _shared(tmp_path)
    (work / GUARDED).write_text("proposed: 2\n")
    assert cg(work, "submit", plan_path(), "--now", NOW).code == 0
    before = git(bare, "rev-parse", REF).strip()
    assert cg(work, "approve", PLAN_ID, "--revision", "1", "--now", NOW,
              email="dev@example.org").code == 0
    approved = git(bare, "rev-parse", REF).strip()
    _install(work)
    _stage_proposed(work)
    p = _commit(work)
    assert p.returncode == 0, p.stdout + p.stderr
    anchored = git(work, "rev-parse", "HEAD").strip()
    assert f"Changeguard-Log: {approved}" in git(work, "log", "-1", "--format=%B")
    git(work, "push", "-q", "origin", "main")
    assert cg(_fresh_clone(tmp_path, bare, "ci1"), "log", "verify").code == 0
    # the remote admin drops the approval: ref moved back, reflog expired, objects pruned
    git(bare, "update-ref", REF, before, approved)
    git(bare, "reflog", "expire", "--expire=now", "--all")
    git(bare, "gc", "-q", "--prune=now")
    fresh = _fresh_clone(tmp_path, bare, "ci2")
    res = cg(fresh, "log", "verify")
    assert res.code == 1, res.out + res.err
    assert f"FAILED at {anchored}" in res.err and "the log was shortened" in res.err
    assert "does not have at all" in res.out
    # a clone that still holds the dropped event sees it is no longer in the log's history
    git(work, "fetch", "-q", "origin", "main")
    git(work, "update-ref", REF, before, approved)
    git(work, "reflog", "expire", "--expire=now", "--all")
    res = cg(work, "log", "verify")
    assert res.code == 1 and "not in the current log's history" in res.out


def test_attack_deleted_log_visible_to_fresh_clone(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    bare, work = _shared(tmp_path)
    (work / GUARDED).write_text("proposed: 2\n")
    assert cg(work, "submit", plan_path(), "--now", NOW).code == 0
    assert cg(work, "approve", PLAN_ID, "--revision", "1", "--now", NOW,
              email="dev@example.org").code == 0
    _install(work)
    _stage_proposed(work)
    assert _commit(work).returncode == 0
    git(work, "push", "-q", "origin", "main")
    git(bare, "update-ref", "-d", REF)
    fresh = tmp_path / "ci"
    git(tmp_path, "clone", "-q", str(bare), str(fresh))
    res = cg(fresh, "log", "verify")
    assert res.code == 1 and "the log was shortened" in res.err


# --------------------------------------------------------------- stale clones say so


def test_stale_clone_says_when_it_last_fetched_the_log(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    bare, work = _shared(tmp_path)
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(bare), str(other))
    assert cg(work, "submit", plan_path(), "--now", NOW).code == 0  # pushed to the remote
    res = cg(other, "show", PLAN_ID, "--now", NOW)
    assert res.code == 1 and f"no change {PLAN_ID}" in res.err
    assert "never fetched from 'origin'" in res.err and "changeguard log sync" in res.err
    _install(other)
    _stage_proposed(other)
    p = _commit(other)
    assert p.returncode == 1 and "never fetched from 'origin'" in p.stderr
    assert cg(other, "log", "sync").code == 0
    stamps = list((other / ".git").glob("changeguard-fetched.*"))
    assert len(stamps) == 1
    hours_ago = time.time() - 3 * 3600 - 60
    os.utime(stamps[0], (hours_ago, hours_ago))
    res = cg(other, "show", PLAN_ID, "--now", NOW)
    assert res.code == 0 and "last fetched from 'origin' 3 hours ago" in res.err
    res = cg(other, "list", "--now", NOW)
    assert res.code == 0 and "last fetched from 'origin' 3 hours ago" in res.err
    res = cg(other, "show", "CHG-2016-0404-later", "--now", NOW)
    assert res.code == 1 and "3 hours ago; run `changeguard log sync`" in res.err


def test_anchor_never_names_a_local_event_the_remote_lacks(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    """`log sync` may replay an unpushed event under a new id: anchors name what the remote
    has, so a later sync can never make a landed commit's anchor dangle."""
    bare, work = _shared(tmp_path)
    (work / GUARDED).write_text("proposed: 2\n")
    assert cg(work, "submit", plan_path(), "--now", NOW).code == 0
    pushed = git(bare, "rev-parse", REF).strip()
    moved = tmp_path / "away.git"
    bare.rename(moved)  # the remote is unreachable: the approval stays local
    r = cg(work, "approve", PLAN_ID, "--revision", "1", "--now", NOW, email="dev@example.org")
    assert r.code == 0 and "unreachable" in r.err, r.err
    local = git(work, "rev-parse", REF).strip()
    assert local != pushed
    _install(work)
    _stage_proposed(work)
    p = _commit(work)
    assert p.returncode == 0, p.stdout + p.stderr
    body = git(work, "log", "-1", "--format=%B")
    assert f"Changeguard-Log: {pushed}" in body and local not in body


def test_commit_msg_stage_anchors_what_the_pre_commit_stage_guards(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    """Both stages share one rule: a `.gitattributes` that can rewrite guarded bytes is
    guarded (SPEC §12 "Paths"), so its commit is anchored too."""
    repo = make_repo(tmp_path / "cfg")
    (repo / GUARDED).write_text("proposed: 2\n")
    assert cg(repo, "submit", plan_path(), "--now", NOW).code == 0
    tip = git(repo, "rev-parse", REF).strip()
    assert cg(repo, "log", "verify").code == 0  # the tip is now a verified one
    (repo / ".gitattributes").write_text("db/** filter=rot13\n")
    git(repo, "add", ".gitattributes")
    msg = tmp_path / "MSG"
    msg.write_text("attributes\n")
    p = subprocess.run([sys.executable, "-m", "changeguard.hook", "--stage", "commit-msg",
                        str(msg)], cwd=repo, env=git_env, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    assert f"Changeguard-Log: {tip}" in msg.read_text()
