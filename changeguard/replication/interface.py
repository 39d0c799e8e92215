"""The adapter extension point: real config formats → Topology (SPEC §6).

Stdlib only (the hook imports it). An adapter receives every file of one format in a
run and splits them into topologies by the cluster identity the format carries
(Patroni scope, CR namespace/name, Sentinel master name, replica-set `_id`), else by
directory (`changeguard.replication.grouping.by_directory`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from changeguard.findings import Finding
from changeguard.replication.model import Topology

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (hook start-up)
if TYPE_CHECKING:
    from typing import Protocol
else:  # a protocol is for the type checker; at run time it is a plain class
    Protocol = object


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One config file: repo-relative '/'-separated path and its bytes."""

    path: str
    data: bytes


@dataclass
class AdapterResult:
    """What an adapter read: topologies, plus findings (`config-schema`, ...)."""

    topologies: list[Topology] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


class Adapter(Protocol):
    """Reads one real format (patroni, mysql, ...) into the model."""

    format: str

    def detect(self, f: SourceFile) -> bool:
        """True when `f` looks like this format (for `format: auto`)."""
        ...

    def parse(self, files: Sequence[SourceFile]) -> AdapterResult:
        """Every file of this format in the run → topologies and findings."""
        ...
