"""MySQL/MariaDB: my.cnf files plus CHANGE MASTER statements (SPEC §6 `mysql`).

A group is a directory. Each option file with a server section is one member; `.sql`
and `.sh` files of the group give replicas their upstream through `CHANGE MASTER TO` /
`CHANGE REPLICATION SOURCE TO`. Provisioning scripts name upstreams by IP, so a
Vagrantfile or /etc/hosts-style file in the group maps addresses back to member names.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from changeguard.errors import InputError
from changeguard.findings import Severity
from changeguard.replication.adapters._common import (
    SCHEMA_RULE,
    basename,
    dirname,
    finding,
    frozen,
    name_tokens,
    node_name_from_path,
    standalone,
    text_of,
    unique_name,
)
from changeguard.replication.adapters._conf import Entry, cnf_settings, parse_cnf
from changeguard.replication.adapters._hosts import (
    looks_like_hosts,
    parse_hosts,
    parse_vagrantfile,
)
from changeguard.replication.adapters._sql import ChangeSource, find_change_sources
from changeguard.replication.interface import AdapterResult, SourceFile
from changeguard.replication.model import (
    MemberCount,
    Node,
    ParamValue,
    SyncSettings,
    Topology,
    normalise_host,
)

FORMAT = "mysql"
_SERVER_SECTION = re.compile(r"(mysqld|server|mariadb|mariadbd|galera|mysqld-[\d.]+|"
                             r"mariadb-[\d.]+|mariadbd-[\d.]+|mysqld\d+)$")
_MARIADB_HINTS = ("wsrep_", "gtid_domain_id", "gtid_strict_mode", "log_slave_updates_")
# Parameters the invariants and transition rules read; the rest are kept too.
_BARE_ON = "ON"
# CHANGE MASTER statements count only in scripts: docs quoting one (README) do not.
_SCRIPT_EXT = frozenset({".sql", ".sh", ".bash", ".zsh", ".ksh", ".bats", ".ddl", ""})
_HOST_KEYS = ("report_host", "bind_address", "wsrep_node_address")


@dataclass
class _Server:
    """One server's option file entries."""

    file: str
    name: str
    entries: dict[str, Entry]
    sections: set[str]
    aliases: set[str] = field(default_factory=set)
    source: tuple[str, ChangeSource] | None = None


def is_option_file(text: str) -> bool:
    """An option file with a server group ([mysqld], [mariadb], [galera], ...)."""
    return any(_SERVER_SECTION.match(e) for e in _sections(text))


def _sections(text: str) -> list[str]:
    return [m.group(1).strip().lower()
            for m in re.finditer(r"^\s*\[\s*([^\]\n]+?)\s*\]", text, re.MULTILINE)]


def is_script(path: str) -> bool:
    """SQL and shell scripts (and extension-less files such as Dockerfiles)."""
    name = basename(path).lower()
    return name != "vagrantfile" and posixpath.splitext(name)[1] in _SCRIPT_EXT


def has_change_source(text: str, path: str) -> bool:
    """A script that runs CHANGE MASTER TO / CHANGE REPLICATION SOURCE TO."""
    return is_script(path) and bool(find_change_sources(text))


class MySQLAdapter:
    """Reads my.cnf members, CHANGE MASTER scripts and host maps of one directory group."""

    format = FORMAT

    def detect(self, f: SourceFile) -> bool:
        """Option files with a server group, CHANGE MASTER scripts, host maps."""
        try:
            text = text_of(f)
        except InputError:  # undecodable: not a text config
            return False
        return (is_option_file(text) or has_change_source(text, f.path)
                or _is_host_map(f.path, text))

    def parse(self, files: Sequence[SourceFile]) -> AdapterResult:
        """One topology per directory that holds at least one server option file.

        A generically named option file (`my.cnf`, `mysqld.cnf`) names its server by its
        directory (`replica1/my.cnf`), so such servers group one level up.
        """
        result = AdapterResult()
        node_dirs = {dirname(f.path) for f in files
                     if not name_tokens(f.path) and is_option_file(text_of(f))}
        groups: dict[str, list[SourceFile]] = {}
        for f in sorted(files, key=lambda f: f.path):
            d = dirname(f.path)
            groups.setdefault(dirname(d) if d in node_dirs else d, []).append(f)
        for directory, group in groups.items():
            topology = _group(directory, group, result)
            if topology is not None:
                result.topologies.append(standalone(topology))
        return result


