"""`make demo`: replay the 2016 APAC incident end to end in a temporary config repo.

Every step runs the real CLI (and the real git hook) as a subprocess, exactly as a user
would; the narration says what each step shows. See ../shared/incident-2016-apac.md.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from changeguard.resources import data_dir

PEOPLE = {
    "ana": ("Ana", "ana@example.org"),     # engineer, author of the storage change
    "dev": ("Dev", "dev@example.org"),     # dba
    "chen": ("Chen", "chen@example.org"),  # cab
    "ravi": ("Ravi", "ravi@example.org"),  # dba + cab
}
BAD_TOPOLOGY_EDIT = ("upstream: db1", "upstream: db-1")  # the 2016 sync config error
NEW_VOLUME = ("vol-2014-b", "vol-2016-b")


class DemoError(Exception):
    """A step did not behave as the scenario expects."""


class Demo:
    def __init__(self, repo: Path, color: bool) -> None:
        self.repo = repo
        self.color = color
        self.step_no = 0

    # ------------------------------------------------------------------ plumbing
    def env(self, who: str, now: str | None = None) -> dict[str, str]:
        name, email = PEOPLE[who]
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(GIT_AUTHOR_NAME=name, GIT_AUTHOR_EMAIL=email, GIT_COMMITTER_NAME=name,
                   GIT_COMMITTER_EMAIL=email, GIT_CONFIG_NOSYSTEM="1", NO_COLOR="1")
        env["GIT_CONFIG_GLOBAL"] = os.devnull
        env.pop("CHANGEGUARD_NOW", None)
        if now:
            env["CHANGEGUARD_NOW"] = now
        # the installed hook must find this interpreter's changeguard
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        return env

    def say(self, title: str, text: str = "") -> None:
        self.step_no += 1
        bold = "\033[1m" if self.color else ""
        reset = "\033[0m" if self.color else ""
        print(f"\n{bold}== {self.step_no}. {title}{reset}")
        if text:
            print(textwrap.fill(" ".join(text.split()), 92, initial_indent="   ",
                                subsequent_indent="   "))

    def run(self, who: str, *args: str, now: str | None = None, expect: int = 0,
            show: bool = True) -> str:
        """Run `changeguard ARGS` as `who`; fail the demo on an unexpected exit code."""
        cmd = [sys.executable, "-m", "changeguard", *args]
        print(f"\n   $ {'changeguard ' + ' '.join(_quote(a) for a in args)}   # as {who}")
        p = subprocess.run(cmd, cwd=self.repo, env=self.env(who, now), capture_output=True,
                           text=True)
        out = (p.stdout + p.stderr).rstrip()
        if show and out:
            print(textwrap.indent(out, "   | "))
        print(f"   -> exit {p.returncode}")
        if p.returncode != expect:
            raise DemoError(f"`changeguard {' '.join(args)}` exited {p.returncode}, "
                            f"expected {expect}")
        return out

    def git(self, who: str, *args: str, now: str | None = None, expect: int = 0) -> str:
        print(f"\n   $ git {' '.join(_quote(a) for a in args)}   # as {who}")
        p = subprocess.run(["git", *args], cwd=self.repo, env=self.env(who, now),
                           capture_output=True, text=True)
        out = (p.stdout + p.stderr).rstrip()
        if out:
            print(textwrap.indent(out, "   | "))
        if (p.returncode == 0) != (expect == 0):
            raise DemoError(f"`git {' '.join(args)}` exited {p.returncode}, expected {expect}")
        return out

    def write(self, rel: str, text: str) -> None:
        path = self.repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _quote(arg: str) -> str:
    return f'"{arg}"' if (" " in arg or not arg) else arg


def _example_dir() -> Path:
    shipped = data_dir("policies").parent / "examples" / "incident-2016"
    if shipped.is_dir():
        return shipped
    return Path(__file__).resolve().parent.parent / "examples" / "incident-2016"


def scenario(d: Demo) -> None:
    """The day of 3–4 April 2016, replayed under changeguard."""
    src = _example_dir()
    shutil.copytree(src, d.repo, dirs_exist_ok=True)
    storage_v2 = (d.repo / "changes" / "CHG-2016-0403-storage-v2.yaml").read_text()
    (d.repo / "changes" / "CHG-2016-0403-storage-v2.yaml").unlink()
    d.git("ana", "init", "-q", "-b", "main")
    d.git("ana", "add", "-A")
    d.git("ana", "commit", "-q", "-m", "APAC gateway config repo")

    d.say("The config repo", """A Singapore config repo guards db/** (the redundant pair db1/db2).
          Maintenance happens on Sundays 01:00-06:00 Asia/Singapore. Roster: Ana (engineer),
          Dev (dba), Chen (cab), Ravi (dba, cab). Every time in this demo is simulated: its
          config says `clock: simulated`, so the commands accept the April 2016 times it
          passes them, and each event it records is marked `Changeguard-Clock: simulated`
          (a real repo keeps the wall clock, and its writers refuse --now).""")
    d.run("ana", "windows", "--from", "2016-03-28T00:00:00+08:00", "--days", "14",
          now="2016-03-30T10:00:00+08:00")

    d.say("The plan as it might have been written in 2016", """Both databases in one storage
          step, db2's sync upstream mistyped in the proposed topology, no rollback, no
          verification. changeguard denies it, naming rules and file lines.""")
    topo = d.repo / "db" / "apac-gateway.topology.yaml"
    good_topology = topo.read_text()
    topo.write_text(good_topology.replace(*NEW_VOLUME).replace(*BAD_TOPOLOGY_EDIT))
    d.run("ana", "validate", "changes/CHG-2016-0403-storage.yaml",
          now="2016-03-30T10:00:00+08:00", expect=1)

    d.say("The corrected plan", """One member at a time (db2 first, then a failover, then db1),
          the topology fixed, a rehearsed rollback that fits the window, and verification
          inside the window. It validates, Ana submits it, Dev (dba) and Ravi approve.""")
    d.write("changes/CHG-2016-0403-storage.yaml", storage_v2)
    topo.write_text(good_topology.replace(*NEW_VOLUME))
    d.run("ana", "validate", "changes/CHG-2016-0403-storage.yaml",
          now="2016-03-30T10:00:00+08:00")
    d.git("ana", "add", "changes/CHG-2016-0403-storage.yaml")
    d.git("ana", "commit", "-q", "-m", "plan CHG-2016-0403-storage")
    d.run("ana", "submit", "changes/CHG-2016-0403-storage.yaml", now="2016-03-30T10:00:00+08:00")
    d.run("ana", "approve", "CHG-2016-0403-storage", "--revision", "1",
          now="2016-03-30T11:00:00+08:00", expect=1)
    d.run("dev", "approve", "CHG-2016-0403-storage", "--revision", "1", "--comment",
          "one member at a time: ok",
          now="2016-03-31T09:00:00+08:00")
    d.run("ravi", "approve", "CHG-2016-0403-storage", "--revision", "1",
          now="2016-03-31T10:00:00+08:00")

    window_now = "2016-04-03T01:05:00+08:00"
    d.say("Sunday 01:05: the window opens", """The hook is installed. An edit to a guarded file
          that no approved change covers is refused; the approved topology is accepted.""")
    d.run("ana", "install-hook")
    d.run("ana", "start", "CHG-2016-0403-storage", now=window_now)
    d.write("db/apac-gateway-2.topology.yaml", good_topology.replace("apac-gateway", "apac-gw-2"))
    d.git("ana", "add", "db/apac-gateway-2.topology.yaml", now=window_now)
    d.git("ana", "commit", "-q", "-m", "sneak in a second topology", now=window_now, expect=1)
    d.git("ana", "reset", "-q", "db/apac-gateway-2.topology.yaml")
    (d.repo / "db" / "apac-gateway-2.topology.yaml").unlink()
    d.git("ana", "add", "db/apac-gateway.topology.yaml", now=window_now)
    d.git("ana", "commit", "-q", "-m", "db2 on the new volume (CHG-2016-0403-storage)",
          now=window_now)
    d.run("ana", "complete", "CHG-2016-0403-storage", "--verified", "lag < 5s on both",
          now="2016-04-03T04:10:00+08:00")

    monday = "2016-04-04T14:40:00+08:00"
    d.say("Monday 14:40 SGT: the ad-hoc manual resync", """In 2016 a manual resync in business
          hours caused the second outage. As a normal change it is refused outright; done as an
          emergency change it needs a cab approval (Ravi) and a post-incident review.""")
    resync = _resync_plan("normal")
    d.write("changes/CHG-2016-0404-resync.yaml", resync)
    d.run("ana", "validate", "changes/CHG-2016-0404-resync.yaml", now=monday, expect=1)
    d.write("changes/CHG-2016-0404-resync.yaml", _resync_plan("emergency"))
    d.run("ana", "submit", "changes/CHG-2016-0404-resync.yaml", now=monday)
    d.run("ravi", "approve", "CHG-2016-0404-resync", "--revision", "1", "--comment",
          "emergency: ok",
          now="2016-04-04T14:42:00+08:00")
    d.run("ana", "start", "CHG-2016-0404-resync", now="2016-04-04T14:43:00+08:00")
    d.run("ana", "complete", "CHG-2016-0404-resync", now="2016-04-04T15:00:00+08:00")
    d.run("ana", "list", "--overdue", now="2016-04-08T09:00:00+08:00")
    d.run("chen", "review", "CHG-2016-0404-resync", "--comment",
          "RCA: sync config error; monitoring added", now="2016-04-08T10:00:00+08:00")
    d.run("ana", "list", "--overdue", now="2016-04-08T11:00:00+08:00")

    d.say("The audit trail", "Anyone can replay and verify the whole history from git.")
    d.run("ana", "log", "verify")
    d.run("ana", "list")
    d.run("ana", "show", "CHG-2016-0403-storage")


def _resync_plan(kind: str) -> str:
    return f"""\
apiVersion: changeguard/v1
kind: ChangePlan
id: CHG-2016-0404-resync
title: Manual resync of db2 from db1
author: ana@example.org
type: {kind}
risk: high
services: [alma-api-gateway]
environment: production
window: {{start: 2016-04-04T14:40:00+08:00, end: 2016-04-04T15:40:00+08:00}}
changes: []
steps:
  - {{id: s1, action: "resync db2 from db1", kind: resync, targets: [db2], minutes: 20}}
verification:
  - {{check: "db2 in sync, lag < 5s", command: "check-lag --max 5s", expect: "exit 0"}}
rollback:
  trigger: "resync fails or API 5xx > 1%"
  steps: [{{action: "stop resync, serve from db1 only", kind: manual, targets: [db2], minutes: 5}}]
  max_minutes: 10
  tested: true
  evidence: "runbook RB-7, rehearsed 2016-02"
"""


def main(argv: list[str] | None = None) -> int:
    keep = Path(tempfile.mkdtemp(prefix="changeguard-demo-"))
    repo = keep / "apac-config"
    repo.mkdir()
    d = Demo(repo, color=sys.stdout.isatty() and "NO_COLOR" not in os.environ)
    print("changeguard demo: the 2016 APAC API-gateway incident, replayed")
    try:
        scenario(d)
    except DemoError as e:
        print(f"\ndemo failed: {e}\nthe repo is at {repo}", file=sys.stderr)
        return 1
    print(f"\nDone. The config repo (with its change log on refs/heads/changeguard/log) is at:"
          f"\n   {repo}\nTry: cd {repo} && {Path(sys.executable).parent / 'changeguard'} list "
          "&& git log changeguard/log")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
