"""Plan rules of SPEC §5 (pure: plan + config + now → findings)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from changeguard.findings import Finding, Severity
from changeguard.model import DISRUPTIVE_KINDS, ChangePlan, GuardConfig, Risk
from changeguard.plan.load import LoadedPlan
from changeguard.rules import RULES

if TYPE_CHECKING:
    from changeguard.plan.gitfiles import Revisions
    from changeguard.replication.load import LoadMemo
    from changeguard.replication.model import Topology


@dataclass
class EvalContext:
    """Everything a rule may look at besides the plan; `now` comes from --now or the clock."""

    repo: Path
    config: GuardConfig
    now: datetime
    submitted_at: datetime | None = None
    rev: str | None = None  # read proposed files from this revision instead of the work tree
    base: str = "HEAD"  # the current version of changed files
    config_file: str = ".changeguard.yaml"
    extra: dict[str, object] = field(default_factory=dict)
    # git's answers about `base` and `rev` for this run: each asked once (issue 17)
    revs: Revisions = field(init=False, repr=False, compare=False)
    # what this run's loads read and parsed: N plans judge the same base files once
    _memo: LoadMemo | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        from changeguard.plan.gitfiles import Revisions

        self.revs = Revisions(self.repo)

    def load_memo(self) -> LoadMemo:
        """The run's `LoadMemo`, made on first use (plans without config files never do)."""
        if self._memo is None:
            from changeguard.replication.load import LoadMemo

            self._memo = LoadMemo()
        return self._memo


Check = Callable[[LoadedPlan, ChangePlan, EvalContext], list[Finding]]


def _ts(t: datetime) -> str:
    """A time for a message: RFC 3339 to the second (a wall-clock `now` has microseconds)."""
    return t.isoformat(timespec="seconds")


def _f(rule: str, lp: LoadedPlan, pointer: str, message: str,
       severity: Severity | None = None) -> Finding:
    r = RULES[rule]
    return Finding(rule, severity or r.severity, message, lp.display, lp.line(pointer), pointer,
                   r.hint)


def check_rollback_required(lp: LoadedPlan, plan: ChangePlan, ctx: EvalContext) -> list[Finding]:
    rb = plan.rollback
    if rb is None:
        return [_f("rollback-required", lp, "", "the plan has no rollback section")]
    missing = [name for name, ok in (("trigger", bool(rb.trigger and rb.trigger.strip())),
                                     ("steps", bool(rb.steps)),
                                     ("max_minutes", rb.max_minutes is not None)) if not ok]
    if missing:
        return [_f("rollback-required", lp, "/rollback",
                   "rollback is missing " + ", ".join(missing))]
    return []


def check_rollback_tested(lp: LoadedPlan, plan: ChangePlan, ctx: EvalContext) -> list[Finding]:
    rb = plan.rollback
    if rb is None:
        return []
    if rb.tested and rb.evidence and rb.evidence.strip():
        return []
    sev = Severity.DENY if plan.risk is Risk.HIGH else Severity.WARN
    what = "not tested" if not rb.tested else "tested but has no evidence"
    ptr = "/rollback/tested" if "/rollback/tested" in lp.loaded.source.lines else "/rollback"
    return [_f("rollback-tested", lp, ptr, f"rollback is {what} ({plan.risk.value} risk)", sev)]


def _rollback_minutes(plan: ChangePlan) -> float:
    rb = plan.rollback
    if rb is None:
        return 0
    if rb.max_minutes is not None:
        return rb.max_minutes
    return sum(s.minutes for s in rb.steps)


def check_rollback_fits(lp: LoadedPlan, plan: ChangePlan, ctx: EvalContext) -> list[Finding]:
    steps = sum(s.minutes for s in plan.steps)
    back = _rollback_minutes(plan)
    length = plan.window.minutes
    if steps + back <= length:
        return []
    return [_f("rollback-fits-window", lp, "/window",
               f"steps ({steps:g} min) + rollback ({back:g} min) = {steps + back:g} min exceed "
               f"the {length:g}-minute window")]


def check_verification(lp: LoadedPlan, plan: ChangePlan, ctx: EvalContext) -> list[Finding]:
    if plan.verification:
        return []
    return [_f("verification-required", lp, "/verification" if "/verification" in
               lp.loaded.source.lines else "", "the plan has no verification checks")]


def check_in_maintenance(lp: LoadedPlan, plan: ChangePlan, ctx: EvalContext) -> list[Finding]:
    if plan.is_emergency or not ctx.config.windows:
        return []
    from changeguard import timewin

    w = plan.window
    if timewin.containing(ctx.config.windows, w.start, w.end, ctx.config.timezone) is not None:
        return []
    nxt = timewin.occurrences(ctx.config.windows, w.start - timedelta(days=1),
                              w.start + timedelta(days=15), ctx.config.timezone)
    names = ", ".join(f"{o.name} {_ts(o.local_start)}–{_ts(o.local_end)}"
                      for o in nxt[:2])
    return [_f("window-in-maintenance", lp, "/window",
               f"window {_ts(w.start)}–{_ts(w.end)} is not inside a maintenance "
               f"window" + (f" (nearest: {names})" if names else ""))]


