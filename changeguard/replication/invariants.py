"""Replication invariants, written once against the model (SPEC §6, issue 4).

Every check takes one Topology and yields Findings that name the file and line of the
offending value. Cross-cluster checks (replica clusters, multi-cluster primaries) live
in grouping.py because they need every topology of the run; engine.py runs both.
This module imports only the model (and the rule registry): no cycles (issue 13).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator

from changeguard.findings import Finding
from changeguard.replication.model import (
    Node,
    ParamValue,
    Topology,
    find_cycles,
    gtid_mode,
    normalise_host,
)
from changeguard.rules import finding

Check = Callable[[Topology], Iterator[Finding]]


def _at(rule: str, message: str, t: Topology, node: Node | None = None,
        key: str | None = None, hint: str | None = None) -> Finding:
    """A finding located at a node's field (or the topology when no node)."""
    if node is None:
        return finding(rule, message, t.file, t.line_of(key) if key else t.line,
                       "/" + key if key and t.format == "native" else t.pointers.get(key or ""),
                       hint)
    line = node.param_line(key[7:]) if key and key.startswith("params.") else (
        node.line_of(key) if key else node.line)
    return finding(rule, message, node.file_of(key) or t.file, line, node.pointer_of(key),
                   hint)


def native_pointer(t: Topology, pointer: str) -> str | None:
    """`pointer` for native topologies (whose documents we know), else None."""
    return pointer if t.format == "native" else None


def sync_pointer(t: Topology, key: str) -> str | None:
    """Pointer of a sync setting: native `/sync/<key>`, else the adapter's (issue 16.9)."""
    if t.format == "native":
        return "/sync/standbys" if key == "standby_names" else f"/sync/{key}"
    return t.sync.pointer_of(key) if t.sync is not None else None


def settings_pointer(t: Topology, key: str) -> str | None:
    """Pointer of a cluster setting: native `/settings/<key>`, else the adapter's."""
    return f"/settings/{key}" if t.format == "native" else t.settings.pointers.get(key)


def truthy(value: ParamValue) -> bool:
    """MySQL/PostgreSQL boolean spellings (ON, 1, true, yes)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    return isinstance(value, str) and value.strip().lower() in ("on", "1", "true", "yes")


def number(value: ParamValue) -> float | None:
    """A numeric parameter value, or None when it is not a plain number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value.strip().strip("'\""))
    except ValueError:
        return None


# --- replication-single-primary ------------------------------------------------------


def single_primary(t: Topology) -> Iterator[Finding]:
    """Exactly one primary (or one declared co-master ring); sentinels agree on it."""
    rule = "replication-single-primary"
    data = [n for n in t.nodes if n.data_bearing]
    if not data:
        return
    primaries = t.primaries()
    if t.co_masters:
        ring = {x for grp in t.co_masters for x in grp}
        sets = {t.co_master_set(p.name) for p in primaries}
        if primaries and (None in sets or len(sets) > 1):
            outside = [p.name for p in primaries if p.name not in ring] or [
                p.name for p in primaries]
            yield _at(rule, f"topology {t.name}: primaries {', '.join(outside)} are not one "
                      "declared co-master set", t, primaries[-1], "role")
    elif not primaries:
        yield _at(rule, f"topology {t.name} has no primary: every data-bearing member "
                  "replicates from another", t, data[0], "upstream" if data[0].upstream else
                  "role", "mark one node `role: primary`, or declare the ring in `co_masters`")
    elif len(primaries) > 1:
        names = ", ".join(p.name for p in primaries)
        yield _at(rule, f"topology {t.name} has {len(primaries)} primaries ({names})", t,
                  primaries[1], "role")
    yield from _primary_with_upstream(t, primaries)
    yield from _sentinels_agree(t, primaries)


