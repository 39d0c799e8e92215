"""`changeguard windows` end to end: real subprocesses in a real git repo."""

from __future__ import annotations

import json
import os
from pathlib import Path

import icalendar
import pytest

from tests.conftest import RunCli

CONFIG = """\
apiVersion: changeguard/v1
kind: GuardConfig
timezone: Asia/Singapore
windows:
  - {name: sunday-maintenance, days: [sun], start: "01:00", end: "06:00"}
  - {name: us-saturday-night, days: [sat], start: "22:00", end: "02:00",
     timezone: America/New_York}
freezes:
  - {name: semester-start, start: 2026-11-05T00:00:00+08:00, end: 2026-11-06T12:00:00+08:00,
     reason: enrolment peak}
  - {name: long-ago, start: 2016-01-01T00:00:00+08:00, end: 2016-01-02T00:00:00+08:00}
"""
NOW = "2026-10-30T00:00:00Z"


@pytest.fixture
def cfg_repo(repo: Path) -> Path:
    (repo / ".changeguard.yaml").write_text(CONFIG)
    return repo


def test_text_lists_windows_and_freezes_in_config_zone(cfg_repo: Path, run_cli: RunCli) -> None:
    r = run_cli("windows", "--now", NOW, "--days", "10", cwd=cfg_repo)
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0].startswith("Maintenance windows Fri 2026-10-30 08:00 +08")
    assert "Sun 2026-11-01 01:00 +08 → Sun 2026-11-01 06:00 +08  sunday-maintenance  (5 h)" in r.out
    # NY fall-back night: the Saturday window lasts 5 real hours, shown in SGT.
    assert ("Sun 2026-11-01 10:00 +08 → Sun 2026-11-01 15:00 +08  us-saturday-night  (5 h)"
            "  [Sat 2026-10-31 22:00 EDT America/New_York]") in r.out
    assert "semester-start: enrolment peak" in r.out
    assert "long-ago" not in r.out
    assert sum("sunday-maintenance" in ln for ln in lines) == 2


def test_json_shape(cfg_repo: Path, run_cli: RunCli) -> None:
    r = run_cli("windows", "--from", "2026-10-31T00:00:00+08:00", "--days", "2",
                "--format", "json", cwd=cfg_repo)
    assert r.code == 0, r.err
    assert json.loads(r.out) == {
        "windows": [
            {"name": "sunday-maintenance", "start": "2026-11-01T01:00:00+08:00",
             "end": "2026-11-01T06:00:00+08:00", "timezone": "Asia/Singapore"},
            {"name": "us-saturday-night", "start": "2026-10-31T22:00:00-04:00",
             "end": "2026-11-01T02:00:00-05:00", "timezone": "America/New_York"},
        ],
        "freezes": [],
    }


def test_ics_on_stdout_and_output_file_agree(cfg_repo: Path, run_cli: RunCli,
                                             tmp_path: Path) -> None:
    r = run_cli("windows", "--now", NOW, "--days", "10", "--ics", cwd=cfg_repo)
    assert r.code == 0, r.err
    assert r.out.startswith("BEGIN:VCALENDAR")
    cal = icalendar.Calendar.from_ical(r.out)
    events = [c for c in cal.walk("VEVENT")]
    assert len(events) == 5  # 2 + 2 window occurrences, 1 freeze
    assert {str(z["TZID"]) for z in cal.walk("VTIMEZONE")} == {"Asia/Singapore",
                                                                "America/New_York"}
    assert len({str(e["UID"]) for e in events}) == 5
    target = tmp_path / "out" / "maint.ics"
    target.parent.mkdir()
    w = run_cli("windows", "--now", NOW, "--days", "10", "--output", str(target), cwd=cfg_repo)
    assert w.code == 0, w.err
    assert w.out == ""
    # The subprocess pipe was read in text mode, which folds CRLF to LF.
    assert target.read_bytes().decode().replace("\r\n", "\n") == r.out
    assert target.read_bytes().count(b"\r\n") == target.read_bytes().count(b"\n")
    assert [p.name for p in target.parent.iterdir()] == ["maint.ics"]  # no temp file left
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's 0600


def test_output_into_missing_directory_creates_nothing(cfg_repo: Path, run_cli: RunCli,
                                                        tmp_path: Path) -> None:
    target = tmp_path / "missing" / "maint.ics"
    r = run_cli("windows", "--output", str(target), cwd=cfg_repo)
    assert r.code == 2
    assert r.err.startswith("error: --output") and "Traceback" not in r.err
    assert not target.parent.exists()


@pytest.mark.parametrize(("args", "needle"), [
    (["--from", "next tuesday"], "--from 'next tuesday' is not an RFC 3339 timestamp"),
    (["--from", "2026-11-01T00:00:00"], "--from '2026-11-01T00:00:00' has no timezone offset"),
    (["--days", "0"], "--days 0 is out of range"),
    (["--format", "sarif"], "unknown format 'sarif'"),
])
def test_bad_options_exit_2(cfg_repo: Path, run_cli: RunCli, args: list[str],
                            needle: str) -> None:
    r = run_cli("windows", *args, cwd=cfg_repo)
    assert r.code == 2
    assert needle in r.err and "Traceback" not in r.err
    assert r.out == ""


