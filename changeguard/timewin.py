"""Maintenance-window and freeze arithmetic, DST-correct, plus iCalendar export (SPEC §5, §11).

A weekly window is a *wall-clock* interval in its IANA zone: `01:00–06:00` on a spring-forward
night lasts 4 real hours, on a fall-back night 6. Local times are resolved like this:

* a start or end that does not exist on that date (inside a DST gap) is a config error that
  names the window and the date -- silently shifting it would move the window;
* an ambiguous start (repeated hour on fall-back night) is the *earlier* instant (fold=0) and an
  ambiguous end the *later* one (fold=1), so the window covers the whole wall-clock interval;
* `end <= start` means the window crosses midnight and belongs to the start day; `24:00` is
  midnight at the end of the start day.

Occurrence times are stored in UTC so that comparisons and subtraction are real-time (Python
compares datetimes sharing one ZoneInfo by wall clock, which is wrong across DST).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from changeguard.errors import ConfigError, InputError
from changeguard.model import DAYS, Freeze, MaintenanceWindow

if TYPE_CHECKING:
    import icalendar

_PRODID = "-//changeguard//maintenance windows//EN"


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One concrete occurrence of a weekly maintenance window; start/end are UTC instants."""

    name: str
    start: datetime
    end: datetime
    zone: str

    @property
    def local_start(self) -> datetime:
        """Start in the window's own zone (for display)."""
        return self.start.astimezone(ZoneInfo(self.zone))

    @property
    def local_end(self) -> datetime:
        """End in the window's own zone (for display)."""
        return self.end.astimezone(ZoneInfo(self.zone))

    @property
    def minutes(self) -> float:
        """Real length in minutes (DST-aware)."""
        return (self.end - self.start).total_seconds() / 60

    def contains(self, start: datetime, end: datetime) -> bool:
        """True when the closed interval [start, end] lies inside this occurrence."""
        return self.start <= start and end <= self.end


def zone(name: str) -> ZoneInfo:
    """The ZoneInfo for an IANA name, or ConfigError naming it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as e:  # `Asia` is a directory
        raise ConfigError(f"unknown time zone {name!r}",
                          hint="use an IANA name such as Asia/Singapore") from e


def _aware(t: datetime, what: str) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise InputError(f"{what} {t.isoformat(timespec='seconds')} has no timezone offset",
                         hint="add an offset such as +08:00 or Z")
    return t.astimezone(UTC)


def _exists(wall: datetime, tz: tzinfo) -> bool:
    """A wall time exists when it survives a round trip through UTC."""
    back = wall.astimezone(UTC).astimezone(tz)
    return back.replace(tzinfo=None) == wall.replace(tzinfo=None, fold=0)


class DstGapError(ConfigError):
    """A window's start or end falls into a DST gap on one date (that occurrence cannot exist)."""

    def __init__(self, window: str, day: date, reason: str) -> None:
        super().__init__(f"maintenance window {window!r}: {reason}",
                         hint="move the window out of the DST gap (e.g. start at 03:00 "
                              "instead of 02:30)")
        self.window = window
        self.day = day
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Gap:
    """An occurrence that cannot exist: its start or end is skipped by a DST change."""

    name: str
    day: date
    reason: str


def _jump(wall: datetime, tz: tzinfo) -> str:
    """`02:00 to 03:00`: the wall-clock jump of the transition that swallows `wall`."""
    lo, hi = sorted(wall.replace(fold=f).astimezone(UTC) for f in (0, 1))
    old = lo.astimezone(tz).utcoffset() or timedelta(0)
    t = lo
    while t < hi and t.astimezone(tz).utcoffset() == old:  # transitions are on whole minutes
        t += timedelta(minutes=1)
    before = t.replace(tzinfo=None) + old  # the transition instant on the old wall clock
    return f"{before.strftime('%H:%M')} to {t.astimezone(tz).strftime('%H:%M')}"


