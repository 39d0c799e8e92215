"""Wall time of `changeguard validate` on one plan vs `python -c pass`, and import time.

Usage: .venv/bin/python bench/validate.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
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


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    runs = ap.parse_args().runs
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


if __name__ == "__main__":
    raise SystemExit(main())
