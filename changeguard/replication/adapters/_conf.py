"""Line-oriented config parsers: my.cnf (INI), postgresql.conf, redis/sentinel directives.

Each returns plain entries that carry their 1-based line so findings can point at them.
They never evaluate anything and accept what the servers accept; input the server itself
would refuse (an unbalanced quote in redis.conf) raises InputError.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from changeguard.errors import InputError


@dataclass(frozen=True, slots=True)
class Entry:
    """One `key = value` setting (value None for a bare flag such as `log_bin`)."""

    section: str
    key: str
    value: str | None
    line: int


@dataclass(frozen=True, slots=True)
class Directive:
    """One redis.conf/sentinel.conf line: lower-cased name and its arguments."""

    name: str
    args: tuple[str, ...]
    line: int


_SECTION = re.compile(r"\[\s*([^\]]*?)\s*\]")


def norm_key(key: str) -> str:
    """MySQL treats `-` and `_` in option names alike; compare them in one spelling."""
    return key.strip().lower().replace("-", "_")


def parse_cnf(text: str) -> list[Entry]:
    """MySQL/MariaDB option file: `[group]`, `key=value`, bare flags, `#`/`;` comments."""
    out: list[Entry] = []
    section = ""
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;" or line.startswith("!"):  # !include(dir) is not followed
            continue
        m = _SECTION.match(line)
        if m:
            section = m.group(1).lower()
            continue
        key, sep, value = line.partition("=")
        key = _strip_comment(key) if not sep else key
        if not key.strip():
            continue
        out.append(Entry(section, norm_key(key), _cnf_value(value) if sep else None, no))
    return out


def _strip_comment(text: str) -> str:
    return text.split("#", 1)[0]


def _cnf_value(value: str) -> str:
    v = value.strip()
    if v[:1] in ("'", '"'):
        end = v.find(v[0], 1)
        if end > 0:
            return v[1:end]
    return _strip_comment(v).strip()


def cnf_settings(entries: list[Entry], sections: tuple[str, ...]) -> dict[str, Entry]:
    """The effective settings of the given groups (later lines win, as mysqld reads them)."""
    out: dict[str, Entry] = {}
    for e in entries:
        if e.section in sections:
            out[e.key] = e
    return out


_PG_LINE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*(=\s*)?(.*)$")


def parse_pgconf(text: str) -> dict[str, Entry]:
    """postgresql.conf / postgresql.auto.conf: `name = value` (last one wins), `#` comments."""
    out: dict[str, Entry] = {}
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _PG_LINE.match(line)
        if not m:
            continue
        key = m.group(1).lower()
        if key in ("include", "include_if_exists", "include_dir") and not m.group(2):
            continue
        out[key] = Entry("", key, _pg_value(m.group(3)), no)
    return out


def _pg_value(rest: str) -> str:
    rest = rest.strip()
    if rest.startswith("'"):
        chars: list[str] = []
        i = 1
        while i < len(rest):
            c = rest[i]
            if c == "'" and rest[i + 1:i + 2] == "'":  # '' is an escaped quote
                chars.append("'")
                i += 2
                continue
            if c == "'":
                break
            if c == "\\" and i + 1 < len(rest):
                i += 1
                c = rest[i]
            chars.append(c)
            i += 1
        return "".join(chars)
    return rest.split("#", 1)[0].strip()


def parse_conninfo(conninfo: str) -> dict[str, str]:
    """libpq `key=value key='quoted value'` or a postgresql:// URI → lower-cased keys."""
    s = conninfo.strip()
    if s.startswith(("postgresql://", "postgres://")):
        return _conninfo_uri(s)
    out: dict[str, str] = {}
    for m in re.finditer(r"(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S*)", s):
        v = m.group(2)
        if v.startswith("'"):
            v = re.sub(r"\\(.)", r"\1", v[1:-1])
        out[m.group(1).lower()] = v
    return out


def _conninfo_uri(uri: str) -> dict[str, str]:
    rest = uri.split("://", 1)[1]
    hostpart = rest.split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
    out: dict[str, str] = {}
    first = hostpart.split(",", 1)[0]
    if first.startswith("["):  # [v6]:port
        host, _, port = first[1:].partition("]")
        port = port.lstrip(":")
    else:
        host, _, port = first.partition(":")
    if host:
        out["host"] = host
    if port:
        out["port"] = port
    return out


def parse_directives(text: str, name: str) -> list[Directive]:
    """redis.conf / sentinel.conf lines split like redis' sdssplitargs (quotes, escapes)."""
    out: list[Directive] = []
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        args = split_args(line)
        if args is None:
            raise InputError("unbalanced quotes in configuration line", file=name, line=no,
                             hint="close the quote; redis refuses to start with this line")
        if args:
            out.append(Directive(args[0].lower(), tuple(args[1:]), no))
    return out


_HEX = "0123456789abcdefABCDEF"
_REDIS_ESC = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "a": "\a"}


def split_args(line: str) -> list[str] | None:
    """Split like redis' sdssplitargs; None when quotes are unbalanced."""
    if '"' not in line and "'" not in line:
        return line.split()
    args: list[str] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i].isspace():
            i += 1
        if i >= n:
            return args
        if line[i] in "\"'":
            word, i2 = _quoted(line, i)
            if word is None:
                return None
            i = i2
        else:
            j = i
            while j < n and not line[j].isspace():
                j += 1
            word, i = line[i:j], j
        args.append(word)


def _quoted(line: str, i: int) -> tuple[str | None, int]:
    quote, i, n = line[i], i + 1, len(line)
    chars: list[str] = []
    while i < n:
        c = line[i]
        if quote == '"' and c == "\\" and i + 1 < n:
            nxt = line[i + 1]
            if nxt == "x" and i + 3 < n and line[i + 2] in _HEX and line[i + 3] in _HEX:
                chars.append(chr(int(line[i + 2:i + 4], 16)))
                i += 4
                continue
            chars.append(_REDIS_ESC.get(nxt, nxt))
            i += 2
            continue
        if quote == "'" and c == "\\" and line[i + 1:i + 2] == "'":
            chars.append("'")
            i += 2
            continue
        if c == quote:
            # the closing quote must be followed by a space or the end of the line
            if i + 1 < n and not line[i + 1].isspace():
                return None, i
            return "".join(chars), i + 1
        chars.append(c)
        i += 1
    return None, i
