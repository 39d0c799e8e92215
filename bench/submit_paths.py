"""`submit` of a plan listing many paths (issue 17: ≤ 2 s at 5 000 paths, batched writes).

    .venv/bin/python bench/submit_paths.py [--paths 5000] [--repeat 3] [--root CHECKOUT]

A config repo with N committed files under a guarded directory; each run proposes new content
for every one of them and times the CLI `submit` as a real process (wall and CPU, the git
children included): `first` on an empty log (every `paths/` index entry and every proposed
blob is new), `revision` as the next revision of the same change (every proposed blob new,
the index unchanged). `--root` runs another checkout's package (e.g. /work/main) on the same
machine, for a before/after comparison side by side.
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
sys.path.insert(0, str(ROOT / "bench"))

from _util import report  # noqa: E402

AUTHOR = "ana@example.org"
NOW = "2029-12-01T00:00:00+00:00"
REF = "refs/heads/changeguard/log"
CONFIG = {
    "apiVersion": "changeguard/v1", "kind": "GuardConfig", "timezone": "UTC",
    "clock": "simulated",  # the bench submits with --now (SPEC §12 "Time")
    "guarded": ["conf/**"], "plans": "changes/*.yaml", "policies": ["builtin:default"],
    "reviewers": [{"email": AUTHOR, "roles": ["engineer"]},
                  {"email": "dev@example.org", "roles": ["dba"]}],
}


def _plan(n: int) -> dict[str, object]:
    return {
        "apiVersion": "changeguard/v1", "kind": "ChangePlan", "id": "CHG-2030-0106-bulk",
        "title": f"bulk change of {n} files", "author": AUTHOR, "type": "normal",
        "risk": "medium", "services": ["svc-bulk"], "environment": "production",
        "window": {"start": "2030-01-06T01:00:00+00:00", "end": "2030-01-06T05:00:00+00:00"},
        "changes": [{"path": _path(i)} for i in range(n)],
        "steps": [{"action": "edit", "kind": "config", "minutes": 5}],
        "verification": [{"check": "ok"}],
        "rollback": {"trigger": "bad", "steps": [{"action": "revert", "minutes": 5}],
                     "max_minutes": 10, "tested": True, "evidence": "staging"},
    }


def _path(i: int) -> str:
    return f"conf/d{i % 50:02d}/file-{i:05d}.cfg"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def build(repo: Path, n: int) -> None:
    """The config repo: config, plan and N committed files (content 0)."""
    _git(repo.parent, "init", "-q", "-b", "main", str(repo))
    (repo / ".changeguard.yaml").write_text(yaml.safe_dump(CONFIG))
    (repo / "changes").mkdir()
    (repo / "changes" / "bulk.yaml").write_text(yaml.safe_dump(_plan(n), sort_keys=False))
    _propose(repo, n, 0)
    _git(repo, "add", "-A")
    _git(repo, "-c", f"user.email={AUTHOR}", "-c", "user.name=Ana", "commit", "-q", "-m", "init")


def _propose(repo: Path, n: int, version: int) -> None:
    for i in range(n):
        p = repo / _path(i)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"setting = {version}\nfile = {i}\n")


def _submit(repo: Path, checkout: Path) -> tuple[float, float]:
    """(wall s, CPU s of the process and its git children) of one CLI submit."""
    env = dict(os.environ, GIT_AUTHOR_EMAIL=AUTHOR, GIT_AUTHOR_NAME="Ana",
               GIT_COMMITTER_EMAIL=AUTHOR, GIT_COMMITTER_NAME="Ana", PYTHONPATH=str(checkout))
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "changeguard", "submit", "changes/bulk.yaml",
                        "--now", NOW], cwd=repo, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0 or "submitted revision" not in p.stdout:
        raise SystemExit(f"submit failed ({p.returncode}): {p.stdout[-500:]}{p.stderr[-2000:]}")
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def measure(n: int, repeat: int, checkout: Path) -> dict[str, float]:
    """Median first-submit and next-revision figures at `n` paths."""
    first: list[tuple[float, float]] = []
    revision: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as d:
        repo = Path(d) / "repo"
        build(repo, n)
        for k in range(repeat):
            subprocess.run(["git", "update-ref", "-d", REF], cwd=repo, check=False)
            _propose(repo, n, 2 * k + 1)
            first.append(_submit(repo, checkout))
            _propose(repo, n, 2 * k + 2)
            revision.append(_submit(repo, checkout))
        verify = subprocess.run([sys.executable, "-m", "changeguard", "log", "verify"], cwd=repo,
                                env=dict(os.environ, PYTHONPATH=str(checkout)),
                                capture_output=True, text=True)
    return {"paths": n, "log_verify_ok": verify.returncode == 0,
            "first_s": statistics.median(w for w, _ in first),
            "first_cpu_s": statistics.median(c for _, c in first),
            "revision_s": statistics.median(w for w, _ in revision),
            "revision_cpu_s": statistics.median(c for _, c in revision),
            "runs": repeat}


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--paths", default="5000", help="comma-separated path counts")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--root", type=Path, action="append",
                    help="checkout whose package to run (repeatable; default: this one)")
    args = ap.parse_args()
    roots = [r.resolve() for r in args.root] if args.root else [ROOT]
    results = [dict(checkout=str(root), **measure(int(n), args.repeat, root))
               for root in roots for n in args.paths.split(",")]
    rows = [("checkout", "paths", "first s (cpu)", "revision s (cpu)", "log verify", "target")]
    rows += [(str(r["checkout"]), f"{r['paths']:.0f}",
              f"{r['first_s']:.3f} ({r['first_cpu_s']:.3f})",
              f"{r['revision_s']:.3f} ({r['revision_cpu_s']:.3f})",
              "ok" if r["log_verify_ok"] else "FAILS", "<= 2 s at 5000")
             for r in results]
    report("submit_paths", {"results": results}, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
