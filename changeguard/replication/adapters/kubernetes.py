"""Kubernetes operator custom resources → one topology per CR (SPEC §6 `kubernetes`).

Operators create pods from a declared count, so members are synthesised (`synthetic`)
from it: the first is the primary, the others replicate from it (Galera: all are
co-masters). The declared count becomes a `MemberCount` with the operator's minimum
(PostgreSQL operators 2; Galera, group replication, MongoDB, MariaDB, Vitess and the
other operators 3). An operator's own `unsafeFlags` never lowers a minimum: only a
changeguard waiver does (SPEC §6).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from changeguard.errors import InputError
from changeguard.findings import Finding
from changeguard.loader import JSONValue, Loaded
from changeguard.replication.adapters._common import (
    as_bool,
    as_dict,
    as_float,
    as_int,
    as_list,
    frozen,
    get,
    line_of,
    scalar,
    yaml_docs,
    yaml_docs_lenient,
)
from changeguard.replication.interface import AdapterResult, SourceFile
from changeguard.replication.model import (
    MemberCount,
    Node,
    ParamValue,
    Settings,
    SyncSettings,
    Topology,
    split_address,
)
from changeguard.rules import finding as rule_finding

FORMAT = "kubernetes"
PG_MIN, HA_MIN = 2, 3
# Operator-managed MySQL/MariaDB replicas are kept read-only by the operator itself.
_OPERATOR_RO: dict[str, ParamValue] = {"read_only": "ON", "super_read_only": "ON"}


@dataclass
class _Doc:
    """One manifest document and the file it came from."""

    path: str
    doc: Loaded

    @property
    def data(self) -> dict[str, JSONValue]:
        return as_dict(self.doc.data)

    @property
    def spec(self) -> dict[str, JSONValue]:
        return as_dict(self.data.get("spec"))

    @property
    def name(self) -> str:
        return str(get(self.data, "metadata", "name") or "unnamed")

    def line(self, *path: str | int) -> int:
        return line_of(self.doc, *path) or 1

    def sline(self, *path: str | int) -> int:
        """Line of a spec field (else of the nearest ancestor that exists)."""
        return self.line("spec", *path)


Handler = Callable[[_Doc], list[Topology]]


def _group_kind(data: JSONValue) -> tuple[str, str] | None:
    if not isinstance(data, dict):
        return None
    api, kind = data.get("apiVersion"), data.get("kind")
    if not isinstance(api, str) or not isinstance(kind, str):
        return None
    return api.split("/", 1)[0].strip().lower(), kind


def recognised(data: JSONValue) -> bool:
    """True when a document is one of the operator CRs this adapter reads."""
    gk = _group_kind(data)
    return gk is not None and gk in _HANDLERS


class KubernetesAdapter:
    """Reads operator CRs from multi-document YAML."""

    format = FORMAT

    def detect(self, f: SourceFile) -> bool:
        """True when any document is a recognised operator CR."""
        try:
            return any(recognised(d.data) for d in yaml_docs(f))
        except InputError:
            return False

    def parse(self, files: Sequence[SourceFile]) -> AdapterResult:
        """Every recognised CR of every file → topologies."""
        result = AdapterResult()
        sentinels: list[_Doc] = []
        for f in sorted(files, key=lambda f: f.path):
            for doc in yaml_docs_lenient(f):
                gk = _group_kind(doc.data)
                if gk is None or gk not in _HANDLERS:
                    continue
                d = _Doc(f.path, doc)
                if gk[1] == "RedisSentinel":
                    sentinels.append(d)
                    continue
                result.topologies.extend(_HANDLERS[gk](d))
        for d in sentinels:
            result.findings.extend(_attach_sentinels(d, result.topologies))
        return result


# --- shared construction --------------------------------------------------------------


def _members(d: _Doc, prefix: str, count: int, *, start: int = 0,
             co_master: bool = False, replica_params: dict[str, ParamValue] | None = None,
             params: dict[str, ParamValue] | None = None, line: int | None = None,
             server_id_start: int | None = None, primary: bool = True) -> list[Node]:
    """Synthesise `count` pods `prefix-<i>`: one primary (or all co-masters)."""
    out: list[Node] = []
    first = f"{prefix}-{start}"
    for i in range(count):
        name = f"{prefix}-{start + i}"
        lead = primary and (i == 0 or co_master)
        p = dict(params or {})
        if not lead:
            p.update(replica_params or {})
        out.append(Node(
            name=name, role="primary" if lead else "replica",
            upstream=None if lead else first,
            server_id=server_id_start + i if server_id_start is not None else None,
            params=frozen(p), file=d.path, line=line or d.sline(), synthetic=True))
    return out


def _topology(d: _Doc, engine: str, nodes: list[Node], *, name: str | None = None,
              sizes: Sequence[MemberCount] = (), co_master: bool = False,
              settings: Settings | None = None, sync: SyncSettings | None = None,
              upstream_cluster: str | None = None, primary_cluster: str | None = None,
              upstream_line: int | None = None, primary_line: int | None = None,
              peers: Sequence[str] = (), upstream_at: tuple[str | int, ...] | None = None,
              primary_at: tuple[str | int, ...] | None = None) -> Topology:
    lines = {"upstream_cluster": upstream_line, "primary_cluster": primary_line}
    # the spec field naming the other cluster, for findings' JSON pointers (issue 16.9)
    at = {"upstream_cluster": upstream_at if upstream_cluster else None,
          "primary_cluster": primary_at if primary_cluster else None}
    return Topology(
        name=name or d.name, engine=engine, format=FORMAT, nodes=tuple(nodes),
        cluster=name or d.name, kind=str(d.data.get("kind")), files=(d.path,),
        co_masters=(tuple(n.name for n in nodes),) if co_master and len(nodes) > 1 else (),
        sync=sync, settings=settings or Settings(), sizes=tuple(sizes),
        upstream_cluster=upstream_cluster, primary_cluster=primary_cluster,
        file=d.path, line=d.line("metadata", "name"),
        lines=frozen({k: v for k, v in lines.items() if v is not None}),
        peer_clusters=tuple(dict.fromkeys(p for p in peers if p and p != (name or d.name))),
        scope=_namespace(d),
        pointers=frozen({k: _pointer("spec", *v) for k, v in at.items() if v is not None}))


def _namespace(d: _Doc) -> str:
    ns = get(d.data, "metadata", "namespace")
    return f"ns:{ns}" if isinstance(ns, str) and ns else ""


def _count(d: _Doc, label: str, path: tuple[str | int, ...], default: int,
           minimum: int, extra: int = 0) -> tuple[int, MemberCount]:
    value = as_int(get(d.spec, *path))
    n = default if value is None else value
    return n, MemberCount(label, n, minimum, extra, d.path, d.sline(*path),
                          pointer=_pointer("spec", *path))


def _pointer(*path: str | int) -> str:
    """JSON pointer of a field inside its CR document."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def _or_default(value: int | None, default: int) -> int:
    return default if value is None else value


