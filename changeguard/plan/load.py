"""Plan loading: bytes → ChangePlan, with exit-2 input errors split from plan-schema findings.

SPEC §11: untrusted input (not YAML, unknown keys, wrong kind/apiVersion, ids with `/` or
`..`, traversal paths, naive datetimes, unknown zones, wrong types, over-size) is exit 2;
a well-formed plan that breaks the schema's value rules (bad enum, missing field) is a
`plan-schema` finding with the offending line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from changeguard.errors import InputError
from changeguard.findings import Finding, Severity
from changeguard.loader import (
    DEFAULT_MAX_BYTES,
    Loaded,
    document_data,
    parse_document,
    read_bytes,
)
from changeguard.model import ChangePlan

# pydantic error types that mean "cannot trust this input at all" (exit 2)
_FATAL_TYPES = frozenset({
    "extra_forbidden", "naive_datetime", "datetime_type", "datetime_format", "timezone_aware",
    "string_type", "int_type", "int_parsing", "float_type", "float_parsing", "bool_type",
    "bool_parsing", "list_type", "dict_type", "model_type", "model_attributes_type",
    "datetime_parsing", "datetime_from_date_parsing", "int_from_float", "is_instance_of",
})
_FATAL_FIELDS = frozenset({"apiVersion", "kind"})


@dataclass
class LoadedPlan:
    """A plan file as read: its bytes, parsed model (None if invalid), findings."""

    display: str
    raw: bytes
    loaded: Loaded
    plan: ChangePlan | None
    findings: list[Finding] = field(default_factory=list)

    def line(self, pointer: str) -> int | None:
        return self.loaded.source.line_for(pointer)


def display_path(path: Path, repo: Path | None) -> str:
    """Repo-relative '/'-path when inside the repo, else as given."""
    if repo is not None:
        try:
            return path.resolve().relative_to(repo.resolve()).as_posix()
        except (ValueError, OSError):
            pass
    return str(path)


def load_plan(path: Path, repo: Path | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES,
              display: str | None = None) -> LoadedPlan:
    """Read and parse a plan file (see module doc for exit-2 vs findings)."""
    name = display or display_path(path, repo)
    if repo is not None:
        _refuse_escaping_link(path, repo, name)
    raw = read_bytes(path, name, max_bytes)
    return parse_plan(raw, name, max_bytes=max_bytes)


def _refuse_escaping_link(path: Path, repo: Path, name: str) -> None:
    """A plan named inside the repo must not be a link out of it (SPEC §10: never followed)."""
    try:
        Path(os.path.abspath(path)).relative_to(os.path.abspath(repo))
    except ValueError:
        return  # named outside the repo on purpose: read as given
    root, real = repo.resolve(), path.resolve()
    if real != root and root not in real.parents:
        raise InputError("symlink points outside the repository", file=name,
                         hint="replace the link with the file itself")


def parse_plan(raw: bytes, name: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> LoadedPlan:
    """Parse plan bytes already read (from the work tree, the index or the log)."""
    loaded = parse_document(raw, name, max_bytes)
    data = loaded.data
    if not isinstance(data, dict):
        raise InputError("a change plan must be a YAML mapping", file=name, line=1,
                         hint="start from `changeguard new`")
    _check_identity(data, loaded)
    from pydantic import ValidationError

    try:
        plan = ChangePlan.model_validate(data)
    except ValidationError as e:
        from changeguard.validation import problems  # only a plan that fails needs it

        findings: list[Finding] = []
        for p in problems(e, ChangePlan, loaded.source):
            if p.kind in _FATAL_TYPES or (p.loc and p.loc[0] in _FATAL_FIELDS) or _is_path(p.loc):
                raise InputError(p.message, file=name, line=p.line,
                                 hint=p.hint or _hint_for(p.kind)) from e
            findings.append(Finding("plan-schema", Severity.DENY, p.message, name, p.line,
                                    p.pointer, p.hint or "see `changeguard explain plan-schema`"))
        return LoadedPlan(name, raw, loaded, None, findings)
    return LoadedPlan(name, raw, loaded, plan)


def valid_plan(raw: bytes, name: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> ChangePlan | None:
    """The plan `raw` holds when `parse_plan` would return it with no finding, else None.

    Built without a line map (`loader.document_data`): lines only word errors. On None,
    call `parse_plan` for its error or findings, worded and located exactly as always
    (`log verify` re-reads every stored plan; only a bad one pays for the lines).
    """
    try:
        data = document_data(raw, name, max_bytes)
    except InputError:
        return None
    if not isinstance(data, dict) or data.get("kind") != "ChangePlan" \
            or data.get("apiVersion") != "changeguard/v1":
        return None
    ident = data.get("id")
    if isinstance(ident, str) and ("/" in ident or "\\" in ident or ".." in ident):
        return None
    from pydantic import ValidationError

    try:
        return ChangePlan.model_validate(data)
    except ValidationError:
        return None


def _is_path(loc: tuple[str | int, ...]) -> bool:
    return len(loc) >= 3 and loc[0] == "changes" and loc[2] == "path"


def _hint_for(kind: str) -> str:
    if kind in ("naive_datetime", "timezone_aware", "datetime_format", "datetime_parsing"):
        return "write timestamps as RFC 3339 with an offset, e.g. 2016-04-03T01:00:00+08:00"
    if kind in ("bool_type", "bool_parsing"):
        return "booleans are written true or false"
    return "fix the value's type"


def _check_identity(data: Mapping[str, object], loaded: Loaded) -> None:
    """Wrong kind/apiVersion and ids with path characters are exit 2 (SPEC §11)."""
    name = loaded.file
    kind = data.get("kind")
    if kind != "ChangePlan":
        raise InputError(f"kind is {kind!r}, expected 'ChangePlan'", file=name,
                         line=loaded.source.line_for("/kind") or 1,
                         hint="a change plan starts with `apiVersion: changeguard/v1` and "
                              "`kind: ChangePlan`")
    api = data.get("apiVersion")
    if api != "changeguard/v1":
        raise InputError(f"apiVersion is {api!r}, expected 'changeguard/v1'", file=name,
                         line=loaded.source.line_for("/apiVersion") or 1,
                         hint="set `apiVersion: changeguard/v1`")
    ident = data.get("id")
    if isinstance(ident, str) and ("/" in ident or "\\" in ident or ".." in ident):
        raise InputError(f"id {ident!r} must not contain '/', '\\' or '..'", file=name,
                         line=loaded.source.line_for("/id"),
                         hint="use an id like CHG-2016-0403-storage")
