"""`changeguard calendar --html`: pure rendering, the CLI on a real log, and headless Chromium."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from changeguard.calendar_html import STATES, CalendarChange, render_calendar
from changeguard.model import Freeze, GuardConfig, MaintenanceWindow
from changeguard.timewin import occurrences
from tests.conftest import RunCli
from tests.helpers.plans import CONFIG, NOW, config, plan, write_yaml

T0 = datetime.fromisoformat("2016-03-27T00:00:00+08:00")
T1 = T0 + timedelta(days=21)


class _Elements(HTMLParser):
    """Collects (tag, attrs) of every start tag, and all text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> _Elements:
    p = _Elements()
    p.feed(html)
    return p


def changes_in(html: str) -> list[dict[str, str | None]]:
    """Attributes of every element whose class list contains `change`."""
    return [a for _, a in parse(html).tags if "change" in (a.get("class") or "").split()]


def _window() -> list[MaintenanceWindow]:
    return [MaintenanceWindow(name="sunday-maintenance", days=["sun"], start="01:00",
                              end="06:00", timezone="Asia/Singapore")]


def _change(i: int, state: str, title: str = "t") -> CalendarChange:
    start = T0 + timedelta(days=7 * (i % 3), hours=1)
    return CalendarChange(f"CHG-{i}", title, state, start, start + timedelta(hours=3))


# ---------------------------------------------------------------- pure rendering


def test_render_counts_escapes_and_is_self_contained() -> None:
    evil = '<script>alert("x")</script> & "quotes"'
    changes = [_change(i, s, evil if i == 0 else f"change {i}") for i, s in enumerate(STATES)]
    changes.append(CalendarChange("CHG-old", "long ago", "completed",
                                  T0 - timedelta(days=30), T0 - timedelta(days=29)))
    occs = occurrences(_window(), T0, T1, "Asia/Singapore")
    frz = [Freeze(name="quarter-end <q1>", start=T0 + timedelta(days=3),
                  end=T0 + timedelta(days=5), reason="books & audits")]
    html = render_calendar(occs, frz, changes, T0, T1, "Asia/Singapore")

    found = changes_in(html)
    assert [c["data-id"] for c in found] == [f"CHG-{i}" for i in range(len(STATES))]
    assert [c["data-state"] for c in found] == list(STATES)
    assert all(c["class"] == "change" for c in found)
    assert "1 change(s) outside this period are not shown" in html
    # escaping: the evil title appears only as text, never as markup
    assert "<script" not in html and "alert(&quot;x&quot;)" in html
    assert "&lt;script&gt;" in html and "quarter-end &lt;q1&gt;" in html
    assert "books &amp; audits" in html
    assert evil in "".join(parse(html).text)
    # windows, freezes, legend
    tags = parse(html).tags
    assert sum((a.get("class") or "") == "window" for _, a in tags) == len(occs) == 3
    assert sum((a.get("class") or "") == "freeze" for _, a in tags) == 1
    legend = "".join(parse(html).text)
    for _, label in STATES.values():
        assert label in legend
    # self-contained: no external resources, no scripts
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html and "@import" not in html


def test_render_without_changes_says_so() -> None:
    html = render_calendar([], [], [], T0, T1, "UTC")
    assert changes_in(html) == []
    assert "No changes recorded" in html


def test_bars_are_placed_on_the_time_axis() -> None:
    c = CalendarChange("CHG-mid", "x", "approved", T0 + timedelta(days=10),
                       T0 + timedelta(days=10, hours=12))
    html = render_calendar([], [], [c], T0, T0 + timedelta(days=20), "UTC")
    m = re.search(r'class="bar" style="left:([\d.]+)%;width:([\d.]+)%', html)
    assert m is not None
    assert float(m.group(1)) == pytest.approx(50.0)
    assert float(m.group(2)) == pytest.approx(2.5)


# ---------------------------------------------------------------- a real log


def _record_log(repo: Path) -> dict[str, str]:
    """Five changes in five states, written by the real workflow code; id -> state."""
    from changeguard.changelog.binding import Binding
    from changeguard.changelog.identity import Identity
    from changeguard.changelog.workflow import Session, change_event, freeze, submit

    cfg = GuardConfig.model_validate(CONFIG)
    now = datetime.fromisoformat(NOW)
    ana, dev = Identity("Ana", "ana@example.org"), Identity("Dev", "dev@example.org")

    def act(who: Identity, at: datetime, fn: Any, *args: Any, **kw: Any) -> None:
        s = Session(repo, cfg, at, _actor=who)
        try:
            out = fn(s, *args, **kw)
        finally:
            s.close()
        assert out.code == 0, out.out + out.err

    plans = {
        "CHG-1-done": ("2016-04-03T01:00:00+08:00", "completed"),
        "CHG-2-ok": ("2016-04-10T01:00:00+08:00", "approved"),
        "CHG-3-new": ("2016-04-10T01:00:00+08:00", "submitted"),
        "CHG-4-no": ("2016-04-03T01:00:00+08:00", "rejected"),
        "CHG-5-off": ("2016-04-10T01:00:00+08:00", "cancelled"),
    }
    for cid, (start, _) in plans.items():
        s = datetime.fromisoformat(start)
        p = write_yaml(repo / "changes" / f"{cid}.yaml", plan(
            id=cid, title=f"{cid} <b>title</b>", services=[cid],
            changes=[{"path": f"db/{cid}.yaml"}],
            window={"start": start, "end": (s + timedelta(hours=4)).isoformat()}))
        act(ana, now, submit, p)
    first = Binding(revision=1)  # SPEC §13: a review names the revision reviewed
    act(dev, now, change_event, "approve", "CHG-1-done", binding=first)
    act(dev, now, change_event, "approve", "CHG-2-ok", binding=first)
    act(dev, now, change_event, "reject", "CHG-4-no", reason="no", binding=first)
    act(ana, now, change_event, "cancel", "CHG-5-off", reason="later")
    inside = datetime.fromisoformat("2016-04-03T01:10:00+08:00")
    act(ana, inside, change_event, "start", "CHG-1-done")
    act(ana, inside + timedelta(hours=2), change_event, "complete", "CHG-1-done")
    act(dev, inside + timedelta(hours=3), freeze, "replication <incident>", None)
    return {cid: st for cid, (_, st) in plans.items()}


