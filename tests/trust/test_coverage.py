"""SPEC §12 "Coverage" and "Paths": one coverage rule for the hook and the gate, attacked.

Each test plays a repo writer with ordinary git (and plumbing where an attacker would use
it), runs the real CLI (`check --staged`, the hook; `check --range`, the gate) in-process,
and asserts the attack is refused. Attacks 3, 7 (log freeze), 8, 14 (b, c) and 15 of issue 14.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, git
from tests.helpers.changelog import (
    IN_WINDOW,
    NOW,
    PLAN_ID,
    Cg,
    cg,
    config,
    make_repo,
    plan,
    plan_path,
    write_plan,
)
from tests.helpers.plans import write_yaml

__all__ = ["cg"]
TOPO = "db/apac-gateway.topology.yaml"
RULE = "guarded-path-coverage"


def _commit(repo: Path, msg: str, when: str, *args: str) -> str:
    """`git commit --no-verify` with both dates set: what an attacker controls."""
    env = dict(os.environ, GIT_COMMITTER_DATE=when, GIT_AUTHOR_DATE=when)
    subprocess.run(["git", "commit", "-q", "--no-verify", "-m", msg, *args], cwd=repo,
                   env=env, check=True)
    return git(repo, "rev-parse", "HEAD").strip()


def _write(repo: Path, path: str, text: str) -> None:
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(text)
    git(repo, "add", "--", path)


def _approved(cg: Cg, repo: Path, content: str, *, change: str = PLAN_ID,
              submit_at: str = NOW, approve_at: str = NOW) -> None:
    """`change` submitted by ana and approved by dev for `content` of the topology file."""
    (repo / TOPO).write_text(content)
    r = cg(repo, "submit", plan_path(change), "--now", submit_at)
    assert r.code == 0, r.err
    r = cg(repo, "approve", change, "--revision", "1", "--now", approve_at, email="dev@example.org")
    assert r.code == 0, r.err


def _gate(cg: Cg, repo: Path, spec: str, *now: str) -> tuple[int, list[str]]:
    """`check --range SPEC` (json): exit code and the coverage messages."""
    r = cg(repo, "check", "--range", spec, "--format", "json", *(("--now", now[0]) if now
                                                                   else ()))
    assert r.code in (0, 1), r.err
    return r.code, [f["message"] for f in json.loads(r.out)["findings"] if f["rule"] == RULE]


def _hook(cg: Cg, repo: Path, now: str) -> tuple[int, list[str]]:
    """`check --staged` (json), the hook's check: exit code and the coverage messages."""
    r = cg(repo, "check", "--staged", "--format", "json", "--now", now)
    assert r.code in (0, 1), r.err
    return r.code, [f["message"] for f in json.loads(r.out)["findings"] if f["rule"] == RULE]


# --------------------------------------------------------------- 3. stale merges


def _stale_merge_setup(cg: Cg, repo: Path) -> tuple[str, str]:
    """Main holds change B's content; branch `old` still holds once-approved change A's.

    Returns (main tip before the merge, the old commit)."""
    _approved(cg, repo, "proposed: 2\n")
    assert cg(repo, "start", PLAN_ID, "--now", IN_WINDOW).code == 0
    old = _commit(repo, "change A", "2016-04-03T02:10:00+08:00", "-a")
    assert cg(repo, "complete", PLAN_ID, "--now", "2016-04-03T03:00:00+08:00").code == 0
    b = "CHG-2016-0410-storage"
    write_plan(repo, plan(id=b, window={"start": "2016-04-10T01:00:00+08:00",
                                        "end": "2016-04-10T05:00:00+08:00"}))
    git(repo, "add", "changes")
    _commit(repo, "plan B", "2016-04-03T06:00:00+08:00")
    _approved(cg, repo, "proposed: 3\n", change=b, submit_at="2016-04-03T06:00:00+08:00",
              approve_at="2016-04-04T10:00:00+08:00")
    tip = _commit(repo, "change B", "2016-04-10T02:00:00+08:00", "-a")
    git(repo, "switch", "-q", "-c", "old", old)
    _write(repo, "notes.txt", "harmless\n")
    _commit(repo, "side work", "2016-04-16T10:00:00+08:00")
    git(repo, "switch", "-q", "main")
    return tip, old


