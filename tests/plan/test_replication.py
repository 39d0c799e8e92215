"""`validate` with replication files: plan-step-targets (issue 16.8) and one parse per
proposed file (issue 13.5), through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import RunCli, git
from tests.helpers.plans import NOW, config, plan, write_yaml

TOPOLOGY = """\
apiVersion: changeguard/v1
kind: ReplicationTopology
name: apac-gateway
engine: mysql
nodes:
  - {name: db1, role: primary, host: db1.apac.example, zone: a, server_id: 1}
  - {name: db2, role: replica, host: db2.apac.example, zone: b, server_id: 2, upstream: db1,
     params: {read_only: "ON"}}
"""
PATH = "db/apac-gateway.topology.yaml"


def _repo(repo: Path, *, with_schemas: bool = True) -> Path:
    schemas = [{"paths": ["db/**/*.topology.yaml"], "schema": "builtin:replication-topology"}]
    write_yaml(repo / ".changeguard.yaml", config(schemas=schemas if with_schemas else None))
    (repo / "db").mkdir(exist_ok=True)
    (repo / PATH).write_text(TOPOLOGY, encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "topology")
    return repo


def _steps(*steps: tuple[str, str, list[str]]) -> list[dict[str, object]]:
    return [{"id": sid, "action": f"{kind} {targets}", "kind": kind, "targets": targets,
             "minutes": 10} for sid, kind, targets in steps]


def _validate(repo: Path, run_cli: RunCli, steps: list[dict[str, object]]) -> tuple[int, list]:
    write_yaml(repo / "changes/p.yaml", plan(steps=steps))
    r = run_cli("validate", "changes/p.yaml", "--now", NOW, "--format", "json", cwd=repo)
    assert r.code in (0, 1), r.err
    return r.code, json.loads(r.out)["findings"]


def test_typo_in_a_disruptive_target_is_plan_step_targets(repo: Path, run_cli: RunCli) -> None:
    """The 2016 pattern: storage on both members, one spelt `db-1`; today it passes."""
    _repo(repo)
    code, findings = _validate(repo, run_cli, _steps(("s1", "storage", ["db-1", "db2"])))
    hits = [f for f in findings if f["rule"] == "plan-step-targets"]
    assert code == 1 and len(hits) == 1, findings
    assert "'db-1'" in hits[0]["message"] and "did you mean 'db1'" in hits[0]["message"]
    assert hits[0]["pointer"] == "/steps/0/targets/0" and isinstance(hits[0]["line"], int)


def test_members_hosts_and_topology_names_are_valid_targets(repo: Path,
                                                           run_cli: RunCli) -> None:
    _repo(repo)
    steps = _steps(("s1", "storage", ["db2"]), ("s2", "restart", ["db2.apac.example"]),
                   ("s3", "stop", ["apac-gateway/db2"]), ("s4", "command", ["web-1"]))
    code, findings = _validate(repo, run_cli, steps)
    assert not [f for f in findings if f["rule"] == "plan-step-targets"], findings
    assert code == 0, findings


def test_no_replication_files_no_plan_step_targets(repo: Path, run_cli: RunCli) -> None:
    _repo(repo, with_schemas=False)
    code, findings = _validate(repo, run_cli, _steps(("s1", "storage", ["db-1"])))
    assert code == 0 and not findings, findings


COUNTER = """\
import collections, sys
import changeguard.replication.native as native
calls = collections.Counter()
real = native.parse_documents_streaming
def counted(data, path, *a, **k):
    calls[(path, data)] += 1
    return real(data, path, *a, **k)
native.parse_documents_streaming = counted
from changeguard.cli import main
code = main(sys.argv[1:])
print("PARSES", max((n for (p, d), n in calls.items() if p == %r and b"zone: c" in d),
                    default=0), file=sys.stderr)
raise SystemExit(code)
"""


def test_validate_parses_each_proposed_file_once(repo: Path, git_env: dict[str, str]) -> None:
    """Issue 13.5: the proposed topology is judged, diffed and walked from one parse."""
    _repo(repo)
    (repo / PATH).write_text(TOPOLOGY.replace("zone: b", "zone: c"), encoding="utf-8")
    write_yaml(repo / "changes/p.yaml", plan(steps=_steps(("s1", "storage", ["db2"]))))
    p = subprocess.run([sys.executable, "-c", COUNTER % PATH, "validate", "changes/p.yaml",
                        "--now", NOW], cwd=repo, env=git_env, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert "PARSES 1" in p.stderr, p.stderr
