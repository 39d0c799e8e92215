"""Issue 16: replication fidelity on real configs, each item through the real CLI.

Every fixture here is a minimal one written for the item (no public files copied in).
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunCli, git


def _write(repo: Path, files: dict[str, str], schemas: str) -> Path:
    (repo / ".changeguard.yaml").write_text(
        f"apiVersion: changeguard/v1\nkind: GuardConfig\nschemas:\n{schemas}",
        encoding="utf-8")
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text, encoding="utf-8")
    return repo


def _check(repo: Path, run_cli: RunCli, *args: str) -> tuple[int, list[dict[str, object]]]:
    r = run_cli("check", "--format", "json", *args, cwd=repo)
    assert r.code in (0, 1), r.err
    return r.code, json.loads(r.out)["findings"]


def _rules(findings: list[dict[str, object]]) -> set[object]:
    return {f["rule"] for f in findings}


# --- 1 + 9: a MySQL group whose scripts name upstreams by IP -------------------------

MYSQL_RING = {
    "db/a1.cnf": "[mysqld]\nserver_id = 1\nreport_host = a1\nlog_bin = bin\n",
    "db/a2.cnf": "[mysqld]\nserver_id = 2\nreport_host = a2\nlog_bin = bin\n",
    "db/a1-setup.sh": "#!/bin/sh\n# set up a1\n\nmysql -e \"CHANGE MASTER TO "
                      "MASTER_HOST='10.9.0.2', MASTER_USER='r'\"\n",
    "db/a2-setup.sh": "#!/bin/sh\nmysql -e \"CHANGE MASTER TO MASTER_HOST='10.9.0.1', "
                      "MASTER_USER='r'\"\n",
    "db/Vagrantfile": 'Vagrant.configure("2") do |config|\n'
                      '  config.vm.define "a1" do |a|\n'
                      '    a.vm.network "private_network", ip: "10.9.0.1"\n  end\n'
                      '  config.vm.define "a2" do |a|\n'
                      '    a.vm.network "private_network", ip: "10.9.0.2"\n  end\nend\n',
}
MYSQL_ONLY_CONFIGS = '  - {paths: ["db/*.cnf", "db/*.sh"], format: mysql}\n'


def test_explicit_files_consult_the_unnamed_unmapped_vagrantfile(repo: Path,
                                                                 run_cli: RunCli) -> None:
    """16.1: `check db/*.cnf db/*.sh` resolves 10.9.0.2 to a2 through the Vagrantfile."""
    _write(repo, MYSQL_RING, MYSQL_ONLY_CONFIGS)
    code, findings = _check(repo, run_cli, "db/a1.cnf", "db/a2.cnf", "db/a1-setup.sh",
                            "db/a2-setup.sh")
    assert code == 1
    assert "replication-upstream-exists" not in _rules(findings), findings
    assert "replication-no-cycle" in _rules(findings), findings


def test_one_named_member_brings_its_group(repo: Path, run_cli: RunCli) -> None:
    """16.1: naming one member judges the whole group (as the hook does)."""
    _write(repo, MYSQL_RING, '  - {paths: ["db/**"], format: auto}\n')
    code, findings = _check(repo, run_cli, "db/a1.cnf")
    assert code == 1 and "replication-no-cycle" in _rules(findings), findings
    assert "replication-upstream-exists" not in _rules(findings), findings


def test_staged_check_consults_the_vagrantfile(repo: Path, run_cli: RunCli) -> None:
    """16.1 for `--staged`: only the scripts are staged, the rest is committed."""
    _write(repo, MYSQL_RING, MYSQL_ONLY_CONFIGS)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "ring")
    (repo / "db/a2-setup.sh").write_text(MYSQL_RING["db/a2-setup.sh"] + "# again\n",
                                         encoding="utf-8")
    git(repo, "add", "db/a2-setup.sh")
    code, findings = _check(repo, run_cli, "--staged")
    assert "replication-upstream-exists" not in _rules(findings), findings
    assert code == 1 and "replication-no-cycle" in _rules(findings), findings


def test_upstream_findings_point_at_the_change_master_line(repo: Path,
                                                           run_cli: RunCli) -> None:
    """16.9: the cycle is reported where a1's CHANGE MASTER runs, not in a1.cnf."""
    _write(repo, MYSQL_RING, MYSQL_ONLY_CONFIGS)
    _, findings = _check(repo, run_cli, "db/a1.cnf", "db/a2.cnf", "db/a1-setup.sh",
                         "db/a2-setup.sh")
    (cycle,) = [f for f in findings if f["rule"] == "replication-no-cycle"]
    assert (cycle["file"], cycle["line"]) == ("db/a1-setup.sh", 4), cycle
    broken = dict(MYSQL_RING, **{"db/Vagrantfile": "# no map\n"})
    _write(repo, broken, MYSQL_ONLY_CONFIGS)
    _, findings = _check(repo, run_cli, "db/a1.cnf", "db/a1-setup.sh")
    ups = [f for f in findings if f["rule"] == "replication-upstream-exists"]
    assert ("db/a1-setup.sh", 4) in {(f["file"], f["line"]) for f in ups}, findings


