"""SPEC §12: each attack on the trust model, reproduced with the real CLI and real git.

An attacker here is a roster member or repo writer who uses git plumbing (`hash-object`,
`mktree`, `commit-tree`, `update-ref`) where the CLI would refuse. Each test fails on a
changeguard that believes the forged record, and names the check that catches it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from changeguard.changelog.events import CLOCK_TRAILER, SIMULATED, format_message, parse_message
from changeguard.changelog.state import apply, dump_json, dump_state, list_row
from changeguard.changelog.workflow import make_world
from changeguard.model import GuardConfig
from tests.changelog.test_verify import _commit_on_tip, _keygen, _use_key
from tests.conftest import git
from tests.helpers.changelog import (
    IN_WINDOW,
    NOW,
    PLAN_ID,
    Cg,
    cg,
    config,
    make_repo,
    plan,
    plan_path,
    verify,
    write_plan,
)
from tests.helpers.plans import write_yaml

__all__ = ["cg"]
REF = "refs/heads/changeguard/log"


def _plumb(repo: Path, *args: str, input: bytes | None = None) -> str:
    """An attacker's git call (their own environment: identity, signing key)."""
    return subprocess.run(["git", *args], cwd=repo, input=input, capture_output=True,
                          check=True, env=os.environ).stdout.decode().strip()


def _signed_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, Path]]:
    """A require_signed config repo where ana, dev and ravi each hold only their own key."""
    keys = tmp_path / "keys"
    keys.mkdir()
    cfg = config(require_signed=True)
    paths: dict[str, Path] = {}
    for r in cfg["reviewers"]:
        name = r["email"].split("@")[0]
        paths[name], r["signing_key"] = _keygen(keys, name)
    repo = make_repo(tmp_path / "cfg", cfg)
    _use_key(monkeypatch, paths["ana"])
    return repo, paths


def _as(monkeypatch: pytest.MonkeyPatch, keys: dict[str, Path], name: str) -> str:
    """Act as `name` with their own key (what a real person's shell has)."""
    _use_key(monkeypatch, keys[name])
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", f"{name}@example.org")
    monkeypatch.setenv("GIT_AUTHOR_NAME", name)
    return f"{name}@example.org"


def _propose(repo: Path, content: str) -> None:
    """New proposed content for the guarded file: same plan text, a new revision (§13)."""
    (repo / "db" / "apac-gateway.topology.yaml").write_text(content)


# --------------------------------------------------------------- 1. record splitting


def _path(repo: Path, rev: str, part: str) -> str:
    """The one tree path of `rev` containing `part`."""
    return next(p for p in git(repo, "ls-tree", "-r", "--name-only", rev).split() if part in p)


def _raw_line(repo: Path, rev: str, path: str) -> str:
    """A `git log --raw` line claiming `path` changed to its blob at `rev`."""
    blob = git(repo, "rev-parse", f"{rev}:{path}").strip()
    return f":100644 100644 {blob} {blob} M\t{path}\n"


def _raw_lines(repo: Path, rev: str) -> str:
    out = _plumb(repo, "diff-tree", "-r", "--raw", "--no-renames", "--no-abbrev", rev)
    return "".join(line + "\n" for line in out.splitlines()[1:])



