"""`list` remembers its rendered rows under the git dir with the blob id of each `list/`
shard they came from (issue 17): same answer warm or cold (filters and overdue flags too),
only a changed shard is read again, a damaged or foreign file is ignored, CI never reads or
writes it."""

from __future__ import annotations

import json
import marshal
from pathlib import Path
from typing import Any

import pytest

from changeguard import caches
from changeguard.changelog import listing
from tests.conftest import git
from tests.helpers.changelog import (
    NOW,
    Cg,
    cg,
    local,
    plan,
    plan_path,
    repo_of,
    write_plan,
)

__all__ = ["cg", "local"]

CACHE = Path(".git") / listing.CACHE


def _repo(tmp_path: Path, cg: Cg, n: int) -> Path:
    return repo_of(tmp_path / "cfg", cg, n, "CHG-LIST")


def _list(cg: Cg, r: Path, *args: str) -> str:
    got = cg(r, "list", "--now", NOW, *args)
    assert got.code == 0, got.err
    return got.out


def _shards(r: Path) -> set[str]:
    """Blob ids of the log tip's list/ shards."""
    out = git(r, "ls-tree", "changeguard/log:list")
    return {line.split()[2] for line in out.splitlines()}


def _cached(r: Path) -> listing.Listed:
    got = listing._load(r / CACHE)
    assert got is not None
    return got


def _write(r: Path, head: Any, index: Any, body: bytes = b"[]\n") -> None:
    """A cache file with the right version and checksum holding these parts."""
    h, i = marshal.dumps(head), marshal.dumps(index)
    payload = listing._SIZES.pack(len(h), len(i)) + h + i + body
    (r / CACHE).write_bytes(b"".join(caches.sealed(listing._MAGIC, [payload])))


def _forge(r: Path, row: dict[str, object]) -> None:
    """A well-formed cache file (right checksum) listing `row` for every shard of the tip."""
    new = listing._New(listing._key(row, "list/00.json"),  # type: ignore[arg-type]
                       json.dumps(row, ensure_ascii=False).encode(), 1, "list/00.json",
                       row)  # type: ignore[arg-type]
    got = listing._of_rows([new], [])
    got.shards = _named_shards(r)
    (r / CACHE).write_bytes(b"".join(listing._encode(got)))


def _named_shards(r: Path) -> dict[str, str]:
    out = git(r, "ls-tree", "changeguard/log:list")
    return {line.split("\t")[1]: line.split()[2] for line in out.splitlines()}


def test_warm_list_answers_exactly_as_cold(tmp_path: Path, cg: Cg, local: None) -> None:
    r = _repo(tmp_path, cg, 3)
    cold = (_list(cg, r), _list(cg, r, "--format", "json"))
    assert set(_cached(r).shards.values()) == _shards(r)
    warm = (_list(cg, r), _list(cg, r, "--format", "json"))
    assert warm == cold
    assert [x["id"] for x in json.loads(cold[1])] == [f"CHG-LIST-{i}" for i in range(3)]
    (r / CACHE).unlink()
    assert _list(cg, r, "--state", "submitted") == cold[0]


def test_a_new_event_is_listed_though_rows_are_remembered(tmp_path: Path, cg: Cg,
                                                           local: None) -> None:
    r = _repo(tmp_path, cg, 1)
    assert "CHG-LIST-0" in _list(cg, r)
    write_plan(r, plan(id="CHG-LIST-new", services=["svc-new"], changes=[]))
    assert cg(r, "submit", plan_path("CHG-LIST-new"), "--now", NOW).code == 0
    out = _list(cg, r)
    assert "CHG-LIST-0" in out and "CHG-LIST-new" in out
    assert set(_cached(r).shards.values()) == _shards(r)  # the touched shard's new blob only


def test_a_damaged_cache_is_ignored_and_rewritten(tmp_path: Path, cg: Cg, local: None) -> None:
    r = _repo(tmp_path, cg, 2)
    good = _list(cg, r)
    raw = (r / CACHE).read_bytes()
    assert b"change 1" in raw
    (r / CACHE).write_bytes(raw.replace(b"change 1", b"change X"))  # checksum now wrong
    assert _list(cg, r) == good
    assert (r / CACHE).read_bytes() != raw.replace(b"change 1", b"change X")
    assert len(_cached(r)) == 2  # rewritten whole
    (r / CACHE).write_bytes(b"not marshal at all")
    assert _list(cg, r) == good
    shards = _named_shards(r)
    for head, index, body in [
            (({}, shards, ["a"]), (b"k", b"\1\0\0\0", b"\1\0\0\0", b"\0\0", b"\0"),
             b"[x, y]\n"),  # lengths that do not add up to the body
            (({}, shards, []), (b"k", b"\1\0\0\0", b"\1\0\0\0", b"\0\0", b"\0"),
             b"[x]\n"),  # a shard number with no name
            (({b"k": {"type": "normal"}}, shards, ["a"]),
             (b"k", b"\1\0\0\0", b"\1\0\0\0", b"\0\0", b"\0"), b"[x]\n"),  # not emergency
            (({b"z": {"type": "emergency"}}, shards, ["a"]),
             (b"k", b"\1\0\0\0", b"\1\0\0\0", b"\0\0", b"\0"), b"[x]\n"),  # not listed
            (({}, shards), (b"", b"", b"", b"", b""), b"[]\n"),  # a head of another shape
            (({}, shards, []), (b"", b"", b"", b""), b"[]\n")]:  # an index of another shape
        _write(r, head, index, body)
        assert _list(cg, r) == good
        assert _list(cg, r, "--format", "json") != "[x]\n"
        assert len(_cached(r)) == 2  # rewritten whole


