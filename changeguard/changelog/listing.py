"""`list`: every change's summary row at the log's tip, ordered by window start (SPEC §8).

The rows live in the tip's `list/` shards (256 small JSON files). At 10k changes, reading and
parsing them, and encoding 10k rows again, is most of `list`'s cost (issue 17). So the
rendered rows, in list order, are remembered under the git dir together with the blob id of
the shard each came from: after an event only the shard it touched is read again and its
rows are put back in place. A cache for local reads only: it is never written or read under
CI (`caches.enabled`), and a file whose version or checksum does not match, or whose parts
have the wrong shape, is ignored and rewritten.

The rows are kept as columns that cost nothing to read back: the body (`list --format
json`'s output, byte for byte), and byte strings of each row's length, sort key, shard and
state. The common read (no event since, no filter, nothing overdue) checks the checksum and
writes the body as it is. After an event the body is spliced: the runs of rows that did not
change are copied as slices, the touched shard's rows are put in by binary search on the
keys. No per-row Python object is made for the 10k rows that stay (at 10k rows, making them
cost more than the rest of `list`).
"""

from __future__ import annotations

import json
import marshal
import struct
from array import array
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import accumulate
from pathlib import Path
from typing import Any, TypedDict, cast

from changeguard import caches
from changeguard.caches import write_atomic
from changeguard.changelog.state import STATES, ListRow, overdue
from changeguard.changelog.store import Git, parse_tree, ref_tip
from changeguard.errors import InputError

CACHE = "changeguard/list-cache.marshal"
_VERSION = "changeguard-list-v6"
_MAGIC = _VERSION.encode() + b"\n"
_SIZES = struct.Struct("<QQ")  # lengths of the head and the index that follow the checksum
_SEP = b", "
Chunks = list[bytes | memoryview]  # parts of one text, to be written one after the other
_OTHER = 255  # state code of a row whose state is none of STATES (it matches no filter)
# fewer changed rows than this are put in place one by one; more, and all are sorted again
_IN_PLACE = 256


class ListingArgs(TypedDict):
    """What `list` is asked besides the log: filters, review deadline, clock, cache dir."""

    state: str | None
    only_overdue: bool
    hours: float
    now: datetime
    cache_dir: Path | None


def _sizes() -> array[int]:
    return array("I")


def _codes() -> array[int]:
    return array("H")


@dataclass
class Listed:
    """The rows in list order, as columns over `body` (`[row, row]\\n`, UTF-8).

    Rows are ordered by their key: window start, id and shard joined by NUL, in UTF-8 (the
    order of the tuple of the three: no key holds a NUL, `_key` refuses one). The shard only
    breaks ties between two rows of one id (a log with a row in two shards lists both).
    """

    body: Chunks = field(default_factory=lambda: [b"[]\n"])  # parts of the text, in order
    sizes: array[int] = field(default_factory=_sizes)  # each row's length in body
    keys: bytes | memoryview = b""  # the rows' keys, one after the other
    key_sizes: array[int] = field(default_factory=_sizes)
    shard_of: array[int] = field(default_factory=_codes)  # index into `names`
    states: bytes = b""  # each row's state, as its index in STATES
    names: list[str] = field(default_factory=list)  # shard names the rows came from
    emergency: dict[bytes, ListRow] = field(default_factory=dict)  # rows `overdue` may flag
    shards: dict[str, str] = field(default_factory=dict)  # name -> blob id read
    _keys: _Keys | None = field(default=None, repr=False, compare=False)  # `key_at`, once

    def __len__(self) -> int:
        return len(self.sizes)

    def starts(self) -> list[int]:
        """Where each row begins in `body`."""
        return list(accumulate((n + len(_SEP) for n in self.sizes[:-1]), initial=1))

    def key_at(self) -> _Keys:
        """The rows' keys as a sequence (for binary search); the columns are set once, so
        their offsets are summed once."""
        if self._keys is None:
            self._keys = _Keys(self.keys, list(accumulate(self.key_sizes, initial=0)))
        return self._keys

    def flat(self) -> memoryview:
        """The body in one piece (joined once, when rows are picked out of it)."""
        if len(self.body) != 1:
            self.body = [b"".join(self.body)]
        return memoryview(self.body[0])

    def row(self, i: int, starts: list[int]) -> memoryview:
        """Row `i` as printed."""
        return self.flat()[starts[i]:starts[i] + self.sizes[i]]


