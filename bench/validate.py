"""Wall time of `changeguard validate` on one plan vs `python -c pass`, and import time.

Usage: .venv/bin/python bench/validate.py [--runs 15] [--baseline DIR]

`--baseline DIR`: also time the `changeguard` package of another checkout DIR (put first on
PYTHONPATH), alternating run by run with this tree's, and report both in wall and CPU time
(CPU is the stable number on a shared machine; issue 17).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import report, time_runs

ROOT = Path(__file__).resolve().parent.parent
NOW = "2016-03-30T10:00:00+08:00"


def _repo(tmp: Path) -> Path:
    repo = tmp / "repo"
    shutil.copytree(ROOT / "examples" / "incident-2016", repo)
    env = dict(os.environ, GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@example.org",
               GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@example.org")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "init"]):
        subprocess.run(["git", *args], cwd=repo, check=True, env=env)
    return repo


def _import_ms(repo: Path, cmd: list[str], env: dict[str, str]) -> float:
    p = subprocess.run([sys.executable, "-X", "importtime", *cmd], cwd=repo, env=env,
                       capture_output=True, text=True)
    total = 0
    for line in p.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)$", line)
        if m and not m.group(2).startswith(" "):
            total += int(m.group(1))
    return total / 1000


def _one(cmd: list[str], repo: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall s, CPU s of the child) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=repo, env=env, capture_output=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode not in (0, 1):
        raise SystemExit(f"{cmd!r} exited {p.returncode}: {p.stderr.decode()[-2000:]}")
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def _alternate(cmd: list[str], repo: Path, envs: dict[str, dict[str, str]], runs: int
               ) -> dict[str, dict[str, float]]:
    """Each tree's median/min wall and CPU ms, the trees' runs interleaved."""
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in envs}
    for env in envs.values():
        _one(cmd, repo, env)  # warm this tree's bytecode cache
    for _ in range(runs):
        for name, env in envs.items():
            samples[name].append(_one(cmd, repo, env))
    out: dict[str, dict[str, float]] = {}
    for name, got in samples.items():
        wall, cpu = [w for w, _ in got], [c for _, c in got]
        out[name] = {"wall_median_ms": statistics.median(wall) * 1000,
                     "wall_min_ms": min(wall) * 1000,
                     "cpu_median_ms": statistics.median(cpu) * 1000,
                     "cpu_min_ms": min(cpu) * 1000, "runs": runs}
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--baseline", type=Path, default=None,
                    help="another checkout whose changeguard to time alternately with this one")
    args = ap.parse_args()
    runs = args.runs
    if args.baseline is not None:
        return _compare(args.baseline.resolve(), runs)
    with tempfile.TemporaryDirectory() as t:
        repo = _repo(Path(t))
        plan = "changes/CHG-2016-0403-storage-v2.yaml"
        cmd = [sys.executable, "-m", "changeguard", "validate", plan, "--now", NOW]
        # Time what users get: cached bytecode (this shell may set PYTHONDONTWRITEBYTECODE).
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(Path(t) / "pycache")
        time_runs(cmd, repo, 2, env)  # warm the bytecode cache
        validate = time_runs(cmd, repo, runs, env)
        bare = time_runs([sys.executable, "-c", "pass"], repo, runs, env)
        imports = _import_ms(repo, cmd[1:], env)
    target = 0.250
    res = {"validate": validate, "python_c_pass": bare, "import_ms_validate_path": imports,
           "target_s": target, "meets_target": validate["median_s"] <= target}
    rows = [("what", "median ms", "min ms"),
            ("changeguard validate (1 plan)", f"{validate['median_s'] * 1000:.0f}",
             f"{validate['min_s'] * 1000:.0f}"),
            ("python -c pass", f"{bare['median_s'] * 1000:.0f}", f"{bare['min_s'] * 1000:.0f}"),
            ("imports on the validate path", f"{imports:.0f}", "")]
    report("validate", res, rows)
    return 0


def _compare(baseline: Path, runs: int) -> int:
    """This tree against `baseline`, run by run in one loop (same load for both)."""
    if not (baseline / "changeguard" / "__init__.py").is_file():
        raise SystemExit(f"{baseline}: no changeguard package there")
    with tempfile.TemporaryDirectory() as t:
        repo = _repo(Path(t))
        cmd = [sys.executable, "-m", "changeguard", "validate",
               "changes/CHG-2016-0403-storage-v2.yaml", "--now", NOW]
        env = {k: v for k, v in os.environ.items()
               if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}
        # both trees named on PYTHONPATH: an editable install may point at a third checkout
        envs = {"this tree": {**env, "PYTHONPYCACHEPREFIX": str(Path(t) / "pyc-this"),
                              "PYTHONPATH": str(ROOT)},
                "baseline": {**env, "PYTHONPYCACHEPREFIX": str(Path(t) / "pyc-base"),
                             "PYTHONPATH": str(baseline)}}
        got = _alternate(cmd, repo, envs, runs)
    res = {"runs": runs, "baseline": str(baseline), **got}
    rows = [("tree", "wall median ms", "wall min ms", "CPU median ms", "CPU min ms")]
    rows += [(name, f"{r['wall_median_ms']:.0f}", f"{r['wall_min_ms']:.0f}",
              f"{r['cpu_median_ms']:.0f}", f"{r['cpu_min_ms']:.0f}") for name, r in got.items()]
    report("validate (interleaved with a baseline)", res, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
