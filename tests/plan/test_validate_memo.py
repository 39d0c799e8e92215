"""`validate` of N plans reads and parses each base file once (the run's LoadMemo), and
reports exactly what each plan reports alone.

A repo with many native topologies, a Patroni scope split across three files and a
Kustomize base/overlay pair; plans change one file each (a native one, a Patroni member,
an overlay CR) and walk steps over files they do not change.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from changeguard.config import load_config
from changeguard.plan import EvalContext, evaluate_plan, load_plan
from changeguard.plan.gitfiles import Revisions, RevReader
from tests.conftest import RunCli, git
from tests.helpers.plans import NOW, config, plan, write_yaml

NATIVE = 12  # topologies no plan needs to touch: each plan loads them at the base


def _native(i: int, zone_b: str = "b") -> str:
    return (f"apiVersion: changeguard/v1\nkind: ReplicationTopology\nname: t{i:02d}\n"
            "engine: postgresql\nnodes:\n"
            f"  - {{name: t{i:02d}-a, role: primary, host: h{i:02d}a, zone: a}}\n"
            f"  - {{name: t{i:02d}-b, role: replica, host: h{i:02d}b, zone: {zone_b}, "
            f"upstream: t{i:02d}-a}}\n")


def _patroni(name: str, zone: str, tags: str = "  nofailover: false\n") -> str:
    return (f"scope: pg\nname: {name}\nrestapi:\n  connect_address: {name}:8008\n"
            "bootstrap:\n  dcs:\n    ttl: 30\n    loop_wait: 10\n    retry_timeout: 10\n"
            f"postgresql:\n  connect_address: {name}:5432\n"
            f"tags:\n{tags}  zone: {zone}\n")


def _cnpg(name: str, instances: int) -> str:
    return (f"apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata:\n  name: {name}\n"
            f"spec:\n  instances: {instances}\n")


KUST = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [pg.yaml]\n"
SCHEMAS = [{"paths": ["db/**/*.topology.yaml"], "schema": "builtin:replication-topology"},
           {"paths": ["pg/**"], "format": "patroni"},
           {"paths": ["k8s/**"], "format": "auto"}]


def _files() -> dict[str, str]:
    files = {f"db/t{i:02d}.topology.yaml": _native(i) for i in range(NATIVE)}
    files |= {f"pg/pg{i}.yml": _patroni(f"pg{i}", z) for i, z in ((1, "a"), (2, "b"), (3, "c"))}
    files |= {"k8s/base/kustomization.yaml": KUST, "k8s/base/pg.yaml": _cnpg("kpg", 3),
              "k8s/overlays/prod/kustomization.yaml": KUST,
              "k8s/overlays/prod/pg.yaml": _cnpg("kpg", 5)}
    return files


def _step(sid: str, kind: str, *targets: str) -> dict[str, object]:
    return {"id": sid, "action": f"{kind} {' '.join(targets)}", "kind": kind,
            "targets": list(targets), "minutes": 20}


# plan file -> (changed path, steps); PLANS[3] and PLANS[4] take base topologies down
PLANS: dict[str, tuple[str, list[dict[str, object]]]] = {
    "changes/p1.yaml": ("db/t01.topology.yaml", [_step("s1", "storage", "t01-b")]),
    "changes/p2.yaml": ("pg/pg1.yml", [_step("s1", "stop", "pg2", "pg3")]),
    "changes/p3.yaml": ("k8s/overlays/prod/pg.yaml", [_step("s1", "restart", "kpg-2")]),
    "changes/p4.yaml": ("db/t02.topology.yaml", [_step("s1", "stop", "pg")]),
    "changes/p5.yaml": ("db/t01.topology.yaml", [_step("s1", "stop", "t05-a", "t05-b"),
                                                 _step("s2", "storage", "t01-a")]),
}


def _repo(repo: Path) -> Path:
    write_yaml(repo / ".changeguard.yaml", config(schemas=SCHEMAS))
    for path, text in _files().items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text, encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "topologies")
    # the proposed versions: each plan's file differs from the base
    (repo / "db/t01.topology.yaml").write_text(_native(1, zone_b="c"), encoding="utf-8")
    (repo / "db/t02.topology.yaml").write_text(_native(2, zone_b="a"), encoding="utf-8")
    (repo / "pg/pg1.yml").write_text(_patroni("pg1", "a", "  nofailover: true\n"),
                                     encoding="utf-8")
    (repo / "k8s/overlays/prod/pg.yaml").write_text(_cnpg("kpg", 4), encoding="utf-8")
    for i, (name, (path, steps)) in enumerate(PLANS.items()):
        write_yaml(repo / name, plan(id=f"CHG-2016-040{i}-memo", services=[f"svc{i}"],
                                     changes=[{"path": path, "summary": "change"}],
                                     steps=steps))
    return repo


Found = dict[str, object]


def _validate(repo: Path, run_cli: RunCli, *plans: str, env: dict[str, str] | None = None
              ) -> tuple[int, list[Found]]:
    r = run_cli("validate", *plans, "--now", NOW, "--format", "json", cwd=repo, env=env)
    assert r.code in (0, 1), r.err
    findings: list[Found] = json.loads(r.out)["findings"]
    return r.code, findings


def _key(f: Found) -> str:
    return json.dumps(f, sort_keys=True)


def test_many_plans_report_what_each_plan_reports_alone(repo: Path, run_cli: RunCli) -> None:
    _repo(repo)
    alone = {p: _validate(repo, run_cli, p) for p in PLANS}
    code, got = _validate(repo, run_cli, *PLANS)
    expected = [f for _, found in alone.values() for f in found]
    assert sorted(map(_key, got)) == sorted(map(_key, expected))
    assert code == max(c for c, _ in alone.values())
    # the blast radius over files the plan leaves alone, served from the memo
    p4 = [f for f in got if f["file"] == "changes/p4.yaml"
          and f["rule"] == "redundancy-blast-radius"]
    assert p4 and all(f["pointer"] == "/steps/0" for f in p4), got
    assert any("every data-bearing member of pg " in str(f["message"]) for f in p4), p4
    p5 = [str(f["message"]) for f in got if f["file"] == "changes/p5.yaml"
          and f["rule"] == "redundancy-blast-radius"]
    assert any("every data-bearing member of t05 " in m for m in p5), p5
    # p2 changes one member of the Patroni scope: proposed pg1 is nofailover, so pg2 leads
    assert any(f["file"] == "changes/p2.yaml" and "takes primary pg2 of pg " in str(f["message"])
               for f in got), got


class _CountingReader(RevReader):
    """A revision's reader counting each path it is asked for."""

    def __init__(self, repo: Path, rev: str, tree: Callable[[], dict[str, str]],
                 reads: Counter[tuple[str, str]]) -> None:
        super().__init__(repo, rev, tree)
        self.reads = reads

    def __call__(self, path: str) -> bytes | None:
        self.reads[self.rev, path] += 1
        return super().__call__(path)


