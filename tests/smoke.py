"""The CLI smoke battery: usage errors and everyday commands, as a new user meets them.

Runs a given `changeguard` executable (a venv holding only the runtime dependencies) in a
throw-away git repository. Used by tests/test_wheel.py and by .ci/run for the lower-bound
and newest-version venvs. Stdlib only, so any Python can run it:

    python tests/smoke.py /path/to/venv/bin/changeguard
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

# (arguments, expected exit code, words stderr must contain)
USAGE_ERRORS: list[tuple[list[str], int, tuple[str, ...]]] = [
    (["valdate"], 2, ("error:", "validate")),
    (["reject", "CHG-1", "--revision", "1"], 2, ("error:", "--reason")),
    (["windows", "--days", "abc"], 2, ("error:", "--days")),
    (["log"], 2, ("error:", "verify")),
    (["policy"], 2, ("error:", "test")),
    ([], 2, ("error:", "validate")),
    (["validate"], 2, ("error:", "PLAN")),
    (["validate", "--formt", "json", "x.yaml"], 2, ("error:", "--format")),
    (["check", "--stagd"], 2, ("error:", "--staged")),
    (["log", "verfy"], 2, ("error:", "verify")),
    (["explain", "rollback-requird"], 2, ("error:", "rollback-required")),
    (["validate", "missing.yaml"], 2, ("error:", "missing.yaml")),
]
HELP_PAGES = [["--help"], ["validate", "--help"], ["check", "--help"], ["log", "verify", "--help"],
              ["approve", "--help"], ["new", "--help"], ["windows", "--help"]]
INTERNAL_TYPE_NAMES = ("<bool>", "<str>", "<int>", "<path>", "list[", "{plans}", "<list")

CONFIG = """\
apiVersion: changeguard/v1
kind: GuardConfig
timezone: Asia/Singapore
clock: simulated  # the tests pass --now (SPEC §12 "Time")
guarded: ["db/**"]
plans: "changes/*.yaml"
policies: [builtin:default]
windows:
  - {name: sunday, days: [sun], start: "01:00", end: "06:00"}
reviewers:
  - {email: ana@example.org, name: Ana, roles: [engineer]}
  - {email: dev@example.org, name: Dev, roles: [dba]}
"""
PLAN = """\
apiVersion: changeguard/v1
kind: ChangePlan
id: CHG-2016-0403-storage
title: Move db2 to a new volume
author: ana@example.org
type: normal
risk: medium
services: [alma-api-gateway]
environment: production
window: {start: "2016-04-03T01:00:00+08:00", end: "2016-04-03T05:00:00+08:00"}
changes: []
steps:
  - {id: s1, action: migrate db2 volume, kind: storage, targets: [db2], minutes: 90}
verification:
  - {check: lag below 5s, command: check-lag, expect: exit 0}
rollback:
  trigger: lag over 60s
  max_minutes: 30
  tested: true
  evidence: staging run
  steps: [{action: re-attach old volume, kind: storage, targets: [db2], minutes: 20}]
