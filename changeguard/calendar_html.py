"""Pure rendering of the HTML change calendar (`changeguard calendar --html FILE`).

One self-contained page: inline CSS, no scripts, no external resources. A time axis with one
lane for maintenance-window occurrences, one for freezes, and one row per change, coloured by
state. Every change is exactly one element `class="change"` with `data-id` and `data-state`,
so tests and scrapers can count and inspect them. All text is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from changeguard.model import Freeze
    from changeguard.timewin import Occurrence

# State → (fill colour, label). Colours stay distinguishable for common colour blindness.
STATES: dict[str, tuple[str, str]] = {
    "submitted": ("#6baed6", "submitted"),
    "approved": ("#31a354", "approved"),
    "in_progress": ("#fd8d3c", "in progress"),
    "completed": ("#3f3f9f", "completed"),
    "rolled_back": ("#d62728", "rolled back"),
    "rejected": ("#8c6d31", "rejected"),
    "cancelled": ("#9e9e9e", "cancelled"),
}
UNKNOWN_STATE = ("#444444", "unknown")
WINDOW_FILL = "rgba(49, 163, 84, 0.12)"
FREEZE_FILL = "rgba(214, 39, 40, 0.18)"


@dataclass(frozen=True, slots=True)
class CalendarChange:
    """What the calendar needs of one change from the log."""

    id: str
    title: str
    state: str
    start: datetime
    end: datetime
    author: str = ""


def changes_from_states(states: Iterable[Mapping[str, object]]) -> list[CalendarChange]:
    """Change-log state.json records → CalendarChange, skipping records without a window."""
    out: list[CalendarChange] = []
    for st in states:
        w = st.get("window")
        if not isinstance(w, Mapping):
            continue
        try:
            start = datetime.fromisoformat(str(w["start"]).replace("Z", "+00:00"))
            end = datetime.fromisoformat(str(w["end"]).replace("Z", "+00:00"))
        except (KeyError, ValueError):
            continue
        out.append(CalendarChange(str(st.get("id", "?")), str(st.get("title", "")),
                                  str(st.get("state", "unknown")), start, end,
                                  str(st.get("author", ""))))
    return sorted(out, key=lambda c: (c.start, c.id))


# ---------------------------------------------------------------- geometry


@dataclass(frozen=True, slots=True)
class Axis:
    """Maps instants in [start, end) to percentages of the timeline width."""

    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    def pct(self, t: datetime) -> float:
        x = (t - self.start).total_seconds() / self.seconds * 100
        return min(max(x, 0.0), 100.0)

    def span(self, a: datetime, b: datetime) -> tuple[float, float]:
        """(left %, width %) of [a, b] clipped to the axis; tiny spans stay visible."""
        left, right = self.pct(a), self.pct(b)
        return left, max(right - left, 0.6)

    def overlaps(self, a: datetime, b: datetime) -> bool:
        return a < self.end and b > self.start


def _style(left: float, width: float, extra: str = "") -> str:
    return f"left:{left:.3f}%;width:{width:.3f}%;{extra}"


def _fmt(t: datetime, tz: ZoneInfo) -> str:
    return t.astimezone(tz).strftime("%a %Y-%m-%d %H:%M %Z")


def _day_marks(axis: Axis, tz: ZoneInfo) -> list[tuple[datetime, bool]]:
    """Local midnights inside the axis, each with whether it gets a label (≤ ~12 labels)."""
    first = axis.start.astimezone(tz).date()
    days = max(1, math.ceil(axis.seconds / 86400)) + 1
    step = max(1, math.ceil(days / 12))  # a label needs ~70 px of a ~900 px track
    marks: list[tuple[datetime, bool]] = []
    for i in range(days + 1):
        d = first + timedelta(days=i)
        t = datetime(d.year, d.month, d.day, tzinfo=tz)
        if axis.start <= t < axis.end:
            marks.append((t, i % step == 0))
    return marks


# ---------------------------------------------------------------- pieces


def _grid(axis: Axis, tz: ZoneInfo) -> str:
    parts = []
    for t, labelled in _day_marks(axis, tz):
        left = axis.pct(t)
        parts.append(f'<div class="tick" style="left:{left:.3f}%"></div>')
        if labelled:
            parts.append(f'<div class="day" style="left:{left:.3f}%">'
                         f'{escape(t.strftime("%a %d %b"))}</div>')
    return "".join(parts)


def _band(cls: str, left: float, width: float, tip: str, label: str) -> str:
    return (f'<div class="{cls}" style="{_style(left, width)}" title="{escape(tip)}">'
            f'<span>{escape(label)}</span></div>')


def _windows_lane(occs: Sequence[Occurrence], axis: Axis, tz: ZoneInfo) -> str:
    bands = []
    for o in occs:
        if axis.overlaps(o.start, o.end):
            left, width = axis.span(o.start, o.end)
            tip = f"Maintenance window {o.name}: {_fmt(o.start, tz)} → {_fmt(o.end, tz)}"
            bands.append(_band("window", left, width, tip, o.name))
    return _lane("Maintenance windows", "".join(bands), "lane-windows")


def _freezes_lane(freezes: Sequence[Freeze], axis: Axis, tz: ZoneInfo) -> str:
    bands = []
    for f in freezes:
        if axis.overlaps(f.start, f.end):
            left, width = axis.span(f.start, f.end)
            tip = f"Change freeze {f.name}: {_fmt(f.start, tz)} → {_fmt(f.end, tz)}"
            if f.reason:
                tip += f" — {f.reason}"
            bands.append(_band("freeze", left, width, tip, f.name))
    return _lane("Freezes", "".join(bands), "lane-freezes")


def _lane(label: str, body: str, cls: str) -> str:
    return (f'<div class="row {cls}"><div class="label">{escape(label)}</div>'
            f'<div class="track">{body}</div></div>')


def _background(occs: Sequence[Occurrence], freezes: Sequence[Freeze], axis: Axis) -> str:
    """Faint window/freeze bands behind the change rows, so overlaps are visible."""
    parts = []
    for o in occs:
        if axis.overlaps(o.start, o.end):
            parts.append(f'<div class="bg-window" style="{_style(*axis.span(o.start, o.end))}">'
                         "</div>")
    for f in freezes:
        if axis.overlaps(f.start, f.end):
            parts.append(f'<div class="bg-freeze" style="{_style(*axis.span(f.start, f.end))}">'
                         "</div>")
    return "".join(parts)


def _change_row(c: CalendarChange, axis: Axis, tz: ZoneInfo) -> str:
    colour, state_label = STATES.get(c.state, UNKNOWN_STATE)
    left, width = axis.span(c.start, c.end)
    tip = (f"{c.id} — {c.title}\nstate: {state_label}\n"
           f"{_fmt(c.start, tz)} → {_fmt(c.end, tz)}" + (f"\nauthor: {c.author}" if c.author
                                                         else ""))
    return (f'<div class="change" data-id="{escape(c.id)}" '
            f'data-state="{escape(c.state)}" title="{escape(tip)}">'
            f'<div class="label"><code>{escape(c.id)}</code> {escape(c.title)}</div>'
            f'<div class="track"><div class="bar" style="{_style(left, width)}'
            f'background:{colour}"></div></div></div>')


def _legend() -> str:
    items = [f'<li><span class="swatch" style="background:{colour}"></span>{escape(label)}</li>'
             for colour, label in STATES.values()]
    items.append(f'<li><span class="swatch" style="background:{WINDOW_FILL};'
                 'border:1px solid #31a354"></span>maintenance window</li>')
    items.append(f'<li><span class="swatch" style="background:{FREEZE_FILL};'
                 'border:1px solid #d62728"></span>change freeze</li>')
    return '<ul class="legend" aria-label="Legend">' + "".join(items) + "</ul>"


def _now_marker(now: datetime | None, axis: Axis, tz: ZoneInfo) -> str:
    if now is None or not axis.start <= now < axis.end:
        return ""
    return (f'<div class="now" style="left:{axis.pct(now):.3f}%" '
            f'title="now: {escape(_fmt(now, tz))}"></div>')


def _table(changes: Sequence[CalendarChange], tz: ZoneInfo) -> str:
    if not changes:
        return '<p class="empty">No changes recorded in the change log for this period.</p>'
    rows = "".join(
        f"<tr><td><code>{escape(c.id)}</code></td><td>{escape(c.title)}</td>"
        f"<td>{escape(STATES.get(c.state, UNKNOWN_STATE)[1])}</td>"
        f"<td>{escape(_fmt(c.start, tz))}</td><td>{escape(_fmt(c.end, tz))}</td></tr>"
        for c in changes)
    return ("<table><thead><tr><th>id</th><th>title</th><th>state</th><th>start</th>"
            f"<th>end</th></tr></thead><tbody>{rows}</tbody></table>")


_CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:16px;
 color:#222;background:#fff}
h1{font-size:20px;margin:0 0 4px}
.sub{color:#555;margin:0 0 12px}
.legend{list-style:none;padding:0;margin:0 0 12px;display:flex;flex-wrap:wrap;gap:6px 16px}
.legend li{display:flex;align-items:center;gap:6px}
.swatch{display:inline-block;width:14px;height:14px;border-radius:3px}
.timeline{min-width:880px;border:1px solid #ccc;border-radius:4px;position:relative}
.row,.change{display:flex;border-top:1px solid #eee;min-height:26px}
.row:first-child{border-top:0}
.label{box-sizing:border-box;flex:0 0 240px;padding:4px 8px;overflow:hidden;white-space:nowrap;
 text-overflow:ellipsis;border-right:1px solid #ddd;background:#fafafa}
.track{flex:1;position:relative}
.axis .track{height:26px}
.tick{position:absolute;top:0;bottom:0;border-left:1px solid #e4e4e4}
.day{position:absolute;top:4px;padding-left:3px;font-size:11px;color:#666;white-space:nowrap}
.window,.freeze{position:absolute;top:3px;bottom:3px;border-radius:3px;overflow:hidden;
 font-size:11px;white-space:nowrap}
.window{background:rgba(49,163,84,.35);border:1px solid #31a354}
.freeze{background:repeating-linear-gradient(45deg,rgba(214,39,40,.35) 0 6px,
 rgba(214,39,40,.15) 6px 12px);border:1px solid #d62728}
.window span,.freeze span{padding:0 3px}
.changes{position:relative}
.bg{position:absolute;top:0;bottom:0;left:240px;right:0;pointer-events:none}
.bg-window,.bg-freeze{position:absolute;top:0;bottom:0}
.bg-window{background:rgba(49,163,84,.12)}
.bg-freeze{background:rgba(214,39,40,.18)}
.bar{position:absolute;top:5px;bottom:5px;border-radius:3px;min-width:3px}
.now{position:absolute;top:0;bottom:0;border-left:2px dashed #000;z-index:2}
.empty{color:#555;font-style:italic}
table{border-collapse:collapse;margin-top:16px}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left}
th{background:#f3f3f3}
"""


