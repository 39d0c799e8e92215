"""The thin Typer layer: global options, error handling, and command registration."""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer

from changeguard.context import Globals
from changeguard.errors import ChangeguardError

app = typer.Typer(
    name="changeguard",
    help="Change-management guardrail for infrastructure and replication config repos.\n\n"
    "Validate change plans, review them, record every event in a git-backed log, and "
    "refuse commits to guarded files that no approved, in-window change covers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Command families, each a module with `register(app)`; heavy imports stay inside commands.
_COMMAND_MODULES = (
    "changeguard.cli_plan",
    "changeguard.cli_windows",
    "changeguard.cli_check",
    "changeguard.cli_hook",
    "changeguard.cli_workflow",
    "changeguard.cli_extra",
    "changeguard.cli_policy",
    "changeguard.cli_calendar",
)


@app.callback()
def _globals(
    ctx: typer.Context,
    repo: Annotated[Path | None, typer.Option("--repo", help="Config repo (default: enclosing git repo).")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="Path of .changeguard.yaml.")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="Default output format.")] = None,
    no_color: Annotated[bool, typer.Option("--no-color", help="Plain text output.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="More detail.")] = False,
) -> None:
    color = not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()
    ctx.obj = Globals(repo=repo, config=config, fmt=fmt, color=color, verbose=verbose)


def _register_all() -> None:
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:  # family not built yet
                continue
            raise
        module.register(app)


_register_all()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; map errors to exit codes (0 ok, 1 deny/refused, 2 cannot evaluate)."""
    try:
        result = app(args=argv, standalone_mode=False, prog_name="changeguard")
    except ChangeguardError as e:
        print(e.render(), file=sys.stderr)
        return e.exit_code
    except typer.Exit as e:
        return int(e.exit_code)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # click's usage errors
        return _other_error(e)
    return int(result) if isinstance(result, int) else 0


def _other_error(e: Exception) -> int:
    import click

    if isinstance(e, click.ClickException):
        e.show()
        return 2 if e.exit_code not in (0, 1) else e.exit_code
    # Unexpected: exit 2 (not Python's 1, which would read as "deny").
    print("internal error: please report it with the traceback below", file=sys.stderr)
    traceback.print_exc()
    return 2
