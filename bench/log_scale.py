"""Change-log scale benchmark (issue 5): one `approve` at 10 / 1 000 / 10 000 changes, and
`list --format json`, `log verify` and `log verify --from-scratch` (wall, CPU, peak RSS) at
the sizes from 1 000 on.

The big logs are built with `git fast-import` (not 10k CLI calls), but every event in them is a
real, verifiable submit: its state comes from the product's own state machine and its digest
from the product's digest function, so `log verify` replays a genuine history.

    .venv/bin/python bench/log_scale.py [--sizes 10,1000,10000] [--repeat 3] [--json-only]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from changeguard.changelog.events import (  # noqa: E402
    CLOCK_TRAILER,
    SIMULATED,
    change_dir,
    format_message,
    index_entries,
    list_shard,
)
from changeguard.changelog.state import (  # noqa: E402
    Event,
    World,
    apply,
    dump_json,
    dump_state,
    list_row,
)
from changeguard.model import ChangePlan  # noqa: E402
from changeguard.plan import compute_digest  # noqa: E402
from changeguard.plan.digest import blob_id  # noqa: E402

AUTHOR = "ana@example.org"
APPROVER = "dev@example.org"
SERVICES = 50  # changes share 50 services, so conflict candidates grow with the log
CONFIG = {
    "apiVersion": "changeguard/v1", "kind": "GuardConfig", "timezone": "UTC",
    "clock": "simulated",  # the bench approves with --now (SPEC §12 "Time")
    "policies": ["builtin:default"],
    "reviewers": [{"email": AUTHOR, "roles": ["engineer"]},
                  {"email": APPROVER, "roles": ["dba"]},
                  {"email": "ravi@example.org", "roles": ["dba", "cab"]}],
}
T0 = datetime(2030, 1, 6, 1, 0, tzinfo=UTC)
NOW = "2029-12-01T00:00:00+00:00"


def _plan(i: int) -> dict[str, object]:
    start = T0 + timedelta(hours=6 * i)
    return {
        "apiVersion": "changeguard/v1", "kind": "ChangePlan", "id": f"CHG-B-{i:05d}",
        "title": f"bench change {i}", "author": AUTHOR, "type": "normal", "risk": "medium",
        "services": [f"svc-{i % SERVICES}"], "environment": "production",
        "window": {"start": start.isoformat(), "end": (start + timedelta(hours=4)).isoformat()},
        "changes": [{"path": f"db/cluster-{i}.yaml"}],
        "steps": [{"action": "edit", "kind": "config", "minutes": 5}],
        "verification": [{"check": "ok"}],
        "rollback": {"trigger": "bad", "steps": [{"action": "revert", "minutes": 5}],
                     "max_minutes": 10},
    }


def _submit_event(i: int) -> tuple[Event, bytes]:
    data = _plan(i)
    raw = yaml.dump(data, Dumper=yaml.CSafeDumper, sort_keys=False).encode()
    plan = ChangePlan.model_validate(data)  # timestamps stay strings, as the plan loader keeps them
    blobs: dict[str, str | None] = {p: None for p in plan.paths}
    summary = {
        "title": plan.title, "author": plan.author, "type": str(plan.type),
        "risk": str(plan.risk), "services": list(plan.services),
        "environment": plan.environment,
        "window": {"start": plan.window.start.isoformat(), "end": plan.window.end.isoformat()},
        "paths": blobs, "waivers": [], "plan_blob": blob_id(raw),
        "requirements": [{"rule": "approvals-normal", "min": 1, "roles": [],
                          # as builtin:default says: log verify re-derives it (SPEC §12)
                          "description": "Normal and standard low/medium-risk changes need "
                                         "one approval"}],
    }
    ev = Event("submit", plan.id, AUTHOR, NOW, compute_digest(plan, blobs),
               plan=summary)  # type: ignore[arg-type]
    return ev, raw


def _data(payload: bytes) -> bytes:
    return b"data %d\n" % len(payload) + payload + b"\n"


def build(repo: Path, n: int, records: bool = False) -> float:
    """A config repo whose log holds `n` submitted changes; returns seconds taken.

    `records`: also write each change's record of event commits as today's writer does
    (changes/<xx>/<ID>/commits, changelog/eventcommits.py; each commit appends its parent),
    asking fast-import for every commit's sha; without it the log is as older writers left
    it (and older code still verifies it)."""
    t = time.perf_counter()
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / ".changeguard.yaml").write_text(yaml.safe_dump(CONFIG))
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "init"], cwd=repo, check=True)
    world = World({r["email"]: tuple(r["roles"]) for r in CONFIG["reviewers"]})  # type: ignore
    chunks: list[bytes] = []
    shards: dict[str, dict[str, object]] = {}
    tips: list[str] = []
    fi = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=repo, stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE) if records else None
    # commit dates in the past, a second apart, so the CLI's own commits on top come later,
    # as in a real log (git's history walks stop early only when dates are in order)
    first = int(time.time()) - n - 3600
    for i in range(n):
        ev, raw = _submit_event(i)
        st = apply(ev, None, world)
        ts = first + i
        chunks.append(b"commit refs/heads/changeguard/log\n")
        if records:
            chunks.append(f"mark :{i + 1}\n".encode())
        chunks.append(f"author Ana <{AUTHOR}> {ts} +0000\n".encode())
        chunks.append(f"committer Ana <{AUTHOR}> {ts} +0000\n".encode())
        # as the CLI writes it under `clock: simulated` (a 2029 event time, today's commit)
        chunks.append(_data(format_message(ev, {CLOCK_TRAILER: SIMULATED}).encode()))
        base = change_dir(ev.change)
        files = {f"{base}/plan.yaml": raw, f"{base}/state.json": dump_state(st)}
        files.update({p: text.encode() for p, text in index_entries(st).items()})
        shard = shards.setdefault(list_shard(ev.change), {})
        shard[ev.change] = list_row(st)
        files[list_shard(ev.change)] = dump_json(shard)
        if records and i:
            prev = change_dir(f"CHG-B-{i - 1:05d}") + "/commits"
            files[prev] = dump_json([tips[-1]])  # each change has one event: its submit
        for path, payload in files.items():
            chunks.append(f"M 100644 inline {path}\n".encode() + _data(payload))
        if fi is not None:
            tips.append(_marked(fi, chunks, i + 1))
            chunks.clear()
    if fi is not None:
        assert fi.stdin is not None
        fi.stdin.close()
        if fi.stdout is not None:
            fi.stdout.close()
        if fi.wait() != 0:
            raise SystemExit("git fast-import failed")
        return time.perf_counter() - t
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, input=b"".join(chunks),
                   check=True)
    return time.perf_counter() - t


def _marked(fi: subprocess.Popen[bytes], chunks: list[bytes], mark: int) -> str:
    """Send one commit to fast-import and read back its sha (`get-mark`)."""
    assert fi.stdin is not None and fi.stdout is not None
    fi.stdin.write(b"".join(chunks) + f"\nget-mark :{mark}\n".encode())
    fi.stdin.flush()
    return fi.stdout.readline().decode().strip()


def _cli(repo: Path, *args: str, email: str = APPROVER) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and its git children)."""
    wall, cpu, _ = _cli_rss(repo, *args, email=email)
    return wall, cpu


