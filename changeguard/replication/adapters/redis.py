"""Redis: redis.conf (`replicaof`/`slaveof`) and sentinel.conf (`sentinel monitor`).

Members join one topology when a replica names another member's address or a Sentinel
monitors it (the Sentinel master name is the cluster identity, SPEC §6). A master that
Sentinels monitor but no file describes is added from the `monitor` line, so a lone
sentinel.conf is still a judgeable topology. Redis binds every interface unless told
otherwise, so a member without bind/announce-ip is placed on the group's only address
when every address the group mentions is the same machine.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from changeguard.errors import InputError
from changeguard.replication.adapters._common import (
    as_int,
    basename,
    dirname,
    frozen,
    standalone,
    text_of,
    unique_name,
)
from changeguard.replication.adapters._conf import Directive, parse_directives
from changeguard.replication.interface import AdapterResult, SourceFile
from changeguard.replication.model import (
    Node,
    ParamValue,
    Settings,
    Topology,
    normalise_host,
    same_host,
)

FORMAT = "redis"
_STRONG = frozenset({"replicaof", "slaveof", "sentinel"})
_REDIS_WORDS = frozenset({
    "appendonly", "appendfsync", "dbfilename", "save", "maxmemory", "maxmemory-policy",
    "protected-mode", "notify-keyspace-events", "cluster-enabled", "requirepass",
    "masterauth", "replica-read-only", "slave-read-only", "databases", "rdbcompression",
    "repl-diskless-sync", "repl-diskless-sync-delay", "repl-backlog-size", "tcp-backlog",
    "hz", "lua-time-limit", "loglevel", "daemonize", "supervised", "io-threads",
    "replica-announce-ip", "slave-announce-ip", "replica-priority", "slave-priority",
    "min-replicas-to-write", "min-slaves-to-write", "activerehashing",
    "stop-writes-on-bgsave-error",
    # TLS-only servers (`port 0`) may carry nothing but these (issue 16.6)
    "tls-port", "tls-replication", "tls-cert-file", "tls-key-file", "tls-ca-cert-file",
    "tls-ca-cert-dir", "tls-auth-clients", "tls-cluster", "tls-protocols",
})
_ANY_ADDR = frozenset({"0.0.0.0", "*", "::", "::*"})
_GENERIC = frozenset({"redis", "sentinel", "redis-server", "redis-sentinel", "server"})


@dataclass
class _Monitor:
    """One `sentinel monitor` line."""

    master: str
    host: str
    port: int | None
    quorum: int | None
    line: int


@dataclass
class _Member:
    """One Redis server or sentinel."""

    file: str
    name: str
    sentinel: bool
    port: int
    host: str | None
    upstream: tuple[str, int | None] | None = None
    upstream_line: int | None = None
    params: dict[str, ParamValue] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    monitors: list[_Monitor] = field(default_factory=list)
    known: list[tuple[str, str, str, int | None, int]] = field(default_factory=list)
    line: int = 1


_FIRST_WORD = re.compile(r"^[ \t]*([^\s#]\S*)", re.MULTILINE)
_HEAD = 256 * 1024  # detection reads the head of a file; parsing reads all of it


def is_redis(text: str, path: str) -> bool:
    """redis.conf / sentinel.conf: replication or sentinel directives, or redis keywords."""
    names = {m.group(1).lower() for m in _FIRST_WORD.finditer(text, 0, _HEAD)}
    if not names or any(not re.fullmatch(r"[a-z][a-z0-9-]*", n) for n in names):
        return False
    if names & _STRONG:
        return True
    name = basename(path).lower()
    by_name = ("redis" in name or "sentinel" in name) and posixpath.splitext(name)[1] in (
        ".conf", "")
    return by_name or len(names & _REDIS_WORDS) >= 3


_PLAIN_WORDS = _REDIS_WORDS | frozenset({
    "port", "bind", "dir", "logfile", "pidfile", "timeout", "tcp-keepalive", "unixsocket",
    "unixsocketperm", "include", "rename-command", "maxclients", "tls-port", "aclfile",
    "user", "always-show-logo", "rdbchecksum", "syslog-enabled", "syslog-ident",
    "lazyfree-lazy-eviction", "appendfilename", "auto-aof-rewrite-percentage",
    "auto-aof-rewrite-min-size", "slowlog-log-slower-than", "slowlog-max-len",
    "latency-monitor-threshold", "cluster-config-file", "cluster-node-timeout",
    "maxmemory-samples", "replica-serve-stale-data", "slave-serve-stale-data",
    "repl-ping-replica-period", "repl-timeout", "repl-backlog-ttl", "enable-debug-command",
    "enable-protected-configs", "enable-module-command", "loadmodule", "list-max-ziplist-size",
    "hash-max-ziplist-entries", "hash-max-ziplist-value", "set-max-intset-entries",
    "zset-max-ziplist-entries", "zset-max-ziplist-value", "dynamic-hz", "jemalloc-bg-thread",
})


def _only_redis_words(text: str, path: str) -> bool:
    """A minimal redis .conf (`port`, `bind`) mapped to redis: every directive is redis'."""
    if not path.endswith(".conf"):
        return False
    try:
        names = {d.name for d in parse_directives(text, path)}
    except InputError:
        return False
    return bool(names) and names <= _PLAIN_WORDS


