"""SPEC §12 "Time" (issue 14 attack 9): event times are the wall clock, not the writer's word.

Under the default `clock: real`, `--now`/`CHANGEGUARD_NOW` on a writer, the hook or the gate
is exit 2 with nothing written; `log verify` flags event times that disagree with their
commit's committer time, run backwards in log order, lie in the future, or claim
`Changeguard-Clock: simulated` under a real clock. The forged events are made as an attacker
would: the CLI in a scratch copy whose config says `clock: simulated`, then `commit-tree`
with a chosen GIT_COMMITTER_DATE and `update-ref` onto the real log.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tests.helpers import ROOT, RunCli, git
from tests.helpers.changelog import IN_WINDOW, NOW, PLAN_ID, config, make_repo, plan, write_plan

REF = "refs/heads/changeguard/log"
SG = ZoneInfo("Asia/Singapore")
HINT = "clock: simulated"


def _tip(repo: Path) -> str:
    """The log tip, or "" when there is no log (`git rev-parse` of the log ref)."""
    p = subprocess.run(["git", "rev-parse", "-q", "--verify", REF], cwd=repo,
                       capture_output=True, text=True)
    return p.stdout.strip()


def _next_window() -> tuple[datetime, datetime]:
    """A Sunday 01:00-05:00 SGT window at least three days ahead of the wall clock."""
    day = datetime.now(SG).date() + timedelta(days=3)
    while day.weekday() != 6:
        day += timedelta(days=1)
    start = datetime.combine(day, time(1, 0), SG)
    return start, start + timedelta(hours=4)


def _real_repo(root: Path) -> tuple[Path, datetime]:
    """A config repo under the default real clock whose plan's window is in the future."""
    start, end = _next_window()
    repo = make_repo(root, config(clock=None))
    write_plan(repo, plan(window={"start": start.isoformat(), "end": end.isoformat()}))
    git(repo, "commit", "-q", "-am", "plan for the next window")
    return repo, start


def _as(email: str, **extra: str) -> dict[str, str]:
    return {"GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_NAME": email.split("@")[0], **extra}


def _refused(res: Any) -> None:
    """Exit 2, one clear error naming `clock: simulated` in its hint, no traceback."""
    assert res.code == 2, (res.out, res.err)
    assert "error:" in res.err and "hint:" in res.err and HINT in res.err
    assert "Traceback" not in res.err


def _verify(run_cli: RunCli, repo: Path) -> dict[str, Any]:
    res = run_cli("log", "verify", "--format", "json", cwd=repo)
    data: dict[str, Any] = json.loads(res.out)
    assert res.code == (0 if data["ok"] else 1) and "Traceback" not in res.err
    return data


def _problems(data: dict[str, Any], commit: str) -> list[str]:
    return [p["message"] for p in data["problems"] if p["commit"] == commit]


def _forge(tmp_path: Path, repo: Path, run_cli: RunCli, args: list[str], at: str,
           committed: str, email: str, keep_trailer: bool = False) -> str:
    """Put on the real log the event `changeguard ARGS --now AT` makes in a simulated scratch
    copy, committed at `committed`; the forged commit's sha."""
    scratch = tmp_path / "scratch"
    shutil.copytree(repo, scratch)
    cfg = scratch / ".changeguard.yaml"
    cfg.write_text(cfg.read_text() + "clock: simulated\n")
    git(scratch, "commit", "-q", "-am", "scratch: simulated clock")  # writers read it there
    res = run_cli(*args, "--now", at, cwd=scratch, env=_as(email))
    assert res.code == 0, res.err
    made = _tip(scratch)
    msg = git(scratch, "log", "-1", "--format=%B", made)
    if not keep_trailer:
        msg = msg.replace("Changeguard-Clock: simulated\n", "")
    tree = git(scratch, "rev-parse", f"{made}^{{tree}}").strip()
    git(repo, "fetch", "-q", str(scratch), f"{REF}:refs/scratch")  # the objects
    git(repo, "update-ref", "-d", "refs/scratch")
    env = dict(os.environ, **_as(email), GIT_COMMITTER_DATE=committed, GIT_AUTHOR_DATE=at)
    forged = subprocess.run(["git", "commit-tree", tree, "-p", _tip(repo)], cwd=repo, env=env,
                            input=msg.encode(), capture_output=True, check=True
                            ).stdout.decode().strip()
    git(repo, "update-ref", REF, forged, _tip(repo))
    return forged


