"""`list` remembers each `list/` shard's rows under the git dir, keyed by blob id (issue 17):
same answer warm or cold, only a changed shard is read again, a damaged file is ignored, CI
never reads or writes it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.conftest import git
from tests.helpers.changelog import NOW, Cg, cg, make_repo, plan, plan_path, write_plan

__all__ = ["cg"]

CACHE = Path(".git/changeguard/list-cache.json")


@pytest.fixture
def local(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's shell: caches are for local commands, never for CI."""
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("CHANGEGUARD_CHECK_CACHE", raising=False)


def _repo(tmp_path: Path, cg: Cg, n: int) -> Path:
    r = make_repo(tmp_path / "cfg")
    for i in range(n):
        cid = f"CHG-LIST-{i}"
        write_plan(r, plan(id=cid, title=f"change {i}", services=[f"svc-{i}"], changes=[]))
        assert cg(r, "submit", plan_path(cid), "--now", NOW).code == 0
    return r


def _list(cg: Cg, r: Path, *args: str) -> str:
    got = cg(r, "list", "--now", NOW, *args)
    assert got.code == 0, got.err
    return got.out


def _shards(r: Path) -> set[str]:
    """Blob ids of the log tip's list/ shards."""
    out = git(r, "ls-tree", "changeguard/log:list")
    return {line.split()[2] for line in out.splitlines()}


def _body(r: Path) -> dict[str, list[list[object]]]:
    body: dict[str, list[list[object]]] = json.loads(
        (r / CACHE).read_bytes().partition(b"\n")[2])
    return body


def _forge(r: Path, rows: list[list[object]]) -> None:
    """A cache file with the right checksum giving every shard rows of our choosing."""
    meta = json.loads((r / CACHE).read_bytes().partition(b"\n")[0])
    body = json.dumps({sha: rows for sha in _shards(r)}).encode()
    meta["sum"] = hashlib.sha256(body).hexdigest()
    (r / CACHE).write_bytes(json.dumps(meta).encode() + b"\n" + body)


def test_warm_list_answers_exactly_as_cold(tmp_path: Path, cg: Cg, local: None) -> None:
    r = _repo(tmp_path, cg, 3)
    cold = (_list(cg, r), _list(cg, r, "--format", "json"))
    assert set(_body(r)) == _shards(r)
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
    assert set(_body(r)) == _shards(r)  # the touched shard's new blob, the old one dropped


def test_a_damaged_cache_is_ignored_and_rewritten(tmp_path: Path, cg: Cg, local: None) -> None:
    r = _repo(tmp_path, cg, 2)
    good = _list(cg, r)
    raw = (r / CACHE).read_bytes()
    (r / CACHE).write_bytes(raw.replace(b"change 1", b"change X"))  # checksum now wrong
    assert _list(cg, r) == good
    assert (r / CACHE).read_bytes() == raw
    (r / CACHE).write_bytes(b"not json at all")
    assert _list(cg, r) == good
    _forge(r, [["CHG-LIST-0", "t", "submitted"]])  # right checksum, wrong row shape
    assert _list(cg, r) == good


def test_ci_neither_reads_nor_writes_the_list_cache(tmp_path: Path, cg: Cg, local: None,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    r = _repo(tmp_path, cg, 1)
    good = _list(cg, r)
    _forge(r, [["CHG-FAKE", "forged", "approved", "x@example.org", "2016-04-03T01:00:00+08:00",
                "2016-04-03T05:00:00+08:00", "normal", False, None, None]])
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
