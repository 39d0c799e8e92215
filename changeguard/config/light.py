"""The hook's view of `.changeguard.yaml`: the same keys and rules as GuardConfig, stdlib only.

The hook must decide "nothing to do" in milliseconds (issue 6 §3), so it cannot import
pydantic; but a config every other command refuses must not switch the guard off here
(issue 13 §2: a misspelt `gaurded:` did). So this view checks every key of
`config.defaults` the way the model does — unknown keys with a did-you-mean, types, ranges,
time zones, timestamps — and keeps the values the hook needs. `tests/test_config_contract.py`
runs the same documents through both views.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from changeguard.config import defaults as d
from changeguard.errors import ConfigError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (hook start-up)

if TYPE_CHECKING:
    from typing import Any

    from changeguard.loader import JSONValue, Loaded
    from changeguard.model import GuardConfig

CONFIG_NAME = d.CONFIG_NAME
# patterns are compiled on first use (re caches them): a remembered view needs none
_REF = d.REF_PATTERN
_BRANCH = d.BRANCH_PATTERN
_EMAIL = d.EMAIL_PATTERN
_HHMM = d.HHMM_PATTERN
# as changeguard.model._RFC3339: an RFC 3339 string, offset required (SPEC §10)
_RFC3339 = (
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(?P<off>[Zz]|[+-]\d{2}:?\d{2})?$")

Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Member:
    """One roster entry: who may approve, and with which roles."""

    email: str
    name: str | None
    roles: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FreezeSpan:
    """A configured change freeze (SPEC §3 `freezes`)."""

    name: str
    start: datetime
    end: datetime
    reason: str


@dataclass(frozen=True)
class LightConfig:
    """The keys of `.changeguard.yaml` the hook needs (the whole document was checked)."""

    file: str = CONFIG_NAME
    guarded: tuple[str, ...] = ()
    plans: str = d.DEFAULT_PLANS
    schemas: tuple[dict[str, JSONValue], ...] = ()
    log_ref: str = d.DEFAULT_LOG_REF
    log_remote: str | None = None
    freezes: tuple[FreezeSpan, ...] = ()
    reviewers: tuple[Member, ...] = ()
    max_file_bytes: int = d.DEFAULT_MAX_BYTES
    trust_branch: str = d.DEFAULT_TRUST_BRANCH
    clock: str = d.DEFAULT_CLOCK
    clock_skew_minutes: float = d.DEFAULT_CLOCK_SKEW_MINUTES
    policies: tuple[str, ...] = d.DEFAULT_POLICIES
    rev: str | None = None  # the trusted commit it was read from (None: the working tree)
    schema_globs: tuple[tuple[str, ...], ...] = field(default=(), repr=False)


def governance_paths(cfg: LightConfig) -> tuple[str, ...]:
    """The files that govern the guard (SPEC §12 "Governance is guarded"), repo-relative.

    The config itself, each repo-relative policy pack of `policies:` and each repo-relative
    `schema:` of `schemas:` (`builtin:` ones ship with changeguard). They are guarded
    whatever `guarded` says: whoever could edit them unreviewed could switch the guard off.
    """
    import posixpath

    names = [cfg.file] + list(cfg.policies) + [
        s["schema"] for s in cfg.schemas if isinstance(s.get("schema"), str)]
    out: list[str] = []
    for name in names:
        if not isinstance(name, str) or name.startswith(("builtin:", "/")) or not name:
            continue  # shipped with changeguard, or outside the repo (absolute)
        rel = posixpath.normpath(name.replace("\\", "/"))
        if rel not in out and rel != "." and not rel.startswith("../"):
            out.append(rel)
    return tuple(out)


def load_light_config(repo: Path, path: Path | None = None) -> LightConfig:
    """Read the repo's config (or `path`) through the one locator; defaults when absent."""
    from changeguard.config.load import read_config

    loaded = read_config(repo, path)
    return LightConfig() if loaded is None else parse_light_config(loaded)