class _Keys(Sequence[bytes]):
    """Key `i` sliced out of the key column on demand."""

    def __init__(self, keys: bytes | memoryview, offsets: list[int]) -> None:
        self._keys, self.offsets = keys, offsets

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> bytes:  # type: ignore[override]
        return bytes(self._keys[self.offsets[i]:self.offsets[i + 1]])


@dataclass(frozen=True)
class _New:
    """A row read from a shard: its key, its bytes, state code and shard."""

    key: bytes
    row: bytes
    state: int
    shard: str
    data: ListRow


def _json_row(r: ListRow, late: bool) -> bytes:
    data = {"id": r["id"], "title": r["title"], "state": r["state"], "author": r["author"],
            "window": {"start": r["window"]["start"], "end": r["window"]["end"]},
            "overdue": late}
    try:
        return json.dumps(data, ensure_ascii=False).encode()
    except UnicodeEncodeError:  # a lone surrogate: escaped, so the output stays UTF-8
        return json.dumps(data).encode()


def _key(r: ListRow, shard: str) -> bytes:
    parts = (r["window"]["start"], r["id"], shard)
    if any("\0" in p for p in parts):
        raise _Uncacheable
    return "\0".join(parts).encode("utf-8", "surrogatepass")


class _Uncacheable(Exception):
    """A row whose key the key column cannot order as the tuple of its fields would."""


def _text_row(r: dict[str, Any]) -> str:
    flag = "  OVERDUE review" if r["overdue"] else ""
    return (f"{r['id']:<28} {r['state']:<12} {r['window']['start']}  {r['author']}  "
            f"{r['title']}{flag}")


def _shard_rows(blob: tuple[str, str, bytes] | None) -> list[ListRow]:
    """The rows one `list/` shard holds (none when it is not a blob)."""
    rows = list(json.loads(blob[2]).values()) if blob is not None and blob[1] == "blob" else []
    return cast("list[ListRow]", rows)


def _state_code(r: ListRow) -> int:
    return STATES.index(r["state"]) if r["state"] in STATES else _OTHER


def _rows_of(shard: str, blob: tuple[str, str, bytes] | None) -> list[_New]:
    return [_New(_key(r, shard), _json_row(r, False), _state_code(r), shard, r)
            for r in _shard_rows(blob)]


# ---- bringing the rows to the tip -------------------------------------------------------

def _update(got: Listed, git: Git, shards: dict[str, str]) -> tuple[Listed, bool]:
    """`got` brought to the tree's `shards` (name -> blob id), and whether it changed."""
    gone = {n for n, sha in got.shards.items() if shards.get(n) != sha}
    fresh = [n for n in shards if n not in got.shards or n in gone]
    if not gone and not fresh:  # the common read: no event since the cache was written
        return got, False
    new: list[_New] = []
    for name, blob in zip(fresh, git.read_many([shards[n] for n in fresh]), strict=True):
        new.extend(_rows_of(name, blob))
    new.sort(key=lambda x: x.key)
    out = _spliced(got, gone, new) if len(new) < _IN_PLACE and len(got) else \
        _built(got, gone, new)
    out.shards = dict(shards)
    out.emergency = {k: r for k, r in got.emergency.items() if k.split(b"\0")[-1].decode(
        "utf-8", "surrogatepass") not in gone}
    out.emergency.update((x.key, x.data) for x in new if x.data["type"] == "emergency")
    return out, True


def _kept(got: Listed, gone: set[str]) -> Sequence[int]:
    """Row numbers of `got` whose shard is not in `gone`."""
    skip = set(_gone_rows(got, gone))
    return [i for i in range(len(got)) if i not in skip] if skip else range(len(got))


def _built(got: Listed, gone: set[str], new: list[_New]) -> Listed:
    """Every row sorted again (the first read, or many new rows)."""
    starts, keys = got.starts(), got.key_at()
    old = [_New(keys[i], bytes(got.row(i, starts)), got.states[i], got.names[got.shard_of[i]],
                cast("ListRow", None)) for i in _kept(got, gone)]
    return _of_rows(sorted([*old, *new], key=lambda x: x.key), got.names.copy())


def _of_rows(rows: list[_New], names: list[str]) -> Listed:
    """The listing of `rows`, in list order already (`names`: the shard names table)."""
    out = Listed(names=names)
    cols = _Columns(out)
    for x in rows:
        cols.add(x)
    cols.done()
    out.body = [b"".join((b"[", _SEP.join(x.row for x in rows), b"]\n"))]
    return out


class _Columns:
    """Appends rows to the columns of `out` (its names table grows as shards appear); the
    key and state columns are joined once, by `done`."""

    def __init__(self, out: Listed) -> None:
        self.out = out
        self.code = {n: i for i, n in enumerate(out.names)}
        self.keys: list[bytes | memoryview] = [out.keys]
        self.states = bytearray(out.states)

    def add(self, x: _New) -> None:
        out = self.out
        if x.shard not in self.code:
            self.code[x.shard] = len(out.names)
            out.names.append(x.shard)
        out.sizes.append(len(x.row))
        out.key_sizes.append(len(x.key))
        out.shard_of.append(self.code[x.shard])
        self.keys.append(x.key)
        self.states.append(x.state)

    def add_run(self, got: Listed, a: int, b: int) -> None:
        """`got`'s rows a..b-1, as slices of each column (shard numbers: same names table)."""
        out = self.out
        at = got.key_at().offsets
        self.keys.append(memoryview(got.keys)[at[a]:at[b]])
        out.sizes.extend(got.sizes[a:b])
        out.key_sizes.extend(got.key_sizes[a:b])
        out.shard_of.extend(got.shard_of[a:b])
        self.states += got.states[a:b]

    def done(self) -> None:
        self.out.keys, self.out.states = b"".join(self.keys), bytes(self.states)


def _gone_rows(got: Listed, gone: set[str]) -> list[int]:
    """Row numbers of `got` whose shard is in `gone`, ascending, found by searching the
    shard column's bytes (a few rows out of 10k: no Python step per row)."""
    data = got.shard_of.tobytes()
    width = got.shard_of.itemsize
    out: list[int] = []
    for code in (i for i, n in enumerate(got.names) if n in gone):
        pat = array("H", [code]).tobytes()
        at = data.find(pat)
        while at >= 0:
            if at % width == 0:
                out.append(at // width)
            at = data.find(pat, at + 1)
    out.sort()
    return out


def _spliced(got: Listed, gone: set[str], new: list[_New]) -> Listed:
    """`got` without the rows of `gone`, with `new` put in place: the rows in between are
    copied as runs (slices of each column), not one by one."""
    keys = got.key_at()
    at = [bisect_left(keys, x.key) for x in new]  # `new` is sorted; before old row at[k]
    out = Listed(names=got.names.copy())  # a copy that only grows: shard numbers hold
    cols = _Columns(out)
    body: Chunks = [b"["]
    view = got.flat()
    sizes, sep = got.sizes, len(_SEP)
    start = 1  # where old row `a` begins in the body
    a = 0  # the first old row not copied or skipped yet
    for piece in _pieces(_gone_rows(got, gone), at, len(got)):
        if isinstance(piece, tuple):  # old rows a..b-1, one run in every column
            b = piece[1]
            end = start + sum(sizes[a:b]) + sep * (b - a - 1)
            body += (view[start:end], _SEP)
            cols.add_run(got, a, b)
            start, a = end + sep, b
        elif piece < 0:  # old row -piece-1, whose shard is gone
            start += sizes[a] + sep
            a += 1
        else:
            body += (new[piece].row, _SEP)
            cols.add(new[piece])
    if len(body) > 1:
        body.pop()  # the separator after the last row
    body.append(b"]\n")
    out.body = body
    cols.done()
    return out


def _pieces(skip: list[int], at: list[int], n: int) -> list[tuple[int, int] | int]:
    """In list order, over the `n` old rows: (a, b) for old rows a..b-1 to copy, -i-1 for
    old row i to skip (its number in `skip`, ascending), or k for the k-th new row, which
    goes before old row `at[k]` (ascending; n: at the end)."""
    out: list[tuple[int, int] | int] = []
    a, k, s = 0, 0, 0
    while a < n or k < len(at):
        nxt = min(at[k] if k < len(at) else n, skip[s] if s < len(skip) else n)
        if nxt > a:
            out.append((a, nxt))
            a = nxt
        elif k < len(at) and at[k] == a:
            out.append(k)
            k += 1
        else:  # nxt == a < n and no new row goes here: old row a is skip[s]
            out.append(-a - 1)
            s += 1
            a += 1
    return out


# ---- the file ---------------------------------------------------------------------------

def _load(path: Path) -> Listed | None:
    try:
        raw = caches.unsealed(_MAGIC, path.read_bytes())
    except OSError:
        return None
    if raw is None or len(raw) < _SIZES.size:
        return None
    head_len, index_len = _SIZES.unpack_from(raw)
    head_at = _SIZES.size
    index_at = head_at + head_len
    try:
        return _checked(marshal.loads(raw[head_at:index_at]),
                        marshal.loads(raw[index_at:index_at + index_len]),
                        raw[index_at + index_len:])
    except (EOFError, ValueError, TypeError, OverflowError):
        return None


def _checked(head: Any, index: Any, body: memoryview) -> Listed | None:
    """The cache's rows when its parts have the shapes this module writes (what the
    checksum already vouches for: a cheap guard against a file of another version)."""
    if type(head) is not tuple or len(head) != 3 or type(index) is not tuple \
            or len(index) != 5 or set(map(type, index)) - {bytes}:
        return None
    emergency, shards, names = head
    if type(emergency) is not dict or type(shards) is not dict or type(names) is not list \
            or set(map(type, [*shards, *shards.values(), *names])) - {str} \
            or any(type(k) is not bytes or type(r) is not dict or r.get("type") != "emergency"
                   for k, r in emergency.items()):
        return None
    keys, key_sizes, sizes, shard_of, states = index
    got = Listed([body], array("I", sizes), keys, array("I", key_sizes), array("H", shard_of),
                 states, names, emergency, shards)
    n = len(got)
    if len(got.key_sizes) != n or len(got.shard_of) != n or len(states) != n \
            or sum(got.key_sizes) != len(keys) or (n and max(got.shard_of) >= len(names)) \
            or sum(got.sizes) + len(_SEP) * max(n - 1, 0) + 3 != len(body) \
            or bytes(body[:1]) != b"[" or bytes(body[-2:]) != b"]\n":
        return None
    listed_keys = got.key_at()
    for key in emergency:
        i = bisect_left(listed_keys, key)
        if i == n or listed_keys[i] != key:
            return None
    return got


def _encode(got: Listed) -> Chunks:
    """The cache file holding `got` (what `_load` reads back), in parts."""
    head = marshal.dumps((got.emergency, got.shards, got.names))
    index = marshal.dumps((bytes(got.keys), got.key_sizes.tobytes(), got.sizes.tobytes(),
                           got.shard_of.tobytes(), got.states))
    return caches.sealed(_MAGIC, [_SIZES.pack(len(head), len(index)), head, index, *got.body])


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
    except _Uncacheable:  # such a key cannot be ordered as bytes: rows as the tree has them
        return _plain(git, shards)
    if changed and path is not None:
        write_atomic(path, _encode(rows))
    return rows


def _plain(git: Git, shards: dict[str, str]) -> Listed:
    """Every row, sorted by the tuple of its key's fields; nothing remembered."""
    rows: list[tuple[tuple[str, str, str], bytes, int, str, ListRow]] = []
    for name, blob in zip(shards, git.read_many(list(shards.values())), strict=True):
        rows.extend(((r["window"]["start"], r["id"], name), _json_row(r, False),
                     _state_code(r), name, r) for r in _shard_rows(blob))
    rows.sort(key=lambda t: t[0])
    ordered = [_New(str(i).zfill(12).encode(), row, st, name, r)
               for i, (_, row, st, name, r) in enumerate(rows)]
    out = _of_rows(ordered, [])
    out.emergency = {x.key: x.data for x in ordered if x.data["type"] == "emergency"}
    return out


def _list_tree(git: Git, tip: str | None) -> tuple[str, bytes] | None:
    got = git.read(f"{tip}:list") if tip is not None else None
    return (got[0], got[2]) if got is not None and got[1] == "tree" else None


# ---- answering --------------------------------------------------------------------------

def _late(got: Listed, hours: float, now: datetime) -> dict[int, bool]:
    """Row index -> overdue, for the emergency rows (no other row can be overdue)."""
    if not got.emergency:
        return {}
    keys = got.key_at()
    return {bisect_left(keys, k): overdue(r, hours, now) for k, r in got.emergency.items()}


def _chosen(got: Listed, state: str | None, only_overdue: bool,
            late: dict[int, bool]) -> range | list[int]:
    if state is not None and state not in STATES:
        raise InputError(f"unknown state {state!r}", hint="one of " + ", ".join(STATES))
    picked: range | list[int] = range(len(got))
    if only_overdue:
        picked = sorted(i for i, od in late.items() if od)
    if state:
        code = STATES.index(state)
        picked = [i for i in picked if got.states[i] == code]
    return picked


def render(git: Git, ref: str, *, state: str | None, only_overdue: bool, hours: float,
           now: datetime, cache_dir: Path | None, fmt: str) -> str | Chunks:
    """`list` as `fmt`: "json", the SPEC §8 rows as `json.dumps` writes them, in UTF-8 and
    ending in a newline, to be written as they are; else text, without the final newline."""
    got = listed(git, ref_tip(git, ref), cache_dir)
    late: dict[int, bool] = {i: od for i, od in _late(got, hours, now).items() if od}
    if state is None and not only_overdue and not late:
        text = got.body  # every row as remembered, none to flag
    else:
        picked = _chosen(got, state, only_overdue, late)
        starts = got.starts()
        keys = got.key_at()
        rows = [_json_row(got.emergency[keys[i]], True) if i in late else got.row(i, starts)
                for i in picked]
        text = [b"".join((b"[", _SEP.join(rows), b"]\n"))]
    if fmt == "json":
        return text
    rows_data = json.loads(b"".join(text))
    return "\n".join(map(_text_row, rows_data)) if rows_data else "no changes"


def list_rows(git: Git, ref: str, *, state: str | None, only_overdue: bool, hours: float,
              now: datetime, cache_dir: Path | None) -> list[dict[str, object]]:
    """SPEC §8 `list` rows, ordered by window start."""
    text = render(git, ref, state=state, only_overdue=only_overdue, hours=hours, now=now,
                  cache_dir=cache_dir, fmt="json")
    rows: list[dict[str, object]] = json.loads(text if isinstance(text, str) else
                                               b"".join(text))
    return rows