def test_attack_stale_merge_resurrects_old_content_gate(tmp_path: Path, git_env: dict[str, str],
                                                        cg: Cg) -> None:
    repo = make_repo(tmp_path / "cfg")
    tip, old = _stale_merge_setup(cg, repo)
    git(repo, "merge", "-q", "--no-ff", "--no-commit", "old")
    git(repo, "checkout", old, "--", TOPO)  # keep the stale side's version
    merge = _commit(repo, "merge old", "2016-04-17T10:00:00+08:00")
    assert git(repo, "show", f"{merge}:{TOPO}") == "proposed: 2\n"
    code, msgs = _gate(cg, repo, f"{tip}..{merge}")
    assert code == 1
    assert any(TOPO in m and merge[:12] in m and "state is completed since" in m for m in msgs)
    # a clean merge of the same branch keeps B's content: nothing guarded enters
    git(repo, "reset", "-q", "--hard", tip)
    git(repo, "merge", "-q", "--no-ff", "--no-commit", "old")
    clean = _commit(repo, "merge old", "2016-04-17T10:00:00+08:00")
    assert _gate(cg, repo, f"{tip}..{clean}") == (0, [])


def test_attack_stale_merge_resurrects_old_content_hook(tmp_path: Path, git_env: dict[str, str],
                                                        cg: Cg) -> None:
    repo = make_repo(tmp_path / "cfg")
    _, old = _stale_merge_setup(cg, repo)
    git(repo, "merge", "-q", "--no-ff", "--no-commit", "old")
    git(repo, "checkout", old, "--", TOPO)
    assert (repo / ".git" / "MERGE_HEAD").is_file()  # a real merge in progress
    code, msgs = _hook(cg, repo, "2016-04-17T10:00:00+08:00")
    assert code == 1 and any(TOPO in m and "state is completed since" in m for m in msgs)


# --------------------------------------------------------------- 14c. hand-written MERGE_HEAD


def test_attack_hand_written_merge_head(tmp_path: Path, git_env: dict[str, str],
                                        cg: Cg) -> None:
    repo = make_repo(tmp_path / "cfg")
    git(repo, "switch", "-q", "-c", "scratch")
    _write(repo, TOPO, "proposed: 666\n")
    decoy = _commit(repo, "never reviewed", IN_WINDOW)
    git(repo, "switch", "-q", "main")
    _write(repo, TOPO, "proposed: 666\n")
    (repo / ".git" / "MERGE_HEAD").write_text(decoy + "\n")  # no merge: a claim
    code, msgs = _hook(cg, repo, IN_WINDOW)
    assert code == 1 and any(f"{TOPO} is guarded" in m for m in msgs)


# --------------------------------------------------------------- 8. committer dates


