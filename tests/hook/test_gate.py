"""`check --range`: the CI gate, on a real repo and log, run as the CI examples run it."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, RunCli, git
from tests.helpers.plans import config, plan, write_yaml

TOPO = ("apiVersion: changeguard/v1\nkind: ReplicationTopology\nname: apac\nengine: postgresql\n"
        "nodes:\n  - {name: db1, role: primary, host: h1}\n"
        "  - {name: db2, role: replica, host: h2, upstream: db1}\n")
IN_WINDOW = "2016-04-03T01:30:00+08:00"


def _commit(repo: Path, env: dict[str, str], msg: str, when: str) -> str:
    e = dict(env, GIT_COMMITTER_DATE=when, GIT_AUTHOR_DATE=when)
    subprocess.run(["git", "commit", "-q", "--no-verify", "-m", msg], cwd=repo, env=e,
                   check=True)
    return git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture
def gated(repo: Path, git_env: dict[str, str], run_cli: RunCli) -> tuple[Path, str]:
    """A repo whose change CHG-2016-0403-storage is approved for db/apac.topology.yaml."""
    cfg = config(schemas=[{"paths": ["db/**/*.topology.yaml"],
                           "schema": "builtin:replication-topology"}])
    write_yaml(repo / ".changeguard.yaml", cfg)
    (repo / "db").mkdir()
    (repo / "db" / "apac.topology.yaml").write_text(TOPO)
    write_yaml(repo / "changes" / "p.yaml", plan(changes=[{"path": "db/apac.topology.yaml"}],
                                                   steps=[]))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    base = git(repo, "rev-parse", "HEAD").strip()
    (repo / "db" / "apac.topology.yaml").write_text(TOPO.replace("host: h2", "host: h2b"))
    r = run_cli("submit", "changes/p.yaml", "--now", "2016-03-27T10:00:00+08:00", cwd=repo)
    assert r.code == 0, r.err
    r = run_cli("approve", "CHG-2016-0403-storage", "--revision", "1", "--now",
                "2016-03-28T10:00:00+08:00",
                cwd=repo, env={"GIT_AUTHOR_EMAIL": "dev@example.org"})
    assert r.code == 0, r.err
    return repo, base


def test_covered_commit_passes_the_gate(gated: tuple[Path, str], git_env: dict[str, str],
                                        run_cli: RunCli) -> None:
    repo, base = gated
    git(repo, "add", "db/apac.topology.yaml")
    _commit(repo, git_env, "db2 moved", IN_WINDOW)
    r = run_cli("check", "--range", f"{base}..HEAD", "--format", "json", cwd=repo)
    assert r.code == 0, r.out + r.err
    assert json.loads(r.out)["ok"] is True


def test_no_verify_commits_are_caught(gated: tuple[Path, str], git_env: dict[str, str],
                                      run_cli: RunCli) -> None:
    repo, base = gated
    git(repo, "add", "db/apac.topology.yaml")
    _commit(repo, git_env, "too early", "2016-04-02T12:00:00+08:00")
    (repo / "db" / "other.yaml").write_text("x: 1\n")
    git(repo, "add", "db/other.yaml")
    sneaky = _commit(repo, git_env, "unreviewed", IN_WINDOW)
    r = run_cli("check", "--range", f"{base}..HEAD", "--format", "json", cwd=repo)
    assert r.code == 1
    msgs = [f["message"] for f in json.loads(r.out)["findings"]
            if f["rule"] == "guarded-path-coverage"]
    assert any("outside its window" in m for m in msgs)
    assert any("db/other.yaml" in m and sneaky[:12] in m for m in msgs)


def test_changed_blob_after_approval_is_caught(gated: tuple[Path, str],
                                               git_env: dict[str, str],
                                               run_cli: RunCli) -> None:
    repo, base = gated
    (repo / "db" / "apac.topology.yaml").write_text(TOPO.replace("host: h2", "host: h9"))
    git(repo, "add", "db/apac.topology.yaml")
    _commit(repo, git_env, "different content", IN_WINDOW)
    r = run_cli("check", "--range", f"{base}..HEAD", cwd=repo)
    assert r.code == 1 and "blob differs" in r.out


def test_mapped_files_are_judged_at_each_commit(gated: tuple[Path, str],
                                                git_env: dict[str, str],
                                                run_cli: RunCli) -> None:
    repo, base = gated
    (repo / "db" / "lab.topology.yaml").write_text(TOPO.replace("upstream: db1",
                                                                "upstream: db-1"))
    git(repo, "add", "db/lab.topology.yaml")
    _commit(repo, git_env, "broken", IN_WINDOW)
    r = run_cli("check", "--range", f"{base}..HEAD", "--format", "json", cwd=repo)
    rules = {f["rule"] for f in json.loads(r.out)["findings"]}
    assert r.code == 1 and "replication-upstream-exists" in rules


def test_bad_range_is_exit_2(gated: tuple[Path, str], run_cli: RunCli) -> None:
    repo, _ = gated
    assert run_cli("check", "--range", "nope..HEAD", cwd=repo).code == 2
    assert run_cli("check", "--range", "HEAD", cwd=repo).code == 2


@pytest.mark.parametrize("example", ["github-actions.yml", "gitlab-ci.yml"])
def test_ci_examples_run_the_gate(example: str, gated: tuple[Path, str],
                                  git_env: dict[str, str], run_cli: RunCli) -> None:
    """The command lines of examples/ci/ are the ones tested here."""
    repo, base = gated
    doc = yaml.safe_load((ROOT / "examples" / "ci" / example).read_text())
    cmds = [shlex.split(line.replace("${BASE_SHA}", base).split(">")[0])
            for line in _strings(doc) if line.startswith("changeguard ")]
    verbs = [next(w for w in c[1:] if not w.startswith("-") and w != base) for c in cmds]
    assert verbs[0] == "log" and set(verbs[1:]) == {"check"}
    assert cmds[0][1:3] == ["--trusted-rev", base]  # verify under BASE's config
    git(repo, "add", "db/apac.topology.yaml")
    _commit(repo, git_env, "db2 moved", IN_WINDOW)
    for cmd in cmds:
        r = run_cli(*cmd[1:], cwd=repo)
        assert r.code == 0, (cmd, r.out, r.err)
        if "markdown" in cmd:  # the job summary body
            assert r.out.startswith("### changeguard: ✅ passed"), r.out


def _strings(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []
