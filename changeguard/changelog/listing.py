"""`list`: every change's summary row at the log's tip, ordered by window start (SPEC §8).

The rows live in the tip's `list/` shards (256 small JSON files). At 10k changes reading and
parsing them is most of `list`'s cost (issue 17), so each shard's compact rows are also
remembered under the git dir, keyed by the shard's blob id: after an event only the shard
it touched is read again. A cache for local reads only: it is never written or read under CI
(`caches.enabled`), and a file whose version or checksum does not match, or a row of the
wrong shape, is ignored and rewritten.
"""

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import cast

from changeguard.caches import write_atomic
from changeguard.changelog.state import STATES, ListRow, overdue
from changeguard.changelog.store import Git, parse_tree, ref_tip
from changeguard.errors import InputError

CACHE = "changeguard/list-cache.json"
_VERSION = "changeguard-list-v2"
# one compact row: the fields `list` and `overdue` read, in this order
_FIELDS = ("id", "title", "state", "author", "start", "end", "type", "reviewed",
           "started_at", "ended_at")
Row = tuple[str, str, str, str, str, str, str, bool, str | None, str | None]
_SHAPES = frozenset((*(str,) * 7, bool, a, b) for a in (str, type(None)) for b in (str, type(None)))


def _list_tree(git: Git, tip: str | None) -> tuple[str, bytes] | None:
    got = git.read(f"{tip}:list") if tip is not None else None
    return (got[0], got[2]) if got is not None and got[1] == "tree" else None


def _compact(rows: list[ListRow]) -> list[Row]:
    return [(r["id"], r["title"], r["state"], r["author"], r["window"]["start"],
             r["window"]["end"], r["type"], r["reviewed"], r["started_at"], r["ended_at"])
            for r in rows]


def sorted_rows(git: Git, tip: str | None, cache_dir: Path | None) -> list[Row]:
    """The compact rows at `tip` ordered by (window start, id); each shard's rows remembered
    under `cache_dir` by blob id (None: nothing remembered, as under CI)."""
    tree = _list_tree(git, tip)
    if tree is None:
        return []
    shards = {name: e.sha for name, e in parse_tree(tree[1], len(tree[0]) // 2).items()}
    known = _load(cache_dir / CACHE) if cache_dir is not None else {}
    fresh = {name: sha for name, sha in shards.items() if known.get(sha) is None}
    read = dict(zip(fresh.values(), git.read_many(list(fresh.values())), strict=True))
    by_blob: dict[str, list[Row]] = {}
    for sha in shards.values():
        got = read.get(sha)
        rows = known.get(sha) if got is None else \
            _compact(list(json.loads(got[2]).values()) if got[1] == "blob" else [])
        by_blob[sha] = rows or []
    if cache_dir is not None and fresh:
        _save(cache_dir / CACHE, by_blob)
    out = [r for rows in by_blob.values() for r in rows]
    out.sort(key=lambda r: (r[4], r[0]))
    return out


def _load(path: Path) -> dict[str, list[Row] | None]:
    try:
        head, _, body = path.read_bytes().partition(b"\n")
        meta = json.loads(head)
        if meta != {"v": _VERSION, "sum": hashlib.sha256(body).hexdigest()}:
            return {}
        shards = json.loads(body)
    except (OSError, ValueError):
        return {}
    if not isinstance(shards, dict):
        return {}
    return {sha: [cast("Row", tuple(r)) for r in rows]
            if isinstance(rows, list) and all(_is_row(r) for r in rows) else None
            for sha, rows in shards.items()}


def _is_row(r: object) -> bool:
    # one C-level pass per row: checking field by field was most of a warm `list` at 10k
    return type(r) is list and tuple(map(type, r)) in _SHAPES


def _save(path: Path, by_blob: dict[str, list[Row]]) -> None:
    body = json.dumps(by_blob, separators=(",", ":"), ensure_ascii=False).encode()
    meta = {"v": _VERSION, "sum": hashlib.sha256(body).hexdigest()}
    write_atomic(path, json.dumps(meta).encode() + b"\n" + body)


def _overdue(r: Row, hours: float, now: datetime) -> bool:
    if r[6] != "emergency":  # the common case, without building a row
        return False
    return overdue(cast("ListRow", dict(zip(_FIELDS, r, strict=True))), hours, now)


def list_rows(git: Git, ref: str, *, state: str | None, only_overdue: bool, hours: float,
              now: datetime, cache_dir: Path | None) -> list[dict[str, object]]:
    """SPEC §8 `list` rows, ordered by window start."""
    if state is not None and state not in STATES:
        raise InputError(f"unknown state {state!r}", hint="one of " + ", ".join(STATES))
    rows: list[dict[str, object]] = []
    for r in sorted_rows(git, ref_tip(git, ref), cache_dir):
        od = _overdue(r, hours, now)
        if (state and r[2] != state) or (only_overdue and not od):
            continue
        rows.append({"id": r[0], "title": r[1], "state": r[2], "author": r[3],
                     "window": {"start": r[4], "end": r[5]}, "overdue": od})
    return rows


def list_text(rows: list[dict[str, object]]) -> str:
    """Human-readable `list`."""
    if not rows:
        return "no changes"
    out = []
    for r in rows:
        w = r["window"]
        assert isinstance(w, dict)
        flag = "  OVERDUE review" if r["overdue"] else ""
        out.append(f"{r['id']:<28} {r['state']:<12} {w['start']}  {r['author']}  "
                   f"{r['title']}{flag}")
    return "\n".join(out)
