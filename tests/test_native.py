"""The native topology format: the hand-rolled validator agrees with jsonschema."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from changeguard.errors import ChangeguardError
from changeguard.loader import JSONValue, Loaded, SourceMap, parse_document, parse_documents
from changeguard.replication.interface import SourceFile
from changeguard.replication.native import (
    NativeAdapter,
    native_schema,
    parse_native,
    validate_document,
)
from changeguard.replication.yamlstream import parse_documents_streaming
from tests.adversarial._strategies import yaml_texts

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data" / "topology"
SCHEMA = json.loads((ROOT / "schemas" / "replication-topology.schema.json").read_text())
REFERENCE = Draft202012Validator(SCHEMA)


def ours(data: JSONValue) -> list[str]:
    """Pointers our validator reports (unknown keys reported at their parent, like jsonschema)."""
    found = validate_document(Loaded(data, SourceMap("x.yaml", {})))
    return sorted({f.pointer or "/" for f in found})


def reference(data: JSONValue) -> list[str]:
    return sorted({"/" + "/".join(map(str, e.absolute_path)) for e in REFERENCE.iter_errors(data)})


def test_reference_schema_is_valid_draft_2020_12() -> None:
    Draft202012Validator.check_schema(SCHEMA)
    assert native_schema() == SCHEMA


@pytest.mark.parametrize("path", sorted((DATA / "valid").glob("*.yaml")), ids=lambda p: p.name)
def test_valid_corpus_passes_both(path: Path) -> None:
    data = parse_document(path.read_bytes(), path.name).data
    assert reference(data) == []
    assert ours(data) == []


@pytest.mark.parametrize("path", sorted((DATA / "invalid").glob("*.yaml")), ids=lambda p: p.name)
def test_invalid_corpus_fails_both_at_the_same_places(path: Path) -> None:
    data = parse_document(path.read_bytes(), path.name).data
    theirs = reference(data)
    assert theirs
    mine = ours(data)
    # every place jsonschema blames is blamed by us (at it or at the unknown key below it)
    for ptr in theirs:
        assert any(m == ptr or m.startswith(ptr.rstrip("/") + "/") for m in mine), (ptr, mine)
    for ptr in mine:
        assert any(ptr == t or ptr.startswith(t.rstrip("/") + "/") for t in theirs), (ptr, theirs)


def test_findings_carry_lines_and_did_you_mean() -> None:
    path = DATA / "invalid" / "bad-node.yaml"
    result = parse_native(SourceFile("db/bad-node.yaml", path.read_bytes()))
    assert result.topologies == []
    by_ptr = {f.pointer: f for f in result.findings}
    assert by_ptr["/nodes/0/role"].line == 6
    assert by_ptr["/nodes/0/role"].rule == "config-schema"
    assert by_ptr["/nodes/1/extra"].line == 14
    assert by_ptr["/sync/mode"].line == 16
    assert (by_ptr["/nodes/1/extra"].hint or "").startswith("allowed: name, role")
    assert by_ptr["/nodes/1/role"].line == 8 if "/nodes/1/role" in by_ptr else True
    assert by_ptr["/co_masters/0"].message == "co_masters[0]: needs at least 2 items, has 1"
    assert all(f.file == "db/bad-node.yaml" for f in result.findings)


# --- property tests: random mutations of a valid document ------------------------------

BASE = parse_document((DATA / "valid" / "mysql-pair.yaml").read_bytes(), "base").data
scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 70000),
                    st.floats(allow_nan=False, allow_infinity=False, width=32),
                    st.sampled_from(["", "db1", "primary", "replica", "on", "x/y", "a b",
                                     "changeguard/v1", "ReplicationTopology", "mysql"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(
        ["name", "role", "host", "port", "x", "count", "mode"]), inner, max_size=3)),
    max_leaves=6)
paths = st.sampled_from([
    ("name",), ("engine",), ("kind",), ("nodes",), ("co_masters",), ("sync",), ("settings",),
    ("nodes", 0, "role"), ("nodes", 0, "port"), ("nodes", 1, "upstream"), ("nodes", 1, "sync"),
    ("nodes", 1, "votes"), ("nodes", 0, "priority"), ("nodes", 1, "params"), ("nodes", 0, "tags"),
    ("nodes", 1, "params", "read_only"), ("nodes", 0, "zz"), ("zz",), ("settings", "ttl"),
    ("sync", "standbys"), ("sync", "count"), ("nodes", 0, "server_id"), ("nodes", 2),
])


def mutate(doc: JSONValue, path: tuple[str | int, ...], value: JSONValue) -> JSONValue:
    out = copy.deepcopy(doc)
    cur: JSONValue = out
    for p in path[:-1]:
        if isinstance(cur, dict) and isinstance(p, str):
            nxt = cur.get(p)
            if not isinstance(nxt, dict | list):
                cur[p] = nxt = {}
            cur = nxt
        elif isinstance(cur, list) and isinstance(p, int) and p < len(cur):
            cur = cur[p]
        else:
            return out
    last = path[-1]
    if isinstance(cur, dict) and isinstance(last, str):
        cur[last] = value
    elif isinstance(cur, list) and isinstance(last, int):
        if last < len(cur):
            cur[last] = value
        else:
            cur.append(value)
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(paths, values), min_size=1, max_size=3))
def test_validator_agrees_with_jsonschema_on_mutations(
        edits: list[tuple[tuple[str | int, ...], JSONValue]]) -> None:
    doc = BASE
    for path, value in edits:
        doc = mutate(doc, path, value)
    assert (ours(doc) == []) == (reference(doc) == [])


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_parser_returns_a_result_or_raises_changeguard_error(raw: bytes) -> None:
    try:
        result = parse_native(SourceFile("f.yaml", raw))
    except ChangeguardError:
        return
    assert all(f.rule == "config-schema" for f in result.findings)


def test_detect_and_multi_document_files() -> None:
    a = (DATA / "valid" / "mysql-pair.yaml").read_bytes()
    b = (DATA / "valid" / "mongo-ring.yaml").read_bytes()
    f = SourceFile("db/two.yaml", a + b"---\n" + b)
    assert NativeAdapter().detect(f)
    assert not NativeAdapter().detect(SourceFile("x.yaml", b"kind: Cluster\n"))
    result = NativeAdapter().parse([f])
    assert [t.name for t in result.topologies] == ["apac-gateway", "rs0"]
    assert result.topologies[1].nodes[0].line == 23 + 8  # lines count across documents


def test_empty_file_is_a_schema_finding() -> None:
    (f,) = parse_native(SourceFile("e.yaml", b"# nothing\n")).findings
    assert f.rule == "config-schema" and f.line == 1


def test_model_keeps_field_lines() -> None:
    (t,) = parse_native(SourceFile("p.yaml", (DATA / "valid" / "mysql-pair.yaml")
                                   .read_bytes())).topologies
    db2 = t.node("db2")
    assert db2 is not None and db2.line == 14 and db2.line_of("upstream") == 19
    assert db2.param_line("read_only") == 21 and db2.param("super-read-only") is True
    assert t.line_of("engine") == 5 and t.files == ("p.yaml",)


def test_native_path_imports_neither_pydantic_nor_jsonschema() -> None:
    code = ("import sys\nfrom changeguard.replication.check import check_files\n"
            "from changeguard.replication.mapping import FileMapping\n"
            f"r = check_files(__import__('pathlib').Path({str(DATA)!r}), ['valid/mysql-pair.yaml'],"
            " [FileMapping(('*.yaml',), 'builtin:replication-topology', None)])\n"
            "assert r.files_checked == 1, r\n"
            "bad = [m for m in ('pydantic', 'jsonschema', 'git', 'typer') if m in sys.modules]\n"
            "print(bad)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


# --- the streaming YAML builder agrees with changeguard.loader -------------------------

TRICKY = [
    "a: &x 1\nb: &x 2\n", "a: *y\n", "&k a: 1\n*k : 2\n", "? [1]\n: 2\n", "a: 1\na: 2\nb: *zz\n",
    "a: 1\na: 2\nb: [\n", "&k a: 1\nb: *k\n", "a: &x {b: [1, {c: d}]}\ne: *x\nf: {<<: *x, g: 1}\n",
    "- &a [1,2]\n- *a\n- *a\n", "a: yes\nb: 0777\nc: '1'\nd: !!str 5\ne: 2016-04-03\nf: ~\n",
    "a: <<\n", "x: !!set {a}\n", "x: !!omap [a: 1]\n", "--- 1\n--- {a: 2}\n", "", "# c\n",
    "---\n", "a: &r [*r]\n", "base: &b {x: 1}\n<<: [*b, {y: 2}]\nz: 3\n", "a: 1\n<<: {a: 2}\n",
    "!foo {a: 1}\n", "a: !foo 1\n", "[1, 2\n", "k: \"unterminated\n", "a: !!int x\n",
    "a:\n  b:\n    c: [1, {d: e}]\n", "\"a\": 1\n? b\n: 2\n", "a: " + "[" * 250 + "]" * 250 + "\n",
    "a: |\n  block\n  text\nb: >-\n  folded\n", "a: 1\x00\n", "a: \t1\n", "- a\n- b: c\n  d: e\n",
]


def outcome(parse: object, text: str) -> object:
    try:
        return [(d.data, d.source.lines) for d in parse(text, "f.yaml")]  # type: ignore[operator]
    except ChangeguardError as e:
        return ("error", e.line, e.message, e.hint)


@pytest.mark.parametrize("text", TRICKY)
def test_streaming_builder_matches_loader_on_tricky_yaml(text: str) -> None:
    assert outcome(parse_documents_streaming, text) == outcome(parse_documents, text)


def test_alias_bomb_is_refused_by_both() -> None:
    rows = ["a: &a [x, x, x, x, x, x, x, x, x]"] + [
        f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]" for p, c in zip("abcd", "bcde", strict=True)]
    text = "\n".join(rows) + "\n"
    mine = outcome(parse_documents_streaming, text)
    assert mine == outcome(parse_documents, text)
    assert isinstance(mine, tuple) and mine[2] == "too many alias expansions (possible YAML " \
        "alias bomb)"
    nested = "a: &a {k: [{x: 1}, {y: [2]}]}\n" + "".join(
        f"b{i}: {{p: *a, q: [*a, *a]}}\n" for i in range(120))
    assert outcome(parse_documents_streaming, nested) == outcome(parse_documents, nested)


@settings(max_examples=400, deadline=None)
@given(yaml_texts("ab 1:-#&*!'\"{}[],\n\t<=~"))
def test_streaming_builder_matches_loader_on_random_yaml(text: str) -> None:
    assert outcome(parse_documents_streaming, text) == outcome(parse_documents, text)
