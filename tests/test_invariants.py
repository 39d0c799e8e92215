"""Replication invariants on native topologies: one passing and one failing case each."""

from __future__ import annotations

import dataclasses
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from changeguard.findings import Finding
from changeguard.replication.engine import check_all
from changeguard.replication.interface import SourceFile
from changeguard.replication.invariants import CHECKS
from changeguard.replication.model import (
    ENGINES,
    ROLES,
    MemberCount,
    Node,
    SyncSettings,
    Topology,
    find_cycles,
)
from changeguard.replication.native import parse_native
from changeguard.rules import RULES

HEAD = "apiVersion: changeguard/v1\nkind: ReplicationTopology\n"


def topo(body: str, path: str = "db/t.topology.yaml") -> Topology:
    """A native topology from YAML text (HEAD prepended); fails on schema problems."""
    result = parse_native(SourceFile(path, (HEAD + textwrap.dedent(body)).encode()))
    assert not result.findings, result.findings
    (t,) = result.topologies
    return t


def run(rule: str, t: Topology) -> list[Finding]:
    return list(CHECKS[rule](t))


PG_OK = """
name: pg
engine: postgresql
nodes:
  - {name: pg1, role: primary, host: h1, zone: a, params: {max_connections: 100}}
  - {name: pg2, role: replica, host: h2, zone: b, upstream: pg1, sync: true,
     params: {max_connections: 100}}
  - {name: pg3, role: replica, host: h3, zone: c, upstream: pg1, params: {max_connections: 200}}
sync: {mode: on, count: 1, standbys: [pg2]}
settings: {ttl: 30, loop_wait: 10, retry_timeout: 10}
"""

MYSQL_OK = """
name: my
engine: mysql
nodes:
  - {name: db1, role: primary, host: 10.0.0.1, server_id: 1,
     params: {gtid_mode: "ON", enforce_gtid_consistency: "ON"}}
  - {name: db2, role: replica, host: 10.0.0.2, upstream: "10.0.0.1:3306", server_id: 2,
     params: {read_only: "ON", gtid_mode: "ON", enforce_gtid_consistency: "ON"}}
"""

MONGO_OK = """
name: rs0
engine: mongodb
nodes:
  - {name: m1, role: primary, host: m1.example, priority: 2}
  - {name: m2, role: replica, host: m2.example, priority: 1}
  - {name: arb, role: arbiter, host: arb.example, priority: 0}
"""

REDIS_OK = """
name: cache
engine: redis
nodes:
  - {name: r1, role: primary, host: h1, port: 6379}
  - {name: r2, role: replica, host: h2, port: 6379, upstream: "h1:6379"}
  - {name: s1, role: sentinel, host: h1, port: 26379, upstream: r1}
  - {name: s2, role: sentinel, host: h2, port: 26379, upstream: r1}
  - {name: s3, role: sentinel, host: h3, port: 26379, upstream: "h1:6379"}
settings: {sentinel_quorum: 2}
"""


@pytest.mark.parametrize("body", [PG_OK, MYSQL_OK, MONGO_OK, REDIS_OK])
def test_good_topologies_pass_every_invariant(body: str) -> None:
    assert check_all([topo(body)]) == []


# --- single-primary ------------------------------------------------------------------


def test_two_primaries_denied_at_second_role_line() -> None:
    t = topo(MONGO_OK.replace("role: replica", "role: primary"))
    (f,) = run("replication-single-primary", t)
    assert "2 primaries" in f.message and f.line == 8 and f.pointer == "/nodes/1/role"


def test_no_primary_denied() -> None:
    t = topo(MONGO_OK.replace("{name: m1, role: primary", "{name: m1, role: replica"))
    (f,) = run("replication-single-primary", t)
    assert "no primary" in f.message


def test_co_master_pair_accepted_as_the_primary() -> None:
    t = topo("""
        name: ring
        engine: mysql
        nodes:
          - {name: db1, role: replica, host: a, upstream: db2, params: {read_only: 1}}
          - {name: db2, role: replica, host: b, upstream: db1, params: {read_only: 1}}
        co_masters: [[db1, db2]]
        """)
    assert run("replication-single-primary", t) == []
    assert run("replication-no-cycle", t) == []