def _primary_with_upstream(t: Topology, primaries: list[Node]) -> Iterator[Finding]:
    for p in primaries:
        if p.upstream and t.co_master_set(p.name) is None:
            yield _at("replication-single-primary", f"primary {p.name} replicates from "
                      f"{p.upstream}: a primary must not have an upstream", t, p, "upstream",
                      "drop `upstream`, or declare both in `co_masters`")


def _sentinels_agree(t: Topology, primaries: list[Node]) -> Iterator[Finding]:
    watched: dict[str, Node] = {}
    for s in t.nodes:
        if s.role == "sentinel" and s.upstream:
            target = t.resolve(s.upstream)
            if target is not None:
                watched.setdefault(target.name, s)
    if len(watched) > 1:
        last = list(watched.values())[-1]
        yield _at("replication-single-primary", "sentinels disagree on the primary: "
                  + ", ".join(f"{s.name} monitors {n}" for n, s in watched.items()), t, last,
                  "upstream")
    elif watched and primaries and len(primaries) == 1:
        name, s = next(iter(watched.items()))
        if name != primaries[0].name:
            yield _at("replication-single-primary", f"sentinel {s.name} monitors {name} but "
                      f"the primary is {primaries[0].name}", t, s, "upstream")


# --- replication-upstream-exists -----------------------------------------------------


def upstream_exists(t: Topology) -> Iterator[Finding]:
    """Every upstream names a data-bearing member of the same topology."""
    rule = "replication-upstream-exists"
    for n in t.nodes:
        if not n.upstream or n.role in ("arbiter", "witness"):
            continue
        target = t.resolve(n.upstream)
        if target is None:
            yield _at(rule, f"{n.name}: upstream {n.upstream!r} is not a member of topology "
                      f"{t.name}", t, n, "upstream")
        elif target.name != n.name and not target.data_bearing:
            yield _at(rule, f"{n.name}: upstream {target.name} is a {target.role} and holds "
                      "no data", t, n, "upstream")
        elif n.role == "sentinel" and target.role == "sentinel":
            yield _at(rule, f"sentinel {n.name} monitors another sentinel", t, n, "upstream")


# --- replication-no-cycle ------------------------------------------------------------


def upstream_graph(t: Topology) -> dict[str, str]:
    """Member → resolved upstream member, for data-bearing members."""
    edges: dict[str, str] = {}
    for n in t.nodes:
        if n.upstream and n.data_bearing:
            target = t.resolve(n.upstream)
            if target is not None:
                edges[n.name] = target.name
    return edges


def no_cycle(t: Topology) -> Iterator[Finding]:
    """No replication cycle unless every member of it is in one co-master set."""
    for cycle in find_cycles(upstream_graph(t)):
        ring = t.co_master_set(cycle[0])
        if ring is not None and all(x in ring for x in cycle):
            continue
        first = t.node(min(cycle))
        path = " -> ".join([*cycle, cycle[0]])
        yield _at("replication-no-cycle", f"replication cycle {path} is not a declared "
                  "co-master ring", t, first, "upstream")


# --- replication-sync-consistent -----------------------------------------------------

_SYNC_ON = frozenset({"on", "strict", "any", "first", "quorum", "semi"})


def sync_consistent(t: Topology) -> Iterator[Finding]:
    """Synchronous settings name existing standbys and counts that can be met."""
    rule = "replication-sync-consistent"
    eligible = [n for n in t.nodes if n.data_bearing and n.role != "primary"
                and "nosync" not in n.tags]
    ok_names = {n.name for n in eligible}
    s = t.sync
    for n in t.nodes:
        if n.sync:
            yield from _bad_sync_member(t, n, s.mode if s else None)
    if s is None:
        return
    f = s.file or t.file
    for name in s.standby_names:
        if name == "*":
            continue
        target = t.resolve(name)
        if target is None or target.name not in ok_names:
            why = ("is not a member" if target is None
                   else f"cannot be a sync standby ({_why(target)})")
            yield finding(rule, f"sync standby {name!r} {why}", f, s.line_of("standby_names"),
                          sync_pointer(t, "standby_names"))
    if s.standby_names:
        resolved = (t.resolve(x) for x in s.standby_names)
        listed = {r.name for r in resolved if r is not None}
        for n in t.nodes:
            if n.sync and n.name not in listed and "*" not in s.standby_names:
                yield _at(rule, f"{n.name} is marked sync but not listed in the sync standbys",
                          t, n, "sync")
    yield from _sync_counts(t, s.mode, s.count, s.min_sync, s.max_sync, len(eligible), f)


