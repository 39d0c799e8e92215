"""pydantic v2 models of `.changeguard.yaml` (SPEC §3) and ChangePlan (SPEC §4).

The JSON Schemas in `schemas/` are generated from these models
(`python -m changeguard.schemagen`); a test keeps them in step.
"""

from __future__ import annotations

import re
from datetime import datetime, time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    Strict,
    StrictBool,
    StringConstraints,
    field_validator,
    model_validator,
)

from changeguard import _pydantic
from changeguard.config import defaults as cfgdef

# before any of the models below builds its validator (they build on first use)
_pydantic.disable_plugins()

ID_PATTERN = r"^[A-Z][A-Z0-9]*-[A-Za-z0-9-]{1,60}$"
STEP_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
EMAIL_PATTERN = cfgdef.EMAIL_PATTERN
HHMM_PATTERN = cfgdef.HHMM_PATTERN


def new_list() -> list[Any]:
    """`default_factory=list` as a Python function (issue 17): pydantic inspects each factory's
    signature at class creation, and a builtin's is parsed from its text signature (0.3 ms
    each, 4 ms the first time); a function's is read directly."""
    return []


def new_dict() -> dict[str, Any]:
    """`default_factory=dict`, for the same reason as `new_list`."""
    return {}


class _Strict(BaseModel):
    # defer_build: a class builds its validator on first use, not at import (issue 17);
    # a reader that validates only GuardConfig never builds the plan models
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False,
                              defer_build=True)


def _check_repo_path(value: str) -> str:
    """Repo-relative, no traversal, no absolute paths (SPEC §10)."""
    if not value or value.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:[\\/]", value):
        raise ValueError("must be a repo-relative path (no leading '/')")
    parts = value.replace("\\", "/").split("/")
    if ".." in parts:
        raise ValueError("must not contain '..'")
    if "\x00" in value or "\n" in value:
        raise ValueError("must not contain NUL or newline characters")
    return value


RepoPath = Annotated[str, AfterValidator(_check_repo_path)]

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(?P<off>[Zz]|[+-]\d{2}:?\d{2})?$"
)


def _rfc3339(value: object) -> object:
    """Only RFC 3339 strings with an offset: no epoch numbers, no naive times (SPEC §10)."""
    from pydantic_core import PydanticCustomError

    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise PydanticCustomError("naive_datetime", "timestamp needs a timezone offset")
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("datetime_type", "expected an RFC 3339 timestamp string")
    m = _RFC3339.match(value)
    if m is None:
        raise PydanticCustomError(
            "datetime_format", "'{value}' is not an RFC 3339 timestamp", {"value": value})
    if m.group("off") is None:
        raise PydanticCustomError(
            "naive_datetime", "'{value}' has no timezone offset (timezone required)",
            {"value": value})
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339)]
NonEmpty = Annotated[str, StringConstraints(min_length=1)]


class PlanType(StrEnum):
    NORMAL = "normal"
    STANDARD = "standard"
    EMERGENCY = "emergency"