class RedisAdapter:
    """Reads redis.conf and sentinel.conf files."""

    format = FORMAT

    def detect(self, f: SourceFile) -> bool:
        """True for files that read as redis/sentinel directives."""
        try:
            return is_redis(text_of(f), f.path)
        except InputError:
            return False

    def parse(self, files: Sequence[SourceFile]) -> AdapterResult:
        """All members of the run, linked into topologies by address and master name."""
        members: list[_Member] = []
        for f in sorted(files, key=lambda f: f.path):
            text = text_of(f)
            if f.path.endswith(".conf"):
                parse_directives(text, f.path)  # a broken .conf is an error, not a skip
            if not (is_redis(text, f.path) or _only_redis_words(text, f.path)):
                continue  # a supporting file (README, haproxy.cfg) mapped to this format
            member = _member(f.path, parse_directives(text, f.path), {m.name for m in members})
            if member is not None:
                members.append(member)
        return AdapterResult([standalone(_topology(c)) for c in _components(members)])


def _member(path: str, directives: list[Directive], taken: set[str]) -> _Member | None:
    if not directives:
        return None
    sentinel = any(d.name == "sentinel" for d in directives)
    m = _Member(path, unique_name(_name(path), taken), sentinel, 26379 if sentinel else 6379,
                None, line=directives[0].line)
    for d in directives:
        _apply(m, d)
    tls = as_int(m.params.get("tls-port"))
    if tls and (m.params.get("port") == "0" or "port" not in m.lines):
        m.port = tls  # a TLS-only server is reached on its tls-port
        m.lines["port"] = m.lines["params.tls-port"]
    return m


def _name(path: str) -> str:
    stem = basename(path)
    stem = stem[:-5] if stem.endswith(".conf") else stem
    if stem.lower() in _GENERIC and basename(dirname(path)):
        return basename(dirname(path))
    return stem


def _group_dir(path: str) -> str:
    """`7000/redis.conf` names its member by directory, so it groups one level up."""
    stem = basename(path).removesuffix(".conf").lower()
    return dirname(dirname(path)) if stem in _GENERIC else dirname(path)