def _resolve(w: MaintenanceWindow, day: date, t: time, tz: ZoneInfo, fold: int,
             which: str) -> datetime:
    """The UTC instant of wall time `t` on `day`; fold picks the ambiguous instant."""
    wall = datetime.combine(day, t, tzinfo=tz).replace(fold=fold)
    if not _exists(wall, tz):
        raise DstGapError(
            w.name, day,
            f"{which} {t.strftime('%H:%M')} does not exist on {day.isoformat()} in {tz.key} "
            f"(DST gap: clocks jump from {_jump(wall, tz)})")
    return wall.astimezone(UTC)


def _on_day(w: MaintenanceWindow, day: date, tz: ZoneInfo) -> Occurrence:
    """The occurrence of `w` that starts on local date `day`."""
    if w.start == "24:00":
        raise ConfigError(f"maintenance window {w.name!r}: start 24:00 is not a start time",
                          hint="use 00:00 on the following day")
    start_t, end_t = w.start_time, w.end_time
    # HH:MM strings sort like times; "24:00" > every start, but means next-day midnight.
    end_day = day + timedelta(days=1) if w.end == "24:00" or w.end <= w.start else day
    start = _resolve(w, day, start_t, tz, 0, "start")
    end = _resolve(w, end_day, end_t, tz, 1, "end")
    return Occurrence(w.name, start, end, tz.key)


def _dates(first: date, last: date) -> Iterable[date]:
    d = first
    while d <= last:
        yield d
        d += timedelta(days=1)


def _candidates(windows: Sequence[MaintenanceWindow], start: datetime, end: datetime,
                default_tz: str, gaps: list[Gap] | None = None) -> list[Occurrence]:
    """Every occurrence starting on a local date that could touch [start, end].

    A date whose occurrence falls into a DST gap raises DstGapError, or, when `gaps` is
    given, is recorded there and skipped (a listing shows the other dates).
    """
    out: list[Occurrence] = []
    for w in windows:
        tz = zone(w.timezone or default_tz)
        # A window lasts at most 24 wall hours, so one day earlier catches cross-midnight ones.
        first = start.astimezone(tz).date() - timedelta(days=1)
        last = end.astimezone(tz).date()
        days = {DAYS.index(d) for d in w.days}
        for d in _dates(first, last):
            if d.weekday() not in days:
                continue
            try:
                out.append(_on_day(w, d, tz))
            except DstGapError as e:
                if gaps is None:
                    raise
                if d > first:  # the extra day before the range is only a look-back
                    gaps.append(Gap(w.name, d, e.reason))
    return out


def occurrences(windows: Sequence[MaintenanceWindow], start: datetime, end: datetime,
                default_tz: str) -> list[Occurrence]:
    """Every occurrence overlapping [start, end), sorted by start."""
    return occurrences_and_gaps(windows, start, end, default_tz, strict=True)[0]


def occurrences_and_gaps(windows: Sequence[MaintenanceWindow], start: datetime, end: datetime,
                         default_tz: str, *, strict: bool = False
                         ) -> tuple[list[Occurrence], list[Gap]]:
    """Occurrences overlapping [start, end), plus the dates whose occurrence cannot exist.

    `strict` raises DstGapError on the first such date instead (rules judging one plan).
    """
    s, e = _aware(start, "start"), _aware(end, "end")
    if e <= s:
        return [], []
    gaps: list[Gap] | None = None if strict else []
    found = [o for o in _candidates(windows, s, e, default_tz, gaps) if o.start < e and o.end > s]
    return (sorted(found, key=lambda o: (o.start, o.name)),
            sorted(gaps or [], key=lambda g: (g.day, g.name)))


def containing(windows: Sequence[MaintenanceWindow], start: datetime, end: datetime,
               default_tz: str) -> Occurrence | None:
    """An occurrence that contains the whole closed interval [start, end], else None."""
    s, e = _aware(start, "start"), _aware(end, "end")
    if e < s:
        return None
    # Resolve every candidate first so a DST-gap error never depends on iteration order.
    found = [o for o in _candidates(windows, s, e, default_tz) if o.contains(s, e)]
    return min(found, key=lambda o: (o.start, o.name), default=None)


