"""Transition rules from the current (HEAD) to the proposed topology (SPEC §6).

MongoDB changes at most one voting member per reconfig; MySQL gtid_mode moves one step
at a time (OFF → OFF_PERMISSIVE → ON_PERMISSIVE → ON); the only synchronous standby may
not be removed in the same change that restarts the primary.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from changeguard.findings import Finding
from changeguard.replication.model import Node, StepLike, Topology, gtid_mode, targeted
from changeguard.rules import finding

RULE = "replication-transition"
GTID_STEPS = ("off", "off_permissive", "on_permissive", "on")
_RESTARTS = frozenset({"restart", "stop"})


def pair(before: Sequence[Topology], after: Sequence[Topology]
         ) -> list[tuple[Topology, Topology]]:
    """Match each proposed topology with its current version by identity (then name).

    Identity is per scope; when several documents define one identity (sample CRs,
    issue 16.7) each is matched with the definition of its own file.
    """
    old: dict[tuple[str, str, str], list[Topology]] = {}
    for t in before:
        old.setdefault((t.format, t.scope, t.identity), []).append(t)
    out: list[tuple[Topology, Topology]] = []
    for t in after:
        found = old.get((t.format, t.scope, t.identity), [])
        if len(found) > 1:  # else the last, as when identities were unique per run
            found = [b for b in found if b.file == t.file] or found[-1:]
        if len(found) == 1:
            out.append((found[0], t))
    return out


def check_transitions(before: Sequence[Topology], after: Sequence[Topology],
                      steps: Sequence[StepLike] = (), plan_file: str | None = None,
                      step_lines: Sequence[int | None] = ()) -> list[Finding]:
    """Every transition finding for HEAD → proposed."""
    out: list[Finding] = []
    for b, a in pair(before, after):
        if a.engine == "mongodb":
            out.extend(_mongodb_voters(b, a))
        if a.engine == "mysql":
            out.extend(_gtid_steps(b, a))
        out.extend(_sync_removed_with_restart(b, a, steps, plan_file, step_lines))
    return out


def _voters(t: Topology) -> set[str]:
    return {n.name for n in t.nodes if n.voting_weight > 0}


def _moved(b: Topology, a: Topology, names: set[str]) -> list[str]:
    """Voters kept by name whose address changed: a different member to the election."""
    out: list[str] = []
    for name in sorted(names):
        x, y = b.node(name), a.node(name)
        if x is not None and y is not None and (x.host, x.port) != (y.host, y.port):
            out.append(name)
    return out


def _mongodb_voters(b: Topology, a: Topology) -> Iterator[Finding]:
    old, new = _voters(b), _voters(a)
    added, removed = sorted(new - old), sorted(old - new)
    moved = _moved(b, a, old & new)
    if len(added) + len(removed) + len(moved) <= 1:
        return
    parts = ([f"added {', '.join(added)}"] if added else []) + (
        [f"removed {', '.join(removed)}"] if removed else []) + (
        [f"moved {', '.join(moved)}"] if moved else [])
    last = (added or moved)[-1] if added or moved else None
    anchor = a.node(last) if last else None
    line = anchor.line_of("votes") if anchor else a.line_of("nodes")
    count = len(added) + len(removed) + len(moved)
    yield finding(RULE, f"replica set {a.name}: {count} voting members change in one "
                  f"reconfig ({'; '.join(parts)}); MongoDB allows one at a time",
                  anchor.file if anchor and anchor.file else a.file, line,
                  hint="split the change: one voting member per reconfig")


def _gtid_steps(b: Topology, a: Topology) -> Iterator[Finding]:
    for n in a.nodes:
        old = b.node(n.name)
        if old is None:
            continue
        before, after = gtid_mode(old) or "off", gtid_mode(n) or "off"
        if before not in GTID_STEPS or after not in GTID_STEPS:
            continue
        jump = abs(GTID_STEPS.index(after) - GTID_STEPS.index(before))
        if jump > 1:
            yield finding(RULE, f"{n.name}: gtid_mode {before.upper()} -> {after.upper()} "
                          f"skips {jump - 1} step(s); it moves one step at a time "
                          "(OFF, OFF_PERMISSIVE, ON_PERMISSIVE, ON)", n.file or a.file,
                          n.param_line("gtid_mode"), n.pointer_of("params.gtid_mode"),
                          "change gtid_mode one step per change, on every server")


def sync_standbys(t: Topology) -> set[str]:
    """Members that are synchronous standbys (flagged, or named in the sync settings)."""
    if t.sync is not None and t.sync.mode == "off":
        return set()
    named = set(t.sync.standby_names) if t.sync else set()
    return {n.name for n in t.nodes if n.data_bearing and n.role != "primary"
            and (n.sync or n.name in named)}


def _sync_removed_with_restart(b: Topology, a: Topology, steps: Sequence[StepLike],
                               plan_file: str | None, step_lines: Sequence[int | None]
                               ) -> Iterator[Finding]:
    old = sync_standbys(b)
    if len(old) != 1:
        return
    standby = next(iter(old))
    if standby in sync_standbys(a):
        return
    primaries = [p for p in b.primaries()]
    for i, step in enumerate(steps):
        if step.kind in _RESTARTS and _hits_any(b, step.targets, primaries):
            line = step_lines[i] if i < len(step_lines) else None
            yield finding(RULE, f"{a.name}: the only synchronous standby {standby} is removed "
                          f"in the same change that {step.kind}s primary "
                          f"{', '.join(p.name for p in primaries)} (step "
                          f"{step.id or i + 1})", plan_file or a.file, line,
                          f"/steps/{i}" if plan_file else None,
                          "restart the primary in one change, remove the standby in another")
            return


def _hits_any(t: Topology, targets: Sequence[str], nodes: list[Node]) -> bool:
    names = {n.name for n in nodes}
    return any(n.name in names for n in targeted(t, targets))
