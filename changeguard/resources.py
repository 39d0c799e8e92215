"""Locate the schemas and policy packs shipped with changeguard (wheel or checkout)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

_PKG = Path(__file__).resolve().parent


@lru_cache(maxsize=4)
def data_dir(kind: str) -> Path:
    """`schemas` or `policies`: inside the wheel at _data/, else the checkout's top level."""
    shipped = _PKG / "_data" / kind
    if shipped.is_dir():
        return shipped
    return _PKG.parent / kind


def schema_path(name: str) -> Path:
    """Path of a shipped JSON Schema by its short name (e.g. `changeplan`)."""
    return data_dir("schemas") / f"{name}.schema.json"


def policy_path(name: str) -> Path:
    """Path of a shipped policy pack by its short name (e.g. `default`)."""
    return data_dir("policies") / f"{name}.yaml"
