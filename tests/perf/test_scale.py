"""Issue 17: `approve` and `show` on a long log cost what a short one does. Counts, not times:
objects read for the conflict check, git processes `show` starts; and the record of event
commits that makes `show` cheap is checked by `log verify`.

The logs are built as bench/log_scale.py builds them (git fast-import; every event a real,
verifiable submit; changes share 50 services, windows 6 h apart, none overlapping).
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import pytest

from changeguard.changelog.events import Snapshot
from changeguard.changelog.layout import commits_file
from changeguard.changelog.state import ChangeState, World, conflicts
from changeguard.changelog.store import Git, TreeEdit, ref_tip
from tests.helpers import ROOT, RunCli, git


def _bench(name: str) -> ModuleType:
    """A bench/ script as a module (bench/ is a folder of scripts, not on sys.path)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


log_scale = _bench("log_scale")

REF = "refs/heads/changeguard/log"
NOW = log_scale.NOW


class CountingGit(Git):
    """A real Git that counts the objects asked for (by the path they name)."""

    def __init__(self, repo: Path) -> None:
        super().__init__(repo)
        self.specs: list[str] = []

    def read(self, spec: str) -> tuple[str, str, bytes] | None:
        self.specs.append(spec)
        return super().read(spec)

    def read_many(self, specs: Sequence[str]) -> list[tuple[str, str, bytes] | None]:
        self.specs.extend(specs)
        return super().read_many(specs)

    def count(self, suffix: str) -> int:
        return sum(s.endswith(suffix) for s in self.specs)


def _log(tmp: Path, n: int, records: bool = False) -> Path:
    repo = tmp / f"log{n}{'r' if records else ''}"
    log_scale.build(repo, n, records=records)
    return repo


def _reads(repo: Path, n: int, probe_of: int | None = None) -> tuple[int, int, list[str]]:
    """(state.json reads, objects read, candidate ids) of the conflict check of the
    newest change; `probe_of`: a new change in the window of that older change instead."""
    g = CountingGit(repo)
    try:
        snap = Snapshot(g, ref_tip(g, REF))
        st = snap.state(f"CHG-B-{n - 1:05d}")
        assert st is not None
        if probe_of is not None:
            other = snap.state(f"CHG-B-{probe_of:05d}")
            assert other is not None
            st = ChangeState(**{**st, "id": "CHG-B-PROBE", "window": other["window"]})
        g.specs.clear()
        found = snap.candidates(st)
        return g.count("state.json"), len(g.specs), [c["id"] for c in found]
    finally:
        g.close()


def test_conflict_check_reads_no_more_states_on_a_longer_log(tmp_path: Path,
                                                            git_env: dict[str, str]) -> None:
    small, big = _log(tmp_path, 100), _log(tmp_path, 1000)
    s_states, _, s_ids = _reads(small, 100)
    b_states, b_rows, b_ids = _reads(big, 1000)
    # 2 vs 20 changes share the service, none overlaps: no state is read on either log
    assert (s_ids, b_ids) == ([], [])
    assert b_states <= s_states + 1
    assert b_rows <= 256 + 8  # at most one list shard per 1/256 of the changes, and trees


def test_the_row_filter_keeps_the_overlapping_open_change(tmp_path: Path,
                                                         git_env: dict[str, str]) -> None:
    big = _log(tmp_path, 1000)
    states, _, ids = _reads(big, 1000, probe_of=949)  # svc-49, as the newest change
    assert ids == ["CHG-B-00949"]
    assert states <= 2
    g = Git(big)
    try:
        snap = Snapshot(g, ref_tip(g, REF))
        st = snap.state("CHG-B-00999")
        other = snap.state("CHG-B-00949")
        assert st is not None and other is not None
        probe = ChangeState(**{**st, "id": "CHG-B-PROBE", "window": other["window"]})
        found = conflicts(probe, World({}, others=snap.candidates(probe)))
        assert len(found) == 1 and "CHG-B-00949" in found[0]
    finally:
        g.close()


def _show_events(run_cli: RunCli, repo: Path, change: str, trace: Path) -> list[str]:
    res = run_cli("show", change, "--format", "json", "--now", NOW, cwd=repo,
                  env={"GIT_TRACE": str(trace)})
    assert res.code == 0, res.err
    return [e["commit"] for e in json.loads(res.out)["events"]]


