"""The shipped JSON Schemas are generated from the models and agree with them."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from changeguard.model import ChangePlan, GuardConfig
from changeguard.resources import schema_path
from changeguard.schemagen import GENERATED, render
from tests.helpers.plans import config, plan


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_schema_files_are_current(name: str) -> None:
    shipped = schema_path(name).read_text(encoding="utf-8")
    assert shipped == render(name), f"run `python -m changeguard.schemagen` ({name} is stale)"


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_schemas_are_valid_draft_2020_12(name: str) -> None:
    Draft202012Validator.check_schema(json.loads(schema_path(name).read_text()))


def _steps(**kw: Any) -> list[dict[str, Any]]:
    return [dict({"id": "s1", "action": "x", "kind": "config", "targets": ["a"],
                  "minutes": 5}, **kw)]


PLAN_CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("base", plan(), True),
    ("minimal", {k: plan()[k] for k in ("apiVersion", "kind", "id", "title", "author",
                                        "window")}, True),
    ("emergency", plan(type="emergency"), True),
    ("bad-risk", plan(risk="extreme"), False),
    ("bad-type", plan(type="urgent"), False),
    ("bad-kind", plan(kind="Plan"), False),
    ("unknown-key", plan(colour="red"), False),
    ("bad-id", plan(id="chg-1"), False),
    ("slash-id", plan(id="CHG-1/x"), False),
    ("dotdot", plan(changes=[{"path": "a/../b"}]), False),
    ("absolute", plan(changes=[{"path": "/etc/x"}]), False),
    ("naive", plan(window={"start": "2016-04-03T01:00:00", "end": "2016-04-03T02:00:00+08:00"}),
     False),
    ("epoch", plan(window={"start": 1459616400, "end": "2016-04-03T02:00:00+08:00"}), False),
    ("step-kind", plan(steps=_steps(kind="reboot")), False),
    ("step-minutes-str", plan(steps=_steps(minutes="5")), False),
    ("step-negative", plan(steps=_steps(minutes=-1)), False),
    ("tested-str", plan(rollback=dict(plan()["rollback"], tested="yes")), False),
    ("no-title", plan(title=None), False),
    ("bad-author", plan(author="ana"), False),
    ("waiver-extra", plan(waivers=[{"rule": "x", "reason": "y", "by": "z"}]), False),
]


@pytest.mark.parametrize(("name", "doc", "valid"), PLAN_CASES, ids=[c[0] for c in PLAN_CASES])
def test_changeplan_schema_agrees_with_model(name: str, doc: dict[str, Any],
                                             valid: bool) -> None:
    schema = json.loads(schema_path("changeplan").read_text())
    by_schema = Draft202012Validator(schema).is_valid(doc)
    try:
        ChangePlan.model_validate(copy.deepcopy(doc))
        by_model = True
    except ValidationError:
        by_model = False
    assert by_schema == by_model == valid


CONFIG_CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("base", config(), True),
    ("minimal", {"apiVersion": "changeguard/v1", "kind": "GuardConfig"}, True),
    ("unknown", config(guard=["x"]), False),
    ("bad-day", config(windows=[{"name": "w", "days": ["sunday"], "start": "01:00",
                                 "end": "02:00"}]), False),
    ("bad-time", config(windows=[{"name": "w", "days": ["sun"], "start": "25:00",
                                  "end": "02:00"}]), False),
    ("bad-ref", config(log={"ref": "changeguard"}), False),
    ("signed-str", config(require_signed="yes"), False),
    ("bad-format", config(schemas=[{"paths": ["a"], "format": "oracle"}]), False),
]


@pytest.mark.parametrize(("name", "doc", "valid"), CONFIG_CASES,
                         ids=[c[0] for c in CONFIG_CASES])
def test_guard_config_schema_agrees_with_model(name: str, doc: dict[str, Any],
                                               valid: bool) -> None:
    schema = json.loads(schema_path("guard-config").read_text())
    by_schema = Draft202012Validator(schema).is_valid(doc)
    try:
        GuardConfig.model_validate(copy.deepcopy(doc))
        by_model = True
    except ValidationError:
        by_model = False
    assert by_schema == by_model == valid