def view_of(config: GuardConfig, file: str = CONFIG_NAME) -> LightConfig:
    """The light view of an already validated full config (the CI gate's path)."""
    schemas: list[dict[str, JSONValue]] = []
    for m in config.schemas:
        entry: dict[str, JSONValue] = {"paths": list(m.paths)}
        if m.schema_ is not None:
            entry["schema"] = m.schema_
        if m.format is not None:
            entry["format"] = m.format
        schemas.append(entry)
    return LightConfig(
        file=file, guarded=tuple(config.guarded), plans=config.plans, schemas=tuple(schemas),
        log_ref=config.log.ref, log_remote=config.log.remote,
        freezes=tuple(FreezeSpan(f.name, f.start, f.end, f.reason) for f in config.freezes),
        reviewers=tuple(Member(r.email, r.name, tuple(r.roles)) for r in config.reviewers),
        max_file_bytes=config.max_file_bytes, trust_branch=config.trust.branch,
        clock=config.clock, clock_skew_minutes=config.clock_skew_minutes,
        policies=tuple(config.policies),
        schema_globs=tuple(tuple(m.paths) for m in config.schemas))


def parse_light_config(loaded: Loaded) -> LightConfig:
    """Check the whole document like GuardConfig; ConfigError names the line of a bad value."""
    data = loaded.data
    if not isinstance(data, dict):
        raise ConfigError("config must be a mapping", file=loaded.file, line=1,
                          hint="start from `changeguard init`")
    v = _Checker(loaded)
    v.keys(data, (), d.KEYS)
    v.literal(data, ("apiVersion",), d.API_VERSION, required=True)
    v.literal(data, ("kind",), d.KIND, required=True)
    if "timezone" in data:  # the default (UTC) needs no zoneinfo lookup on the hook's path
        v.zone(data["timezone"], ("timezone",))
    log = v.mapping(data.get("log", {}), ("log",), d.LOG_KEYS)
    ref = log.get("ref", d.DEFAULT_LOG_REF)
    if not isinstance(ref, str) or not re.match(_REF, ref):
        raise v.fail(("log", "ref"), f"String should match pattern '{d.REF_PATTERN}'",
                     f"a full ref name such as {d.DEFAULT_LOG_REF}")
    remote = v.optional_str(log.get("remote"), ("log", "remote"))
    guarded = v.strings(data.get("guarded", []), ("guarded",))
    plans = v.non_empty(data.get("plans", d.DEFAULT_PLANS), ("plans",))
    schemas = [v.schema(item, loc) for item, loc in v.items(data, "schemas")]
    policies = v.strings(data.get("policies", list(d.DEFAULT_POLICIES)), ("policies",))
    for item, loc in v.items(data, "windows"):
        v.window(item, loc)
    freezes = [v.freeze(item, loc) for item, loc in v.items(data, "freezes")]
    v.number(data, "lead_time_hours", d.DEFAULT_LEAD_TIME_HOURS, minimum_exclusive=False)
    v.number(data, "emergency_review_hours", d.DEFAULT_EMERGENCY_REVIEW_HOURS,
             minimum_exclusive=True)
    if not isinstance(data.get("require_signed", False), bool):
        raise v.fail(("require_signed",), "Input should be a valid boolean")
    reviewers = v.reviewers(v.items(data, "reviewers"))
    size = data.get("max_file_bytes", d.DEFAULT_MAX_BYTES)
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise v.fail(("max_file_bytes",), "Input should be a positive integer")
    trust = v.mapping(data.get("trust", {}), ("trust",), d.TRUST_KEYS)
    branch = trust.get("branch", d.DEFAULT_TRUST_BRANCH)
    if not isinstance(branch, str) or not re.match(_BRANCH, branch):
        raise v.fail(("trust", "branch"), f"String should match pattern '{d.BRANCH_PATTERN}'",
                     "a branch name such as main")
    clock = data.get("clock", d.DEFAULT_CLOCK)
    if clock not in d.CLOCKS:
        raise v.fail(("clock",), "Input should be " + " or ".join(repr(c) for c in d.CLOCKS))
    skew = v.number(data, "clock_skew_minutes", d.DEFAULT_CLOCK_SKEW_MINUTES,
                    minimum_exclusive=False)
    return LightConfig(
        file=loaded.file, guarded=tuple(guarded), plans=plans, schemas=tuple(schemas),
        log_ref=ref, log_remote=remote, freezes=tuple(freezes), reviewers=tuple(reviewers),
        max_file_bytes=size, trust_branch=branch, clock=str(clock),
        clock_skew_minutes=skew, policies=tuple(policies),
        schema_globs=tuple(tuple(_strs(s.get("paths"))) for s in schemas),
    )


def _strs(value: JSONValue) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


