"""`log verify` resumed from a verified tip reads that tip's history from the file it left,
not from a walk of every commit (issue 17, changelog/ancestry.py); the answer is the one a
replay from the root gives, and a damaged or foreign file, CI and the switch change nothing.

Real repos, the real CLI (in process), real git; the walks git makes are read from git's own
trace (GIT_TRACE2_EVENT).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from changeguard.changelog.ancestry import FILE
from tests.conftest import git
from tests.helpers.changelog import NOW, Cg, cg, local, plan, repo_of, write_plan

__all__ = ["cg", "local"]
REF = "refs/heads/changeguard/log"


def _repo(tmp_path: Path, cg: Cg, n: int) -> Path:
    return repo_of(tmp_path / "cfg", cg, n, "CHG-AN")


def _submit(cg: Cg, r: Path, i: int) -> None:
    rel = write_plan(r, plan(id=f"CHG-AN-{i}", services=[f"svc-{i}"], changes=[]))
    assert cg(r, "submit", rel, "--now", NOW).code == 0


def _verify(cg: Cg, r: Path, *args: str) -> dict[str, object]:
    res = cg(r, "log", "verify", "--format", "json", *args)
    assert res.code == 0, res.out + res.err
    out: dict[str, object] = json.loads(res.out)
    return out


def _kept(r: Path) -> list[str]:
    return (r / ".git" / FILE).read_bytes()[len(b"changeguard-history-v1\n") + 4:].decode(
        ).split("\n")


def _history(r: Path) -> list[str]:
    return git(r, "rev-list", "--reverse", REF).split()


def _full_walks(r: Path, cg: Cg, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
                ) -> tuple[dict[str, object], int]:
    """`log verify`'s answer, and how many `rev-list` walks of the whole log it made (from a
    log commit, with no `^commit` to stop at)."""
    trace = tmp_path / f"trace{len(list(tmp_path.glob('trace*')))}.json"
    monkeypatch.setenv("GIT_TRACE2_EVENT", str(trace))
    try:
        got = _verify(cg, r)
    finally:
        monkeypatch.delenv("GIT_TRACE2_EVENT")
    argvs = [e["argv"] for e in map(json.loads, trace.read_text().splitlines())
             if e["event"] == "start"]
    log = set(_history(r))
    return got, sum(1 for a in argvs if "rev-list" in a and log & set(a)
                    and not any(x.startswith("^") for x in a))


def test_a_resumed_verify_walks_only_the_new_commits(tmp_path: Path, cg: Cg, local: None,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    r = _repo(tmp_path, cg, 3)
    _verify(cg, r)
    assert _kept(r) == _history(r)  # the verified tip's history, oldest first
    for i in range(3, 6):
        _submit(cg, r, i)
    got, walks = _full_walks(r, cg, monkeypatch, tmp_path)
    assert walks == 0
    assert got == _verify(cg, r, "--from-scratch")  # the same answer as from the root
    assert got["events"] == len(_history(r))
    assert _kept(r) == _history(r)  # moved on to the new tip
    (r / ".git" / FILE).unlink()  # without the file: the walks it saves
    _submit(cg, r, 6)
    got, walks = _full_walks(r, cg, monkeypatch, tmp_path)
    assert walks >= 1 and got["events"] == len(_history(r))


def test_a_damaged_file_is_ignored_and_rewritten(tmp_path: Path, cg: Cg, local: None,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    r = _repo(tmp_path, cg, 2)
    _verify(cg, r)
    path = r / ".git" / FILE
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 1  # one bit of a sha: the checksum no longer matches
    path.write_bytes(bytes(raw))
    _submit(cg, r, 2)
    got, walks = _full_walks(r, cg, monkeypatch, tmp_path)
    assert walks >= 1 and got["events"] == len(_history(r))
    assert _kept(r) == _history(r)


def test_the_file_of_a_tip_no_longer_in_the_log_is_ignored(tmp_path: Path, cg: Cg,
                                                           local: None) -> None:
    """The ref moved backwards: the file names a tip outside the log, so the reflog check
    runs on the history git lists, and the rewrite is found."""
    r = _repo(tmp_path, cg, 2)
    _submit(cg, r, 2)
    dropped = git(r, "rev-parse", REF).strip()
    _verify(cg, r)
    assert _kept(r)[-1] == dropped
    git(r, "update-ref", REF, f"{REF}~1")
    res = cg(r, "log", "verify", "--format", "json")
    rep = json.loads(res.out)
    assert res.code == 1 and rep["problems"][0]["commit"] == dropped
    assert "history rewritten" in rep["problems"][0]["message"]


@pytest.mark.parametrize("switch", [("CI", "true"), ("CHANGEGUARD_CHECK_CACHE", "off")])
def test_ci_and_the_switch_neither_read_nor_write_it(tmp_path: Path, cg: Cg, local: None,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   switch: tuple[str, str]) -> None:
    r = _repo(tmp_path, cg, 2)
    _verify(cg, r)
    path = r / ".git" / FILE
    monkeypatch.setenv(*switch)
    _submit(cg, r, 2)
    got, walks = _full_walks(r, cg, monkeypatch, tmp_path)
    assert walks >= 1 and got["events"] == len(_history(r))
    assert _kept(r) != _history(r)  # not moved on
    path.unlink()
    _verify(cg, r)
    assert not path.exists()