def _submitted(run_cli: RunCli, repo: Path) -> None:
    """A real-clock submit and a dba approval: the change is approved, at the wall clock."""
    assert run_cli("submit", f"changes/{PLAN_ID}.yaml", cwd=repo).code == 0
    assert run_cli("approve", PLAN_ID, "--revision", "1", cwd=repo,
                   env=_as("dev@example.org")).code == 0


# --------------------------------------------------------------- writers refuse --now


def test_attack_backdated_submit_refused(tmp_path: Path, run_cli: RunCli) -> None:
    # the 2016 plan's window needs 48 h of lead time: claiming a week ahead would pass it
    repo = make_repo(tmp_path / "cfg", config(clock=None))
    res = run_cli("submit", f"changes/{PLAN_ID}.yaml", "--now", NOW, cwd=repo)
    _refused(res)
    assert "--now" in res.err and "submit" in res.err
    assert _tip(repo) == ""
    res = run_cli("submit", f"changes/{PLAN_ID}.yaml", cwd=repo, env={"CHANGEGUARD_NOW": NOW})
    _refused(res)
    assert "CHANGEGUARD_NOW" in res.err
    assert _tip(repo) == ""


def test_attack_start_claims_time_inside_window(tmp_path: Path, run_cli: RunCli) -> None:
    repo, start = _real_repo(tmp_path / "cfg")
    _submitted(run_cli, repo)
    before = _tip(repo)
    inside = (start + timedelta(minutes=30)).isoformat()
    _refused(run_cli("start", PLAN_ID, "--now", inside, cwd=repo))
    _refused(run_cli("start", PLAN_ID, cwd=repo, env={"CHANGEGUARD_NOW": inside}))
    assert _tip(repo) == before
    # on the wall clock the window has not begun: refused as a transition (exit 1)
    res = run_cli("start", PLAN_ID, cwd=repo)
    assert res.code == 1 and _tip(repo) == before
    # and the honest log verifies
    assert _verify(run_cli, repo)["ok"]


def test_attack_every_writer_refuses_now_under_a_real_clock(tmp_path: Path,
                                                            run_cli: RunCli) -> None:
    repo, _ = _real_repo(tmp_path / "cfg")
    _submitted(run_cli, repo)
    before = _tip(repo)
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    for args in (["approve", PLAN_ID, "--revision", "1"], ["reject", PLAN_ID, "--revision", "1",
                                                           "--reason", "no"],
                 ["complete", PLAN_ID], ["rollback", PLAN_ID, "--reason", "x"],
                 ["cancel", PLAN_ID, "--reason", "x"],
                 ["review", PLAN_ID, "--comment", "ok"], ["freeze", "--reason", "incident"],
                 ["unfreeze"], ["log", "sync"]):
        _refused(run_cli(*args, "--now", later, cwd=repo, env=_as("ravi@example.org")))
    assert _tip(repo) == before


def test_read_only_commands_keep_accepting_now(tmp_path: Path, run_cli: RunCli) -> None:
    repo, _ = _real_repo(tmp_path / "cfg")
    _submitted(run_cli, repo)
    for args in (["validate", f"changes/{PLAN_ID}.yaml"], ["check", f"changes/{PLAN_ID}.yaml"],
                 ["windows", "--days", "7"], ["show", PLAN_ID], ["list"]):
        res = run_cli(*args, "--now", NOW, cwd=repo)
        assert res.code in (0, 1) and HINT not in res.err, (args, res.err)


