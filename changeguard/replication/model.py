"""The replication topology model every format maps into (SPEC §6, issue 4).

Frozen slotted dataclasses, stdlib only: the hook's native-topology path imports this
module, so pydantic/jsonschema must never appear here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (hook start-up)
if TYPE_CHECKING:
    from typing import Literal, Protocol

    Role = Literal["primary", "replica", "arbiter", "sentinel", "witness"]
else:  # protocols are for the type checker; at run time they are plain classes
    Protocol = object

ENGINES = ("postgresql", "mysql", "mariadb", "mongodb", "redis", "generic")
ROLES = ("primary", "replica", "arbiter", "sentinel", "witness")
NON_DATA_ROLES = frozenset({"arbiter", "sentinel", "witness"})

ParamValue = str | int | float | bool | None


class StepLike(Protocol):
    """What blast-radius and transition checks need from a plan step."""

    @property
    def id(self) -> str | None: ...
    @property
    def kind(self) -> str: ...
    @property
    def targets(self) -> list[str]: ...
    @property
    def minutes(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Node:
    """One member of a replication topology.

    `upstream` is a node name of the same topology, or an unresolved reference
    ("host", "host:port") that `Topology.resolve` maps onto a member by address.
    `lines` maps a field name ("role", "upstream", "server_id", "params.read_only", ...)
    to the line that set it; `line` is the line of the member itself.
    """

    name: str
    role: str
    host: str | None = None
    port: int | None = None
    zone: str | None = None
    upstream: str | None = None
    sync: bool | None = None
    server_id: int | None = None
    priority: float | None = None
    votes: int | None = None
    params: Mapping[str, ParamValue] = field(default_factory=dict)
    tags: frozenset[str] = frozenset()  # nofailover, nosync, noloadbalance, hidden, ...
    file: str | None = None
    line: int | None = None
    lines: Mapping[str, int] = field(default_factory=dict)
    synthetic: bool = False  # synthesised from a declared instance count (operator CRs)
    external: bool = False  # a voting member managed outside this file (e.g. externalNodes)
    pointer: str | None = None  # JSON pointer of the member in its document, if known
    # fields set in another file than the member's (a CHANGE MASTER in a .sh, issue 16.9)
    field_files: Mapping[str, str] = field(default_factory=dict)
    # adapters: model field ("upstream", "params.x", "" = the member) -> JSON pointer of the
    # document field that set it (Patroni `upstream` is `/tags/replicatefrom`, issue 16.9)
    pointers: Mapping[str, str] = field(default_factory=dict)

    @property
    def data_bearing(self) -> bool:
        """Arbiters, sentinels and witnesses hold no data."""
        return self.role not in NON_DATA_ROLES

    @property
    def voting_weight(self) -> int:
        """Votes in an election (MongoDB default 1)."""
        return 1 if self.votes is None else self.votes

    def line_of(self, key: str) -> int | None:
        """Line of field `key`, else the member's own line."""
        return self.lines.get(key, self.line)

    def file_of(self, key: str | None = None) -> str | None:
        """File that set field `key` (the member's own file unless set elsewhere)."""
        return self.field_files.get(key, self.file) if key else self.file

    def pointer_of(self, key: str | None = None) -> str | None:
        """JSON pointer of the member (or of one of its fields), if known."""
        if self.pointers:  # an adapter's map: the field that set it, else the member
            return self.pointers.get(key or "", self.pointers.get(""))
        if self.pointer is None:
            return None
        return self.pointer if key is None else f"{self.pointer}/{key.replace('.', '/')}"

    def param(self, key: str) -> ParamValue:
        """A parameter by name; `-` and `_` are equivalent (MySQL option spelling)."""
        if key in self.params:
            return self.params[key]
        alt = key.replace("_", "-") if "_" in key else key.replace("-", "_")
        return self.params.get(alt)

    def param_line(self, key: str) -> int | None:
        """Line of parameter `key` (either spelling), else the member's line."""
        for k in (key, key.replace("_", "-"), key.replace("-", "_")):
            if f"params.{k}" in self.lines:
                return self.lines[f"params.{k}"]
        return self.line


