"""Every plan rule with a passing and a failing plan (pure evaluation, real files)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from changeguard.findings import Finding, Severity
from changeguard.model import GuardConfig
from changeguard.plan import EvalContext, evaluate_plan, parse_plan
from tests.helpers.plans import NOW, config, plan


def run(p: dict[str, Any], cfg: dict[str, Any] | None = None, now: str = NOW,
        repo: Path | None = None) -> list[Finding]:
    raw = yaml.safe_dump(p, sort_keys=False).encode()
    lp = parse_plan(raw, "changes/p.yaml")
    gc = GuardConfig.model_validate(cfg or config())
    ctx = EvalContext(repo=repo or Path("/nonexistent"), config=gc,
                      now=datetime.fromisoformat(now))
    return evaluate_plan(lp, ctx)


def rules_of(findings: list[Finding], severity: Severity | None = None) -> set[str]:
    return {f.rule for f in findings if severity is None or f.severity is severity}


def test_the_base_plan_passes() -> None:
    assert run(plan()) == []


def test_rollback_required() -> None:
    f = run(plan(rollback=None))
    assert "rollback-required" in rules_of(f, Severity.DENY)
    rb = plan()["rollback"]
    rb.pop("trigger")
    f = run(plan(rollback=rb))
    assert any(x.rule == "rollback-required" and "trigger" in x.message for x in f)


def test_rollback_tested_denies_high_risk_and_warns_otherwise() -> None:
    rb = dict(plan()["rollback"], tested=False)
    assert "rollback-tested" in rules_of(run(plan(rollback=rb, risk="high")), Severity.DENY)
    assert "rollback-tested" in rules_of(run(plan(rollback=rb, risk="low")), Severity.WARN)
    no_evidence = dict(plan()["rollback"], evidence="")
    assert "rollback-tested" in rules_of(run(plan(rollback=no_evidence, risk="high")))
    assert "rollback-tested" not in rules_of(run(plan(risk="high")))


def test_rollback_fits_window() -> None:
    steps = [{"id": "s1", "action": "long", "kind": "config", "targets": ["db2"],
              "minutes": 220}]
    f = run(plan(steps=steps))
    hit = [x for x in f if x.rule == "rollback-fits-window"]
    assert hit and "250" in hit[0].message and hit[0].line is not None


def test_verification_required() -> None:
    assert "verification-required" in rules_of(run(plan(verification=[])))
    assert "verification-required" not in rules_of(run(plan()))


def test_window_in_maintenance_and_emergency_exemption() -> None:
    monday = {"start": "2016-04-04T14:40:00+08:00", "end": "2016-04-04T15:40:00+08:00"}
    steps = [{"id": "s1", "action": "manual resync", "kind": "resync", "targets": ["db2"],
              "minutes": 20}]
    f = run(plan(window=monday, steps=steps))
    assert {"window-in-maintenance", "disruptive-steps-in-window"} <= rules_of(f, Severity.DENY)
    e = run(plan(window=monday, steps=steps, type="emergency"))
    assert not {"window-in-maintenance", "disruptive-steps-in-window",
                "window-lead-time"} & rules_of(e)


def test_window_not_frozen_denies_normal_and_warns_emergency() -> None:
    freeze = [{"name": "easter", "start": "2016-04-02T00:00:00+08:00",
               "end": "2016-04-04T00:00:00+08:00", "reason": "holiday"}]
    assert "window-not-frozen" in rules_of(run(plan(), config(freezes=freeze)), Severity.DENY)
    assert "window-not-frozen" in rules_of(run(plan(type="emergency"), config(freezes=freeze)),
                                           Severity.WARN)
    assert "window-not-frozen" not in rules_of(run(plan()))


def test_window_lead_time_and_waiver() -> None:
    late = "2016-04-02T10:00:00+08:00"
    assert "window-lead-time" in rules_of(run(plan(), now=late), Severity.DENY)
    waived = plan(waivers=[{"rule": "window-lead-time", "reason": "vendor fix"}])
    assert "window-lead-time" not in rules_of(run(waived, now=late))


def test_window_not_past() -> None:
    assert "window-not-past" in rules_of(run(plan(), now="2016-04-05T00:00:00+08:00"))
    assert "window-not-past" not in rules_of(run(plan()))


def test_disruptive_step_must_end_inside_window() -> None:
    steps = [{"id": "s1", "action": "config", "kind": "config", "targets": ["db2"],
              "minutes": 200},
             {"id": "s2", "action": "restart", "kind": "restart", "targets": ["db2"],
              "minutes": 60}]
    f = run(plan(steps=steps, rollback=dict(plan()["rollback"], max_minutes=0)))
    hit = [x for x in f if x.rule == "disruptive-steps-in-window"]
    assert hit and "s2" in hit[0].message


def test_waiver_of_non_waivable_rule_is_a_finding() -> None:
    f = run(plan(verification=[], waivers=[{"rule": "verification-required", "reason": "x"}]))
    assert {"waiver-invalid", "verification-required"} <= rules_of(f, Severity.DENY)
    f = run(plan(waivers=[{"rule": "window-lead-time", "reason": ""}]))
    assert "waiver-invalid" in rules_of(f)
    f = run(plan(waivers=[{"rule": "window-lead-tme", "reason": "x"}]))
    assert any(x.rule == "waiver-invalid" and "window-lead-time" in (x.hint or "") for x in f)


def test_plan_schema_findings_carry_lines() -> None:
    f = run(plan(risk="extreme"))
    assert [x.rule for x in f] == ["plan-schema"]
    assert f[0].line == 7 and f[0].pointer == "/risk"


def test_policy_pack_require_and_severity_override(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "local.yaml").write_text(yaml.safe_dump({
        "apiVersion": "changeguard/v1", "kind": "PolicyPack", "name": "local",
        "rules": [
            {"id": "prod-status-page", "severity": "deny",
             "description": "production changes announce on the status page",
             "when": {"environments": ["production"]},
             "require": {"required": ["communication"]}},
            {"id": "verification-required", "check": "verification-required",
             "severity": "warn", "when": {"risk": ["low"]}},
        ]}))
    cfg = config(policies=["builtin:default", "policies/local.yaml"])
    f = run(plan(), cfg, repo=tmp_path)
    assert "prod-status-page" in rules_of(f, Severity.DENY)
    low = run(plan(risk="low", verification=[]), cfg, repo=tmp_path)
    assert "verification-required" in rules_of(low, Severity.WARN)
    med = run(plan(verification=[]), cfg, repo=tmp_path)
    assert "verification-required" in rules_of(med, Severity.DENY)


@pytest.mark.parametrize("zone_window", [
    # America/New_York spring-forward night 2016-03-13: 01:00–06:00 wall clock is 4 real hours
    ("America/New_York", "2016-03-13T01:00:00-05:00", "2016-03-13T06:00:00-04:00", True),
    ("America/New_York", "2016-03-13T01:00:00-05:00", "2016-03-13T06:30:00-04:00", False),
    # Europe/Berlin fall-back night 2016-10-30: 01:00–06:00 is 6 real hours
    ("Europe/Berlin", "2016-10-30T01:00:00+02:00", "2016-10-30T06:00:00+01:00", True),
    ("Europe/Berlin", "2016-10-30T00:30:00+02:00", "2016-10-30T06:00:00+01:00", False),
])
def test_window_in_maintenance_across_dst(zone_window: tuple[str, str, str, bool]) -> None:
    zone, start, end, inside = zone_window
    cfg = config(timezone=zone, windows=[{"name": "sun", "days": ["sun"], "start": "01:00",
                                          "end": "06:00"}], lead_time_hours=0)
    steps = [{"id": "s1", "action": "x", "kind": "config", "targets": ["a"], "minutes": 10}]
    rb = dict(plan()["rollback"], max_minutes=10)
    f = run(plan(window={"start": start, "end": end}, steps=steps, rollback=rb), cfg,
            now="2016-01-01T00:00:00+00:00")
    assert ("window-in-maintenance" in rules_of(f)) is (not inside)
