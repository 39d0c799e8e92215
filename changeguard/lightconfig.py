"""Raw `.changeguard.yaml` reading for the hook: PyYAML + stdlib only, no pydantic.

The hook must decide "nothing to do" in milliseconds (issue 6 §3), so it reads just the
keys it needs and checks their shapes itself; `changeguard.config.load_config` remains the
full validator used by every other command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from changeguard.errors import ConfigError, InputError
from changeguard.loader import JSONValue, Loaded, load_file

CONFIG_NAME = ".changeguard.yaml"
DEFAULT_LOG_REF = "refs/heads/changeguard/log"
DEFAULT_PLANS = "changes/*.yaml"
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
_REF = re.compile(r"refs/[A-Za-z0-9._/-]+\Z")  # as GuardConfig.log.ref: safe in git argv


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
    """The keys of `.changeguard.yaml` the hook needs, shape-checked."""

    file: str = CONFIG_NAME
    guarded: tuple[str, ...] = ()
    plans: str = DEFAULT_PLANS
    schemas: tuple[dict[str, JSONValue], ...] = ()
    log_ref: str = DEFAULT_LOG_REF
    log_remote: str | None = None
    freezes: tuple[FreezeSpan, ...] = ()
    reviewers: tuple[Member, ...] = ()
    max_file_bytes: int = DEFAULT_MAX_BYTES
    schema_globs: tuple[tuple[str, ...], ...] = field(default=(), repr=False)


def load_light_config(repo: Path, path: Path | None = None) -> LightConfig:
    """Read the repo's config (or `path`); defaults when the repo has none and no --config."""
    p = path if path is not None else repo / CONFIG_NAME
    if not p.exists():
        if path is not None:
            raise ConfigError(f"config file {path} does not exist",
                              hint="run `changeguard init` or fix --config")
        return LightConfig()
    display = _display(repo, p)
    try:
        loaded = load_file(p, display)
    except InputError as e:
        raise ConfigError(e.message, file=e.file, line=e.line, hint=e.hint) from e
    return parse_light_config(loaded)


def parse_light_config(loaded: Loaded) -> LightConfig:
    """Shape-check the keys the hook reads; ConfigError names the line of a bad value."""
    data = loaded.data
    if not isinstance(data, dict):
        raise ConfigError("config must be a mapping", file=loaded.file, line=1,
                          hint="start from `changeguard init`")
    r = _Reader(loaded, data)
    if data.get("kind", "GuardConfig") != "GuardConfig":
        raise r.fail("/kind", "kind must be GuardConfig")
    schemas = tuple(r.schemas())
    log = r.mapping("log")
    ref = log.get("ref", DEFAULT_LOG_REF)
    remote = log.get("remote")
    if not isinstance(ref, str) or not _REF.match(ref):
        raise r.fail("/log/ref", "log.ref must be a full ref name such as "
                     f"{DEFAULT_LOG_REF}")
    if remote is not None and not isinstance(remote, str):
        raise r.fail("/log/remote", "log.remote must be a remote name")
    size = data.get("max_file_bytes", DEFAULT_MAX_BYTES)
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise r.fail("/max_file_bytes", "max_file_bytes must be a positive integer")
    return LightConfig(
        file=loaded.file, guarded=tuple(r.strings("guarded")), plans=r.string("plans"),
        schemas=schemas, log_ref=ref, log_remote=remote, freezes=tuple(r.freezes()),
        reviewers=tuple(r.reviewers()), max_file_bytes=size,
        schema_globs=tuple(tuple(_strs(s.get("paths"))) for s in schemas),
    )


def _strs(value: JSONValue) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


class _Reader:
    """Typed access to raw config keys with located errors."""

    def __init__(self, loaded: Loaded, data: dict[str, JSONValue]) -> None:
        self.loaded = loaded
        self.data = data

    def fail(self, pointer: str, message: str) -> ConfigError:
        return ConfigError(message, file=self.loaded.file,
                           line=self.loaded.source.line_for(pointer),
                           hint="`changeguard check` validates the whole config; "
                                "see docs/config.md")

    def strings(self, key: str) -> list[str]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(f"/{key}", f"{key} must be a list of glob strings")
        return [v for v in value if isinstance(v, str)]

    def string(self, key: str) -> str:
        value = self.data.get(key, DEFAULT_PLANS)
        if not isinstance(value, str) or not value:
            raise self.fail(f"/{key}", f"{key} must be a glob string")
        return value

    def mapping(self, key: str) -> dict[str, JSONValue]:
        value = self.data.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(f"/{key}", f"{key} must be a mapping")
        return value

    def items(self, key: str) -> list[tuple[str, dict[str, JSONValue]]]:
        value = self.data.get(key, [])
        if not isinstance(value, list):
            raise self.fail(f"/{key}", f"{key} must be a list")
        out: list[tuple[str, dict[str, JSONValue]]] = []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise self.fail(f"/{key}/{i}", f"{key}[{i}] must be a mapping")
            out.append((f"/{key}/{i}", item))
        return out

    def schemas(self) -> list[dict[str, JSONValue]]:
        out = []
        for ptr, item in self.items("schemas"):
            paths = item.get("paths")
            if not isinstance(paths, list) or not paths or not all(
                    isinstance(p, str) and p for p in paths):
                raise self.fail(f"{ptr}/paths", "schemas[].paths must be a list of globs")
            out.append(item)
        return out

    def freezes(self) -> list[FreezeSpan]:
        out = []
        for ptr, item in self.items("freezes"):
            start = self.aware(item.get("start"), f"{ptr}/start")
            end = self.aware(item.get("end"), f"{ptr}/end")
            name, reason = item.get("name", ""), item.get("reason", "")
            out.append(FreezeSpan(str(name), start, end, str(reason or "")))
        return out

    def aware(self, value: JSONValue, pointer: str) -> datetime:
        if isinstance(value, str):
            try:
                t = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                pass
            else:
                if t.tzinfo is not None:
                    return t
        raise self.fail(pointer, f"{value!r} is not an RFC 3339 timestamp with an offset")

    def reviewers(self) -> list[Member]:
        out = []
        for ptr, item in self.items("reviewers"):
            email, roles, name = item.get("email"), item.get("roles", []), item.get("name")
            if not isinstance(email, str) or "@" not in email:
                raise self.fail(f"{ptr}/email", "reviewers[].email must be an email address")
            if not isinstance(roles, list) or not all(isinstance(x, str) for x in roles):
                raise self.fail(f"{ptr}/roles", "reviewers[].roles must be a list of names")
            out.append(Member(email, name if isinstance(name, str) else None,
                              tuple(x for x in roles if isinstance(x, str))))
        return out


def _display(repo: Path, p: Path) -> str:
    try:
        return p.resolve().relative_to(repo.resolve()).as_posix()
    except ValueError:
        return str(p)
