"""Incremental vs full `log verify` (SPEC §12 "Only a verified log", issue 14 attack 11).

    .venv/bin/python bench/verify_incremental.py [--sizes 1000] [--repeat 3] [--events 10]

Builds a log of N real submits (`bench/log_scale.py`'s builder), then adds `--events` real
`approve`s through the CLI and times, in process (wall and CPU with the children): the full
replay from the root, the incremental one from the tip before them (verified), and the
cached lookup the hook does for a known tip.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from log_scale import NOW, _cli, build  # noqa: E402

from changeguard.changelog.store import Git, ref_tip  # noqa: E402
from changeguard.changelog.verified import (  # noqa: E402
    cached_tips,
    common_dir,
    remember,
    trusted_fingerprint,
)
from changeguard.changelog.verify import verify  # noqa: E402
from changeguard.config import load_config  # noqa: E402
from changeguard.config.trusted import find_trusted  # noqa: E402

REF = "refs/heads/changeguard/log"


def _time(fn: object, repeat: int) -> tuple[float, float]:
    """Median (wall, CPU) seconds; CPU counts this process and the children it waited for
    (git, the verify's forked workers)."""
    runs = []
    for _ in range(repeat):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t, c = time.perf_counter(), time.process_time()
        fn()  # type: ignore[operator]
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        children = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        runs.append((time.perf_counter() - t, time.process_time() - c + children))
    return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)


def measure(n: int, repeat: int, events: int) -> dict[str, float]:
    """Full and incremental verification after `events` new events at `n` changes."""
    with tempfile.TemporaryDirectory() as d:
        repo = Path(d) / "repo"
        build(repo, n)
        git = Git(repo)
        cfg = load_config(repo)
        base = ref_tip(git, REF)
        assert base is not None
        for k in range(events):
            _cli(repo, "approve", f"CHG-B-{n - 1 - k:05d}", "--revision", "1", "--now", NOW)
        full = verify(git, cfg)
        inc = verify(git, cfg, since=base)
        assert full.ok and inc.ok and inc.events == n + events, (full.problems[:1],
                                                                inc.problems[:1])
        fp = trusted_fingerprint(find_trusted(git, ".changeguard.yaml", judge=True))
        gd = common_dir(git)
        tip = ref_tip(git, REF)
        assert tip is not None
        remember(gd, tip, fp)
        out: dict[str, float] = {"changes": n, "new_events": events}
        out["full_s"], out["full_cpu_s"] = _time(lambda: verify(git, cfg), repeat)
        out["incremental_s"], out["incremental_cpu_s"] = _time(
            lambda: verify(git, cfg, since=base), repeat)
        out["cached_lookup_s"], _ = _time(lambda: tip in cached_tips(gd, fp), repeat)
        git.close()
        out["incremental_vs_full"] = out["incremental_s"] / out["full_s"]
        out["incremental_vs_full_cpu"] = out["incremental_cpu_s"] / out["full_cpu_s"]
        return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--events", type=int, default=10, help="new events after the base tip")
    args = ap.parse_args()
    print(json.dumps([measure(int(s), args.repeat, args.events)
                      for s in args.sizes.split(",")], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
