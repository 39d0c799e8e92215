"""`log verify` continues from the newest tip this clone verified; `--from-scratch` and the CI
gate believe no such memory (issue 17).

Real repos, the real CLI, a forged event written with plumbing.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from changeguard.changelog.verified import CACHE, fingerprint
from changeguard.changelog.verify import model_fingerprint
from changeguard.config import load_config
from tests.conftest import git
from tests.helpers.changelog import NOW, Cg, cg, make_repo, plan, plan_path, write_plan

__all__ = ["cg"]
REF = "refs/heads/changeguard/log"


@pytest.fixture
def r(tmp_path: Path, git_env: dict[str, str], cg: Cg) -> Path:
    repo = make_repo(tmp_path / "cfg")
    assert cg(repo, "submit", plan_path(), "--now", NOW).code == 0
    return repo


def _cache_lines(repo: Path) -> list[str]:
    path = repo / ".git" / CACHE
    return path.read_text().splitlines() if path.is_file() else []


def _verify(cg: Cg, repo: Path, *args: str) -> tuple[int, dict[str, object]]:
    res = cg(repo, "log", "verify", "--format", "json", *args)
    return res.code, json.loads(res.out)


def _forge_event(repo: Path) -> str:
    """A commit on the log tip that no event explains (same tree, a non-event message)."""
    tip = git(repo, "rev-parse", REF).strip()
    new = subprocess.run(["git", "commit-tree", f"{tip}^{{tree}}", "-p", tip], cwd=repo,
                         input="approve it quietly\n", capture_output=True, text=True,
                         check=True).stdout.strip()
    git(repo, "update-ref", REF, new, tip)
    return new


def _poison(repo: Path, tip: str) -> None:
    """Claim in this clone's cache that `tip` verified under the trusted config."""
    raw = subprocess.run(["git", "show", "main:.changeguard.yaml"], cwd=repo,
                         capture_output=True, check=True).stdout
    model = model_fingerprint(load_config(repo))  # the key of callers holding only a model
    with (repo / ".git" / CACHE).open("a") as f:
        f.write(f"{tip} {fingerprint(raw)}\n{tip} {model}\n")


def test_incremental_verify_counts_every_event(r: Path, cg: Cg) -> None:
    code, rep = _verify(cg, r)
    assert code == 0 and rep["events"] == 1
    first = git(r, "rev-parse", REF).strip()
    assert any(line.startswith(first) for line in _cache_lines(r))
    other = write_plan(r, plan(id="CHG-2016-0410-other", window={
        "start": "2016-04-10T01:00:00+08:00", "end": "2016-04-10T05:00:00+08:00"}))
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "second plan")
    assert cg(r, "submit", other, "--now", NOW).code == 0
    code, rep = _verify(cg, r)
    assert code == 0 and rep["events"] == 2  # one replayed, one remembered, both counted
    code, full = _verify(cg, r, "--from-scratch")
    assert code == 0 and full["events"] == 2


def test_a_forged_event_after_a_verified_tip_is_caught(r: Path, cg: Cg) -> None:
    assert _verify(cg, r)[0] == 0  # remembers the tip
    bad = _forge_event(r)
    code, rep = _verify(cg, r)
    assert code == 1
    problems = rep["problems"]
    assert isinstance(problems, list) and problems[0]["commit"] == bad
    assert not any(line.startswith(bad) for line in _cache_lines(r))


def test_attack_poisoned_cache_is_not_believed_from_scratch(r: Path, cg: Cg) -> None:
    bad = _forge_event(r)
    _poison(r, bad)
    code, rep = _verify(cg, r, "--from-scratch")
    assert code == 1
    problems = rep["problems"]
    assert isinstance(problems, list) and problems[0]["commit"] == bad


def test_attack_poisoned_cache_is_not_believed_by_the_gate(r: Path, cg: Cg) -> None:
    (r / "notes.txt").write_text("unguarded\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "unguarded edit")
    bad = _forge_event(r)
    _poison(r, bad)
    res = cg(r, "check", "--range", "HEAD~1..HEAD", "--now", NOW)
    assert res.code == 1, res.out + res.err
    assert bad in res.err and "does not verify" in res.err


def test_resumed_replay_finds_conflicts_in_the_verified_tip(r: Path) -> None:
    """Re-verification reads only what new events touch: the conflict candidates of a new
    submit come from the verified tip's indexes and list rows, not from a full replay."""
    from changeguard.changelog.store import Git
    from changeguard.changelog.verify import Replay

    log = Git(r)
    try:
        base = git(r, "rev-parse", REF).strip()
        replay = Replay.resume(log, load_config(r), base)
        a = replay.changes["CHG-2016-0403-storage"]
        b = dict(a, id="CHG-2016-0403-other")
        assert [c["id"] for c in replay.candidates(b)] == [a["id"]]  # type: ignore[arg-type]
        later = dict(b, window={"start": "2016-04-10T01:00:00+08:00",
                                "end": "2016-04-10T05:00:00+08:00"})
        assert replay.candidates(later) == []  # type: ignore[arg-type]
        other_path = dict(b, paths={"db/elsewhere.yaml": None}, services=["x"])
        assert replay.candidates(other_path) == []  # type: ignore[arg-type]
        replay.put(dict(a, state="cancelled"))  # type: ignore[arg-type]
        assert replay.candidates(b) == []  # type: ignore[arg-type]
    finally:
        log.close()


def _tips(repo: Path) -> list[str]:
    return [line.split()[0] for line in _cache_lines(repo)]


def test_a_writers_event_on_a_verified_tip_is_remembered(r: Path, cg: Cg) -> None:
    assert _verify(cg, r)[0] == 0
    write_plan(r, plan(id="CHG-OWN-2", services=["svc-own"], changes=[]))
    assert cg(r, "submit", plan_path("CHG-OWN-2"), "--now", NOW).code == 0
    tip = git(r, "rev-parse", REF).strip()
    assert tip in _tips(r)  # show/list/the hook read it without a replay
    code, rep = _verify(cg, r, "--from-scratch")
    assert code == 0 and rep["events"] == 2  # and the memory was right


def test_an_event_on_a_tip_never_verified_is_not_remembered(r: Path, cg: Cg) -> None:
    assert _tips(r) == []
    write_plan(r, plan(id="CHG-OWN-3", services=["svc-own"], changes=[]))
    assert cg(r, "submit", plan_path("CHG-OWN-3"), "--now", NOW).code == 0
    assert _tips(r) == []
    # a forged commit on top of a verified tip: the next writer's event is not remembered
    assert _verify(cg, r)[0] == 0
    tree = git(r, "rev-parse", f"{REF}^{{tree}}").strip()
    forged = git(r, "commit-tree", tree, "-p", REF, "-m", "forged").strip()
    git(r, "update-ref", REF, forged)
    write_plan(r, plan(id="CHG-OWN-4", services=["svc-own4"], changes=[]))
    cg(r, "submit", plan_path("CHG-OWN-4"), "--now", NOW)
    assert git(r, "rev-parse", REF).strip() not in _tips(r)
    assert _verify(cg, r)[0] == 1