@dataclass(frozen=True, slots=True)
class SyncSettings:
    """Synchronous replication settings of a topology (all optional).

    mode: off | on | strict | any | first | quorum | semi (adapter-normalised, lower case)
    count: synchronous standbys a commit waits for (Patroni synchronous_node_count,
    PostgreSQL `ANY n (...)`, CNPG `number`); min_sync/max_sync: CNPG legacy fields;
    standby_names: nodes named as synchronous standbys.
    """

    mode: str | None = None
    count: int | None = None
    min_sync: int | None = None
    max_sync: int | None = None
    standby_names: tuple[str, ...] = ()
    file: str | None = None
    line: int | None = None
    lines: Mapping[str, int] = field(default_factory=dict)
    pointers: Mapping[str, str] = field(default_factory=dict)  # setting -> JSON pointer

    def line_of(self, key: str) -> int | None:
        """Line of setting `key`, else the line of the sync block."""
        return self.lines.get(key, self.line)

    def pointer_of(self, key: str) -> str | None:
        """JSON pointer of setting `key`, else of the setting that implies it (mode)."""
        return self.pointers.get(key, self.pointers.get("mode"))


@dataclass(frozen=True, slots=True)
class MemberCount:
    """A declared member count of an operator CR, with the minimum it must reach.

    Voters counted = declared + extra_voters (arbiters, external voting nodes).
    """

    label: str  # e.g. "spec.instances", "replsets[rs0].size"
    declared: int
    minimum: int
    extra_voters: int = 0
    file: str | None = None
    line: int | None = None
    owner: str | None = None  # the resource declaring it, when not the topology (issue 16.6)
    pointer: str | None = None  # JSON pointer of the count in its document (issue 16.9)

    @property
    def voters(self) -> int:
        """Members that count towards the minimum."""
        return self.declared + self.extra_voters


@dataclass(frozen=True, slots=True)
class Settings:
    """Cluster-wide settings some invariants need (None = not declared)."""

    ttl: float | None = None
    loop_wait: float | None = None
    retry_timeout: float | None = None
    sentinel_quorum: int | None = None
    sentinel_master: str | None = None
    sentinel_owner: str | None = None  # the resource declaring the quorum (RedisSentinel CR)
    extra: Mapping[str, ParamValue] = field(default_factory=dict)
    file: str | None = None
    lines: Mapping[str, int] = field(default_factory=dict)
    pointers: Mapping[str, str] = field(default_factory=dict)  # setting -> JSON pointer

    def line_of(self, key: str) -> int | None:
        """Line of setting `key`."""
        return self.lines.get(key)