def test_attack_hook_claims_time_inside_window(tmp_path: Path, run_cli: RunCli,
                                               git_env: dict[str, str]) -> None:
    repo, _ = _real_repo(tmp_path / "cfg")
    (repo / "db" / "apac-gateway.topology.yaml").write_text("proposed: 2\n")
    git(repo, "add", "db")
    _refused(run_cli("check", "--staged", "--now", IN_WINDOW, cwd=repo))
    _refused(run_cli("check", "--staged", cwd=repo, env={"CHANGEGUARD_NOW": IN_WINDOW}))
    p = subprocess.run([sys.executable, "-m", "changeguard.hook", "--now", IN_WINDOW], cwd=repo,
                       env=dict(git_env, PYTHONPATH=str(ROOT)), capture_output=True, text=True)
    assert p.returncode == 2 and HINT in p.stderr and "Traceback" not in p.stderr


def test_attack_check_range_now_refused_without_simulated(tmp_path: Path,
                                                         run_cli: RunCli) -> None:
    repo, _ = _real_repo(tmp_path / "cfg")
    _refused(run_cli("check", "--range", "HEAD~1..HEAD", "--now", IN_WINDOW, cwd=repo))
    _refused(run_cli("check", "--range", "HEAD~1..HEAD", cwd=repo,
                     env={"CHANGEGUARD_NOW": IN_WINDOW}))
    # under a simulated clock the same run is judged (no guarded path changed: exit 0)
    sim = make_repo(tmp_path / "sim")
    (sim / "README").write_text("x\n")
    git(sim, "add", "README")
    git(sim, "commit", "-q", "-m", "unguarded")
    res = run_cli("check", "--range", "HEAD~1..HEAD", "--now", IN_WINDOW, cwd=sim)
    assert res.code == 0, res.err


# --------------------------------------------------------------- the simulated trailer


def test_simulated_events_carry_the_clock_trailer(tmp_path: Path, run_cli: RunCli) -> None:
    sim = make_repo(tmp_path / "sim")  # tests' config: clock: simulated
    assert run_cli("submit", f"changes/{PLAN_ID}.yaml", "--now", NOW, cwd=sim).code == 0
    trailer = git(sim, "log", "-1", "--format=%(trailers:key=Changeguard-Clock,valueonly)",
                  REF).strip()
    assert trailer == "simulated"
    # a 2016 event time ten years from its commit time is fine when marked simulated
    assert _verify(run_cli, sim)["ok"]
    real, _ = _real_repo(tmp_path / "real")
    _submitted(run_cli, real)
    assert "Changeguard-Clock" not in git(real, "log", "-1", "--format=%B", REF)
    assert _verify(run_cli, real)["ok"]


# --------------------------------------------------------------- log verify


def test_attack_event_time_far_from_its_committer_time(tmp_path: Path,
                                                      run_cli: RunCli) -> None:
    repo, _ = _real_repo(tmp_path / "cfg")
    _submitted(run_cli, repo)
    wall = datetime.now(UTC)
    # honest git stamps the commit now; the event claims it was given an hour from now
    forged = _forge(tmp_path, repo, run_cli, ["approve", PLAN_ID, "--revision", "1"],
                    at=(wall + timedelta(hours=1)).isoformat(timespec="seconds"),
                    committed=wall.isoformat(timespec="seconds"), email="ravi@example.org")
    got = _problems(_verify(run_cli, repo), forged)
    assert any("differs from its commit's committer time" in m for m in got), got
    res = run_cli("log", "verify", cwd=repo)
    assert res.code == 1 and forged in res.err and "Traceback" not in res.err


def test_attack_backdated_event_with_a_matching_committer_date(tmp_path: Path,
                                                              run_cli: RunCli) -> None:
    repo, _ = _real_repo(tmp_path / "cfg")
    _submitted(run_cli, repo)
    # a day earlier, and GIT_COMMITTER_DATE says so too: only the log order gives it away
    day_ago = (datetime.now(UTC) - timedelta(days=1)).isoformat(timespec="seconds")
    forged = _forge(tmp_path, repo, run_cli, ["approve", PLAN_ID, "--revision", "1"],
                    at=day_ago, committed=day_ago, email="ravi@example.org")
    got = _problems(_verify(run_cli, repo), forged)
    assert any("earlier than the previous event's" in m for m in got), got
    assert not any("committer time" in m for m in got), got


