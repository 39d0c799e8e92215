"""`approve`/`reject` bind to the revision the reviewer saw (SPEC §13, issue 15 item 3)."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, RunCli, git
from tests.helpers.changelog import (
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
REF = "refs/heads/changeguard/log"
DEV = "dev@example.org"


@pytest.fixture
def r(tmp_path: Path, git_env: dict[str, str], cg: Cg) -> Path:
    """A change at revision 2 (the author re-submitted a new title); digests known."""
    repo = make_repo(tmp_path / "cfg")
    assert cg(repo, "submit", plan_path(), "--now", NOW).code == 0
    return repo


def _resubmit(cg: Cg, repo: Path, title: str = "Improve API-gateway storage (APAC), v2") -> str:
    write_plan(repo, plan(title=title))
    res = cg(repo, "submit", plan_path(), "--now", NOW)
    assert res.code == 0 and "submitted revision" in res.out, res.err
    return str(show(cg, repo)["digest"])


def _events(repo: Path) -> list[str]:
    """Subjects of the log's events, newest first."""
    return [line for line in git(repo, "log", "--format=%s", REF).splitlines() if line]


# --------------------------------------------------------------- --revision / --digest


def test_approve_of_an_older_revision_is_refused_and_records_nothing(r: Path, cg: Cg) -> None:
    old = show(cg, r)["digest"]
    new = _resubmit(cg, r)
    before = verify(cg, r)["events"]
    res = cg(r, "approve", PLAN_ID, "--revision", "1", "--now", NOW, email=DEV)
    assert res.code == 1, res.err
    assert f"{PLAN_ID} is at revision 2 ({new}), you asked to approve revision 1" in res.err
    assert f"changeguard show {PLAN_ID}" in res.err and "nothing was recorded" in res.err
    assert new != old
    rep = verify(cg, r)
    assert rep["ok"] and rep["events"] == before
    assert show(cg, r)["approvals"] == []


def test_approve_of_the_current_revision_is_recorded_with_its_digest(r: Path, cg: Cg) -> None:
    new = _resubmit(cg, r)
    res = cg(r, "approve", PLAN_ID, "--revision", "2", "--comment", "ok", "--now", NOW,
             email=DEV)
    assert res.code == 0, res.err
    data = show(cg, r)
    assert [(a["actor"], a["digest"], a["stale"]) for a in data["approvals"]] == \
        [(DEV, new, False)]
    assert data["state"] == "approved" and verify(cg, r)["ok"]


def test_digest_of_another_revision_is_refused_the_current_one_recorded(r: Path,
                                                                        cg: Cg) -> None:
    old = str(show(cg, r)["digest"])
    new = _resubmit(cg, r)
    res = cg(r, "approve", PLAN_ID, "--digest", old, "--now", NOW, email=DEV)
    assert res.code == 1 and f"you asked to approve {old}" in res.err, res.err
    assert _events(r)[0] == f"submit {PLAN_ID}"
    assert cg(r, "approve", PLAN_ID, "--digest", new, "--now", NOW, email=DEV).code == 0
    assert _events(r)[0] == f"approve {PLAN_ID}"


def test_revision_and_digest_together_must_both_be_current(r: Path, cg: Cg) -> None:
    old = str(show(cg, r)["digest"])
    new = _resubmit(cg, r)
    res = cg(r, "approve", PLAN_ID, "--revision", "2", "--digest", old, "--now", NOW, email=DEV)
    assert res.code == 1 and f"revision 2 ({old})" in res.err, res.err
    res = cg(r, "approve", PLAN_ID, "--revision", "1", "--digest", new, "--now", NOW, email=DEV)
    assert res.code == 1
    assert show(cg, r)["approvals"] == []
    assert cg(r, "approve", PLAN_ID, "--revision", "2", "--digest", new, "--now", NOW,
              email=DEV).code == 0


def test_a_revision_this_clone_lacks_suggests_log_sync(r: Path, cg: Cg) -> None:
    res = cg(r, "approve", PLAN_ID, "--revision", "3", "--now", NOW, email=DEV)
    assert res.code == 1 and "you asked to approve revision 3" in res.err
    assert "changeguard log sync" in res.err
    assert _events(r) == [f"submit {PLAN_ID}"]


@pytest.mark.parametrize("bad", ["abc", "sha256:" + "g" * 64, "sha256:" + "A" * 64,
                                 "sha256:" + "a" * 63, "sha1:" + "a" * 40, "a" * 64])
