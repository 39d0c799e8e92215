"""`loader.block_data`, the composer-free reading of plain block YAML that `log verify`
re-derives stored plans with (issue 17): whatever it reads is exactly what the composer
(`parse_document`) makes of the text; anything else it leaves to the composer."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from changeguard.errors import ChangeguardError
from changeguard.loader import _NOT_SIMPLE, block_data, document_data, parse_document
from tests.adversarial._strategies import VALUES, yaml_texts
from tests.changelog.test_verify_parse import _same
from tests.helpers.plans import PLAN


def _agrees(text: str) -> bool:
    """True when `block_data` read `text` (and got the composer's data); False when it left
    it to the composer. A reading the composer disagrees with, or refuses, fails."""
    got = block_data(text)
    if got is _NOT_SIMPLE:
        return False
    try:
        want = parse_document(text, "f.yaml").data
    except ChangeguardError as e:
        raise AssertionError(f"read {got!r}, but the composer refuses: {e.message}") from e
    assert _same(got, want), (text, got, want)
    return True


def test_a_plan_as_dumped_is_read_without_the_composer() -> None:
    text = yaml.safe_dump(PLAN, sort_keys=False)
    assert _agrees(text)
    assert _agrees("# a plan\n" + text.replace("\n", "  \n") + "\n\n# end\n")


@settings(max_examples=600, deadline=None)
@given(VALUES, st.booleans())
def test_dumped_values_read_as_the_composer_reads_them(value: object, flow: bool) -> None:
    _agrees(yaml.safe_dump(value, default_flow_style=flow, sort_keys=False))


@settings(max_examples=600, deadline=None)
@given(yaml_texts("ab 1e.:-#&*!'\"{}[],\n\t<=~0xo+", floats=True,
                  inserts=("!!int ", "1e3", "0o17", ".nan", "no", "- - ", "  ", ":", "-")))
def test_cut_and_spliced_dumps_read_as_the_composer_reads_them(text: str) -> None:
    _agrees(text)


_KEYS = ["a", "b", "k1", "x.y", "z-z", "1", "true", "<<", "a b", "'q'", "?"]
_VALS = ["", "v", "1", "-1", "+2", "0o17", "0x1f", "1e3", ".5", ".inf", "-.inf", ".nan", "~",
         "null", "NULL", "true", "no", "on", "2016-04-03", "'2016-04-03T01:00:00+08:00'",
         "a b", "a  b", "a: b", "a:b", "a #c", "a#c", "x:", "'it''s'", "'a'b'", "''", "'",
         "\"q\"", "\"a\\tb\"", "\"a'b\"", "[]", "{}", "[1]", "{a: 1}", "&x 1", "*x", "!!str 1",
         "|", ">", "- x", "-", "--", "---", "...", "/p/q", "@x", "`x", "%x", "=", "a=b",
         "(x)", "a,b", "http://x.y/z"]


@st.composite
def _line_texts(draw: st.DrawFn) -> str:
    """Lines of random indents, dashes, keys and values: most are not YAML, or not the
    YAML they look like (a key at the wrong indent, a continued scalar, an indentless
    sequence, a second item after a mapping)."""
    lines = []
    for _ in range(draw(st.integers(1, 8))):
        indent = " " * draw(st.sampled_from([0, 0, 1, 2, 2, 3, 4, 6]))
        dash = draw(st.sampled_from(["", "", "- ", "-", "-  "]))
        kind = draw(st.sampled_from(["key", "key", "value", "comment", "blank"]))
        if kind == "comment":
            lines.append(indent + "# " + draw(st.sampled_from(_VALS)))
        elif kind == "blank":
            lines.append(indent)
        elif kind == "key":
            val = draw(st.sampled_from(_VALS))
            lines.append(f"{indent}{dash}{draw(st.sampled_from(_KEYS))}:{' ' if val else ''}{val}"
                         + draw(st.sampled_from(["", "", " ", "\t"])))
        else:
            lines.append(indent + dash + draw(st.sampled_from(_VALS)))
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n", "\r\n"]))


@settings(max_examples=3000, deadline=None)
@given(_line_texts())
def test_random_lines_read_as_the_composer_reads_them(text: str) -> None:
    _agrees(text)


_SIMPLE_KEYS = ["a", "b", "k1", "x.y", "z-z", "1", "true", "no"]
_SIMPLE_VALS = [v for v in _VALS if v and v[0] not in "&*!|>[{" and ": " not in v
                and " #" not in v] + ["[]", "{}"]


def _emit(value: object, indent: int, out: list[str], draw: st.DrawFn) -> None:
    """Block YAML lines of `value` (a dict or list) at `indent`, with random spacing."""
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, dict | list) and v:
                out.append(" " * indent + f"{k}:")
                seq_at_key = isinstance(v, list) and draw(st.booleans())
                _emit(v, indent if seq_at_key else indent + draw(st.integers(1, 3)), out, draw)
            else:
                out.append(" " * indent + f"{k}: {v if isinstance(v, str) else '[]'}")
        return
    assert isinstance(value, list)
    for v in value:
        gap = " " * draw(st.integers(1, 3))
        if isinstance(v, dict) and v and draw(st.booleans()):
            inner: list[str] = []
            _emit(v, indent + 1 + len(gap), inner, draw)
            out.append(" " * indent + "-" + gap + inner[0].lstrip(" "))
            out.extend(inner[1:])
        elif isinstance(v, dict | list) and v:
            out.append(" " * indent + "-")
            _emit(v, indent + draw(st.integers(1, 3)), out, draw)
        else:
            out.append(" " * indent + "- " + (v if isinstance(v, str) else "{}"))


_TREES = st.recursive(
    st.sampled_from(_SIMPLE_VALS),
    lambda kids: st.lists(kids, min_size=1, max_size=3)
    | st.dictionaries(st.sampled_from(_SIMPLE_KEYS), kids, min_size=1, max_size=3),
    max_leaves=10)


@st.composite
def _block_texts(draw: st.DrawFn) -> str:
    """Block YAML of random nested data, indented and spaced at random, then (often) one
    line moved, re-indented, dropped, doubled or given a comment or a blank line."""
    lines: list[str] = []
    _emit(draw(st.dictionaries(st.sampled_from(_SIMPLE_KEYS), _TREES, min_size=1,
                               max_size=4)), 0, lines, draw)
    i = draw(st.integers(0, len(lines) - 1))
    edit = draw(st.sampled_from(["none", "none", "indent", "dedent", "drop", "double", "swap",
                                 "comment", "blank", "colon"]))
    if edit == "indent":
        lines[i] = " " + lines[i]
    elif edit == "dedent" and lines[i].startswith(" "):
        lines[i] = lines[i][1:]
    elif edit == "drop" and len(lines) > 1:
        del lines[i]
    elif edit == "double":
        lines.insert(i, lines[i])
    elif edit == "swap" and i + 1 < len(lines):
        lines[i], lines[i + 1] = lines[i + 1], lines[i]
    elif edit == "comment":
        lines.insert(i, " " * draw(st.integers(0, 4)) + "# x: 1")
    elif edit == "blank":
        lines.insert(i, " " * draw(st.integers(0, 4)))
    elif edit == "colon":
        lines[i] += ":"
    return "\n".join(lines) + "\n"


@settings(max_examples=3000, deadline=None)
@given(_block_texts())
def test_random_block_yaml_reads_as_the_composer_reads_it(text: str) -> None:
    _agrees(text)


def test_each_kind_of_line_is_read_or_left_as_it_should() -> None:
    read = ["a: 1\n", "a:\n  b: 'x'\n", "a:\n- 1\n- b: 2\n  c:\n  - 3\nd: {}\n", "- a\n-\n- []\n",
            "a: b:c\n", "a: 'it''s'\n", "a: \"q\"\n", "a:\n\n  # note\n  b: 1\n", "- a: 1\n  b:\n"]
    left = ["a: 1 # c\n", "a: [1]\n", "a: &x 1\n", "a: b\n  c\n", "a: 1\na: 2\n", "a:\tb\n",
            "a: \"\\t\"\n", "a: 'x\n  y'\n", "--- \na: 1\n", "a: é\n", "a: 1\r\n", "  a: 1\n",
            "a: |\n  x\n", "x\n", "", "# only\n", "a:\n   b: 1\n  c: 2\n", "- - 1\n"]
    assert all(_agrees(t) for t in read)
    assert not any(block_data(t) is not _NOT_SIMPLE for t in left)
    for t in left:  # and document_data still gives the composer's verdict
        try:
            want: object = ("data", parse_document(t, "f.yaml").data)
        except ChangeguardError as e:
            want = ("error", e.line, e.message)
        try:
            got: object = ("data", document_data(t, "f.yaml"))
        except ChangeguardError as e:
            got = ("error", e.line, e.message)
        assert got == want, t