def inside_any(windows: Sequence[MaintenanceWindow], start: datetime, end: datetime,
               default_tz: str) -> bool:
    """True when [start, end] lies inside one maintenance-window occurrence."""
    return containing(windows, start, end, default_tz) is not None


def overlapping_freezes(freezes: Sequence[Freeze], start: datetime,
                        end: datetime) -> list[Freeze]:
    """Freezes whose [start, end) overlaps [start, end), sorted by start."""
    s, e = _aware(start, "start"), _aware(end, "end")
    hits = [f for f in freezes if f.start < e and f.end > s]
    return sorted(hits, key=lambda f: (f.start, f.name))


freezes_overlapping = overlapping_freezes


def active_freeze(freezes: Sequence[Freeze], t: datetime) -> Freeze | None:
    """The (earliest-starting) freeze in force at instant t: start <= t < end."""
    u = _aware(t, "time")
    hits = [f for f in freezes if f.start <= u < f.end]
    return min(hits, key=lambda f: (f.start, f.name), default=None)


# ------------------------------------------------------------------ iCalendar


def _uid(kind: str, name: str, start: datetime) -> str:
    """Stable UID: the same occurrence exported twice updates, not duplicates, a calendar."""
    key = f"{kind}\x00{name}\x00{start.astimezone(UTC).isoformat()}"
    return hashlib.sha256(key.encode()).hexdigest()[:32] + "@changeguard"


def _event(uid: str, summary: str, start: datetime, end: datetime, now: datetime,
           description: str | None = None) -> icalendar.Event:
    import icalendar

    ev = icalendar.Event()
    ev.add("uid", uid)
    ev.add("dtstamp", now)
    ev.add("dtstart", start)
    ev.add("dtend", end)
    ev.add("summary", summary)
    if description:
        ev.add("description", description)
    ev.add("transp", "OPAQUE")
    return ev


def render_ics(occs: Sequence[Occurrence], freezes: Sequence[Freeze], tz: str, *,
               now: datetime) -> str:
    """RFC 5545 calendar: one VEVENT per occurrence and per freeze, with VTIMEZONEs."""
    import icalendar

    stamp = _aware(now, "now")
    display = zone(tz)
    cal = icalendar.Calendar()
    cal.add("prodid", _PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", "Maintenance windows and freezes")  # shown by calendar apps
    spans: dict[str, list[datetime]] = {}
    for o in occs:
        z = zone(o.zone)
        cal.add_component(_event(_uid("window", o.name, o.start), f"Maintenance window: {o.name}",
                                 o.start.astimezone(z), o.end.astimezone(z), stamp))
        spans.setdefault(o.zone, []).extend((o.start, o.end))
    for f in freezes:
        cal.add_component(_event(_uid("freeze", f.name, f.start), f"Change freeze: {f.name}",
                                 f.start.astimezone(display), f.end.astimezone(display), stamp,
                                 f.reason or None))
        spans.setdefault(display.key, []).extend((f.start, f.end))
    _add_timezones(cal, spans)
    return bytes(cal.to_ical()).decode("utf-8")


def _add_timezones(cal: icalendar.Calendar, spans: dict[str, list[datetime]]) -> None:
    """One VTIMEZONE per zone used, covering just the span of its events (stable output)."""
    import icalendar

    comps: list[icalendar.Timezone] = []
    for key in sorted(spans):
        z = zone(key)
        first = min(spans[key]).astimezone(z).date()
        last = max(spans[key]).astimezone(z).date() + timedelta(days=1)
        comps.append(icalendar.Timezone.from_tzinfo(z, key, first, last))
    # RFC 5545 §3.6.5: VTIMEZONE must precede components that reference it.
    cal.subcomponents[:0] = comps
