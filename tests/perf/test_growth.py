"""Issue 17: catastrophe bounds of the verdict cache (ratios with >= 10x headroom, no
absolute times). In process, CPU time, best of three."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from changeguard.checkcache import check_files_cached
from changeguard.replication.load import working_tree_reader
from changeguard.replication.mapping import FileMapping

TOPOLOGY = """\
apiVersion: changeguard/v1
kind: ReplicationTopology
name: c{i}
engine: postgresql
nodes:
  - {{name: db1, role: primary, host: h{i}-1, zone: a}}
  - {{name: db2, role: replica, host: h{i}-2, zone: b, upstream: db1}}
  - {{name: db3, role: replica, host: h{i}-3, zone: c, upstream: db1}}
"""
MAPPINGS = [FileMapping(("topo/**/*.topology.yaml",), "builtin:replication-topology")]


def _files(root: Path, n: int) -> list[str]:
    out = []
    for i in range(n):
        rel = f"topo/{i // 50:02d}/c{i:04d}.topology.yaml"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(TOPOLOGY.format(i=i))
        out.append(rel)
    return out


def _cpu(fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(3):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return max(best, 1e-4)


def test_a_hit_costs_a_fraction_of_judging(tmp_path: Path) -> None:
    files = _files(tmp_path, 300)
    store = tmp_path / "store"
    read = working_tree_reader(tmp_path)

    def miss() -> object:
        return check_files_cached(tmp_path, files, MAPPINGS, read, store=None, max_bytes=10**6)

    def hit() -> object:
        return check_files_cached(tmp_path, files, MAPPINGS, read, store=store,
                                  max_bytes=10**6)

    hit()  # writes the entry
    assert list(store.glob("*.json"))
    # expected about 1/50 (read and hash vs parse, validate, judge); bound 1/5
    assert _cpu(hit) * 5 <= _cpu(miss)


def test_a_hit_grows_linearly_with_the_files(tmp_path: Path) -> None:
    small, big = tmp_path / "small", tmp_path / "big"
    costs = []
    for root, n in ((small, 40), (big, 400)):
        files = _files(root, n)
        read = working_tree_reader(root)

        def hit(root: Path = root, files: list[str] = files,
                read: Callable[[str], bytes | None] = read) -> object:
            return check_files_cached(root, files, MAPPINGS, read, store=root / "store",
                                      max_bytes=10**6)

        hit()
        costs.append(_cpu(hit))
    assert costs[1] <= 100 * costs[0]  # 10x the files: linear is 10x; bound 100x
