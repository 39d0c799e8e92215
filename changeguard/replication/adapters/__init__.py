"""Adapters for real replication config formats (SPEC §6): lookup and `format: auto`.

`get(format)` returns an adapter; `detect(file)` names the format of one file from its
content, with the file name as a tie-breaker. Vagrantfiles and /etc/hosts-style maps
are detected as `mysql`: that adapter uses them to turn IP upstreams into member names.
"""

from __future__ import annotations

import difflib
import posixpath
from collections.abc import Callable

from changeguard.errors import InputError
from changeguard.replication.interface import Adapter, SourceFile

FORMATS = ("patroni", "postgresql", "mysql", "mongodb", "redis", "kubernetes")

# Extensions that are never YAML/JSON configs (skip the YAML detectors for them).
_TEXT_EXT = frozenset({".cnf", ".conf", ".ini", ".sh", ".bash", ".sql", ".signal", ".js",
                       ".mjs", ".md", ".rst", ".txt", ".cfg", ".html", ".rb", ".py"})
_YAML_ORDER = ("kubernetes", "patroni", "mongodb")
_TEXT_ORDER = ("mysql", "redis", "postgresql", "mongodb")
_NAME_HINTS = (("redis", "redis"), ("sentinel", "redis"), ("postgres", "postgresql"),
               ("pg", "postgresql"), ("my", "mysql"), ("maria", "mysql"), (".cnf", "mysql"))


class UnknownFormatError(InputError, LookupError):
    """An unknown `format:` name (exit 2; also a LookupError for lookup callers)."""


def get(format: str) -> Adapter:
    """The adapter for a format name; InputError with a did-you-mean when unknown."""
    factory = _factories().get(format)
    if factory is None:
        close = difflib.get_close_matches(format, [*FORMATS, "native", "auto"], n=1)
        hint = f"did you mean {close[0]!r}?" if close else "choose one of " + ", ".join(
            (*FORMATS, "native", "auto"))
        raise UnknownFormatError(f"unknown replication format {format!r}", hint=hint)
    return factory()


def _factories() -> dict[str, Callable[[], Adapter]]:
    # imported lazily: `changeguard --help` and the hook must not pay for them
    from changeguard.replication.adapters.kubernetes import KubernetesAdapter
    from changeguard.replication.adapters.mongodb import MongoDBAdapter
    from changeguard.replication.adapters.mysql import MySQLAdapter
    from changeguard.replication.adapters.patroni import PatroniAdapter
    from changeguard.replication.adapters.postgresql import PostgreSQLAdapter
    from changeguard.replication.adapters.redis import RedisAdapter
    from changeguard.replication.native import NativeAdapter

    return {"patroni": PatroniAdapter, "postgresql": PostgreSQLAdapter, "mysql": MySQLAdapter,
            "mongodb": MongoDBAdapter, "redis": RedisAdapter, "kubernetes": KubernetesAdapter,
            "native": NativeAdapter}


def detect(f: SourceFile) -> str | None:
    """The format of one file for `format: auto`, or None for supporting files."""
    ext = posixpath.splitext(f.path.lower())[1]
    order: tuple[str, ...] = _TEXT_ORDER if ext in _TEXT_EXT else (*_YAML_ORDER, *_TEXT_ORDER)
    if ext in (".js", ".mjs"):
        order = ("mongodb",)
    for fmt in order:
        if fmt in _YAML_ORDER and get(fmt).detect(f):
            return fmt  # a parsed YAML/JSON identity beats any text heuristic
    # the file name breaks ties: formats it hints at are asked first, the first yes wins
    text = [fmt for fmt in order if fmt not in _YAML_ORDER]
    name = posixpath.basename(f.path).lower()
    hinted = [fmt for needle, fmt in _NAME_HINTS if needle in name and fmt in text]
    for fmt in dict.fromkeys([*hinted, *text]):
        if get(fmt).detect(f):
            return fmt
    return None


__all__ = ["FORMATS", "UnknownFormatError", "detect", "get"]