def _is_host_map(path: str, text: str) -> bool:
    name = basename(path).lower()
    if name == "vagrantfile":
        return bool(parse_vagrantfile(text))
    return "hosts" in name and looks_like_hosts(text)


def _group(directory: str, files: list[SourceFile], result: AdapterResult) -> Topology | None:
    servers: list[_Server] = []
    scripts: list[tuple[str, str, list[ChangeSource]]] = []
    hosts: dict[str, list[str]] = {}
    for f in files:
        text = text_of(f)
        if is_option_file(text):
            servers.append(_server(f.path, text, {s.name for s in servers}))
        elif basename(f.path).lower() == "vagrantfile":
            _merge(hosts, parse_vagrantfile(text))
        elif "hosts" in basename(f.path).lower() and looks_like_hosts(text):
            _merge(hosts, parse_hosts(text))
        elif is_script(f.path):
            found = find_change_sources(text)
            if found:
                scripts.append((f.path, text, found))
    if not servers:
        return None
    _add_aliases(servers, hosts)
    for path, text, found in scripts:
        _assign(path, text, found, servers, result)
    return _topology(directory, servers, hosts)


def _merge(into: dict[str, list[str]], more: dict[str, list[str]]) -> None:
    for ip, names in more.items():
        into.setdefault(ip, []).extend(n for n in names if n not in into.get(ip, []))


def _server(path: str, text: str, taken: set[str]) -> _Server:
    entries = parse_cnf(text)
    sections = {e.section for e in entries} | set(_sections(text))
    server_sections = tuple(s for s in sections if _SERVER_SECTION.match(s))
    settings = cnf_settings(entries, server_sections)
    settings = {k.removeprefix("loose_"): v for k, v in settings.items()}
    report = settings.get("report_host")
    if report is not None and report.value:  # a duplicate report-host must stay visible
        return _Server(path, report.value, settings, sections)
    return _Server(path, unique_name(node_name_from_path(path), taken), settings, sections)


def _add_aliases(servers: list[_Server], hosts: dict[str, list[str]]) -> None:
    """Every spelling a server may be named by: name, file tokens, host keys, mapped IPs."""
    for s in servers:
        s.aliases |= {s.name, *name_tokens(s.file)}
        for key in _HOST_KEYS:
            e = s.entries.get(key)
            if e is not None and e.value:
                s.aliases.add(e.value)
    for ip, names in hosts.items():
        for s in servers:
            if s.aliases & set(names):
                s.aliases.add(ip)
    for s in servers:
        s.aliases = {normalise_host(a) for a in s.aliases if a}


def _assign(path: str, text: str, found: list[ChangeSource], servers: list[_Server],
            result: AdapterResult) -> None:
    """Give each statement to the server it runs on (client -h, cnf copied, file name)."""
    for cs in found:
        owner = _owner(path, text, cs, servers)
        if owner is None:
            # a warning: the statement may target a server outside this group
            result.findings.append(finding(
                SCHEMA_RULE, "cannot tell which server this CHANGE MASTER statement "
                "configures", path, cs.line, "name the script after the server (e.g. "
                "db2-setup.sh) or run `mysql -h HOST` with that server's report-host",
                Severity.WARN))
            continue
        if owner.source is None or owner.source[1].line < cs.line:
            owner.source = (path, cs)  # the last statement a script runs wins


def _owner(path: str, text: str, cs: ChangeSource, servers: list[_Server]) -> _Server | None:
    if cs.client_host:
        hit = _named(cs.client_host, servers)
        if hit is not None:
            return hit
    beside = [s for s in servers if dirname(s.file) == dirname(path)]
    if len(beside) == 1 and not name_tokens(beside[0].file):  # replica1/{my.cnf,init.sql}
        return beside[0]
    copied = [s for s in servers if basename(s.file) in text]
    if len(copied) == 1:
        return copied[0]
    tokens = set(name_tokens(path))
    named = [s for s in servers if tokens & s.aliases]
    if len(named) == 1:
        return named[0]
    replicas = [s for s in servers if not _points_at(cs, s)]
    return replicas[0] if len(servers) == 2 and len(replicas) == 1 else None


