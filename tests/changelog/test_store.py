"""Plumbing layer and event-message parsing, against real git (plus hypothesis properties)."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from changeguard.changelog.events import format_message, parse_message
from changeguard.changelog.identity import parse_ident
from changeguard.changelog.state import EVENT_KINDS, Event
from changeguard.changelog.store import Git, TreeEdit, cas_update, parse_tree, ref_tip
from tests.conftest import git


@pytest.fixture
def g(repo: Path) -> Iterator[Git]:
    gi = Git(repo)
    yield gi
    gi.close()


def test_tree_edit_matches_git(g: Git, repo: Path) -> None:
    t = TreeEdit(g, None)
    t.put("changes/A-1/state.json", g.write_blob(b"{}\n"))
    t.put("changes/A-1/plan.yaml", g.write_blob(b"id: A-1\n"))
    t.put("paths/ab/A-1", g.write_blob(b"db/x"))
    t.put("freeze.json", g.write_blob(b"{}"))
    sha = t.write()
    assert sha is not None
    listing = git(repo, "ls-tree", "-r", "--name-only", sha).split()
    assert listing == ["changes/A-1/plan.yaml", "changes/A-1/state.json", "freeze.json",
                       "paths/ab/A-1"]
    t2 = TreeEdit(g, sha)
    t2.remove("paths/ab/A-1")  # empty directories disappear
    t2.put("changes/A-10/state.json", g.write_blob(b"1"))
    sha2 = t2.write()
    assert sha2 is not None
    assert git(repo, "ls-tree", "-r", "--name-only", sha2).split() == [
        "changes/A-1/plan.yaml", "changes/A-1/state.json", "changes/A-10/state.json",
        "freeze.json"]
    git(repo, "fsck", "--strict", "--no-dangling")
    assert TreeEdit(g, sha2).write() == sha2  # nothing changed, nothing written
    assert TreeEdit(g, sha2).blob_sha("changes/A-10/state.json") == git(
        repo, "rev-parse", f"{sha2}:changes/A-10/state.json").strip()


def test_parse_tree_equals_ls_tree(g: Git, repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD^{tree}").strip()
    parsed = g.read_tree(head)
    ls = git(repo, "ls-tree", head).splitlines()
    assert [(e.name, e.sha) for e in parsed.values()] == [
        (line.split("\t")[1], line.split()[2]) for line in ls]
    assert parse_tree(b"", 20) == {}


def test_read_many_and_missing(g: Git, repo: Path) -> None:
    a = g.write_blob(b"alpha")
    got = g.read_many([a, "0" * 40, a])
    assert got[0] == (a, "blob", b"alpha") and got[1] is None and got[2] == got[0]
    assert g.read("HEAD:nope") is None
    assert g.read_blob(a) == b"alpha"


def test_cas_update(g: Git, repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD").strip()
    ref = "refs/heads/changeguard/log"
    assert ref_tip(g, ref) is None
    assert cas_update(g, ref, head, None, "t")
    assert not cas_update(g, ref, head, None, "t")  # someone created it already
    other = git(repo, "commit-tree", "-m", "x", f"{head}^{{tree}}").strip()
    assert not cas_update(g, ref, other, "1" * 40, "t")  # stale expectation
    assert cas_update(g, ref, other, head, "t")
    assert ref_tip(g, ref) == other


def test_clean_env_drops_hook_leaks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_INDEX_FILE", "/x/index")
    monkeypatch.setenv("GIT_DIR", "/x")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "a@b.c")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "user.signingkey")
    from changeguard.git import clean_env

    env = clean_env(Path.cwd())  # the log's purpose ("plumbing"): no index, no foreign dir
    assert "GIT_INDEX_FILE" not in env and "GIT_DIR" not in env
    assert env["GIT_AUTHOR_EMAIL"] == "a@b.c" and env["GIT_CONFIG_KEY_0"] == "user.signingkey"
    assert "GIT_INDEX_FILE" in os.environ


def test_parse_ident() -> None:
    ident = parse_ident("Ana Lim <Ana@Example.org> 1700000000 +0800\n")
    assert ident.email == "Ana@Example.org" and ident.key == "ana@example.org"


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
_events = st.builds(
    Event, kind=st.sampled_from([k for k in EVENT_KINDS if k != "submit"]),
    change=st.from_regex(r"[A-Z][A-Z0-9]*-[A-Za-z0-9-]{1,20}", fullmatch=True),
    actor=st.from_regex(r"[a-z]{1,8}@[a-z]{1,8}\.org", fullmatch=True),
    at=st.just("2016-04-03T01:00:00+08:00"),
    digest=st.from_regex(r"sha256:[0-9a-f]{64}", fullmatch=True),
    comment=st.none() | _text, reason=st.none() | _text,
    verified=st.lists(_text, max_size=3).map(tuple), until=st.none())


@given(_events)
def test_message_round_trip(ev: Event) -> None:
    assert parse_message(format_message(ev)) == ev


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300) | st.builds(
    lambda body, tr: body + "\n\n" + tr, st.text(max_size=100).map(json.dumps),
    st.just("Changeguard-Event: x\nChangeguard-Change: y\nChangeguard-Digest: z\n"
            "Changeguard-Actor: w\n")))
def test_parse_message_only_raises_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        parse_message(text)


def test_message_survives_git(g: Git, repo: Path) -> None:
    ev = Event("review", "CHG-1", "a@b.org", "2016-04-03T01:00:00+08:00", "sha256:" + "0" * 64,
               comment="line one\n\nline two: with colon")
    tree = git(repo, "rev-parse", "HEAD^{tree}").strip()
    sha = g.out("commit-tree", tree, input=format_message(ev).encode())
    body = git(repo, "log", "-1", "--format=%B", sha)
    assert parse_message(body) == ev
