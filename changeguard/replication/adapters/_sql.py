"""`CHANGE MASTER TO` / `CHANGE REPLICATION SOURCE TO` statements in .sql and shell files.

In provisioning scripts the statement usually sits inside a quoted `mysql -e '…'`
argument, so values may be quoted with ', " or shell-escaped \\". We read the option
list only; nothing is executed or expanded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_START = re.compile(r"\bCHANGE\s+(?:MASTER|REPLICATION\s+SOURCE)\s+TO\b", re.IGNORECASE)
_OPTION = re.compile(
    r"\s*(\w+)\s*=\s*(\\?\"(?:[^\"\\]|\\[^\"])*\\?\"|\\?'(?:[^'\\]|\\[^'])*\\?'|[^\s,;'\"]+)",
)
_CHANNEL = re.compile(r"\s*FOR\s+CHANNEL\s+\\?[\"']?([\w.-]*)", re.IGNORECASE)
# `mysql -h db2 …` / `--host=db2` / `docker exec [-i] db2 …` on the same line names the
# server the statement runs on
_CLIENT_HOST = re.compile(r"(?:\s-h\s*|\s--host[= ]|\bexec(?:\s+-[-\w=]+)*\s+)"
                          r"[\"']?([\w.:-]+)")


@dataclass(frozen=True)
class ChangeSource:
    """One CHANGE MASTER statement: its options (upper-cased names) and where it is."""

    line: int
    options: dict[str, str] = field(default_factory=dict)
    option_lines: dict[str, int] = field(default_factory=dict)
    channel: str = ""
    client_host: str | None = None

    def get(self, *names: str) -> str | None:
        """First present option among `names` (MASTER_HOST vs SOURCE_HOST spellings)."""
        for n in names:
            if n in self.options:
                return self.options[n]
        return None

    @property
    def host(self) -> str | None:
        """MASTER_HOST / SOURCE_HOST."""
        return self.get("MASTER_HOST", "SOURCE_HOST")

    @property
    def port(self) -> int | None:
        """MASTER_PORT / SOURCE_PORT as a number."""
        value = self.get("MASTER_PORT", "SOURCE_PORT")
        return int(value) if value and value.isdigit() else None

    @property
    def auto_position(self) -> bool:
        """GTID auto-positioning requested."""
        return self.get("MASTER_AUTO_POSITION", "SOURCE_AUTO_POSITION") == "1"


def find_change_sources(text: str) -> list[ChangeSource]:
    """Every CHANGE MASTER/REPLICATION SOURCE statement outside `--`/`#` comment lines."""
    out: list[ChangeSource] = []
    for m in _START.finditer(text):
        line_start = text.rfind("\n", 0, m.start()) + 1
        prefix = text[line_start:m.start()].lstrip()
        if prefix.startswith(("--", "#", "//")):
            continue
        lineno = text.count("\n", 0, m.start()) + 1
        out.append(_statement(text, m.end(), lineno, text[line_start:m.start()]))
    return out


def _statement(text: str, pos: int, lineno: int, lead: str) -> ChangeSource:
    options: dict[str, str] = {}
    lines: dict[str, int] = {}
    while True:
        m = _OPTION.match(text, pos)
        if not m:
            break
        name = m.group(1).upper()
        options[name] = _unquote(m.group(2))
        lines[name] = text.count("\n", 0, m.start(1)) + 1
        pos = m.end()
        comma = re.match(r"\s*,", text[pos:pos + 64])
        if not comma:
            break
        pos += comma.end()
    ch = _CHANNEL.match(text, pos)
    client = _CLIENT_HOST.search(" " + lead)
    return ChangeSource(lineno, options, lines, ch.group(1) if ch else "",
                        client.group(1) if client else None)


def _unquote(value: str) -> str:
    v = value.replace('\\"', '"').replace("\\'", "'")
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
        return v[1:-1]
    return v