def test_overdue_flags_and_filters_warm_as_cold(tmp_path: Path, cg: Cg, local: None,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    r = _repo(tmp_path, cg, 2)
    eid = "CHG-LIST-hotfix"
    write_plan(r, plan(id=eid, type="emergency", services=["svc-e"], changes=[],
                       window={"start": "2016-03-27T11:00:00+08:00",
                               "end": "2016-03-27T15:00:00+08:00"}))
    assert cg(r, "submit", plan_path(eid), "--now", NOW).code == 0
    assert cg(r, "approve", eid, "--revision", "1", "--now", NOW, email="dev@example.org").code == 0
    assert cg(r, "approve", eid, "--revision", "1", "--now", NOW,
              email="chen@example.org").code == 0
    assert cg(r, "start", eid, "--now", NOW).code == 0
    assert cg(r, "complete", eid, "--now", "2016-03-27T12:00:00+08:00").code == 0
    asks = [(*fmt, *flt, "--now", t) for fmt in ((), ("--format", "json"))
            for flt in ((), ("--overdue",), ("--state", "completed"), ("--state", "submitted"),
                        ("--state", "approved"))
            for t in ("2016-03-30T13:00:00+08:00", "2016-03-28T13:00:00+08:00")]
    warm = [cg(r, "list", *a).out for a in asks]
    assert len(_cached(r).emergency) == 1
    monkeypatch.setenv("CHANGEGUARD_CHECK_CACHE", "off")
    cold = [cg(r, "list", *a).out for a in asks]
    assert warm == cold
    late = json.loads(warm[asks.index(("--format", "json", "--overdue", "--now",
                                       "2016-03-30T13:00:00+08:00"))])
    assert [(x["id"], x["overdue"]) for x in late] == [(eid, True)]
    assert "OVERDUE review" in warm[0] and "OVERDUE review" not in warm[1]
    assert warm[asks.index(("--state", "approved", "--now", "2016-03-30T13:00:00+08:00"))] \
        == "no changes\n"


def test_ci_neither_reads_nor_writes_the_list_cache(tmp_path: Path, cg: Cg, local: None,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    r = _repo(tmp_path, cg, 1)
    good = _list(cg, r)
    _forge(r, {"id": "CHG-FAKE", "title": "forged", "state": "approved",
               "author": "x@example.org", "window": {"start": "2016-04-03T01:00:00+08:00",
                                                     "end": "2016-04-03T05:00:00+08:00"},
               "overdue": False})
    assert "CHG-FAKE" in _list(cg, r)  # a local convenience (SECURITY.md "Caches")...
    monkeypatch.setenv("CI", "true")
    assert _list(cg, r) == good  # ...that CI never believes
    (r / CACHE).unlink()
    assert _list(cg, r) == good
    assert not (r / CACHE).exists()
    monkeypatch.delenv("CI")
    monkeypatch.setenv("CHANGEGUARD_CHECK_CACHE", "off")
    assert _list(cg, r) == good
    assert not (r / CACHE).exists()


def test_rows_split_back_out_of_the_remembered_output(tmp_path: Path, cg: Cg, local: None,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The JSON answer is the cache file's body; rows are split back out of it by their
    UTF-8 lengths when an event or a filter needs them, non-ASCII titles included."""
    r = _repo(tmp_path, cg, 2)
    write_plan(r, plan(id="CHG-LIST-uni", title="réplica ☃ naïve", services=["svc-u"],
                       changes=[]))
    assert cg(r, "submit", plan_path("CHG-LIST-uni"), "--now", NOW).code == 0
    warm_json = _list(cg, r, "--format", "json")
    assert (r / CACHE).read_bytes().endswith(warm_json.encode())
    write_plan(r, plan(id="CHG-LIST-more", title="ünïcode again", services=["svc-m"],
                       changes=[]))
    assert cg(r, "submit", plan_path("CHG-LIST-more"), "--now", NOW).code == 0
    warm = [_list(cg, r, *a) for a in ((), ("--format", "json"), ("--state", "submitted"))]
    monkeypatch.setenv("CHANGEGUARD_CHECK_CACHE", "off")
    cold = [_list(cg, r, *a) for a in ((), ("--format", "json"), ("--state", "submitted"))]
    assert warm == cold
    assert {"réplica ☃ naïve", "ünïcode again"} <= {x["title"] for x in json.loads(cold[1])}
    got = _cached(r)
    starts = got.starts()
    assert [bytes(got.row(i, starts)) for i in range(len(got))] == [
        json.dumps(x, ensure_ascii=False).encode() for x in json.loads(cold[1])]
