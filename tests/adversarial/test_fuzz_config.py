"""Fuzzing `.changeguard.yaml`: any config gives a GuardConfig or a located ConfigError."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from changeguard.config import load_config
from changeguard.errors import ConfigError
from changeguard.model import GuardConfig
from tests.adversarial._samples import schemas
from tests.adversarial._strategies import mutated
from tests.helpers.plans import config

FUZZ = settings(max_examples=250, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
BASE = config(schemas=schemas(), freezes=[
    {"name": "semester", "start": "2026-09-01T00:00:00+08:00",
     "end": "2026-09-15T00:00:00+08:00", "reason": "exams"}],
    log={"ref": "refs/heads/changeguard/log", "remote": "origin"})


def _load(raw: bytes) -> GuardConfig | ConfigError:
    with tempfile.TemporaryDirectory() as d:
        repo = Path(d)
        (repo / ".changeguard.yaml").write_bytes(raw)
        try:
            return load_config(repo)
        except ConfigError as e:
            return e


def _sane(cfg: GuardConfig) -> None:
    """What loads is usable: zones resolve, windows are well-formed."""
    from zoneinfo import ZoneInfo

    ZoneInfo(cfg.timezone)
    for w in cfg.windows:
        if w.timezone is not None:
            ZoneInfo(w.timezone)


def test_base_config_loads() -> None:
    assert isinstance(_load(yaml.safe_dump(BASE).encode()), GuardConfig)


@FUZZ
@given(doc=mutated(BASE), as_json=st.booleans())
def test_mutated_config(doc: Any, as_json: bool) -> None:
    try:
        raw = (json.dumps(doc, ensure_ascii=False) if as_json else
               yaml.safe_dump(doc, allow_unicode=True)).encode()
    except (ValueError, yaml.YAMLError):
        return
    got = _load(raw)
    if isinstance(got, ConfigError):
        assert got.file == ".changeguard.yaml" and got.message
        assert "{value" not in got.message
    else:
        _sane(got)


@FUZZ
@given(zone=st.one_of(st.text(max_size=40), st.sampled_from([
    "Mars/Olympus", "../../etc/passwd", "/etc/localtime", "zone.tab", "posixrules", "UTC ",
    "Asia/Singapore\x00", "Etc/GMT+99", "", ".", "Asia", "right/UTC", "Factory"])),
    where=st.sampled_from(["top", "window"]))
def test_time_zone_names(zone: str, where: str) -> None:
    doc = config()
    if where == "top":
        doc["timezone"] = zone
    else:
        doc["windows"][0]["timezone"] = zone
    got = _load(yaml.safe_dump(doc, allow_unicode=True).encode())
    if isinstance(got, GuardConfig):
        _sane(got)
    else:
        assert got.line is not None and got.message


@FUZZ
@given(raw=st.binary(max_size=300))
def test_random_bytes(raw: bytes) -> None:
    got = _load(raw)
    assert isinstance(got, GuardConfig | ConfigError)