class _Checker:
    """Located checks over raw config values; messages follow `validation.problems`."""

    def __init__(self, loaded: Loaded) -> None:
        self.loaded = loaded

    def fail(self, loc: Loc, message: str, hint: str | None = None) -> ConfigError:
        from changeguard.loader import pointer_of

        where = ".".join(str(p) for p in loc) or "(document)"
        return ConfigError(f"{where}: {message}", file=self.loaded.file,
                           line=self.loaded.source.line_for(pointer_of(loc)),
                           hint=hint or "see docs/config.md")

    def keys(self, data: dict[str, JSONValue], loc: Loc, known: tuple[str, ...]) -> None:
        """Unknown keys are refused with a did-you-mean, like the full view."""
        for key in data:
            if key not in known:
                import difflib  # only on the error path

                from changeguard.loader import pointer_of

                close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
                where = ".".join(str(p) for p in (*loc, key))
                raise ConfigError(
                    f"unknown key {where!r}", file=self.loaded.file,
                    line=self.loaded.source.line_for(pointer_of((*loc, key))),
                    hint=f"did you mean {close[0]!r}?" if close
                    else "allowed keys: " + ", ".join(sorted(known)))

    def literal(self, data: dict[str, JSONValue], loc: Loc, value: str, required: bool) -> None:
        key = str(loc[-1])
        if key not in data:
            if required:
                raise self.fail(loc, "required field is missing", f"add `{key}:`")
            return
        if data[key] != value:
            raise self.fail(loc, f"Input should be '{value}'", f"expected '{value}'")

    def mapping(self, value: JSONValue, loc: Loc, known: tuple[str, ...]
                ) -> dict[str, JSONValue]:
        if not isinstance(value, dict):
            raise self.fail(loc, "Input should be a valid dictionary or instance of the model")
        self.keys(value, loc, known)
        return value

    def items(self, data: dict[str, JSONValue], key: str) -> list[tuple[JSONValue, Loc]]:
        value = data.get(key, [])
        if not isinstance(value, list):
            raise self.fail((key,), "Input should be a valid list")
        return [(item, (key, i)) for i, item in enumerate(value)]

    def non_empty(self, value: JSONValue, loc: Loc) -> str:
        if not isinstance(value, str):
            raise self.fail(loc, "Input should be a valid string")
        if not value:
            raise self.fail(loc, "String should have at least 1 character")
        return value

    def optional_str(self, value: JSONValue, loc: Loc) -> str | None:
        if value is not None and not isinstance(value, str):
            raise self.fail(loc, "Input should be a valid string")
        return value

    def strings(self, value: JSONValue, loc: Loc, min_items: int = 0) -> list[str]:
        if not isinstance(value, list):
            raise self.fail(loc, "Input should be a valid list")
        if len(value) < min_items:
            raise self.fail(loc, f"List should have at least {min_items} item after validation")
        return [self.non_empty(v, (*loc, i)) for i, v in enumerate(value)]

    def zone(self, value: JSONValue, loc: Loc) -> None:
        if not isinstance(value, str):
            raise self.fail(loc, "Input should be a valid string")
        name = value
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # only when a zone is named

        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # `Asia` is a directory
            raise self.fail(loc, f"unknown time zone {name!r} (use an IANA name like "
                                 "Asia/Singapore)") from None

    def schema(self, item: JSONValue, loc: Loc) -> dict[str, JSONValue]:
        m = self.mapping(item, loc, d.SCHEMA_KEYS)
        if "paths" not in m:
            raise self.fail((*loc, "paths"), "required field is missing", "add `paths:`")
        self.strings(m["paths"], (*loc, "paths"), min_items=1)
        self.optional_str(m.get("schema"), (*loc, "schema"))
        fmt = m.get("format")
        if fmt is not None and fmt not in d.FORMATS:
            allowed = ", ".join(repr(f) for f in d.FORMATS)
            raise self.fail((*loc, "format"), f"Input should be {allowed}")
        if (m.get("schema") is None) == (fmt is None):
            raise self.fail(loc, "each schemas entry needs exactly one of `schema:` or "
                                 "`format:`")
        return m

    def window(self, item: JSONValue, loc: Loc) -> None:
        m = self.mapping(item, loc, d.WINDOW_KEYS)
        for key in ("name", "days", "start", "end"):
            if key not in m:
                raise self.fail((*loc, key), "required field is missing", f"add `{key}:`")
        self.non_empty(m["name"], (*loc, "name"))
        days = m["days"]
        if not isinstance(days, list) or not days:
            raise self.fail((*loc, "days"), "List should have at least 1 item after validation")
        for i, day in enumerate(days):
            if day not in d.DAYS:
                raise self.fail((*loc, "days", i), "Input should be "
                                + ", ".join(repr(x) for x in d.DAYS))
        for key in ("start", "end"):
            text = m[key]
            if not isinstance(text, str) or not re.match(_HHMM, text):
                raise self.fail((*loc, key), f"String should match pattern '{d.HHMM_PATTERN}'")
        if m.get("timezone") is not None:
            self.zone(m["timezone"], (*loc, "timezone"))

    def freeze(self, item: JSONValue, loc: Loc) -> FreezeSpan:
        m = self.mapping(item, loc, d.FREEZE_KEYS)
        for key in ("name", "start", "end"):
            if key not in m:
                raise self.fail((*loc, key), "required field is missing", f"add `{key}:`")
        name = self.non_empty(m["name"], (*loc, "name"))
        start = self.aware(m["start"], (*loc, "start"))
        end = self.aware(m["end"], (*loc, "end"))
        reason = m.get("reason", "")
        if not isinstance(reason, str):
            raise self.fail((*loc, "reason"), "Input should be a valid string")
        if end <= start:
            raise self.fail(loc, "freeze end must be after its start")
        return FreezeSpan(name, start, end, reason)

    def aware(self, value: JSONValue, loc: Loc) -> datetime:
        if not isinstance(value, str):
            raise self.fail(loc, "expected an RFC 3339 timestamp string")
        m = re.match(_RFC3339, value)
        if m is None:
            raise self.fail(loc, f"'{value}' is not an RFC 3339 timestamp")
        if m.group("off") is None:
            raise self.fail(loc, f"'{value}' has no timezone offset (timezone required)")
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise self.fail(loc, f"'{value}' is not a valid datetime") from None

    def number(self, data: dict[str, JSONValue], key: str, default: float,
               minimum_exclusive: bool) -> float:
        value = data.get(key, default)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise self.fail((key,), "Input should be a valid number")
        if value < 0 or (minimum_exclusive and value == 0):
            word = "greater than" if minimum_exclusive else "greater than or equal to"
            raise self.fail((key,), f"Input should be {word} 0")
        return float(value)

    def reviewers(self, items: list[tuple[JSONValue, Loc]]) -> list[Member]:
        out: list[Member] = []
        seen: set[str] = set()
        for item, loc in items:
            m = self.mapping(item, loc, d.REVIEWER_KEYS)
            if "email" not in m:
                raise self.fail((*loc, "email"), "required field is missing", "add `email:`")
            email = m["email"]
            if not isinstance(email, str) or not re.match(_EMAIL, email):
                raise self.fail((*loc, "email"),
                                f"String should match pattern '{d.EMAIL_PATTERN}'")
            name = self.optional_str(m.get("name"), (*loc, "name"))
            roles = self.strings(m.get("roles", []), (*loc, "roles"))
            self.optional_str(m.get("signing_key"), (*loc, "signing_key"))
            out.append(Member(email, name, tuple(roles)))
        for member in out:
            if member.email.lower() in seen:
                raise self.fail(("reviewers",), f"reviewer {member.email} is listed twice")
            seen.add(member.email.lower())
        return out


