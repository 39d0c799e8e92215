"""PostgreSQL: postgresql.conf / postgresql.auto.conf (+ standby.signal, primary_conninfo).

A member is a data directory: the files named like PostgreSQL's own (postgresql.conf,
postgresql.auto.conf, standby.signal, recovery.conf) in one directory, or a single
custom-named conf file (`primary.conf`, `standby1.conf`). Members in sibling
directories (or side by side) form one topology. A member is a standby when it has
standby.signal (or recovery.conf with standby_mode on); when the group holds no signal
files at all, a non-empty primary_conninfo marks the standby instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from changeguard.errors import InputError
from changeguard.replication.adapters._common import (
    as_bool,
    as_int,
    basename,
    dirname,
    frozen,
    name_tokens,
    standalone,
    text_of,
    unique_name,
)
from changeguard.replication.adapters._conf import Entry, parse_conninfo, parse_pgconf
from changeguard.replication.interface import AdapterResult, SourceFile
from changeguard.replication.model import (
    Node,
    ParamValue,
    SyncSettings,
    Topology,
    normalise_host,
)

FORMAT = "postgresql"
_MAIN = ("postgresql.conf", "postgresql.base.conf")
_AUTO = "postgresql.auto.conf"
_SIGNALS = ("standby.signal", "recovery.signal")
_CANONICAL = (*_MAIN, _AUTO, *_SIGNALS, "recovery.conf")
# Defaults of the settings a hot standby must match (PostgreSQL 12+).
_DEFAULTS: dict[str, ParamValue] = {
    "max_connections": 100, "max_worker_processes": 8, "max_wal_senders": 10,
    "max_prepared_transactions": 0, "max_locks_per_transaction": 64, "wal_level": "replica",
}
_PG_KEYS = frozenset({
    "primary_conninfo", "synchronous_standby_names", "max_connections", "wal_level",
    "shared_buffers", "hot_standby", "listen_addresses", "max_wal_senders", "wal_keep_size",
    "wal_keep_segments", "archive_mode", "archive_command", "restore_command",
    "primary_slot_name", "max_replication_slots", "hba_file", "data_directory",
    "synchronous_commit", "effective_cache_size", "work_mem", "maintenance_work_mem",
    "checkpoint_timeout", "log_line_prefix", "standby_mode", "recovery_target_timeline",
    "max_worker_processes", "max_locks_per_transaction", "max_prepared_transactions",
    "wal_log_hints", "unix_socket_directories", "cluster_name", "timezone", "datestyle",
    "lc_messages", "default_text_search_config", "dynamic_shared_memory_type"})


@dataclass
class _Member:
    """One PostgreSQL server's settings."""

    key: str
    name: str
    file: str
    settings: dict[str, Entry] = field(default_factory=dict)
    lines_ok: set[str] = field(default_factory=set)  # settings read from `file` itself
    signal: str | None = None
    recovery_standby: bool = False


_KEY = re.compile(r"^[ \t]*([A-Za-z_][\w.\-]*)[ \t]*(=?)", re.MULTILINE)
_HEAD = 256 * 1024  # detection reads the head of a file; parsing reads all of it


def is_postgresql(text: str, path: str) -> bool:
    """postgresql.conf-like: mostly `name = value` lines with PostgreSQL setting names."""
    name = basename(path).lower()
    if name in _SIGNALS:
        return True
    found = [(m.group(1).lower(), m.group(2)) for m in _KEY.finditer(text, 0, _HEAD)]
    hits = len({k for k, _ in found} & _PG_KEYS)
    if name.startswith("postgresql") and name.endswith(".conf"):
        return hits >= 1 or not found
    eq_lines = sum(1 for _, eq in found if eq)
    return hits >= 2 and eq_lines * 2 >= len(found)


class PostgreSQLAdapter:
    """Reads postgresql.conf members of a directory group."""

    format = FORMAT

    def detect(self, f: SourceFile) -> bool:
        """postgresql*.conf, standby.signal, recovery.conf and look-alike conf files."""
        try:
            return is_postgresql(text_of(f), f.path)
        except InputError:
            return False

    def parse(self, files: Sequence[SourceFile]) -> AdapterResult:
        """Members keyed by data directory; topologies by their parent directory."""
        members: dict[str, _Member] = {}
        groups: dict[str, list[str]] = {}
        for f in sorted(files, key=lambda f: f.path):
            text = text_of(f)
            if not is_postgresql(text, f.path):
                continue  # a supporting file mapped to this format
            key, group = _keys(f.path)
            m = members.get(key)
            if m is None:
                taken = {x.name for x in members.values()}
                m = members[key] = _Member(key, unique_name(_name(f.path), taken), f.path)
                groups.setdefault(group, []).append(key)
            _read(m, f.path, text)
        return AdapterResult([standalone(_topology(g, [members[k] for k in keys]))
                              for g, keys in groups.items()])


def _keys(path: str) -> tuple[str, str]:
    """(member key, topology key) of a file."""
    d = dirname(path)
    if basename(path).lower() in _CANONICAL:
        return "dir:" + d, dirname(d)
    return "file:" + path, d


def _name(path: str) -> str:
    if basename(path).lower() in _CANONICAL:
        return basename(dirname(path)) or "postgresql"
    tokens = name_tokens(path)
    return "-".join(tokens) if tokens else basename(path)


