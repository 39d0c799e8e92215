"""Benchmark the pre-commit hook's start-up (issue 6): `python bench/hook.py [--runs N]`.

Times whole processes, as git runs them: (1) the hook on 1 staged topology file (new
content each run, as a real commit has), (2) `check-jsonschema` on the same file, (3)
`python -c pass`, and (1) on 100 staged files; plus the hook on an unmapped file and on a
guarded file covered through the log. Prints JSON (wall and CPU medians; CPU counts the git
children), then a table. Target (issue 17): (1) <= 0.3 x (2).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SCHEMA = ROOT / "schemas" / "replication-topology.schema.json"
NOW = "2026-04-05T02:00:00+08:00"
TARGET = 0.3

CONFIG = """\
apiVersion: changeguard/v1
kind: GuardConfig
clock: simulated
guarded: ["db/**"]
schemas:
  - {paths: ["topo/**/*.topology.yaml"], schema: builtin:replication-topology}
reviewers:
  - {email: bo@example.org, name: Bo, roles: [dba]}
"""

TOPOLOGY = """\
apiVersion: changeguard/v1
kind: ReplicationTopology
name: {name}
engine: postgresql
nodes:
  - {{name: db1, role: primary, host: {name}-1, zone: a}}
  - {{name: db2, role: replica, host: {name}-2, zone: b, upstream: db1, sync: true}}
  - {{name: db3, role: replica, host: {name}-3, zone: c, upstream: db1}}
