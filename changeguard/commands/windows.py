"""Command: windows — upcoming maintenance windows and freezes, as text, JSON or iCalendar."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from changeguard.commands.output import emit, write_atomic
from changeguard.context import TEXT_JSON, Format, Globals, parse_now, pick_format, repo_root
from changeguard.errors import InputError

if TYPE_CHECKING:
    from changeguard.model import Freeze, GuardConfig
    from changeguard.timewin import Gap, Occurrence

MAX_DAYS = 3660  # ten years: enough for any calendar export, bounded so output stays sane


def run_windows(g: Globals, *, start: str | None, days: int, ics: bool, output: Path | None,
                fmt: str | None, now: str | None) -> int:
    """Compute the listing and print it (or write the .ics file)."""
    from changeguard import timewin
    from changeguard.commands.freezes import all_freezes
    from changeguard.config import load_config

    form = Format.ICS if ics or output is not None else pick_format(fmt, g, TEXT_JSON)
    if not 1 <= days <= MAX_DAYS:
        raise InputError(f"--days {days} is out of range", hint=f"use 1..{MAX_DAYS}")
    t_now = parse_now(now)
    t0 = _parse_from(start) if start is not None else t_now
    t1 = t0 + timedelta(days=days)
    repo = repo_root(g)
    config = load_config(repo, g.config)
    occs, gaps = timewin.occurrences_and_gaps(config.windows, t0, t1, config.timezone)
    frz = timewin.overlapping_freezes(all_freezes(repo, config, t1), t0, t1)
    if form is Format.ICS:
        text = timewin.render_ics(occs, frz, config.timezone, now=t_now)
        _emit_ics(text, output, len(occs) + len(frz))
        for gap in gaps:  # the calendar has no place for them; say so where a human looks
            print(f"note: {_gap_text(gap)}", file=sys.stderr)
    elif form is Format.JSON:
        emit(_render_json(occs, frz, gaps, config))
    else:
        emit(_render_text(occs, frz, gaps, config, t0, t1))
    return 0


def _parse_from(value: str) -> datetime:
    try:
        return parse_now(value)
    except InputError as e:
        raise InputError(e.message.replace("--now", "--from", 1), hint=e.hint) from e


def _emit_ics(text: str, output: Path | None, events: int) -> None:
    data = text.encode("utf-8")
    if output is None:
        emit(data)  # bytes, so RFC 5545's CRLF line endings survive on every platform
        return
    write_atomic(output, data, option="--output")
    print(f"wrote {output} ({events} events)", file=sys.stderr)


def _gap_text(gap: Gap) -> str:
    return f"{gap.name} on {gap.day:%a %Y-%m-%d} cannot exist: {gap.reason}"


def _render_json(occs: list[Occurrence], frz: list[Freeze], gaps: list[Gap],
                 config: GuardConfig) -> str:
    import json

    from changeguard.timewin import zone

    display = zone(config.timezone)
    doc = {
        "windows": [{"name": o.name, "start": _iso(o.local_start),
                     "end": _iso(o.local_end), "timezone": o.zone} for o in occs],
        "freezes": [{"name": f.name, "start": _iso(f.start.astimezone(display)),
                     "end": _iso(f.end.astimezone(display)), "reason": f.reason}
                    for f in frz],
    }
    if gaps:  # only when there are some: the common document keeps its two keys
        doc["skipped"] = [{"name": g.name, "date": g.day.isoformat(), "reason": g.reason}
                          for g in gaps]
    return json.dumps(doc, indent=2)


def _iso(t: datetime) -> str:
    # to the second: an open-ended log freeze ends at the horizon, which is the wall clock
    return t.isoformat(timespec="seconds")


def _fmt(t: datetime) -> str:
    return t.strftime("%a %Y-%m-%d %H:%M %Z")


def _render_text(occs: list[Occurrence], frz: list[Freeze], gaps: list[Gap],
                 config: GuardConfig, t0: datetime, t1: datetime) -> str:
    from changeguard.timewin import zone

    display = zone(config.timezone)
    lines = [f"Maintenance windows {_fmt(t0.astimezone(display))} → "
             f"{_fmt(t1.astimezone(display))} ({config.timezone}):"]
    for o in occs:
        line = (f"  {_fmt(o.start.astimezone(display))} → {_fmt(o.end.astimezone(display))}  "
                f"{o.name}  ({o.minutes / 60:g} h)")
        if o.zone != config.timezone:
            line += f"  [{_fmt(o.local_start)} {o.zone}]"
        lines.append(line)
    lines.extend(f"  {_gap_text(gap)}" for gap in gaps)
    if not occs and not gaps:
        lines.append("  none" if config.windows else "  none configured (see `windows:` in "
                     ".changeguard.yaml)")
    lines.append("Freezes:")
    for f in frz:
        lines.append(f"  {_fmt(f.start.astimezone(display))} → {_fmt(f.end.astimezone(display))}"
                     f"  {f.name}" + (f": {f.reason}" if f.reason else ""))
    if not frz:
        lines.append("  none")
    return "\n".join(lines)