def _named(ref: str, servers: list[_Server]) -> _Server | None:
    """The server a host reference names: exactly, else by a distinctive name part
    (`mysql-master` or `docker-mysql-replica1` for the server in `master/`)."""
    h = normalise_host(ref)
    exact = [s for s in servers if h in s.aliases]
    if len(exact) == 1:
        return exact[0]
    if exact or re.fullmatch(r"[\d.:]+", h):
        return None
    parts = set(re.split(r"[-_.]+", h.split(".", 1)[0])) - {"mysql", "mysqld", "mariadb",
                                                            "db", "docker", "server"}
    fuzzy = [s for s in servers if parts & s.aliases]
    return fuzzy[0] if len(fuzzy) == 1 else None


def _points_at(cs: ChangeSource, s: _Server) -> bool:
    return cs.host is not None and normalise_host(cs.host) in s.aliases


def _topology(directory: str, servers: list[_Server], hosts: dict[str, list[str]]) -> Topology:
    implied = _implied_source(servers)
    nodes = [_node(s, servers, hosts, implied.get(s.name)) for s in servers]
    engine = "mariadb" if any(_is_mariadb(s) for s in servers) else "mysql"
    files = tuple(dict.fromkeys([s.file for s in servers]
                                + [s.source[0] for s in servers if s.source]))
    t = Topology(name=directory or ".", engine=engine, format=FORMAT, nodes=tuple(nodes),
                 files=files, file=servers[0].file, line=1)
    return _semi_sync(_cluster_mode(t, servers))


_TRUE_WORDS = frozenset({"on", "1", "true", "yes", "force", "force_plus_permanent"})


def _on(s: _Server, *keys: str) -> Entry | None:
    """The first of `keys` set to a true value (bare flags are on)."""
    for k in keys:
        e = s.entries.get(k)
        if e is not None and (e.value is None or e.value.strip().lower() in _TRUE_WORDS):
            return e
    return None


def _members_listed(s: _Server, key: str) -> int:
    e = s.entries.get(key)
    value = (e.value or "") if e is not None else ""
    value = value.split("://", 1)[-1].split("?", 1)[0]
    return len([x for x in value.split(",") if x.strip()])


def _cluster_mode(t: Topology, servers: list[_Server]) -> Topology:
    """Galera (wsrep) and group replication: a group of voting members, not a chain."""
    galera = [s for s in servers if _on(s, "wsrep_on") or (s.entries.get("wsrep_provider")
              and s.entries.get("wsrep_cluster_address"))]
    group = [s for s in servers if s.entries.get("group_replication_group_name")
             or s.entries.get("group_replication_group_seeds")]
    if galera:
        key, members = "wsrep_cluster_address", galera
    elif group:
        key, members = "group_replication_group_seeds", group
    else:
        return t
    first = members[0]
    declared = max(len(members), max(_members_listed(s, key) for s in members))
    e = first.entries.get(key)
    size = MemberCount(key, declared, 3, 0, first.file, e.line if e is not None else 1)
    names = [s.name for s in members]
    multi = bool(galera) or any(
        (s.entries.get("group_replication_single_primary_mode") or _OFF).value in ("OFF", "off",
                                                                                  "0")
        for s in members)
    if multi:  # every member takes writes: a declared multi-primary set
        nodes = [replace(n, role="primary", upstream=None) if n.name in names else n
                 for n in t.nodes]
        return replace(t, nodes=tuple(nodes), co_masters=(tuple(names),), sizes=(size,))
    # single-primary group replication: the group elects one; secondaries are read-only
    nodes = [n if n.name != names[0] else replace(n, role="primary", upstream=None)
             for n in t.nodes]
    nodes = [replace(n, role="replica", upstream=names[0], params=frozen(
        {**n.params, "super_read_only": "ON"})) if n.name in names[1:] else n for n in nodes]
    return replace(t, nodes=tuple(nodes), sizes=(size,))


_OFF = Entry("", "", "ON", 0)


