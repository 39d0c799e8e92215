"""`redundancy-blast-radius`: who is out of service at each moment of a plan (SPEC §11).

Steps run sequentially from the window start; restart/stop/storage/failover/resync take
their targets (node names, hosts, or a whole topology by name) out of service for their
minutes. A moment that leaves a redundancy group with no data-bearing member, or takes
its primary down without an earlier `failover` step naming the new primary, is denied.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from changeguard.findings import Finding
from changeguard.replication.model import Node, StepLike, Topology, targeted
from changeguard.rules import finding

RULE = "redundancy-blast-radius"
DISRUPTIVE = frozenset({"restart", "stop", "storage", "failover", "resync"})


def check_blast_radius(steps: Sequence[StepLike], topologies: Sequence[Topology],
                       plan_file: str, step_lines: Sequence[int | None] = ()
                       ) -> list[Finding]:
    """Findings for every step that empties a redundancy group or drops its primary."""
    out: list[Finding] = []
    for t in topologies:
        out.extend(_walk(t, steps, plan_file, step_lines))
    return out


def _step_name(step: StepLike, i: int) -> str:
    return f"step {step.id}" if step.id else f"step {i + 1}"


@dataclass(frozen=True)
class Moment:
    """One disruptive step as it lands on one topology (the walk every user shares)."""

    index: int  # position in the plan's steps
    step: StepLike
    start: float  # minutes from the window start
    end: float
    out: frozenset[str]  # members out of service meanwhile
    primaries: frozenset[str]  # primary while the step runs (after a failover: the new one)
    unpromotable: bool  # a failover none of whose targets can become primary


def walk(t: Topology, steps: Sequence[StepLike]) -> Iterator[Moment]:
    """Steps run in order from the window start; each disruptive step that hits `t`."""
    primaries = frozenset(n.name for n in t.primaries())
    clock = 0.0
    for i, step in enumerate(steps):
        start, clock = clock, clock + max(step.minutes, 0.0)
        if step.kind not in DISRUPTIVE:
            continue
        out = frozenset(n.name for n in targeted(t, step.targets))
        if not out:
            continue
        stuck = False
        if step.kind == "failover":
            new = _after_failover(t, step.targets, set(primaries))
            stuck = new is None
            primaries = primaries if new is None else frozenset(new)
        yield Moment(i, step, start, clock, out, primaries, stuck)


def _walk(t: Topology, steps: Sequence[StepLike], plan_file: str,
          step_lines: Sequence[int | None]) -> Iterator[Finding]:
    data = {n.name for n in t.nodes if n.data_bearing}
    if not data:
        return
    for m in walk(t, steps):
        step, i = m.step, m.index
        line = step_lines[i] if i < len(step_lines) else None
        when = f"+{_m(m.start)}..+{_m(m.end)} min"
        where = f"{_step_name(step, i)} ({step.kind} {', '.join(step.targets)}, {when})"
        if data <= m.out:
            yield finding(RULE, f"{where} takes every data-bearing member of {t.name} out of "
                          f"service ({', '.join(sorted(data & m.out))})", plan_file, line,
                          f"/steps/{i}")
        if step.kind == "failover":
            if m.unpromotable:
                yield finding(RULE, f"{where} names no member of {t.name} that can become "
                              "primary (nofailover, priority 0 or not data-bearing)", plan_file,
                              line, f"/steps/{i}", "name the new primary in the failover step")
        elif m.primaries and m.primaries <= m.out:
            yield finding(RULE, f"{where} takes primary {', '.join(sorted(m.primaries))} of "
                          f"{t.name} out of service with no earlier failover step naming a "
                          "new primary", plan_file, line, f"/steps/{i}",
                          "add a `failover` step before it whose targets name the new primary")


def _after_failover(t: Topology, targets: Sequence[str], primaries: set[str]
                    ) -> set[str] | None:
    """The failover's first promotable target becomes primary (None: nobody can)."""
    hit = targeted(t, targets)
    for n in hit:
        if n.name not in primaries and _promotable(n):
            return {n.name}
    # a failover naming only the current primary keeps it (e.g. a no-op switchover check)
    return primaries if all(n.name in primaries for n in hit) else None


def _promotable(n: Node) -> bool:
    """Patroni `nofailover` and MongoDB priority 0 members never become primary."""
    return n.data_bearing and "nofailover" not in n.tags and n.priority != 0


def _m(minutes: float) -> str:
    return str(int(minutes)) if float(minutes).is_integer() else f"{minutes:g}"