"""


def git(cwd: Path, *args: str, input: bytes | None = None,
        env: dict[str, str] | None = None) -> str:
    p = subprocess.run(["git", *args], cwd=cwd, input=input, env=env, capture_output=True,
                       check=True)
    return p.stdout.decode().strip()


def make_repo(base: Path, name: str, files: dict[str, str]) -> Path:
    """A committed config repo with `files` staged on top."""
    repo = base / name
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / ".changeguard.yaml").write_text(CONFIG)
    (repo / "README").write_text("bench\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "init")
    for path, text in files.items():
        p = repo / path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    git(repo, "add", ".")
    return repo


def write_covering_log(repo: Path, path: str) -> None:
    """One approved change covering the staged `path` (DESIGN.md tip-tree layout)."""
    blob = git(repo, "rev-parse", f":{path}")
    digest = "sha256:" + "0" * 64
    # coverage starts at the approval (SPEC §12): bo approved before the window
    state = {"id": "CHG-1", "state": "approved", "type": "normal", "risk": "low",
             "author": "ana@example.org", "paths": {path: blob}, "digest": digest,
             "approvals": [{"actor": "bo@example.org", "digest": digest, "stale": False,
                            "at": "2026-04-01T00:00:00Z", "roles": ["dba"]}],
             "window": {"start": "2026-04-05T01:00:00+08:00", "end": "2026-04-05T05:00:00+08:00"}}
    key = hashlib.sha1(path.encode()).hexdigest()
    shard = hashlib.sha1(b"CHG-1").hexdigest()[:2]
    entries = {f"changes/{shard}/CHG-1/state.json": json.dumps(state),
               f"paths/{key[:2]}/{key}/CHG-1": path}
    lines = "".join(f"100644 {git(repo, 'hash-object', '-w', '--stdin', input=t.encode())}\t{p}\n"
                    for p, t in entries.items())
    env = dict(os.environ, GIT_INDEX_FILE=str(repo / ".git" / "bench-log-index"))
    git(repo, "update-index", "--index-info", input=lines.encode(), env=env)
    tree = git(repo, "write-tree", env=env)
    tip = git(repo, "commit-tree", tree, "-m", "x")
    git(repo, "update-ref", "refs/heads/changeguard/log", tip)
    # SPEC §12: the hook believes only a verified tip; this hand-made one (no events) is
    # recorded as verified, the steady state of a clone whose log tip verified once
    sys.path.insert(0, str(ROOT))
    from changeguard.changelog.verified import remember, trusted_fingerprint
    from changeguard.config.trusted import find_trusted
    from changeguard.git import Git

    trusted = find_trusted(Git(repo), ".changeguard.yaml", judge=False)
    remember(repo / ".git", tip, trusted_fingerprint(trusted))


Case = tuple[list[str], Path, Callable[[], None] | None]


def new_content(repo: Path, path: str) -> Callable[[], None]:
    """Stage new bytes at `path` before each run (no verdict can be remembered)."""
    counter = itertools.count()

    def stage() -> None:
        (repo / path).write_text(TOPOLOGY.format(name=f"gw{next(counter)}"))
        git(repo, "add", path)
    return stage


def measure(cases: dict[str, Case], runs: int, pycache: Path) -> dict[str, dict[str, float]]:
    """Median and min wall time and median CPU time (ms) per case over `runs` rounds,
    after one warm-up round; `prepare` (untimed) runs before each run of its case.

    Rounds interleave the cases so that load from other processes hits them all alike.
    """
    # Installed packages run from byte-code; a PYTHONDONTWRITEBYTECODE shell would time the
    # compiler instead, so the warm-up run caches byte-code outside the checkout.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(CHANGEGUARD_NOW=NOW, PYTHONPYCACHEPREFIX=str(pycache))
    times: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    for i in range(runs + 1):
        for name, (cmd, cwd, prepare) in cases.items():
            if prepare is not None:
                prepare()
            with tempfile.TemporaryFile() as out:
                t0 = time.perf_counter()
                p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=out)
                # wait4: the rusage of the process and of the git children it waited for
                _, status, usage = os.wait4(p.pid, 0)
                dt = (time.perf_counter() - t0) * 1000
                p.returncode = code = os.waitstatus_to_exitcode(status)
                if code != 0:
                    out.seek(0)
                    raise SystemExit(f"{name}: {cmd} exited {code}: {out.read()!r}")
            if i:
                times[name].append(dt)
                cpu[name].append((usage.ru_utime + usage.ru_stime) * 1000)
    return {name: {"median_ms": round(statistics.median(t), 2), "min_ms": round(min(t), 2),
                   "cpu_median_ms": round(statistics.median(cpu[name]), 2), "runs": runs}
            for name, t in times.items()}


def main() -> int:
    """Run every case and print JSON plus a table."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=20)
    runs = max(20, ap.parse_args().runs)
    hook = [str(BIN / "changeguard-hook")]
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        one = make_repo(base, "one", {"topo/gw.topology.yaml": TOPOLOGY.format(name="gw")})
        many = make_repo(base, "many", {f"topo/c{i:03}/c.topology.yaml": TOPOLOGY.format(
            name=f"c{i:03}") for i in range(100)})
        plain = make_repo(base, "plain", {"docs/notes.md": "hello\n"})
        guarded = make_repo(base, "guarded", {"db/main.yaml": "v: 2\n"})
        write_covering_log(guarded, "db/main.yaml")
        path = "topo/gw.topology.yaml"
        stage = new_content(one, path)
        cases = measure({
            "hook_1_topology": (hook, one, stage),
            "check_jsonschema_1_topology": (
                [str(BIN / "check-jsonschema"), "--schemafile", str(SCHEMA), path], one, stage),
            "python_c_pass": ([sys.executable, "-c", "pass"], one, None),
            "hook_100_topologies": (hook, many, None),
            "hook_unmapped_file": (hook, plain, None),
            "hook_guarded_covered_file": (hook, guarded, None),
        }, runs, base / "pycache")
    hook1, cj = cases["hook_1_topology"], cases["check_jsonschema_1_topology"]
    ratio = hook1["median_ms"] / cj["median_ms"]
    report = {"cases": cases, "ratio_hook_vs_check_jsonschema": round(ratio, 3),
              "ratio_of_minimums": round(hook1["min_ms"] / cj["min_ms"], 3),
              "cpu_ratio": round(hook1["cpu_median_ms"] / cj["cpu_median_ms"], 3),
              "target_ratio": TARGET, "meets_target": ratio <= TARGET,
              "python": sys.version.split()[0], "load_average": os.getloadavg()[0]}
    print(json.dumps(report, indent=2))
    print(f"\n{'case':32} {'median ms':>10} {'min ms':>10} {'cpu ms':>10}")
    for name, c in cases.items():
        print(f"{name:32} {c['median_ms']:>10.1f} {c['min_ms']:>10.1f} "
              f"{c['cpu_median_ms']:>10.1f}")
    print(f"\nhook / check-jsonschema = {ratio:.2f} wall, {report['cpu_ratio']:.2f} CPU "
          f"(target <= {TARGET})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
