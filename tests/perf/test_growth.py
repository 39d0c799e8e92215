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
  - name: db4
    role: replica
    host: h{i}-4
    zone: a
    upstream: db1
    priority: 2
    params: {{max_connections: 200, wal_level: replica, hot_standby: "on"}}
  - name: db5
    role: replica
    host: h{i}-5
    zone: b
    upstream: db1
    priority: 1
    params: {{max_connections: 200, wal_level: replica, hot_standby: "on"}}
sync: {{mode: on, count: 1, standbys: [db2]}}
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


def test_a_hit_costs_less_than_judging(tmp_path: Path) -> None:
    files = _files(tmp_path, 300)
    store = tmp_path / "store"
    read = working_tree_reader(tmp_path)
    runs = iter(range(10))

    def miss() -> object:  # new bytes each time, as a real miss sees them
        k = next(runs)
        for rel in files:
            p = tmp_path / rel
            p.write_text(p.read_text().replace("engine:", f"description: run {k}\nengine:", 1)
                         if k == 0 else p.read_text().replace(f"run {k - 1}", f"run {k}"))
        t = time.process_time()
        check_files_cached(tmp_path, files, MAPPINGS, read, store=None, max_bytes=10**6)
        return time.process_time() - t

    def hit() -> object:
        return check_files_cached(tmp_path, files, MAPPINGS, read, store=store,
                                  max_bytes=10**6)

    judging = min(float(miss()) for _ in range(3))  # type: ignore[arg-type]
    hit()  # writes the entry for the current bytes
    assert list(store.glob("*.json"))
    # measured about 1/14 (read and hash vs parse, validate, judge); bound: cheaper at all
    assert _cpu(hit) <= judging


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
