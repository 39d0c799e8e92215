"""SPEC §12 "Trusted revision": writers and judges never read the working tree's config.

Attacks 2, 4, 12 and 14a of issue 14, each through the real CLI on a real repo: a pull
request bringing its own config, a roster edit nobody committed, a submit validated under a
locally weakened config, an unstaged `guarded: []`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import RunCli, git
from tests.helpers.plans import config, plan, write_yaml

REF = "refs/heads/changeguard/log"
SUBMIT_AT = "2016-03-27T10:00:00+08:00"
APPROVE_AT = "2016-03-28T10:00:00+08:00"
IN_WINDOW = "2016-04-03T01:30:00+08:00"
TOPO = ("apiVersion: changeguard/v1\nkind: ReplicationTopology\nname: apac\nengine: postgresql\n"
        "nodes:\n  - {name: db1, role: primary, host: h1}\n"
        "  - {name: db2, role: replica, host: h2, upstream: db1}\n")
# the 2016 topology error: db2 follows a node that does not exist
BROKEN = TOPO.replace("upstream: db1", "upstream: db-1")
MAPPING = [{"paths": ["db/**/*.topology.yaml"], "schema": "builtin:replication-topology"}]


def _commit(repo: Path, env: dict[str, str], msg: str, when: str | None = None) -> str:
    e = dict(env, GIT_COMMITTER_DATE=when, GIT_AUTHOR_DATE=when) if when else env
    subprocess.run(["git", "commit", "-q", "--no-verify", "-m", msg], cwd=repo, env=e,
                   check=True)
    return git(repo, "rev-parse", "HEAD").strip()


def _tip(repo: Path, ref: str = REF) -> str:
    p = subprocess.run(["git", "rev-parse", "-q", "--verify", ref], cwd=repo,
                       capture_output=True, text=True)
    return p.stdout.strip()


@pytest.fixture
def base(repo: Path, git_env: dict[str, str]) -> Path:
    """main holds the trusted config (roster, schemas mapping) and one plan."""
    write_yaml(repo / ".changeguard.yaml", config(schemas=MAPPING))
    (repo / "db").mkdir()
    (repo / "db" / "apac.topology.yaml").write_text(TOPO)
    write_yaml(repo / "changes" / "p.yaml",
               plan(changes=[{"path": "db/apac.topology.yaml"}], steps=[]))
    git(repo, "add", "-A")
    _commit(repo, git_env, "base")
    return repo


def _edit_config(repo: Path, **changes: object) -> None:
    data = yaml.safe_load((repo / ".changeguard.yaml").read_text())
    data.update(changes)
    write_yaml(repo / ".changeguard.yaml", data)


# --------------------------------------------------------------- 4. roster from the tree


def test_attack_uncommitted_roster_edit_does_not_let_an_outsider_approve(
        base: Path, run_cli: RunCli) -> None:
    (base / "db" / "apac.topology.yaml").write_text(TOPO.replace("host: h2", "host: h2b"))
    assert run_cli("submit", "changes/p.yaml", "--now", SUBMIT_AT, cwd=base).code == 0
    tip = _tip(base)
    roster = yaml.safe_load((base / ".changeguard.yaml").read_text())["reviewers"]
    _edit_config(base, reviewers=[*roster, {"email": "eve@example.org", "roles": ["dba"]}])
    r = run_cli("approve", "CHG-2016-0403-storage", "--revision", "1", "--now", APPROVE_AT,
                cwd=base,
                env={"GIT_AUTHOR_EMAIL": "eve@example.org"})
    assert r.code == 1 and "not on the reviewer roster" in r.err, r.err
    assert "trusted revision" in r.err  # the writer says which config it used
    assert _tip(base) == tip  # nothing recorded
    show = run_cli("show", "CHG-2016-0403-storage", "--format", "json", cwd=base)
    assert json.loads(show.out)["state"] == "submitted"


def test_attack_locally_removed_schema_mapping_does_not_let_a_broken_topology_through(
        base: Path, run_cli: RunCli) -> None:
    """Attack 12: submit validates under the trusted config, not the author's."""
    (base / "db" / "apac.topology.yaml").write_text(BROKEN)
    _edit_config(base, schemas=[])
    r = run_cli("submit", "changes/p.yaml", "--now", SUBMIT_AT, cwd=base)
    assert r.code == 1, r.out + r.err
    assert "replication-upstream-exists" in r.out
    assert _tip(base) == ""  # no log was written at all
    # read-only commands use the working tree on purpose: the user can try edits
    assert run_cli("validate", "changes/p.yaml", "--now", SUBMIT_AT, cwd=base).code == 0


