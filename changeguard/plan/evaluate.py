"""Run every plan rule, the replication checks on proposed files, policy and waivers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from changeguard.findings import Finding, Severity, sort_key
from changeguard.model import DISRUPTIVE_KINDS, ChangePlan
from changeguard.plan.checks import PLAN_CHECKS, EvalContext, check_step_targets
from changeguard.plan.gitfiles import Reader, RevReader, blob_ids, worktree_reader
from changeguard.plan.load import LoadedPlan
from changeguard.rules import RULES

if TYPE_CHECKING:
    from changeguard.policy.model import PolicyRule
    from changeguard.replication.mapping import FileMapping
    from changeguard.replication.model import Topology


def proposed_reader(ctx: EvalContext) -> Reader:
    """Proposed content: `--rev` if given, else the work tree."""
    return ctx.revs.reader(ctx.rev) if ctx.rev else worktree_reader(ctx.repo)


def proposed_blobs(repo: Path, plan: ChangePlan, rev: str | None = None) -> dict[str, str | None]:
    """Blob id of each `changes[].path` as proposed (work tree or `rev`); None = deleted."""
    read = RevReader(repo, rev) if rev else worktree_reader(repo)
    return blob_ids(plan.paths, read)


def evaluate_plan(lp: LoadedPlan, ctx: EvalContext,
                  judged: set[str] | None = None) -> list[Finding]:
    """All findings for one loaded plan, after policy overrides and waivers.

    `judged`, when given, receives the repo paths of the proposed files that were validated
    (for the report's file count).
    """
    from changeguard.policy import apply_policy, effective_rules, evaluate_requires, load_packs

    findings = list(lp.findings)
    plan = lp.plan
    if plan is None:
        return sorted(findings, key=sort_key)
    rules = effective_rules(load_packs(ctx.config, ctx.repo))
    for check in PLAN_CHECKS.values():
        findings.extend(check(lp, plan, ctx))
    findings.extend(check_proposed(lp, plan, ctx, judged))
    findings.extend(evaluate_requires(lp, plan, rules))
    findings = apply_policy(findings, plan, rules)
    findings = apply_waivers(findings, lp, plan, rules)
    return sorted(findings, key=sort_key)


def apply_waivers(findings: Sequence[Finding], lp: LoadedPlan, plan: ChangePlan,
                  rules: dict[str, PolicyRule]) -> list[Finding]:
    """Drop findings of validly waived rules; an invalid waiver is itself a finding."""
    from changeguard.policy import is_waivable

    waived: set[str] = set()
    out: list[Finding] = []
    for i, w in enumerate(plan.waivers):
        ptr = f"/waivers/{i}"
        known = set(RULES) | set(rules)
        if w.rule not in known:
            from difflib import get_close_matches  # error paths only: not at start-up

            close = get_close_matches(w.rule, sorted(known), n=1)
            out.append(_waiver(lp, ptr, f"waiver names unknown rule {w.rule!r}",
                               f"did you mean {close[0]!r}?" if close else None))
        elif not is_waivable(w.rule, rules):
            out.append(_waiver(lp, ptr, f"rule {w.rule!r} cannot be waived",
                               "fix the underlying problem instead"))
        elif not w.reason.strip():
            out.append(_waiver(lp, ptr, f"waiver of {w.rule!r} gives no reason",
                               "add `reason:` explaining why the rule does not apply"))
        else:
            waived.add(w.rule)
    out.extend(f for f in findings if f.rule not in waived)
    return out


def _waiver(lp: LoadedPlan, ptr: str, message: str, hint: str | None) -> Finding:
    return Finding("waiver-invalid", Severity.DENY, message, lp.display, lp.line(ptr), ptr,
                   hint or RULES["waiver-invalid"].hint)


def check_proposed(lp: LoadedPlan, plan: ChangePlan, ctx: EvalContext,
                   judged: set[str] | None = None) -> list[Finding]:
    """config-schema/replication on proposed files, transitions from base, blast radius.

    Each proposed file is read and parsed once (issue 13): the same loaded topologies are
    judged, compared with the base and walked by the plan's steps.
    """
    if not ctx.config.schemas:
        return []
    from changeguard.replication.mapping import FileMapping

    mappings = FileMapping.from_config(ctx.config)
    mapped = [p for p in plan.paths if any(m.matches(p) for m in mappings)]
    disruptive = any(s.kind in DISRUPTIVE_KINDS for s in plan.steps)
    if not mapped and not disruptive:
        return []  # nothing to judge: the replication engine is not even imported
    from changeguard.replication.engine import check_blast_radius, check_transitions, judge
    from changeguard.replication.load import load, load_topologies

    base_ok = ctx.revs.exists(ctx.base)
    memo = ctx.load_memo()
    lines = [lp.line(f"/steps/{i}") for i in range(len(plan.steps))]
    findings: list[Finding] = []
    after: list[Topology] = []
    if mapped:
        # a group (e.g. Patroni members of one scope) is judged whole, not file by file
        result = judge(load(ctx.repo, mapped, mappings, proposed_reader(ctx),
                            complete_groups=True, memo=memo))
        if result.errors:
            raise result.errors[0]
        findings.extend(result.findings)
        if judged is not None:
            judged.update(result.checked)
        after = result.topologies
    if mapped and base_ok:
        before, _ = load_topologies(ctx.repo, mapped, mappings,
                                    read=ctx.revs.reader(ctx.base), complete_groups=True,
                                    memo=memo)
        findings.extend(check_transitions(before, after, steps=plan.steps,
                                          plan_file=lp.display, step_lines=lines))
    if disruptive:
        topologies = after + _unchanged_topologies(ctx, mappings, mapped, base_ok)
        if after:  # only when the plan's own files hold replication topologies
            findings.extend(check_step_targets(lp, plan, topologies))
        findings.extend(check_blast_radius(plan.steps, topologies, lp.display, step_lines=lines))
    return findings


def _unchanged_topologies(ctx: EvalContext, mappings: Sequence[FileMapping], mapped: list[str],
                          base_ok: bool) -> list[Topology]:
    """SPEC §11: files the plan does not change are judged as they are at the base."""
    from changeguard.replication.load import load_topologies

    if not base_ok:
        return []
    others = [p for p in ctx.revs.files(ctx.base)
              if p not in mapped and any(m.matches(p) for m in mappings)]
    if not others:
        return []
    read = ctx.revs.reader(ctx.base)
    read.prefetch(others)  # one git process for all of them, not one each
    topologies, _ = load_topologies(ctx.repo, others, mappings, read=read, memo=ctx.load_memo())
    return topologies
