"""Helpers shared by the format adapters: decoding, YAML access, coercion, findings."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import TypeVar

from changeguard.errors import InputError
from changeguard.findings import Finding, Severity
from changeguard.loader import JSONValue, Loaded, decode, parse_documents
from changeguard.replication.interface import SourceFile
from changeguard.replication.model import ParamValue, Topology

SCHEMA_RULE = "config-schema"
V = TypeVar("V")


def text_of(f: SourceFile) -> str:
    """UTF-8 text of a file (InputError naming the line of the first bad byte)."""
    return decode(f.data, f.path)


def yaml_docs(f: SourceFile) -> list[Loaded]:
    """Every YAML/JSON document of a file, with line maps."""
    return parse_documents(f.data, f.path)


_YAML_EXT = (".yaml", ".yml", ".json")


def yaml_docs_lenient(f: SourceFile) -> list[Loaded]:
    """YAML documents of a .yaml/.yml/.json file (errors raise); other files that do not
    parse are supporting files mapped to a YAML format (haproxy.cfg, README.md): none."""
    try:
        return parse_documents(f.data, f.path)
    except InputError:
        if f.path.lower().endswith(_YAML_EXT):
            raise
        return []


def get(data: JSONValue, *path: str | int) -> JSONValue:
    """Nested lookup that returns None on any missing key or wrong type."""
    cur = data
    for p in path:
        if isinstance(p, int):
            if not isinstance(cur, list) or not -len(cur) <= p < len(cur):
                return None
            cur = cur[p]
        else:
            if not isinstance(cur, dict):
                return None
            cur = cur.get(p)
    return cur


def as_dict(value: JSONValue) -> dict[str, JSONValue]:
    """The value if it is a mapping, else an empty one."""
    return value if isinstance(value, dict) else {}


def as_list(value: JSONValue) -> list[JSONValue]:
    """The value if it is a list, else an empty one."""
    return value if isinstance(value, list) else []


def as_int(value: JSONValue | ParamValue) -> int | None:
    """Ints, and strings holding an int (operators often quote numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
        return int(value)
    return None


def as_float(value: JSONValue | ParamValue) -> float | None:
    """Numbers and numeric strings (`"30"`, `"30s"`) as float; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().rstrip("s"))  # Patroni accepts "30" and 30
        except ValueError:
            return None
    return None


_TRUE = frozenset({"1", "on", "true", "yes", "y", "force_plus_permanent", "force"})
_FALSE = frozenset({"0", "off", "false", "no", "n"})


def as_bool(value: JSONValue | ParamValue) -> bool | None:
    """YAML/INI truthiness: true/on/1/yes; None when absent or not a boolean word."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str):
        v = value.strip().strip("'\"").lower()
        if v in _TRUE:
            return True
        if v in _FALSE:
            return False
    return None


def scalar(value: JSONValue) -> ParamValue:
    """A parameter value as stored in Node.params (containers become their text)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def frozen(d: Mapping[str, V]) -> Mapping[str, V]:
    """A read-only copy (model fields are immutable mappings)."""
    return MappingProxyType(dict(d))


def line_of(doc: Loaded, *path: str | int) -> int | None:
    """Line of a JSON path in a loaded document (nearest ancestor if absent)."""
    return doc.source.line_for(pointer(*path))


def pointer(*path: str | int) -> str:
    """The JSON pointer (RFC 6901) of a path; '' for the document itself."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def finding(rule: str, message: str, file: str | None, line: int | None,
            hint: str | None = None, severity: Severity = Severity.DENY) -> Finding:
    """A Finding without a pointer."""
    return Finding(rule, severity, message, file, line, None, hint)


def schema_finding(message: str, file: str, line: int | None, hint: str | None = None) -> Finding:
    """A `config-schema` finding: the file parses but cannot be read as its format."""
    return finding(SCHEMA_RULE, message, file, line, hint)


def dirname(path: str) -> str:
    """Directory of a '/'-separated repo path."""
    return posixpath.dirname(path)


def basename(path: str) -> str:
    """File name of a '/'-separated repo path."""
    return posixpath.basename(path)


def by_directory(files: Iterable[SourceFile]) -> dict[str, list[SourceFile]]:
    """Files grouped by their directory, in path order."""
    out: dict[str, list[SourceFile]] = {}
    for f in sorted(files, key=lambda f: f.path):
        out.setdefault(dirname(f.path), []).append(f)
    return out


_NAME_NOISE = frozenset({"my", "mysql", "mysqld", "mariadb", "cnf", "conf", "config", "cfg",
                         "server", "postgresql", "postgres", "auto", "redis", "yml", "yaml",
                         "json", "build", "init", "setup", "sql", "sh", "bash", "provision",
                         "bootstrap", "replication", "repl", "start", "configure", "etc"})


def name_tokens(path: str) -> list[str]:
    """Identifying tokens of a file name: `db1-my.cnf` → ['db1'], `init-replica2.sh` → ..."""
    stem = basename(path)
    return [t for t in re.split(r"[-_.\s]+", stem.lower()) if t and t not in _NAME_NOISE]


def node_name_from_path(path: str) -> str:
    """A member name derived from a file name, else its directory name."""
    tokens = name_tokens(path)
    if tokens:
        return "-".join(tokens)
    parent = basename(dirname(path))
    return parent or basename(path)


def unique_name(name: str, taken: Sequence[str] | set[str]) -> str:
    """`name`, or `name-2`, `name-3`… when taken (two files deriving the same name)."""
    if name not in taken:
        return name
    i = 2
    while f"{name}-{i}" in taken:
        i += 1
    return f"{name}-{i}"


def standalone(t: Topology) -> Topology:
    """A lone member replicating from outside the group is a standby of an external
    cluster (judged alone there is nothing to compare, as for a lone CR standby), not a
    replica with a missing upstream: it leads its own topology, and synchronous settings
    naming standbys that no file of the group describes are left to the full group."""
    data = [n for n in t.nodes if n.data_bearing]
    if len(data) != 1 or len(t.nodes) != 1:
        return t
    node = data[0]
    if node.upstream is None or t.resolve(node.upstream) is not None:
        return replace(t, sync=None)
    lines = dict(t.lines)
    up_line = node.lines.get("upstream")
    if up_line is not None:
        lines["upstream_cluster"] = up_line
    return replace(t, nodes=(replace(node, role="primary", upstream=None),), sync=None,
                   upstream_cluster=node.upstream, lines=frozen(lines))
