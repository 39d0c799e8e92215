"""The digest is canonical (SPEC §4): formatting never changes it, meaning always does."""

from __future__ import annotations

import copy
import json
import random
from datetime import datetime, timedelta, timezone
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from changeguard.plan import compute_digest, parse_plan
from tests.helpers.plans import PLAN

FUZZ = settings(max_examples=150, deadline=None)
BLOBS: dict[str, str | None] = {"db/apac-gateway.topology.yaml": "a" * 40}
STYLES = (None, "'", '"')


def _digest(raw: bytes, blobs: dict[str, str | None] | None = None) -> str:
    lp = parse_plan(raw, "p.yaml")
    assert lp.plan is not None, lp.findings
    return compute_digest(lp.plan, BLOBS if blobs is None else blobs)


def _shuffled(value: Any, rng: random.Random) -> Any:
    """Same mapping, keys in another order (list order is meaning: kept)."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [_shuffled(v, rng) for v in value]
    return value


def _dumper(style: str | None) -> type[yaml.SafeDumper]:
    """A SafeDumper writing every string in `style` (plain, single or double quoted)."""

    class D(yaml.SafeDumper):
        pass

    def rep(d: yaml.SafeDumper, s: str) -> yaml.ScalarNode:
        return d.represent_scalar("tag:yaml.org,2002:str", s, style=style)

    D.add_representer(str, rep)
    return D


def _render(doc: Any, style: str | None, flow: bool | None, indent: int, width: int) -> bytes:
    return yaml.dump(doc, Dumper=_dumper(style), sort_keys=False, default_flow_style=flow,
                     indent=indent, width=width, allow_unicode=True).encode()


def _at_offset(ts: str, minutes: int) -> str:
    """The same instant written with another UTC offset."""
    t = datetime.fromisoformat(ts)
    tz = timezone(timedelta(minutes=minutes))
    s = t.astimezone(tz).isoformat()
    return s.replace("+00:00", "Z") if minutes == 0 and s.endswith("+00:00") else s


BASE = _digest(yaml.safe_dump(PLAN).encode())


@FUZZ
@given(seed=st.integers(), style=st.sampled_from(STYLES), flow=st.sampled_from([None, True,
       False]), indent=st.integers(2, 8), width=st.integers(20, 200), as_json=st.booleans(),
       offsets=st.tuples(st.integers(-14 * 60, 14 * 60), st.integers(-14 * 60, 14 * 60)),
       comments=st.booleans())
def test_formatting_does_not_change_the_digest(seed: int, style: str | None,
                                               flow: bool | None, indent: int, width: int,
                                               as_json: bool, offsets: tuple[int, int],
                                               comments: bool) -> None:
    doc = _shuffled(copy.deepcopy(PLAN), random.Random(seed))
    doc["window"]["start"] = _at_offset(PLAN["window"]["start"], offsets[0])
    doc["window"]["end"] = _at_offset(PLAN["window"]["end"], offsets[1])
    raw = json.dumps(doc, indent=indent).encode() if as_json else \
        _render(doc, style, flow, indent, width)
    if comments:
        raw = b"# a comment\n" + raw + b"\n# trailing\n"
    assert _digest(raw) == BASE



@st.composite
def _semantic_edit(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, str | None]]:
    doc = copy.deepcopy(PLAN)
    blobs: dict[str, str | None] = dict(BLOBS)
    what = draw(st.sampled_from(["title", "minutes", "path", "blob", "deleted", "start",
                                 "target", "risk", "rollback"]))
    if what == "title":
        doc["title"] = draw(st.text(min_size=1).filter(lambda t: t != PLAN["title"]))
    elif what == "minutes":
        doc["steps"][0]["minutes"] = draw(st.integers(0, 120).filter(lambda m: m != 90))
    elif what == "path":
        new = draw(st.from_regex(r"[a-z]{1,8}/[a-z0-9_.-]{1,12}\.yaml", fullmatch=True)
                   .filter(lambda p: p not in BLOBS and ".." not in p))
        doc["changes"][0]["path"] = new
        blobs = {new: BLOBS["db/apac-gateway.topology.yaml"]}
    elif what == "blob":
        blobs = {k: draw(st.from_regex(r"[0-9a-f]{40}", fullmatch=True)
                         .filter(lambda b: b != "a" * 40)) for k in BLOBS}
    elif what == "deleted":
        blobs = dict.fromkeys(BLOBS)
    elif what == "start":
        doc["window"]["start"] = f"2016-04-03T01:{draw(st.integers(1, 59)):02d}:00+08:00"
    elif what == "target":
        doc["steps"][0]["targets"] = [draw(st.text(min_size=1).filter(lambda t: t != "db2"))]
    elif what == "risk":
        doc["risk"] = draw(st.sampled_from(["low", "high"]))
    else:
        doc["rollback"]["max_minutes"] = draw(st.integers(0, 29))
    return doc, blobs


@FUZZ
@given(edit=_semantic_edit())
def test_any_semantic_change_changes_the_digest(edit: tuple[dict[str, Any],
                                                            dict[str, str | None]]) -> None:
    doc, blobs = edit
    raw = yaml.safe_dump(doc, allow_unicode=True).encode()
    assert _digest(raw, blobs) != BASE


def test_list_order_is_meaning() -> None:
    doc = copy.deepcopy(PLAN)
    doc["steps"] = [*doc["steps"], {"action": "check", "minutes": 1}]
    swapped = copy.deepcopy(doc)
    swapped["steps"].reverse()
    assert _digest(yaml.safe_dump(doc).encode()) != _digest(yaml.safe_dump(swapped).encode())
