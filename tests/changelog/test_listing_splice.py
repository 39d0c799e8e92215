"""The list cache's splice (an event's shard put back in place, runs of other rows copied as
slices) gives exactly the rows sorting everything again gives, and the file reads back as
written (issue 17, changelog/listing.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from changeguard import caches
from changeguard.changelog import listing
from changeguard.changelog.state import STATES, ListRow

SHARDS = [f"list/{i:02x}.json" for i in range(5)]
_row = st.fixed_dictionaries({
    "id": st.sampled_from(["CHG-1", "CHG-2", "CHG-é", "CHG-10", "CHG-☃"]),
    "start": st.sampled_from(["2030-01-01T00:00:00+00:00", "2030-01-01T00:00:00+01:00",
                              "2029-12-31T23:00:00+00:00"]),
    "title": st.text(max_size=8),
    "state": st.sampled_from(["submitted", "approved", "completed", "weird"]),
    "emergency": st.booleans(),
})


def _new(raw: dict[str, object], shard: str) -> listing._New:
    r: ListRow = {"id": raw["id"], "title": raw["title"], "state": raw["state"],  # type: ignore[typeddict-item]
                  "author": "a@example.org", "type": "emergency" if raw["emergency"] else "normal",
                  "window": {"start": raw["start"], "end": raw["start"]}}
    code = STATES.index(r["state"]) if r["state"] in STATES else listing._OTHER
    return listing._New(listing._key(r, shard), listing._json_row(r, False), code, shard, r)


def _columns(got: listing.Listed) -> tuple[object, ...]:
    starts = got.starts()
    return (b"".join(got.body), list(got.sizes), bytes(got.keys), list(got.key_sizes),
            got.states, [got.names[i] for i in got.shard_of],
            [bytes(got.row(i, starts)) for i in range(len(got))])


_shard_rows = st.dictionaries(st.sampled_from(SHARDS), st.lists(_row, max_size=6), max_size=5)


@given(_shard_rows, _shard_rows)
def test_splicing_an_event_in_equals_sorting_again(before: dict[str, list[dict[str, object]]],
                                                   after: dict[str, list[dict[str, object]]]
                                                   ) -> None:
    old = sorted((_new(r, s) for s, rows in before.items() for r in rows), key=lambda x: x.key)
    base = listing._built(listing.Listed(), set(), old)
    gone = set(after) & set(before)
    new = sorted((_new(r, s) for s, rows in after.items() for r in rows), key=lambda x: x.key)
    if not len(base):
        return  # nothing to splice into: `_update` sorts
    spliced = listing._spliced(base, gone, new)
    assert _columns(spliced) == _columns(listing._built(base, gone, new))
    import json

    assert [x["id"] for x in json.loads(b"".join(spliced.body))] == [
        x.data["id"] for x in sorted([*(o for o in old if o.shard not in gone), *new],
                                     key=lambda x: x.key)]


@given(_shard_rows)
def test_the_file_reads_back_as_written(rows: dict[str, list[dict[str, object]]]) -> None:
    new = sorted((_new(r, s) for s, rs in rows.items() for r in rs), key=lambda x: x.key)
    got = listing._built(listing.Listed(), set(), new)
    got.emergency = {x.key: x.data for x in new if x.data["type"] == "emergency"}
    got.shards = {s: "0" * 40 for s in rows}
    raw = b"".join(listing._encode(got))
    back = listing._checked(*_parts(raw))
    assert back is not None
    assert _columns(back) == _columns(got)
    assert back.emergency == got.emergency and back.shards == got.shards


def _parts(raw: bytes) -> tuple[object, object, memoryview]:
    import marshal

    view = caches.unsealed(listing._MAGIC, raw)
    assert view is not None
    head_len, index_len = listing._SIZES.unpack_from(view)
    at = listing._SIZES.size
    return (marshal.loads(view[at:at + head_len]),
            marshal.loads(view[at + head_len:at + head_len + index_len]),
            view[at + head_len + index_len:])
