"""Command: calendar — one self-contained HTML page of windows, freezes and changes."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from changeguard.context import Globals, parse_now, repo_root
from changeguard.errors import InputError

if TYPE_CHECKING:
    from changeguard.calendar_html import CalendarChange
    from changeguard.model import GuardConfig

MAX_DAYS = 366  # one page; a longer range would squeeze every change into a sliver


def run_calendar(g: Globals, *, html: Path | None, start: str | None, days: int,
                 now: str | None) -> int:
    """Gather windows, freezes and changes for the period and write the page atomically."""
    import sys

    from changeguard import timewin
    from changeguard.calendar_html import render_calendar
    from changeguard.commands.freezes import all_freezes
    from changeguard.commands.output import check_target, write_atomic
    from changeguard.config import load_config

    if html is None:
        raise InputError("calendar needs an output file", hint="use --html FILE")
    if not 1 <= days <= MAX_DAYS:
        raise InputError(f"--days {days} is out of range", hint=f"use 1..{MAX_DAYS}")
    check_target(html, "--html")  # before any work: a typo'd folder is exit 2, not a silent mkdir
    t_now = parse_now(now)
    repo = repo_root(g)
    config = load_config(repo, g.config)
    t0 = _parse_from(start) if start is not None else _start_of_day(t_now, config.timezone)
    t1 = t0 + timedelta(days=days)
    occs = timewin.occurrences(config.windows, t0, t1, config.timezone)
    frz = timewin.overlapping_freezes(all_freezes(repo, config, t1), t0, t1)
    changes = read_changes(repo, config, t_now)
    page = render_calendar(occs, frz, changes, t0, t1, config.timezone, now=t_now)
    write_atomic(html, page, option="--html")
    shown = sum(1 for c in changes if c.start < t1 and c.end > t0)
    print(f"wrote {html} ({shown} changes, {len(occs)} windows, {len(frz)} freezes)",
          file=sys.stderr)
    return 0


def read_changes(repo: Path, config: GuardConfig, now: datetime) -> list[CalendarChange]:
    """Every change on the log ref, via the `list` rows (none when the log does not exist)."""
    from changeguard.calendar_html import changes_from_states
    from changeguard.changelog.workflow import Session, list_rows

    s = Session(repo, config, now)
    try:
        rows = list_rows(s, None, False)  # the SPEC §8 `list` shape: id, title, state, window
    finally:
        s.close()
    return changes_from_states(rows)


def _start_of_day(t: datetime, tz: str) -> datetime:
    from changeguard.timewin import zone

    local = t.astimezone(zone(tz))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _parse_from(value: str) -> datetime:
    try:
        return parse_now(value)
    except InputError as e:
        raise InputError(e.message.replace("--now", "--from", 1), hint=e.hint) from e