def _params(d: _Doc, *path: str) -> dict[str, ParamValue]:
    return {k: scalar(v) for k, v in as_dict(get(d.spec, *path)).items()}


def _service_cluster(host: JSONValue) -> str | None:
    """`acid-minimal-cluster.default(.svc…)` → `acid-minimal-cluster`; IPs stay as they are."""
    if not isinstance(host, str) or not host.strip():
        return None
    h, _ = split_address(host.strip())
    if h.replace(".", "").isdigit() or ":" in h:
        return h
    return h.split(".", 1)[0]


# --- PostgreSQL operators -------------------------------------------------------------


def _cnpg(d: _Doc) -> list[Topology]:
    n, size = _count(d, "spec.instances", ("instances",), 1, PG_MIN)
    params = _params(d, "postgresql", "parameters")
    nodes = _members(d, d.name, n, start=1, params=params,
                     line=d.sline("instances"))
    replica = as_dict(d.spec.get("replica"))
    primary_cluster = upstream = None
    peers: list[str] = []
    if replica.get("primary"):
        peers = [str(replica.get(k) or "") for k in ("primary", "source")]
        primary_cluster = str(replica["primary"])
        me = str(replica.get("self") or d.name)
        if primary_cluster != me:  # a replica cluster in a distributed topology
            upstream = str(replica.get("source") or primary_cluster)
    elif as_bool(replica.get("enabled")):
        upstream = str(replica.get("source") or "") or None
    return [_topology(d, "postgresql", nodes, sizes=[size], sync=_cnpg_sync(d),
                      upstream_cluster=upstream, primary_cluster=primary_cluster,
                      upstream_line=d.sline("replica", "source"),
                      primary_line=d.sline("replica", "primary"), peers=peers,
                      upstream_at=("replica", "source" if replica.get("source") else "primary"),
                      primary_at=("replica", "primary"))]


