"""Command: install-hook — the command side of `changeguard.hook.install` (issue 6 §1)."""

from __future__ import annotations

from changeguard.commands.output import emit
from changeguard.context import Globals, repo_root


def run_install_hook(g: Globals, *, force: bool) -> int:
    """Install the pre-commit hook; print what was done (a foreign hook is kept)."""
    from changeguard.hook.install import install

    for note in install(repo_root(g), force=force):
        emit(note + "\n")
    return 0