@pytest.fixture
def logged_repo(repo: Path) -> tuple[Path, dict[str, str]]:
    write_yaml(repo / ".changeguard.yaml", config(freezes=[
        {"name": "easter", "start": "2016-03-25T00:00:00+08:00",
         "end": "2016-03-29T00:00:00+08:00", "reason": "holiday"}]))
    return repo, _record_log(repo)


def test_cli_writes_page_with_every_change(logged_repo: tuple[Path, dict[str, str]],
                                           run_cli: RunCli) -> None:
    repo, expected = logged_repo
    out = repo / "site" / "calendar.html"
    out.parent.mkdir()
    r = run_cli("calendar", "--html", str(out), "--from", "2016-03-27T00:00:00+08:00",
                "--days", "21", "--now", NOW, cwd=repo)
    assert r.code == 0, r.err
    assert "5 changes" in r.err
    html = out.read_text(encoding="utf-8")
    assert {c["data-id"]: c["data-state"] for c in changes_in(html)} == expected
    assert "easter" in html and "&lt;b&gt;title&lt;/b&gt;" in html
    assert html.count('class="freeze"') == 2  # the config's and the log's stop-the-line
    assert "stop-the-line" in html and "replication &lt;incident&gt; (by dev@example.org)" in html
    assert not list(out.parent.glob(".*"))  # no temp file left behind


def test_cli_without_log_shows_no_changes(repo: Path, run_cli: RunCli) -> None:
    write_yaml(repo / ".changeguard.yaml", config())
    out = repo / "cal.html"
    r = run_cli("calendar", "--html", str(out), "--now", NOW, cwd=repo)
    assert r.code == 0, r.err
    html = out.read_text(encoding="utf-8")
    assert changes_in(html) == [] and "No changes recorded" in html
    assert html.count('class="window"') == 2  # two Sundays in the default 14 days


@pytest.mark.parametrize(("args", "needle"), [
    ((), "use --html FILE"),
    (("--html", "x.html", "--days", "0"), "--days 0 is out of range"),
    (("--html", "x.html", "--from", "2016-01-01T00:00:00"), "--from"),
])
def test_cli_bad_input_exits_2(repo: Path, run_cli: RunCli, args: tuple[str, ...],
                               needle: str) -> None:
    r = run_cli("calendar", *args, "--now", NOW, cwd=repo)
    assert r.code == 2 and needle in r.err, r.err
    assert not (repo / "x.html").exists()


# ---------------------------------------------------------------- headless Chromium

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--window-size=1200,800"]


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("install chromium: apt-get install -y chromium")
    return exe


def _png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA non-interlaced PNG with the stdlib: (width, height, rows)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    height = depth = ctype = 0
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, ctype = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    assert depth == 8 and ctype in (2, 6), (depth, ctype)
    bpp = 3 if ctype == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) \
                    & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, rows


def test_page_renders_in_headless_chromium(tmp_path: Path) -> None:
    exe = _chromium()
    changes = [_change(i, s, f"change {i}") for i, s in enumerate(STATES)]
    occs = occurrences(_window(), T0, T1, "Asia/Singapore")
    frz = [Freeze(name="freeze", start=T0 + timedelta(days=3), end=T0 + timedelta(days=5))]
    page = tmp_path / "cal.html"
    page.write_text(render_calendar(occs, frz, changes, T0, T1, "Asia/Singapore"),
                    encoding="utf-8")
    png = tmp_path / "shot.png"
    # One browser run does both: the screenshot file and the serialised DOM on stdout.
    run = subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                          f"--screenshot={png}", "--dump-dom", page.resolve().as_uri()],
                         capture_output=True, timeout=90, text=True)
    assert png.is_file(), run.stderr[-2000:]
    width, height, rows = _png_pixels(png.read_bytes())
    assert (width, height) == (1200, 800)
    colours = {row[i:i + 3] for row in rows[::10] for i in range(0, len(row), 3 * 10)}
    assert len(colours) > 8, "screenshot is blank"
    # a state colour of the legend/bars is really painted
    approved = bytes.fromhex(STATES["approved"][0].lstrip("#"))
    assert any(approved in row for row in rows), "no approved-coloured pixels"

    found = changes_in(run.stdout)
    assert [c["data-id"] for c in found] == [c.id for c in changes]
    assert [c["data-state"] for c in found] == list(STATES)
