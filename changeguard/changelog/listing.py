"""`list`: every change's summary row at the log's tip, ordered by window start (SPEC §8).

The rows live in the tip's `list/` shards (256 small JSON files). At 10k changes, reading and
parsing them, and encoding 10k rows again, is most of `list`'s cost (issue 17). So the
rendered rows, in list order, are remembered under the git dir together with the blob id of
the shard each came from: after an event only the shard it touched is read again and its
rows are put back in place. A cache for local reads only: it is never written or read under
CI (`caches.enabled`), and a file whose version or checksum does not match, or whose rows
have the wrong shape, is ignored and rewritten.
"""

import hashlib
import json
import marshal
import sys
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from pathlib import Path
from typing import Any, TypedDict, cast

from changeguard.caches import write_atomic
from changeguard.changelog.state import STATES, ListRow, overdue
from changeguard.changelog.store import Git, parse_tree, ref_tip
from changeguard.errors import InputError

CACHE = "changeguard/list-cache.marshal"
_VERSION = "changeguard-list-v3"
_MAGIC = _VERSION.encode() + b"\n"
_SUM = 32  # bytes of sha256 after the magic line
# Rows are kept sorted by this key: (window start, id, shard). The shard name only breaks
# ties between two rows of one id (a log with a row in two shards lists both, as before).
Key = tuple[str, str, str]
# fewer changed rows than this are put in place one by one; more, and all are sorted again
_IN_PLACE = 256


class ListingArgs(TypedDict):
    """What `list` is asked besides the log: filters, review deadline, clock, cache dir."""

    state: str | None
    only_overdue: bool
    hours: float
    now: datetime
    cache_dir: Path | None


@dataclass
class Listed:
    """The rendered rows in list order (parallel lists), and where each came from."""

    keys: list[Key] = field(default_factory=list)
    json: list[str] = field(default_factory=list)  # each row as `json.dumps` writes it
    states: list[str] = field(default_factory=list)  # interned: stored once per state
    emergency: dict[Key, ListRow] = field(default_factory=dict)  # rows `overdue` may flag
    shards: dict[str, str] = field(default_factory=dict)  # name -> blob id read


def _json_row(r: ListRow, late: bool) -> str:
    return json.dumps({"id": r["id"], "title": r["title"], "state": r["state"],
                       "author": r["author"],
                       "window": {"start": r["window"]["start"], "end": r["window"]["end"]},
                       "overdue": late}, ensure_ascii=False)


def _text_row(r: dict[str, Any]) -> str:
    flag = "  OVERDUE review" if r["overdue"] else ""
    return (f"{r['id']:<28} {r['state']:<12} {r['window']['start']}  {r['author']}  "
            f"{r['title']}{flag}")


def _rows_of(shard: str, blob: tuple[str, str, bytes] | None) -> list[tuple[Key, ListRow]]:
    rows = list(json.loads(blob[2]).values()) if blob is not None and blob[1] == "blob" else []
    return [((r["window"]["start"], r["id"], shard), cast("ListRow", r)) for r in rows]


def _remove(got: Listed, gone: set[str]) -> None:
    """Drop the rows of the shards named in `gone`."""
    if not gone:  # the common read: no event since the cache was written
        return
    for i in reversed([i for i, k in enumerate(got.keys) if k[2] in gone]):
        del got.keys[i], got.json[i], got.states[i]
    got.emergency = {k: r for k, r in got.emergency.items() if k[2] not in gone}
    for name in gone:
        del got.shards[name]


def _insert(got: Listed, key: Key, r: ListRow) -> None:
    i = bisect_left(got.keys, key)
    got.keys.insert(i, key)
    got.json.insert(i, _json_row(r, False))
    got.states.insert(i, sys.intern(r["state"]))


def _sorted_again(got: Listed, new: list[tuple[Key, ListRow]]) -> None:
    kept = zip(got.keys, got.json, got.states, strict=True)
    fresh = ((k, _json_row(r, False), sys.intern(r["state"])) for k, r in new)
    rows = sorted(chain(kept, fresh), key=lambda t: t[0])
    got.keys = [t[0] for t in rows]
    got.json = [t[1] for t in rows]
    got.states = [t[2] for t in rows]


def _update(got: Listed, git: Git, shards: dict[str, str]) -> tuple[Listed, bool]:
    """`got` brought to the tree's `shards` (name -> blob id), and whether it changed."""
    gone = {n for n, sha in got.shards.items() if shards.get(n) != sha}
    _remove(got, gone)
    fresh = [n for n in shards if n not in got.shards]
    blobs = git.read_many([shards[n] for n in fresh])
    new: list[tuple[Key, ListRow]] = []
    for name, blob in zip(fresh, blobs, strict=True):
        new.extend(_rows_of(name, blob))
        got.shards[name] = shards[name]
    for key, r in new:
        if r["type"] == "emergency":
            got.emergency[key] = r
    if len(new) < _IN_PLACE:
        for key, r in new:
            _insert(got, key, r)
    else:
        _sorted_again(got, new)
    return got, bool(gone or fresh)