def _apply(m: _Member, d: Directive) -> None:
    a = d.args
    if d.name == "port" and a and as_int(a[0]) is not None:
        m.port = as_int(a[0]) or m.port
        m.lines["port"] = d.line
        if as_int(a[0]) == 0:  # plain TCP off: the member listens on its tls-port only
            m.params["port"] = "0"
    elif d.name == "tls-port" and a and as_int(a[0]):
        m.params["tls-port"] = a[0]
        m.lines["params.tls-port"] = d.line
    elif d.name == "bind" and a and m.host is None:
        addrs = [x.lstrip("-") for x in a if x.lstrip("-") not in _ANY_ADDR]
        if addrs:
            non_loop = [x for x in addrs if normalise_host(x) != "127.0.0.1"]
            m.host = (non_loop or addrs)[0]
            m.lines["host"] = d.line
    elif d.name in ("replica-announce-ip", "slave-announce-ip") and a:
        m.host = a[0]
        m.lines["host"] = d.line
    elif d.name in ("replicaof", "slaveof") and len(a) >= 2:
        if a[0].lower() != "no":
            m.upstream = (a[0], as_int(a[1]))
            m.upstream_line = d.line
    elif d.name == "sentinel" and a:
        _sentinel(m, d)
    else:
        m.params[d.name] = " ".join(a)
        m.lines[f"params.{d.name}"] = d.line


def _sentinel(m: _Member, d: Directive) -> None:
    sub, a = d.args[0].lower(), d.args[1:]
    if sub == "monitor" and len(a) >= 3:
        m.monitors.append(_Monitor(a[0], a[1], as_int(a[2]),
                                   as_int(a[3]) if len(a) > 3 else None, d.line))
    elif sub == "announce-ip" and a:
        m.host = a[0]
        m.lines["host"] = d.line
    elif sub in ("known-sentinel", "known-replica", "known-slave") and len(a) >= 3:
        kind = "sentinel" if sub == "known-sentinel" else "replica"
        m.known.append((kind, a[0], a[1], as_int(a[2]), d.line))


# --- linking members into topologies --------------------------------------------------


def _target(host: str, port: int | None, members: list[_Member],
            me: _Member | None = None) -> tuple[_Member, bool] | None:
    """The data member an address names (by member name, host, or port alone); the flag
    says the match was by port only (the member's own address is unknown)."""
    data = [m for m in members if m is not me and not m.sentinel
            and (port is None or m.port == port)]
    h = normalise_host(host)
    for hits, by_port in (([m for m in data if normalise_host(m.name) == h], False),
                          ([m for m in data if m.host and same_host(m.host, host)], False),
                          ([m for m in data if m.host is None], True)):
        if len(hits) == 1:
            return hits[0], by_port
        if hits:
            return None
    return None