@dataclass(frozen=True, slots=True)
class Topology:
    """One replication group: a cluster identity (or a directory) and its members.

    upstream_cluster: identity of the cluster this whole cluster replicates from (replica
    / standby clusters); primary_cluster: the declared primary of a distributed set
    (CNPG `replica.primary`, mariadb-operator `multiCluster.primary`). Both resolve
    among all topologies of one run (grouping.link).
    """

    name: str
    engine: str
    format: str
    nodes: tuple[Node, ...] = ()
    cluster: str | None = None
    kind: str | None = None  # e.g. "Cluster", "PerconaXtraDBCluster", "ReplicationTopology"
    files: tuple[str, ...] = ()
    co_masters: tuple[tuple[str, ...], ...] = ()
    sync: SyncSettings | None = None
    settings: Settings = field(default_factory=Settings)
    sizes: tuple[MemberCount, ...] = ()
    upstream_cluster: str | None = None
    primary_cluster: str | None = None
    file: str | None = None
    line: int | None = None
    lines: Mapping[str, int] = field(default_factory=dict)
    # other clusters of one distributed set (CNPG replica.source/primary, mariadb
    # multiCluster.members): they join one family for cross-cluster checks, no edge
    peer_clusters: tuple[str, ...] = ()
    # where cluster references resolve: a CR namespace and the Kustomize directory (a
    # folder holding a kustomization) it was found under; '' = the whole run (issue 16.7)
    scope: str = ""
    # topology field ("upstream_cluster", "primary_cluster") -> JSON pointer (issue 16.9)
    pointers: Mapping[str, str] = field(default_factory=dict)
    # lookup indexes built once: resolve() runs per member, and topologies may be huge
    _by_name: dict[str, Node] = field(init=False, repr=False, compare=False,
                                      default_factory=dict)
    _by_host: dict[str, list[Node]] = field(init=False, repr=False, compare=False,
                                            default_factory=dict)

    def __post_init__(self) -> None:
        by_name: dict[str, Node] = {}
        by_host: dict[str, list[Node]] = {}
        for n in self.nodes:
            by_name.setdefault(n.name, n)
            if n.host is not None:
                by_host.setdefault(normalise_host(n.host), []).append(n)
        object.__setattr__(self, "_by_name", by_name)
        object.__setattr__(self, "_by_host", by_host)

    @property
    def identity(self) -> str:
        """The cluster identity used for cross-cluster references."""
        return self.cluster or self.name

    def line_of(self, key: str) -> int | None:
        """Line of topology field `key`, else the topology's own line."""
        return self.lines.get(key, self.line)

    def node(self, name: str) -> Node | None:
        """The member called `name` (the first, if names repeat)."""
        return self._by_name.get(name)

    def resolve(self, ref: str) -> Node | None:
        """The member a reference names: its name, `host:port`, or a unique host."""
        by_name = self._by_name.get(ref)
        if by_name is not None:
            return by_name
        host, port = split_address(ref)
        hits = [n for n in self._by_host.get(normalise_host(host), [])
                if port is None or n.port is None or n.port == port]
        if port is not None:
            exact = [n for n in hits if n.port == port]
            hits = exact or hits
        return hits[0] if len(hits) == 1 else None

    def primaries(self) -> list[Node]:
        """Members whose role is primary."""
        return [n for n in self.nodes if n.role == "primary"]

    def co_master_set(self, name: str) -> tuple[str, ...] | None:
        """The declared co-master set containing `name`."""
        for group in self.co_masters:
            if name in group:
                return group
        return None


_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1", "ip6-localhost"})


def normalise_host(host: str) -> str:
    """Lower-case host; every loopback spelling is the same machine."""
    h = host.strip().strip("[]").lower().rstrip(".")
    if h in _LOOPBACK or h.startswith("127."):
        return "127.0.0.1"
    return h


def same_host(a: str, b: str) -> bool:
    """True when two host spellings name one machine."""
    return normalise_host(a) == normalise_host(b)


def split_address(ref: str) -> tuple[str, int | None]:
    """`host:port`, `[v6]:port` or `host` → (host, port)."""
    ref = ref.strip()
    if ref.startswith("["):
        host, _, rest = ref[1:].partition("]")
        port = rest.lstrip(":")
        return host, int(port) if _is_port(port) else None
    if ref.count(":") == 1:
        host, _, port = ref.partition(":")
        if _is_port(port):
            return host, int(port)
    return ref, None


def _is_port(text: str) -> bool:
    # str.isdigit accepts '²', which int() rejects
    return text.isascii() and text.isdigit()


def targeted(t: Topology, targets: Sequence[str]) -> list[Node]:
    """Members a step's targets name: by name, `topology/name`, host, or the topology."""
    hit: list[Node] = []
    for n in t.nodes:
        for target in targets:
            if target in (t.name, t.identity) or target in (n.name, f"{t.identity}/{n.name}",
                                                             f"{t.name}/{n.name}") or (
                    n.host is not None and same_host(target, n.host)):
                hit.append(n)
                break
    return hit


def gtid_mode(n: Node) -> str | None:
    """Normalised gtid_mode of a member (None when not set)."""
    v = n.param("gtid_mode")
    if v is None:
        return None
    text = ("on" if v else "off") if isinstance(v, bool) else str(v).strip().lower()
    return {"1": "on", "0": "off"}.get(text, text)


def find_cycles(edges: dict[str, str]) -> list[list[str]]:
    """Every cycle of a functional graph (each node has at most one out-edge)."""
    state: dict[str, int] = {}
    cycles: list[list[str]] = []
    for start in sorted(edges):
        path: list[str] = []
        node: str | None = start
        while node is not None and node not in state:
            state[node] = 1
            path.append(node)
            node = edges.get(node)
        if node is not None and state.get(node) == 1 and node in path:
            cycles.append(path[path.index(node):])
        for p in path:
            state[p] = 2
    return cycles