def _cnpg_sync(d: _Doc) -> SyncSettings | None:
    sync = as_dict(get(d.spec, "postgresql", "synchronous"))
    lo, hi = as_int(d.spec.get("minSyncReplicas")), as_int(d.spec.get("maxSyncReplicas"))
    if not sync and lo is None and hi is None:
        return None
    lines = {"mode": d.sline("postgresql", "synchronous", "method"),
             "count": d.sline("postgresql", "synchronous", "number"),
             "min_sync": d.sline("minSyncReplicas"), "max_sync": d.sline("maxSyncReplicas")}
    where: dict[str, tuple[str, ...]] = {
        "mode": ("postgresql", "synchronous", "method"),
        "count": ("postgresql", "synchronous", "number"),
        "min_sync": ("minSyncReplicas",), "max_sync": ("maxSyncReplicas",)}
    method = sync.get("method")
    mode = str(method).lower() if method is not None else ("any" if hi else None)
    return SyncSettings(mode=mode, count=as_int(sync.get("number")), min_sync=lo, max_sync=hi,
                        file=d.path, line=lines["count"] if sync else lines["max_sync"],
                        lines=frozen(lines), pointers=_present(d, where))


def _present(d: _Doc, where: dict[str, tuple[str, ...]]) -> Mapping[str, str]:
    """Pointers of the spec fields `where` names that the CR declares."""
    return frozen({k: _pointer("spec", *at) for k, at in where.items()
                   if get(d.spec, *at) is not None})


def _zalando(d: _Doc) -> list[Topology]:
    n, size = _count(d, "spec.numberOfInstances", ("numberOfInstances",), 1, PG_MIN)
    params = _params(d, "postgresql", "parameters")
    nodes = _members(d, d.name, n, params=params,
                     line=d.sline("numberOfInstances"))
    patroni = as_dict(d.spec.get("patroni"))
    standby = as_dict(d.spec.get("standby"))
    return [_topology(d, "postgresql", nodes, sizes=[size],
                      settings=_patroni_settings(d, patroni, ("patroni",)),
                      sync=_patroni_sync(d, patroni, ("patroni",)),
                      upstream_cluster=_service_cluster(standby.get("standby_host")),
                      upstream_line=d.sline("standby", "standby_host"),
                      upstream_at=("standby", "standby_host"))]


def _patroni_settings(d: _Doc, patroni: dict[str, JSONValue],
                      at: tuple[str, ...], where: dict[str, tuple[str, ...]] | None = None
                      ) -> Settings:
    keys = ("ttl", "loop_wait", "retry_timeout")
    declared = {k: as_float(patroni.get(k)) for k in keys if k in patroni}
    if not declared:
        return Settings()
    paths = {k: (where or {}).get(k, (*at, k)) for k in declared}
    return Settings(ttl=declared.get("ttl"), loop_wait=declared.get("loop_wait"),
                    retry_timeout=declared.get("retry_timeout"), file=d.path,
                    lines=frozen({k: d.sline(*v) for k, v in paths.items()}),
                    pointers=frozen({k: _pointer("spec", *v) for k, v in paths.items()}))