def _git_commands(trace: Path) -> list[str]:
    lines = trace.read_text().splitlines() if trace.exists() else []
    return [ln.split("built-in: git ", 1)[1].split()[0] for ln in lines if "built-in: git " in ln]


@pytest.mark.parametrize("records", [True, False])
def test_show_of_the_oldest_change_names_its_commit(tmp_path: Path, run_cli: RunCli,
                                                    records: bool) -> None:
    repo = _log(tmp_path, 300, records)
    run_cli("show", "CHG-B-00000", "--now", NOW, cwd=repo)  # verifies the tip once
    want = git(repo, "log", "--format=%H", "--grep=^Changeguard-Change: CHG-B-00000$",
               REF).split()
    trace = tmp_path / "trace"
    assert _show_events(run_cli, repo, "CHG-B-00000", trace) == want
    commands = _git_commands(trace)
    # with records no walk of the log; an older log without them falls back to one
    assert ("log" in commands) is not records


def test_show_starts_as_many_git_processes_at_1000_as_at_50(tmp_path: Path,
                                                            run_cli: RunCli) -> None:
    counts = []
    for n in (50, 1000):
        repo = _log(tmp_path, n, records=True)
        run_cli("show", "CHG-B-00005", "--now", NOW, cwd=repo)
        trace = tmp_path / f"trace{n}"
        _show_events(run_cli, repo, "CHG-B-00005", trace)
        counts.append(_git_commands(trace))
    assert counts[0] == counts[1]
    assert "log" not in counts[1]


@pytest.mark.parametrize("records", [True, False])
def test_approve_then_show_lists_both_commits(tmp_path: Path, run_cli: RunCli,
                                              records: bool) -> None:
    """Without records (an older log) the new events' records miss the submits: show
    falls back to the walk, and the mixed log verifies."""
    repo = _log(tmp_path, 20, records=records)
    env = {"GIT_AUTHOR_EMAIL": log_scale.APPROVER, "GIT_COMMITTER_EMAIL": log_scale.APPROVER}
    for change in ("CHG-B-00003", "CHG-B-00019", "CHG-B-00004"):
        res = run_cli("approve", change, "--revision", "1", "--now", NOW, cwd=repo, env=env)
        assert res.code == 0, res.err
    for change in ("CHG-B-00003", "CHG-B-00019", "CHG-B-00004"):
        want = git(repo, "log", "--reverse", "--format=%H",
                   f"--grep=^Changeguard-Change: {change}$", REF).split()
        assert len(want) == 2
        assert _show_events(run_cli, repo, change, tmp_path / f"t{change}") == want
    assert run_cli("log", "verify", "--from-scratch", cwd=repo).code == 0


def test_log_verify_flags_a_forged_record(tmp_path: Path, run_cli: RunCli) -> None:
    repo = _log(tmp_path, 10, records=True)
    env = {"GIT_AUTHOR_EMAIL": log_scale.APPROVER, "GIT_COMMITTER_EMAIL": log_scale.APPROVER}
    assert run_cli("approve", "CHG-B-00005", "--revision", "1", "--now", NOW, cwd=repo,
                   env=env).code == 0
    honest = git(repo, "rev-parse", REF).strip()
    # the same approve, but its record of CHG-B-00009's commits names another commit
    g = Git(repo)
    try:
        tree = TreeEdit(g, git(repo, "rev-parse", f"{honest}^{{tree}}").strip())
        forged = git(repo, "rev-parse", f"{honest}~3").strip()
        tree.put(commits_file("CHG-B-00009"), g.stage_blob(b'["%s"]\n' % forged.encode()))
        sha = tree.write()
    finally:
        g.close()
    assert sha is not None
    message = git(repo, "log", "-1", "--format=%B", honest)
    bad = git(repo, "commit-tree", sha, "-p", f"{honest}~1", "-m", message,
              env=dict(os.environ, GIT_AUTHOR_EMAIL=log_scale.APPROVER)).strip()
    (repo / ".git" / "logs" / "refs" / "heads" / "changeguard" / "log").unlink()
    git(repo, "update-ref", REF, bad)
    res = run_cli("log", "verify", "--from-scratch", cwd=repo)
    assert res.code == 1
    assert "record of event commits" in res.out + res.err
