"""Redis and Sentinel configs: linking by address and master name, quorum, hosts."""

from __future__ import annotations

import pytest

from changeguard.errors import InputError
from changeguard.replication.adapters import get
from changeguard.replication.interface import SourceFile
from tests.test_adapters_common import corpus, denied, judge, only


def sentinel(port: int, quorum: int, ip: str, master: str = "10.0.0.1") -> str:
    return (f"port {port}\nsentinel announce-ip {ip}\n"
            f"sentinel monitor prod {master} 6379 {quorum}\n")


def test_stock_sentinel_alone_fails_quorum_only() -> None:
    t, findings = judge("redis", corpus("redis/redis-sentinel.conf"))
    topo = only(t)
    assert topo.name == "mymaster" and topo.settings.sentinel_quorum == 2
    assert sorted(n.role for n in topo.nodes) == ["primary", "sentinel"]
    [f] = [f for f in findings if f.severity == "deny"]
    assert (f.rule, f.file, f.line) == ("replication-quorum", "redis/redis-sentinel.conf", 92)


def test_stackexchange_group_shares_one_host() -> None:
    t, findings = judge("redis", corpus("redis/stackexchange-sentinel"))
    topo = only(t)
    assert topo.name == "myprimary" and {n.host for n in topo.nodes} == {"127.0.0.1"}
    assert {n.name: n.upstream for n in topo.nodes if n.role == "replica"} == {
        "redis-7011": "redis-7010"}
    assert denied(findings) == {"replication-distinct-failure-domains"}


def test_spread_sentinel_setup_passes() -> None:
    files: dict[str, str | bytes] = {
        "r/a/redis.conf": "bind 10.0.0.1\nport 6379\n",
        "r/b/redis.conf": "bind 10.0.0.2\nreplicaof 10.0.0.1 6379\nreplica-read-only yes\n",
        **{f"r/s{i}/sentinel.conf": sentinel(26379, 2, f"10.0.1.{i}") for i in (1, 2, 3)}}
    t, findings = judge("redis", files)
    topo = only(t)
    assert sum(n.role == "sentinel" for n in topo.nodes) == 3
    assert denied(findings) == set()


def test_quorum_above_sentinel_count() -> None:
    files = {f"r/s{i}.conf": sentinel(26379, 3, f"10.0.1.{i}") for i in (1, 2)}
    _, findings = judge("redis", files)
    assert "replication-quorum" in denied(findings)


def test_sentinels_disagree_on_the_master() -> None:
    files = {"r/s1.conf": sentinel(26379, 1, "10.0.1.1"),
             "r/s2.conf": sentinel(26379, 1, "10.0.1.2", master="10.0.0.9")}
    _, findings = judge("redis", files)
    assert "replication-single-primary" in denied(findings)


def test_replica_of_unknown_master_and_known_peers() -> None:
    files = {"r/a.conf": "bind 10.0.0.1\nport 6379\n",
             "r/b.conf": "bind 10.0.0.2\nslaveof 10.0.0.7 6379\n"}
    _, findings = judge("redis", files)
    assert "replication-upstream-exists" in denied(findings)
    rewritten = sentinel(26379, 2, "10.0.1.1") + (
        "sentinel known-sentinel prod 10.0.1.2 26379 abc\n"
        "sentinel known-sentinel prod 10.0.1.3 26379 def\n"
        "sentinel known-replica prod 10.0.0.2 6379\n")
    t, findings = judge("redis", {"r/sentinel.conf": rewritten})
    assert sum(n.role == "sentinel" for n in only(t).nodes) == 3
    assert denied(findings) == set()


def test_unbalanced_quotes_are_input_errors() -> None:
    with pytest.raises(InputError) as e:
        get("redis").parse([SourceFile("r/x.conf", b'port 1\ndir "/tmp\n')])
    assert e.value.line == 2


def test_non_redis_files_are_skipped() -> None:
    result = get("redis").parse([SourceFile("r/README.md", b"# Redis\nport 6379 is used\n"),
                                 SourceFile("r/haproxy.cfg", b"global\n    maxconn 100\n")])
    assert result.topologies == []


def test_hostnames_place_only_the_member_they_name() -> None:
    """`replicaof redis-master 6379` puts the master on that host, not the replica."""
    files = {"r/redis-master/redis.conf": "port 6379\nappendonly yes\n",
             "r/redis-replica/redis.conf": "replicaof redis-master 6379\nappendonly yes\n",
             **{f"r/sentinel{i}/sentinel.conf":
                f"sentinel monitor mymaster redis-master 6379 2\nsentinel announce-ip s{i}\n"
                for i in (1, 2, 3)}}
    t, findings = judge("redis", files)
    topo = only(t)
    assert {n.name: (n.role, n.upstream) for n in topo.nodes if n.role != "sentinel"} == {
        "redis-master": ("primary", None), "redis-replica": ("replica", "redis-master")}
    assert denied(findings) == set()


def test_redis_cluster_masters_are_a_declared_set() -> None:
    files = {f"rc/{p}/redis.conf": f"port {p}\ncluster-enabled yes\nbind 10.0.0.{i}\n"
             for i, p in enumerate((7000, 7001, 7002), 1)}
    t, findings = judge("redis", files)
    assert len(only(t).co_masters[0]) == 3
    assert denied(findings) == set()
