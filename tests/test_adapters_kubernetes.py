"""Operator CRs: sizes and minimums, sync settings, Patroni timing, cross-cluster links."""

from __future__ import annotations

import pytest

from changeguard.replication.adapters import get
from changeguard.replication.interface import SourceFile
from tests.test_adapters_common import corpus, denied, judge, only

CNPG = """apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata:
  name: {name}
spec:
  instances: {instances}
{extra}
"""


def cnpg(name: str = "pg", instances: int = 3, extra: str = "") -> str:
    return CNPG.format(name=name, instances=instances, extra=extra)


@pytest.mark.parametrize(("path", "expected"), [
    ("cnpg/cluster-example.yaml", set()),
    ("cnpg/cluster-example-syncreplicas-legacy.yaml", set()),
    ("cnpg/cluster-example-managed-services.yaml", {"replication-quorum"}),
    ("cnpg/cluster-example-logical-destination.yaml", {"replication-quorum"}),
    ("cnpg/distributed-dc", set()),
    ("postgres-operators/zalando-minimal-postgres-manifest.yaml", set()),
    ("postgres-operators/zalando-complete-postgres-manifest.yaml", set()),
    ("postgres-operators/zalando-standby-manifest.yaml", {"replication-quorum"}),
    ("postgres-operators/crunchy-ha-postgres.yaml", set()),
    ("mysql/percona-xtradb-cluster-cr.yaml", set()),
    ("mysql/percona-xtradb-cluster-cr-minimal.yaml", {"replication-quorum"}),
    ("mariadb/mariadb_replication.yaml", set()),
    ("mariadb/multi-cluster-replication", {"replication-quorum"}),
    ("mongodb/mongodbcommunity_cr.yaml", set()),
    ("mongodb/psmdb-cr-minimal.yaml", {"replication-quorum"}),
    ("mongodb/psmdb-one-pod-rs0.yml", {"replication-quorum"}),
    ("mongodb/psmdb-serviceless-external-nodes-main.yml", set()),
    ("redis/ot-operator", set()),
])
def test_corpus_crs(path: str, expected: set[str]) -> None:
    _, findings = judge("kubernetes", corpus(path))
    assert denied(findings) == expected


def test_quorum_finding_points_at_the_count() -> None:
    _, findings = judge("kubernetes", corpus("mysql/percona-xtradb-cluster-cr-minimal.yaml"))
    [f] = findings
    assert (f.file, f.line) == ("mysql/percona-xtradb-cluster-cr-minimal.yaml", 18)
    assert "unsafe" not in f.message  # unsafeFlags acknowledge it but do not waive it


def test_psmdb_counts_external_voters_and_sharding() -> None:
    t, _ = judge("kubernetes", corpus("mongodb/psmdb-serviceless-external-nodes-main.yml"))
    rs = only(t)
    assert [m.voters for m in rs.sizes] == [3]
    assert sum(n.external for n in rs.nodes) == 2
    t, findings = judge("kubernetes", corpus("mongodb/psmdb-cr-minimal.yaml"))
    assert sorted(x.name for x in t) == ["minimal-cluster/cfg", "minimal-cluster/rs0"]
    assert len([f for f in findings if f.rule == "replication-quorum"]) == 2


def test_distributed_dc_is_one_primary_cluster() -> None:
    t, _ = judge("kubernetes", corpus("cnpg/distributed-dc"))
    links = {x.name: (x.upstream_cluster, x.primary_cluster) for x in t}
    assert links == {"cluster-dc-a": (None, "cluster-dc-a"),
                     "cluster-dc-b": ("cluster-dc-a", "cluster-dc-a")}


def test_cnpg_clusters_that_disagree_on_the_primary() -> None:
    a = cnpg("a", extra="  replica:\n    primary: a\n    source: b\n")
    b = cnpg("b", extra="  replica:\n    primary: b\n    source: a\n")
    _, findings = judge("kubernetes", {"k/a.yaml": a, "k/b.yaml": b})
    assert "replication-single-primary" in denied(findings)


def test_cnpg_replica_clusters_in_a_cycle() -> None:
    a = cnpg("a", extra="  replica:\n    enabled: true\n    source: b\n")
    b = cnpg("b", extra="  replica:\n    enabled: true\n    source: a\n")
    _, findings = judge("kubernetes", {"k/a.yaml": a, "k/b.yaml": b})
    assert "replication-no-cycle" in denied(findings)