def _patroni_sync(d: _Doc, patroni: dict[str, JSONValue],
                  at: tuple[str, ...]) -> SyncSettings | None:
    if "synchronous_mode" not in patroni:
        return None
    on = as_bool(patroni.get("synchronous_mode"))
    mode = "off" if not on else ("strict" if as_bool(patroni.get("synchronous_mode_strict"))
                                 else "on")
    count = as_int(patroni.get("synchronous_node_count"))
    lines = {"mode": d.sline(*at, "synchronous_mode"),
             "count": d.sline(*at, "synchronous_node_count")}
    return SyncSettings(mode=mode, count=count if on else None, file=d.path,
                        line=lines["mode"], lines=frozen(lines), pointers=_present(d, {
                            "mode": (*at, "synchronous_mode"),
                            "count": (*at, "synchronous_node_count")}))


def _crunchy(d: _Doc) -> list[Topology]:
    sets = [as_dict(s) for s in as_list(d.spec.get("instances"))]
    total = sum(_or_default(as_int(s.get("replicas")), 1) for s in sets)
    line = d.sline("instances", 0, "replicas") if sets else d.sline("instances")
    size = MemberCount("spec.instances[*].replicas", total, PG_MIN, 0, d.path, line)
    nodes = _members(d, d.name, total, line=line,
                     params=_params(d, "patroni", "dynamicConfiguration", "postgresql",
                                    "parameters"))
    patroni = as_dict(d.spec.get("patroni"))
    dyn = as_dict(patroni.get("dynamicConfiguration"))
    timing = dict(dyn)
    where: dict[str, tuple[str, ...]] = {k: ("patroni", "dynamicConfiguration", k) for k in dyn}
    for ours, theirs in (("ttl", "leaderLeaseDurationSeconds"), ("loop_wait", "syncPeriodSeconds")):
        if theirs in patroni and ours not in timing:
            timing[ours] = patroni[theirs]
            where[ours] = ("patroni", theirs)
    standby = as_dict(d.spec.get("standby"))
    upstream = (_service_cluster(standby.get("host")) or "standby-repo") if as_bool(
        standby.get("enabled")) else None
    return [_topology(d, "postgresql", nodes, sizes=[size],
                      settings=_patroni_settings(d, timing, ("patroni",), where),
                      sync=_patroni_sync(d, dyn, ("patroni", "dynamicConfiguration")),
                      upstream_cluster=upstream, upstream_line=d.sline("standby"),
                      upstream_at=("standby", "host" if standby.get("host") else "enabled"))]


# --- MySQL / MariaDB operators --------------------------------------------------------


def _pxc(d: _Doc) -> list[Topology]:
    n, size = _count(d, "spec.pxc.size", ("pxc", "size"), 3, HA_MIN)
    nodes = _members(d, f"{d.name}-pxc", n, co_master=True,
                     line=d.sline("pxc", "size"))
    return [_topology(d, "mysql", nodes, sizes=[size], co_master=True)]


def _ps_mysql(d: _Doc) -> list[Topology]:
    n, size = _count(d, "spec.mysql.size", ("mysql", "size"), 3, HA_MIN)
    nodes = _members(d, f"{d.name}-mysql", n, replica_params=_OPERATOR_RO,
                     line=d.sline("mysql", "size"))
    return [_topology(d, "mysql", nodes, sizes=[size])]


def _mariadb(d: _Doc) -> list[Topology]:
    n, size = _count(d, "spec.replicas", ("replicas",), 1, HA_MIN)
    galera = as_bool(get(d.spec, "galera", "enabled")) is True
    start = as_int(get(d.spec, "replication", "serverIdStartIndex"))
    nodes = _members(d, d.name, n, co_master=galera, replica_params=_OPERATOR_RO,
                     line=d.sline("replicas"),
                     server_id_start=None if galera else (10 if start is None else start))
    multi = as_dict(d.spec.get("multiCluster"))
    primary = str(multi["primary"]) if as_bool(multi.get("enabled")) is not False and multi.get(
        "primary") else None
    upstream = primary if primary and primary != d.name else None
    peers = [str(as_dict(m).get("name") or "") for m in as_list(multi.get("members"))]
    return [_topology(d, "mariadb", nodes, sizes=[size], co_master=galera,
                      primary_cluster=primary, upstream_cluster=upstream,
                      upstream_line=d.sline("multiCluster", "primary"),
                      primary_line=d.sline("multiCluster", "primary"),
                      peers=peers if primary else (), upstream_at=("multiCluster", "primary"),
                      primary_at=("multiCluster", "primary"))]


