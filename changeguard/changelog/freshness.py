"""How old a clone's copy of the shared log is (SPEC §12 "Stale clones say so"), stdlib only.

`changelog.remote.fetch` stamps `<git dir>/changeguard-fetched.<remote>` after every
successful fetch: the tracking ref's own file only changes when the remote log moved, and
packed refs have no file at all, so neither says when the log was last *fetched*.
"""

from __future__ import annotations

from pathlib import Path

from changeguard.changelog.layout import key_hash

STAMP = "changeguard-fetched"


def stamp_path(git_dir: Path, remote: str) -> Path:
    """The stamp file of `remote` (its name hashed: a remote name may hold `/`)."""
    return git_dir / f"{STAMP}.{key_hash(remote)[:16]}"


def stamp(git_dir: Path, remote: str) -> None:
    """Record that the log was just fetched from `remote` (best effort)."""
    try:  # noqa: SIM105 - contextlib is not in the hook's import budget
        stamp_path(git_dir, remote).write_text(f"{remote}\n", encoding="utf-8")
    except OSError:
        pass


def fetched_at(git_dir: Path, remote: str) -> float | None:
    """POSIX time of the last fetch from `remote`, or None when never fetched."""
    try:
        return stamp_path(git_dir, remote).stat().st_mtime
    except OSError:
        return None


def age_text(seconds: float) -> str:
    """`42 seconds`, `5 minutes`, `3 hours`, `2 days`."""
    for unit, size, limit in (("second", 1, 90), ("minute", 60, 90 * 60),
                              ("hour", 3600, 48 * 3600)):
        if seconds < limit:
            n = int(seconds // size)
            return f"{n} {unit}{'' if n == 1 else 's'}"
    n = int(seconds // 86400)
    return f"{n} day{'' if n == 1 else 's'}"


def freshness_note(git_dir: Path, remote: str, now: float | None = None) -> str:
    """`the change log was last fetched from origin 3 hours ago` (or never)."""
    at = fetched_at(git_dir, remote)
    if at is None:
        return f"the change log was never fetched from {remote!r} in this clone"
    import time  # only when a remote is configured

    age = max(0.0, (time.time() if now is None else now) - at)
    return f"the change log was last fetched from {remote!r} {age_text(age)} ago"


def sync_hint(git_dir: Path, remote: str) -> str:
    """The note plus the fix: what a command says when a change is missing locally."""
    return f"{freshness_note(git_dir, remote)}; run `changeguard log sync` to fetch newer changes"