def test_attack_record_splitting_borrows_a_signed_approval(
        tmp_path: Path, git_env: dict[str, str], cg: Cg,
        monkeypatch: pytest.MonkeyPatch) -> None:
    repo, keys = _signed_repo(tmp_path, monkeypatch)
    assert cg(repo, "submit", plan_path(), "--now", NOW).code == 0
    _as(monkeypatch, keys, "ravi")
    assert cg(repo, "approve", PLAN_ID, "--revision", "1", "--now", NOW,
              email="ravi@example.org").code == 0
    ravi_rev1 = git(repo, "rev-parse", REF).strip()
    # ana prepares revision 2 and, in a scratch copy with signing off, the commits a real
    # submit and a real approval by ravi would make; she has ravi's signature only on rev 1
    _propose(repo, "proposed: 2  # not what ravi reviewed\n")
    scratch = tmp_path / "scratch"
    shutil.copytree(repo, scratch)
    (scratch / ".changeguard.yaml").write_text(
        (scratch / ".changeguard.yaml").read_text().replace("require_signed: true",
                                                            "require_signed: false"))
    _use_key(monkeypatch, None)
    git(scratch, "commit", "-q", "-m", "signing off", "--", ".changeguard.yaml")
    assert cg(scratch, "submit", plan_path(), "--now", NOW).code == 0
    assert cg(scratch, "approve", PLAN_ID, "--revision", "2", "--now", NOW,
              email="ravi@example.org").code == 0
    _as(monkeypatch, keys, "ana")
    git(repo, "fetch", "-q", str(scratch), f"{REF}:refs/scratch")
    sub2, app2 = git(repo, "rev-parse", "refs/scratch~1", "refs/scratch").split()
    git(repo, "update-ref", "-d", "refs/scratch")
    plan_yaml, shard = _path(repo, app2, "plan.yaml"), _path(repo, app2, "list/")
    # the record for ana's commit claims the files of a real submit; the borrowed record
    # claims the list row, and git appends the real diff (state.json) to it
    msg = (git(repo, "log", "-1", "--format=%B", sub2) + "\x1f\n"
           + _raw_lines(repo, sub2) + _raw_line(repo, app2, plan_yaml)
           + f"\x1e{ravi_rev1}\x1f{ravi_rev1}\x1fravi@example.org\x1f"
           + git(repo, "log", "-1", "--format=%B", app2).rstrip("\n")
           + "\x1f\n" + _raw_line(repo, app2, shard))
    tree = git(repo, "rev-parse", f"{app2}^{{tree}}").strip()
    forged = _plumb(repo, "commit-tree", "-S", tree, "-p", ravi_rev1, input=msg.encode())
    git(repo, "update-ref", REF, forged, ravi_rev1)

    rep = verify(cg, repo)
    assert not rep["ok"]
    assert rep["problems"][0]["commit"] == forged
    assert "control character" in rep["problems"][0]["message"]
    res = cg(repo, "log", "verify")
    assert res.code == 1 and forged in res.err
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    git(clone, "fetch", "-q", "origin", f"{REF}:{REF}")
    assert verify(cg, clone)["problems"][0]["commit"] == forged
    # and the gate does not believe the log either
    git(repo, "add", "db")
    git(repo, "commit", "-q", "-m", "db2 volume",
        env=dict(os.environ, GIT_COMMITTER_DATE=IN_WINDOW, GIT_AUTHOR_DATE=IN_WINDOW))
    res = cg(repo, "check", "--range", "HEAD~1..HEAD")
    assert res.code == 1 and forged in res.err