# --- 3 + 4: Patroni --------------------------------------------------------------------

def _patroni(name: str, host: str, tags: str = "", legacy: bool = False) -> str:
    top = "" if legacy else f"name: {name}\n"
    inner = f"  name: {name}\n" if legacy else ""
    return (f"scope: demo\n{top}restapi:\n  connect_address: {host}:8008\n"
            f"postgresql:\n{inner}  connect_address: {host}:5432\n  data_dir: /data\n"
            + (f"tags:\n{tags}" if tags else ""))


PATRONI = '  - {paths: ["pg/**"], format: patroni}\n'


def test_pre_1_0_member_name_under_postgresql(repo: Path, run_cli: RunCli) -> None:
    """16.3: `postgresql.name` names the member, so replicatefrom resolves."""
    files = {"pg/m0.yml": _patroni("pgnode0", "10.1.0.1", legacy=True),
             "pg/m1.yml": _patroni("pgnode1", "10.1.0.2", legacy=True),
             "pg/m2.yml": _patroni("pgnode2", "10.1.0.3", "  replicatefrom: pgnode1\n",
                                   legacy=True)}
    _write(repo, files, PATRONI)
    code, findings = _check(repo, run_cli, "--all")
    assert code == 0, findings
    files["pg/m2.yml"] = _patroni("pgnode2", "10.1.0.3", "  replicatefrom: pgnodeX\n",
                                  legacy=True)
    _write(repo, files, PATRONI)
    code, findings = _check(repo, run_cli, "--all")
    (up,) = [f for f in findings if f["rule"] == "replication-upstream-exists"]
    assert code == 1 and "pgnodeX" in str(up["message"]) and up["file"] == "pg/m2.yml"


def test_replicatefrom_members_still_run_for_leader(repo: Path, run_cli: RunCli) -> None:
    """16.4: the only failover candidates carry replicatefrom: one of them leads."""
    files = {"pg/a.yml": _patroni("a", "10.2.0.1", "  nofailover: true\n"),
             "pg/b.yml": _patroni("b", "10.2.0.2", "  replicatefrom: c\n"),
             "pg/c.yml": _patroni("c", "10.2.0.3", "  replicatefrom: b\n")}
    _write(repo, files, PATRONI)
    code, findings = _check(repo, run_cli, "--all")
    assert "replication-single-primary" not in _rules(findings), findings
    assert code == 0, findings


# --- 2 + 6: Redis Sentinel and TLS-only members ---------------------------------------

REDIS = '  - {paths: ["redis/**"], format: redis}\n'


def _sentinel(host: str, master: str, quorum: int) -> str:
    return (f"port 26379\nbind {host}\nsentinel monitor mymaster {master} 6379 {quorum}\n"
            "sentinel down-after-milliseconds mymaster 5000\n")


def test_sentinel_quorum_is_per_monitored_master(repo: Path, run_cli: RunCli) -> None:
    """16.2: s3 alone monitors 10.3.0.2, so its quorum 2 can never be reached."""
    files = {"redis/a.conf": "port 6379\nbind 10.3.0.1\n",
             "redis/b.conf": "port 6379\nbind 10.3.0.2\nreplicaof 10.3.0.1 6379\n"
                             "replica-read-only yes\n",
             "redis/s1-sentinel.conf": _sentinel("10.3.0.3", "10.3.0.1", 2),
             "redis/s2-sentinel.conf": _sentinel("10.3.0.4", "10.3.0.1", 2),
             "redis/s3-sentinel.conf": _sentinel("10.3.0.5", "10.3.0.2", 2)}
    _write(repo, files, REDIS)
    code, findings = _check(repo, run_cli, "--all")
    assert code == 1 and "replication-single-primary" in _rules(findings), findings
    (q,) = [f for f in findings if f["rule"] == "replication-quorum"]
    assert q["file"] == "redis/s3-sentinel.conf" and q["line"] == 3, q
    files["redis/s3-sentinel.conf"] = _sentinel("10.3.0.5", "10.3.0.2", 1)
    _write(repo, files, REDIS)
    code, findings = _check(repo, run_cli, "--all")
    assert "replication-quorum" not in _rules(findings), findings


