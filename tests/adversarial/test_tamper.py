"""`log verify` catches tampering the change-log suite does not already cover: replayed
events, plans swapped under their digest, junk event bodies, trailers that disagree with
the body, and index entries no event explains. Each names the first bad commit (exit 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from changeguard.changelog.events import change_dir
from tests.adversarial._harness import assert_bounded, run_measured
from tests.changelog.test_verify import _commit_on_tip
from tests.conftest import git
from tests.helpers.changelog import (
    PLAN_ID,
    Cg,
    approved_repo,
    cg,
    verify,
)

__all__ = ["cg"]
REF = "refs/heads/changeguard/log"
PLAN_BLOB = f"{change_dir(PLAN_ID)}/plan.yaml"


@pytest.fixture
def r(tmp_path: Path, git_env: dict[str, str], cg: Cg) -> Path:
    return approved_repo(tmp_path / "cfg", cg)


def _first_problem(cg: Cg, repo: Path, env: dict[str, str], bad: str) -> str:
    rep = verify(cg, repo)
    assert not rep["ok"] and rep["problems"][0]["commit"] == bad, rep
    m = run_measured(["log", "verify"], repo, env)  # the real CLI: exit 1, no traceback
    assert m.code == 1 and bad in m.err, (m.out, m.err)
    assert_bounded(m)
    return str(rep["problems"][0]["message"])


def _tip_message(repo: Path) -> str:
    return git(repo, "log", "-1", "--format=%B", REF)


def test_replayed_event(r: Path, cg: Cg, git_env: dict[str, str]) -> None:
    """The approve commit's message and tree again, as if a sync had applied it twice."""
    bad = _commit_on_tip(r, {}, _tip_message(r), author="dev@example.org")
    _first_problem(cg, r, git_env, bad)


def test_plan_swapped_under_its_digest(r: Path, cg: Cg, git_env: dict[str, str]) -> None:
    text = git(r, "show", f"{REF}:{PLAN_BLOB}").replace("risk: medium", "risk: low")
    bad = _commit_on_tip(r, {PLAN_BLOB: text.encode()}, _tip_message(r),
                         author="dev@example.org")
    _first_problem(cg, r, git_env, bad)


def test_junk_event_body(r: Path, cg: Cg, git_env: dict[str, str]) -> None:
    msg = _tip_message(r)
    body_start, body_end = msg.index("{"), msg.rindex("}") + 1
    junk = msg[:body_start] + '{"event": "approve", "oops": [1, 2' + msg[body_end:]
    bad = _commit_on_tip(r, {}, junk, author="dev@example.org")
    _first_problem(cg, r, git_env, bad)


def test_trailers_disagree_with_body(r: Path, cg: Cg, git_env: dict[str, str]) -> None:
    msg = _tip_message(r).replace(f"Changeguard-Change: {PLAN_ID}",
                                  "Changeguard-Change: CHG-2016-0000-other")
    assert "CHG-2016-0000-other" in msg
    git(r, "update-ref", REF, f"{REF}~1")
    bad = _commit_on_tip(r, {}, msg, author="dev@example.org")
    _first_problem(cg, r, git_env, bad)


def test_index_entry_no_event_explains(r: Path, cg: Cg, git_env: dict[str, str]) -> None:
    entry = "paths/00/" + "0" * 40 + "/" + PLAN_ID
    bad = _commit_on_tip(r, {entry: b"etc/shadow"}, _tip_message(r), author="dev@example.org")
    _first_problem(cg, r, git_env, bad)


def test_state_json_not_json(r: Path, cg: Cg, git_env: dict[str, str]) -> None:
    msg = _tip_message(r)
    git(r, "update-ref", REF, f"{REF}~1")
    bad = _commit_on_tip(r, {f"{change_dir(PLAN_ID)}/state.json": b"{not json"}, msg,
                         author="dev@example.org")
    problem = _first_problem(cg, r, git_env, bad)
    assert problem
    assert json.loads(cg(r, "log", "verify", "--format", "json").out)["ok"] is False