def _vitess(d: _Doc) -> list[Topology]:
    out: list[Topology] = []
    for i, ks in enumerate(as_list(d.spec.get("keyspaces"))):
        ksd = as_dict(ks)
        name = str(ksd.get("name") or f"keyspace{i}")
        for j, part in enumerate(as_list(ksd.get("partitionings"))):
            for where, pools in _vitess_pools(as_dict(part), ("keyspaces", i, "partitionings",
                                                                j)):
                out.append(_vitess_shard(d, f"{d.name}/{name}{where}", pools))
    return out


def _vitess_pools(part: dict[str, JSONValue], base: tuple[str | int, ...]
                  ) -> list[tuple[str, list[tuple[dict[str, JSONValue], tuple[str | int, ...]]]]]:
    equal = as_dict(part.get("equal"))
    if equal:
        at = (*base, "equal", "shardTemplate", "tabletPools")
        pools = as_list(get(equal, "shardTemplate", "tabletPools"))
        return [("", [(as_dict(p), (*at, k)) for k, p in enumerate(pools)])]
    out = []
    for k, shard in enumerate(as_list(get(part, "custom", "shards"))):
        sd = as_dict(shard)
        at = (*base, "custom", "shards", k, "tabletPools")
        pools = as_list(sd.get("tabletPools"))
        out.append((f"/{sd.get('name', k)}", [(as_dict(p), (*at, m)) for m, p in enumerate(pools)]))
    return out


def _vitess_shard(d: _Doc, name: str,
                  pools: list[tuple[dict[str, JSONValue], tuple[str | int, ...]]]) -> Topology:
    # Only `replica` tablets are primary-eligible and ack semi-sync; rdonly ones do not count.
    # an `externalmaster` pool's tablets replicate the external primary and are
    # primary-eligible too (issue 16.6)
    voting = [(p, at) for p, at in pools
              if str(p.get("type", "replica")) in ("replica", "externalmaster")]
    total = sum(as_int(p.get("replicas")) or 0 for p, _ in voting)
    line = d.sline(*voting[0][1], "replicas") if voting else d.sline("keyspaces")
    size = MemberCount(f"{name} replica tablets", total, HA_MIN, 0, d.path, line,
                       pointer=_pointer("spec", *voting[0][1], "replicas") if voting
                       else "/spec/keyspaces")
    nodes = _members(d, name.replace("/", "-"), total, replica_params=_OPERATOR_RO,
                     line=line)
    return _topology(d, "mysql", nodes, name=name, sizes=[size])


# --- MongoDB operators ----------------------------------------------------------------


def _psmdb(d: _Doc) -> list[Topology]:
    out = []
    for i, rs in enumerate(as_list(d.spec.get("replsets"))):
        rsd = as_dict(rs)
        out.append(_psmdb_replset(d, rsd, str(rsd.get("name") or f"rs{i}"), ("replsets", i)))
    sharding = as_dict(d.spec.get("sharding"))
    if as_bool(sharding.get("enabled")) and isinstance(sharding.get("configsvrReplSet"), dict):
        cfg = as_dict(sharding["configsvrReplSet"])
        out.append(_psmdb_replset(d, cfg, "cfg", ("sharding", "configsvrReplSet"),
                                  label="sharding.configsvrReplSet"))
    return out