def test_sentinels_must_agree_on_the_primary() -> None:
    t = topo(REDIS_OK.replace("{name: s2, role: sentinel, host: h2, port: 26379, upstream: r1}",
                              "{name: s2, role: sentinel, host: h2, port: 26379, upstream: r2}"))
    msgs = [f.message for f in run("replication-single-primary", t)]
    assert any("disagree" in m for m in msgs)


# --- upstream-exists -----------------------------------------------------------------


def test_upstream_by_address_resolves() -> None:
    assert run("replication-upstream-exists", topo(MYSQL_OK)) == []


def test_missing_upstream_denied_at_its_line() -> None:
    t = topo(MYSQL_OK.replace('upstream: "10.0.0.1:3306"', 'upstream: "10.0.0.9:3306"'))
    (f,) = run("replication-upstream-exists", t)
    assert "10.0.0.9:3306" in f.message and f.line == 9


def test_upstream_may_not_be_an_arbiter() -> None:
    t = topo(MONGO_OK.replace("priority: 1}", "priority: 1, upstream: arb}"))
    (f,) = run("replication-upstream-exists", t)
    assert "arbiter" in f.message


# --- no-cycle ------------------------------------------------------------------------

CYCLE = """
name: loop
engine: mysql
nodes:
  - {name: db1, role: replica, host: a, upstream: db2, params: {read_only: 1}}
  - {name: db2, role: replica, host: b, upstream: db1, params: {read_only: 1}}
  - {name: db3, role: replica, host: c, upstream: db1, params: {read_only: 1}}
"""


def test_undeclared_cycle_denied() -> None:
    (f,) = run("replication-no-cycle", topo(CYCLE))
    assert "db1 -> db2 -> db1" in f.message and f.line == 7


def test_tree_has_no_cycle() -> None:
    assert run("replication-no-cycle", topo(PG_OK)) == []


def test_find_cycles_reports_each_cycle_once() -> None:
    assert find_cycles({"a": "b", "b": "a", "c": "a", "d": "d"}) == [["a", "b"], ["d"]]


# --- sync-consistent -----------------------------------------------------------------


def test_sync_standby_naming_unknown_node_denied() -> None:
    t = topo(PG_OK.replace("standbys: [pg2]", "standbys: [pg9]"))
    msgs = [f.message for f in run("replication-sync-consistent", t)]
    assert any("pg9" in m and "not a member" in m for m in msgs)


def test_sync_count_above_standbys_denied() -> None:
    t = topo(PG_OK.replace("count: 1", "count: 3"))
    (f,) = run("replication-sync-consistent", t)
    assert "count 3" in f.message and f.line == 11 and f.pointer == "/sync/count"


def test_min_above_max_sync_denied() -> None:
    t = topo(PG_OK.replace("sync: {mode: on, count: 1, standbys: [pg2]}",
                           "sync: {mode: quorum, min_sync: 2, max_sync: 1}"))
    msgs = [f.message for f in run("replication-sync-consistent", t)]
    assert any("min_sync 2 > max_sync 1" in m for m in msgs)


def test_cascading_sync_standby_denied() -> None:
    t = topo(PG_OK.replace("upstream: pg1, params: {max_connections: 200}",
                           "upstream: pg2, sync: true, params: {max_connections: 200}").replace(
        "standbys: [pg2]", "standbys: [pg2, pg3]"))
    msgs = [f.message for f in run("replication-sync-consistent", t)]
    assert any("cascading" in m for m in msgs)


def test_sync_off_with_count_is_unused_not_an_error() -> None:
    t = topo(PG_OK.replace("sync: {mode: on, count: 1, standbys: [pg2]}",
                           "sync: {mode: 'off', count: 1}").replace(" sync: true,", ""))
    assert run("replication-sync-consistent", t) == []


# --- unique-ids ----------------------------------------------------------------------


def test_duplicate_server_id_denied() -> None:
    t = topo(MYSQL_OK.replace("server_id: 2", "server_id: 1"))
    (f,) = run("replication-unique-ids", t)
    assert "server_id 1" in f.message and f.pointer == "/nodes/1/server_id"


def test_duplicate_name_denied() -> None:
    t = topo(MONGO_OK.replace("name: m2", "name: m1"))
    (f,) = run("replication-unique-ids", t)
    assert "'m1' is used twice" in f.message


def test_unique_ids_pass() -> None:
    assert run("replication-unique-ids", topo(MYSQL_OK)) == []


