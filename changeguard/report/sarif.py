"""SARIF 2.1.0 report (code-scanning UIs); validated against the OASIS schema in the tests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from urllib.parse import quote

from changeguard.errors import ChangeguardError
from changeguard.findings import Finding, Severity
from changeguard.report._common import ordered
from changeguard.rules import RULES, Rule

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
# This project's documentation (SARIF toolComponent.informationUri). Not PyPI: the name
# `changeguard` there belongs to an unrelated project (issue 12). Same as pyproject's urls.
INFORMATION_URI = "https://example.org/your-mirror/changeguard/-/blob/main/docs/rules.md"

JSONObj = dict[str, object]

_LEVEL = {Severity.DENY: "error", Severity.WARN: "warning"}


def tool_version() -> str:
    """The installed changeguard version (metadata), or 0+unknown from a bare checkout."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("changeguard")
    except PackageNotFoundError:
        return "0+unknown"


def _descriptor(rule: Rule) -> JSONObj:
    return {
        "id": rule.id,
        "name": rule.id,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.rationale},
        "help": {"text": rule.hint},
        "defaultConfiguration": {"level": _LEVEL[rule.severity]},
        "properties": {"category": rule.category, "waivable": rule.waivable},
    }


def _unknown_descriptor(rule_id: str) -> JSONObj:
    # Policy packs may define their own rule ids; SARIF still needs a descriptor per ruleIndex.
    return {"id": rule_id, "name": rule_id, "shortDescription": {"text": rule_id}}


def _rules(findings: Sequence[Finding]) -> tuple[list[JSONObj], dict[str, int]]:
    """All registry rules (stable indexes) plus any extra ids the findings use."""
    descriptors = [_descriptor(r) for r in RULES.values()]
    index = {r: i for i, r in enumerate(RULES)}
    for f in ordered(findings):
        if f.rule not in index:
            index[f.rule] = len(descriptors)
            descriptors.append(_unknown_descriptor(f.rule))
    return descriptors, index


def _location(f: Finding | ChangeguardError) -> list[JSONObj]:
    if f.file is None:
        return []
    physical: JSONObj = {"artifactLocation": {"uri": quote(f.file.replace("\\", "/"), safe="/")}}
    if f.line:
        physical["region"] = {"startLine": f.line}
    return [{"physicalLocation": physical}]


def _notification(e: ChangeguardError) -> JSONObj:
    note: JSONObj = {"level": "error", "message": {"text": e.message}}
    locations = _location(e)
    if locations:
        note["locations"] = locations
    if e.hint:
        note["properties"] = {"hint": e.hint}
    return note


def _invocation(errors: Sequence[ChangeguardError]) -> JSONObj:
    """SARIF §3.20: the run could not evaluate its input (exit 2), with why."""
    return {"executionSuccessful": False, "exitCode": 2,
            "toolExecutionNotifications": [_notification(e) for e in errors]}


def _result(f: Finding, index: dict[str, int]) -> JSONObj:
    result: JSONObj = {
        "ruleId": f.rule,
        "ruleIndex": index[f.rule],
        "level": _LEVEL[f.severity],
        "message": {"text": f.message},
    }
    locations = _location(f)
    if locations:
        result["locations"] = locations
    props = {k: v for k, v in (("pointer", f.pointer), ("hint", f.hint)) if v}
    if props:
        result["properties"] = props
    return result


def render_sarif(findings: Sequence[Finding], *, files: int,
                 errors: Sequence[ChangeguardError] = ()) -> str:
    """A SARIF 2.1.0 log with one run: tool.driver (all rules) and one result per finding.

    Errors (exit 2) become `invocations[0].toolExecutionNotifications` of an unsuccessful run.
    """
    descriptors, index = _rules(findings)
    run: JSONObj = {
        "tool": {"driver": {"name": "changeguard", "version": tool_version(),
                            "informationUri": INFORMATION_URI, "rules": descriptors}},
        "results": [_result(f, index) for f in ordered(findings)],
        "properties": {"files": files},
    }
    if errors:
        run["invocations"] = [_invocation(errors)]
    return json.dumps({"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]},
                      indent=2)