def _read(m: _Member, path: str, text: str) -> None:
    name = basename(path).lower()
    if name in _SIGNALS:
        m.signal = name
        return
    settings = parse_pgconf(text)
    if name == "recovery.conf":
        m.recovery_standby = as_bool(settings.get("standby_mode", _NO).value) is True
    if name == _AUTO or name == "recovery.conf":  # read after postgresql.conf: overrides it
        m.settings.update(settings)
        m.lines_ok -= set(settings)
        if m.file == path:
            m.lines_ok |= set(settings)
        return
    if basename(m.file).lower() in _SIGNALS or basename(m.file).lower() == _AUTO:
        m.file = path
    m.settings = {**settings, **m.settings}
    m.lines_ok |= {k for k in settings if m.settings[k] is settings[k]}


_NO = Entry("", "", "off", 0)


def _topology(group: str, members: list[_Member]) -> Topology:
    any_signal = any(m.signal or m.recovery_standby for m in members)
    aliases = {m.name: _aliases(m) for m in members}
    nodes = [_node(m, any_signal, aliases) for m in members]
    primaries = [m for m, n in zip(members, nodes, strict=True) if n.role == "primary"]
    sync = _sync(primaries[0], aliases) if len(primaries) == 1 else None
    return Topology(name=group or ".", engine="postgresql", format=FORMAT, nodes=tuple(nodes),
                    files=tuple(m.file for m in members), sync=sync, file=members[0].file,
                    line=1)


def _value(m: _Member, key: str) -> str | None:
    e = m.settings.get(key)
    return e.value if e is not None else None


def _aliases(m: _Member) -> set[str]:
    """Names a member answers to: its name, cluster_name, application_name, listen address."""
    out = {m.name}
    for key in ("cluster_name",):
        v = _value(m, key)
        if v:
            out.add(v)
    app = parse_conninfo(_value(m, "primary_conninfo") or "").get("application_name")
    if app:
        out.add(app)
    host = _host(m)
    if host:
        out.add(host)
    return {normalise_host(a) for a in out}


def _host(m: _Member) -> str | None:
    listen = _value(m, "listen_addresses") or ""
    addrs = [a.strip() for a in listen.split(",") if a.strip()]
    specific = [a for a in addrs if a not in ("*", "0.0.0.0", "::")]
    if len(specific) == 1 and len(addrs) == 1:
        return specific[0]
    return None


def _node(m: _Member, any_signal: bool, aliases: dict[str, set[str]]) -> Node:
    conninfo = parse_conninfo(_value(m, "primary_conninfo") or "")
    standby = bool(m.signal == "standby.signal" or m.recovery_standby or (
        not any_signal and conninfo.get("host")))
    params: dict[str, ParamValue] = dict(_DEFAULTS)
    lines: dict[str, int] = {}
    for key, e in m.settings.items():
        params[key] = _number(e.value)
        if key in m.lines_ok:
            lines[f"params.{key}"] = e.line
    upstream = None
    if standby and conninfo.get("host"):
        upstream = _resolve(conninfo["host"], as_int(conninfo.get("port")), aliases, m.name)
        if "primary_conninfo" in m.lines_ok:
            lines["upstream"] = m.settings["primary_conninfo"].line
    port = as_int(_value(m, "port"))
    return Node(name=m.name, role="replica" if standby else "primary", host=_host(m),
                port=5432 if port is None else port, upstream=upstream, params=frozen(params),
                file=m.file, line=1, lines=frozen(lines))


def _number(value: str | None) -> ParamValue:
    if value is not None and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    return value


def _resolve(host: str, port: int | None, aliases: dict[str, set[str]], me: str) -> str:
    hits = [name for name, names in aliases.items()
            if name != me and normalise_host(host) in names]
    if len(hits) == 1:
        return hits[0]
    return f"{host}:{port}" if port is not None else host


_SSN = re.compile(r"\s*(?:(FIRST|ANY)\s+)?(?:(\d+)\s*)?\((.*)\)\s*$", re.IGNORECASE | re.DOTALL)


def parse_standby_names(value: str) -> tuple[str, int, list[str]]:
    """synchronous_standby_names → (method, count, names); plain lists mean FIRST 1."""
    m = _SSN.match(value)
    if m:
        method = (m.group(1) or "first").lower()
        count = int(m.group(2)) if m.group(2) else 1
        body = m.group(3)
    else:
        method, count, body = "first", 1, value
    names = [n.strip().strip('"') for n in body.split(",") if n.strip()]
    return method, count, names


def _sync(primary: _Member, aliases: dict[str, set[str]]) -> SyncSettings | None:
    value = _value(primary, "synchronous_standby_names")
    if not value or not value.strip():
        return None
    method, count, names = parse_standby_names(value)
    resolved = []
    for n in names:
        hits = [name for name, al in aliases.items() if normalise_host(n) in al]
        resolved.append(hits[0] if len(hits) == 1 else n)
    line = primary.settings["synchronous_standby_names"].line if (
        "synchronous_standby_names" in primary.lines_ok) else None
    lines = {k: line for k in ("mode", "count", "standby_names") if line is not None}
    return SyncSettings(mode=method, count=count, standby_names=tuple(resolved),
                        file=primary.file, line=line, lines=frozen(lines))