def test_attack_future_dated_commit(tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    repo = make_repo(tmp_path / "cfg")
    base = git(repo, "rev-parse", "HEAD").strip()
    _approved(cg, repo, "proposed: 2\n")
    # made on 2016-03-29 and dated inside the window five days ahead
    sha = _commit(repo, "early", IN_WINDOW, "-a")
    code, msgs = _gate(cg, repo, f"{base}..HEAD", "2016-03-29T02:00:00+08:00")
    assert code == 1
    assert any(sha[:12] in m and "later than the gate's clock" in m for m in msgs)
    # within clock_skew_minutes (10) of the gate's clock the same commit is covered
    assert _gate(cg, repo, f"{base}..HEAD", "2016-04-03T01:55:00+08:00") == (0, [])


def test_attack_rolled_back_content_recommitted_with_old_date(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    repo = make_repo(tmp_path / "cfg")
    _approved(cg, repo, "proposed: 2\n")
    assert cg(repo, "start", PLAN_ID, "--now", IN_WINDOW).code == 0
    _commit(repo, "change", "2016-04-03T02:10:00+08:00", "-a")
    assert cg(repo, "rollback", PLAN_ID, "--reason", "lag", "--now",
              "2016-04-03T02:30:00+08:00").code == 0
    _write(repo, TOPO, "proposed: 1\n")
    reverted = _commit(repo, "revert", "2016-04-03T02:40:00+08:00")
    _write(repo, TOPO, "proposed: 2\n")  # weeks later, dated back inside the window
    again = _commit(repo, "again", "2016-04-03T04:00:00+08:00")
    code, msgs = _gate(cg, repo, f"{reverted}..{again}")
    assert code == 1 and any("state is rolled_back since" in m for m in msgs)


def test_attack_completed_change_covers_only_before_complete(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    repo = make_repo(tmp_path / "cfg")
    base = git(repo, "rev-parse", "HEAD").strip()
    _approved(cg, repo, "proposed: 2\n")
    assert cg(repo, "start", PLAN_ID, "--now", IN_WINDOW).code == 0
    assert cg(repo, "complete", PLAN_ID, "--now", "2016-04-03T03:00:00+08:00").code == 0
    _commit(repo, "after complete", "2016-04-03T04:00:00+08:00", "-a")
    code, msgs = _gate(cg, repo, f"{base}..HEAD")
    assert code == 1 and any("state is completed since 2016-04-03T03:00" in m for m in msgs)
    git(repo, "reset", "-q", "--soft", base)
    _commit(repo, "before complete", "2016-04-03T02:30:00+08:00")
    assert _gate(cg, repo, f"{base}..HEAD") == (0, [])


def test_attack_commit_dated_before_its_approval(tmp_path: Path, git_env: dict[str, str],
                                                 cg: Cg) -> None:
    repo = make_repo(tmp_path / "cfg")
    base = git(repo, "rev-parse", "HEAD").strip()
    _approved(cg, repo, "proposed: 2\n", approve_at="2016-04-03T02:00:00+08:00")
    _commit(repo, "before approval", "2016-04-03T01:30:00+08:00", "-a")
    code, msgs = _gate(cg, repo, f"{base}..HEAD")
    assert code == 1 and any("approved only at 2016-04-03T02:00" in m for m in msgs)
    git(repo, "reset", "-q", "--soft", base)
    code, msgs = _hook(cg, repo, "2016-04-03T01:30:00+08:00")
    assert code == 1 and any("approved only at" in m for m in msgs)


# --------------------------------------------------------------- 7. log freeze


def test_attack_gate_ignores_log_freeze(tmp_path: Path, git_env: dict[str, str],
                                        cg: Cg) -> None:
    repo = make_repo(tmp_path / "cfg")
    base = git(repo, "rev-parse", "HEAD").strip()
    _approved(cg, repo, "proposed: 2\n")
    assert cg(repo, "freeze", "--reason", "incident 42", "--now", "2016-04-03T01:10:00+08:00",
              email="ravi@example.org").code == 0
    assert cg(repo, "unfreeze", "--now", "2016-04-03T03:00:00+08:00",
              email="ravi@example.org").code == 0
    _commit(repo, "during the freeze", IN_WINDOW, "-a")
    code, msgs = _gate(cg, repo, f"{base}..HEAD")
    assert code == 1 and any("the line is frozen" in m and "incident 42" in m for m in msgs)
    git(repo, "reset", "-q", "--soft", base)
    _commit(repo, "after the freeze", "2016-04-03T03:30:00+08:00")
    assert _gate(cg, repo, f"{base}..HEAD") == (0, [])


# --------------------------------------------------------------- 14b. plans glob


def test_attack_plans_glob_over_guarded_files(tmp_path: Path, git_env: dict[str, str],
                                              cg: Cg) -> None:
    repo = make_repo(tmp_path / "cfg")
    write_yaml(repo / ".changeguard.yaml", config(plans="db/**"))
    git(repo, "add", ".changeguard.yaml")
    git(repo, "rm", "-q", TOPO)
    code, msgs = _hook(cg, repo, IN_WINDOW)
    assert code == 1 and any(m.startswith(f"deletion of {TOPO} is guarded") for m in msgs)
    # the same deletion once such a config is committed: still guarded, never a plan
    git(repo, "reset", "-q", "--hard")
    write_yaml(repo / ".changeguard.yaml", config(plans="db/**"))
    _commit(repo, "plans under db", NOW, "-a")
    git(repo, "rm", "-q", TOPO)
    code, msgs = _hook(cg, repo, IN_WINDOW)
    assert code == 1 and any(m.startswith(f"deletion of {TOPO} is guarded") for m in msgs)


# --------------------------------------------------------------- 15. paths


def test_attack_case_variant_of_a_guarded_path(tmp_path: Path, git_env: dict[str, str],
                                               cg: Cg) -> None:
    repo = make_repo(tmp_path / "cfg")
    base = git(repo, "rev-parse", "HEAD").strip()
    _write(repo, "DB/apac-gateway.topology.yaml", "proposed: 666\n")
    code, msgs = _hook(cg, repo, IN_WINDOW)
    assert code == 1 and any("DB/apac-gateway.topology.yaml is guarded" in m for m in msgs)
    _commit(repo, "case twin", IN_WINDOW)
    code, msgs = _gate(cg, repo, f"{base}..HEAD")
    assert code == 1 and any("DB/apac-gateway.topology.yaml is guarded" in m for m in msgs)


@pytest.mark.parametrize("attrs", ["db/** working-tree-encoding=UTF-16\n",
                                   "*.yaml filter=x\n", "[attr]cfg eol=crlf\n"])
def test_attack_gitattributes_rewrites_guarded_bytes(tmp_path: Path, git_env: dict[str, str],
                                                     cg: Cg, attrs: str) -> None:
    repo = make_repo(tmp_path / "cfg")
    base = git(repo, "rev-parse", "HEAD").strip()
    _write(repo, ".gitattributes", attrs)
    code, msgs = _hook(cg, repo, IN_WINDOW)
    assert code == 1 and any(".gitattributes is guarded" in m for m in msgs)
    _commit(repo, "attributes", IN_WINDOW)
    code, msgs = _gate(cg, repo, f"{base}..HEAD")
    assert code == 1 and any(".gitattributes is guarded" in m for m in msgs)
    # deleting it later changes the checked-out bytes back: judged on its old patterns
    mid = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "rm", "-q", ".gitattributes")
    _commit(repo, "drop attributes", IN_WINDOW)
    code, msgs = _gate(cg, repo, f"{mid}..HEAD")
    assert code == 1 and any(".gitattributes is guarded" in m for m in msgs)


def test_gitattributes_far_from_guarded_paths_is_not_guarded(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    repo = make_repo(tmp_path / "cfg")
    _write(repo, "docs/.gitattributes", "*.md text eol=lf\n")
    assert _hook(cg, repo, IN_WINDOW) == (0, [])
    _write(repo, "docs/db/.gitattributes", "*.md text eol=lf\n")  # docs/db is not db/
    assert _hook(cg, repo, IN_WINDOW) == (0, [])


# --------------------------------------------------------------- governance files


def _governed_repo(tmp_path: Path) -> Path:
    """Config naming a repo policy pack and a repo schema; `guarded` covers neither."""
    schema = {"type": "object", "required": ["port"]}

    def cfg() -> dict[str, object]:
        return config(policies=["builtin:default", "policies/local.yaml"],
                      schemas=[{"paths": ["svc/*.json"], "schema": "./schemas/svc.json"}])

    repo = make_repo(tmp_path / "cfg", cfg())
    _write(repo, "policies/local.yaml", (ROOT / "policies" / "default.yaml").read_text())
    _write(repo, "schemas/svc.json", json.dumps(schema))
    git(repo, "commit", "-q", "-m", "governance files")
    return repo


@pytest.mark.parametrize(("path", "edit"), [
    (".changeguard.yaml", lambda t: t.replace("lead_time_hours: 48", "lead_time_hours: 0")),
    ("policies/local.yaml", lambda t: t + "\n# loosened\n"),
    ("schemas/svc.json", lambda t: json.dumps({"type": "object"})),
])
def test_attack_governance_files_are_guarded(tmp_path: Path, git_env: dict[str, str], cg: Cg,
                                             path: str, edit: object) -> None:
    repo = _governed_repo(tmp_path)
    base = git(repo, "rev-parse", "HEAD").strip()
    assert callable(edit)
    _write(repo, path, edit((repo / path).read_text()))
    code, msgs = _hook(cg, repo, IN_WINDOW)
    assert code == 1 and any(f"{path} is guarded" in m for m in msgs)
    _commit(repo, "loosen governance", IN_WINDOW)
    code, msgs = _gate(cg, repo, f"{base}..HEAD")
    assert code == 1 and any(f"{path} is guarded" in m for m in msgs)
