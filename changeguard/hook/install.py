"""Writing the bare-git pre-commit hook (issue 6 §1); `changeguard install-hook` calls it."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from changeguard.errors import RefusedError

MARKER = "changeguard-hook-v1"
LEGACY_SUFFIX = ".legacy"

_TEMPLATE = """#!/bin/sh
# changeguard pre-commit hook ({marker}), written by `changeguard install-hook`.
# Re-run that command to update it. A hook it replaced runs first as pre-commit.legacy.
here=$(dirname "$0")
if [ -x "$here/pre-commit{legacy}" ]; then
    "$here/pre-commit{legacy}" "$@" || exit $?
fi
py={python}
if [ -x "$py" ]; then
    exec "$py" -m changeguard.hook "$@"
fi
if command -v changeguard-hook >/dev/null 2>&1; then
    exec changeguard-hook "$@"
fi
echo "changeguard: $py is gone and changeguard-hook is not on PATH;" \\
     "reinstall changeguard and run 'changeguard install-hook'" >&2
exit 2
"""


def hooks_dir(repo: Path) -> Path:
    """Where git runs hooks from: honours core.hooksPath and a worktree's common dir."""
    from changeguard.git import Git

    out = Git(repo).run("rev-parse", "--git-path", "hooks").stdout
    p = Path(out.decode("utf-8", "surrogateescape").rstrip("\n"))
    return p if p.is_absolute() else (repo / p).resolve()


def render_hook(python: str) -> str:
    """The hook script text for interpreter `python`."""
    return _TEMPLATE.format(marker=MARKER, legacy=LEGACY_SUFFIX, python=shlex.quote(python))


def is_ours(path: Path) -> bool:
    """True when `path` is a hook this command wrote (any version)."""
    try:
        return MARKER.rsplit("-", 1)[0] in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def install(repo: Path, *, force: bool, python: str | None = None) -> list[str]:
    """Write `<hooks>/pre-commit`; a foreign hook is refused, or kept as .legacy with force."""
    target = hooks_dir(repo) / "pre-commit"
    legacy = target.with_name(target.name + LEGACY_SUFFIX)
    notes: list[str] = []
    if (target.exists() or target.is_symlink()) and not is_ours(target):
        if not force:
            raise RefusedError(f"{target} exists and was not written by changeguard",
                               hint="pass --force to keep it as pre-commit.legacy and run it "
                                    "before changeguard")
        if legacy.exists() or legacy.is_symlink():
            raise RefusedError(f"{legacy} already exists; not overwriting it",
                               hint="merge or remove one of the two hooks, then retry")
        os.replace(target, legacy)
        notes.append(f"kept the existing hook as {legacy} (it runs first)")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".changeguard-tmp")
    tmp.write_text(render_hook(python or sys.executable), encoding="utf-8")
    tmp.chmod(0o755)
    os.replace(tmp, target)  # atomic: a concurrent commit never sees half a hook
    notes.append(f"installed {target}")
    return notes