def _load(path: Path) -> Listed | None:
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    body = raw[len(_MAGIC) + _SUM:]
    if not raw.startswith(_MAGIC) or raw[len(_MAGIC):len(_MAGIC) + _SUM] != \
            hashlib.sha256(body).digest():
        return None
    try:
        return _checked(marshal.loads(body))
    except (EOFError, ValueError, TypeError):  # TypeError: keys that do not compare
        return None


def _checked(data: Any) -> Listed | None:
    """The cache's content when its parts have the shapes this module writes (what the
    checksum already vouches for: a cheap guard against a file of another version)."""
    if type(data) is not tuple or len(data) != 5:
        return None
    keys, js, states, emergency, shards = data
    if any(type(c) is not list or len(c) != len(keys) for c in (keys, js, states)) \
            or type(emergency) is not dict or type(shards) is not dict \
            or set(map(type, keys)) - {tuple} or set(map(len, keys)) - {3} \
            or set(map(type, chain(js, states, shards, shards.values()))) - {str}:
        return None
    for key, r in emergency.items():
        i = bisect_left(keys, key)
        if i == len(keys) or keys[i] != key or type(r) is not dict or r.get("type") != "emergency":
            return None
    return Listed(keys, js, states, emergency, shards)


def _save(path: Path, got: Listed) -> None:
    body = marshal.dumps((got.keys, got.json, got.states, got.emergency, got.shards))
    write_atomic(path, _MAGIC + hashlib.sha256(body).digest() + body)


def listed(git: Git, tip: str | None, cache_dir: Path | None) -> Listed:
    """The rows at `tip`, each shard's remembered under `cache_dir` by blob id (None:
    nothing remembered, as under CI)."""
    got = _list_tree(git, tip)
    if got is None:
        return Listed()
    shards = {name: e.sha for name, e in parse_tree(got[1], len(got[0]) // 2).items()}
    path = cache_dir / CACHE if cache_dir is not None else None
    try:
        rows, changed = _update((_load(path) if path is not None else None) or Listed(), git,
                                shards)
    except TypeError:  # keys of a cache this module did not write do not compare: read all
        rows, changed = _update(Listed(), git, shards)
    if changed and path is not None:
        _save(path, rows)
    return rows


def _list_tree(git: Git, tip: str | None) -> tuple[str, bytes] | None:
    got = git.read(f"{tip}:list") if tip is not None else None
    return (got[0], got[2]) if got is not None and got[1] == "tree" else None


def _late(got: Listed, hours: float, now: datetime) -> dict[int, bool]:
    """Row index -> overdue, for the emergency rows (no other row can be overdue)."""
    return {bisect_left(got.keys, k): overdue(r, hours, now) for k, r in got.emergency.items()}


def _chosen(got: Listed, state: str | None, only_overdue: bool,
            late: dict[int, bool]) -> range | list[int]:
    if state is not None and state not in STATES:
        raise InputError(f"unknown state {state!r}", hint="one of " + ", ".join(STATES))
    picked: range | list[int] = range(len(got.keys))
    if only_overdue:
        picked = sorted(i for i, od in late.items() if od)
    if state:
        picked = [i for i in picked if got.states[i] == state]
    return picked


def render(git: Git, ref: str, *, state: str | None, only_overdue: bool, hours: float,
           now: datetime, cache_dir: Path | None, fmt: str) -> str:
    """`list` as `fmt` ("json": the SPEC §8 rows as `json.dumps` writes them; else text)."""
    got = listed(git, ref_tip(git, ref), cache_dir)
    late = _late(got, hours, now)
    picked = _chosen(got, state, only_overdue, late)
    if isinstance(picked, range) and not any(late.values()):
        rows = got.json  # the common case: every row, none to flag
    else:
        rows = [_json_row(got.emergency[got.keys[i]], True) if late.get(i) else got.json[i]
                for i in picked]
    text = "[" + ", ".join(rows) + "]"
    if fmt == "json":
        return text
    return "\n".join(map(_text_row, json.loads(text))) if rows else "no changes"


def list_rows(git: Git, ref: str, *, state: str | None, only_overdue: bool, hours: float,
              now: datetime, cache_dir: Path | None) -> list[dict[str, object]]:
    """SPEC §8 `list` rows, ordered by window start."""
    rows: list[dict[str, object]] = json.loads(render(
        git, ref, state=state, only_overdue=only_overdue, hours=hours, now=now,
        cache_dir=cache_dir, fmt="json"))
    return rows
