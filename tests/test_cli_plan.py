"""End to end: init, new, validate, rules, explain as real subprocesses in real repos."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import RunCli
from tests.plans import NOW, config, plan, write_yaml


@pytest.fixture
def cfg_repo(repo: Path) -> Path:
    write_yaml(repo / ".changeguard.yaml", config())
    return repo


def _plan_file(repo: Path, data: Any, name: str = "p.yaml") -> Path:
    return write_yaml(repo / "changes" / name, data)


def test_validate_ok_and_json_shape(cfg_repo: Path, run_cli: RunCli) -> None:
    _plan_file(cfg_repo, plan())
    r = run_cli("validate", "changes/p.yaml", "--now", NOW, "--format", "json", cwd=cfg_repo)
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert out == {"ok": True, "findings": [], "summary": {"deny": 0, "warn": 0, "files": 1}}


def test_validate_deny_exit_1_with_lines(cfg_repo: Path, run_cli: RunCli) -> None:
    _plan_file(cfg_repo, plan(rollback=None, verification=[], risk="extreme"))
    r = run_cli("validate", "changes/p.yaml", "--now", NOW, "--format", "json", cwd=cfg_repo)
    assert r.code == 1
    out = json.loads(r.out)
    assert out["ok"] is False
    f = out["findings"][0]
    assert set(f) == {"rule", "severity", "message", "file", "line", "pointer", "hint"}
    assert f["rule"] == "plan-schema" and f["file"] == "changes/p.yaml" and f["line"] == 7


def test_validate_incident_plan_is_denied(cfg_repo: Path, run_cli: RunCli) -> None:
    _plan_file(cfg_repo, plan(rollback=None, verification=[], steps=[
        {"id": "s1", "action": "migrate both volumes", "kind": "storage",
         "targets": ["db1", "db2"], "minutes": 300}]))
    r = run_cli("--no-color", "validate", "changes/p.yaml", "--now", NOW, cwd=cfg_repo)
    assert r.code == 1
    for rule in ("rollback-required", "verification-required", "disruptive-steps-in-window"):
        assert rule in r.out
    assert "changes/p.yaml:" in r.out


def test_global_format_option(cfg_repo: Path, run_cli: RunCli) -> None:
    _plan_file(cfg_repo, plan())
    r = run_cli("--format", "json", "validate", "changes/p.yaml", "--now", NOW, cwd=cfg_repo)
    assert r.code == 0 and json.loads(r.out)["ok"] is True


BAD_INPUTS: list[tuple[str, bytes, str]] = [
    ("alias-bomb", b"a: &a [x,x,x,x,x,x,x,x,x]\n" + b"".join(
        f"{c}: &{c} [{','.join(['*' + p] * 9)}]\n".encode()
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)), "alias"),
    ("duplicate-key", yaml.safe_dump(plan()).encode() + b"id: CHG-1-dup\n", "duplicate key"),
    ("non-utf8", b"apiVersion: changeguard/v1\ntitle: \xff\n", "UTF-8"),
    ("dotdot-path", yaml.safe_dump(plan(changes=[{"path": "db/../../etc/passwd"}])).encode(),
     ".."),
    ("absolute-path", yaml.safe_dump(plan(changes=[{"path": "/etc/passwd"}])).encode(),
     "repo-relative"),
    ("id-with-slash", yaml.safe_dump(plan(id="CHG-1/../x")).encode(), "must not contain"),
    ("unknown-key", yaml.safe_dump(plan(rollbak={"trigger": "x"})).encode(), "rollback"),
    ("wrong-type", yaml.safe_dump(plan(steps=[{"action": "x", "minutes": "ten"}])).encode(),
     "minutes"),
    ("naive-datetime", yaml.safe_dump(plan(window={"start": "2016-04-03T01:00:00",
                                                   "end": "2016-04-03T05:00:00"})).encode(),
     "timezone"),
    ("wrong-kind", yaml.safe_dump(plan(kind="Plan")).encode(), "kind"),
    ("wrong-api", yaml.safe_dump(plan(apiVersion="v2")).encode(), "apiVersion"),
    ("yes-boolean", yaml.safe_dump(plan()).replace("tested: true", "tested: yes").encode(),
     "true or false"),
    ("not-yaml", b"a: [1, 2\nb: 3\n", "not valid YAML"),
    ("not-a-mapping", b"- 1\n- 2\n", "mapping"),
]


@pytest.mark.parametrize(("name", "raw", "needle"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_plan_input_exits_2(cfg_repo: Path, run_cli: RunCli, name: str, raw: bytes,
                                needle: str) -> None:
    (cfg_repo / "changes").mkdir(exist_ok=True)
    (cfg_repo / "changes" / "bad.yaml").write_bytes(raw)
    r = run_cli("validate", "changes/bad.yaml", "--now", NOW, cwd=cfg_repo)
    assert r.code == 2, (r.out, r.err)
    assert r.err.startswith("error: changes/bad.yaml"), r.err
    assert needle in r.err
    assert "Traceback" not in r.err


def test_oversize_plan_exits_2(cfg_repo: Path, run_cli: RunCli) -> None:
    (cfg_repo / "changes").mkdir()
    (cfg_repo / "changes" / "big.yaml").write_bytes(b"# " + b"x" * (6 * 1024 * 1024) + b"\n")
    r = run_cli("validate", "changes/big.yaml", cwd=cfg_repo)
    assert r.code == 2 and "limit" in r.err


@pytest.mark.parametrize(("cfg", "needle"), [
    (config(timezone="Asia/Singapor"), "unknown time zone"),
    (config(windws=[]), "did you mean 'windows'"),
    (config(reviewers=[{"email": "x@y.z", "roles": "dba"}]), "reviewers"),
])
def test_bad_config_exits_2(repo: Path, run_cli: RunCli, cfg: dict[str, Any],
                            needle: str) -> None:
    write_yaml(repo / ".changeguard.yaml", cfg)
    _plan_file(repo, plan())
    r = run_cli("validate", "changes/p.yaml", "--now", NOW, cwd=repo)
    assert r.code == 2
    assert r.err.startswith("error: .changeguard.yaml:") and needle in r.err


def test_missing_plan_file_and_bad_now(cfg_repo: Path, run_cli: RunCli) -> None:
    r = run_cli("validate", "changes/nope.yaml", cwd=cfg_repo)
    assert r.code == 2 and "no such file" in r.err
    _plan_file(cfg_repo, plan())
    r = run_cli("validate", "changes/p.yaml", "--now", "2016-04-03T01:00:00", cwd=cfg_repo)
    assert r.code == 2 and "timezone" in r.err
    r = run_cli("validate", "changes/p.yaml", "--format", "xml", cwd=cfg_repo)
    assert r.code == 2


def test_init_is_idempotent_and_new_scaffolds_a_valid_plan(repo: Path, run_cli: RunCli) -> None:
    r = run_cli("init", cwd=repo)
    assert r.code == 0 and "wrote .changeguard.yaml" in r.out
    before = (repo / ".changeguard.yaml").read_text()
    (repo / ".changeguard.yaml").write_text(before + "# mine\n")
    r = run_cli("init", cwd=repo)
    assert r.code == 0 and "kept .changeguard.yaml" in r.out
    assert (repo / ".changeguard.yaml").read_text().endswith("# mine\n")
    r = run_cli("new", "--id", "CHG-2026-0042", "--title", "Move db2", "-o",
                "changes/CHG-2026-0042.yaml", "--now", "2026-11-25T10:00:00+00:00", cwd=repo)
    assert r.code == 0, r.err
    data = yaml.safe_load((repo / "changes" / "CHG-2026-0042.yaml").read_text())
    assert data["id"] == "CHG-2026-0042" and {"rollback", "verification", "steps",
                                              "window", "changes", "waivers"} <= set(data)
    r = run_cli("new", "--id", "bad/id", cwd=repo)
    assert r.code == 2


def test_rules_and_explain(repo: Path, run_cli: RunCli) -> None:
    r = run_cli("rules", "--format", "json", cwd=repo)
    ids = {x["id"] for x in json.loads(r.out)}
    assert {"plan-schema", "replication-no-cycle", "guarded-path-coverage"} <= ids
    r = run_cli("explain", "window-lead-time", cwd=repo)
    assert r.code == 0 and "waivable" in r.out and "why:" in r.out
    r = run_cli("explain", "window-lead", cwd=repo)
    assert r.code == 2 and "window-lead-time" in r.err
