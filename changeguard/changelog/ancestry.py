"""The commits of the newest verified log tip, remembered (issue 17: re-verifying after 10
new events costs O(10), not O(10k)).

A replay that resumes from a verified tip S replays only what came after S, but still needs
S's history as a set: every reflog entry and every trusted-branch anchor must be in it, and
the event count and the legacy prefix are read off it. Listing it is a walk of every commit
(`git rev-list`: ~80 ms at 10k, and it was done twice). So the history of the newest tip
that verified is kept in one file under the git dir, in `rev-list --reverse` order, and the
history of a later tip is that list plus `rev-list --reverse TIP ^KEPT`: a walk of the new
commits only.

The file is believed exactly as far as the verified-tips file beside it is
(changelog/verified.py): it is written only after a tip verified, read only when a verify
resumes from a remembered tip (never by `log verify --from-scratch`, which replays from the
root), and never read or written under CI or with the local caches switched off
(`caches.enabled`). A file of another version, with a wrong checksum, or whose tip is not in
its own list or not an ancestor of the tip asked for, is ignored.
"""

from __future__ import annotations

from pathlib import Path

from changeguard import caches
from changeguard.changelog.store import Git

FILE = "changeguard-history"
_MAGIC = b"changeguard-history-v1\n"


def history(git: Git, tip: str, git_dir: Path) -> list[str]:
    """Every commit of `tip`'s history, oldest first (`git rev-list --reverse TIP`)."""
    kept = _load(git_dir) if caches.enabled() else None
    if kept is not None:
        base, shas = kept
        if base == tip:
            return shas
        if git.run("merge-base", "--is-ancestor", base, tip, check=False).returncode == 0:
            return shas + git.out("rev-list", "--reverse", tip, "^" + base).split()
    return git.out("rev-list", "--reverse", tip).split()


def keep(git_dir: Path, tip: str, shas: list[str]) -> None:
    """Remember `shas`, the history of `tip` (which just verified), oldest first."""
    if not caches.enabled() or not shas or shas[-1] != tip:
        return
    caches.write_atomic(git_dir / FILE, caches.sealed(_MAGIC, ["\n".join(shas).encode("ascii")]))


def _load(git_dir: Path) -> tuple[str, list[str]] | None:
    try:
        body = caches.unsealed(_MAGIC, (git_dir / FILE).read_bytes())
    except OSError:
        return None
    if body is None:
        return None
    try:
        shas = str(body, "ascii").split("\n")
    except UnicodeDecodeError:
        return None
    return (shas[-1], shas) if shas and shas[-1] else None