def test_malformed_digest_is_a_usage_error(r: Path, cg: Cg, bad: str) -> None:
    res = cg(r, "approve", PLAN_ID, "--digest", bad, "--now", NOW, email=DEV)
    assert res.code == 2 and "is not a change digest" in res.err and "sha256:<64" in res.err
    assert _events(r) == [f"submit {PLAN_ID}"]


def test_revision_must_be_positive(r: Path, cg: Cg) -> None:
    assert cg(r, "approve", PLAN_ID, "--revision", "0", "--now", NOW, email=DEV).code == 2
    assert _events(r) == [f"submit {PLAN_ID}"]


def test_reject_binds_like_approve(r: Path, cg: Cg) -> None:
    old = str(show(cg, r)["digest"])
    new = _resubmit(cg, r)
    for opt in (["--revision", "1"], ["--digest", old]):
        res = cg(r, "reject", PLAN_ID, *opt, "--reason", "no", "--now", NOW, email=DEV)
        assert res.code == 1 and "you asked to reject" in res.err, res.err
    assert show(cg, r)["state"] == "submitted" and show(cg, r)["rejections"] == []
    res = cg(r, "reject", PLAN_ID, "--revision", "2", "--reason", "no", "--now", NOW, email=DEV)
    assert res.code == 0, res.err
    data = show(cg, r)
    assert data["state"] == "rejected" and data["rejections"][0]["digest"] == new
    assert verify(cg, r)["ok"]


# --------------------------------------------------------------- non-interactive, no option


@pytest.mark.parametrize("kind", ["approve", "reject"])
def test_without_revision_off_a_terminal_is_exit_2_naming_the_revision(
        r: Path, cg: Cg, run_cli: RunCli, kind: str) -> None:
    new = _resubmit(cg, r)
    extra = ["--reason", "no"] if kind == "reject" else []
    res = run_cli(kind, PLAN_ID, *extra, "--now", NOW, cwd=r,
                  env={"GIT_AUTHOR_EMAIL": DEV}, input="y\n")
    assert res.code == 2, res.err
    assert f"hint: changeguard {kind} {PLAN_ID} --revision 2" in res.err
    assert new in res.err and "Traceback" not in res.err
    assert _events(r)[0] == f"submit {PLAN_ID}"


# --------------------------------------------------------------- the CAS retry, and verify


def _forge_digest(repo: Path, swap_from: str, swap_to: str) -> str:
    """Rewrite the tip event's message so it names another digest (plain git plumbing)."""
    tip = git(repo, "rev-parse", REF).strip()
    msg = git(repo, "log", "-1", "--format=%B", tip)
    assert swap_from in msg
    fields = git(repo, "log", "-1", "--format=%T%n%P%n%an%n%ae%n%ad%n%cd", "--date=raw",
                 tip).split("\n")
    tree, parent, name, email, adate, cdate = fields[:6]
    env = dict(os.environ, GIT_AUTHOR_NAME=name, GIT_AUTHOR_EMAIL=email, GIT_AUTHOR_DATE=adate,
               GIT_COMMITTER_DATE=cdate)
    forged = subprocess.run(["git", "commit-tree", tree, "-p", parent], cwd=repo, env=env,
                            input=msg.replace(swap_from, swap_to), capture_output=True,
                            text=True, check=True).stdout.strip()
    git(repo, "update-ref", REF, forged, tip)
    return forged


@pytest.mark.parametrize("kind", ["approve", "reject"])
def test_verify_flags_a_review_bound_to_an_older_digest(r: Path, cg: Cg, kind: str) -> None:
    """What a lost CAS race would record without apply()'s digest check: verify names it."""
    old = str(show(cg, r)["digest"])
    new = _resubmit(cg, r)
    extra = ["--reason", "no"] if kind == "reject" else []
    assert cg(r, kind, PLAN_ID, "--revision", "2", *extra, "--now", NOW, email=DEV).code == 0
    assert verify(cg, r)["ok"]
    forged = _forge_digest(r, new, old)
    rep = verify(cg, r)
    assert not rep["ok"] and rep["problems"][0]["commit"] == forged
    msg = rep["problems"][0]["message"]
    assert f"illegal {kind} of {PLAN_ID}" in msg and f"names ({old})" in msg, msg


