"""Issue 16.9: adapter findings carry the JSON pointer (and line) of the offending field.

Each case runs `check --format json` through the real CLI on a minimal fixture written
here, and asserts findings[].pointer and findings[].line (SPEC §1).
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunCli

Found = dict[str, object]


def _check(repo: Path, run_cli: RunCli, fmt: str, files: dict[str, str]) -> list[Found]:
    (repo / ".changeguard.yaml").write_text(
        "apiVersion: changeguard/v1\nkind: GuardConfig\nschemas:\n"
        f'  - {{paths: ["cfg/**"], format: {fmt}}}\n', encoding="utf-8")
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text, encoding="utf-8")
    r = run_cli("check", "--all", "--format", "json", cwd=repo)
    assert r.code == 1, (r.code, r.out, r.err)
    findings: list[Found] = json.loads(r.out)["findings"]
    return findings


def _at(findings: list[Found], rule: str) -> set[tuple[object, object, object]]:
    return {(f["file"], f["line"], f["pointer"]) for f in findings if f["rule"] == rule}


def _line(text: str, needle: str) -> int:
    """1-based line of the first line containing `needle` (the fixture's own text)."""
    return next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)


# --- Patroni member files ----------------------------------------------------------

def _patroni(name: str, tags: str = "", dcs: str = "", params: str = "") -> str:
    return (f"scope: pg\nname: {name}\nrestapi:\n  connect_address: {name}:8008\n"
            f"bootstrap:\n  dcs:\n    ttl: 30\n{dcs}"
            f"postgresql:\n  connect_address: {name}:5432\n  parameters:\n"
            f"    max_connections: 100\n{params}"
            f"tags:\n  clonefrom: false\n{tags}")


def test_patroni_replicatefrom_points_at_the_tag(repo: Path, run_cli: RunCli) -> None:
    files = {"cfg/pg1.yml": _patroni("pg1"),
             "cfg/pg2.yml": _patroni("pg2", tags="  replicatefrom: pg9\n")}
    got = _at(_check(repo, run_cli, "patroni", files), "replication-upstream-exists")
    assert got == {("cfg/pg2.yml", _line(files["cfg/pg2.yml"], "replicatefrom"),
                    "/tags/replicatefrom")}


def test_patroni_no_leader_points_at_nofailover(repo: Path, run_cli: RunCli) -> None:
    files = {f"cfg/{n}.yml": _patroni(n, tags="  nofailover: true\n") for n in ("pg1", "pg2")}
    got = _at(_check(repo, run_cli, "patroni", files), "replication-single-primary")
    assert got == {("cfg/pg1.yml", _line(files["cfg/pg1.yml"], "nofailover"),
                    "/tags/nofailover")}


def test_patroni_dcs_and_parameters_point_at_their_keys(repo: Path, run_cli: RunCli) -> None:
    dcs = "    loop_wait: 20\n    synchronous_mode: true\n    synchronous_node_count: 3\n"
    files = {"cfg/pg1.yml": _patroni("pg1", dcs=dcs),
             "cfg/pg2.yml": _patroni("pg2", params="    max_connections: 50\n")
             .replace("    max_connections: 100\n", "")}
    findings = _check(repo, run_cli, "patroni", files)
    one, two = files["cfg/pg1.yml"], files["cfg/pg2.yml"]
    assert _at(findings, "replication-sync-consistent") == {
        ("cfg/pg1.yml", _line(one, "synchronous_node_count"),
         "/bootstrap/dcs/synchronous_node_count")}
    assert _at(findings, "replication-ttl-rule") == {
        ("cfg/pg1.yml", _line(one, "ttl:"), "/bootstrap/dcs/ttl")}
    assert _at(findings, "replication-standby-params") == {
        ("cfg/pg2.yml", _line(two, "max_connections"), "/postgresql/parameters/max_connections")}


def test_patroni_sync_mode_without_standbys_points_at_the_mode(repo: Path,
                                                               run_cli: RunCli) -> None:
    dcs = "    synchronous_mode: true\n"
    files = {"cfg/pg1.yml": _patroni("pg1", dcs=dcs),
             "cfg/pg2.yml": _patroni("pg2", tags="  nosync: true\n")}
    findings = _check(repo, run_cli, "patroni", files)
    assert _at(findings, "replication-sync-consistent") == {
        ("cfg/pg1.yml", _line(files["cfg/pg1.yml"], "synchronous_mode"),
         "/bootstrap/dcs/synchronous_mode")}, findings


# --- MongoDB replica-set documents and rs.initiate literals ---------------------------

RS_JSON = """{
  "_id": "rs0",
  "members": [
    {"_id": 0, "host": "m1:27017"},
    {"_id": 1, "host": "m2:27017"},
    {"_id": 2, "host": "m3:27017", "votes": 2}
  ]
}
"""