def _components(members: list[_Member]) -> list[list[_Member]]:
    parent = list(range(len(members)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(i: int, j: int) -> None:
        parent[root(i)] = root(j)

    by_master: dict[str, int] = {}
    by_dir: dict[str, int] = {}
    for i, m in enumerate(members):
        # no identity in common: fall back to the directory (SPEC §6)
        join(i, by_dir.setdefault(_group_dir(m.file), i))
        targets = [m.upstream] if m.upstream else []
        targets += [(mon.host, mon.port) for mon in m.monitors]
        for host, port in targets:
            hit = _target(host, port, members, m)
            if hit is not None:
                join(i, members.index(hit[0]))
        for mon in m.monitors:
            if mon.master in by_master:
                join(i, by_master[mon.master])
            by_master.setdefault(mon.master, i)
    groups: dict[int, list[_Member]] = {}
    for i, m in enumerate(members):
        groups.setdefault(root(i), []).append(m)
    return list(groups.values())


def _topology(members: list[_Member]) -> Topology:
    _infer_hosts(members)
    nodes = [_node(m, members) for m in members]
    monitors = [(m, mon) for m in members for mon in m.monitors]
    nodes += _implied_masters(monitors, members)
    nodes += _known_peers(members, nodes)
    masters = sorted({mon.master for _, mon in monitors})
    name = masters[0] if masters else (dirname(members[0].file) or members[0].name)
    settings = Settings()
    if monitors:
        owner, first = monitors[0]
        settings = Settings(sentinel_quorum=first.quorum, sentinel_master=first.master,
                            file=owner.file, lines=frozen({"sentinel_quorum": first.line}))
    # Redis Cluster: every `cluster-enabled` master owns slots, a declared multi-primary set
    sharded = tuple(n.name for n in nodes if n.role == "primary"
                    and str(n.param("cluster-enabled") or "").lower() == "yes")
    return Topology(name=name, engine="redis", format=FORMAT, nodes=tuple(nodes),
                    co_masters=(sharded,) if len(sharded) > 1 else (),
                    cluster=masters[0] if masters else None,
                    files=tuple(m.file for m in members), settings=settings,
                    file=members[0].file, line=members[0].line)


def _infer_hosts(members: list[_Member]) -> None:
    """Place members that declare no address (redis binds every interface by default).

    A member named by address (`replicaof H P`, `sentinel monitor M H P`) is on H; when
    every address the group mentions is loopback, all of it runs on one machine.
    """
    refs = [(m, *m.upstream) for m in members if m.upstream]
    refs += [(m, mon.host, mon.port) for m in members for mon in m.monitors]
    for me, host, port in refs:
        hit = _target(host, port, members, me)
        if hit is not None and hit[1]:
            hit[0].host = host
    seen = {normalise_host(m.host) for m in members if m.host}
    seen |= {normalise_host(host) for _, host, _ in refs}
    if seen == {"127.0.0.1"}:
        for m in members:
            if m.host is None:
                m.host = "127.0.0.1"


def _ref(host: str, port: int | None, members: list[_Member], me: _Member) -> str:
    hit = _target(host, port, members, me)
    if hit is not None:
        return hit[0].name
    return f"{host}:{port}" if port is not None else host


def _node(m: _Member, members: list[_Member]) -> Node:
    lines = dict(m.lines)
    upstream = None
    if m.upstream is not None:
        upstream = _ref(m.upstream[0], m.upstream[1], members, m)
        lines["upstream"] = m.upstream_line or m.line
    params = dict(m.params)
    if m.sentinel and m.monitors:
        mon = m.monitors[0]
        upstream = _ref(mon.host, mon.port, members, m)
        lines["upstream"] = mon.line
        if mon.quorum is not None:
            params["quorum"] = mon.quorum
            lines["params.quorum"] = mon.line
    role = "sentinel" if m.sentinel else ("replica" if m.upstream else "primary")
    return Node(name=m.name, role=role, host=m.host, port=m.port, upstream=upstream,
                priority=_priority(params), params=frozen(params), file=m.file, line=m.line,
                lines=frozen(lines))


def _priority(params: dict[str, ParamValue]) -> float | None:
    value = params.get("replica-priority", params.get("slave-priority"))
    n = as_int(value)
    return float(n) if n is not None else None


def _implied_masters(monitors: list[tuple[_Member, _Monitor]],
                     members: list[_Member]) -> list[Node]:
    """Masters that sentinels monitor but no redis.conf in the group describes."""
    out: list[Node] = []
    for owner, mon in monitors:
        ref = f"{mon.host}:{mon.port}" if mon.port is not None else mon.host
        if any(n.name == ref for n in out) or _target(mon.host, mon.port, members):
            continue
        out.append(Node(name=ref, role="primary", host=mon.host, port=mon.port,
                        file=owner.file, line=mon.line))
    return out


def _known_peers(members: list[_Member], nodes: list[Node]) -> list[Node]:
    """`sentinel known-sentinel/known-replica` lines name peers no file describes."""
    out: list[Node] = []
    everyone = list(nodes)
    for m in members:
        for kind, master, host, port, line in m.known:
            if any(n.host is not None and same_host(n.host, host) and n.port == port
                   and (n.role == "sentinel") == (kind == "sentinel") for n in everyone):
                continue
            mon = next((x for x in m.monitors if x.master == master), None)
            up = _ref(mon.host, mon.port, members, m) if mon else None
            node = Node(name=f"{host}:{port}", role=kind, host=host, port=port,
                        upstream=up, file=m.file, line=line)
            out.append(node)
            everyone.append(node)
    return out
