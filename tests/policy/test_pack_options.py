"""Issue 13 §6: no inert pack options. `approvals.distinct`, `params` and the value of
`check:` either do what SPEC §5 says or the pack is refused (exit 2, located), through the
real CLI (`validate` loads the config's packs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunCli, git
from tests.helpers.plans import NOW, config, plan, write_yaml

PLAN = "changes/CHG-2016-0403-storage.yaml"


def _repo(root: Path, rule: dict[str, Any]) -> Path:
    write_yaml(root / ".changeguard.yaml",
               config(policies=["builtin:default", "policies/local.yaml"]))
    write_yaml(root / "policies" / "local.yaml", {
        "apiVersion": "changeguard/v1", "kind": "PolicyPack", "name": "local",
        "rules": [rule]})
    write_yaml(root / PLAN, plan())
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "pack")
    return root


@pytest.mark.parametrize(("rule", "words"), [
    ({"id": "two", "approvals": {"min": 2, "distinct": False}}, "distinct"),
    ({"id": "verification-required", "check": "verification-required", "severity": "warn",
      "params": {"min": 2}}, "unknown key 'rules.0.params'"),
    ({"id": "lab-domains", "check": "replication-distinct-failure-domains",
      "severity": "warn"}, "must repeat the id"),
    ({"id": "no-such-check", "check": "no-such-check", "severity": "warn"},
     "not a built-in rule"),
])
def test_inert_pack_options_are_refused(repo: Path, run_cli: RunCli, rule: dict[str, Any],
                                        words: str) -> None:
    r = run_cli("validate", PLAN, "--now", NOW, cwd=_repo(repo, rule))
    assert r.code == 2, (r.out, r.err)
    assert "error: policies/local.yaml:" in r.err and words in r.err, r.err
    assert "Traceback" not in r.err


def test_check_value_names_the_rule_it_regrades(repo: Path, run_cli: RunCli) -> None:
    """`check:` equal to the id works as SPEC §5 says: the built-in rule is re-graded."""
    _repo(repo, {"id": "verification-required", "check": "verification-required",
                 "severity": "warn"})
    write_yaml(repo / PLAN, plan(verification=[]))
    r = run_cli("validate", PLAN, "--now", NOW, "--format", "json", cwd=repo)
    assert r.code == 0, (r.out, r.err)
    assert '"verification-required"' in r.out and '"warn"' in r.out


def test_distinct_true_is_accepted(repo: Path, run_cli: RunCli) -> None:
    r = run_cli("validate", PLAN, "--now", NOW, cwd=_repo(
        repo, {"id": "two", "approvals": {"min": 2, "distinct": True}}))
    assert r.code == 0, (r.out, r.err)