@pytest.mark.parametrize("extra", [
    "  minSyncReplicas: 2\n  maxSyncReplicas: 1\n",
    "  minSyncReplicas: 1\n  maxSyncReplicas: 3\n",
    "  postgresql:\n    synchronous:\n      method: first\n      number: 3\n",
])
def test_cnpg_sync_inconsistent(extra: str) -> None:
    _, findings = judge("kubernetes", {"k/pg.yaml": cnpg(instances=3, extra=extra)})
    [f] = [f for f in findings if f.rule == "replication-sync-consistent"]
    assert f.file == "k/pg.yaml" and f.line is not None and f.line >= 7


def test_zalando_ttl_rule_and_sync() -> None:
    doc = ("apiVersion: acid.zalan.do/v1\nkind: postgresql\nmetadata:\n  name: z\nspec:\n"
           "  numberOfInstances: 2\n  patroni:\n    ttl: 20\n    loop_wait: 10\n"
           "    synchronous_mode: true\n    synchronous_node_count: 2\n")
    _, findings = judge("kubernetes", {"k/z.yaml": doc})
    got = {f.rule: f.line for f in findings}
    assert got["replication-ttl-rule"] == 8
    assert got["replication-sync-consistent"] == 11


def test_vitess_counts_replica_tablets_only() -> None:
    doc = """apiVersion: planetscale.com/v2
kind: VitessCluster
metadata:
  name: v
spec:
  keyspaces:
  - name: commerce
    partitionings:
    - equal:
        parts: 1
        shardTemplate:
          tabletPools:
          - cell: zone1
            type: replica
            replicas: 2
          - cell: zone1
            type: rdonly
            replicas: 3
"""
    t, findings = judge("kubernetes", {"k/v.yaml": doc})
    assert only(t).sizes[0].declared == 2
    [f] = findings
    assert (f.rule, f.line) == ("replication-quorum", 15)


@pytest.mark.parametrize(("api", "kind", "spec", "ok"), [
    ("ps.percona.com/v1alpha1", "PerconaServerMySQL", "mysql:\n    size: 3", True),
    ("ps.percona.com/v1alpha1", "PerconaServerMySQL", "mysql:\n    size: 2", False),
    ("mariadb.mmontes.io/v1alpha1", "MariaDB", "replicas: 3\n  galera:\n    enabled: true",
     True),
    ("mongodbcommunity.mongodb.com/v1", "MongoDBCommunity", "members: 2\n  arbiters: 1",
     True),
    ("mongodbcommunity.mongodb.com/v1", "MongoDBCommunity", "members: 2", False),
    ("postgres-operator.crunchydata.com/v1beta1", "PostgresCluster",
     "instances:\n  - name: a\n    replicas: 1", False),
    ("redis.redis.opstreelabs.in/v1beta2", "RedisSentinel",
     "clusterSize: 1\n  redisSentinelConfig:\n    redisReplicationName: r", False),
])
def test_other_operators(api: str, kind: str, spec: str, ok: bool) -> None:
    doc = f"apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: x\nspec:\n  {spec}\n"
    _, findings = judge("kubernetes", {"k/x.yaml": doc})
    assert (denied(findings) == set()) is ok, findings


def test_other_documents_and_files_are_ignored() -> None:
    result = get("kubernetes").parse([
        SourceFile("k/secret.yaml", b"apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"),
        SourceFile("k/README.md", b"# notes\n: : not yaml [\n")])
    assert result.topologies == [] and result.findings == []


def test_psmdb_arbiter_completes_the_quorum() -> None:
    doc = ("apiVersion: psmdb.percona.com/v1\nkind: PerconaServerMongoDB\nmetadata:\n"
           "  name: m\nspec:\n  unsafeFlags:\n    replsetSize: true\n  replsets:\n"
           "  - name: rs0\n    size: 2\n    arbiter:\n      enabled: {on}\n      size: 1\n")
    t, findings = judge("kubernetes", {"k/m.yaml": doc.format(on="true")})
    assert only(t).sizes[0].voters == 3 and denied(findings) == set()
    _, findings = judge("kubernetes", {"k/m.yaml": doc.format(on="false")})
    assert denied(findings) == {"replication-quorum"}  # 2 voters: even, and below 3
