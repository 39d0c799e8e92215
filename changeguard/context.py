"""Global CLI options shared by every command (SPEC §2 "Global")."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from changeguard.errors import GitError, InputError


class Format(StrEnum):
    """An output format of `--format` (a str: renderers and JSON take it as is)."""

    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"
    JUNIT = "junit"
    MARKDOWN = "markdown"  # a PR comment / CI job summary (SPEC §13)
    GITHUB = "github"  # GitHub Actions workflow commands
    ICS = "ics"  # `windows --ics`: chosen by its own flag, never by `--format`


# What each command family accepts for `--format`.
TEXT_JSON: tuple[Format, ...] = (Format.TEXT, Format.JSON)
REPORT_FORMATS: tuple[Format, ...] = (Format.TEXT, Format.JSON, Format.SARIF, Format.JUNIT,
                                      Format.MARKDOWN, Format.GITHUB)


@dataclass
class Globals:
    """The app-wide options every command sees."""

    repo: Path | None = None
    config: Path | None = None
    fmt: str | None = None
    color: bool = True
    verbose: bool = False
    trusted_rev: str | None = None


def find_repo(start: Path | None = None) -> Path:
    """The top of the enclosing git work tree (no git import: walk up to `.git`)."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / ".git").exists():
            return d
    raise GitError(f"not inside a git repository: {here}",
                   hint="run inside your config repo, or pass --repo PATH")


def repo_root(g: Globals) -> Path:
    """`--repo` if given (must exist), else the enclosing git repo."""
    if g.repo is not None:
        if not g.repo.is_dir():
            raise InputError(f"--repo {g.repo}: no such directory")
        return find_repo(g.repo)
    return find_repo()


def parse_now(value: str | None) -> datetime:
    """`--now` (RFC 3339 with offset) or the wall clock; rules never read the clock."""
    if value is None:
        env = os.environ.get("CHANGEGUARD_NOW")
        if not env:
            return datetime.now(UTC)
        value = env
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as e:
        raise InputError(f"--now {value!r} is not an RFC 3339 timestamp",
                         hint="use e.g. 2016-04-03T01:00:00+08:00") from e
    if t.tzinfo is None:
        raise InputError(f"--now {value!r} has no timezone offset",
                         hint="add an offset such as +08:00 or Z")
    return t


def pick_format(local: str | None, g: Globals, allowed: tuple[Format, ...]) -> Format:
    """Per-command `--format` wins over the global one; default text."""
    fmt = local or g.fmt or Format.TEXT
    if fmt not in allowed:
        raise InputError(f"unknown format {fmt!r}", hint="choose one of " + ", ".join(allowed))
    return Format(fmt)
