"""`changeguard check` end to end: real git repos, real subprocesses (SPEC §2, §3, §8)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import RunCli

DATA = Path(__file__).resolve().parent.parent / "data" / "topology"

CONFIG = """\
apiVersion: changeguard/v1
kind: GuardConfig
schemas:
  - {paths: ["db/**/*.topology.yaml"], schema: builtin:replication-topology}
  - {paths: ["gateway/*.json"], schema: schemas/gateway.schema.json}
"""

GOOD = (DATA / "valid" / "mysql-pair.yaml").read_text()
BROKEN = GOOD.replace("upstream: db1", "upstream: db9")


@pytest.fixture
def cfg_repo(repo: Path) -> Path:
    (repo / ".changeguard.yaml").write_text(CONFIG)
    (repo / "db").mkdir()
    (repo / "db" / "apac.topology.yaml").write_text(GOOD)
    return repo


def as_json(out: str) -> dict[str, object]:
    doc = json.loads(out)
    # `errors` only when the run could not judge some input (exit 2)
    assert set(doc) - {"errors"} == {"ok", "findings", "summary"}
    return doc  # type: ignore[no-any-return]


def test_all_clean_exits_0(cfg_repo: Path, run_cli: RunCli) -> None:
    r = run_cli("check", "--all", "--format", "json", cwd=cfg_repo)
    assert r.code == 0, r.err
    assert as_json(r.out) == {"ok": True, "findings": [],
                              "summary": {"deny": 0, "warn": 0, "files": 1}}


def test_invariant_violation_exits_1_with_file_and_line(cfg_repo: Path, run_cli: RunCli) -> None:
    (cfg_repo / "db" / "apac.topology.yaml").write_text(BROKEN)
    r = run_cli("check", "db/apac.topology.yaml", "--format", "json", cwd=cfg_repo)
    assert r.code == 1, r.err
    doc = as_json(r.out)
    (f,) = doc["findings"]  # type: ignore[misc]
    assert f == {"rule": "replication-upstream-exists", "severity": "deny",
                 "message": "db2: upstream 'db9' is not a member of topology apac-gateway",
                 "file": "db/apac.topology.yaml", "line": 19, "pointer": "/nodes/1/upstream",
                 "hint": f["hint"]}
    assert doc["summary"] == {"deny": 1, "warn": 0, "files": 1}


def test_schema_violation_and_text_output(cfg_repo: Path, run_cli: RunCli) -> None:
    (cfg_repo / "db" / "x.topology.yaml").write_text(GOOD.replace("role: replica", "role: rep"))
    r = run_cli("check", "--all", cwd=cfg_repo)
    assert r.code == 1
    assert "db/x.topology.yaml:15" in r.out and "config-schema" in r.out


def test_malformed_yaml_exits_2_but_other_files_still_reported(cfg_repo: Path,
                                                               run_cli: RunCli) -> None:
    (cfg_repo / "db" / "bad.topology.yaml").write_text("name: [unclosed\nengine: x\n")
    (cfg_repo / "db" / "worse.topology.yaml").write_text(BROKEN)
    r = run_cli("check", "--all", "--format", "json", cwd=cfg_repo)
    assert r.code == 2
    assert "error: db/bad.topology.yaml:" in r.err and "Traceback" not in r.err
    doc = as_json(r.out)
    rules = [f["rule"] for f in doc["findings"]]  # type: ignore[attr-defined]
    assert rules == ["replication-upstream-exists"]
    assert doc["ok"] is False
    assert [(e["file"], e["line"]) for e in doc["errors"]] == [  # type: ignore[attr-defined]
        ("db/bad.topology.yaml", 2)]


def test_duplicate_keys_exit_2(cfg_repo: Path, run_cli: RunCli) -> None:
    (cfg_repo / "db" / "dup.topology.yaml").write_text(GOOD + "engine: redis\n")
    r = run_cli("check", "db/dup.topology.yaml", cwd=cfg_repo)
    assert r.code == 2 and "duplicate key 'engine'" in r.err and ":23:" in r.err


def test_unmapped_files_skipped_with_a_note_and_auto_detected_when_named(
        cfg_repo: Path, run_cli: RunCli) -> None:
    (cfg_repo / "notes.txt").write_text("hello\n")
    (cfg_repo / "other.yaml").write_text(BROKEN)
    r = run_cli("check", "notes.txt", cwd=cfg_repo)
    assert r.code == 0 and "notes.txt: skipped (format not recognised (auto))" in r.err
    # named explicitly, an unmapped native topology is recognised (format auto)
    r = run_cli("check", "other.yaml", "--format", "json", cwd=cfg_repo)
    assert r.code == 1 and "upstream-exists" in r.out
    # --all only checks mapped files
    r = run_cli("check", "--all", "--format", "json", cwd=cfg_repo)
    assert r.code == 0 and as_json(r.out)["summary"]["files"] == 1  # type: ignore[index]


GATEWAY_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object", "additionalProperties": False,
    "properties": {"routes": {"type": "array", "items": {"$ref": "route.schema.json"}}},
}
ROUTE_SCHEMA = {"type": "object", "required": ["path"],
                "properties": {"path": {"type": "string"}, "timeout": {"type": "integer"}}}


def test_repo_schema_with_local_ref_reports_lines(cfg_repo: Path, run_cli: RunCli) -> None:
    (cfg_repo / "schemas").mkdir()
    (cfg_repo / "schemas" / "gateway.schema.json").write_text(json.dumps(GATEWAY_SCHEMA))
    (cfg_repo / "schemas" / "route.schema.json").write_text(json.dumps(ROUTE_SCHEMA))
    (cfg_repo / "gateway").mkdir()
    (cfg_repo / "gateway" / "g.json").write_text(
        '{\n  "routes": [\n    {"path": "/a"},\n    {"path": "/b",\n     "timeout": "5s"}\n'
        '  ],\n  "extra": 1\n}\n')
    r = run_cli("check", "gateway/g.json", "--format", "json", cwd=cfg_repo)
    assert r.code == 1, r.err
    found = {(f["pointer"], f["line"]) for f in as_json(r.out)["findings"]}  # type: ignore[attr-defined]
    assert found == {("/routes/1/timeout", 5), ("/extra", 7)}


def test_network_ref_is_never_fetched(cfg_repo: Path, run_cli: RunCli) -> None:
    (cfg_repo / "schemas").mkdir()
    schema = dict(GATEWAY_SCHEMA, properties={"routes": {"$ref": "http://192.0.2.1/x.json"}})
    (cfg_repo / "schemas" / "gateway.schema.json").write_text(json.dumps(schema))
    (cfg_repo / "gateway").mkdir()
    (cfg_repo / "gateway" / "g.json").write_text('{"routes": []}\n')
    r = run_cli("check", "gateway/g.json", cwd=cfg_repo)
    assert r.code == 2 and "cannot resolve $ref" in r.err


def test_symlink_leaving_the_repo_is_refused(cfg_repo: Path, run_cli: RunCli,
                                            tmp_path: Path) -> None:
    outside = tmp_path / "secret.topology.yaml"
    outside.write_text(GOOD)
    os.symlink(outside, cfg_repo / "db" / "link.topology.yaml")
    r = run_cli("check", "--all", cwd=cfg_repo)
    assert r.code == 2 and "symlink points outside the repository" in r.err


def test_usage_errors_exit_2(cfg_repo: Path, run_cli: RunCli) -> None:
    assert run_cli("check", cwd=cfg_repo).code == 2
    r = run_cli("check", "missing.yaml", cwd=cfg_repo)
    assert r.code == 2 and "no such file" in r.err
    r = run_cli("check", "--all", "--format", "xml", cwd=cfg_repo)
    assert r.code == 2 and "unknown format" in r.err


def test_bad_config_exits_2(cfg_repo: Path, run_cli: RunCli) -> None:
    (cfg_repo / ".changeguard.yaml").write_text(CONFIG + "schemaz: []\n")
    r = run_cli("check", "--all", cwd=cfg_repo)
    assert r.code == 2 and "Traceback" not in r.err


@pytest.mark.parametrize("fmt", ["sarif", "junit"])
def test_machine_formats_render(cfg_repo: Path, run_cli: RunCli, fmt: str) -> None:
    (cfg_repo / "db" / "apac.topology.yaml").write_text(BROKEN)
    r = run_cli("check", "--all", "--format", fmt, cwd=cfg_repo)
    assert r.code == 1 and "replication-upstream-exists" in r.out


def test_staged_delegates_to_the_hook(cfg_repo: Path, run_cli: RunCli) -> None:
    r = run_cli("check", "--staged", cwd=cfg_repo)
    assert r.code == 0, r.err


def test_oversized_file_exits_2(cfg_repo: Path, run_cli: RunCli) -> None:
    (cfg_repo / ".changeguard.yaml").write_text(CONFIG + "max_file_bytes: 200\n")
    r = run_cli("check", "db/apac.topology.yaml", cwd=cfg_repo)
    assert r.code == 2 and "over the 200-byte limit" in r.err


def test_fifo_is_never_opened(cfg_repo: Path, run_cli: RunCli) -> None:
    os.mkfifo(cfg_repo / "db" / "pipe.topology.yaml")
    r = run_cli("check", "db/pipe.topology.yaml", cwd=cfg_repo)
    assert r.code == 2 and "not a regular file" in r.err


def test_dangling_symlink_counts_as_deleted(cfg_repo: Path, run_cli: RunCli) -> None:
    os.symlink(cfg_repo / "db" / "gone.yaml", cfg_repo / "db" / "dangling.topology.yaml")
    r = run_cli("check", "--all", "--verbose", cwd=cfg_repo)
    assert r.code == 0 and "dangling.topology.yaml: skipped (deleted)" in r.err


def test_schema_dialect_is_honoured_and_yaml_schemas_load(tmp_path: Path) -> None:
    from changeguard.replication.check import check_files
    from changeguard.replication.mapping import FileMapping

    # draft-07 array-form `items` (tuple validation) is invalid in 2020-12: $schema decides
    (tmp_path / "s.schema.yaml").write_text(
        '$schema: "http://json-schema.org/draft-07/schema#"\nitems: [{type: string}]\n')
    (tmp_path / "ok.yaml").write_text("- a\n- 1\n")
    (tmp_path / "bad.yaml").write_text("# list\n- 1\n")
    maps = [FileMapping(("*.yaml",), "s.schema.yaml", None)]
    r = check_files(tmp_path, ["ok.yaml", "bad.yaml"], maps)
    assert [(f.file, f.line, f.pointer) for f in r.findings] == [("bad.yaml", 2, "/0")]


def test_one_file_of_a_group_is_judged_with_its_group() -> None:
    from changeguard.replication.check import check_files
    from changeguard.replication.mapping import FileMapping

    corpus = Path(__file__).resolve().parent.parent / "data" / "corpus"
    group = "mysql/orchestrator-vagrant-comaster"
    maps = [FileMapping((f"{group}/**",), None, "mysql")]
    alone = check_files(corpus, [f"{group}/db3-build.sh"], maps)
    assert alone.findings == [] and alone.files_checked == 1
    r = check_files(corpus, [f"{group}/db3-build.sh"], maps, complete_groups=True)
    rules = {f.rule.removeprefix("replication-") for f in r.findings}
    assert rules == {"no-cycle", "single-primary", "replica-read-only"}
    assert r.skipped == [] and r.files_checked == 10


# ------------------------------------------------- issue 12: bad input, plans, the config


@pytest.mark.parametrize("fmt", ["json", "sarif", "junit"])
def test_bad_input_still_yields_a_document(cfg_repo: Path, run_cli: RunCli, fmt: str) -> None:
    import xml.etree.ElementTree as ET

    from tests.test_report import _sarif_validator

    r = run_cli("check", "missing.yaml", "--format", fmt, cwd=cfg_repo)
    assert r.code == 2 and r.err.startswith("error: missing.yaml: no such file")
    if fmt == "json":
        doc = as_json(r.out)
        assert doc["ok"] is False
        assert doc["errors"] == [{"message": "no such file", "file": "missing.yaml",
                                  "line": None, "hint": "check the path"}]
    elif fmt == "sarif":
        doc = json.loads(r.out)
        _sarif_validator().validate(doc)
        inv = doc["runs"][0]["invocations"][0]
        assert inv["executionSuccessful"] is False
        assert inv["toolExecutionNotifications"][0]["message"]["text"] == "no such file"
    else:
        root = ET.fromstring(r.out)
        assert root.get("errors") == "1"
        err = root.find("./testsuite/testcase/error")
        assert err is not None and err.get("message") == "no such file"


def test_bad_config_yields_a_document(cfg_repo: Path, run_cli: RunCli) -> None:
    (cfg_repo / ".changeguard.yaml").write_text(CONFIG + "schemaz: []\n")
    r = run_cli("check", "--all", "--format", "json", cwd=cfg_repo)
    assert r.code == 2 and "schemaz" in r.err
    err = as_json(r.out)["errors"][0]  # type: ignore[index]
    assert err["file"] == ".changeguard.yaml" and "schemaz" in err["message"]


def test_plan_and_config_are_checked_as_what_they_are(cfg_repo: Path, run_cli: RunCli) -> None:
    from tests.helpers.plans import NOW, plan, write_yaml

    write_yaml(cfg_repo / "changes" / "ok.yaml", plan())
    write_yaml(cfg_repo / "changes" / "bad.yaml", plan(rollback=None))
    r = run_cli("check", "changes/ok.yaml", ".changeguard.yaml", "--now", NOW, "--format",
                "json", cwd=cfg_repo)
    assert r.code == 0, r.err
    assert "skipped" not in r.err
    assert as_json(r.out)["summary"] == {"deny": 0, "warn": 0, "files": 2}
    bad = run_cli("check", "changes/bad.yaml", "--now", NOW, "--format", "json", cwd=cfg_repo)
    assert bad.code == 1
    assert [f["rule"] for f in as_json(bad.out)["findings"]] == [  # type: ignore[attr-defined]
        "rollback-required"]
    (cfg_repo / ".changeguard.yaml").write_text(CONFIG + "gaurded: []\n")
    c = run_cli("check", ".changeguard.yaml", cwd=cfg_repo)
    assert c.code == 2 and "gaurded" in c.err and "skipped" not in c.err


def test_verbose_names_the_files_of_each_topology(cfg_repo: Path, run_cli: RunCli) -> None:
    """Issue 16.7: `--verbose` says which files formed each topology."""
    (cfg_repo / "db" / "emea").mkdir()
    (cfg_repo / "db" / "emea" / "pair.topology.yaml").write_text(
        GOOD.replace("name: apac", "name: emea"))
    r = run_cli("check", "--all", "--verbose", cwd=cfg_repo)
    assert r.code == 0, r.err
    lines = [ln for ln in r.err.splitlines() if ln.startswith("note: topology ")]
    assert len(lines) == 2, r.err
    assert any("db/apac.topology.yaml" in ln for ln in lines)
    assert any("db/emea/pair.topology.yaml" in ln for ln in lines)
    quiet = run_cli("check", "--all", cwd=cfg_repo)
    assert "note: topology" not in quiet.err
