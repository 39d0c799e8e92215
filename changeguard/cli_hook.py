"""`changeguard install-hook`: the CLI side of `changeguard.hook.install` (issue 6 §1)."""

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
    from changeguard.context import repo_root
    from changeguard.hook.install import install

    for note in install(repo_root(ctx.obj), force=force):
        typer.echo(note)
    return 0


def register(app: typer.Typer) -> None:
    """Add `install-hook` to the CLI."""
    app.command("install-hook")(install_hook)