# --- distinct-failure-domains --------------------------------------------------------


def test_members_on_one_host_with_different_ports_share_a_domain() -> None:
    t = topo("""
        name: batman
        engine: postgresql
        nodes:
          - {name: p0, role: primary, host: 127.0.0.1, port: 5432}
          - {name: p1, role: replica, host: localhost, port: 5433}
        """)
    (f,) = run("replication-distinct-failure-domains", t)
    assert "share host 127.0.0.1" in f.message and f.line == 8


def test_sentinels_on_one_host_denied_but_beside_data_nodes_fine() -> None:
    assert run("replication-distinct-failure-domains", topo(REDIS_OK)) == []
    t = topo(REDIS_OK.replace("name: s3, role: sentinel, host: h3", "name: s3, role: sentinel, "
                              "host: h2"))
    (f,) = run("replication-distinct-failure-domains", t)
    assert "s2:26379, s3:26379" in f.message


def test_arbiter_beside_a_data_node_denied() -> None:
    t = topo(MONGO_OK.replace("host: arb.example", "host: m2.example"))
    (f,) = run("replication-distinct-failure-domains", t)
    assert "arb" in f.message


def test_all_members_in_one_zone_denied() -> None:
    t = topo(PG_OK.replace("zone: b", "zone: a").replace("zone: c", "zone: a"))
    (f,) = run("replication-distinct-failure-domains", t)
    assert "zone a" in f.message


# --- quorum --------------------------------------------------------------------------


def test_even_mongodb_voters_denied() -> None:
    t = topo(MONGO_OK.replace("  - {name: arb, role: arbiter, host: arb.example, priority: 0}\n",
                              ""))
    (f,) = run("replication-quorum", t)
    assert "2 voting members" in f.message


def test_non_voter_with_priority_and_more_than_seven_voters() -> None:
    nodes = "".join(f"  - {{name: m{i}, role: replica, host: h{i}}}\n" for i in range(2, 10))
    t = topo("name: big\nengine: mongodb\nnodes:\n  - {name: m1, role: primary, host: h1}\n"
             + nodes + "  - {name: m10, role: replica, host: h10, votes: 0, priority: 1}\n")
    msgs = [f.message for f in run("replication-quorum", t)]
    assert any("at most 7" in m for m in msgs)
    assert any("m10: a non-voting member must have priority 0" in m for m in msgs)


def test_sentinel_quorum_above_sentinels_denied_at_its_line() -> None:
    t = topo(REDIS_OK.replace("sentinel_quorum: 2", "sentinel_quorum: 4"))
    (f,) = run("replication-quorum", t)
    assert "quorum 4 but 3 sentinel(s)" in f.message and f.line == 12


def test_operator_member_count_minimum() -> None:
    small = Topology("pxc", "mysql", "kubernetes", sizes=(
        MemberCount("spec.pxc.size", 1, 3, file="cr.yaml", line=12),), file="cr.yaml")
    (f,) = run("replication-quorum", small)
    assert f.line == 12 and "spec.pxc.size 1 < the minimum of 3" in f.message
    external = Topology("rs0", "mongodb", "kubernetes", sizes=(
        MemberCount("replsets[rs0].size", 1, 3, extra_voters=2),))
    assert run("replication-quorum", external) == []


# --- standby-params ------------------------------------------------------------------


def test_standby_below_primary_max_connections_denied() -> None:
    t = topo(PG_OK.replace("max_connections: 200", "max_connections: 50"))
    (f,) = run("replication-standby-params", t)
    assert "max_connections 50 < primary's 100" in f.message and f.line == 10


def test_gtid_without_enforce_consistency_denied() -> None:
    t = topo(MYSQL_OK.replace('params: {gtid_mode: "ON", enforce_gtid_consistency: "ON"}}',
                              'params: {gtid_mode: "ON"}}'))
    (f,) = run("replication-standby-params", t)
    assert "enforce_gtid_consistency" in f.message


def test_wal_level_minimal_on_primary_denied() -> None:
    t = topo(PG_OK.replace("params: {max_connections: 100}}",
                           "params: {max_connections: 100, wal_level: minimal}}", 1))
    (f,) = run("replication-standby-params", t)
    assert "wal_level minimal" in f.message


def test_standby_params_pass() -> None:
    assert run("replication-standby-params", topo(PG_OK)) == []