def _why(n: Node) -> str:
    if n.role == "primary":
        return "it is the primary"
    if not n.data_bearing:
        return f"it is a {n.role}"
    return "it is tagged nosync"


def _bad_sync_member(t: Topology, n: Node, mode: str | None) -> Iterator[Finding]:
    rule = "replication-sync-consistent"
    if not n.data_bearing or n.role == "primary" or "nosync" in n.tags:
        yield _at(rule, f"{n.name} is marked sync but {_why(n)}", t, n, "sync")
        return
    if mode == "off":
        yield _at(rule, f"{n.name} is marked sync but synchronous replication is off", t, n,
                  "sync")
    up = t.resolve(n.upstream) if n.upstream else None
    if up is not None and up.role != "primary" and t.co_master_set(up.name) is None:
        yield _at(rule, f"{n.name} is marked sync but replicates from replica {up.name} "
                  "(cascading standbys cannot be synchronous)", t, n, "sync")


def _sync_counts(t: Topology, mode: str | None, count: int | None, lo: int | None,
                 hi: int | None, eligible: int, f: str | None) -> Iterator[Finding]:
    rule = "replication-sync-consistent"
    s = t.sync
    assert s is not None
    if lo is not None and hi is not None and lo > hi:
        yield finding(rule, f"min_sync {lo} > max_sync {hi}", f, s.line_of("min_sync"),
                      sync_pointer(t, "min_sync"))
    for key, value in (("min_sync", lo), ("max_sync", hi)):
        if value is not None and value > eligible:
            yield finding(rule, f"{key} {value} exceeds the {eligible} standby(s) that can be "
                          "synchronous", f, s.line_of(key), sync_pointer(t, key))
    if mode == "off":
        return
    if count is not None and count > eligible:
        yield finding(rule, f"sync count {count} exceeds the {eligible} standby(s) that can be "
                      "synchronous", f, s.line_of("count"), sync_pointer(t, "count"))
    elif mode in _SYNC_ON and eligible == 0 and t.nodes and t.primaries():
        yield finding(rule, f"synchronous mode {mode!r} but no standby can be synchronous",
                      f, s.line_of("mode"), sync_pointer(t, "mode"))


# --- replication-unique-ids ----------------------------------------------------------


def unique_ids(t: Topology) -> Iterator[Finding]:
    """Member names and server ids are unique; MySQL replication needs server_id > 0."""
    rule = "replication-unique-ids"
    names: dict[str, Node] = {}
    ids: dict[int, Node] = {}
    mysql = t.engine in ("mysql", "mariadb") and sum(n.data_bearing for n in t.nodes) > 1
    for n in t.nodes:
        if n.name in names:
            yield _at(rule, f"member name {n.name!r} is used twice (first on line "
                      f"{names[n.name].line})", t, n, "name")
        names.setdefault(n.name, n)
        if n.server_id is None:
            continue
        if n.server_id in ids:
            yield _at(rule, f"server_id {n.server_id} of {n.name} is also used by "
                      f"{ids[n.server_id].name}", t, n, "server_id")
        ids.setdefault(n.server_id, n)
        if mysql and n.server_id == 0:
            yield _at(rule, f"{n.name}: server_id 0 disables replication", t, n, "server_id")


# --- replication-distinct-failure-domains --------------------------------------------