def test_the_retry_on_a_moved_tip_is_refused_by_apply(r: Path, cg: Cg) -> None:
    """The event built before a re-submit, replayed on the new tip (as the CAS loop does)."""
    from changeguard.changelog.events import Prepared, Snapshot, append
    from changeguard.changelog.state import Event, World
    from changeguard.changelog.store import Author, Git
    from changeguard.errors import RefusedError

    old = str(show(cg, r)["digest"])
    _resubmit(cg, r)
    g = Git(r)
    try:
        roster = {"dev@example.org": ("dba",), "ana@example.org": ("engineer",)}
        ev = Event("approve", PLAN_ID, DEV, NOW, old)

        def world(snap: Snapshot, cur: object, e: Event) -> World:
            return World(roster)

        with pytest.raises(RefusedError, match="is at revision 2"):
            append(g, REF, Prepared(ev), world, Author("dev", DEV, NOW), False)
    finally:
        g.close()
    assert _events(r)[0] == f"submit {PLAN_ID}"


# --------------------------------------------------------------- on a terminal (a real pty)


class Pty:
    """The real CLI on a pseudo-terminal (stdin, stdout and stderr are the pty)."""

    def __init__(self, repo: Path, env: dict[str, str], *args: str) -> None:
        self.master, slave = os.openpty()
        e = dict(env, GIT_AUTHOR_EMAIL=DEV, GIT_AUTHOR_NAME="dev", PYTHONPATH=str(ROOT),
                 NO_COLOR="1", COLUMNS="120")
        self.proc = subprocess.Popen([sys.executable, "-m", "changeguard", *args], cwd=repo,
                                     env=e, stdin=slave, stdout=slave, stderr=slave,
                                     close_fds=True)
        os.close(slave)
        self.seen = ""

    def read_until(self, text: str, limit: float = 60.0) -> str:
        """Output so far, once `text` appeared (or the process ended / the limit passed)."""
        end = time.monotonic() + limit
        while text not in self.seen and time.monotonic() < end:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # EIO: the child closed the pty
                    break
                if not chunk:
                    break
                self.seen += chunk.decode(errors="replace")
            elif self.proc.poll() is not None:
                break
        return self.seen

    def answer(self, line: str) -> int:
        """Type `line` + Enter; the exit code once the rest of the output is read."""
        os.write(self.master, line.encode() + b"\n")
        self.read_until("\x00never\x00", limit=60.0)  # drain until the child closes the pty
        code = self.proc.wait(timeout=60)
        os.close(self.master)
        return code


@pytest.fixture
def term(r: Path, git_env: dict[str, str]) -> Pty:
    t = Pty(r, git_env, "approve", PLAN_ID, "--now", NOW)
    out = t.read_until("[y/N]")
    assert f"Approve revision 1 of {PLAN_ID}? [y/N]" in out, out
    assert PLAN_ID in out and "revision 1" in out and "sha256:" in out  # the summary first
    return t


def test_terminal_yes_records_the_revision_shown(r: Path, cg: Cg, term: Pty) -> None:
    shown = str(show(cg, r)["digest"])
    assert term.answer("yes") == 0, term.seen
    assert "approve recorded" in term.seen
    assert [a["digest"] for a in show(cg, r)["approvals"]] == [shown]


@pytest.mark.parametrize("reply", ["n", "", "yep"])
def test_terminal_anything_but_yes_records_nothing(r: Path, term: Pty, reply: str) -> None:
    assert term.answer(reply) == 1, term.seen
    assert "nothing was recorded" in term.seen
    assert _events(r) == [f"submit {PLAN_ID}"]


def test_terminal_resubmit_before_the_answer_is_refused(r: Path, cg: Cg, term: Pty) -> None:
    new = _resubmit(cg, r)  # the author re-submits while the reviewer reads revision 1
    assert term.answer("y") == 1, term.seen
    assert f"is at revision 2 ({new}), you asked to approve revision 1" in term.seen
    assert _events(r)[0] == f"submit {PLAN_ID}" and show(cg, r)["approvals"] == []


def test_terminal_reject_asks_and_records_the_revision_shown(r: Path, cg: Cg,
                                                            git_env: dict[str, str]) -> None:
    new = _resubmit(cg, r)
    t = Pty(r, git_env, "reject", PLAN_ID, "--reason", "no evidence", "--now", NOW)
    out = t.read_until("[y/N]")
    assert f"Reject revision 2 of {PLAN_ID}? [y/N]" in out, out
    assert t.answer("y") == 0, t.seen
    data = show(cg, r)
    assert data["state"] == "rejected"
    assert [(x["digest"], x["reason"]) for x in data["rejections"]] == [(new, "no evidence")]
