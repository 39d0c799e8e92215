"""`log verify` takes a list/ shard stored exactly as the replay would write it by its blob
id, and judges any other form by its content (issue 17): same verdicts either way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from changeguard.changelog.state import dump_json
from tests.changelog.test_verify import REF, STATE, _commit_on_tip
from tests.conftest import git
from tests.helpers.changelog import (
    IN_WINDOW,
    PLAN_ID,
    Cg,
    approved_repo,
    cg,
    verify,
)

__all__ = ["cg"]


@pytest.fixture
def approved(tmp_path: Path, git_env: dict[str, str], cg: Cg) -> Path:
    return approved_repo(tmp_path / "cfg", cg)


def _rewrite_shard(repo: Path, text: bytes) -> str:
    """The approve commit again, with its list/ shard stored as `text`."""
    msg = git(repo, "log", "-1", "--format=%B", REF)
    shard = _shard(repo)
    state = git(repo, "show", f"{REF}:{STATE}").encode()
    git(repo, "update-ref", REF, f"{REF}~1")
    _commit_on_tip(repo, {STATE: state, shard: text}, msg, author="dev@example.org")
    # as a fresh clone receives it: no reflog remembers the honest tip it replaced
    git(repo, "reflog", "expire", "--expire=now", "--expire-unreachable=now", REF)
    return shard


def _shard(repo: Path) -> str:
    return next(p for p in git(repo, "ls-tree", "-r", "--name-only", REF).split()
                if p.startswith("list/"))


def _rows(repo: Path) -> dict[str, object]:
    rows = json.loads(git(repo, "show", f"{REF}:{_shard(repo)}"))
    assert isinstance(rows, dict)
    return rows


def test_a_shard_in_another_json_form_verifies_and_so_do_later_events(
        approved: Path, cg: Cg) -> None:
    rows = _rows(approved)
    assert dump_json(rows) == git(approved, "show", f"{REF}:{_shard(approved)}").encode()
    _rewrite_shard(approved, json.dumps(rows, indent=2).encode())  # same rows, other bytes
    assert verify(cg, approved)["problems"] == []
    # the next event stores the shard canonically again: judged from the one before it
    assert cg(approved, "start", PLAN_ID, "--now", IN_WINDOW, email="dev@example.org").code == 0
    res = cg(approved, "log", "verify", "--from-scratch", "--format", "json")
    rep = json.loads(res.out)
    assert res.code == 0 and rep["problems"] == [] and rep["events"] == 3, rep


def test_a_row_no_event_explains_is_found(approved: Path, cg: Cg) -> None:
    rows = _rows(approved)
    rows["CHG-2016-0000-ghost"] = rows[PLAN_ID]
    shard = _rewrite_shard(approved, dump_json(rows))  # canonical form, one row too many
    rep = verify(cg, approved)
    assert rep["problems"][0]["message"] == (f"{shard} does not match the replayed states "
                                             "of its changes"), rep
