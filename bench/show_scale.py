"""`show` at scale (issue 17): the reviewer's view on a 10-change and a 10 000-change log.

Each log is built fast with bench/log_scale.py (real, verifiable submit events), then one real
change is submitted through the CLI on top: a topology on `main`, a plan with a failover and a
storage step, its proposed topology in the work tree. Timed, as separate processes: `show`
(text), `show --format json`, `show --diff`, `show --format markdown --diff` of that change,
and `show` of the log's oldest change (its event commits come from its record in the log,
changelog/eventcommits.py; with --legacy-log the log has none and show walks back to it).

The first `show` of a log verifies its tip (cached under .git/, SPEC §12) and is not timed.

    .venv/bin/python bench/show_scale.py [--sizes 10,10000] [--repeat 5] [--json-only]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import log_scale  # noqa: E402
from _util import report  # noqa: E402

CHANGE = "CHG-VIEW-1"
TOPOLOGY = """\
apiVersion: changeguard/v1
kind: ReplicationTopology
name: apac-gateway
engine: mysql
nodes:
  - {name: db1, role: primary, host: db1.apac.example, zone: a, server_id: 1}
  - {name: db2, role: replica, host: db2.apac.example, zone: b, server_id: 2, upstream: db1,
     params: {read_only: "ON"}}
"""
TOPO_PATH = "db/apac-gateway.topology.yaml"
PLAN = {
    "apiVersion": "changeguard/v1", "kind": "ChangePlan", "id": CHANGE,
    "title": "Move db1 to a new volume", "author": log_scale.AUTHOR, "type": "normal",
    "risk": "medium", "services": ["bench-view"], "environment": "production",
    "window": {"start": "2031-01-05T01:00:00+00:00", "end": "2031-01-05T05:00:00+00:00"},
    "changes": [{"path": TOPO_PATH, "summary": "db2 to zone c"}],
    "steps": [{"id": "s1", "action": "fail over to db2", "kind": "failover",
               "targets": ["db2"], "minutes": 5},
              {"id": "s2", "action": "migrate db1 volume", "kind": "storage",
               "targets": ["db1"], "minutes": 90}],
    "verification": [{"check": "lag < 5s"}],
    "rollback": {"trigger": "lag > 60s", "steps": [{"action": "fail back", "minutes": 10}],
                 "max_minutes": 30},
}


def _env(email: str = log_scale.AUTHOR) -> dict[str, str]:
    return dict(os.environ, GIT_AUTHOR_EMAIL=email, GIT_AUTHOR_NAME="Ana",
                GIT_COMMITTER_EMAIL=email, GIT_COMMITTER_NAME="Ana", PYTHONPATH=str(ROOT))


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, env=_env(), check=True, capture_output=True)


def _cli(repo: Path, *args: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and its git children)."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "changeguard", *args], cwd=repo, env=_env(),
                       capture_output=True, text=True)
    dt = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise SystemExit(f"changeguard {' '.join(args)} failed: {p.stderr}")
    # CPU time is the stable number on a shared, loaded machine; wall time is reported too
    return dt, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def build(repo: Path, n: int, records: bool = True) -> None:
    """A log of `n` changes plus CHANGE, submitted through the CLI with a real topology;
    `records=False`: a log as writers before the record of event commits left it."""
    log_scale.CONFIG["schemas"] = [{"paths": ["db/**/*.topology.yaml"],
                                    "schema": "builtin:replication-topology"}]
    log_scale.build(repo, n, records=records)
    (repo / "db").mkdir(exist_ok=True)
    (repo / TOPO_PATH).write_text(TOPOLOGY)
    _git(repo, "add", TOPO_PATH)
    _git(repo, "commit", "-q", "-m", "topology")
    (repo / TOPO_PATH).write_text(TOPOLOGY.replace("zone: b", "zone: c"))
    _git(repo, "hash-object", "-w", TOPO_PATH)  # as submit stores it (SPEC §13)
    (repo / "changes").mkdir(exist_ok=True)
    (repo / "changes" / f"{CHANGE}.yaml").write_text(yaml.safe_dump(PLAN, sort_keys=False))
    _cli(repo, "submit", f"changes/{CHANGE}.yaml", "--now", log_scale.NOW)


CASES: dict[str, tuple[str, ...]] = {
    "show": ("show", CHANGE),
    "show_json": ("show", CHANGE, "--format", "json"),
    "show_diff": ("show", CHANGE, "--diff"),
    "show_markdown_diff": ("show", CHANGE, "--format", "markdown", "--diff"),
    "show_oldest": ("show", "CHG-B-00000"),
}


def measure(n: int, repeat: int, records: bool = True) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as d:
        repo = Path(d) / "repo"
        t = time.perf_counter()
        build(repo, n, records)
        out: dict[str, float] = {"changes": n, "build_s": time.perf_counter() - t}
        t = time.perf_counter()
        _cli(repo, "show", CHANGE, "--now", log_scale.NOW)  # verifies the tip once (cached)
        out["first_show_s"] = time.perf_counter() - t
        for name, args in CASES.items():
            runs = [_cli(repo, *args, "--now", log_scale.NOW) for _ in range(repeat)]
            out[f"{name}_s"] = statistics.median(w for w, _ in runs)
            out[f"{name}_cpu_s"] = statistics.median(c for _, c in runs)
        return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10,10000")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json-only", action="store_true")
    ap.add_argument("--legacy-log", action="store_true",
                    help="logs without records of event commits (show walks back instead)")
    args = ap.parse_args()
    rows = [measure(int(s), args.repeat, not args.legacy_log) for s in args.sizes.split(",")]
    for r in rows:
        for name in CASES:
            for unit in ("s", "cpu_s"):
                r[f"{name}_{unit}_vs_smallest"] = r[f"{name}_{unit}"] / rows[0][f"{name}_{unit}"]
    table = [("case", *(f"{r['changes']:.0f} changes: wall s (cpu s)" for r in rows),
              "x smallest: wall (cpu)")]
    for name in CASES:
        last = rows[-1]
        table.append((name, *(f"{r[f'{name}_s']:.3f} ({r[f'{name}_cpu_s']:.3f})" for r in rows),
                      f"{last[f'{name}_s_vs_smallest']:.2f} "
                      f"({last[f'{name}_cpu_s_vs_smallest']:.2f})"))
    if args.json_only:
        import json

        print(json.dumps({"benchmark": "show_scale", "rows": rows}, indent=2))
        return 0
    report("show_scale", {"rows": rows, "target": "< 0.3 s at 10k, within 1.2x of 10"}, table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