def _psmdb_replset(d: _Doc, rs: dict[str, JSONValue], rs_name: str, at: tuple[str | int, ...],
                   label: str | None = None) -> Topology:
    size = as_int(rs.get("size"))
    n = 3 if size is None else size
    nodes = _members(d, f"{d.name}-{rs_name}", n, line=d.sline(*at, "size"))
    arb = as_dict(rs.get("arbiter"))
    if as_bool(arb.get("enabled")):
        for k in range(_or_default(as_int(arb.get("size")), 1)):
            nodes.append(Node(name=f"{d.name}-{rs_name}-arbiter-{k}", role="arbiter", priority=0,
                              file=d.path, line=d.sline(*at, "arbiter"), synthetic=True))
    nonvoting = as_dict(rs.get("nonvoting"))
    if as_bool(nonvoting.get("enabled")):
        for k in range(as_int(nonvoting.get("size")) or 0):
            nodes.append(Node(name=f"{d.name}-{rs_name}-nv-{k}", role="replica",
                              upstream=nodes[0].name if nodes else None, votes=0, priority=0,
                              file=d.path, line=d.sline(*at, "nonvoting"), synthetic=True))
    hidden = as_dict(rs.get("hidden"))
    if as_bool(hidden.get("enabled")):  # hidden members vote (priority 0), issue 16.6
        for k in range(_or_default(as_int(hidden.get("size")), 1)):
            nodes.append(Node(name=f"{d.name}-{rs_name}-hidden-{k}", role="replica",
                              upstream=nodes[0].name if nodes else None, priority=0,
                              tags=frozenset({"hidden"}), file=d.path,
                              line=d.sline(*at, "hidden"), synthetic=True))
    nodes.extend(_external_nodes(d, rs, at, nodes[0].name if n else None))
    extra = sum(1 for x in nodes if (x.role == "arbiter" or x.external or "hidden" in x.tags)
                and x.voting_weight > 0)
    count = MemberCount(f"{label or f'replsets[{rs_name}]'}.size", n, HA_MIN, extra, d.path,
                        d.sline(*at, "size"), pointer=_pointer("spec", *at, "size"))
    return _topology(d, "mongodb", nodes, name=f"{d.name}/{rs_name}", sizes=[count])


def _external_nodes(d: _Doc, rs: dict[str, JSONValue], at: tuple[str | int, ...],
                    primary: str | None) -> list[Node]:
    out = []
    for k, ext in enumerate(as_list(rs.get("externalNodes"))):
        e = as_dict(ext)
        host = str(e.get("host") or f"external-{k}")
        port = as_int(e.get("port"))
        votes = as_int(e.get("votes"))
        prio = as_float(e.get("priority"))
        line = d.sline(*at, "externalNodes", k)
        out.append(Node(
            name=f"{host}:{port}" if port else host, role="replica", host=host, port=port,
            upstream=primary, votes=1 if votes is None else votes,
            priority=1.0 if prio is None else prio, file=d.path, line=line, external=True,
            lines=frozen({"votes": d.sline(*at, "externalNodes", k, "votes"),
                          "priority": d.sline(*at, "externalNodes", k, "priority")}),
            pointers=frozen({"": _pointer("spec", *at, "externalNodes", k), **{
                f: _pointer("spec", *at, "externalNodes", k, f) for f in ("host", "votes",
                                                                          "priority")
                if f in e}})))
    return out


def _mongodb_community(d: _Doc) -> list[Topology]:
    arbiters = as_int(d.spec.get("arbiters")) or 0
    n, size = _count(d, "spec.members", ("members",), 3, HA_MIN, extra=arbiters)
    nodes = _members(d, d.name, n, line=d.sline("members"))
    nodes += [Node(name=f"{d.name}-arb-{k}", role="arbiter", priority=0, file=d.path,
                   line=d.sline("arbiters"), synthetic=True) for k in range(arbiters)]
    return [_topology(d, "mongodb", nodes, sizes=[size])]


def _mongodb_enterprise(d: _Doc) -> list[Topology]:
    if str(d.spec.get("type", "ReplicaSet")) != "ReplicaSet":
        return []  # sharded clusters and standalones carry no single member count
    return _mongodb_community(d)


def _stackgres(d: _Doc) -> list[Topology]:
    n, size = _count(d, "spec.instances", ("instances",), 1, PG_MIN)
    nodes = _members(d, d.name, n, line=d.sline("instances"))
    return [_topology(d, "postgresql", nodes, sizes=[size])]


# --- Redis (OT-Container-Kit) -----------------------------------------------------------


def _redis_replication(d: _Doc) -> list[Topology]:
    n, size = _count(d, "spec.clusterSize", ("clusterSize",), 3, HA_MIN)
    nodes = _members(d, d.name, n, line=d.sline("clusterSize"))
    return [_topology(d, "redis", nodes, sizes=[size])]


