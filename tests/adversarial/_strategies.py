"""Hypothesis strategies: JSON-ish values and mutations of valid documents."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.sampled_from(["", "..", "/", "../x", "/etc/passwd", "a/b", "no", "on", "0777",
                     "2016-04-03", "2016-04-03T01:00:00", "2016-04-03T01:00:00+08:00",
                     "2016-04-03T01:00:00Z", "Mars/Olympus", "UTC", "Asia/Singapore",
                     "1e309", "-0", "\x00", "\u202e", "CHG-1", "CHG-1/x", "sun", "25:99"]),
)
VALUES = st.recursive(SCALARS, lambda kids: st.one_of(
    st.lists(kids, max_size=4), st.dictionaries(st.text(max_size=12), kids, max_size=4)),
    max_leaves=12)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path of a nested dict/list document (the root excluded)."""
    out: list[tuple[Any, ...]] = []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) \
        if isinstance(doc, list) else []
    for k, v in items:
        out.append((*prefix, k))
        out.extend(_paths(v, (*prefix, k)))
    return out


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any], max_edits: int = 4) -> Any:
    """`base` with a few values replaced, keys deleted or unknown keys added."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(min_value=1, max_value=max_edits))):
        paths = _paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(VALUES)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=12))] = draw(VALUES)
        else:
            parent.append(draw(VALUES))
    return doc


ANCHORED = "base: &a {x: 1, y: [1, {z: &s 2}]}\nmore: &m [*s, *s]\n"
INSERTS = ["", "&a ", "*a", "*m", "<<: *a\n", "<<: [*a, *a]\n", "\n", "- ", ": ", "!!str ", "{",
           "]", "  ", "\"", "---\n", "*s", "? "]


def yaml_texts(chars: str, floats: bool = False,
               inserts: tuple[str, ...] = ()) -> st.SearchStrategy[str]:
    """YAML dumped from random data (block or flow, sometimes after anchors), then cut at a
    random place by a YAML token: often broken, so parsers must agree on errors too."""
    import yaml

    scalars = [st.none(), st.booleans(), st.integers(-10**6, 10**6),
               st.text(st.sampled_from(chars), max_size=8)]
    data = st.recursive(
        st.one_of(*scalars, *([st.floats()] if floats else [])),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
            st.text(st.sampled_from("abk<=1 "), min_size=1, max_size=3), inner, max_size=4),
        max_leaves=12)

    def text(value: Any, flow: bool, anchored: bool, at: int, insert: str) -> str:
        out = yaml.safe_dump(value, default_flow_style=flow, sort_keys=False)
        if anchored and isinstance(value, dict) and not flow:
            out = ANCHORED + out
        return out[:at] + insert + out[at:]

    return st.builds(text, data, st.booleans(), st.booleans(), st.integers(0, 400),
                     st.sampled_from(INSERTS + list(inserts)))