# ---- the remembered view of a trusted config (issue 17) --------------------------------
# The hook parses the same trusted config on every run. A view is a pure function of the
# config's bytes and of this code, so it is remembered: in the process (find_trusted and
# the hook read it twice), and on disk for the hook only, under `.git/changeguard/`. An
# entry is believed only when its stored bytes equal the bytes just read from the trusted
# revision and its stamp names this code; CI (and CHANGEGUARD_CHECK_CACHE=off) never reads
# or writes one, and the gate never asks (it has no store set). Invalid configs are never
# remembered: they raise their ConfigError on every run.

_STORE_FORMAT = 1
_STORE_KEEP = 8  # configs remembered (trusted branches, revisions)
_memo: dict[tuple[bytes, str], LightConfig] = {}
_store: list[Path] = []  # the hook's store file, when it set one (`remember_views_in`)


def remember_views_in(git_dir: Path | None) -> None:
    """Let this process read and write remembered views under `git_dir` (the hook only)."""
    from changeguard.caches import enabled

    _store.clear()
    if git_dir is not None and enabled():
        _store.append(git_dir / "changeguard" / "light-config.marshal")


def remembered_view(raw: bytes, file: str, parse: Callable[[], LightConfig]) -> LightConfig:
    """`parse()` of the config `raw` (at repo path `file`), remembered as described above."""
    key = (raw, file)
    if key in _memo:
        return _memo[key]
    entries = _read_store()
    found = next((e for e in entries if e[0] == raw and e[1] == file), None)
    view = _view_from(found[2]) if found is not None else None
    if view is None:
        view = parse()
        if _store:
            older = [e for e in entries if e is not found][:_STORE_KEEP - 1]
            _write_store([(raw, file, _fields_of(view)), *older])
    _memo[key] = view
    return view


