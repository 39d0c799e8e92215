"""Patroni member YAML files → one topology per `scope` (SPEC §6 `patroni`).

Patroni elects its leader at run time, so the model's primary is the member that would
win an election among eligible members (no `nofailover`), those without `replicatefrom`
first, highest `failover_priority` next, then by name; the others replicate from it unless
`tags.replicatefrom` names a cascading upstream. A `replicatefrom` tag only says where a
replica streams from: such a member still runs for leader (issue 16.4). Before Patroni 1.0
the member name lived under `postgresql.name` (issue 16.3).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from changeguard.errors import InputError
from changeguard.loader import JSONValue, Loaded
from changeguard.replication.adapters._common import (
    as_bool,
    as_dict,
    as_float,
    as_int,
    basename,
    dirname,
    frozen,
    get,
    line_of,
    pointer,
    scalar,
    schema_finding,
    standalone,
    yaml_docs,
    yaml_docs_lenient,
)
from changeguard.replication.interface import AdapterResult, SourceFile
from changeguard.replication.model import (
    Node,
    ParamValue,
    Settings,
    SyncSettings,
    Topology,
    split_address,
)

FORMAT = "patroni"
_TIMING_DEFAULTS = {"ttl": 30.0, "loop_wait": 10.0, "retry_timeout": 10.0}
_BOOL_TAGS = ("nofailover", "nosync", "noloadbalance", "clonefrom", "nostream")


@dataclass
class _Member:
    """One Patroni member's config document."""

    file: str
    doc: Loaded
    node: Node
    dcs: dict[str, JSONValue] = field(default_factory=dict)


def is_patroni(data: JSONValue) -> bool:
    """A Patroni config has `scope` plus a `postgresql` or `restapi` section."""
    return isinstance(data, dict) and "scope" in data and (
        isinstance(data.get("postgresql"), dict) or isinstance(data.get("restapi"), dict)
        or isinstance(data.get("bootstrap"), dict))


def _patroni_like(data: JSONValue) -> bool:
    """Patroni-shaped even without `scope` (reported): `name` plus a `postgresql` section."""
    pg = data.get("postgresql") if isinstance(data, dict) else None
    return is_patroni(data) or (isinstance(data, dict) and isinstance(pg, dict)
                                and ("name" in data or "name" in pg))


class PatroniAdapter:
    """Reads Patroni member configs (patroni.yml, postgresN.yml)."""

    format = FORMAT

    def detect(self, f: SourceFile) -> bool:
        """True for YAML whose first document looks like a Patroni config."""
        try:
            docs = yaml_docs(f)
        except InputError:  # detection never fails; parse reports the error
            return False
        return bool(docs) and is_patroni(docs[0].data)

    def parse(self, files: Sequence[SourceFile]) -> AdapterResult:
        """Members grouped by (namespace, scope) → topologies."""
        result = AdapterResult()
        groups: dict[str, list[_Member]] = {}
        for f in sorted(files, key=lambda f: f.path):
            for doc in yaml_docs_lenient(f):
                if not _patroni_like(doc.data):
                    continue  # a supporting file (haproxy.cfg, README) mapped to patroni
                member = _member(f.path, doc, result)
                key = _scope_key(as_dict(doc.data), f.path)
                groups.setdefault(key, []).append(member)
        for key, members in groups.items():
            result.topologies.append(standalone(_topology(key, members)))
        return result


def _scope_key(data: dict[str, JSONValue], path: str) -> str:
    scope = data.get("scope")
    if scope is None:
        return "dir:" + dirname(path)
    ns = data.get("namespace")
    ns_text = str(ns).strip("/") if ns is not None else "service"
    return f"{ns_text}/{scope}"


def _member(path: str, doc: Loaded, result: AdapterResult) -> _Member:
    data = as_dict(doc.data)
    if "scope" not in data:
        result.findings.append(schema_finding(
            "Patroni config has no `scope`: members cannot be grouped into a cluster",
            path, 1, "add `scope: <cluster name>` (the same in every member file)"))
    pg = as_dict(data.get("postgresql"))
    name_path = ("name",) if data.get("name") is not None else ("postgresql", "name")
    name = data.get("name") if data.get("name") is not None else pg.get("name")
    address = pg.get("connect_address") or pg.get("listen")
    host, port = split_address(str(address).split(",")[0]) if address else (None, None)
    rest = get(data, "restapi", "connect_address")
    if host is None and rest:  # the REST API runs beside PostgreSQL: same machine
        host = split_address(str(rest))[0]
    if host in ("0.0.0.0", "*", "::"):
        host = None
    tags = as_dict(data.get("tags"))
    dcs = as_dict(get(data, "bootstrap", "dcs"))
    params: dict[str, ParamValue] = {}
    # model field -> document path; the member's own `postgresql.parameters` override
    # the cluster-wide `bootstrap.dcs` ones, for the value and for where it points
    paths: dict[str, tuple[str, ...]] = {}
    for at in (("bootstrap", "dcs", "postgresql"), ("postgresql",)):
        for k, v in as_dict(get(data, *at, "parameters")).items():
            params[k] = scalar(v)
            paths[f"params.{k}"] = (*at, "parameters", k)
    flags = {t for t in _BOOL_TAGS if as_bool(tags.get(t))}
    prio = as_int(tags.get("failover_priority"))
    if prio is not None and prio <= 0:
        flags.add("nofailover")
    upstream = tags.get("replicatefrom")
    paths.update(_field_paths(data, tags, name_path))
    lines = {k: line_of(doc, *at) or 1 for k, at in paths.items() if k}
    node = Node(
        name=str(name) if name is not None else basename(path).rsplit(".", 1)[0],
        role="replica", host=host, port=port,
        zone=str(tags["zone"]) if tags.get("zone") is not None else None,
        upstream=str(upstream) if upstream is not None else None,
        sync=False if "nosync" in flags else None,
        priority=float(prio) if prio is not None else None,
        params=frozen(params), tags=frozenset(flags), file=path,
        line=line_of(doc, *name_path) or 1, lines=frozen(lines),
        pointers=frozen({k: pointer(*at) for k, at in paths.items()}))
    return _Member(path, doc, node, dcs)


