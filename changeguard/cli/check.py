"""Command: check (parsing only; `commands.check` does the work)."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add the `check` command to the app."""
    app.command("check")(check)


def check(
    ctx: typer.Context,
    files: Annotated[list[str] | None, typer.Argument(help="Files to check (default: none; "
                                                      "see --all / --staged).")] = None,
    staged: Annotated[bool, typer.Option("--staged", help="Check the staged change set "
                                         "(what the pre-commit hook runs).")] = False,
    all_files: Annotated[bool, typer.Option("--all", help="Check every mapped file of the "
                                            "repo.")] = False,
    fmt: Annotated[str | None, typer.Option("--format", help="text, json, sarif, junit, markdown (PR comment, job summary) or github (workflow annotations).")]
    = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Note skipped files.")]
    = False,
    now: Annotated[str | None, typer.Option("--now", help="Current time (RFC 3339); with "
                                            "--staged or --range only under `clock: "
                                            "simulated`.")] = None,
    rev_range: Annotated[str | None, typer.Option("--range", help="CI gate: judge every commit "
                                                  "of BASE..HEAD (guarded coverage at commit "
                                                  "time, mapped files at each commit).")] = None,
) -> int:
    """Validate config files against their mapped schema or format, and judge replication
    topologies.

    Example: changeguard check --all --format json

    CI gate (cannot be skipped with --no-verify): changeguard check --range origin/main..HEAD
    """
    from changeguard.commands.check import run_check

    return run_check(ctx.obj, files=files or [], staged=staged, all_files=all_files, fmt=fmt,
                     verbose=verbose, now=now, rev_range=rev_range)