def check_not_frozen(lp: LoadedPlan, plan: ChangePlan, ctx: EvalContext) -> list[Finding]:
    from changeguard import timewin

    hits = timewin.overlapping_freezes(ctx.config.freezes, plan.window.start, plan.window.end)
    sev = Severity.WARN if plan.is_emergency else Severity.DENY
    return [_f("window-not-frozen", lp, "/window",
               f"window overlaps freeze {fz.name!r} ({_ts(fz.start)}–{_ts(fz.end)}"
               + (f": {fz.reason}" if fz.reason else "") + ")", sev) for fz in hits]


def check_lead_time(lp: LoadedPlan, plan: ChangePlan, ctx: EvalContext) -> list[Finding]:
    need = ctx.config.lead_time_hours
    if plan.is_emergency or need <= 0:
        return []
    at = ctx.submitted_at or ctx.now
    when = "submission" if ctx.submitted_at else "now"
    have = (plan.window.start - at).total_seconds() / 3600
    if have >= need:
        return []
    if have <= 0:  # "0.0 h after submission" said nothing useful about a past window
        state = "ended" if plan.window.end <= at else "started"
        what = (f"window already {state} ({_ts(plan.window.start)}–{_ts(plan.window.end)}, "
                f"{when} is {_ts(at)})")
    else:
        what = (f"window starts {have:.1f} h after submission" if ctx.submitted_at
                else f"window starts in {have:.1f} h")
    return [_f("window-lead-time", lp, "/window/start", f"{what}; lead time is {need:g} h")]


def check_not_past(lp: LoadedPlan, plan: ChangePlan, ctx: EvalContext) -> list[Finding]:
    if plan.window.end > ctx.now:
        return []
    return [_f("window-not-past", lp, "/window/end",
               f"window ended at {_ts(plan.window.end)}, before now "
               f"({_ts(ctx.now)})")]


def step_intervals(plan: ChangePlan) -> list[tuple[datetime, datetime]]:
    """Steps run in order from the window start, each for its minutes (SPEC §11)."""
    out: list[tuple[datetime, datetime]] = []
    t = plan.window.start
    for s in plan.steps:
        end = t + timedelta(minutes=s.minutes)
        out.append((t, end))
        t = end
    return out


def check_disruptive_steps(lp: LoadedPlan, plan: ChangePlan, ctx: EvalContext) -> list[Finding]:
    from changeguard import timewin

    findings: list[Finding] = []
    cfg = ctx.config
    for i, (step, (start, end)) in enumerate(zip(plan.steps, step_intervals(plan), strict=True)):
        if step.kind not in DISRUPTIVE_KINDS:
            continue
        label = step.id or f"#{i + 1}"
        if end > plan.window.end:
            findings.append(_f("disruptive-steps-in-window", lp, f"/steps/{i}",
                               f"{step.kind.value} step {label} ends at {_ts(end)}, after "
                               f"the window closes ({_ts(plan.window.end)})"))
        elif (not plan.is_emergency and cfg.windows
              and timewin.containing(cfg.windows, start, end, cfg.timezone) is None):
            findings.append(_f("disruptive-steps-in-window", lp, f"/steps/{i}",
                               f"{step.kind.value} step {label} ({_ts(start)}–"
                               f"{_ts(end)}) runs outside any maintenance window; "
                               "declare an emergency change if it cannot wait"))
    return findings


def check_step_targets(lp: LoadedPlan, plan: ChangePlan, topologies: Sequence[Topology]
                       ) -> list[Finding]:
    """`plan-step-targets`: each disruptive target names a member, host or topology.

    A typo (`db-1` for `db1`) would otherwise match nothing and silently switch the
    blast-radius check off for that step (SPEC §5). Callers pass the plan's topologies
    only when its files hold some.
    """
    if not topologies:
        return []
    from changeguard.replication.model import targeted

    known = _target_names(topologies)
    out: list[Finding] = []
    for i, step in enumerate(plan.steps):
        if step.kind not in DISRUPTIVE_KINDS:
            continue
        for j, target in enumerate(step.targets):
            if target in known or any(targeted(t, [target]) for t in topologies):
                continue
            from difflib import get_close_matches  # error paths only: not at start-up

            close = get_close_matches(target, sorted(known), n=1)
            label = step.id or f"#{i + 1}"
            f = _f("plan-step-targets", lp, f"/steps/{i}/targets/{j}",
                   f"{step.kind.value} step {label}: target {target!r} is no member, host or "
                   "topology of the plan's replication topologies"
                   + (f" (did you mean {close[0]!r}?)" if close else ""))
            out.append(f)
    return out


def _target_names(topologies: Sequence[Topology]) -> set[str]:
    """Every spelling a step target may use: topology names, members, hosts."""
    names: set[str] = set()
    for t in topologies:
        names |= {t.name, t.identity}
        for n in t.nodes:
            names |= {n.name, f"{t.identity}/{n.name}", f"{t.name}/{n.name}"}
            if n.host:
                names.add(n.host)
    return names


PLAN_CHECKS: dict[str, Check] = {
    "rollback-required": check_rollback_required,
    "rollback-tested": check_rollback_tested,
    "rollback-fits-window": check_rollback_fits,
    "verification-required": check_verification,
    "window-in-maintenance": check_in_maintenance,
    "window-not-frozen": check_not_frozen,
    "window-lead-time": check_lead_time,
    "window-not-past": check_not_past,
    "disruptive-steps-in-window": check_disruptive_steps,
}
