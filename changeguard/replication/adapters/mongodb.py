"""MongoDB replica-set configs: JSON/YAML documents or `rs.initiate({...})` literals.

The replica-set `_id` is the cluster identity (SPEC §6). Members are named by `host`;
member `_id`s act as server ids (they must be unique). MongoDB elects its primary, so
the model's primary is the electable member with the highest priority; the other data
members replicate from it.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import replace

from changeguard.errors import InputError
from changeguard.loader import JSONValue, Loaded
from changeguard.replication.adapters._common import (
    as_bool,
    as_dict,
    as_float,
    as_int,
    as_list,
    basename,
    frozen,
    get,
    line_of,
    pointer,
    text_of,
    yaml_docs,
)
from changeguard.replication.adapters._jslit import find_replset_configs, parse_js_literal
from changeguard.replication.interface import AdapterResult, SourceFile
from changeguard.replication.model import Node, Topology, split_address

FORMAT = "mongodb"
_JS_EXT = (".js", ".mjs", ".mongodb")
_SHELL_EXT = frozenset({".sh", ".bash", ".zsh", ""})
_DOC_EXT = (".json", ".yaml", ".yml")
_SHELL_CALL = re.compile(r"\brs\s*\.\s*(initiate|reconfig)\s*\(\s*[{\w]")


def replset_config(data: JSONValue) -> tuple[dict[str, JSONValue], str] | None:
    """The replica-set config in a document (bare, or under `config` as rs.conf() prints)."""
    for prefix in ("", "config"):
        doc = as_dict(get(data, prefix)) if prefix else as_dict(data)
        if isinstance(doc.get("_id"), str) and isinstance(doc.get("members"), list):
            return doc, prefix
    return None


class MongoDBAdapter:
    """Reads replica-set configs from JSON/YAML files and mongo-shell scripts."""

    format = FORMAT

    def detect(self, f: SourceFile) -> bool:
        """`rs.initiate`/`rs.reconfig` scripts and `{_id, members}` documents."""
        try:
            if _script_kind(f.path):  # a call is enough; parse reports a bad literal
                return bool(_SHELL_CALL.search(text_of(f)))
            return bool(_configs(f, strict=False))
        except InputError:
            return False

    def parse(self, files: Sequence[SourceFile]) -> AdapterResult:
        """One topology per replica-set `_id` (the highest `version`, else the last)."""
        chosen: dict[str, tuple[str, Loaded, dict[str, JSONValue], str]] = {}
        for f in sorted(files, key=lambda f: f.path):
            for loaded, cfg, prefix in _configs(f, strict=True):
                rs = str(cfg["_id"])
                old = chosen.get(rs)
                if old is None or (as_int(cfg.get("version")) or 0) >= (
                        as_int(old[2].get("version")) or 0):
                    chosen[rs] = (f.path, loaded, cfg, prefix)
        return AdapterResult([_topology(*v) for v in chosen.values()])


def _configs(f: SourceFile, strict: bool) -> list[tuple[Loaded, dict[str, JSONValue], str]]:
    """Replica-set configs in a file; `strict` raises on a malformed candidate."""
    kind = _script_kind(f.path)
    shell = kind == "shell"
    if kind:
        text = text_of(f)
        if shell:  # mongosh --eval "rs.initiate({_id: \"rs0\", ...})"
            if not _SHELL_CALL.search(text):
                return []
            text = text.replace('\\"', '"')
        try:
            docs = find_replset_configs(text, f.path)
        except InputError:
            if strict:
                raise
            return []
    else:
        docs = _documents(f, strict)
    out = []
    for d in docs:
        found = replset_config(d.data)
        if found is not None:
            out.append((d, found[0], found[1]))
    return out


def _script_kind(path: str) -> str | None:
    lower = path.lower()
    if lower.endswith(_JS_EXT):
        return "js"
    if posixpath.splitext(lower)[1] in _SHELL_EXT and basename(lower) != "vagrantfile":
        return "shell"
    return None


def _documents(f: SourceFile, strict: bool) -> list[Loaded]:
    if not f.path.lower().endswith(_DOC_EXT):
        return []  # my.cnf, redis.conf, README.md: never a replica-set document
    try:
        return yaml_docs(f)
    except InputError:
        # mongo-shell output (ObjectId(...), single quotes) is JS, not JSON
        text = text_of(f)
        start = text.find("{")
        if start < 0:
            if strict and f.path.lower().endswith(".json"):
                raise
            return []
        try:
            return [parse_js_literal(text, f.path, start)[0]]
        except InputError:
            if strict and f.path.lower().endswith(".json"):
                raise
            return []


def _topology(path: str, loaded: Loaded, cfg: dict[str, JSONValue], prefix: str) -> Topology:
    base = (prefix,) if prefix else ()
    nodes = [_member(path, loaded, as_dict(m), (*base, "members", i))
             for i, m in enumerate(as_list(cfg.get("members")))]
    nodes = _elect(nodes)
    rs = str(cfg["_id"])
    return Topology(name=rs, engine="mongodb", format=FORMAT, nodes=tuple(nodes), cluster=rs,
                    kind="ReplicaSet", files=(path,), file=path,
                    line=line_of(loaded, *base, "_id") or 1)


def _member(path: str, loaded: Loaded, m: dict[str, JSONValue],
            at: tuple[str | int, ...]) -> Node:
    host = str(m.get("host") or f"member-{m.get('_id')}")
    h, port = split_address(host)
    arbiter = as_bool(m.get("arbiterOnly")) is True
    tags = as_dict(m.get("tags"))
    zone = tags.get("zone") or tags.get("dc") or tags.get("region")
    flags = {k for k in ("hidden", "buildIndexes") if k in m and as_bool(m.get(k)) is (
        k == "hidden")}
    # model field -> member key; `name` is the host (issue 16.9: pointers for each)
    keys = {"server_id": "_id", "host": "host", "name": "host", "priority": "priority",
            "votes": "votes", "role": "arbiterOnly", "hidden": "hidden",
            "zone": "tags"}
    present = {ours: k for ours, k in keys.items() if k in m}
    lines: dict[str, int] = {ours: line_of(loaded, *at, k) or 1 for ours, k in present.items()}
    pointers = {ours: pointer(*at, k) for ours, k in present.items()}
    pointers[""] = pointer(*at)
    prio = as_float(m.get("priority"))
    return Node(name=host, role="arbiter" if arbiter else "replica", host=h, port=port,
                zone=str(zone) if zone is not None else None, server_id=as_int(m.get("_id")),
                priority=prio, votes=as_int(m.get("votes")), tags=frozenset(flags), file=path,
                line=line_of(loaded, *at) or 1, lines=frozen(lines), pointers=frozen(pointers))


def _elect(nodes: list[Node]) -> list[Node]:
    """The electable member with the highest priority (default 1) becomes the primary."""
    electable = [n for n in nodes if n.role != "arbiter" and n.voting_weight > 0
                 and "hidden" not in n.tags and (n.priority is None or n.priority > 0)]
    if not electable:
        return nodes
    leader = max(electable, key=lambda n: 1.0 if n.priority is None else n.priority)
    return [replace(n, role="primary") if n is leader else
            (replace(n, upstream=leader.name) if n.data_bearing else n) for n in nodes]
