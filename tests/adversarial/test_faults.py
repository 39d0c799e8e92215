"""Environment faults around the change log: no git, odd repositories, read-only `.git`,
an unreachable remote, and clocks that disagree between clones."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest

from tests.adversarial._harness import Measured, assert_bounded, run_measured
from tests.conftest import git
from tests.helpers.changelog import (
    NOW,
    PLAN_ID,
    config,
    make_repo,
    plan,
    plan_path,
    write_plan,
)
from tests.helpers.plans import write_yaml

REF = "refs/heads/changeguard/log"
DBA = "dev@example.org"


def cli(repo: Path, env: dict[str, str], *args: str, email: str = "ana@example.org",
        prefix: tuple[str, ...] = ()) -> Measured:
    e = {**env, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_NAME": email.split("@")[0]}
    m = run_measured(list(args), repo, e, prefix=list(prefix))
    assert_bounded(m)
    return m


def tip(repo: Path) -> str:
    return git(repo, "for-each-ref", "--format=%(objectname)", REF).strip()


def events(repo: Path, ref: str = REF) -> list[str]:
    return [s for s in git(repo, "log", "--reverse", "--format=%s", ref).split("\n") if s]


def verified(repo: Path, env: dict[str, str]) -> dict[str, object]:
    m = cli(repo, env, "log", "verify", "--format", "json")
    data: dict[str, object] = json.loads(m.out)
    assert m.code == (0 if data["ok"] else 1), m.err
    return data


@pytest.fixture
def r(tmp_path: Path, git_env: dict[str, str]) -> Path:
    return make_repo(tmp_path / "cfg")


# --- git itself missing or unusable -------------------------------------------------------

@pytest.mark.parametrize("args", [
    ("submit", plan_path(), "--now", NOW), ("approve", PLAN_ID, "--revision", "1", "--now", NOW),
    ("log", "verify"), ("list",), ("show", PLAN_ID), ("log", "sync"),
    ("freeze", "--reason", "x", "--now", NOW)], ids=lambda a: "-".join(a[:2]))
def test_git_missing_from_path(r: Path, tmp_path: Path, git_env: dict[str, str],
                               args: tuple[str, ...]) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    if args == ("log", "sync"):
        write_yaml(r / ".changeguard.yaml", config(log={"remote": "origin"}))
    m = cli(r, {**git_env, "PATH": str(empty)}, *args)
    assert m.code == 2, (m.out, m.err)
    assert m.err.startswith("error: ") and "git" in m.err.lower(), m.err
    assert tip(r) == ""


def test_bare_repository(tmp_path: Path, git_env: dict[str, str], r: Path) -> None:
    bare = tmp_path / "bare.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    for args in (("submit", str(r / plan_path()), "--now", NOW), ("log", "verify"),
                 ("list",)):
        m = cli(tmp_path, git_env, "--repo", str(bare), *args)
        assert m.code == 2 and m.err.startswith("error: "), (args, m.out, m.err)


def test_repo_without_commits(tmp_path: Path, git_env: dict[str, str]) -> None:
    """The log lives on its own ref: an unborn `main` does not stop it."""
    repo = tmp_path / "fresh"
    make_repo(repo)
    shutil.rmtree(repo / ".git")
    git(repo, "init", "-q", "-b", "main")
    m = cli(repo, git_env, "submit", plan_path(), "--now", NOW)
    if m.code == 0:
        assert events(repo) == [f"submit {PLAN_ID}"]
        assert verified(repo, git_env)["ok"]
    else:  # refusing is fine, but clearly and without writing
        assert m.code == 2 and m.err.startswith("error: "), m.err
        assert tip(repo) == ""


def test_detached_head(r: Path, git_env: dict[str, str]) -> None:
    git(r, "checkout", "-q", "--detach")
    head = git(r, "rev-parse", "HEAD")
    assert cli(r, git_env, "submit", plan_path(), "--now", NOW).code == 0
    assert cli(r, git_env, "approve", PLAN_ID, "--revision", "1", "--now", NOW, email=DBA).code == 0
    assert events(r) == [f"submit {PLAN_ID}", f"approve {PLAN_ID}"]
    assert verified(r, git_env)["ok"]
    assert git(r, "rev-parse", "HEAD") == head
    assert git(r, "status", "--porcelain") == ""


def test_shallow_clone(tmp_path: Path, git_env: dict[str, str], r: Path) -> None:
    for i in range(3):
        (r / f"extra{i}").write_text(str(i))
        git(r, "add", "-A")
        git(r, "commit", "-q", "-m", f"c{i}")
    assert cli(r, git_env, "submit", plan_path(), "--now", NOW).code == 0
    assert cli(r, git_env, "approve", PLAN_ID, "--revision", "1", "--now", NOW, email=DBA).code == 0
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{r}", str(shallow))
    other = "CHG-2016-0410-shallow"
    write_plan(shallow, plan(id=other, services=["svc-s"], changes=[{"path": "db/s.yaml"}]))
    assert cli(shallow, git_env, "submit", plan_path(other), "--now", NOW).code == 0
    assert verified(shallow, git_env)["ok"]
    # a log fetched shallowly cannot be replayed from its root: say so (exit 2), do not crash
    thin = tmp_path / "thin"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{r}", str(thin))
    git(thin, "fetch", "-q", "--depth", "1", "origin", f"+{REF}:{REF}")
    m = cli(thin, git_env, "--config", str(thin / ".changeguard.yaml"), "log", "verify")
    assert m.code == 2 and "shallow" in m.err and "Traceback" not in m.err, (m.code, m.err)


def _read_only(paths: list[Path]) -> None:
    for base in paths:
        for p in [base, *base.rglob("*")] if base.is_dir() else [base]:
            mode = p.stat().st_mode
            p.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


# root ignores permission bits; without these capabilities it honours them like anyone
NO_ROOT_OVERRIDE = ("setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--")


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs util-linux setpriv")
@pytest.mark.parametrize("scope", ["whole .git", "refs only"])
@pytest.mark.parametrize("args", [("submit", plan_path(), "--now", NOW),
                                  ("approve", PLAN_ID, "--revision", "1", "--now", NOW),
                                  ("freeze", "--reason", "x", "--now", NOW)],
                         ids=lambda a: a[0])
def test_read_only_git_dir(r: Path, git_env: dict[str, str], scope: str,
                           args: tuple[str, ...]) -> None:
    if args[0] != "submit":
        assert cli(r, git_env, "submit", plan_path(), "--now", NOW).code == 0
    before = tip(r)
    dot = r / ".git"
    targets = [dot] if scope == "whole .git" else [dot / "refs", dot]
    if scope == "refs only":
        dot.chmod(dot.stat().st_mode & ~0o222)
    _read_only(targets)
    try:
        m = cli(r, git_env, *args, email="chen@example.org" if args[0] != "submit"
                else "ana@example.org", prefix=NO_ROOT_OVERRIDE)
    finally:
        for p in [dot, *dot.rglob("*")]:
            p.chmod(p.stat().st_mode | stat.S_IWUSR)
    assert m.code == 2, (m.out, m.err)
    assert m.err.startswith("error: "), m.err
    assert tip(r) == before
    assert list(dot.rglob("*.lock")) == []
    # once writable again the same command goes through
    again = cli(r, git_env, *args, email="chen@example.org" if args[0] != "submit"
                else "ana@example.org")
    assert again.code == 0, again.err
    assert verified(r, git_env)["ok"]


# --- the remote ---------------------------------------------------------------------------

def _clones(tmp_path: Path, n: int = 2) -> tuple[Path, list[Path]]:
    seed = make_repo(tmp_path / "seed", config(log={"remote": "origin"}))
    bare = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(bare))
    clones = []
    for i in range(n):
        c = tmp_path / f"clone{i}"
        git(tmp_path, "clone", "-q", str(bare), str(c))
        clones.append(c)
    return bare, clones


def test_remote_unreachable_during_submit(tmp_path: Path, git_env: dict[str, str]) -> None:
    bare, (a,) = _clones(tmp_path, 1)
    git(a, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    m = cli(a, git_env, "submit", plan_path(), "--now", NOW)
    assert m.code == 0 and "unreachable" in m.err, (m.out, m.err)
    assert events(a) == [f"submit {PLAN_ID}"]  # kept locally
    assert git(bare, "for-each-ref", REF) == ""
    failed = cli(a, git_env, "log", "sync")
    assert failed.code != 0 and failed.err.startswith("error: "), failed.err
    assert events(a) == [f"submit {PLAN_ID}"]
    git(a, "remote", "set-url", "origin", str(bare))
    assert cli(a, git_env, "log", "sync").code == 0
    assert events(bare) == [f"submit {PLAN_ID}"]
    assert cli(a, git_env, "log", "sync").code == 0  # idempotent: pushed once
    assert events(bare) == [f"submit {PLAN_ID}"]
    assert verified(a, git_env)["ok"]


def test_clock_skew_between_clones(tmp_path: Path, git_env: dict[str, str]) -> None:
    """Clone b's clock runs two days behind: order comes from the log, not the clocks."""
    bare, (a, b) = _clones(tmp_path)
    assert cli(a, git_env, "submit", plan_path(), "--now", NOW).code == 0
    assert cli(b, git_env, "log", "sync").code == 0
    behind = "2016-03-25T10:00:00+08:00"
    m = cli(b, git_env, "approve", PLAN_ID, "--revision", "1", "--comment", "skewed", "--now",
            behind, email=DBA)
    assert m.code == 0, m.err
    still_behind = "2016-03-25T09:00:00+08:00"
    assert cli(b, git_env, "approve", PLAN_ID, "--revision", "1", "--now", still_behind,
               email="ravi@example.org").code in (0, 1)
    assert cli(a, git_env, "log", "sync").code == 0
    assert events(a)[:2] == [f"submit {PLAN_ID}", f"approve {PLAN_ID}"]
    assert events(a) == events(b) == events(bare)
    shown = json.loads(cli(a, git_env, "show", PLAN_ID, "--format", "json").out)
    assert [e["event"] for e in shown["events"]][:2] == ["submit", "approve"]
    assert shown["state"] == "approved"
    assert verified(a, git_env)["ok"] and verified(b, git_env)["ok"]
