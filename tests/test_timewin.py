"""Maintenance windows and freezes: DST nights, cross-midnight, 24:00, gaps, folds (SPEC §11)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from changeguard import timewin
from changeguard.errors import ConfigError, InputError
from changeguard.model import DAYS, Day, Freeze, MaintenanceWindow

H = timedelta(hours=1)


def win(start: str, end: str, days: Sequence[Day] = ("sun",), name: str = "w",
        tz: str | None = None) -> MaintenanceWindow:
    return MaintenanceWindow(name=name, days=list(days), start=start, end=end, timezone=tz)


def only(ws: list[MaintenanceWindow], zone: str, day: date) -> timewin.Occurrence:
    """The single occurrence starting on local `day` (queried over that whole day)."""
    tz = ZoneInfo(zone)
    lo = datetime.combine(day, time(0), tzinfo=tz)
    occs = [o for o in timewin.occurrences(ws, lo, lo + 24 * H, zone)
            if o.local_start.date() == day]
    assert len(occs) == 1, occs
    return occs[0]


# ---------------------------------------------------------------- DST shift nights of 2026


@pytest.mark.parametrize(("zone", "day", "hours", "start_off", "end_off"), [
    ("America/New_York", date(2026, 3, 8), 4, -5, -4),    # spring forward 02:00 -> 03:00
    ("America/New_York", date(2026, 11, 1), 6, -4, -5),   # fall back 02:00 -> 01:00
    ("Europe/Berlin", date(2026, 3, 29), 4, 1, 2),        # spring forward 02:00 -> 03:00
    ("Europe/Berlin", date(2026, 10, 25), 6, 2, 1),       # fall back 03:00 -> 02:00
    ("America/New_York", date(2026, 3, 15), 5, -4, -4),   # an ordinary Sunday
    ("Asia/Singapore", date(2026, 3, 8), 5, 8, 8),        # no DST at all
])
def test_shift_night_is_the_wall_clock_interval(zone: str, day: date, hours: int,
                                                 start_off: int, end_off: int) -> None:
    o = only([win("01:00", "06:00")], zone, day)
    assert o.minutes == hours * 60
    assert (o.local_start.hour, o.local_start.minute) == (1, 0)
    assert (o.local_end.hour, o.local_end.minute) == (6, 0)
    assert o.local_start.utcoffset() == timedelta(hours=start_off)
    assert o.local_end.utcoffset() == timedelta(hours=end_off)
    assert o.zone == zone
    assert o.start.tzinfo is UTC and o.end.tzinfo is UTC


def test_singapore_window_in_utc() -> None:
    o = only([win("01:00", "06:00")], "Asia/Singapore", date(2016, 4, 3))
    assert o.start == datetime(2016, 4, 2, 17, 0, tzinfo=UTC)
    assert o.end == datetime(2016, 4, 2, 22, 0, tzinfo=UTC)


def test_whole_day_on_spring_forward_day_is_23_hours() -> None:
    o = only([win("00:00", "24:00")], "America/New_York", date(2026, 3, 8))
    assert o.minutes == 23 * 60
    assert o.local_end == datetime(2026, 3, 9, 0, 0, tzinfo=ZoneInfo("America/New_York"))


# ---------------------------------------------------------------- gaps and folds


@pytest.mark.parametrize(("zone", "day", "start", "end", "which"), [
    ("America/New_York", date(2026, 3, 8), "02:30", "05:00", "start"),
    ("America/New_York", date(2026, 3, 8), "00:00", "02:15", "end"),
    ("Europe/Berlin", date(2026, 3, 29), "02:00", "04:00", "start"),
])
def test_nonexistent_local_time_is_a_config_error(zone: str, day: date, start: str, end: str,
                                                  which: str) -> None:
    ws = [win(start, end, name="nightly")]
    lo = datetime.combine(day, time(0), tzinfo=ZoneInfo(zone)) - 48 * H
    with pytest.raises(ConfigError) as e:
        timewin.occurrences(ws, lo, lo + 96 * H, zone)
    assert "'nightly'" in e.value.message
    assert day.isoformat() in e.value.message
    assert which in e.value.message
    assert e.value.hint is not None and "DST gap" in e.value.hint
    # The same window is fine on every other Sunday.
    later = lo + timedelta(days=14)
    assert len(timewin.occurrences(ws, later, later + 96 * H, zone)) == 1


def test_ambiguous_start_is_the_earlier_instant() -> None:
    # 2026-11-01 01:30 happens twice in New York: 05:30Z (EDT) and 06:30Z (EST).
    o = only([win("01:30", "03:00")], "America/New_York", date(2026, 11, 1))
    assert o.start == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert o.end == datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    assert o.minutes == 150


def test_ambiguous_end_is_the_later_instant() -> None:
    o = only([win("00:00", "01:30")], "America/New_York", date(2026, 11, 1))
    assert o.start == datetime(2026, 11, 1, 4, 0, tzinfo=UTC)
    assert o.end == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    assert o.minutes == 150


def test_ambiguous_both_ends_in_berlin_cover_the_repeated_hour() -> None:
    # 02:00-03:00 repeats on 2026-10-25 in Berlin: the window spans both copies (2 h).
    o = only([win("02:00", "03:00")], "Europe/Berlin", date(2026, 10, 25))
    assert o.start == datetime(2026, 10, 25, 0, 0, tzinfo=UTC)
    assert o.end == datetime(2026, 10, 25, 2, 0, tzinfo=UTC)


# ---------------------------------------------------------------- cross-midnight and 24:00


def test_cross_midnight_belongs_to_start_day() -> None:
    sgt = ZoneInfo("Asia/Singapore")
    sat_night = [win("22:00", "02:00", days=["sat"])]
    sun_1am = datetime(2026, 6, 7, 1, 0, tzinfo=sgt)  # a Sunday
    o = timewin.containing(sat_night, sun_1am, sun_1am, "Asia/Singapore")
    assert o is not None
    assert o.local_start == datetime(2026, 6, 6, 22, 0, tzinfo=sgt)
    assert o.local_end == datetime(2026, 6, 7, 2, 0, tzinfo=sgt)
    sun_night = [win("22:00", "02:00", days=["sun"])]
    assert timewin.containing(sun_night, sun_1am, sun_1am, "Asia/Singapore") is None
    mon_1am = sun_1am + 24 * H
    assert timewin.containing(sun_night, mon_1am, mon_1am, "Asia/Singapore") is not None


def test_end_2400_is_next_midnight() -> None:
    o = only([win("18:00", "24:00", days=["fri"])], "Asia/Singapore", date(2026, 6, 5))
    assert o.minutes == 6 * 60
    assert o.local_end == datetime(2026, 6, 6, 0, 0, tzinfo=ZoneInfo("Asia/Singapore"))


def test_equal_start_and_end_is_a_full_day() -> None:
    o = only([win("03:00", "03:00", days=["wed"])], "UTC", date(2026, 6, 3))
    assert o.minutes == 24 * 60


def test_start_2400_is_rejected() -> None:
    with pytest.raises(ConfigError, match="24:00"):
        timewin.occurrences([win("24:00", "02:00")], datetime(2026, 6, 1, tzinfo=UTC),
                            datetime(2026, 6, 15, tzinfo=UTC), "UTC")


# ---------------------------------------------------------------- listing and containment


def test_occurrences_overlap_is_half_open_and_sorted() -> None:
    ws = [win("01:00", "06:00", days=["sun", "wed"], name="b"),
          win("00:00", "02:00", days=["sun"], name="a", tz="UTC")]
    sgt = ZoneInfo("Asia/Singapore")
    t0 = datetime(2026, 6, 7, 6, 0, tzinfo=sgt)  # exactly when Sunday's "b" ends
    occs = timewin.occurrences(ws, t0, t0 + timedelta(days=7), "Asia/Singapore")
    assert [(o.name, o.local_start.isoformat()) for o in occs] == [
        ("a", "2026-06-07T00:00:00+00:00"),
        ("b", "2026-06-10T01:00:00+08:00"),
        ("b", "2026-06-14T01:00:00+08:00"),
    ]  # "a" on 06-14 00:00Z starts after the range ends (06-13 22:00Z)
    assert [o.start for o in occs] == sorted(o.start for o in occs)
    assert timewin.occurrences(ws, t0, t0, "UTC") == []


def test_window_zone_overrides_default() -> None:
    ws = [win("01:00", "06:00", tz="Europe/Berlin")]
    o = only(ws, "Europe/Berlin", date(2026, 6, 7))
    assert o.zone == "Europe/Berlin"
    assert o.start == datetime(2026, 6, 6, 23, 0, tzinfo=UTC)


def test_containing_boundaries() -> None:
    ws = [win("01:00", "06:00")]
    sgt = ZoneInfo("Asia/Singapore")
    s, e = datetime(2026, 6, 7, 1, 0, tzinfo=sgt), datetime(2026, 6, 7, 6, 0, tzinfo=sgt)
    assert timewin.containing(ws, s, e, "Asia/Singapore") is not None
    assert timewin.containing(ws, e, e, "Asia/Singapore") is not None
    assert timewin.containing(ws, s - timedelta(minutes=1), e, "Asia/Singapore") is None
    assert timewin.containing(ws, s, e + timedelta(minutes=1), "Asia/Singapore") is None
    assert timewin.inside_any(ws, s + H, e - H, "Asia/Singapore")
    # Same instants written in another offset.
    assert timewin.inside_any(ws, s.astimezone(UTC), e.astimezone(UTC), "Asia/Singapore")
    assert timewin.containing(ws, e, s, "Asia/Singapore") is None


def test_containing_is_real_time_across_fall_back() -> None:
    # 00:00-01:30 ends at the *second* 01:30; 01:45 EDT (first pass) is inside,
    # 01:45 EST (second pass) is not: a wall-clock comparison would get both wrong.
    ny = ZoneInfo("America/New_York")
    ws = [win("00:00", "01:30")]
    first = datetime(2026, 11, 1, 1, 45, tzinfo=ny, fold=0)
    second = datetime(2026, 11, 1, 1, 45, tzinfo=ny, fold=1)
    assert timewin.inside_any(ws, first, first, "America/New_York")
    assert not timewin.inside_any(ws, second, second, "America/New_York")


def test_naive_and_unknown_zone_are_errors() -> None:
    ws = [win("01:00", "06:00")]
    with pytest.raises(InputError, match="timezone offset"):
        timewin.occurrences(ws, datetime(2026, 6, 1), datetime(2026, 6, 2, tzinfo=UTC), "UTC")
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        timewin.occurrences(ws, datetime(2026, 6, 1, tzinfo=UTC),
                            datetime(2026, 6, 9, tzinfo=UTC), "Mars/Olympus")


# ---------------------------------------------------------------- freezes


def _freeze(name: str, start: str, end: str) -> Freeze:
    return Freeze.model_validate({"name": name, "start": start, "end": end, "reason": "r"})


def test_freezes_overlap_and_active() -> None:
    fz = [_freeze("b", "2026-09-10T00:00:00+08:00", "2026-09-20T00:00:00+08:00"),
          _freeze("a", "2026-09-01T00:00:00+08:00", "2026-09-15T00:00:00+08:00")]
    t = datetime(2026, 9, 12, tzinfo=UTC)
    assert [f.name for f in timewin.overlapping_freezes(fz, t, t + H)] == ["a", "b"]
    assert timewin.freezes_overlapping is timewin.overlapping_freezes
    end_a = datetime(2026, 9, 15, tzinfo=ZoneInfo("Asia/Singapore"))
    assert [f.name for f in timewin.overlapping_freezes(fz, end_a, end_a + H)] == ["b"]
    before = datetime(2026, 9, 1, tzinfo=ZoneInfo("Asia/Singapore"))
    assert timewin.overlapping_freezes(fz, before - H, before) == []
    active = timewin.active_freeze(fz, t)
    assert active is not None and active.name == "a"
    assert timewin.active_freeze(fz, before) is not None
    assert timewin.active_freeze(fz, before - timedelta(seconds=1)) is None
    last = timewin.active_freeze(fz, datetime(2026, 9, 19, tzinfo=UTC))
    assert last is not None and last.name == "b"
    assert timewin.active_freeze(fz, datetime(2026, 9, 20, tzinfo=ZoneInfo("Asia/Singapore"))) \
        is None


# ---------------------------------------------------------------- property: brute-force scan

ZONES = ["America/New_York", "Europe/Berlin", "Asia/Singapore", "Australia/Lord_Howe",
         "America/St_Johns", "Pacific/Chatham", "Europe/London", "America/Santiago", "UTC"]


@cache
def _transitions(zone: str) -> list[datetime]:
    """UTC instants in 2025-2027 where the zone's offset changes (hourly scan)."""
    tz, out = ZoneInfo(zone), []
    t = datetime(2025, 1, 1, tzinfo=UTC)
    prev = t.astimezone(tz).utcoffset()
    while t.year < 2028:
        t += H
        off = t.astimezone(tz).utcoffset()
        if off != prev:
            out.append(t)
        prev = off
    return out or [datetime(2026, 6, 1, tzinfo=UTC)]


