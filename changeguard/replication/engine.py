"""Orchestration: load files, judge topologies, transitions and plan steps (SPEC §5, §6).

The one module that knows every part: load.py reads, invariants.py and grouping.py judge
one run, transition.py and blast.py judge a plan. Those import only the model and the
rule registry, so imports point one way (issue 13: no cycles).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from changeguard.findings import Finding
from changeguard.replication.grouping import check_links
from changeguard.replication.invariants import check_topology
from changeguard.replication.load import CheckResult, Reader, load
from changeguard.replication.mapping import FileMapping
from changeguard.replication.model import StepLike, Topology


def check_all(topologies: Sequence[Topology]) -> list[Finding]:
    """Per-topology invariants plus cross-cluster checks over one run."""
    out: list[Finding] = []
    for t in topologies:
        out.extend(check_topology(t))
    out.extend(check_links(topologies))
    return out


def judge(result: CheckResult) -> CheckResult:
    """Add the invariant findings of every topology `result` holds (in place)."""
    result.findings.extend(check_all(result.topologies))
    return result


def check_files(repo: Path, files: Sequence[str], mappings: Sequence[FileMapping],
                read: Reader | None = None, *, explicit: bool = False,
                raise_errors: bool = True, complete_groups: bool = False) -> CheckResult:
    """Validate config files by the mapping and judge every topology they describe.

    Unreadable or malformed input (exit 2) is raised after every file was looked at,
    unless `raise_errors=False`, in which case it is left in `result.errors`.
    """
    result = judge(load(repo, files, mappings, read, explicit=explicit,
                        complete_groups=complete_groups))
    if raise_errors and result.errors:
        raise result.errors[0]
    return result


def check_transitions(before: Sequence[Topology], after: Sequence[Topology],
                      steps: Sequence[StepLike] = (), plan_file: str | None = None,
                      step_lines: Sequence[int | None] = ()) -> list[Finding]:
    """Transition rules from HEAD (`before`) to proposed (`after`)."""
    from changeguard.replication.transition import check_transitions as run

    return run(before, after, steps, plan_file, step_lines)


def check_blast_radius(steps: Sequence[StepLike], topologies: Sequence[Topology],
                       plan_file: str, step_lines: Sequence[int | None] = ()
                       ) -> list[Finding]:
    """`redundancy-blast-radius` findings for a plan's steps."""
    from changeguard.replication.blast import check_blast_radius as run

    return run(steps, topologies, plan_file, step_lines)


__all__ = ["check_all", "check_blast_radius", "check_files", "check_transitions", "judge"]
