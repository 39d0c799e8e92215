"""JUnit XML report for CI dashboards: a testsuite per file, a testcase per rule per file."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from itertools import groupby

from changeguard.errors import ChangeguardError
from changeguard.findings import Finding, Severity
from changeguard.report._common import ordered, scrub

_NO_FILE = "(no file)"
_PASSED = "no findings"


def _line(f: Finding) -> str:
    where = f"{f.file}:{f.line}" if f.file and f.line else (f.file or _NO_FILE)
    text = f"{where}: {f.severity}: {f.message}"
    return text + (f"\n  hint: {f.hint}" if f.hint else "")


def _testcase(suite: ET.Element, file: str, rule: str, group: list[Finding]) -> bool:
    """Add one testcase for `rule` on `file`; True when it failed (has a deny finding)."""
    case = ET.SubElement(suite, "testcase", classname=scrub(file), name=scrub(rule), time="0")
    denies = [f for f in group if f.severity is Severity.DENY]
    warns = [f for f in group if f.severity is Severity.WARN]
    if denies:
        failure = ET.SubElement(case, "failure", type="deny",
                                message=scrub(denies[0].message))
        failure.text = scrub("\n".join(_line(f) for f in denies))
    if warns:
        # Warnings do not fail the build; CI UIs still show captured output.
        ET.SubElement(case, "system-out").text = scrub("\n".join(_line(f) for f in warns))
    return bool(denies)


def _suite(parent: ET.Element, file: str, findings: list[Finding]) -> tuple[int, int]:
    suite = ET.SubElement(parent, "testsuite", name=scrub(file))
    tests = failures = 0
    by_rule = sorted(findings, key=lambda f: f.rule)
    for rule, group in groupby(by_rule, key=lambda f: f.rule):
        tests += 1
        failures += _testcase(suite, file, rule, list(group))
    if not findings:
        tests += 1
        ET.SubElement(suite, "testcase", classname=scrub(file), name=_PASSED, time="0")
    _counts(suite, tests, failures)
    return tests, failures


def _counts(el: ET.Element, tests: int, failures: int, errors: int = 0) -> None:
    el.set("tests", str(tests))
    el.set("failures", str(failures))
    el.set("errors", str(errors))
    el.set("skipped", "0")


def _error_suite(parent: ET.Element, errors: Sequence[ChangeguardError]) -> int:
    """One errored testcase per error: the input could not be evaluated (exit 2)."""
    suite = ET.SubElement(parent, "testsuite", name="changeguard errors")
    for e in errors:
        where = f"{e.file}:{e.line}" if e.file and e.line else (e.file or _NO_FILE)
        case = ET.SubElement(suite, "testcase", classname=scrub(e.file or _NO_FILE),
                             name="input-error", time="0")
        err = ET.SubElement(case, "error", type="input-error", message=scrub(e.message))
        err.text = scrub(f"{where}: {e.message}" + (f"\n  hint: {e.hint}" if e.hint else ""))
    _counts(suite, len(errors), 0, len(errors))
    return len(errors)


def render_junit(findings: Sequence[Finding], *, files: int,
                 paths: Sequence[str] = (), errors: Sequence[ChangeguardError] = ()) -> str:
    """JUnit XML: <failure> per denied rule, warnings as <system-out>, clean files pass.

    `paths` names every checked file so clean ones get a passing testcase; checked files not
    named there are counted into one passing `(other files)` suite.
    """
    root = ET.Element("testsuites", name="changeguard")
    per_file = {k: list(g) for k, g in groupby(ordered(findings), key=lambda f: f.file)}
    clean = sorted(set(paths) - {k for k in per_file if k is not None})
    tests = failures = 0
    for file, group in [*per_file.items(), *((p, []) for p in clean)]:
        t, f = _suite(root, file if file is not None else _NO_FILE, group)
        tests, failures = tests + t, failures + f
    unnamed = files - len({k for k in per_file if k is not None}) - len(clean)
    if unnamed > 0:
        t, _ = _suite(root, f"(other files: {unnamed})", [])
        tests += t
    errored = _error_suite(root, errors) if errors else 0
    _counts(root, tests + errored, failures, errored)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)