def _brute(w: MaintenanceWindow, zone: str, t: datetime) -> tuple[bool, bool]:
    """(gap, inside) by scanning every UTC minute around t and reading the local wall clock."""
    tz, d = ZoneInfo(zone), t.astimezone(ZoneInfo(zone)).date()
    u = datetime.combine(d - timedelta(days=1), time(0), tzinfo=UTC) - 15 * H
    hi = datetime.combine(d + timedelta(days=2), time(0), tzinfo=UTC) + 15 * H
    seen: dict[datetime, list[datetime]] = {}
    while u <= hi:
        seen.setdefault(u.astimezone(tz).replace(tzinfo=None), []).append(u)
        u += timedelta(minutes=1)
    gap = inside = False
    for day in (d - timedelta(days=1), d):
        if DAYS[day.weekday()] not in w.days:
            continue
        crosses = w.end == "24:00" or w.end <= w.start
        s = datetime.combine(day, w.start_time)
        e = datetime.combine(day + timedelta(days=1) if crosses else day, w.end_time)
        if s not in seen or e not in seen:
            gap = True
        elif min(seen[s]) <= t <= max(seen[e]):
            inside = True
    return gap, inside


_hhmm = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23),
                  st.sampled_from([0, 15, 30, 45]) | st.integers(0, 59))


@st.composite
def _case(draw: st.DrawFn) -> tuple[MaintenanceWindow, str, datetime]:
    zone = draw(st.sampled_from(ZONES))
    days = draw(st.lists(st.sampled_from(DAYS), min_size=1, max_size=7, unique=True))
    w = win(draw(_hhmm), draw(_hhmm | st.just("24:00")), days=days)
    base = draw(st.sampled_from(_transitions(zone)) | st.builds(
        lambda m: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=m),
        st.integers(0, 365 * 24 * 60)))
    t = base + timedelta(minutes=draw(st.integers(-36 * 60, 36 * 60)))
    return w, zone, t


@settings(max_examples=50, deadline=None)
@given(_case())
def test_containing_agrees_with_minute_scan(case: tuple[MaintenanceWindow, str, datetime]) -> None:
    w, zone, t = case
    gap, inside = _brute(w, zone, t)
    if gap:
        with pytest.raises(ConfigError):
            timewin.containing([w], t, t, zone)
        return
    assert (timewin.containing([w], t, t, zone) is not None) == inside