def test_attack_stray_record_separator_is_a_problem_not_a_traceback(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    repo = make_repo(tmp_path / "cfg")
    assert cg(repo, "submit", plan_path(), "--now", NOW).code == 0
    assert cg(repo, "approve", PLAN_ID, "--revision", "1", "--now", NOW,
              email="dev@example.org").code == 0
    tip = git(repo, "rev-parse", REF).strip()
    msg = git(repo, "log", "-1", "--format=%B", tip).replace("\n\n", "\n\n\x1e", 1)
    tree = git(repo, "rev-parse", f"{tip}^{{tree}}").strip()
    env = dict(os.environ, GIT_AUTHOR_EMAIL="dev@example.org")
    bad = subprocess.run(["git", "commit-tree", tree, "-p", f"{tip}~1"], cwd=repo, env=env,
                         input=msg, capture_output=True, text=True, check=True).stdout.strip()
    git(repo, "update-ref", REF, bad)
    res = cg(repo, "log", "verify")
    assert res.code == 1 and "Traceback" not in res.err and "internal error" not in res.err
    assert bad in res.err and "control character" in res.err


def test_attack_control_character_in_event_text_refused_on_write(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    repo = make_repo(tmp_path / "cfg")
    assert cg(repo, "submit", plan_path(), "--now", NOW).code == 0
    before = git(repo, "rev-parse", REF).strip()
    res = cg(repo, "approve", PLAN_ID, "--revision", "1", "--now", NOW, "--comment", "ok\x1eforged",
             email="dev@example.org")
    assert res.code == 2 and "--comment contains control character(s) U+001E" in res.err
    assert git(repo, "rev-parse", REF).strip() == before


# --------------------------------------------------------------- 16. non-UTF-8 argv


@pytest.mark.parametrize("args", [
    ("approve", PLAN_ID, "--revision", "1", "--comment"), ("reject", PLAN_ID, "--revision", "1",
                                                           "--reason"),
    ("freeze", "--reason")])
def test_attack_non_utf8_event_text_is_a_usage_error(
        tmp_path: Path, git_env: dict[str, str], cg: Cg, args: tuple[str, ...]) -> None:
    repo = make_repo(tmp_path / "cfg")
    assert cg(repo, "submit", plan_path(), "--now", NOW).code == 0
    before = git(repo, "rev-parse", REF).strip()
    env = dict(git_env, GIT_AUTHOR_EMAIL="ravi@example.org")
    p = subprocess.run([sys.executable, "-m", "changeguard", *args, b"bad \xff byte",
                        "--now", NOW], cwd=repo, env=env, capture_output=True, text=True)
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr and f"{args[-1]} is not valid UTF-8" in p.stderr
    assert git(repo, "rev-parse", REF).strip() == before


# --------------------------------------------------------------- 13. someone else's key


def test_attack_event_signed_with_another_members_key_is_not_written(
        tmp_path: Path, git_env: dict[str, str], cg: Cg,
        monkeypatch: pytest.MonkeyPatch) -> None:
    repo, keys = _signed_repo(tmp_path, monkeypatch)
    assert cg(repo, "submit", plan_path(), "--now", NOW).code == 0
    before = git(repo, "rev-parse", REF).strip()
    _use_key(monkeypatch, keys["dev"])  # ravi's shell holds dev's key
    res = cg(repo, "approve", PLAN_ID, "--revision", "1", "--now", NOW, email="ravi@example.org")
    assert res.code == 1 and "not with the roster key of ravi@example.org" in res.err
    assert git(repo, "rev-parse", REF).strip() == before
    _use_key(monkeypatch, keys["ravi"])
    assert cg(repo, "approve", PLAN_ID, "--revision", "1", "--now", NOW,
              email="ravi@example.org").code == 0
    assert verify(cg, repo)["ok"]


# --------------------------------------------------------------- 6. people, not strings


def test_attack_self_approval_through_an_alias_author(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    repo = make_repo(tmp_path / "cfg")
    alias = "ana+cg@example.org"  # the same person as roster member ana@example.org
    write_plan(repo, plan(author=alias))
    res = cg(repo, "submit", plan_path(), "--now", NOW, email=alias)
    assert res.code == 1 and f"author {alias} is not a roster member" in res.err
    assert git(repo, "for-each-ref", REF) == ""
    # written anyway where the alias was on a roster, then brought over with plain git
    scratch = tmp_path / "scratch"
    shutil.copytree(repo, scratch)
    cfg = config()
    cfg["reviewers"].append({"email": alias, "roles": []})
    write_yaml(scratch / ".changeguard.yaml", cfg)
    git(scratch, "commit", "-q", "-m", "alias in roster", "--", ".changeguard.yaml")
    assert cg(scratch, "submit", plan_path(), "--now", NOW, email=alias).code == 0
    git(repo, "fetch", "-q", str(scratch), f"{REF}:{REF}")
    rep = verify(cg, repo)
    assert rep["problems"][0]["commit"] == git(repo, "rev-parse", REF).strip()
    assert "is not a roster member" in rep["problems"][0]["message"]


# --------------------------------------------------------------- 5. summaries re-derived


def _rewrite_submit(repo: Path, **claims: object) -> str:
    """ana re-writes her own (signed) submit so its summary claims more than the plan says."""
    tip = git(repo, "rev-parse", REF).strip()
    msg = git(repo, "log", "-1", "--format=%B", tip)
    ev = parse_message(msg)
    assert ev.plan is not None
    forged = replace(ev, plan={**ev.plan, **claims})  # type: ignore[typeddict-item]
    state = apply(forged, None, make_world(GuardConfig.model_validate(config()), None))
    files = {_path(repo, tip, "state.json"): dump_state(state),
             _path(repo, tip, "list/"): dump_json({PLAN_ID: list_row(state)})}
    env = dict(os.environ, GIT_INDEX_FILE=str(repo / ".git" / "attacker-index"))
    subprocess.run(["git", "read-tree", tip], cwd=repo, env=env, check=True)
    for path, data in files.items():
        blob = _plumb(repo, "hash-object", "-w", "--stdin", input=data)
        subprocess.run(["git", "update-index", "--cacheinfo", f"100644,{blob},{path}"],
                       cwd=repo, env=env, check=True)
    tree = subprocess.run(["git", "write-tree"], cwd=repo, env=env, capture_output=True,
                          text=True, check=True).stdout.strip()
    msg = format_message(forged, {CLOCK_TRAILER: SIMULATED})  # as the CLI writes it here
    new = _plumb(repo, "commit-tree", "-S", tree, input=msg.encode())
    git(repo, "update-ref", REF, new, tip)
    return new


@pytest.mark.parametrize("claims", [
    {"type": "emergency", "window": {"start": "2016-04-03T01:00:00+08:00",
                                     "end": "2030-04-03T05:00:00+08:00"}},
    {"risk": "low"},
    {"requirements": []},
    {"waivers": ["approvals-required"]},
])
def test_attack_signed_submit_summary_claims_more_than_its_plan(
        tmp_path: Path, git_env: dict[str, str], cg: Cg, monkeypatch: pytest.MonkeyPatch,
        claims: dict[str, object]) -> None:
    repo, _ = _signed_repo(tmp_path, monkeypatch)
    assert cg(repo, "submit", plan_path(), "--now", NOW).code == 0
    forged = _rewrite_submit(repo, **claims)
    rep = verify(cg, repo)
    assert rep["problems"][0]["commit"] == forged
    msg = rep["problems"][0]["message"]
    assert "submit summary differs from the stored plan" in msg
    assert all(k in msg for k in claims)


# --------------------------------------------------------------- 11. only a verified log


def test_attack_forged_state_approval_is_not_believed(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    repo = make_repo(tmp_path / "cfg")
    (repo / "db" / "apac-gateway.topology.yaml").write_text("proposed: 2\n")
    assert cg(repo, "submit", plan_path(), "--now", NOW).code == 0
    tip = git(repo, "rev-parse", REF).strip()
    state = json.loads(git(repo, "show", f"{tip}:{_path(repo, tip, 'state.json')}"))
    state["state"] = "approved"
    state["approvals"] = [{"actor": "dev@example.org", "digest": state["digest"],
                           "stale": False, "at": NOW, "roles": ["dba"], "comment": None}]
    shard = _path(repo, tip, "list/")
    forged = _commit_on_tip(repo, {_path(repo, tip, "state.json"): dump_state(state),
                                   shard: dump_json({PLAN_ID: list_row(state)})},
                            "approve it quietly\n")
    git(repo, "add", "db")
    git(repo, "commit", "-q", "-m", "db2 volume",
        env=dict(os.environ, GIT_COMMITTER_DATE=IN_WINDOW, GIT_AUTHOR_DATE=IN_WINDOW))
    res = cg(repo, "check", "--range", "HEAD~1..HEAD")
    assert res.code == 1 and forged in res.err and "does not verify" in res.err
    for args in (("show", PLAN_ID), ("list",)):
        res = cg(repo, *args, "--now", NOW)
        assert res.code == 0 and f"the change log does not verify at {forged}" in res.err
