"""Fuzzing the plan loader: anything in, a LoadedPlan or an InputError out (never a crash)."""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from changeguard.errors import InputError
from changeguard.model import ChangePlan
from changeguard.plan import parse_plan
from tests.adversarial._strategies import mutated
from tests.helpers.plans import PLAN

FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _dump(doc: Any, as_json: bool) -> bytes:
    if as_json:
        return json.dumps(doc, ensure_ascii=False, allow_nan=True).encode()
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False).encode()


def _accepted_plan_is_sane(plan: ChangePlan) -> None:
    """What the loader lets through keeps SPEC §10's promises."""
    assert "/" not in plan.id and ".." not in plan.id
    for p in plan.paths:
        assert not p.startswith("/") and ".." not in re.split(r"[\\/]", p), p
    assert plan.window.start.tzinfo is not None and plan.window.end > plan.window.start


@FUZZ
@given(doc=mutated(PLAN), as_json=st.booleans())
def test_mutated_plan_loads_or_input_error(doc: Any, as_json: bool) -> None:
    try:
        raw = _dump(doc, as_json)
    except (ValueError, yaml.YAMLError):
        return  # not representable (e.g. JSON of a surrogate): nothing to feed
    try:
        lp = parse_plan(raw, "changes/fuzz.yaml")
    except InputError as e:
        assert e.file == "changes/fuzz.yaml" and e.message
        return
    if lp.plan is None:
        assert lp.findings and all(f.rule == "plan-schema" and f.line for f in lp.findings)
    else:
        _accepted_plan_is_sane(lp.plan)


@FUZZ
@given(raw=st.binary(max_size=400))
def test_random_bytes(raw: bytes) -> None:
    try:
        lp = parse_plan(raw, "p.yaml")
    except InputError:
        return
    assert lp.plan is None or lp.plan.id


@FUZZ
@given(text=st.text(alphabet=st.sampled_from(list("ab: -[]{}&*!|>'\"#\n\t,?%@`~.0123")),
                    max_size=200))
def test_yaml_syntax_soup(text: str) -> None:
    """Random YAML punctuation: tags, anchors, aliases, flow and block mixed."""
    with contextlib.suppress(InputError):
        parse_plan(text.encode(), "p.yaml")


@FUZZ
@given(prefix=st.sampled_from(["", "---\n", "%YAML 1.1\n---\n", "--- !!map\n"]),
       body=mutated(PLAN, max_edits=1))
def test_document_markers_and_tags(prefix: str, body: Any) -> None:
    try:
        raw = prefix.encode() + _dump(body, False)
    except yaml.YAMLError:
        return
    with contextlib.suppress(InputError):
        parse_plan(raw, "p.yaml")