def test_tls_only_redis_conf_is_a_member(repo: Path, run_cli: RunCli) -> None:
    """16.6: `port 0` + `tls-port` is a member; a replica of its TLS port finds it."""
    tls = ("tls-cert-file /tls/redis.crt\ntls-key-file /tls/redis.key\n"
           "tls-ca-cert-file /tls/ca.crt\ntls-replication yes\n")
    files = {"redis/a.conf": f"port 0\ntls-port 6380\nbind 10.4.0.1\n{tls}",
             "redis/b.conf": f"port 0\ntls-port 6380\nbind 10.4.0.2\n{tls}"
                             "replicaof 10.4.0.1 6380\nreplica-read-only yes\n"}
    _write(repo, files, '  - {paths: ["redis/**"], format: auto}\n')
    code, findings = _check(repo, run_cli, "redis/b.conf")
    assert code == 0, findings
    files["redis/b.conf"] = files["redis/b.conf"].replace("replicaof 10.4.0.1",
                                                          "replicaof 10.4.0.9")
    _write(repo, files, '  - {paths: ["redis/**"], format: auto}\n')
    code, findings = _check(repo, run_cli, "redis/b.conf")
    assert code == 1 and "replication-upstream-exists" in _rules(findings), findings


# --- 5 + 6: operator CRs ---------------------------------------------------------------

K8S = '  - {paths: ["k8s/**"], format: kubernetes}\n'
OT = "apiVersion: redis.redis.opstreelabs.in/v1beta2\n"


def _ot_sentinel(target: str, size: int = 3, quorum: int = 2) -> str:
    return (f"{OT}kind: RedisSentinel\nmetadata:\n  name: guard\nspec:\n"
            f"  clusterSize: {size}\n  redisSentinelConfig:\n"
            f"    redisReplicationName: {target}\n    quorum: \"{quorum}\"\n")


OT_REPLICATION = f"{OT}kind: RedisReplication\nmetadata:\n  name: cache\nspec:\n  clusterSize: 3\n"


def test_redis_sentinel_naming_a_missing_replication(repo: Path, run_cli: RunCli) -> None:
    """16.5: no RedisReplication `cahce` exists: upstream-exists, at the name's line."""
    _write(repo, {"k8s/rep.yaml": OT_REPLICATION, "k8s/sen.yaml": _ot_sentinel("cahce")},
           K8S)
    code, findings = _check(repo, run_cli, "--all")
    (up,) = [f for f in findings if f["rule"] == "replication-upstream-exists"]
    assert code == 1 and (up["file"], up["line"]) == ("k8s/sen.yaml", 8), up
    assert up["pointer"] == "/spec/redisSentinelConfig/redisReplicationName"
    _write(repo, {"k8s/sen.yaml": _ot_sentinel("cache")}, K8S)
    code, findings = _check(repo, run_cli, "--all")
    assert code == 0, findings


def test_redis_sentinel_quorum_names_the_sentinel_cr(repo: Path, run_cli: RunCli) -> None:
    """16.6: the quorum/size findings name RedisSentinel guard, not RedisReplication cache."""
    _write(repo, {"k8s/rep.yaml": OT_REPLICATION,
                  "k8s/sen.yaml": _ot_sentinel("cache", size=1, quorum=2)}, K8S)
    code, findings = _check(repo, run_cli, "--all")
    msgs = [str(f["message"]) for f in findings if f["rule"] == "replication-quorum"]
    assert code == 1 and len(msgs) == 2, findings
    assert all(m.startswith("RedisSentinel guard:") for m in msgs), msgs


