"""The thin Typer layer: global options, the one error handler, explicit registration.

The modules of this package only parse (Typer) and call `changeguard.commands`.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer

from changeguard.cli import calendar, check, hook, plan, policy, windows, workflow
from changeguard.cli.usage import MissingCommand, render_usage_error, tidy_help, usage_error_base
from changeguard.commands import Globals
from changeguard.errors import ChangeguardError

app = typer.Typer(
    name="changeguard",
    help="Change-management guardrail for infrastructure and replication config repos.\n\n"
    "Validate change plans, review them, record every event in a git-backed log, and "
    "refuse commits to guarded files that no approved, in-window change covers.",
    invoke_without_command=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from changeguard import __version__

        print(f"changeguard {__version__}")
        raise typer.Exit(0)


@app.callback()
def _globals(
    ctx: typer.Context,
    repo: Annotated[Path | None, typer.Option("--repo", metavar="PATH", help="Config repo (default: enclosing git repo).")] = None,
    config: Annotated[Path | None, typer.Option("--config", metavar="FILE", help="Path of .changeguard.yaml (for writers and judges: its path inside the trusted revision).")] = None,
    trusted_rev: Annotated[str | None, typer.Option("--trusted-rev", metavar="REV", envvar="CHANGEGUARD_TRUSTED_REV", show_envvar=False, help="Commit whose config writers and judges trust (default: trust.branch, e.g. origin/main).")] = None,
    fmt: Annotated[str | None, typer.Option("--format", metavar="FORMAT", help="Default output format.")] = None,
    no_color: Annotated[bool, typer.Option("--no-color", help="Plain text output.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="More detail.")] = False,
    version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_version, help="Print the version and exit.")] = False,
) -> None:
    if ctx.invoked_subcommand is None and not ctx.resilient_parsing:
        raise MissingCommand(ctx)
    color = not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()
    ctx.obj = Globals(repo=repo, config=config, fmt=fmt, color=color, verbose=verbose,
                      trusted_rev=trusted_rev)


# Explicit registration: a missing module is an import error, never a silently absent family.
for _family in (plan, windows, check, hook, workflow, policy, calendar):
    _family.register(app)


def build_command() -> Any:
    """The click command tree of the app, with the help vocabulary of `tidy_help`."""
    return tidy_help(typer.main.get_command(app))


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; map errors to exit codes (0 ok, 1 deny/refused, 2 cannot evaluate, 130)."""
    command = build_command()
    try:
        result = command.main(args=argv, standalone_mode=False, prog_name="changeguard")
    except ChangeguardError as e:
        print(e.render(), file=sys.stderr)
        return e.exit_code
    except usage_error_base() as e:
        print(render_usage_error(e), file=sys.stderr)
        return 2
    except typer.Exit as e:
        return int(e.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        print("aborted", file=sys.stderr)
        return 130
    except Exception:
        # Unexpected: exit 2 (not Python's 1, which would read as "deny").
        print("internal error: please report it with the traceback below", file=sys.stderr)
        traceback.print_exc()
        return 2
    return int(result) if isinstance(result, int) else 0