def test_attack_future_dated_start_inside_the_window(tmp_path: Path, run_cli: RunCli) -> None:
    repo, start = _real_repo(tmp_path / "cfg")
    _submitted(run_cli, repo)
    # `start` dated inside the (future) window, committer date to match
    inside = (start + timedelta(minutes=30)).isoformat()
    forged = _forge(tmp_path, repo, run_cli, ["start", PLAN_ID], at=inside, committed=inside,
                    email="ana@example.org")
    got = _problems(_verify(run_cli, repo), forged)
    assert any("in the future" in m for m in got), got


def test_attack_simulated_trailer_under_a_real_clock(tmp_path: Path, run_cli: RunCli) -> None:
    repo, _ = _real_repo(tmp_path / "cfg")
    _submitted(run_cli, repo)
    # the trailer would exempt a made-up time from the committer-time check
    wall = datetime.now(UTC)
    forged = _forge(tmp_path, repo, run_cli, ["approve", PLAN_ID, "--revision", "1"],
                    at=(wall + timedelta(hours=3)).isoformat(timespec="seconds"),
                    committed=wall.isoformat(timespec="seconds"), email="ravi@example.org",
                    keep_trailer=True)
    got = _problems(_verify(run_cli, repo), forged)
    assert any("marked Changeguard-Clock: simulated" in m for m in got), got
    assert not any("committer time" in m for m in got), got


def test_attack_backdated_submit_of_another_change(tmp_path: Path, run_cli: RunCli) -> None:
    # "previous" is the previous event of the whole log: here another change's approval
    repo, start = _real_repo(tmp_path / "cfg")
    other = plan(id="CHG-2016-0403-other", services=["other-svc"],
                 changes=[{"path": "db/other.yaml", "summary": "x"}],
                 window={"start": start.isoformat(),
                         "end": (start + timedelta(hours=4)).isoformat()})
    (repo / "db" / "other.yaml").write_text("x: 1\n")
    rel = write_plan(repo, other)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "second plan")
    _submitted(run_cli, repo)
    hours_ago = (datetime.now(UTC) - timedelta(hours=2)).isoformat(timespec="seconds")
    forged = _forge(tmp_path, repo, run_cli, ["submit", rel], at=hours_ago,
                    committed=hours_ago, email="ana@example.org")
    got = _problems(_verify(run_cli, repo), forged)
    assert any("earlier than the previous event's" in m for m in got), got


def test_writer_refuses_to_land_before_the_log_tip(tmp_path: Path, run_cli: RunCli) -> None:
    # a tip dated a day ahead (a clone whose clock is wrong, or forged): an honest write now
    # would be "earlier than the previous event", so it is refused, not written
    repo, _ = _real_repo(tmp_path / "cfg")
    _submitted(run_cli, repo)
    ahead = (datetime.now(UTC) + timedelta(days=1)).isoformat(timespec="seconds")
    forged = _forge(tmp_path, repo, run_cli, ["approve", PLAN_ID, "--revision", "1"], at=ahead,
                    committed=ahead,
                    email="ravi@example.org")
    res = run_cli("cancel", PLAN_ID, "--reason", "x", cwd=repo)
    assert res.code == 1 and "earlier than the previous event's" in res.err, res.err
    assert _tip(repo) == forged
    assert any("in the future" in m for m in _problems(_verify(run_cli, repo), forged))


def test_simulated_times_are_exempt_from_the_order_check(tmp_path: Path,
                                                         run_cli: RunCli) -> None:
    # concurrent rehearsals pass unrelated --now values; the trailer says they are made up
    repo = make_repo(tmp_path / "cfg")
    assert run_cli("submit", f"changes/{PLAN_ID}.yaml", "--now", NOW, cwd=repo).code == 0
    early = (datetime.fromisoformat(NOW) - timedelta(days=1)).isoformat()
    assert run_cli("approve", PLAN_ID, "--revision", "1", "--now", early, cwd=repo,
                   env=_as("dev@example.org")).code == 0
    assert _verify(run_cli, repo)["ok"]