class Risk(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class StepKind(StrEnum):
    MANUAL = "manual"
    COMMAND = "command"
    CONFIG = "config"
    RESTART = "restart"
    STOP = "stop"
    STORAGE = "storage"
    FAILOVER = "failover"
    RESYNC = "resync"


DISRUPTIVE_KINDS = frozenset(
    {StepKind.RESTART, StepKind.STOP, StepKind.STORAGE, StepKind.FAILOVER, StepKind.RESYNC}
)


class Window(_Strict):
    start: Timestamp
    end: Timestamp

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end <= self.start:
            raise ValueError("window end must be after its start")
        return self

    @property
    def minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60


class Change(_Strict):
    path: RepoPath
    summary: str | None = None


class Step(_Strict):
    id: Annotated[str, StringConstraints(pattern=STEP_ID_PATTERN)] | None = None
    action: NonEmpty
    kind: StepKind = StepKind.MANUAL
    targets: list[NonEmpty] = Field(default_factory=new_list)
    minutes: Annotated[float, Strict(), Field(ge=0, le=7 * 24 * 60)] = 0
    command: str | None = None


class RollbackStep(_Strict):
    action: NonEmpty
    kind: StepKind = StepKind.MANUAL
    targets: list[NonEmpty] = Field(default_factory=new_list)
    minutes: Annotated[float, Strict(), Field(ge=0, le=7 * 24 * 60)] = 0
    command: str | None = None


class Rollback(_Strict):
    trigger: str | None = None
    steps: list[RollbackStep] = Field(default_factory=new_list)
    max_minutes: Annotated[float, Strict(), Field(ge=0, le=7 * 24 * 60)] | None = None
    tested: StrictBool = False
    evidence: str | None = None


class Verification(_Strict):
    check: NonEmpty
    command: str | None = None
    expect: str | None = None


class Communication(_Strict):
    status_page: StrictBool = False
    notice_hours: Annotated[float, Strict(), Field(ge=0)] | None = None
    channels: list[str] = Field(default_factory=new_list)


class Waiver(_Strict):
    rule: NonEmpty
    reason: str = ""


class ChangePlan(_Strict):
    apiVersion: Literal["changeguard/v1"]
    kind: Literal["ChangePlan"]
    id: Annotated[str, StringConstraints(pattern=ID_PATTERN)]
    title: NonEmpty
    author: Annotated[str, StringConstraints(pattern=EMAIL_PATTERN)]
    type: PlanType = PlanType.NORMAL
    risk: Risk = Risk.MEDIUM
    services: list[NonEmpty] = Field(default_factory=new_list)
    environment: str | None = None
    description: str | None = None
    window: Window
    changes: list[Change] = Field(default_factory=new_list)
    steps: list[Step] = Field(default_factory=new_list)
    verification: list[Verification] = Field(default_factory=new_list)
    rollback: Rollback | None = None
    communication: Communication | None = None
    waivers: list[Waiver] = Field(default_factory=new_list)
    labels: dict[str, str] = Field(default_factory=new_dict)

    @property
    def is_emergency(self) -> bool:
        return self.type is PlanType.EMERGENCY

    @property
    def paths(self) -> list[str]:
        return [c.path for c in self.changes]


# ---------------------------------------------------------------- GuardConfig

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _check_zone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError) as e:  # `Asia` is a directory
        raise ValueError(
            f"unknown time zone {value!r} (use an IANA name like Asia/Singapore)") from e
    return value


Zone = Annotated[str, AfterValidator(_check_zone)]


class LogConfig(_Strict):
    ref: Annotated[str, StringConstraints(pattern=cfgdef.REF_PATTERN)] = cfgdef.DEFAULT_LOG_REF
    remote: str | None = None


class TrustConfig(_Strict):
    branch: Annotated[str, StringConstraints(pattern=cfgdef.BRANCH_PATTERN)] = (
        cfgdef.DEFAULT_TRUST_BRANCH)


class SchemaMapping(_Strict):
    paths: list[NonEmpty] = Field(min_length=1)
    schema_: str | None = Field(default=None, alias="schema")
    format: (
        Literal["native", "patroni", "postgresql", "mysql", "mongodb", "redis", "kubernetes",
                "auto"]
        | None
    ) = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True,
                              defer_build=True)

    @model_validator(mode="after")
    def _one_of(self) -> SchemaMapping:
        if (self.schema_ is None) == (self.format is None):
            raise ValueError("each schemas entry needs exactly one of `schema:` or `format:`")
        return self


class MaintenanceWindow(_Strict):
    name: NonEmpty
    days: list[Day] = Field(min_length=1)
    start: Annotated[str, StringConstraints(pattern=HHMM_PATTERN)]
    end: Annotated[str, StringConstraints(pattern=HHMM_PATTERN)]
    timezone: Zone | None = None

    @property
    def start_time(self) -> time:
        return _hhmm(self.start)

    @property
    def end_time(self) -> time:
        return _hhmm(self.end)


