"""Before/after latency of the pre-commit hook: `python bench/hook_ab.py --before PYTHON`.

Runs this checkout's `changeguard-hook` and another installation's (e.g. a venv of the
previous release) side by side, interleaved round by round so machine load hits both alike,
on the cases of bench/hook.py that need no clock: 1 staged topology file, 100 of them, and an
unmapped file. Prints JSON, then a table with the after/before ratio (issue 14's budget for
the 1-file case: <= 1.2).
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hook import TOPOLOGY, make_repo  # bench/ is a folder of scripts, not a package

BUDGET = 1.2


def _time(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True)
    dt = (time.perf_counter() - t0) * 1000
    if p.returncode != 0:
        raise SystemExit(f"{cmd} exited {p.returncode}: {p.stdout!r} {p.stderr!r}")
    return dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--before", required=True, help="python of the other installation")
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    hooks = {"before": str(Path(args.before).parent / "changeguard-hook"),
             "after": str(Path(sys.executable).parent / "changeguard-hook")}
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONDONTWRITEBYTECODE", "CHANGEGUARD_NOW")}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        env["PYTHONPYCACHEPREFIX"] = str(base / "pycache")
        repos = {
            "hook_1_topology": make_repo(base, "one", {
                "topo/gw.topology.yaml": TOPOLOGY.format(name="gw")}),
            "hook_100_topologies": make_repo(base, "many", {
                f"topo/c{i:03}/c.topology.yaml": TOPOLOGY.format(name=f"c{i:03}")
                for i in range(100)}),
            "hook_unmapped_file": make_repo(base, "plain", {"docs/notes.md": "hello\n"}),
        }
        times: dict[str, dict[str, list[float]]] = {
            case: {side: [] for side in hooks} for case in repos}
        for i in range(args.runs + 1):
            for case, repo in repos.items():
                for side, hook in hooks.items():
                    dt = _time([hook], repo, env)
                    if i:  # round 0 warms the byte-code caches
                        times[case][side].append(dt)
    result = {case: {side: round(statistics.median(t), 2) for side, t in sides.items()}
              for case, sides in times.items()}
    for r in result.values():
        r["ratio"] = round(r["after"] / r["before"], 3)
    print(json.dumps({"runs": args.runs, "median_ms": result}, indent=2))
    print(f"\n{'case':<22} {'before ms':>10} {'after ms':>10} {'ratio':>7}")
    for case, r in result.items():
        print(f"{case:<22} {r['before']:>10} {r['after']:>10} {r['ratio']:>7}")
    ok = result["hook_1_topology"]["ratio"] <= BUDGET
    print(f"\n1-file hook after/before = {result['hook_1_topology']['ratio']} "
          f"(budget {BUDGET}): {'OK' if ok else 'OVER'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