# --- ttl-rule ------------------------------------------------------------------------


def test_ttl_boundary_is_allowed() -> None:
    assert run("replication-ttl-rule", topo(PG_OK)) == []


def test_ttl_too_short_denied() -> None:
    t = topo(PG_OK.replace("retry_timeout: 10", "retry_timeout: 15"))
    (f,) = run("replication-ttl-rule", t)
    assert "= 40 > ttl 30" in f.message and f.line == 12


# --- replica-read-only ---------------------------------------------------------------


def test_writable_replica_denied() -> None:
    t = topo(MYSQL_OK.replace('read_only: "ON", ', ""))
    (f,) = run("replication-replica-read-only", t)
    assert "db2" in f.message and f.line == 9


def test_read_only_replica_passes_and_postgres_is_exempt() -> None:
    assert run("replication-replica-read-only", topo(MYSQL_OK)) == []
    assert run("replication-replica-read-only", topo(PG_OK)) == []


# --- cross-cluster -------------------------------------------------------------------


def _cluster(name: str, primary: str | None, upstream: str | None) -> Topology:
    nodes = (Node(f"{name}-1", "primary"), Node(f"{name}-2", "replica"))
    return Topology(name, "postgresql", "kubernetes", nodes=nodes, primary_cluster=primary,
                    upstream_cluster=upstream, file=f"{name}.yaml", line=1)


def test_distributed_replica_cluster_is_not_a_cycle() -> None:
    a = _cluster("dc-a", "dc-a", None)
    b = _cluster("dc-b", "dc-a", "dc-a")
    assert check_all([a, b]) == []


def test_two_primary_clusters_and_cluster_cycles_denied() -> None:
    rules = {f.rule for f in check_all([_cluster("a", "a", None), _cluster("b", "a", None)])}
    assert rules == {"replication-single-primary"}
    rules = {f.rule for f in check_all([_cluster("a", None, "b"), _cluster("b", None, "a")])}
    assert "replication-no-cycle" in rules


# --- robustness: any model an adapter can build is judged without crashing ----------

NAMES = ["a", "b", "c", "d", "10.0.0.1:5432", "h1"]
nodes_st = st.lists(st.builds(
    Node, name=st.sampled_from(NAMES[:4]), role=st.sampled_from(ROLES),
    host=st.none() | st.sampled_from(["h1", "h2", "localhost", "127.0.0.1", "10.0.0.1"]),
    port=st.none() | st.sampled_from([5432, 5433]), zone=st.none() | st.sampled_from("xy"),
    upstream=st.none() | st.sampled_from(NAMES), sync=st.none() | st.booleans(),
    server_id=st.none() | st.integers(0, 3), priority=st.none() | st.sampled_from([0.0, 1.0]),
    votes=st.none() | st.integers(0, 2), tags=st.frozensets(st.sampled_from(["nosync",
                                                                              "nofailover"])),
    params=st.dictionaries(st.sampled_from(["max_connections", "gtid_mode", "read_only",
                                            "wal_level", "log_bin", "quorum"]),
                           st.sampled_from([None, 0, 1, 100, "ON", "OFF", "minimal", "x"]))),
    max_size=6)
sync_st = st.none() | st.builds(
    SyncSettings, mode=st.none() | st.sampled_from(["off", "on", "quorum"]),
    count=st.none() | st.integers(0, 4), min_sync=st.none() | st.integers(0, 4),
    max_sync=st.none() | st.integers(0, 4),
    standby_names=st.lists(st.sampled_from([*NAMES, "*"]), max_size=3).map(tuple))


@settings(max_examples=300, deadline=None)
@given(nodes_st, st.sampled_from(ENGINES), sync_st,
       st.lists(st.lists(st.sampled_from(NAMES[:4]), min_size=2, max_size=3).map(tuple),
                max_size=2).map(tuple))
def test_invariants_never_crash(nodes: list[Node], engine: str, sync: SyncSettings | None,
                                co: tuple[tuple[str, ...], ...]) -> None:
    t = Topology("t", engine, "test", nodes=tuple(nodes), sync=sync, co_masters=co,
                 upstream_cluster="t" if len(nodes) == 3 else None)
    for f in check_all([t, dataclasses.replace(t, name="u", upstream_cluster="t")]):
        assert f.rule in RULES and (f.line is None or f.line >= 1)
