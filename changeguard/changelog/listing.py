"""`list`: every change's summary row at the log's tip, ordered by window start (SPEC §8).

The rows live in the tip's `list/` shards (256 small JSON files). At 10k changes, reading and
parsing them, and encoding 10k rows again, is most of `list`'s cost (issue 17). So the
rendered rows, in list order, are remembered under the git dir together with the blob id of
the shard each came from: after an event only the shard it touched is read again and its
rows are put back in place. A cache for local reads only: it is never written or read under
CI (`caches.enabled`), and a file whose version or checksum does not match, or whose rows
have the wrong shape, is ignored and rewritten.

The file keeps the rows twice over, cheaply: a small head (shard blob ids, the emergency
rows), an index (sort keys, states, each row's length), and the body, `list --format json`'s
output byte for byte. The common read (no event since, no filter, no row overdue) checks the
checksum and the head and writes the body as it is; at 10k rows, building 10k row strings
just to join them again cost more than the rest of `list` (issue 17). The index is read only
when rows must be picked or put back.
"""

import hashlib
import json
import marshal
import struct
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
_VERSION = "changeguard-list-v4"
_MAGIC = _VERSION.encode() + b"\n"
_SUM = 32  # bytes of sha256 after the magic line
_SIZES = struct.Struct("<QQ")  # lengths of the head and the index that follow the checksum
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
    """The rendered rows in list order (parallel lists), and where each came from.

    Read from the cache file, the rows are first only `body` (the JSON output) and `index`
    (the marshalled keys, states and row lengths): `rows()` splits them out when needed."""

    keys: list[Key] = field(default_factory=list)
    json: list[str] = field(default_factory=list)  # each row as `json.dumps` writes it
    states: list[str] = field(default_factory=list)  # interned: stored once per state
    emergency: dict[Key, ListRow] = field(default_factory=dict)  # rows `overdue` may flag
    shards: dict[str, str] = field(default_factory=dict)  # name -> blob id read
    body: memoryview | None = None  # `[row, row]\n` while the rows are as read or saved
    index: memoryview | None = None  # not yet split out of `body`

    def rows(self) -> "Listed":
        """Self, with keys, json and states split out of the file's index and body.

        ValueError when they do not have the shapes `_save` writes."""
        if self.index is not None:
            assert self.body is not None
            keys, states, sizes = _split_index(marshal.loads(self.index), len(self.body))
            text = self.body[1:-2].tobytes().decode()
            self.keys, self.states, self.json = keys, states, _cut(text, sizes)
            self.index = None
            if not _emergency_listed(self):
                raise ValueError("emergency rows that are not listed")
        return self


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
    got.rows().body = None
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
    if fresh:
        got.rows().body = None
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
        raw = memoryview(path.read_bytes())
    except OSError:
        return None
    start = len(_MAGIC) + _SUM
    if raw[:len(_MAGIC)] != _MAGIC or len(raw) < start + _SIZES.size \
            or raw[len(_MAGIC):start] != hashlib.sha256(raw[start:]).digest():
        return None
    head_len, index_len = _SIZES.unpack_from(raw, start)
    head_at = start + _SIZES.size
    index_at = head_at + head_len
    body = raw[index_at + index_len:]
    if body[:1].tobytes() != b"[" or body[-2:].tobytes() != b"]\n":
        return None
    try:
        return _checked(marshal.loads(raw[head_at:index_at]), raw[index_at:index_at + index_len],
                        body)
    except (EOFError, ValueError, TypeError):
        return None


def _checked(head: Any, index: memoryview, body: memoryview) -> Listed | None:
    """The cache's head when its parts have the shapes this module writes (what the
    checksum already vouches for: a cheap guard against a file of another version)."""
    if type(head) is not tuple or len(head) != 2:
        return None
    emergency, shards = head
    if type(emergency) is not dict or type(shards) is not dict \
            or set(map(type, chain(shards, shards.values()))) - {str} \
            or any(type(k) is not tuple or len(k) != 3 or set(map(type, k)) - {str}
                   or type(r) is not dict or r.get("type") != "emergency"
                   for k, r in emergency.items()):
        return None
    return Listed(emergency=emergency, shards=shards, body=body, index=index)


def _split_index(data: Any, body_len: int) -> tuple[list[Key], list[str], list[int]]:
    if type(data) is not tuple or len(data) != 3:
        raise ValueError("not an index")
    keys, states, sizes = data
    if any(type(c) is not list or len(c) != len(keys) for c in (keys, states, sizes)) \
            or set(map(type, keys)) - {tuple} or set(map(len, keys)) - {3} \
            or set(map(type, states)) - {str} or set(map(type, sizes)) - {int} \
            or sum(sizes) + 2 * max(len(sizes) - 1, 0) + 3 != body_len:
        raise ValueError("not an index of this body")
    return keys, [sys.intern(x) for x in states], sizes


def _cut(text: str, sizes: list[int]) -> list[str]:
    """The rows of `text` (rows joined by ", "), `sizes` their lengths in UTF-8 bytes."""
    if text.isascii():  # bytes are characters
        out, at = [], 0
        for n in sizes:
            out.append(text[at:at + n])
            at += n + 2
        return out
    raw = text.encode()
    out, at = [], 0
    for n in sizes:
        out.append(raw[at:at + n].decode())
        at += n + 2
    return out


def _emergency_listed(got: Listed) -> bool:
    for key in got.emergency:
        i = bisect_left(got.keys, key)
        if i == len(got.keys) or got.keys[i] != key:
            return False
    return True


def _encode(got: Listed) -> bytes:
    """The cache file holding `got` (what `_load` reads back)."""
    rows = [r.encode() for r in got.json]
    head = marshal.dumps((got.emergency, got.shards))
    index = marshal.dumps((got.keys, got.states, [len(r) for r in rows]))
    payload = _SIZES.pack(len(head), len(index)) + head + index + b"[" + b", ".join(rows) + \
        b"]\n"
    return _MAGIC + hashlib.sha256(payload).digest() + payload


def _save(path: Path, got: Listed) -> None:
    write_atomic(path, _encode(got))


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
    except (TypeError, ValueError, EOFError):  # an index this module did not write: read all
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
           now: datetime, cache_dir: Path | None, fmt: str) -> str | memoryview:
    """`list` as `fmt` ("json": the SPEC §8 rows as `json.dumps` writes them; else text).

    The rows as remembered come as the cache file's bytes, newline included, to be written
    as they are; any other answer is text without the final newline."""
    got = listed(git, ref_tip(git, ref), cache_dir)
    if got.body is not None and fmt == "json" and state is None and not only_overdue \
            and not any(overdue(r, hours, now) for r in got.emergency.values()):
        return got.body  # every row as remembered, none to flag
    try:
        got.rows()
    except (TypeError, ValueError, EOFError):  # an index this module did not write
        got = listed(git, ref_tip(git, ref), None)
    late = _late(got, hours, now)
    picked = _chosen(got, state, only_overdue, late)
    if isinstance(picked, range) and not any(late.values()):
        rows = got.json  # every row, none to flag
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
    text = render(git, ref, state=state, only_overdue=only_overdue, hours=hours, now=now,
                  cache_dir=cache_dir, fmt="json")
    rows: list[dict[str, object]] = json.loads(text if isinstance(text, str) else bytes(text))
    return rows