def _attach_sentinels(d: _Doc, topologies: list[Topology]) -> list[Finding]:
    """Join a RedisSentinel CR to the RedisReplication it names.

    A name no RedisReplication of the run carries is `replication-upstream-exists`
    (issue 16.5): the sentinels then form a topology of their own (size and quorum are
    still judged), instead of inventing a one-node master under the missing name.
    """
    n, size = _count(d, "spec.clusterSize", ("clusterSize",), 3, HA_MIN)
    size = replace(size, owner=f"RedisSentinel {d.name}")
    cfg = as_dict(d.spec.get("redisSentinelConfig"))
    target_name = str(cfg.get("redisReplicationName") or "")
    quorum = as_int(cfg.get("quorum"))
    quorum = 2 if quorum is None else quorum  # the CRD default is "2"
    # the replication of its own folder first (a Kustomize overlay pairs with its
    # overlay), then any of its namespace (issue 16.7)
    same = [i for i, t in enumerate(topologies) if t.kind == "RedisReplication"
            and t.name == target_name and t.scope == _namespace(d)]
    here = [i for i in same if posixpath.dirname(topologies[i].file or "")
            == posixpath.dirname(d.path)]
    own = [i for i in here if topologies[i].file == d.path]  # sample copies: its own file's
    idx = (own or here or same)[0] if here or same else None
    missing: list[Finding] = []
    if idx is None:
        missing.append(rule_finding(
            "replication-upstream-exists", f"RedisSentinel {d.name}: redisReplicationName "
            f"{target_name!r} names no RedisReplication of this run", d.path,
            d.sline("redisSentinelConfig", "redisReplicationName"),
            "/spec/redisSentinelConfig/redisReplicationName"))
    base = topologies[idx] if idx is not None else _topology(d, "redis", [])
    master = base.nodes[0].name if base.nodes else None
    sentinels = [Node(name=f"{d.name}-{k}", role="sentinel", upstream=master, file=d.path,
                      line=d.sline("clusterSize"), synthetic=True) for k in range(n)]
    settings = Settings(sentinel_quorum=quorum,
                        sentinel_master=str(cfg.get("masterGroupName") or "myMaster"),
                        sentinel_owner=f"RedisSentinel {d.name}",
                        file=d.path, lines=frozen({"sentinel_quorum": d.sline(
                            "redisSentinelConfig", "quorum")}),
                        pointers=_present(d, {"sentinel_quorum": ("redisSentinelConfig",
                                                                  "quorum")}))
    merged = replace(base, nodes=(*base.nodes, *sentinels), settings=settings,
                     sizes=(*base.sizes, size), files=tuple(dict.fromkeys((*base.files, d.path))))
    if idx is None:
        topologies.append(merged)
    else:
        topologies[idx] = merged
    return missing


_HANDLERS: dict[tuple[str, str], Handler] = {
    ("postgresql.cnpg.io", "Cluster"): _cnpg,
    ("acid.zalan.do", "postgresql"): _zalando,
    ("postgres-operator.crunchydata.com", "PostgresCluster"): _crunchy,
    ("pgv2.percona.com", "PerconaPGCluster"): _crunchy,  # a fork of Crunchy's v5 API
    ("stackgres.io", "SGCluster"): _stackgres,
    ("mongodb.com", "MongoDB"): _mongodb_enterprise,
    ("pxc.percona.com", "PerconaXtraDBCluster"): _pxc,
    ("ps.percona.com", "PerconaServerMySQL"): _ps_mysql,
    ("psmdb.percona.com", "PerconaServerMongoDB"): _psmdb,
    ("mongodbcommunity.mongodb.com", "MongoDBCommunity"): _mongodb_community,
    ("k8s.mariadb.com", "MariaDB"): _mariadb,
    ("mariadb.mmontes.io", "MariaDB"): _mariadb,
    ("redis.redis.opstreelabs.in", "RedisReplication"): _redis_replication,
    ("redis.redis.opstreelabs.in", "RedisSentinel"): lambda d: [],
    ("planetscale.com", "VitessCluster"): _vitess,
}
