"""`changeguard policy test DIR`: policy packs tested like code (SPEC §5).

A test file (`DIR/*.yaml`, `kind: PolicyTest`) names a config, the packs under test, a clock
and cases; each case's plan runs through the real `evaluate_plan`, and the set of rule ids per
severity must equal the expectation. Format (paths are relative to the test file):

    apiVersion: changeguard/v1
    kind: PolicyTest
    repo: ..                        # optional: where `changes[].path` files are read from
    config: ../config.yaml          # or an inline GuardConfig mapping (apiVersion/kind optional)
    policies: [builtin:default, ../pack.yaml]   # replaces the config's `policies:`
    now: 2026-03-01T10:00:00+08:00
    plan: plans/base.yaml           # optional base plan for every case
    cases:
      - name: production without status page is denied
        patch: {communication: null}          # deep-merged into the plan; null deletes a key
        approvals: [dev@example.org]          # optional: also judge approval requirements
        expect: {deny: [prod-status-page], warn: [], ok: false}

Files named by a plan's `changes[].path` (checked by the config's `schemas:` mapping) are read
from `repo:`, by default the common directory of the test file and its packs.
Listed `expect` keys are compared exactly; absent keys are not checked. Approval requirements
(pack rules with `approvals:`) are judged only when a case lists `approvals:`; a shortfall is
reported under the pack rule's id.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    model_validator,
)

from changeguard.errors import ConfigError, InputError
from changeguard.findings import Finding, Severity
from changeguard.loader import Loaded, load_file
from changeguard.model import GuardConfig, Timestamp

if TYPE_CHECKING:
    from changeguard.plan import LoadedPlan

TEST_KIND = "PolicyTest"
# A base revision that never exists: policy tests judge the proposed files alone, never a
# transition from whatever git history happens to enclose the test directory.
NO_BASE = "refs/changeguard/policy-test/no-base"
_NonEmpty = Annotated[str, StringConstraints(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Expect(_Strict):
    """Expected outcome; each given key is compared exactly."""

    deny: list[_NonEmpty] | None = None
    warn: list[_NonEmpty] | None = None
    ok: StrictBool | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Expect:
        # An empty expectation would pass whatever the packs do: a test that cannot fail.
        if self.deny is None and self.warn is None and self.ok is None:
            raise ValueError("expect needs at least one of deny, warn, ok")
        return self


class Case(_Strict):
    name: _NonEmpty
    plan: _NonEmpty | dict[str, Any] | None = None
    patch: dict[str, Any] | None = None
    now: Timestamp | None = None
    approvals: list[_NonEmpty] | None = None
    expect: Expect


class PolicyTestFile(_Strict):
    apiVersion: Literal["changeguard/v1"] = "changeguard/v1"
    kind: Literal["PolicyTest"]
    name: str | None = None
    description: str | None = None
    repo: _NonEmpty | None = None
    config: _NonEmpty | dict[str, Any] | None = None
    policies: list[_NonEmpty] | None = None
    now: Timestamp | None = None
    plan: _NonEmpty | dict[str, Any] | None = None
    cases: list[Case] = Field(min_length=1)


@dataclass(frozen=True)
class TestFile:
    """One parsed test file with its location data."""

    path: Path
    display: str
    loaded: Loaded
    spec: PolicyTestFile

    def line(self, pointer: str) -> int | None:
        return self.loaded.source.line_for(pointer)


@dataclass
class Outcome:
    """What a policy decided for one case."""

    deny: list[str]
    warn: list[str]
    ok: bool


@dataclass
class CaseResult:
    """One policy test case: what happened against what was expected."""

    file: str
    name: str
    line: int | None
    actual: Outcome
    expect: Expect
    mismatches: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.mismatches

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.file, "name": self.name, "line": self.line, "passed": self.passed,
            "expected": self.expect.model_dump(exclude_none=True),
            "actual": {"deny": self.actual.deny, "warn": self.actual.warn, "ok": self.actual.ok},
            "mismatches": self.mismatches,
            "findings": [f.to_json() for f in self.findings],
        }


# ---------------------------------------------------------------- loading


def discover(target: Path) -> list[Path]:
    """The test files: TARGET itself, or every *.yaml/*.yml directly inside it (sorted)."""
    if target.is_file():
        return [target]
    if not target.is_dir():
        raise InputError(f"{target}: no such directory", hint="give the directory of test files")
    files = sorted(p for p in target.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    if not files:
        raise InputError(f"{target}: no test files (*.yaml) found",
                         hint=f"write files with `kind: {TEST_KIND}` there")
    return files


def load_test_file(path: Path, display: str) -> TestFile:
    """Parse and validate one test file; located InputError (exit 2) when malformed."""
    from pydantic import ValidationError

    from changeguard.validation import problems

    loaded = load_file(path, display)
    data = loaded.data
    if not isinstance(data, dict):
        raise InputError("a policy test file must be a YAML mapping", file=display, line=1,
                         hint=f"start with `kind: {TEST_KIND}`")
    if data.get("kind") != TEST_KIND:
        raise InputError(f"kind is {data.get('kind')!r}, expected {TEST_KIND!r}", file=display,
                         line=loaded.source.line_for("/kind") or 1,
                         hint="keep plan fixtures in a subdirectory (e.g. plans/)")
    try:
        spec = PolicyTestFile.model_validate(data)
    except ValidationError as e:
        found = list(problems(e, PolicyTestFile, loaded.source))
        # A misspelt key also reports the real key as missing; the typo is the useful one.
        p = next((x for x in found if x.kind == "extra_forbidden"), found[0])
        raise InputError(p.message, file=display, line=p.line,
                         hint=p.hint or "see `changeguard policy test --help`") from e
    return TestFile(path, display, loaded, spec)


def _display(path: Path) -> str:
    """Path relative to the working directory when below it (stable, short output)."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


# ---------------------------------------------------------------- setting up a file


@dataclass(frozen=True)
class Setup:
    """Config (policies rewritten relative to `root`) and the root that packs resolve from."""

    root: Path
    config: GuardConfig


def _load_config(tf: TestFile) -> GuardConfig:
    from pydantic import ValidationError

    from changeguard.config import load_config
    from changeguard.validation import problems

    spec = tf.spec
    if spec.config is None:
        return GuardConfig(apiVersion="changeguard/v1", kind="GuardConfig")
    if isinstance(spec.config, str):
        p = tf.path.parent / spec.config
        if not p.is_file():
            raise InputError(f"config {spec.config!r} not found", file=tf.display,
                             line=tf.line("/config"), hint="paths are relative to the test file")
        return load_config(p.parent, p)
    data = {"apiVersion": "changeguard/v1", "kind": "GuardConfig", **spec.config}
    try:
        return GuardConfig.model_validate(data)
    except ValidationError as e:
        pr = next(problems(e, GuardConfig, tf.loaded.source))
        raise ConfigError(f"config: {pr.message}", file=tf.display,
                          line=tf.line("/config" + pr.pointer), hint=pr.hint) from e


def _pack_files(tf: TestFile, refs: list[str], base: Path,
                ptr: str) -> list[tuple[str, Path | None]]:
    """Each ref with its resolved file (None for builtin:), checked to exist."""
    out: list[tuple[str, Path | None]] = []
    for i, ref in enumerate(refs):
        if ref.startswith("builtin:"):
            out.append((ref, None))
            continue
        p = (base / ref).resolve()
        if not p.is_file():
            raise ConfigError(f"policy pack {ref!r} not found (looked in {base})",
                              file=tf.display, line=tf.line(f"{ptr}/{i}"),
                              hint="pack paths are relative to the file that lists them")
        out.append((ref, p))
    return out


def _root(tf: TestFile, packs: list[Path]) -> Path:
    """`repo:` if given (packs must lie inside it), else the packs' and file's common dir."""
    if tf.spec.repo is None:
        dirs = [str(tf.path.parent.resolve())] + [str(p.parent) for p in packs]
        return Path(os.path.commonpath(dirs))
    root = (tf.path.parent / tf.spec.repo).resolve()
    if not root.is_dir():
        raise InputError(f"repo {tf.spec.repo!r} is not a directory", file=tf.display,
                         line=tf.line("/repo"), hint="`repo:` is relative to the test file")
    for p in packs:
        if root not in p.parents:
            raise InputError(f"policy pack {p} lies outside repo {tf.spec.repo!r}",
                             file=tf.display, line=tf.line("/repo"),
                             hint="keep the packs under test inside `repo:`")
    return root


def setup(tf: TestFile) -> Setup:
    """Resolve config and packs; packs become relative to a common root for `load_packs`."""
    config = _load_config(tf)
    if tf.spec.policies is not None:
        files = _pack_files(tf, tf.spec.policies, tf.path.parent, "/policies")
    else:
        # The config's own `policies:` are relative to the config file's directory.
        base = (tf.path.parent / tf.spec.config).parent if isinstance(tf.spec.config, str) \
            else tf.path.parent
        files = _pack_files(tf, list(config.policies), base, "/config")
    root = _root(tf, [p for _, p in files if p is not None])
    # resolve_pack refuses '..', so express every pack path below the common root.
    rel = [ref if p is None else p.relative_to(root).as_posix() for ref, p in files]
    return Setup(root, config.model_copy(update={"policies": rel}))


# ---------------------------------------------------------------- running a case


def _merge(base: Any, patch: Any) -> Any:
    """Deep-merge mappings; null deletes a key; anything else replaces."""
    if not isinstance(base, dict) or not isinstance(patch, dict):
        return patch
    out = dict(base)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = _merge(out.get(k), v)
    return out


def _plan_source(tf: TestFile, case_index: int) -> tuple[str | dict[str, Any], str]:
    case = tf.spec.cases[case_index]
    if case.plan is not None:
        return case.plan, f"/cases/{case_index}/plan"
    if tf.spec.plan is not None:
        return tf.spec.plan, "/plan"
    raise InputError(f"case {case.name!r} has no plan", file=tf.display,
                     line=tf.line(f"/cases/{case_index}"),
                     hint="give `plan:` in the case or at the top of the file")


def load_case_plan(tf: TestFile, case_index: int, max_bytes: int) -> LoadedPlan:
    """The case's plan: a file or inline mapping, with `patch:` applied."""
    from changeguard.plan import load_plan, parse_plan
    from changeguard.yamlimport import yaml

    source, ptr = _plan_source(tf, case_index)
    patch = tf.spec.cases[case_index].patch
    if isinstance(source, str):
        p = tf.path.parent / source
        if not p.is_file():
            raise InputError(f"plan {source!r} not found", file=tf.display, line=tf.line(ptr),
                             hint="plan paths are relative to the test file")
        if patch is None:
            return load_plan(p, display=_display(p), max_bytes=max_bytes)
        data = load_file(p, _display(p), max_bytes).data
        name = f"{_display(p)} (patched by {tf.display} case {case_index + 1})"
    else:
        data, name = source, f"{tf.display}#{ptr}"
    if patch is not None:
        data = _merge(data, patch)
    raw = yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode("utf-8")
    return parse_plan(raw, name, max_bytes=max_bytes)


def approval_findings(lp: LoadedPlan, config: GuardConfig, root: Path,
                      approvers: list[str]) -> list[Finding]:
    """Unmet approval requirements, judged by the same code the change log uses."""
    from changeguard.changelog.state import ChangeState, missing_approvals
    from changeguard.changelog.workflow import make_world
    from changeguard.policy import approval_requirements

    plan = lp.plan
    if plan is None:
        return []
    world = make_world(config, None)
    approvals: list[dict[str, object]] = [
        {"actor": a, "digest": "case", "stale": False, "at": "", "roles": [], "comment": None}
        for a in approvers]
    out: list[Finding] = []
    for req in approval_requirements(plan, config, root):
        st = cast("ChangeState", {
            "id": plan.id, "author": plan.author, "digest": "case", "approvals": approvals,
            "requirements": [{"rule": req.rule, "min": req.min, "roles": list(req.roles),
                              "description": req.description}]})
        missing = missing_approvals(st, world)
        if missing:
            text = "; ".join(m.removeprefix(f"{req.rule}: ") for m in missing)
            out.append(Finding(req.rule, Severity.DENY, text, lp.display,
                               hint=req.description))
    return out


def _known_ids(config: GuardConfig, root: Path) -> set[str]:
    from changeguard.policy import effective_rules, load_packs
    from changeguard.rules import RULES

    return set(RULES) | set(effective_rules(load_packs(config, root)))


def _check_expect_ids(tf: TestFile, i: int, expect: Expect, known: set[str]) -> None:
    """A misspelt rule id in `expect` is a bad test file, not a failing case."""
    for sev in ("deny", "warn"):
        for j, rid in enumerate(getattr(expect, sev) or []):
            if rid not in known:
                close = difflib.get_close_matches(rid, sorted(known), n=1)
                raise InputError(f"expect.{sev} names unknown rule {rid!r}", file=tf.display,
                                 line=tf.line(f"/cases/{i}/expect/{sev}/{j}"),
                                 hint=f"did you mean {close[0]!r}?" if close else
                                 "`changeguard rules` lists rule ids")


def _compare(expect: Expect, actual: Outcome) -> list[str]:
    out: list[str] = []
    for sev in ("deny", "warn"):
        want = getattr(expect, sev)
        got: list[str] = getattr(actual, sev)
        if want is not None and sorted(set(want)) != got:
            missing = sorted(set(want) - set(got))
            extra = sorted(set(got) - set(want))
            parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
                [f"unexpected {', '.join(extra)}"] if extra else [])
            out.append(f"{sev}: expected [{', '.join(sorted(set(want)))}], got "
                       f"[{', '.join(got)}] ({'; '.join(parts)})")
    if expect.ok is not None and expect.ok != actual.ok:
        out.append(f"ok: expected {str(expect.ok).lower()}, got {str(actual.ok).lower()}")
    return out


def run_case(tf: TestFile, i: int, st: Setup, known: set[str]) -> CaseResult:
    """Evaluate one case with the real plan evaluation and compare with its expectation."""
    from changeguard.findings import is_ok
    from changeguard.plan import EvalContext, evaluate_plan

    case = tf.spec.cases[i]
    _check_expect_ids(tf, i, case.expect, known)
    now = case.now or tf.spec.now
    if now is None:
        raise InputError(f"case {case.name!r} has no `now:`", file=tf.display,
                         line=tf.line(f"/cases/{i}"),
                         hint="set `now:` (RFC 3339) at the top of the file or in the case")
    lp = load_case_plan(tf, i, st.config.max_file_bytes)
    ctx = EvalContext(st.root, st.config, now, submitted_at=now, base=NO_BASE)
    findings = evaluate_plan(lp, ctx)
    if case.approvals is not None:
        findings += approval_findings(lp, st.config, st.root, case.approvals)
    actual = Outcome(
        deny=sorted({f.rule for f in findings if f.severity is Severity.DENY}),
        warn=sorted({f.rule for f in findings if f.severity is Severity.WARN}),
        ok=is_ok(findings))
    return CaseResult(tf.display, case.name, tf.line(f"/cases/{i}"), actual, case.expect,
                      _compare(case.expect, actual), findings)


def run_tests(target: Path) -> list[CaseResult]:
    """Load every test file first (any malformed one is exit 2), then run every case."""
    files = [load_test_file(p, _display(p)) for p in discover(target)]
    results: list[CaseResult] = []
    for tf in files:
        st = setup(tf)
        known = _known_ids(st.config, st.root)
        results.extend(run_case(tf, i, st, known) for i in range(len(tf.spec.cases)))
    return results


# ---------------------------------------------------------------- reporting


def render_text(results: list[CaseResult], verbose: bool = False) -> str:
    """One PASS/FAIL line per case, details under failures, and the summary line."""
    lines: list[str] = []
    for r in results:
        where = f"{r.file}:{r.line}" if r.line else r.file
        lines.append(f"{'PASS' if r.passed else 'FAIL'}  {where}  {r.name}")
        lines.extend(f"      {m}" for m in r.mismatches)
        if not r.passed or verbose:
            lines.extend(f"      | {f.severity} {f.rule}: {f.message}" for f in r.findings)
    lines.append(summary(results))
    return "\n".join(lines)


def summary(results: list[CaseResult]) -> str:
    failed = sum(not r.passed for r in results)
    return f"{len(results) - failed} passed, {failed} failed"


def render_json(results: list[CaseResult]) -> str:
    import json

    failed = sum(not r.passed for r in results)
    doc: Mapping[str, object] = {
        "ok": failed == 0, "passed": len(results) - failed, "failed": failed,
        "cases": [r.to_json() for r in results]}
    return json.dumps(doc, indent=2, ensure_ascii=False)


__all__ = ["CaseResult", "PolicyTestFile", "render_json", "render_text", "run_tests"]