def _psmdb(size: int, hidden: int) -> str:
    return ("apiVersion: psmdb.percona.com/v1\nkind: PerconaServerMongoDB\nmetadata:\n"
            f"  name: docs\nspec:\n  replsets:\n    - name: rs0\n      size: {size}\n"
            f"      hidden:\n        enabled: true\n        size: {hidden}\n")


def test_psmdb_hidden_members_vote(repo: Path, run_cli: RunCli) -> None:
    """16.6: 2 members + 1 hidden = 3 voters (odd, at the minimum)."""
    _write(repo, {"k8s/mongo.yaml": _psmdb(2, 1)}, K8S)
    code, findings = _check(repo, run_cli, "--all")
    assert code == 0, findings
    _write(repo, {"k8s/mongo.yaml": _psmdb(2, 2)}, K8S)
    code, findings = _check(repo, run_cli, "--all")
    assert code == 1 and any("4 voting members" in str(f["message"]) for f in findings)


def _vitess(pool_type: str) -> str:
    return ("apiVersion: planetscale.com/v2\nkind: VitessCluster\nmetadata:\n  name: vt\n"
            "spec:\n  keyspaces:\n    - name: commerce\n      partitionings:\n"
            "        - equal:\n            parts: 1\n            shardTemplate:\n"
            "              tabletPools:\n"
            f"                - {{cell: z1, type: {pool_type}, replicas: 3}}\n")


def test_vitess_externalmaster_pool_counts_its_tablets(repo: Path, run_cli: RunCli) -> None:
    """16.6: an externalmaster pool of 3 tablets meets the minimum of 3."""
    _write(repo, {"k8s/vt.yaml": _vitess("externalmaster")}, K8S)
    code, findings = _check(repo, run_cli, "--all")
    assert code == 0, findings
    _write(repo, {"k8s/vt.yaml": _vitess("rdonly")}, K8S)
    code, findings = _check(repo, run_cli, "--all")
    assert code == 1 and "replication-quorum" in _rules(findings), findings


# --- 7: Kustomize base and overlays are separate scopes -------------------------------

def _cnpg(name: str, extra: str = "") -> str:
    return (f"apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata:\n  name: {name}\n"
            f"spec:\n  instances: 3\n{extra}")


DR = "  replica:\n    enabled: true\n    source: pg\n"


def test_kustomize_base_and_overlay_are_not_one_family(repo: Path, run_cli: RunCli) -> None:
    """16.7: overlays/prod's replica cluster replicates prod's `pg`, not base's copy."""
    kust = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
    files = {"k8s/base/kustomization.yaml": kust + "resources: [pg.yaml]\n",
             "k8s/base/pg.yaml": _cnpg("pg"),
             "k8s/overlays/prod/kustomization.yaml": kust + "resources: [pg.yaml, dr.yaml]\n",
             "k8s/overlays/prod/pg.yaml": _cnpg("pg"),
             "k8s/overlays/prod/dr.yaml": _cnpg("pg-dr", DR)}
    _write(repo, files, '  - {paths: ["k8s/**"], format: auto}\n')
    code, findings = _check(repo, run_cli, "--all")
    assert code == 0, findings
    # within one overlay references still resolve: prod's pg <-> pg-dr is a cycle
    files["k8s/overlays/prod/pg.yaml"] = _cnpg("pg", DR.replace("source: pg", "source: pg-dr"))
    _write(repo, files, '  - {paths: ["k8s/**"], format: auto}\n')
    code, findings = _check(repo, run_cli, "--all")
    assert code == 1 and "replication-no-cycle" in _rules(findings), findings
    assert {f["file"] for f in findings} <= {"k8s/overlays/prod/pg.yaml",
                                            "k8s/overlays/prod/dr.yaml"}, findings


# --- 9: adapter findings carry the JSON pointer of the offending field ------------------

def test_operator_size_findings_carry_their_pointer(repo: Path, run_cli: RunCli) -> None:
    _write(repo, {"k8s/pg.yaml": _cnpg("pg").replace("instances: 3", "instances: 1"),
                  "k8s/mongo.yaml": _psmdb(1, 0).replace("enabled: true", "enabled: false")},
           K8S)
    code, findings = _check(repo, run_cli, "--all")
    got = {(f["file"], f["pointer"]) for f in findings if f["rule"] == "replication-quorum"}
    assert code == 1
    assert got == {("k8s/pg.yaml", "/spec/instances"),
                   ("k8s/mongo.yaml", "/spec/replsets/0/size")}, findings