def _semi_sync(t: Topology) -> Topology:
    """Semi-synchronous replication enabled on the primary: commits wait for N replicas."""
    primaries = t.primaries()
    if len(primaries) != 1 or t.co_masters:
        return t
    p = primaries[0]
    for prefix in ("rpl_semi_sync_master", "rpl_semi_sync_source"):
        if str(p.param(f"{prefix}_enabled") or "").strip().lower() in _TRUE_WORDS:
            count = p.param(f"{prefix}_wait_for_slave_count") or p.param(
                f"{prefix}_wait_for_replica_count")
            line = p.param_line(f"{prefix}_enabled")
            n = int(count) if isinstance(count, str) and count.isdigit() else 1
            return replace(t, sync=SyncSettings(mode="semi", count=n, file=p.file, line=line,
                                                lines=frozen({"count": line or 1})))
    return t


def _is_mariadb(s: _Server) -> bool:
    return any(sec.startswith(("mariadb", "galera")) for sec in s.sections) or any(
        k.startswith(_MARIADB_HINTS) for k in s.entries)


_REPLICA_HINTS = ("relay_log", "skip_slave_start", "skip_replica_start", "replicate_",
                  "slave_parallel", "replica_parallel")


def _implied_source(servers: list[_Server]) -> dict[str, str]:
    """Without any CHANGE MASTER in the group, servers configured as replicas (read_only,
    relay log, replicate-* filters) replicate from the one server that is not."""
    if len(servers) < 2 or any(s.source or s.entries.get("master_host") for s in servers):
        return {}
    hinted = {s.name for s in servers if _on(s, "read_only", "super_read_only") or any(
        k.startswith(_REPLICA_HINTS) for k in s.entries)}
    writable = [s for s in servers if s.name not in hinted]
    if len(writable) != 1 or not hinted:
        return {}
    return {name: writable[0].name for name in hinted}


def _node(s: _Server, servers: list[_Server], hosts: dict[str, list[str]],
          implied: str | None = None) -> Node:
    params: dict[str, ParamValue] = {}
    lines: dict[str, int] = {}
    for key, e in s.entries.items():
        params[key] = _BARE_ON if e.value is None else e.value
        lines[f"params.{key}"] = e.line
    for off, key in (("skip_log_bin", "log_bin"), ("disable_log_bin", "log_bin")):
        if off in s.entries and key not in s.entries:
            params[key] = "OFF"
            lines[f"params.{key}"] = s.entries[off].line
    sid = s.entries.get("server_id")
    if sid is not None:
        lines["server_id"] = sid.line
    upstream = _upstream(s, servers, lines) or implied
    # the CHANGE MASTER statement is where the upstream is set: findings point there
    elsewhere = {"upstream": s.source[0]} if s.source is not None and upstream else {}
    port = s.entries.get("port")
    return Node(
        name=s.name, role="replica" if upstream else "primary", host=_host(s, hosts),
        port=int(port.value) if port is not None and port.value and port.value.isdigit()
        else None,
        upstream=upstream, server_id=_int(sid.value if sid is not None else None),
        params=frozen(params), file=s.file,
        line=sid.line if sid is not None else 1, lines=frozen(lines),
        field_files=frozen(elsewhere))


def _upstream(s: _Server, servers: list[_Server], lines: dict[str, int]) -> str | None:
    if s.source is not None:
        ref = s.source[1].host
        lines["upstream"] = s.source[1].line
    else:  # MySQL < 5.5 accepted master-host in my.cnf
        e = s.entries.get("master_host")
        ref = e.value if e is not None else None
        if e is not None:
            lines["upstream"] = e.line
    if not ref:
        return None
    target = _named(ref, servers)
    if target is not None:
        return target.name
    port = s.source[1].port if s.source is not None else None
    return f"{ref}:{port}" if port else ref


def _host(s: _Server, hosts: dict[str, list[str]]) -> str | None:
    """The machine: a mapped IP, else report-host / bind-address when specific."""
    for ip, names in hosts.items():
        if s.name in names:
            return ip
    for key in _HOST_KEYS:
        e = s.entries.get(key)
        if e is not None and e.value and e.value not in ("0.0.0.0", "*", "::"):
            return e.value.split(",")[0].strip()
    return None


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip(), 0)
    except ValueError:
        return None