def test_mongodb_json_votes_point_at_the_member(repo: Path, run_cli: RunCli) -> None:
    findings = _check(repo, run_cli, "mongodb", {"cfg/rs.json": RS_JSON})
    got = {x for x in _at(findings, "replication-quorum") if x[2] == "/members/2/votes"}
    assert got == {("cfg/rs.json", _line(RS_JSON, '"votes": 2'), "/members/2/votes")}, findings


RS_JS = """rs.initiate({
  _id: "rs0",
  members: [
    { _id: 0, host: "m1:27017" },
    { _id: 1, host: "m1:27017" },
    { _id: 1, host: "m3:27017" }
  ]
})
"""


def test_mongodb_initiate_literal_points_at_host_and_id(repo: Path, run_cli: RunCli) -> None:
    findings = _check(repo, run_cli, "mongodb", {"cfg/init.js": RS_JS})
    got = _at(findings, "replication-unique-ids")
    lines = RS_JS.splitlines()
    assert got == {("cfg/init.js", 5, "/members/1/host"),
                   ("cfg/init.js", 6, "/members/2/_id")}, (findings, lines[4:6])


# --- Kubernetes operator CRs beyond member counts ----------------------------------

def _cnpg(name: str, spec: str) -> str:
    return (f"apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata:\n  name: {name}\n"
            f"spec:\n  instances: 3\n{spec}")


def test_cnpg_replica_source_and_sync_point_at_their_fields(repo: Path,
                                                            run_cli: RunCli) -> None:
    a = _cnpg("pg-a", "  replica:\n    enabled: true\n    source: pg-b\n")
    b = _cnpg("pg-b", "  maxSyncReplicas: 5\n  replica:\n    enabled: true\n    source: pg-a\n")
    findings = _check(repo, run_cli, "kubernetes", {"cfg/a.yaml": a, "cfg/b.yaml": b})
    assert _at(findings, "replication-no-cycle") == {
        ("cfg/a.yaml", _line(a, "source:"), "/spec/replica/source")}
    assert _at(findings, "replication-sync-consistent") == {
        ("cfg/b.yaml", _line(b, "maxSyncReplicas"), "/spec/maxSyncReplicas")}


def test_psmdb_external_node_votes_point_at_the_node(repo: Path, run_cli: RunCli) -> None:
    cr = ("apiVersion: psmdb.percona.com/v1\nkind: PerconaServerMongoDB\nmetadata:\n"
          "  name: mdb\nspec:\n  replsets:\n  - name: rs0\n    size: 3\n    externalNodes:\n"
          "    - host: ext.example\n      votes: 2\n      priority: 0\n")
    findings = _check(repo, run_cli, "kubernetes", {"cfg/mdb.yaml": cr})
    got = {x for x in _at(findings, "replication-quorum") if "externalNodes" in str(x[2])}
    assert got == {("cfg/mdb.yaml", _line(cr, "votes: 2"),
                    "/spec/replsets/0/externalNodes/0/votes")}, findings


def test_sentinel_quorum_points_at_the_cr_field(repo: Path, run_cli: RunCli) -> None:
    api = "apiVersion: redis.redis.opstreelabs.in/v1beta2\n"
    rep = api + "kind: RedisReplication\nmetadata:\n  name: rr\nspec:\n  clusterSize: 3\n"
    sen = (api + "kind: RedisSentinel\nmetadata:\n  name: rs\nspec:\n  clusterSize: 3\n"
           "  redisSentinelConfig:\n    redisReplicationName: rr\n    quorum: \"5\"\n")
    findings = _check(repo, run_cli, "kubernetes", {"cfg/rr.yaml": rep, "cfg/rs.yaml": sen})
    assert _at(findings, "replication-quorum") == {
        ("cfg/rs.yaml", _line(sen, "quorum"), "/spec/redisSentinelConfig/quorum")}, findings


# --- native topologies --------------------------------------------------------------

NATIVE = """apiVersion: changeguard/v1
kind: ReplicationTopology
name: t
engine: postgresql
nodes:
  - {name: a, role: primary, host: h1}
  - {name: b, role: replica, host: h2, upstream: a}
  - {name: c, role: replica, host: h3, upstream: a}
  - {name: d, role: replica, host: h4,
     upstream: zz}
"""


def test_native_upstream_points_at_the_node(repo: Path, run_cli: RunCli) -> None:
    findings = _check(repo, run_cli, "native", {"cfg/t.yaml": NATIVE})
    assert _at(findings, "replication-upstream-exists") == {
        ("cfg/t.yaml", _line(NATIVE, "upstream: zz"), "/nodes/3/upstream")}, findings