def _stamp() -> tuple[Any, ...]:
    """Which code derived a view: this module, the key table and the YAML value rules."""
    here = Path(__file__).resolve()
    files = (here, here.parent / "defaults.py", here.parent.parent / "loader.py")
    stats = []
    for f in files:
        try:
            st = os.stat(f)
        except OSError:
            return ()
        stats.append((str(f), st.st_mtime_ns, st.st_size))
    return (_STORE_FORMAT, *stats)


if TYPE_CHECKING:
    Entry = tuple[bytes, str, tuple[Any, ...]]


def _read_store() -> list[Entry]:
    import marshal

    if not _store:
        return []
    try:
        doc = marshal.loads(_store[0].read_bytes())
        if not isinstance(doc, tuple) or len(doc) != 2 or doc[0] != _stamp():
            return []
        return [e for e in doc[1] if isinstance(e, tuple) and len(e) == 3
                and isinstance(e[0], bytes) and isinstance(e[1], str)
                and isinstance(e[2], tuple)]
    except (OSError, ValueError, EOFError, TypeError):
        return []


def _write_store(entries: list[Entry]) -> None:
    import marshal

    from changeguard.caches import write_atomic

    doc: Any = (_stamp(), entries)  # bytes, str, numbers, tuples, dicts: marshallable
    try:
        data = marshal.dumps(doc)
    except ValueError:
        return
    write_atomic(_store[0], data)  # a read-only .git only means nothing is remembered


def _fields_of(c: LightConfig) -> tuple[Any, ...]:
    return (c.file, c.guarded, c.plans, c.schemas, c.log_ref, c.log_remote,
            tuple((f.name, f.start.isoformat(), f.end.isoformat(), f.reason)
                  for f in c.freezes),
            tuple((m.email, m.name, m.roles) for m in c.reviewers), c.max_file_bytes,
            c.trust_branch, c.clock, c.clock_skew_minutes, c.policies, c.rev, c.schema_globs)


def _view_from(fields: tuple[Any, ...]) -> LightConfig | None:
    """The stored fields as a view; None (not believed) when anything is off."""
    try:
        (file, guarded, plans, schemas, log_ref, log_remote, freezes, reviewers, size,
         branch, clock, skew, policies, rev, globs) = fields
        view = LightConfig(
            file=file, guarded=guarded, plans=plans, schemas=schemas, log_ref=log_ref,
            log_remote=log_remote,
            freezes=tuple(FreezeSpan(n, datetime.fromisoformat(s), datetime.fromisoformat(e),
                                     r) for n, s, e, r in freezes),
            reviewers=tuple(Member(e, n, r) for e, n, r in reviewers), max_file_bytes=size,
            trust_branch=branch, clock=clock, clock_skew_minutes=skew, policies=policies,
            rev=rev, schema_globs=globs)
    except (TypeError, ValueError):
        return None
    # believed only when well typed and exactly what was stored
    return view if _well_typed(view) and _fields_of(view) == fields else None


def _str_tuple(value: object) -> bool:
    return type(value) is tuple and all(type(x) is str for x in value)


def _opt_str(value: object) -> bool:
    return value is None or type(value) is str


def _well_typed(c: LightConfig) -> bool:
    """Every field has the type `parse_light_config` gives it (a stored view is data)."""
    return (type(c.file) is str and _str_tuple(c.guarded) and type(c.plans) is str
            and type(c.schemas) is tuple and all(type(m) is dict for m in c.schemas)
            and type(c.log_ref) is str and _opt_str(c.log_remote)
            and type(c.max_file_bytes) is int and type(c.trust_branch) is str
            and type(c.clock) is str and type(c.clock_skew_minutes) is float
            and _str_tuple(c.policies) and _opt_str(c.rev)
            and type(c.schema_globs) is tuple and all(_str_tuple(g) for g in c.schema_globs)
            and all(type(m.email) is str and _opt_str(m.name) and _str_tuple(m.roles)
                    for m in c.reviewers)
            and all(type(f.name) is str and type(f.reason) is str for f in c.freezes))