def test_attack_locally_emptied_policies_do_not_lower_approval_requirements(
        base: Path, run_cli: RunCli) -> None:
    """Attack 5's other half: requirements come from the trusted packs, not `policies: []`."""
    write_yaml(base / "changes" / "p.yaml",
               plan(changes=[{"path": "db/apac.topology.yaml"}], steps=[], risk="high"))
    git(base, "commit", "-q", "-am", "high risk")
    (base / "db" / "apac.topology.yaml").write_text(TOPO.replace("host: h2", "host: h2b"))
    _edit_config(base, policies=[])
    assert run_cli("submit", "changes/p.yaml", "--now", SUBMIT_AT, cwd=base).code == 0
    r = run_cli("approve", "CHG-2016-0403-storage", "--revision", "1", "--now", APPROVE_AT,
                cwd=base,
                env={"GIT_AUTHOR_EMAIL": "chen@example.org"})
    assert r.code == 0, r.err
    show = json.loads(run_cli("show", "CHG-2016-0403-storage", "--format", "json",
                              cwd=base).out)
    assert show["state"] == "submitted"  # high risk still needs 2 people, one a dba


# --------------------------------------------------------------- 14a. unstaged config edit


def test_attack_unstaged_guarded_off_edit_does_not_switch_the_hook_off(
        base: Path, git_env: dict[str, str]) -> None:
    (base / "db" / "apac.topology.yaml").write_text(TOPO.replace("host: h2", "host: h9"))
    git(base, "add", "db/apac.topology.yaml")
    _edit_config(base, guarded=[])  # in the working tree only, never staged
    p = subprocess.run([sys.executable, "-m", "changeguard.hook", "--now", IN_WINDOW],
                       cwd=base, env=git_env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "db/apac.topology.yaml is guarded" in p.stdout


# --------------------------------------------------------------- 2. the PR's own config


def _approved(base: Path, run_cli: RunCli) -> str:
    """CHG-2016-0403-storage approved on main for a new db2 host; returns main's sha."""
    main = git(base, "rev-parse", "HEAD").strip()
    (base / "db" / "apac.topology.yaml").write_text(TOPO.replace("host: h2", "host: h2b"))
    assert run_cli("submit", "changes/p.yaml", "--now", SUBMIT_AT, cwd=base).code == 0
    assert run_cli("approve", "CHG-2016-0403-storage", "--revision", "1", "--now", APPROVE_AT,
                   cwd=base,
                   env={"GIT_AUTHOR_EMAIL": "dev@example.org"}).code == 0
    return main


def _ci(base: Path, run_cli: RunCli, main: str) -> tuple[int, int]:
    """The two CI steps of examples/ci: verify under BASE's config, then the gate."""
    verify = run_cli("--trusted-rev", main, "log", "verify", cwd=base)
    gate = run_cli("check", "--range", f"{main}..HEAD", cwd=base)
    return verify.code, gate.code


def test_attack_pr_adds_its_author_to_the_roster_and_self_approves(
        base: Path, run_cli: RunCli, git_env: dict[str, str]) -> None:
    main = git(base, "rev-parse", "HEAD").strip()
    git(base, "checkout", "-q", "-b", "pr")
    roster = yaml.safe_load((base / ".changeguard.yaml").read_text())["reviewers"]
    _edit_config(base, reviewers=[*roster, {"email": "eve@example.org", "roles": ["dba"]}])
    (base / "db" / "apac.topology.yaml").write_text(TOPO.replace("host: h2", "host: h7"))
    git(base, "add", "-A")
    _commit(base, git_env, "eve joins and moves db2", IN_WINDOW)
    # on the PR branch the writer's trusted revision is still main: eve cannot approve
    assert run_cli("submit", "changes/p.yaml", "--now", SUBMIT_AT, cwd=base).code == 0
    r = run_cli("approve", "CHG-2016-0403-storage", "--revision", "1", "--now", APPROVE_AT,
                cwd=base,
                env={"GIT_AUTHOR_EMAIL": "eve@example.org"})
    assert r.code == 1 and "not on the reviewer roster" in r.err
    # and an approval forged under the PR's roster (written with the PR's config as the
    # trusted one) does not verify under BASE's
    forged = run_cli("--trusted-rev", "pr", "approve", "CHG-2016-0403-storage", "--revision", "1",
                     "--now",
                     APPROVE_AT, cwd=base, env={"GIT_AUTHOR_EMAIL": "eve@example.org"})
    assert forged.code == 0, forged.err
    verify, gate = _ci(base, run_cli, main)
    assert verify == 1 and gate == 1


def test_attack_pr_points_the_log_at_its_own_branch(
        base: Path, run_cli: RunCli, git_env: dict[str, str]) -> None:
    main = _approved(base, run_cli)
    # the attacker's own log, where their change is "approved" for different content
    git(base, "checkout", "-q", "-b", "pr")
    (base / "db" / "apac.topology.yaml").write_text(TOPO.replace("host: h2", "host: evil"))
    _edit_config(base, log={"ref": "refs/heads/pr-log"})
    git(base, "add", "-A")
    _commit(base, git_env, "evil", IN_WINDOW)
    git(base, "update-ref", "refs/heads/pr-log", REF)
    verify, gate = _ci(base, run_cli, main)
    assert verify == 0  # the real log is fine ...
    assert gate == 1  # ... and does not cover the PR's content


def test_attack_pr_switches_signing_off(
        base: Path, run_cli: RunCli, git_env: dict[str, str]) -> None:
    _edit_config(base, require_signed=True)
    git(base, "commit", "-q", "-am", "sign everything")
    main = git(base, "rev-parse", "HEAD").strip()
    git(base, "checkout", "-q", "-b", "pr")
    _edit_config(base, require_signed=False)
    git(base, "commit", "-q", "-am", "signing off")
    # an unsigned event written under the PR's config
    (base / "db" / "apac.topology.yaml").write_text(TOPO.replace("host: h2", "host: h2b"))
    r = run_cli("--trusted-rev", "pr", "submit", "changes/p.yaml", "--now", SUBMIT_AT,
                cwd=base)
    assert r.code == 0, r.err
    verify, _ = _ci(base, run_cli, main)
    assert verify == 1


def test_attack_pr_deletes_a_freeze(
        base: Path, run_cli: RunCli, git_env: dict[str, str]) -> None:
    _edit_config(base, freezes=[{"name": "exams", "start": "2016-04-01T00:00:00+08:00",
                                 "end": "2016-04-30T00:00:00+08:00", "reason": "exams"}])
    git(base, "commit", "-q", "-am", "freeze")
    main = git(base, "rev-parse", "HEAD").strip()
    git(base, "checkout", "-q", "-b", "pr")
    _edit_config(base, freezes=[])
    git(base, "commit", "-q", "-am", "no freeze")
    # approve under the PR's freeze-less config (a freeze would refuse the overlap)
    (base / "db" / "apac.topology.yaml").write_text(TOPO.replace("host: h2", "host: h2b"))
    for args, who in ((["submit", "changes/p.yaml", "--now", SUBMIT_AT], "ana"),
                      (["approve", "CHG-2016-0403-storage", "--revision", "1", "--now",
                        APPROVE_AT], "dev")):
        r = run_cli("--trusted-rev", "pr", *args, cwd=base,
                    env={"GIT_AUTHOR_EMAIL": f"{who}@example.org"})
        assert r.code == 0, r.err
    git(base, "add", "db/apac.topology.yaml")
    _commit(base, git_env, "db2 moved in the freeze", IN_WINDOW)
    gate = run_cli("check", "--range", f"{main}..HEAD", cwd=base)
    assert gate.code == 1, gate.out
    # the events name the PR's config (Changeguard-Config), so the log does not verify
    # under BASE before coverage is even judged (SPEC §12)
    assert "not on the trusted branch" in gate.err


def test_attack_pr_deletes_a_schemas_mapping(
        base: Path, run_cli: RunCli, git_env: dict[str, str]) -> None:
    main = git(base, "rev-parse", "HEAD").strip()
    git(base, "checkout", "-q", "-b", "pr")
    _edit_config(base, schemas=[], guarded=[])
    (base / "db" / "apac.topology.yaml").write_text(BROKEN)
    git(base, "add", "-A")
    _commit(base, git_env, "broken and unmapped", IN_WINDOW)
    gate = run_cli("check", "--range", f"{main}..HEAD", "--format", "json", cwd=base)
    assert gate.code == 1
    rules = {f["rule"] for f in json.loads(gate.out)["findings"]}
    assert "replication-upstream-exists" in rules


# --------------------------------------------------------------- resolving the revision


def test_judges_without_a_trusted_branch_exit_2_naming_it(
        base: Path, run_cli: RunCli) -> None:
    git(base, "branch", "-m", "main", "work")
    r = run_cli("log", "verify", cwd=base)
    assert r.code == 2 and "refs/heads/main" in r.err and "--trusted-rev" in r.err
    assert run_cli("--trusted-rev", "work", "log", "verify", cwd=base).code == 0
    bad = run_cli("--trusted-rev", "nope", "log", "verify", cwd=base)
    assert bad.code == 2 and "nope" in bad.err


def test_remote_tracking_branch_wins_over_the_local_one(
        base: Path, run_cli: RunCli, tmp_path: Path) -> None:
    """A local commit on main does not become trusted before it is on the remote."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(base, "remote", "add", "origin", str(remote))
    git(base, "push", "-q", "origin", "main")
    git(base, "fetch", "-q", "origin")
    roster = yaml.safe_load((base / ".changeguard.yaml").read_text())["reviewers"]
    _edit_config(base, reviewers=[*roster, {"email": "eve@example.org", "roles": ["dba"]}])
    git(base, "commit", "-q", "-am", "eve, locally")
    (base / "db" / "apac.topology.yaml").write_text(TOPO.replace("host: h2", "host: h2b"))
    assert run_cli("submit", "changes/p.yaml", "--now", SUBMIT_AT, cwd=base).code == 0
    r = run_cli("approve", "CHG-2016-0403-storage", "--revision", "1", "--now", APPROVE_AT,
                cwd=base,
                env={"GIT_AUTHOR_EMAIL": "eve@example.org"})
    assert r.code == 1 and "origin/main" in r.err


def test_trust_branch_names_another_branch(base: Path, run_cli: RunCli,
                                           git_env: dict[str, str]) -> None:
    """main's config may hand trust to another branch, whose config names itself."""
    git(base, "checkout", "-q", "-b", "prod")
    _edit_config(base, trust={"branch": "prod"})
    git(base, "commit", "-q", "-am", "prod is trusted")
    git(base, "checkout", "-q", "main")
    _edit_config(base, trust={"branch": "prod"}, reviewers=[])
    git(base, "commit", "-q", "-am", "main hands trust to prod")
    (base / "db" / "apac.topology.yaml").write_text(TOPO.replace("host: h2", "host: h2b"))
    r = run_cli("submit", "changes/p.yaml", "--now", SUBMIT_AT, cwd=base)
    assert r.code == 0, r.err  # prod's roster (with ana) is the one used
    assert "refs/heads/prod" in r.err  # the working tree differs from prod's config


# --------------------------------------------------------------- validate --rev (SPEC §13)


def test_validate_rev_reads_the_plan_at_rev_and_prints_the_digest_submit_records(
        base: Path, run_cli: RunCli, git_env: dict[str, str]) -> None:
    (base / "db" / "apac.topology.yaml").write_text(TOPO.replace("host: h2", "host: h2b"))
    git(base, "add", "-A")
    _commit(base, git_env, "proposal")
    proposal = git(base, "rev-parse", "HEAD").strip()
    # the work tree moves on; validate --rev still judges what was committed
    write_yaml(base / "changes" / "p.yaml", {"not": "a plan"})
    r = run_cli("validate", "changes/p.yaml", "--rev", proposal, "--now", SUBMIT_AT, cwd=base)
    assert r.code == 0, r.out + r.err
    digest = next(w for w in r.err.split() if w.startswith("sha256:"))
    git(base, "checkout", "-q", "--", "changes/p.yaml")
    assert run_cli("submit", "changes/p.yaml", "--now", SUBMIT_AT, cwd=base).code == 0
    shown = json.loads(run_cli("show", "CHG-2016-0403-storage", "--format", "json",
                               cwd=base).out)
    assert shown["digest"] == digest
    missing = run_cli("validate", "changes/nope.yaml", "--rev", proposal, cwd=base)
    assert missing.code == 2 and "does not exist at" in missing.err
    bad = run_cli("validate", "changes/p.yaml", "--rev", "nope", cwd=base)
    assert bad.code == 2 and "nope" in bad.err