def _hhmm(value: str) -> time:
    h, m = value.split(":")
    return time(0, 0) if h == "24" else time(int(h), int(m))


class Freeze(_Strict):
    name: NonEmpty
    start: Timestamp
    end: Timestamp
    reason: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> Freeze:
        if self.end <= self.start:
            raise ValueError("freeze end must be after its start")
        return self


class Reviewer(_Strict):
    email: Annotated[str, StringConstraints(pattern=EMAIL_PATTERN)]
    name: str | None = None
    roles: list[NonEmpty] = Field(default_factory=new_list)
    signing_key: str | None = None


class GuardConfig(_Strict):
    apiVersion: Literal["changeguard/v1"]
    kind: Literal["GuardConfig"]
    timezone: Zone = cfgdef.DEFAULT_TIMEZONE
    log: LogConfig = Field(default_factory=lambda: LogConfig())
    guarded: list[NonEmpty] = Field(default_factory=new_list)
    plans: NonEmpty = cfgdef.DEFAULT_PLANS
    schemas: list[SchemaMapping] = Field(default_factory=new_list)
    policies: list[NonEmpty] = Field(default_factory=lambda: list(cfgdef.DEFAULT_POLICIES))
    windows: list[MaintenanceWindow] = Field(default_factory=new_list)
    freezes: list[Freeze] = Field(default_factory=new_list)
    lead_time_hours: Annotated[float, Strict(), Field(ge=0)] = cfgdef.DEFAULT_LEAD_TIME_HOURS
    emergency_review_hours: Annotated[float, Strict(), Field(gt=0)] = (
        cfgdef.DEFAULT_EMERGENCY_REVIEW_HOURS)
    require_signed: StrictBool = False
    reviewers: list[Reviewer] = Field(default_factory=new_list)
    max_file_bytes: Annotated[int, Strict(), Field(gt=0)] = cfgdef.DEFAULT_MAX_BYTES
    trust: TrustConfig = Field(default_factory=lambda: TrustConfig())
    clock: Literal["real", "simulated"] = "real"
    clock_skew_minutes: Annotated[float, Strict(), Field(ge=0)] = (
        cfgdef.DEFAULT_CLOCK_SKEW_MINUTES)
    # Where repo-relative packs and schemas resolve when the config was read from a
    # revision (config.trusted.set_root); None: the working tree.
    _root: Path | None = PrivateAttr(default=None)
    # the config's own repo-relative path (a governance file, SPEC §12); None: the default
    _file: str | None = PrivateAttr(default=None)
    # values derived from this (never mutated) config during one run, e.g. its effective
    # policy rules per repo: `log verify` asks for them once per submit
    _memo: dict[object, object] = PrivateAttr(default_factory=dict)

    @field_validator("reviewers")
    @classmethod
    def _unique_reviewers(cls, value: list[Reviewer]) -> list[Reviewer]:
        seen: set[str] = set()
        for r in value:
            key = r.email.lower()
            if key in seen:
                raise ValueError(f"reviewer {r.email} is listed twice")
            seen.add(key)
        return value

    def files_root(self, repo: Path) -> Path:
        """Where repo-relative packs and schemas resolve: the config's revision, or `repo`."""
        return self._root if self._root is not None else repo

    def reviewer(self, email: str) -> Reviewer | None:
        """The roster member with this email (case-insensitive)."""
        e = email.lower()
        return next((r for r in self.reviewers if r.email.lower() == e), None)

    def holders_of(self, role: str) -> list[str]:
        return [r.email for r in self.reviewers if role in r.roles]


def parse_aware(value: str) -> datetime:
    """RFC 3339 with offset, as plan files must carry (SPEC §10)."""
    t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if t.tzinfo is None:
        raise ValueError("timestamp needs a timezone offset")
    return t
