"""`log verify` re-reads every stored plan without line maps (issue 17): `document_data` and
`valid_plan` must give exactly what `parse_document` / `parse_plan` give, and every error
must read exactly as theirs (lines included), because a plan that fails is parsed again by
them."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from changeguard.changelog.events import parse_message
from changeguard.changelog.layout import change_dir
from changeguard.changelog.verify import _derive_plan
from changeguard.errors import ChangeguardError
from changeguard.loader import JSONValue, document_data, parse_document
from changeguard.plan import parse_plan
from changeguard.plan.load import valid_plan
from tests.adversarial._strategies import VALUES, mutated, yaml_texts
from tests.conftest import git
from tests.helpers.changelog import NOW, Cg, cg, make_repo, plan_path
from tests.helpers.plans import PLAN
from tests.test_native import TRICKY

__all__ = ["cg"]


def _same(a: object, b: object) -> bool:
    """Equal data, NaN equal to NaN (a float('nan') is never == itself)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _outcome(parse: Callable[[str | bytes, str], JSONValue],
             text: str | bytes) -> tuple[object, ...]:
    try:
        return ("data", parse(text, "f.yaml"))
    except ChangeguardError as e:
        return ("error", e.file, e.line, e.message, e.hint)


def _full(text: str | bytes, name: str) -> JSONValue:
    return parse_document(text, name).data


def _agree(text: str | bytes) -> None:
    quick, full = _outcome(document_data, text), _outcome(_full, text)
    assert quick[0] == full[0] and _same(quick[1:], full[1:]), (quick, full)


@pytest.mark.parametrize("text", TRICKY)
def test_document_data_matches_parse_document_on_tricky_yaml(text: str) -> None:
    _agree(text)


@pytest.mark.parametrize("raw", [b"\xef\xbb\xbfa: 1\n", b"a: \xff\n", b"a: 1\n" * 10,
                                 b"a: &a [1]\nb: [*a, *a]\n", b"- 1\n- -\n"])
def test_document_data_matches_parse_document_on_bytes(raw: bytes) -> None:
    _agree(raw)


def test_document_data_keeps_the_limits_and_their_messages() -> None:
    bomb = "\n".join(["a: &a [x, x, x, x, x, x, x, x, x]"] + [
        f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]" for p, c in zip("abcd", "bcde", strict=True)])
    deep = "a: " + "[" * 205 + "]" * 205 + "\n"
    for text in (bomb, deep, "a: 1\nb: 2\na: 3\n", "x" * 20):
        _agree(text)
    assert _outcome(document_data, bomb)[0] == "error"
    assert _outcome(document_data, "a: 1\nb: 2\na: 3\n") == (
        "error", "f.yaml", 3, "duplicate key 'a' (first defined on line 1)",
        "remove one of the two entries")
    with pytest.raises(ChangeguardError, match="over the 10-byte limit"):
        document_data("x" * 20, "f.yaml", 10)


@settings(max_examples=400, deadline=None)
@given(yaml_texts("ab 1e.:-#&*!'\"{}[],\n\t<=~0xo+", floats=True,
                  inserts=("!!int ", "!!float ", "1e3", "0o17", ".nan", "no")))
def test_document_data_matches_parse_document_on_random_yaml(text: str) -> None:
    _agree(text)  # often broken: errors agree too


def _plan_outcome(raw: bytes) -> object:
    """What parse_plan makes of `raw`: its plan (no finding), or that it has none."""
    try:
        lp = parse_plan(raw, "p.yaml")
    except ChangeguardError:
        return None
    return lp.plan if not lp.findings else None


@settings(max_examples=300, deadline=None)
@given(mutated(PLAN), st.booleans())
def test_valid_plan_is_parse_plans_plan_exactly_when_it_has_one(doc: object,
                                                                  flow: bool) -> None:
    raw = yaml.safe_dump(doc, default_flow_style=flow, allow_unicode=True).encode()
    assert valid_plan(raw, "p.yaml") == _plan_outcome(raw)


@pytest.mark.parametrize("doc", [PLAN, {**PLAN, "id": "CHG/../x"}, {**PLAN, "kind": "Plan"},
                                 {**PLAN, "risk": "huge"}, {**PLAN, "extra": 1}, [PLAN]])
def test_valid_plan_on_plans_good_and_bad(doc: object) -> None:
    raw = yaml.safe_dump(doc).encode()
    got = valid_plan(raw, "p.yaml")
    assert got == _plan_outcome(raw)
    assert (got is not None) == (doc is PLAN)


@given(VALUES)
@settings(max_examples=100, deadline=None)
def test_valid_plan_never_accepts_what_parse_plan_rejects(value: object) -> None:
    raw = yaml.safe_dump({**PLAN, "title": value}).encode()
    assert valid_plan(raw, "p.yaml") == _plan_outcome(raw)


def test_a_stored_plan_that_does_not_parse_is_reported_in_parse_plans_words(
        tmp_path: Path, cg: Cg) -> None:
    from changeguard.config.load import load_config

    repo = make_repo(tmp_path / "cfg")
    assert cg(repo, "submit", plan_path(), "--now", NOW).code == 0
    ev = parse_message(git(repo, "log", "-1", "--format=%B", "changeguard/log"))
    cfg = load_config(repo)
    name = f"{change_dir(ev.change)}/plan.yaml"
    dup = b"a: 1\nb: 2\na: 3\n"
    for bad in (b"id: [\n", dup, b"\xff\n", yaml.safe_dump({**PLAN, "risk": "huge"}).encode(),
                yaml.safe_dump({**PLAN, "kind": "Plan"}).encode()):
        try:
            assert parse_plan(bad, name).plan is None
            want = f"stored plan is not a valid plan for {ev.change} by {PLAN['author']}"
        except ChangeguardError as e:
            want = f"stored plan does not parse: {e.message}"
        assert _derive_plan(ev, bad, cfg, repo) == [want]
    assert _derive_plan(ev, dup, cfg, repo) == [
        "stored plan does not parse: duplicate key 'a' (first defined on line 1)"]
    good = git(repo, "show", f"changeguard/log:{name}").encode()
    assert _derive_plan(ev, good, cfg, repo) == []


@pytest.mark.parametrize("depth", [198, 199, 200, 201, 202])
def test_document_data_refuses_the_depth_parse_document_refuses(depth: int) -> None:
    for leaf in ("1", "x", "[]", "{}", "{a: 1}"):
        text = "[" * depth + leaf + "]" * depth + "\n"
        _agree(text)
        _agree("a: " + text)
