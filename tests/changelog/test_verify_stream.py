"""`log verify` reads diff-tree's output as git writes it (issue 17): the records it cuts
from a stream split anywhere are git's own, and the re-derivation workers run below the
replay's priority."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from changeguard.changelog import pool
from changeguard.changelog.verify import _DiffParser, _parse_diffs
from tests.conftest import git
from tests.helpers.changelog import NOW, PLAN_ID, Cg, cg, make_repo, plan_path

__all__ = ["cg"]
REF = "refs/heads/changeguard/log"
ARGS = ["diff-tree", "--stdin", "-r", "--raw", "--no-renames", "--no-abbrev", "--root",
        "--always", "-z"]


@pytest.fixture
def logged(tmp_path: Path, cg: Cg) -> tuple[Path, list[str], bytes]:
    """A log of a submit, an approve and a cancel, its commits and their raw diffs."""
    repo = make_repo(tmp_path / "cfg")
    assert cg(repo, "submit", plan_path(), "--now", NOW).code == 0
    assert cg(repo, "approve", PLAN_ID, "--revision", "1", "--now", NOW,
              email="dev@example.org").code == 0
    assert cg(repo, "cancel", PLAN_ID, "--reason", "no", "--now", NOW).code == 0
    shas = git(repo, "rev-list", "--reverse", REF).split()
    raw = subprocess.run(["git", *ARGS], cwd=repo, input="".join(s + "\n" for s in shas).encode(),
                         capture_output=True, check=True).stdout
    return repo, shas, raw


def test_parsed_diffs_are_gits_own(logged: tuple[Path, list[str], bytes]) -> None:
    repo, shas, raw = logged
    got = _parse_diffs(raw)
    assert list(got) == shas
    deleted = 0
    for i, sha in enumerate(shas):
        names = git(repo, "diff-tree", "-r", "--root", "--no-renames", "--name-only", "-z",
                    *([] if i == 0 else [shas[i - 1]]), sha).split("\0")
        assert set(got[sha]) == {n for n in names if n and n != sha}
        for path, blob in got[sha].items():
            present = subprocess.run(["git", "rev-parse", "-q", "--verify", f"{sha}:{path}"],
                                     cwd=repo, capture_output=True, text=True)
            assert blob == (present.stdout.strip() or None)
            deleted += blob is None
    assert deleted  # the cancel removes its services/ index entries


def test_a_stream_cut_anywhere_gives_the_same_records(
        logged: tuple[Path, list[str], bytes]) -> None:
    _, shas, raw = logged
    whole = _parse_diffs(raw)
    for cut in [*range(0, 200), *range(200, len(raw), 37), len(raw)]:
        parser = _DiffParser()
        got = [*parser.feed(raw[:cut]), *parser.feed(raw[cut:], end=True)]
        assert dict(got) == whole, cut
    parser = _DiffParser()
    trickle = [r for i in range(len(raw)) for r in parser.feed(raw[i:i + 1])]
    assert dict([*trickle, *parser.feed(b"", end=True)]) == whole
    # a record is handed out only once the next commit's header shows it is complete
    first = _DiffParser().feed(raw[:raw.index(shas[1].encode())])
    assert first == []


def _niceness(_: int) -> tuple[int, int]:
    import time

    time.sleep(0.01)  # every worker gets to take slices before the parent collects
    return os.getpid(), os.nice(0)


def test_derivation_workers_run_below_the_parents_priority(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool, "MIN_ITEMS", 1)
    monkeypatch.setattr(pool, "workers", lambda: 2)
    mine = os.nice(0)
    with pool.fork_start(_niceness, list(range(40))) as pending:
        got = pending.result()
    workers = {pid for pid, _ in got} - {os.getpid()}
    assert workers  # forked workers did (some of) the work
    # theirs ran below this process's priority; the slices left when the parent collects
    # (it has nothing else to do then) run here, at its own
    assert all(nice == (mine if pid == os.getpid() else min(19, mine + pool.NICE))
               for pid, nice in got)
    assert os.nice(0) == mine