def distinct_failure_domains(t: Topology) -> Iterator[Finding]:
    """Redundant members sit on distinct hosts (ports do not separate them) and zones."""
    rule = "replication-distinct-failure-domains"
    by_host: dict[str, list[Node]] = defaultdict(list)
    for n in t.nodes:
        if n.host and not n.synthetic:
            by_host[normalise_host(n.host)].append(n)
    for host, members in by_host.items():
        for clash in _clashes(members):
            yield _at(rule, f"{', '.join(_label(m) for m in clash)} share host {host}: one "
                      "machine failure takes them all down", t, clash[-1], "host")
    data = [n for n in t.nodes if n.data_bearing and not n.synthetic]
    zones = {n.zone for n in data}
    if len(data) > 1 and None not in zones and len(zones) == 1:
        yield _at(rule, f"all {len(data)} data-bearing members are in zone {zones.pop()}", t,
                  data[-1], "zone", "spread members over at least two zones")


def _clashes(members: list[Node]) -> Iterator[list[Node]]:
    data = [m for m in members if m.data_bearing]
    if len(data) > 1:
        yield data
    for role in ("sentinel", "arbiter", "witness"):
        same = [m for m in members if m.role == role]
        if len(same) > 1:
            yield same
    for m in members:
        if m.role in ("arbiter", "witness") and data:
            yield [*data, m]


def _label(n: Node) -> str:
    return f"{n.name}:{n.port}" if n.port is not None else n.name


# --- replication-quorum --------------------------------------------------------------


def quorum(t: Topology) -> Iterator[Finding]:
    """MongoDB voters odd and <= 7; Sentinel quorum <= sentinels; CR minimum sizes."""
    if t.engine == "mongodb" and t.nodes:
        yield from _mongodb_votes(t)
    yield from _sentinel_quorum(t)
    for m in t.sizes:
        if m.voters < m.minimum:
            extra = f" + {m.extra_voters} external/arbiter voters" if m.extra_voters else ""
            yield finding("replication-quorum", f"{m.owner or t.name}: {m.label} "
                          f"{m.declared}{extra} < "
                          f"the minimum of {m.minimum} members", m.file or t.file, m.line,
                          m.pointer)


def _mongodb_votes(t: Topology) -> Iterator[Finding]:
    rule = "replication-quorum"
    voters = [n for n in t.nodes if n.voting_weight > 0]
    anchor = voters[-1] if voters else t.nodes[-1]
    if len(voters) % 2 == 0:
        yield _at(rule, f"replica set {t.name} has {len(voters)} voting members: an even "
                  "count cannot break ties", t, anchor, "votes" if "votes" in anchor.lines
                  else None, "add an arbiter or set `votes: 0` on one member")
    if len(voters) > 7:
        yield _at(rule, f"replica set {t.name} has {len(voters)} voting members (MongoDB "
                  "allows at most 7)", t, anchor, None)
    for n in t.nodes:
        if n.voting_weight > 1:
            yield _at(rule, f"{n.name}: votes {n.votes} (MongoDB allows 0 or 1)", t, n, "votes")
        elif n.voting_weight == 0 and (n.priority or 0) > 0:
            yield _at(rule, f"{n.name}: a non-voting member must have priority 0", t, n,
                      "priority")
        if n.role == "arbiter" and (n.priority or 0) > 0:
            yield _at(rule, f"arbiter {n.name} must have priority 0", t, n, "priority")
    electable = [n for n in voters if n.data_bearing and (n.priority is None or n.priority > 0)]
    if voters and not electable:
        yield _at(rule, f"replica set {t.name} has no electable member (every data-bearing "
                  "voter has priority 0)", t, anchor, "priority")