def render_calendar(occurrences: Sequence[Occurrence], freezes: Sequence[Freeze],
                    changes: Sequence[CalendarChange], start: datetime, end: datetime,
                    tz: str, *, now: datetime | None = None,
                    title: str = "Change calendar") -> str:
    """The whole HTML page for [start, end) displayed in time zone `tz`."""
    zone = ZoneInfo(tz)
    axis = Axis(start.astimezone(UTC), end.astimezone(UTC))
    shown = [c for c in changes if axis.overlaps(c.start, c.end)]
    hidden = len(changes) - len(shown)
    rows = "".join(_change_row(c, axis, zone) for c in shown)
    note = (f'<p class="sub">{hidden} change(s) outside this period are not shown.</p>'
            if hidden else "")
    bg = _background(occurrences, freezes, axis)
    body = (
        f"<h1>{escape(title)}</h1>"
        f'<p class="sub">{escape(_fmt(axis.start, zone))} → {escape(_fmt(axis.end, zone))} '
        f"({escape(tz)}) · {len(shown)} change(s)</p>"
        f"{_legend()}"
        '<div class="timeline">'
        f'<div class="row axis"><div class="label">{escape(tz)}</div>'
        f'<div class="track">{_grid(axis, zone)}{_now_marker(now, axis, zone)}</div></div>'
        f"{_windows_lane(occurrences, axis, zone)}{_freezes_lane(freezes, axis, zone)}"
        f'<div class="changes"><div class="bg">{bg}</div>{rows}</div>'
        "</div>"
        f"{note}{_table(shown, zone)}"
    )
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title>"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<style>{_CSS}</style></head><body>{body}</body></html>\n")
