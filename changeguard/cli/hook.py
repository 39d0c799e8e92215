"""Command: install-hook (parsing only; `commands.hook` does the work)."""

from __future__ import annotations

from typing import Annotated

import typer


def install_hook(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option(
        "--force", help="Keep a foreign pre-commit hook as pre-commit.legacy and chain it.")
    ] = False,
) -> int:
    """Install the git pre-commit hook that runs `changeguard check --staged`.

    Never overwrites a foreign hook unless --force (which keeps it as pre-commit.legacy).

    Example: changeguard install-hook
    """
    from changeguard.commands.hook import run_install_hook

    return run_install_hook(ctx.obj, force=force)


def register(app: typer.Typer) -> None:
    """Add `install-hook` to the CLI."""
    app.command("install-hook")(install_hook)