GAP_CONFIG = ("apiVersion: changeguard/v1\nkind: GuardConfig\ntimezone: America/New_York\n"
              "windows:\n  - {name: gap, days: [sun], start: \"02:30\", end: \"04:00\"}\n")


def test_dst_gap_date_is_named_and_the_others_listed(repo: Path, run_cli: RunCli) -> None:
    # issue 12: one spring-forward night must not make the whole listing exit 2
    (repo / ".changeguard.yaml").write_text(GAP_CONFIG)
    r = run_cli("windows", "--from", "2026-03-01T00:00:00Z", "--days", "21", cwd=repo)
    assert r.code == 0, r.err
    assert "Sun 2026-03-01 02:30 EST → Sun 2026-03-01 04:00 EST  gap" in r.out
    assert "Sun 2026-03-15 02:30 EDT → Sun 2026-03-15 04:00 EDT  gap" in r.out
    assert ("gap on Sun 2026-03-08 cannot exist: start 02:30 does not exist on 2026-03-08 in "
            "America/New_York (DST gap: clocks jump from 02:00 to 03:00)") in r.out
    j = run_cli("windows", "--from", "2026-03-01T00:00:00Z", "--days", "21", "--format", "json",
                cwd=repo)
    doc = json.loads(j.out)
    assert [w["start"] for w in doc["windows"]] == ["2026-03-01T02:30:00-05:00",
                                                    "2026-03-15T02:30:00-04:00"]
    assert doc["skipped"] == [{"name": "gap", "date": "2026-03-08", "reason":
                               "start 02:30 does not exist on 2026-03-08 in America/New_York "
                               "(DST gap: clocks jump from 02:00 to 03:00)"}]
    o = run_cli("windows", "--from", "2026-03-01T00:00:00Z", "--days", "21", "--output",
                "gap.ics", cwd=repo)
    assert o.code == 0, o.err
    assert "note: gap on Sun 2026-03-08 cannot exist" in o.err
    cal = icalendar.Calendar.from_ical((repo / "gap.ics").read_bytes())
    assert len(list(cal.walk("VEVENT"))) == 2


def test_dst_gap_still_denies_a_plan_in_that_window(repo: Path, run_cli: RunCli) -> None:
    # judging a plan against the impossible occurrence stays a config error (exit 2)
    from tests.helpers.plans import plan, write_yaml

    (repo / ".changeguard.yaml").write_text(GAP_CONFIG)
    write_yaml(repo / "changes" / "p.yaml", plan(window={
        "start": "2026-03-08T03:00:00-04:00", "end": "2026-03-08T03:30:00-04:00"}))
    r = run_cli("validate", "changes/p.yaml", "--now", "2026-03-01T00:00:00Z", cwd=repo)
    assert r.code == 2
    assert "'gap'" in r.err and "2026-03-08" in r.err and "clocks jump from 02:00 to 03:00" in r.err


def test_log_freeze_is_listed(tmp_path: Path, git_env: dict[str, str], run_cli: RunCli) -> None:
    # issue 12: a `changeguard freeze` must show in `windows`, text and JSON
    from tests.helpers.changelog import make_repo

    r = make_repo(tmp_path / "cfg")
    chen = {"GIT_AUTHOR_EMAIL": "chen@example.org", "GIT_AUTHOR_NAME": "Chen"}
    empty = run_cli("windows", "--format", "json", cwd=r)
    assert json.loads(empty.out)["freezes"] == []
    f = run_cli("freeze", "--reason", "replication incident", cwd=r, env=chen)
    assert f.code == 0, f.err
    t = run_cli("windows", cwd=r)
    assert t.code == 0, t.err
    frozen = t.out.split("Freezes:")[1]
    assert "stop-the-line: replication incident (by chen@example.org)" in frozen
    assert "none" not in frozen
    j = json.loads(run_cli("windows", "--format", "json", cwd=r).out)
    assert [(x["name"], x["reason"]) for x in j["freezes"]] == [
        ("stop-the-line", "replication incident (by chen@example.org); until "
                          "`changeguard unfreeze`")]
    assert "." not in j["freezes"][0]["start"] + j["freezes"][0]["end"]  # no microseconds
    assert run_cli("unfreeze", cwd=r, env=chen).code == 0
    assert json.loads(run_cli("windows", "--format", "json", cwd=r).out)["freezes"] == []


def test_no_config_lists_nothing(repo: Path, run_cli: RunCli) -> None:
    r = run_cli("windows", "--now", NOW, cwd=repo)
    assert r.code == 0, r.err
    assert "none configured" in r.out