def _field_paths(data: dict[str, JSONValue], tags: dict[str, JSONValue],
                 name_path: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """Where each model field of a member was set (for lines and JSON pointers)."""
    paths: dict[str, tuple[str, ...]] = {"name": name_path}
    for at in (("postgresql", "connect_address"), ("postgresql", "listen"),
               ("restapi", "connect_address")):  # where `host` came from, in that order
        if get(data, *at):
            paths["host"] = at
            break
    for field_, tag in (("upstream", "replicatefrom"), ("zone", "zone"), ("sync", "nosync"),
                        ("priority", "failover_priority")):
        if tag in tags:
            paths[field_] = ("tags", tag)
    # the role is Patroni's election: a member that may not run for leader says so here
    prio = as_int(tags.get("failover_priority"))
    if as_bool(tags.get("nofailover")):
        paths["role"] = ("tags", "nofailover")
    elif prio is not None and prio <= 0:
        paths["role"] = ("tags", "failover_priority")
    return paths


def _topology(key: str, members: list[_Member]) -> Topology:
    nodes = _elect([m.node for m in members])
    first = members[0]
    scope = as_dict(first.doc.data).get("scope")
    name = str(scope) if scope is not None else key.removeprefix("dir:") or "."
    standby = _standby_cluster(members)
    return Topology(
        name=name, engine="postgresql", format=FORMAT, nodes=tuple(nodes),
        cluster=name if scope is not None else None, kind="Patroni",
        files=tuple(dict.fromkeys(m.file for m in members)),
        sync=_sync(members), settings=_settings(members), upstream_cluster=standby,
        file=first.file, line=line_of(first.doc, "scope") or 1)


def _elect(nodes: list[Node]) -> list[Node]:
    """Mark the member that would take the leader lock as primary."""
    eligible = [n for n in nodes if "nofailover" not in n.tags]
    if not eligible:
        return nodes
    leader = sorted(eligible, key=lambda n: (n.upstream is not None, -(n.priority or 0.0),
                                             n.name))[0]
    out = []
    for n in nodes:
        if n is leader:  # the leader streams from nobody: its replicatefrom is dormant
            out.append(replace(n, role="primary", upstream=None))
        elif n.upstream is None:
            out.append(replace(n, upstream=leader.name))
        else:
            out.append(n)
    return out


def _settings(members: list[_Member]) -> Settings:
    """ttl/loop_wait/retry_timeout from the member whose bootstrap.dcs is tightest."""
    best: tuple[float, Settings] | None = None
    for m in members:
        declared = {k: as_float(m.dcs.get(k)) for k in _TIMING_DEFAULTS if k in m.dcs}
        if not declared:
            continue
        values = {k: _or(declared.get(k), v) for k, v in _TIMING_DEFAULTS.items()}
        lines = {k: line_of(m.doc, "bootstrap", "dcs", k) or 1 for k in declared}
        margin = values["ttl"] - values["loop_wait"] - 2 * values["retry_timeout"]
        # undeclared values stay None: the ttl rule applies Patroni's defaults itself
        s = Settings(ttl=declared.get("ttl"), loop_wait=declared.get("loop_wait"),
                     retry_timeout=declared.get("retry_timeout"), file=m.file,
                     lines=frozen(lines), pointers=frozen(
                         {k: pointer("bootstrap", "dcs", k) for k in declared}))
        if best is None or margin < best[0]:
            best = (margin, s)
    return best[1] if best else Settings()


def _sync(members: list[_Member]) -> SyncSettings | None:
    for m in members:
        mode = m.dcs.get("synchronous_mode")
        if mode is None:
            continue
        on = as_bool(mode)
        text = "quorum" if str(mode).lower() == "quorum" else ("on" if on else "off")
        if on and as_bool(m.dcs.get("synchronous_mode_strict")):
            text = "strict"
        keys = {"mode": "synchronous_mode", "count": "synchronous_node_count",
                "strict": "synchronous_mode_strict"}
        present = {ours: k for ours, k in keys.items() if k in m.dcs}
        # keyed by the model's names: the sync count's line is its own (issue 16.9)
        lines: dict[str, int] = {ours: line_of(m.doc, "bootstrap", "dcs", k) or 1
                                 for ours, k in present.items()}
        count = as_int(m.dcs.get("synchronous_node_count"))
        if count is None and text != "off":
            count = 1
        return SyncSettings(mode=text, count=count, file=m.file,
                            line=lines["mode"], lines=frozen(lines),
                            pointers=frozen({ours: pointer("bootstrap", "dcs", k)
                                             for ours, k in present.items()}))
    return None


def _standby_cluster(members: list[_Member]) -> str | None:
    for m in members:
        sc = as_dict(m.dcs.get("standby_cluster"))
        if sc.get("host"):
            port = sc.get("port")
            return f"{sc['host']}:{port}" if port is not None else str(sc["host"])
    return None


def _or(value: float | None, default: float) -> float:
    return default if value is None else value
