"""Command: install-hook (parsing only; `commands.hook` does the work)."""

from __future__ import annotations

from typing import Annotated

import typer


def install_hook(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option(
        "--force", help="Keep a foreign hook as <stage>.legacy and chain it.")
    ] = False,
) -> int:
    """Install the git hooks: pre-commit runs `changeguard check --staged`.

    The commit-msg hook records the verified log tip of a guarded commit in its
    `Changeguard-Log` trailer (SPEC §12). Never overwrites a foreign hook unless --force
    (which keeps it as pre-commit.legacy or commit-msg.legacy).

    Example: changeguard install-hook
    """
    from changeguard.commands.hook import run_install_hook

    return run_install_hook(ctx.obj, force=force)


def register(app: typer.Typer) -> None:
    """Add `install-hook` to the CLI."""
    app.command("install-hook")(install_hook)
