"""The readers' view of the trusted config (`list`, `show`): GuardConfig without pydantic.

`list` and `show` read a handful of keys (the log ref and remote, the roster, freezes, the
review hours); importing pydantic and building GuardConfig cost more than the rest of `list`
(issue 17). So the document is checked whole by the light view (`config.light`: the same
documents accepted and refused, at the same lines, as GuardConfig;
tests/test_config_contract.py), the keys readers use are read from it as GuardConfig would
hold them, and anything else (e.g. replaying an unverified tip) builds the full model from
the same bytes on first use. A document the light view refuses is handed to the full view
first, so the error a reader prints is GuardConfig's, byte for byte.

Stdlib only; the records are NamedTuples (a dataclass costs ~10x as much to define, and
this module is on `list`'s start-up path).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from changeguard.config import defaults as d

if TYPE_CHECKING:
    from changeguard.config.light import LightConfig
    from changeguard.loader import JSONValue
    from changeguard.model import GuardConfig


class LogView(NamedTuple):
    """`log:` as GuardConfig.log holds it."""

    ref: str
    remote: str | None


class TrustView(NamedTuple):
    """`trust:` as GuardConfig.trust holds it."""

    branch: str


class ReviewerView(NamedTuple):
    """One `reviewers:` entry as GuardConfig.reviewers holds it."""

    email: str
    name: str | None
    roles: list[str]
    signing_key: str | None


class SchemaView(NamedTuple):
    """One `schemas:` entry as GuardConfig.schemas holds it (`schema_`: the `schema:` key)."""

    paths: list[str]
    schema_: str | None
    format: str | None


class FreezeView(NamedTuple):
    """One `freezes:` entry as GuardConfig.freezes holds it."""

    name: str
    start: datetime
    end: datetime
    reason: str


class ReaderConfig:
    """GuardConfig's values that readers use; any other attribute is the full model's.

    Built only from a document the light view accepted. `__getattr__` runs only for names
    not set here (methods such as `reviewer()`, `windows`, `_memo`, …): those build the full
    GuardConfig once and answer from it.
    """

    _root: Path | None
    _file: str | None

    def __init__(self, values: dict[str, object], build: Callable[[], GuardConfig]) -> None:
        self.__dict__.update(values)
        self.__dict__["_build"] = build
        self.__dict__["_full"] = None
        self._root = None
        self._file = None

    @property
    def full(self) -> GuardConfig:
        """The full GuardConfig of the same document (built on first use)."""
        full: GuardConfig | None = self.__dict__["_full"]
        if full is None:
            full = self.__dict__["_build"]()
            self.__dict__["_full"] = full
        return full

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or "_build" not in self.__dict__:  # copy/pickle probes
            raise AttributeError(name)
        return getattr(self.full, name)


def reader_values(cfg: LightConfig, data: dict[str, JSONValue]) -> dict[str, object]:
    """The reader-side keys of a document the light view accepted, typed as GuardConfig's.

    Numbers as pydantic leaves them: a given number is a float (a strict float field takes
    an int and returns a float), an absent one is the default itself.
    """
    raw_reviewers = data.get("reviewers", [])
    assert isinstance(raw_reviewers, list)  # the light view checked the whole document
    keys: dict[str, str | None] = {}
    for r in raw_reviewers:
        assert isinstance(r, dict)
        key = r.get("signing_key")
        keys[str(r["email"])] = key if isinstance(key, str) else None
    return {
        "apiVersion": d.API_VERSION,
        "kind": d.KIND,
        "timezone": data.get("timezone", d.DEFAULT_TIMEZONE),
        "log": LogView(cfg.log_ref, cfg.log_remote),
        "guarded": list(cfg.guarded),
        "plans": cfg.plans,
        "schemas": [SchemaView(_strs(s.get("paths")), _str(s.get("schema")),
                               _str(s.get("format"))) for s in cfg.schemas],
        "policies": list(cfg.policies),
        "freezes": [FreezeView(f.name, f.start, f.end, f.reason) for f in cfg.freezes],
        "emergency_review_hours": _number(data, "emergency_review_hours",
                                          d.DEFAULT_EMERGENCY_REVIEW_HOURS),
        "require_signed": data.get("require_signed", False),
        "reviewers": [ReviewerView(m.email, m.name, list(m.roles), keys.get(m.email))
                      for m in cfg.reviewers],
        "max_file_bytes": cfg.max_file_bytes,
        "trust": TrustView(cfg.trust_branch),
        "clock": cfg.clock,
        "clock_skew_minutes": _number(data, "clock_skew_minutes",
                                      d.DEFAULT_CLOCK_SKEW_MINUTES),
    }


def _number(data: dict[str, JSONValue], key: str, default: float) -> float:
    value = data.get(key)
    return float(value) if isinstance(value, (int, float)) else default


def _str(value: JSONValue) -> str | None:
    return value if isinstance(value, str) else None


def _strs(value: JSONValue) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


__all__ = ["FreezeView", "LogView", "ReaderConfig", "ReviewerView", "SchemaView", "TrustView",
           "reader_values"]
