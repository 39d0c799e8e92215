"""Incremental vs full `log verify` (SPEC §12 "Only a verified log", issue 14 attack 11).

    .venv/bin/python bench/verify_incremental.py [--sizes 1000] [--repeat 3]

Builds a log of N real submits (`bench/log_scale.py`'s builder), then adds one real `approve`
through the CLI and times, in process: the full replay from the root, the incremental one
from the previous (verified) tip, and the cached lookup the hook does for a known tip.
"""

from __future__ import annotations

import argparse
import json
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


def _time(fn: object, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def measure(n: int, repeat: int) -> dict[str, float]:
    """Seconds for full / incremental verification after one new event at `n` changes."""
    with tempfile.TemporaryDirectory() as d:
        repo = Path(d) / "repo"
        build(repo, n)
        git = Git(repo)
        cfg = load_config(repo)
        base = ref_tip(git, REF)
        assert base is not None
        _cli(repo, "approve", f"CHG-B-{n - 1:05d}", "--revision", "1", "--now", NOW)
        full = verify(git, cfg)
        inc = verify(git, cfg, since=base)
        assert full.ok and inc.ok and inc.events == 1, (full.problems[:1], inc.problems[:1])
        fp = trusted_fingerprint(find_trusted(git, ".changeguard.yaml", judge=True))
        gd = common_dir(git)
        tip = ref_tip(git, REF)
        assert tip is not None
        remember(gd, tip, fp)
        out = {"changes": n,
               "full_s": _time(lambda: verify(git, cfg), repeat),
               "incremental_1_event_s": _time(lambda: verify(git, cfg, since=base), repeat),
               "cached_lookup_s": _time(lambda: tip in cached_tips(gd, fp), repeat)}
        git.close()
        out["full_vs_incremental"] = out["full_s"] / out["incremental_1_event_s"]
        return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(json.dumps([measure(int(s), args.repeat) for s in args.sizes.split(",")], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