"""
NOW = "2016-03-27T10:00:00+08:00"


@dataclass
class Run:
    args: list[str]
    code: int
    out: str
    err: str


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_", "PYTHON", "CHANGEGUARD_"))}
    env.update(HOME=str(home), GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1",
               GIT_AUTHOR_NAME="Ana", GIT_AUTHOR_EMAIL="ana@example.org",
               GIT_COMMITTER_NAME="Ana", GIT_COMMITTER_EMAIL="ana@example.org", NO_COLOR="1",
               COLUMNS="100")
    return env


def _run(exe: str, args: list[str], cwd: Path, env: dict[str, str]) -> Run:
    p = subprocess.run([exe, *args], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=120, stdin=subprocess.DEVNULL)
    return Run(args, p.returncode, p.stdout, p.stderr)


def _problems_of_usage(r: Run, code: int, words: tuple[str, ...]) -> list[str]:
    out = []
    if r.code != code:
        out.append(f"exit {r.code}, expected {code}")
    if "Traceback" in r.out + r.err or "internal error" in r.err:
        out.append("traceback")
    lines = [ln for ln in r.err.splitlines() if ln.startswith("error:")]
    if len(lines) != 1:
        out.append(f"{len(lines)} 'error:' lines")
    if "hint:" not in r.err:
        out.append("no hint")
    out += [f"stderr lacks {w!r}" for w in words if w.lower() not in r.err.lower()]
    return out


def battery(exe: str) -> list[str]:
    """Every problem found, as `ARGS: what is wrong`; empty when all is well."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "home").mkdir()
        env = _env(root / "home")
        repo = root / "repo"
        repo.mkdir()
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, env=env, check=True)

        def check(r: Run, bad: list[str]) -> None:
            problems.extend(f"changeguard {' '.join(r.args)}: {b}\n{r.err}" for b in bad)

        for args, code, words in USAGE_ERRORS:
            r = _run(exe, args, repo, env)
            check(r, _problems_of_usage(r, code, words))
        for args in HELP_PAGES:
            r = _run(exe, args, repo, env)
            bad = [f"exit {r.code}"] if r.code != 0 else []
            bad += [f"help shows {t!r}" for t in INTERNAL_TYPE_NAMES if t in r.out]
            check(r, bad)
        r = _run(exe, ["--version"], repo, env)
        check(r, [] if r.code == 0 and r.out.startswith("changeguard ") else ["no version"])
        check(*_everyday(exe, repo, env))
    return problems


def _everyday(exe: str, repo: Path, env: dict[str, str]) -> tuple[Run, list[str]]:
    """init, rules, explain, windows, validate, check --all: each exit 0, JSON where asked."""
    (repo / ".changeguard.yaml").write_text(CONFIG)
    (repo / "changes").mkdir()
    (repo / "changes" / "p.yaml").write_text(PLAN)
    subprocess.run(["git", "add", "-A"], cwd=repo, env=env, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "config"], cwd=repo, env=env, check=True)
    dev = {**env, "GIT_AUTHOR_EMAIL": "dev@example.org", "GIT_COMMITTER_EMAIL": "dev@example.org"}
    cid = "CHG-2016-0403-storage"
    for args, e in ((["rules"], env), (["explain", "rollback-required"], env),
                    (["windows", "--now", NOW], env), (["windows", "--ics", "--now", NOW], env),
                    (["calendar", "-o", "cal.html", "--now", NOW], env),
                    (["validate", "changes/p.yaml", "--now", NOW, "-o", "report.txt"], env),
                    (["check", "--all"], env),
                    (["new", "--id", "CHG-2026-0001", "-o", "changes/n.yaml"], env),
                    (["submit", "changes/p.yaml", "--now", NOW], env),
                    (["approve", cid, "--revision", "1", "--now", NOW, "--comment", "lgtm"], dev),
                    (["list", "--format", "json"], env), (["log", "verify"], env)):
        r = _run(exe, args, repo, e)
        if r.code != 0 or "Traceback" in r.err:
            return r, [f"exit {r.code}"]
    r = _run(exe, ["show", cid, "--format", "json"], repo, env)
    if r.code != 0 or json.loads(r.out)["state"] != "approved":
        return r, [f"exit {r.code}, show not approved"]
    r = _run(exe, ["validate", "changes/p.yaml", "--now", NOW, "--format", "json"], repo, env)
    if r.code != 0:
        return r, [f"exit {r.code}"]
    return r, [] if json.loads(r.out)["ok"] is True else ["validate not ok"]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: smoke.py PATH/TO/changeguard", file=sys.stderr)
        return 2
    problems = battery(argv[0])
    for p in problems:
        print(f"FAIL {p}", file=sys.stderr)
    print(f"smoke: {len(problems)} problem(s) with {argv[0]}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
