"""`changeguard policy test DIR`: examples pass, failing cases exit 1, bad test files exit 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from changeguard.errors import InputError
from changeguard.policytest import load_test_file
from tests.conftest import ROOT, RunCli
from tests.helpers.plans import CONFIG, NOW, plan, write_yaml

EXAMPLES = sorted(p.name for p in (ROOT / "policies" / "examples").iterdir() if p.is_dir())


def test_every_example_has_tests() -> None:
    assert {"production", "change-freeze", "per-service-approvers", "lab-severity"} <= set(
        EXAMPLES)
    for name in EXAMPLES:
        assert list((ROOT / "policies" / "examples" / name / "tests").glob("*.yaml")), name


@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_pass(name: str, run_cli: RunCli) -> None:
    r = run_cli("policy", "test", f"policies/examples/{name}/tests", cwd=ROOT)
    assert r.code == 0, r.out + r.err
    last = r.out.strip().splitlines()[-1]
    passed = int(last.split()[0])
    assert passed >= 3 and last.endswith(" passed, 0 failed"), last
    assert "FAIL" not in r.out


def _suite(d: Path, cases: list[dict[str, Any]], **top: Any) -> Path:
    doc: dict[str, Any] = {"apiVersion": "changeguard/v1", "kind": "PolicyTest",
                           "config": CONFIG, "now": NOW, "plan": plan(), "cases": cases}
    doc.update(top)
    return write_yaml(d / "suite.yaml", doc)


def test_failing_case_exits_1_and_names_the_difference(tmp_path: Path, run_cli: RunCli) -> None:
    _suite(tmp_path, [
        {"name": "valid plan", "expect": {"deny": [], "ok": True}},
        {"name": "wrongly expects ok", "patch": {"rollback": None},
         "expect": {"deny": [], "ok": True}},
    ])
    r = run_cli("policy", "test", str(tmp_path), cwd=tmp_path)
    assert r.code == 1, r.out + r.err
    assert "PASS" in r.out and "valid plan" in r.out
    assert "FAIL" in r.out and "wrongly expects ok" in r.out
    assert "unexpected rollback-required" in r.out
    assert "ok: expected true, got false" in r.out
    assert r.out.strip().splitlines()[-1] == "1 passed, 1 failed"


def test_json_output(tmp_path: Path, run_cli: RunCli) -> None:
    _suite(tmp_path, [{"name": "no verification", "patch": {"verification": None},
                       "expect": {"deny": ["verification-required"], "warn": []}}])
    r = run_cli("policy", "test", str(tmp_path / "suite.yaml"), "--format", "json", cwd=tmp_path)
    assert r.code == 0, r.out + r.err
    doc = json.loads(r.out)
    assert doc["ok"] is True and doc["passed"] == 1 and doc["failed"] == 0
    case = doc["cases"][0]
    assert case["actual"] == {"deny": ["verification-required"], "warn": [], "ok": False}
    assert case["findings"][0]["rule"] == "verification-required"


def test_pack_relative_to_test_file_and_approvals(tmp_path: Path, run_cli: RunCli) -> None:
    write_yaml(tmp_path / "pack.yaml", {
        "apiVersion": "changeguard/v1", "kind": "PolicyPack", "name": "team",
        "rules": [{"id": "gateway-owner", "when": {"services": ["alma-api-gateway"]},
                   "approvals": {"min": 1, "roles": ["cab"]}}]})
    _suite(tmp_path / "tests", [
        {"name": "dba alone lacks cab", "approvals": ["dev@example.org"],
         "expect": {"deny": ["gateway-owner"]}},
        {"name": "cab approves", "approvals": ["chen@example.org"], "expect": {"deny": []}},
    ], policies=["builtin:default", "../pack.yaml"])
    r = run_cli("policy", "test", "tests", cwd=tmp_path)
    assert r.code == 0, r.out + r.err
    assert r.out.strip().splitlines()[-1] == "2 passed, 0 failed"


@pytest.mark.parametrize(("text", "needle"), [
    ("kind: PolicyTest\ncases:\n  - name: x\n    expct: {ok: true}\n",
     "suite.yaml:4: unknown key 'cases.0.expct'"),
    ("kind: PolicyTest\ncases: []\n", "suite.yaml:2"),
    ("kind: PolicyTest\ncases:\n  - name: x\n    expect: {}\n", "at least one of deny, warn, ok"),
    ("kind: ChangePlan\n", "expected 'PolicyTest'"),
    ("kind: PolicyTest\ncases: [\n", "not valid YAML"),
    ("kind: PolicyTest\nnow: 2026-01-01T00:00:00\ncases:\n  - {name: x, expect: {ok: true}}\n",
     "timezone"),
])
def test_malformed_test_file_exits_2(tmp_path: Path, run_cli: RunCli, text: str,
                                     needle: str) -> None:
    (tmp_path / "suite.yaml").write_text(text, encoding="utf-8")
    r = run_cli("policy", "test", str(tmp_path), cwd=tmp_path)
    assert r.code == 2, r.out + r.err
    assert r.err.startswith("error: ") and needle in r.err, r.err
    assert "Traceback" not in r.err


def test_unknown_rule_in_expect_is_a_bad_file(tmp_path: Path, run_cli: RunCli) -> None:
    _suite(tmp_path, [{"name": "typo", "expect": {"deny": ["rollback-requried"]}}])
    r = run_cli("policy", "test", str(tmp_path), cwd=tmp_path)
    assert r.code == 2
    assert "unknown rule 'rollback-requried'" in r.err and "rollback-required" in r.err


def test_missing_plan_and_pack_are_located(tmp_path: Path, run_cli: RunCli) -> None:
    _suite(tmp_path, [{"name": "x", "plan": "nope.yaml", "expect": {"ok": True}}])
    r = run_cli("policy", "test", str(tmp_path), cwd=tmp_path)
    assert r.code == 2 and "plan 'nope.yaml' not found" in r.err, r.err
    _suite(tmp_path, [{"name": "x", "expect": {"ok": True}}], policies=["missing.yaml"])
    r = run_cli("policy", "test", str(tmp_path), cwd=tmp_path)
    assert r.code == 2 and "policy pack 'missing.yaml' not found" in r.err, r.err


def test_empty_or_missing_directory_exits_2(tmp_path: Path, run_cli: RunCli) -> None:
    r = run_cli("policy", "test", str(tmp_path), cwd=tmp_path)
    assert r.code == 2 and "no test files" in r.err
    r = run_cli("policy", "test", str(tmp_path / "absent"), cwd=tmp_path)
    assert r.code == 2 and "no such directory" in r.err


_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8))
_values = st.recursive(_scalars, lambda c: st.one_of(
    st.lists(c, max_size=3), st.dictionaries(st.text(max_size=6), c, max_size=3)), max_leaves=8)
_keys = st.sampled_from(["name", "config", "policies", "now", "plan", "cases", "extra",
                         "expect", "patch", "approvals"])


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=st.dictionaries(_keys, _values, max_size=5),
       case=st.dictionaries(_keys, _values, max_size=4))
def test_parser_never_crashes(tmp_path: Path, doc: dict[str, Any], case: dict[str, Any]) -> None:
    """Whatever the shape, loading either succeeds or raises a located InputError."""
    doc = {"kind": "PolicyTest", **doc}
    if "cases" not in doc:
        doc["cases"] = [case]
    p = write_yaml(tmp_path / "h.yaml", doc)
    try:
        tf = load_test_file(p, "h.yaml")
    except InputError as e:
        assert e.file == "h.yaml" and e.message
    else:
        assert tf.spec.cases


def test_repo_key_must_contain_the_packs(tmp_path: Path, run_cli: RunCli) -> None:
    write_yaml(tmp_path / "pack.yaml", {"apiVersion": "changeguard/v1", "kind": "PolicyPack",
                                        "name": "p", "rules": []})
    (tmp_path / "repo").mkdir()
    _suite(tmp_path / "t", [{"name": "x", "expect": {"ok": True}}], repo="../repo",
           policies=["builtin:default", "../pack.yaml"])
    r = run_cli("policy", "test", "t", cwd=tmp_path)
    assert r.code == 2 and "lies outside repo '../repo'" in r.err, r.err
