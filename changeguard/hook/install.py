"""Writing the bare-git hooks (issue 6 §1, SPEC §12); `changeguard install-hook` calls it.

Two stages: `pre-commit` judges the staged set, `commit-msg` records the verified log tip a
guarded commit relied on in its `Changeguard-Log` trailer (a shortened log is then visible
to every clone of the trusted branch).
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from changeguard.errors import RefusedError

MARKER = "changeguard-hook-v1"
LEGACY_SUFFIX = ".legacy"

STAGES = ("pre-commit", "commit-msg")
_ARGS = {"pre-commit": "", "commit-msg": " --stage commit-msg"}

_TEMPLATE = """#!/bin/sh
# changeguard {stage} hook ({marker}), written by `changeguard install-hook`.
# Re-run that command to update it. A hook it replaced runs first as {stage}.legacy.
here=$(dirname "$0")
if [ -x "$here/{stage}{legacy}" ]; then
    "$here/{stage}{legacy}" "$@" || exit $?
fi
py={python}
if [ -x "$py" ]; then
    exec "$py" -m changeguard.hook{args} "$@"
fi
if command -v changeguard-hook >/dev/null 2>&1; then
    exec changeguard-hook{args} "$@"
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


def render_hook(python: str, stage: str = "pre-commit") -> str:
    """The `stage` hook script text for interpreter `python`."""
    return _TEMPLATE.format(marker=MARKER, legacy=LEGACY_SUFFIX, python=shlex.quote(python),
                            stage=stage, args=_ARGS[stage])


def is_ours(path: Path) -> bool:
    """True when `path` is a hook this command wrote (any version)."""
    try:
        return MARKER.rsplit("-", 1)[0] in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def install(repo: Path, *, force: bool, python: str | None = None) -> list[str]:
    """Write `<hooks>/pre-commit` and `<hooks>/commit-msg`; a foreign hook is refused (none
    is written), or kept as `<stage>.legacy` and chained with force."""
    hooks = hooks_dir(repo)
    for stage in STAGES:  # refuse before writing anything: never half an installation
        _check_target(hooks / stage, force)
    notes: list[str] = []
    for stage in STAGES:
        notes += _install_one(hooks / stage, render_hook(python or sys.executable, stage))
    return notes


def _check_target(target: Path, force: bool) -> None:
    legacy = target.with_name(target.name + LEGACY_SUFFIX)
    if (target.exists() or target.is_symlink()) and not is_ours(target):
        if not force:
            raise RefusedError(f"{target} exists and was not written by changeguard",
                               hint=f"pass --force to keep it as {legacy.name} and run it "
                                    "before changeguard")
        if legacy.exists() or legacy.is_symlink():
            raise RefusedError(f"{legacy} already exists; not overwriting it",
                               hint="merge or remove one of the two hooks, then retry")


def _install_one(target: Path, text: str) -> list[str]:
    legacy = target.with_name(target.name + LEGACY_SUFFIX)
    notes: list[str] = []
    if (target.exists() or target.is_symlink()) and not is_ours(target):
        os.replace(target, legacy)
        notes.append(f"kept the existing hook as {legacy} (it runs first)")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".changeguard-tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.chmod(0o755)
    os.replace(tmp, target)  # atomic: a concurrent commit never sees half a hook
    notes.append(f"installed {target}")
    return notes
