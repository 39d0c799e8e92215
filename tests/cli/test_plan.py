"""End to end: init, new, validate, rules, explain as real subprocesses in real repos."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import RunCli
from tests.helpers.plans import NOW, config, plan, write_yaml


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


# ------------------------------------------------- issue 12: what a new user hits next

NAIVE = {"start": "2016-04-03T01:00:00", "end": "2016-04-03T05:00:00+08:00"}


@pytest.mark.parametrize(("fmt", "golden"), [("json", "validate-error.json"),
                                             ("sarif", "validate-error.sarif"),
                                             ("junit", "validate-error.junit.xml"),
                                             ("markdown", "validate-error.md"),
                                             ("github", "validate-error.github.txt")])
def test_bad_input_still_yields_a_machine_document(cfg_repo: Path, run_cli: RunCli, fmt: str,
                                                   golden: str) -> None:
    from tests.test_report import _golden, _versionless

    _plan_file(cfg_repo, plan(window=NAIVE))
    r = run_cli("validate", "changes/p.yaml", "--now", NOW, "--format", fmt, cwd=cfg_repo)
    assert r.code == 2
    assert r.err.startswith("error: changes/p.yaml:12: window.start:")
    _golden(golden, _versionless(r.out) if fmt == "sarif" else r.out)


def test_error_documents_are_valid(cfg_repo: Path, run_cli: RunCli) -> None:
    import xml.etree.ElementTree as ET

    from tests.test_report import _sarif_validator

    _plan_file(cfg_repo, plan(window=NAIVE))
    args = ("validate", "changes/p.yaml", "--now", NOW, "--format")
    doc = json.loads(run_cli(*args, "json", cwd=cfg_repo).out)
    assert doc["ok"] is False and doc["findings"] == []
    assert [(e["file"], e["line"]) for e in doc["errors"]] == [("changes/p.yaml", 12)]
    sarif = json.loads(run_cli(*args, "sarif", cwd=cfg_repo).out)
    _sarif_validator().validate(sarif)
    inv = sarif["runs"][0]["invocations"][0]
    assert inv["executionSuccessful"] is False
    assert "timezone" in inv["toolExecutionNotifications"][0]["message"]["text"]
    root = ET.fromstring(run_cli(*args, "junit", cwd=cfg_repo).out)
    assert root.get("errors") == "1"
    assert root.find("./testsuite/testcase/error") is not None
    # an error before any plan is read (no config file named by --config) gets one too
    r = run_cli("--config", "nope.yaml", "validate", "changes/p.yaml", "--format", "json",
                cwd=cfg_repo)
    assert r.code == 2 and "nope.yaml" in r.err
    assert "nope.yaml" in json.loads(r.out)["errors"][0]["message"]
    # text stays on stderr only
    t = run_cli("validate", "changes/p.yaml", "--now", NOW, cwd=cfg_repo)
    assert t.code == 2 and t.out == ""


def test_summary_counts_plans_and_proposed_files(cfg_repo: Path, run_cli: RunCli) -> None:
    good = Path(__file__).parent.parent / "data" / "topology" / "valid" / "mysql-pair.yaml"
    write_yaml(cfg_repo / ".changeguard.yaml", config(schemas=[
        {"paths": ["db/**/*.topology.yaml"], "schema": "builtin:replication-topology"}]))
    (cfg_repo / "db").mkdir()
    (cfg_repo / "db" / "apac-gateway.topology.yaml").write_bytes(good.read_bytes())
    _plan_file(cfg_repo, plan(steps=[{"id": "s1", "action": "edit", "kind": "config",
                                      "targets": ["db2"], "minutes": 10}]))
    r = run_cli("validate", "changes/p.yaml", "--now", NOW, "--format", "json", cwd=cfg_repo)
    assert r.code in (0, 1), r.err
    assert json.loads(r.out)["summary"]["files"] == 2  # the plan and its proposed topology


def test_init_uses_git_identity_and_umask(repo: Path, run_cli: RunCli) -> None:
    env = {"GIT_AUTHOR_NAME": "Zoë O'Neil", "GIT_AUTHOR_EMAIL": "zoe@example.org"}
    r = run_cli("init", cwd=repo, env=env)
    assert r.code == 0, r.err
    roster = yaml.safe_load((repo / ".changeguard.yaml").read_text())["reviewers"]
    assert roster == [{"email": "zoe@example.org", "name": "Zoë O'Neil",
                       "roles": ["dba", "cab"]}]
    example = yaml.safe_load((repo / "changes" / "CHG-EXAMPLE-0001.yaml").read_text())
    assert example["author"] == "zoe@example.org"
    umask = os.umask(0o022)
    os.umask(umask)
    want = 0o666 & ~umask
    for p in (repo / ".changeguard.yaml", repo / "changes" / "CHG-EXAMPLE-0001.yaml"):
        assert stat.S_IMODE(p.stat().st_mode) == want, p


def test_written_files_honour_the_umask(repo: Path, run_cli: RunCli) -> None:
    import subprocess
    import sys

    # run under an explicit umask 022 so the expectation does not depend on the test runner
    def under_022(*args: str) -> int:
        code = ("import os, sys; os.umask(0o022); from changeguard.cli import main; "
                "sys.exit(main(sys.argv[1:]))")
        return subprocess.run([sys.executable, "-c", code, *args], cwd=repo,
                              capture_output=True, text=True, timeout=120).returncode

    assert under_022("init") == 0
    assert under_022("new", "--id", "CHG-1", "-o", "changes/n.yaml", "--now", NOW) == 0
    assert under_022("validate", "changes/n.yaml", "--now", NOW, "--output", "report.txt") in (0, 1)
    assert under_022("calendar", "--html", "cal.html", "--now", NOW) == 0
    for name in (".changeguard.yaml", "changes/CHG-EXAMPLE-0001.yaml", "changes/n.yaml",
                 "report.txt", "cal.html"):
        assert stat.S_IMODE((repo / name).stat().st_mode) == 0o644, name
    assert not [p for p in repo.rglob("*.tmp")]


@pytest.mark.parametrize("args", [
    ["new", "-o", "chnges/x.yaml"],
    ["validate", "changes/CHG-EXAMPLE-0001.yaml", "--output", "out/dir/r.json"],
    ["calendar", "--html", "site/cal.html"],
    ["--config", "cfg/guard.yaml", "init"],
])
def test_missing_folder_is_refused_not_created(repo: Path, run_cli: RunCli,
                                               args: list[str]) -> None:
    assert run_cli("init", cwd=repo).code == 0
    before = sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*") if ".git" not in
                    p.parts)
    r = run_cli(*args, "--now", NOW, cwd=repo) if args[0] != "--config" else \
        run_cli(*args, cwd=repo)
    assert r.code == 2
    missing = next(a for a in args if "/" in a and not a.startswith("changes/")).split("/")[0]
    assert f"folder {missing} does not exist" in r.err and "Traceback" not in r.err
    after = sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*") if ".git" not in
                   p.parts)
    assert after == before


@pytest.mark.parametrize(("path", "why"), [("/etc/passwd", "no leading '/'"),
                                           ("../x", "must not contain '..'"),
                                           ("db/../../x", "must not contain '..'")])
def test_new_refuses_paths_outside_the_repo(repo: Path, run_cli: RunCli, path: str,
                                            why: str) -> None:
    r = run_cli("new", "--change", path, "-o", "p.yaml", cwd=repo)
    assert r.code == 2
    assert f"--change {path!r}" in r.err and why in r.err
    assert not (repo / "p.yaml").exists()


def test_files_to_be_created_are_said_so(cfg_repo: Path, run_cli: RunCli) -> None:
    (cfg_repo / "db").mkdir()
    (cfg_repo / "db" / "old.yaml").write_text("x: 1\n")
    r = run_cli("new", "--id", "CHG-2026-1", "--change", "db/new.yaml", "--change", "db/old.yaml",
                "--now", NOW, cwd=cfg_repo)
    assert r.code == 0, r.err
    lines = {ln.split(",")[0]: ln for ln in r.out.splitlines() if "path:" in ln}
    assert "will be created" in lines['  - {path: "db/new.yaml"']
    assert "will be created" not in lines['  - {path: "db/old.yaml"']
    (cfg_repo / "changes").mkdir()
    (cfg_repo / "changes" / "n.yaml").write_text(r.out)
    v = run_cli("validate", "changes/n.yaml", "--now", NOW, "--format", "json", cwd=cfg_repo)
    assert "note: changes/n.yaml: db/new.yaml does not exist yet: will be created" in v.err
    assert "db/old.yaml" not in v.err
    json.loads(v.out)  # notes never reach the document


def test_past_window_wording_and_no_microseconds(cfg_repo: Path, run_cli: RunCli) -> None:
    _plan_file(cfg_repo, plan())
    r = run_cli("validate", "changes/p.yaml", "--format", "json", cwd=cfg_repo)  # wall clock
    assert r.code == 1
    msgs = {f["rule"]: f["message"] for f in json.loads(r.out)["findings"]}
    assert msgs["window-lead-time"].startswith(
        "window already ended (2016-04-03T01:00:00+08:00–2016-04-03T05:00:00+08:00, now is ")
    assert "0.0 h" not in msgs["window-lead-time"]
    for m in msgs.values():
        assert not re.search(r"\d\d:\d\d:\d\d\.\d", m), m
    soon = run_cli("validate", "changes/p.yaml", "--now", "2016-04-02T01:00:00+08:00",
                   "--format", "json", cwd=cfg_repo)
    lead = [f["message"] for f in json.loads(soon.out)["findings"]
            if f["rule"] == "window-lead-time"]
    assert lead == ["window starts in 24.0 h; lead time is 48 h"]