def _sentinel_quorum(t: Topology) -> Iterator[Finding]:
    rule = "replication-quorum"
    sentinels = [n for n in t.nodes if n.role == "sentinel"]
    q = t.settings.sentinel_quorum
    owner = f"{t.settings.sentinel_owner}: " if t.settings.sentinel_owner else ""
    if q is not None and (q < 1 or q > len(sentinels)):
        yield finding(rule, f"{owner}sentinel quorum {q} but {len(sentinels)} sentinel(s): "
                      "failover can never be agreed", t.settings.file or t.file,
                      t.settings.line_of("sentinel_quorum") or t.line,
                      settings_pointer(t, "sentinel_quorum"))
    watchers = _watchers(t, sentinels)
    for s in sentinels:
        own = number(s.param("quorum"))
        if own is None:
            continue
        if (own < 1 or own > len(sentinels)) and own != q:
            yield _at(rule, f"sentinel {s.name}: quorum {int(own)} but {len(sentinels)} "
                      "sentinel(s)", t, s, "params.quorum")
        elif s.upstream and len(watchers) > 1 and own > watchers[_watched(t, s)]:
            # quorum is per monitored master: sentinels watching another address of the
            # same master name never vote with this one (issue 16.2)
            yield _at(rule, f"sentinel {s.name}: quorum {int(own)} but only "
                      f"{watchers[_watched(t, s)]} sentinel(s) monitor {_watched(t, s)}", t, s,
                      "params.quorum")


def _watched(t: Topology, s: Node) -> str:
    """The member a sentinel monitors (its raw address when it names no member)."""
    target = t.resolve(s.upstream) if s.upstream else None
    return target.name if target is not None else (s.upstream or "")


