"""Command: windows (parsing only; `commands.windows` does the work)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from changeguard.cli._params import Now, TextOrJson


def register(app: typer.Typer) -> None:
    app.command("windows")(windows)


def windows(
    ctx: typer.Context,
    start: Annotated[str | None, typer.Option("--from", help="Start (RFC 3339; default now).")]
    = None,
    days: Annotated[int, typer.Option("--days", help="How many days to list.")] = 14,
    ics: Annotated[bool, typer.Option("--ics", help="Print iCalendar (RFC 5545).")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o",
                                                help="Write iCalendar to FILE instead.")] = None,
    fmt: TextOrJson = None,
    now: Now = None,
) -> int:
    """List upcoming maintenance windows and freezes in the config's time zone.

    Example: changeguard windows --days 30 --ics --output maintenance.ics
    """
    from changeguard.commands.windows import run_windows

    return run_windows(ctx.obj, start=start, days=days, ics=ics, output=output, fmt=fmt, now=now)