class _CountingRevisions(Revisions):
    """Revisions whose readers count each path they are asked for."""

    def __init__(self, repo: Path) -> None:
        super().__init__(repo)
        self.reads: Counter[tuple[str, str]] = Counter()

    def reader(self, rev: str) -> RevReader:
        if rev not in self._readers:  # one reader per revision, as Revisions promises
            self._readers[rev] = _CountingReader(self.repo, rev, lambda: self._tree(rev),
                                                 self.reads)
        return self._readers[rev]


def test_each_base_file_is_read_once_for_many_plans(repo: Path) -> None:
    """Without the memo every plan read every unchanged base file again (5 times here)."""
    _repo(repo)
    ctx = EvalContext(repo=repo, config=load_config(repo), now=datetime.fromisoformat(NOW))
    revs = ctx.revs = _CountingRevisions(repo)
    for name in PLANS:
        evaluate_plan(load_plan(repo / name, repo), ctx)
    base = {p: n for (rev, p), n in revs.reads.items() if rev == "HEAD"}
    assert set(base) >= set(_files()), sorted(base)
    assert max(base.values()) == 1, base


def test_the_base_files_are_read_by_one_git_process(repo: Path, run_cli: RunCli,
                                                    tmp_path: Path) -> None:
    """Not one `git cat-file` per file (300 topologies: 0.4 s of a 0.6 s validate)."""
    _repo(repo)
    trace = tmp_path / "trace.json"
    _validate(repo, run_cli, "changes/p4.yaml", env={"GIT_TRACE2_EVENT": str(trace)})
    starts = [e["argv"] for e in map(json.loads, trace.read_text().splitlines())
              if e["event"] == "start" and "cat-file" in e["argv"]]
    assert len(_files()) > 10 and 1 <= len(starts) <= 3, starts

