"""Command: calendar (parsing only; `commands.calendar` does the work)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from changeguard.cli._params import Now


def register(app: typer.Typer) -> None:
    app.command("calendar")(calendar)


def calendar(
    ctx: typer.Context,
    html: Annotated[Path | None, typer.Option("--html", "--output", "-o", help="Write the HTML page to FILE.")]
    = None,
    start: Annotated[str | None, typer.Option(
        "--from", help="Start (RFC 3339; default: start of today in the config's zone).")] = None,
    days: Annotated[int, typer.Option("--days", help="How many days to show.")] = 14,
    now: Now = None,
) -> int:
    """Write an HTML calendar of maintenance windows, freezes and changes from the log.

    The page is self-contained (inline CSS, no scripts, no network) and colours each change
    by its state.

    Example: changeguard calendar --html calendar.html --days 28
    """
    from changeguard.commands.calendar import run_calendar

    return run_calendar(ctx.obj, html=html, start=start, days=days, now=now)