_PYCACHE: list[str] = []  # one byte-code dir per bench run, removed at exit


def _pycache() -> str:
    if not _PYCACHE:
        import atexit
        import shutil

        _PYCACHE.append(tempfile.mkdtemp(prefix="cg-bench-pycache-"))
        atexit.register(shutil.rmtree, _PYCACHE[0], True)
    return _PYCACHE[0]


def _cli_rss(repo: Path, *args: str, email: str = APPROVER) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds of the process and its children, its peak RSS in MB)."""
    # byte-code cached outside the checkout: a PYTHONDONTWRITEBYTECODE shell would time the
    # compiler on every run
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(GIT_AUTHOR_EMAIL=email, GIT_AUTHOR_NAME="Dev", GIT_COMMITTER_EMAIL=email,
               GIT_COMMITTER_NAME="Dev", PYTHONPATH=str(ROOT), PYTHONPYCACHEPREFIX=_pycache())
    t = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-m", "changeguard", *args], cwd=repo, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert p.stderr is not None
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t
    p.stderr.close()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit(f"changeguard {' '.join(args)} failed: {err.decode()}")
    # CPU time is the stable number on a shared, loaded machine; wall time is reported too.
    # wait4's usage covers the process and the children it waited for (git, pool workers).
    return dt, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024


def _median(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)


def measure(n: int, repeat: int, full: bool) -> dict[str, float]:
    """Build a log of `n` changes and time approve (and list/verify when `full`)."""
    with tempfile.TemporaryDirectory() as d:
        repo = Path(d) / "repo"
        out = {"changes": n, "build_s": build(repo, n)}
        _cli(repo, "list", "--format", "json")  # warm the OS cache and .pyc files
        out["approve_s"], out["approve_cpu_s"] = _median(
            [_cli(repo, "approve", f"CHG-B-{n - 1 - k:05d}", "--revision", "1", "--now", NOW)
             for k in range(repeat)])
        if full:
            out["list_json_s"], out["list_json_cpu_s"] = _median(
                [_cli(repo, "list", "--format", "json") for _ in range(repeat)])
            out["verify_s"], out["verify_cpu_s"] = _cli(repo, "log", "verify")
            runs = [_cli_rss(repo, "log", "verify", "--from-scratch") for _ in range(repeat)]
            out["verify_from_scratch_s"], out["verify_from_scratch_cpu_s"] = _median(
                [(w, c) for w, c, _ in runs])
            out["verify_from_scratch_rss_mb"] = max(m for _, _, m in runs)
        return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10,1000,10000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json-only", action="store_true")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = [measure(n, args.repeat, full=n >= 1000) for n in sizes]
    for key in ("approve_s", "approve_cpu_s"):
        for r in rows:
            r[key.replace("_s", "_vs_smallest")] = r[key] / rows[0][key]
    print(json.dumps(rows, indent=2))
    if not args.json_only:
        print(_table(rows))
    return 0


def _table(rows: list[dict[str, float]]) -> str:
    nan = float("nan")
    lines = [f"\n{'changes':>8} {'approve s (cpu)':>16} {'x smallest':>11} "
             f"{'list s (cpu)':>14} {'verify s (cpu)':>16} {'scratch s (cpu)':>16} "
             f"{'MB':>5} {'build s':>8}"]
    for r in rows:
        lines.append(
            f"{r['changes']:>8.0f} {r['approve_s']:>7.3f} ({r['approve_cpu_s']:.3f}) "
            f"{r['approve_vs_smallest']:>5.2f} ({r['approve_cpu_vs_smallest']:.2f}) "
            f"{r.get('list_json_s', nan):>6.3f} ({r.get('list_json_cpu_s', nan):.3f}) "
            f"{r.get('verify_s', nan):>7.3f} ({r.get('verify_cpu_s', nan):.3f}) "
            f"{r.get('verify_from_scratch_s', nan):>7.3f} "
            f"({r.get('verify_from_scratch_cpu_s', nan):.3f}) "
            f"{r.get('verify_from_scratch_rss_mb', nan):>5.0f} {r['build_s']:>8.2f}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
