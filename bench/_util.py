"""Shared helpers for the benchmark scripts: timing subprocesses, printing JSON + a table."""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path


def time_runs(cmd: Sequence[str], cwd: Path, runs: int, env: dict[str, str] | None = None,
              ok_codes: tuple[int, ...] = (0, 1)) -> dict[str, float]:
    """Median/min/max wall seconds of `runs` process runs of `cmd`."""
    samples: list[float] = []
    for _ in range(runs):
        t0 = time.perf_counter()
        p = subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True)
        samples.append(time.perf_counter() - t0)
        if p.returncode not in ok_codes:
            raise SystemExit(f"{cmd!r} exited {p.returncode}: {p.stderr.decode()[-2000:]}")
    return {"median_s": statistics.median(samples), "min_s": min(samples),
            "max_s": max(samples), "runs": runs}


def report(title: str, results: dict[str, object], rows: list[tuple[str, ...]]) -> None:
    """Print the JSON document, then a plain table for humans."""
    print(json.dumps({"benchmark": title, **results}, indent=2))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    print()
    for i, r in enumerate(rows):
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
        if i == 0:
            print("  ".join("-" * w for w in widths))
