"""The safe loader: line maps, duplicate keys, bombs, encodings, YAML 1.1 surprises."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from changeguard.errors import InputError
from changeguard.loader import load_file, parse_document, parse_documents


def test_line_map_points_at_nodes() -> None:
    doc = parse_document(b"a: 1\nb:\n  - x\n  - {c: 2}\n", "f.yaml")
    assert doc.data == {"a": 1, "b": ["x", {"c": 2}]}
    assert doc.source.line_for("/a") == 1
    assert doc.source.line_for("/b/1/c") == 4
    assert doc.source.line_for("/b/0") == 3
    assert doc.source.line_for("/b/7/zzz") == 2  # nearest ancestor


def test_duplicate_keys_are_an_error_with_both_lines() -> None:
    with pytest.raises(InputError) as e:
        parse_document(b"a: 1\nb: 2\na: 3\n", "dup.yaml")
    assert e.value.line == 3
    assert "duplicate key 'a'" in e.value.message and "line 1" in e.value.message


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    prev = "a"
    for name in "bcdefghij":
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
        prev = name
    with pytest.raises(InputError) as e:
        parse_document("\n".join(lines).encode(), "bomb.yaml")
    assert "alias" in e.value.message


def test_small_alias_use_is_fine() -> None:
    doc = parse_document(b"base: &b {x: 1}\nother: *b\n", "a.yaml")
    assert doc.data == {"base": {"x": 1}, "other": {"x": 1}}


def test_yaml11_surprises_stay_literal() -> None:
    doc = parse_document(b"a: no\nb: on\nc: 2016-04-03\nd: yes\ne: true\nf: 0777\ng: ~\n", "y")
    assert doc.data == {"a": "no", "b": "on", "c": "2016-04-03", "d": "yes", "e": True,
                        "f": 777, "g": None}


def test_non_utf8_names_the_line() -> None:
    with pytest.raises(InputError) as e:
        parse_document(b"a: 1\nb: \xff\xfe\n", "bin.yaml")
    assert e.value.line == 2 and "UTF-8" in e.value.message


def test_bom_is_accepted() -> None:
    assert parse_document(b"\xef\xbb\xbfa: 1\n", "bom.yaml").data == {"a": 1}


def test_size_limit(tmp_path: Path) -> None:
    p = tmp_path / "big.yaml"
    p.write_bytes(b"a: " + b"x" * 2000 + b"\n")
    with pytest.raises(InputError) as e:
        load_file(p, max_bytes=1000)
    assert "limit" in e.value.message
    assert load_file(p, max_bytes=5000).data == {"a": "x" * 2000}


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(InputError) as e:
        parse_document(("[" * 10000 + "]" * 10000).encode(), "deep.yaml")
    assert "deep" in e.value.message or "nesting" in e.value.message


def test_unknown_tags_are_refused() -> None:
    with pytest.raises(InputError) as e:
        parse_document(b"a: !!python/object:os.system {}\n", "evil.yaml")
    assert e.value.line == 1


def test_invalid_yaml_names_the_line() -> None:
    with pytest.raises(InputError) as e:
        parse_document(b"a: 1\nb: [1, 2\nc: 3\n", "bad.yaml")
    assert e.value.line is not None and e.value.file == "bad.yaml"


def test_multi_document_and_json() -> None:
    docs = parse_documents(b"a: 1\n---\nb: 2\n", "m.yaml")
    assert [d.data for d in docs] == [{"a": 1}, {"b": 2}]
    assert parse_document(b'{"x": [1, 2.5, "s", null, false]}', "j.json").data == {
        "x": [1, 2.5, "s", None, False]}


def test_empty_and_several_documents_are_errors() -> None:
    with pytest.raises(InputError):
        parse_document(b"", "empty.yaml")
    with pytest.raises(InputError):
        parse_document(b"a: 1\n---\nb: 2\n", "two.yaml")


# PyYAML's emitter/scanner mishandle NEL, LS/PS and astral characters; those are its
# limits, not the loader's, so the round trip uses the rest of the BMP.
_chars = st.characters(min_codepoint=32, max_codepoint=0xFFFF,
                       exclude_characters="\x85\u2028\u2029\ufeff",
                       exclude_categories=("Cs", "Cc"))
_text = st.text(_chars, max_size=20)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**9, 10**9) | _text,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(_chars, min_size=1, max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_roundtrip_of_dumped_data(value: object) -> None:
    text = yaml.safe_dump({"root": value}, allow_unicode=True)
    assert parse_document(text.encode(), "rt.yaml").data == {"root": value}
    assert parse_document(json.dumps({"root": value}).encode(), "rt.json").data == {"root": value}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_random_input_gives_data_or_input_error(raw: bytes) -> None:
    try:
        parse_documents(raw, "fuzz.yaml")
    except InputError as e:
        assert e.file == "fuzz.yaml"