def _watchers(t: Topology, sentinels: list[Node]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for s in sentinels:
        if s.upstream:
            out[_watched(t, s)] += 1
    return dict(out)


# --- replication-standby-params ------------------------------------------------------

# PostgreSQL refuses to run a hot standby whose values are below the primary's.
_PG_AT_LEAST = ("max_connections", "max_worker_processes", "max_wal_senders",
                "max_prepared_transactions", "max_locks_per_transaction")
_GTID_ORDER = ("off", "off_permissive", "on_permissive", "on")


def standby_params(t: Topology) -> Iterator[Finding]:
    """Standby parameters match what replication from the primary needs."""
    if t.engine == "postgresql":
        yield from _postgres_params(t)
    elif t.engine in ("mysql", "mariadb"):
        yield from _mysql_params(t)


def _postgres_params(t: Topology) -> Iterator[Finding]:
    rule = "replication-standby-params"
    primaries = t.primaries()
    if len(primaries) != 1:
        return
    p = primaries[0]
    replicas = [n for n in t.nodes if n.data_bearing and n is not p]
    if not replicas:
        return
    level = p.param("wal_level")
    if isinstance(level, str) and level.strip().lower() == "minimal":
        yield _at(rule, f"primary {p.name}: wal_level minimal cannot feed standbys", t, p,
                  "params.wal_level", "set wal_level = replica (or logical)")
    senders = number(p.param("max_wal_senders"))
    direct = [r for r in replicas if not r.upstream or (t.resolve(r.upstream) is p)]
    if senders is not None and senders < len(direct):
        yield _at(rule, f"primary {p.name}: max_wal_senders {int(senders)} < {len(direct)} "
                  "directly attached standbys", t, p, "params.max_wal_senders")
    for r in replicas:
        for key in _PG_AT_LEAST:
            pv, rv = number(p.param(key)), number(r.param(key))
            if pv is not None and rv is not None and rv < pv:
                yield _at(rule, f"standby {r.name}: {key} {_fmt(rv)} < primary's {_fmt(pv)}",
                          t, r, f"params.{key}")


def _fmt(v: float) -> str:
    return str(int(v)) if v.is_integer() else str(v)


def _mysql_params(t: Topology) -> Iterator[Finding]:
    rule = "replication-standby-params"
    for n in t.nodes:
        mode = gtid_mode(n)
        if mode == "on" and not truthy(n.param("enforce_gtid_consistency")):
            yield _at(rule, f"{n.name}: gtid_mode ON requires enforce_gtid_consistency = ON",
                      t, n, "params.gtid_mode")
        up = t.resolve(n.upstream) if n.upstream else None
        if up is None or not n.data_bearing:
            continue
        theirs = gtid_mode(up)
        if mode and theirs and {mode, theirs} in ({"on", "off"}, {"on", "off_permissive"},
                                                   {"off", "on_permissive"}):
            yield _at(rule, f"{n.name}: gtid_mode {mode.upper()} cannot replicate from "
                      f"{up.name} with gtid_mode {theirs.upper()}", t, n, "params.gtid_mode")
    yield from _binlog_off(t)


def _binlog_off(t: Topology) -> Iterator[Finding]:
    sources: set[str] = set()
    for n in t.nodes:
        up = t.resolve(n.upstream) if n.upstream and n.data_bearing else None
        if up is not None:
            sources.add(up.name)
    for n in t.nodes:
        value = n.param("log_bin")
        # `log_bin = mysql-bin` names the log file (on); only explicit off values disable it
        off = value is False or value == 0 or (
            isinstance(value, str) and value.strip().lower() in ("off", "0", "false"))
        if n.name in sources and off:
            yield _at("replication-standby-params", f"{n.name} is a replication source but "
                      "log_bin is off", t, n, "params.log_bin")


# --- replication-ttl-rule -------------------------------------------------------------

_PATRONI_DEFAULTS = {"ttl": 30.0, "loop_wait": 10.0, "retry_timeout": 10.0}


def ttl_rule(t: Topology) -> Iterator[Finding]:
    """Patroni: loop_wait + 2 * retry_timeout <= ttl (defaults 30/10/10)."""
    s = t.settings
    given = {"ttl": s.ttl, "loop_wait": s.loop_wait, "retry_timeout": s.retry_timeout}
    if all(v is None for v in given.values()):
        return
    v = {k: (val if val is not None else _PATRONI_DEFAULTS[k]) for k, val in given.items()}
    if v["loop_wait"] + 2 * v["retry_timeout"] > v["ttl"]:
        key = next(k for k in ("ttl", "loop_wait", "retry_timeout") if given[k] is not None)
        yield finding("replication-ttl-rule", f"loop_wait {_fmt(v['loop_wait'])} + 2 * "
                      f"retry_timeout {_fmt(v['retry_timeout'])} = "
                      f"{_fmt(v['loop_wait'] + 2 * v['retry_timeout'])} > ttl {_fmt(v['ttl'])}",
                      s.file or t.file, s.line_of(key) or t.line,
                      settings_pointer(t, key))


# --- replication-replica-read-only ---------------------------------------------------


def replica_read_only(t: Topology) -> Iterator[Finding]:
    """MySQL/MariaDB replicas set read_only (or super_read_only)."""
    if t.engine not in ("mysql", "mariadb"):
        return
    for n in t.nodes:
        if n.role != "replica" or n.synthetic or not n.data_bearing:
            continue
        if truthy(n.param("read_only")) or truthy(n.param("super_read_only")):
            continue
        key = "params.read_only" if n.param("read_only") is not None else None
        yield _at("replication-replica-read-only", f"replica {n.name} is writable (read_only "
                  "is not ON)", t, n, key)


CHECKS: dict[str, Check] = {
    "replication-single-primary": single_primary,
    "replication-upstream-exists": upstream_exists,
    "replication-no-cycle": no_cycle,
    "replication-sync-consistent": sync_consistent,
    "replication-unique-ids": unique_ids,
    "replication-distinct-failure-domains": distinct_failure_domains,
    "replication-quorum": quorum,
    "replication-standby-params": standby_params,
    "replication-ttl-rule": ttl_rule,
    "replication-replica-read-only": replica_read_only,
}


def check_topology(t: Topology) -> list[Finding]:
    """Every per-topology invariant of one topology."""
    out: list[Finding] = []
    for check in CHECKS.values():
        out.extend(check(t))
    return out
