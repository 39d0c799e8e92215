"""Reporters: golden files per format, SARIF schema validation, JUnit structure, ICS golden.

Regenerate goldens with `CHANGEGUARD_UPDATE_GOLDEN=1 pytest tests/test_report.py` and review
the diff.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from changeguard import timewin
from changeguard.errors import InputError
from changeguard.findings import Finding, Severity
from changeguard.model import Freeze, MaintenanceWindow
from changeguard.report import _REPORTERS, FORMATS, render
from changeguard.report.sarif import tool_version
from changeguard.rules import RULES

GOLDEN = Path(__file__).resolve().parent / "golden"
DATA = Path(__file__).resolve().parent / "data"
D, W = Severity.DENY, Severity.WARN

FINDINGS = [
    Finding("replication-single-primary", D, "two nodes claim role primary: db1, db2",
            "db/apac-gateway.topology.yaml", 14, "/nodes/1/role",
            "Mark exactly one node `role: primary`, or declare intended co-masters."),
    Finding("replication-upstream-exists", D, "db3 replicates from db9, which does not exist",
            "db/apac-gateway.topology.yaml", 22, "/nodes/2/upstream", None),
    Finding("replication-upstream-exists", D, "db4 replicates from db8, which does not exist",
            "db/apac-gateway.topology.yaml", 30, "/nodes/3/upstream", None),
    Finding("rollback-tested", W, "rollback is not marked tested",
            "changes/CHG-2016-0403-storage.yaml", 19, "/rollback/tested",
            "Set `rollback.tested: true` and `rollback.evidence:`."),
    Finding("window-in-maintenance", D,
            "window 2016-04-03T07:30+08:00–10:30+08:00 is not inside a maintenance window",
            "changes/CHG-2016-0403-storage.yaml", 9, "/window", None),
    Finding("approvals-required", D, "needs 2 distinct approvals (one with role dba); has 0",
            None, None, None, "Ask a roster member with role dba to approve."),
    Finding("local-no-friday", W, 'custom policy: no changes on Friday <"&">',
            "changes/CHG-2016-0403-storage.yaml", None, None, None),
    Finding("config-schema", W, "odd\x1b[31m bytes\x00 in message", "gateway/a b.json", 3,
            None, None),
]
FILES = 4


def _golden(name: str, actual: str) -> None:
    """Compare with tests/golden/NAME exactly, or rewrite it when asked to."""
    path = GOLDEN / name
    if os.environ.get("CHANGEGUARD_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(actual.encode("utf-8"))
        return
    assert path.exists(), f"missing golden {path}; run with CHANGEGUARD_UPDATE_GOLDEN=1"
    assert path.read_bytes().decode("utf-8") == actual


def _versionless(sarif: str) -> str:
    # The tool version changes every release; goldens should not.
    return sarif.replace(json.dumps(tool_version()), '"VERSION"')


@cache
def _sarif_validator() -> jsonschema.Draft7Validator:
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


# ---------------------------------------------------------------- goldens


def test_text_golden() -> None:
    _golden("report.txt", render(FINDINGS, "text", files=FILES))


def test_text_color_golden() -> None:
    _golden("report-color.txt", render(FINDINGS, "text", files=FILES, color=True))


def test_json_golden() -> None:
    _golden("report.json", render(FINDINGS, "json", files=FILES))


def test_sarif_golden() -> None:
    _golden("report.sarif", _versionless(render(FINDINGS, "sarif", files=FILES)))


def test_junit_golden() -> None:
    _golden("report.junit.xml", render(FINDINGS, "junit", files=FILES))


def _ics_fixture() -> tuple[list[timewin.Occurrence], list[Freeze], str]:
    windows = [
        MaintenanceWindow(name="sunday-maintenance", days=["sun"], start="01:00", end="06:00"),
        MaintenanceWindow(name="us-saturday-night", days=["sat"], start="22:00", end="02:00",
                          timezone="America/New_York"),
    ]
    freezes = [Freeze.model_validate({"name": "semester-start",
                                      "start": "2026-11-05T00:00:00+08:00",
                                      "end": "2026-11-06T12:00:00+08:00",
                                      "reason": "enrolment peak; no changes"})]
    t0 = datetime(2026, 10, 30, tzinfo=UTC)
    occs = timewin.occurrences(windows, t0, datetime(2026, 11, 9, tzinfo=UTC), "Asia/Singapore")
    ics = timewin.render_ics(occs, freezes, "Asia/Singapore",
                             now=datetime(2026, 10, 1, 12, 0, tzinfo=UTC))
    return occs, freezes, ics


def test_ics_golden() -> None:
    ics = _ics_fixture()[2]
    _golden("windows.ics", ics)
    assert ics.endswith("\r\n") and "\n" not in ics.replace("\r\n", "")


def test_ics_round_trips_to_the_same_instants() -> None:
    # Parsing back through the TZIDs must give the real instants, incl. the NY fall-back night.
    import icalendar

    occs, freezes, ics = _ics_fixture()
    events = icalendar.Calendar.from_ical(ics).walk("VEVENT")
    got = sorted((e.decoded("DTSTART").astimezone(UTC), e.decoded("DTEND").astimezone(UTC))
                 for e in events)
    want = sorted([(o.start, o.end) for o in occs] + [(f.start, f.end) for f in freezes])
    assert got == want
    assert (datetime(2026, 11, 1, 2, 0, tzinfo=UTC), datetime(2026, 11, 1, 7, 0, tzinfo=UTC)) \
        in got
    assert {str(z["TZID"]) for z in icalendar.Calendar.from_ical(ics).walk("VTIMEZONE")} == {
        "Asia/Singapore", "America/New_York"}


def test_ics_uids_are_stable_and_distinct() -> None:
    first, second = _ics_fixture()[2], _ics_fixture()[2]
    assert first == second
    uids = [ln for ln in first.split("\r\n") if ln.startswith("UID:")]
    assert len(uids) == len(set(uids)) == 5


# ---------------------------------------------------------------- registry


def test_formats_match_registry() -> None:
    assert set(FORMATS) == set(_REPORTERS)
    for fmt in FORMATS:
        assert isinstance(render([], fmt, files=0), str)


def test_unknown_format_is_input_error() -> None:
    with pytest.raises(InputError) as e:
        render(FINDINGS, "yaml", files=1)
    assert e.value.hint is not None and "sarif" in e.value.hint


# ---------------------------------------------------------------- text


def test_text_plain_has_no_escape_codes_and_summary() -> None:
    out = render(FINDINGS, "text", files=FILES)
    assert "\x1b" not in out and "\x00" not in out
    assert out.splitlines()[-1] == "5 denied, 3 warnings in 4 files"
    assert "  DENY db/apac-gateway.topology.yaml:14: replication-single-primary: two nodes" in out
    assert "       hint: Mark exactly one node" in out
    assert render([], "text", files=1) == "0 denied, 0 warnings in 1 file"


def test_text_color_marks_severity() -> None:
    out = render(FINDINGS, "text", files=FILES, color=True)
    assert "\x1b[1;31mDENY\x1b[0m" in out and "\x1b[33mwarn\x1b[0m" in out
    # The only escapes are ours: the message's injected ESC was replaced.
    assert "\x1b[31m bytes" not in out


# ---------------------------------------------------------------- json


def test_json_shape_is_spec_section_8() -> None:
    doc = json.loads(render(FINDINGS, "json", files=FILES))
    assert set(doc) == {"ok", "findings", "summary"}
    assert doc["ok"] is False
    assert doc["summary"] == {"deny": 5, "warn": 3, "files": 4}
    keys = {"rule", "severity", "message", "file", "line", "pointer", "hint"}
    assert all(set(f) == keys for f in doc["findings"])
    assert doc["findings"][0]["file"] is None  # no-file findings sort first
    assert json.loads(render([FINDINGS[3]], "json", files=1))["ok"] is True


# ---------------------------------------------------------------- sarif


def test_sarif_is_valid_and_complete() -> None:
    doc = json.loads(render(FINDINGS, "sarif", files=FILES))
    _sarif_validator().validate(doc)
    driver = doc["runs"][0]["tool"]["driver"]
    assert driver["name"] == "changeguard" and driver["informationUri"].startswith("https://")
    ids = [r["id"] for r in driver["rules"]]
    assert ids[: len(RULES)] == list(RULES) and ids[len(RULES):] == ["local-no-friday"]
    tested = driver["rules"][ids.index("rollback-tested")]
    assert tested["fullDescription"]["text"] == RULES["rollback-tested"].rationale
    assert tested["help"]["text"] == RULES["rollback-tested"].hint
    assert tested["defaultConfiguration"]["level"] == "error"
    assert driver["rules"][ids.index("emergency-review")]["defaultConfiguration"] == {
        "level": "warning"}
    results = doc["runs"][0]["results"]
    assert len(results) == len(FINDINGS)
    for r in results:
        assert driver["rules"][r["ruleIndex"]]["id"] == r["ruleId"]
    by_rule = {r["ruleId"]: r for r in results}
    assert by_rule["rollback-tested"]["level"] == "warning"
    loc = by_rule["replication-single-primary"]["locations"][0]["physicalLocation"]
    assert loc == {"artifactLocation": {"uri": "db/apac-gateway.topology.yaml"},
                   "region": {"startLine": 14}}
    assert "locations" not in by_rule["approvals-required"]
    assert "region" not in by_rule["local-no-friday"]["locations"][0]["physicalLocation"]
    space = by_rule["config-schema"]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert space["uri"] == "gateway/a%20b.json"


def test_sarif_schema_rejects_a_broken_log() -> None:
    # Guard against a vacuous validator: a wrong level must fail.
    doc = json.loads(render(FINDINGS, "sarif", files=FILES))
    doc["runs"][0]["results"][0]["level"] = "deny"
    assert not _sarif_validator().is_valid(doc)


# ---------------------------------------------------------------- junit


def _suites(xml: str) -> dict[str, ET.Element]:
    root = ET.fromstring(xml)
    assert root.tag == "testsuites"
    return {s.get("name", ""): s for s in root.findall("testsuite")}


def test_junit_structure_and_counts() -> None:
    xml = render(FINDINGS, "junit", files=FILES)
    root = ET.fromstring(xml)
    suites = _suites(xml)
    assert set(suites) == {"(no file)", "changes/CHG-2016-0403-storage.yaml",
                           "db/apac-gateway.topology.yaml", "gateway/a b.json",
                           "(other files: 1)"}
    db = suites["db/apac-gateway.topology.yaml"]
    cases = {c.get("name"): c for c in db.findall("testcase")}
    assert set(cases) == {"replication-single-primary", "replication-upstream-exists"}
    failure = cases["replication-upstream-exists"].find("failure")
    assert failure is not None and failure.text is not None
    assert "db3" in failure.text and "db4" in failure.text  # one testcase, both findings
    plan = suites["changes/CHG-2016-0403-storage.yaml"]
    assert plan.get("tests") == "3" and plan.get("failures") == "1"
    warn = next(c for c in plan if c.get("name") == "rollback-tested")
    assert warn.find("failure") is None and warn.find("system-out") is not None
    for s in [root, *suites.values()]:
        cases_ = s.iter("testcase")
        assert int(s.get("tests", "-1")) == sum(1 for _ in cases_)
        assert int(s.get("failures", "-1")) == sum(
            1 for c in s.iter("testcase") if c.find("failure") is not None)
    other = suites["(other files: 1)"].find("testcase")
    assert other is not None and other.find("failure") is None


def test_junit_named_clean_files_pass() -> None:
    xml = render(FINDINGS[:1], "junit", files=3,
                 paths=["db/apac-gateway.topology.yaml", "db/b.yaml", "db/c.yaml"])
    suites = _suites(xml)
    assert set(suites) == {"db/apac-gateway.topology.yaml", "db/b.yaml", "db/c.yaml"}
    for name in ("db/b.yaml", "db/c.yaml"):
        assert suites[name].get("tests") == "1" and suites[name].get("failures") == "0"
    assert ET.fromstring(xml).get("failures") == "1"


# ---------------------------------------------------------------- property: hostile text

_text = st.text(st.characters(codec="utf-8"), max_size=40)
_finding = st.builds(Finding, rule=st.sampled_from([*list(RULES)[:5], "x-custom"]),
                     severity=st.sampled_from([D, W]), message=_text,
                     file=st.none() | _text.filter(bool), line=st.none() | st.integers(1, 10**6),
                     pointer=st.none() | _text, hint=st.none() | _text)


@settings(max_examples=60, deadline=None)
@given(st.lists(_finding, max_size=6), st.integers(0, 20))
def test_any_findings_render_to_valid_documents(findings: list[Finding], files: int) -> None:
    doc: Any = json.loads(render(findings, "json", files=files))
    assert len(doc["findings"]) == len(findings)
    assert sorted(f["message"] for f in doc["findings"]) == sorted(f.message for f in findings)
    _sarif_validator().validate(json.loads(render(findings, "sarif", files=files)))
    root = ET.fromstring(render(findings, "junit", files=files))
    assert int(root.get("failures", "-1")) <= int(root.get("tests", "-1"))
    text = render(findings, "text", files=files, color=True)
    assert "\x00" not in text
