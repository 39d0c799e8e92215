"""Patroni member files → topology: scope grouping, election, timing, sync, tags."""

from __future__ import annotations

from changeguard.replication.adapters import get
from changeguard.replication.interface import SourceFile
from tests.test_adapters_common import corpus, denied, judge, only

_MEMBER = """scope: {scope}
name: {name}
restapi:
  connect_address: {host}:8008
bootstrap:
  dcs:
    ttl: {ttl}
    loop_wait: {loop_wait}
    retry_timeout: 10
postgresql:
  connect_address: {host}:5432
  parameters:
    max_connections: 100
tags:
{tags}
"""


def member(name: str, host: str, *, scope: str = "demo", ttl: int = 30, loop_wait: int = 10,
           tags: str = "  nofailover: false") -> str:
    return _MEMBER.format(scope=scope, name=name, host=host, ttl=ttl, loop_wait=loop_wait,
                          tags=tags)


def test_batman_corpus_group() -> None:
    topologies, findings = judge("patroni", corpus("patroni/batman"))
    t = only(topologies)
    assert t.name == "batman" and t.engine == "postgresql"
    assert [(n.name, n.role, n.host, n.port) for n in t.nodes] == [
        ("postgresql0", "primary", "127.0.0.1", 5432),
        ("postgresql1", "replica", "127.0.0.1", 5433),
        ("postgresql2", "replica", "127.0.0.1", 5434)]
    assert (t.settings.ttl, t.settings.loop_wait, t.settings.retry_timeout) == (30, 10, 10)
    assert t.settings.line_of("ttl") == 54
    assert denied(findings) == {"replication-distinct-failure-domains"}


def test_distinct_hosts_pass() -> None:
    _, findings = judge("patroni", {f"p/{n}.yml": member(n, f"10.0.0.{i}")
                                    for i, n in enumerate(("a", "b", "c"), 1)})
    assert denied(findings) == set()


def test_ttl_rule_violation_names_the_line() -> None:
    files = {"p/a.yml": member("a", "10.0.0.1", ttl=20), "p/b.yml": member("b", "10.0.0.2")}
    _, findings = judge("patroni", files)
    [f] = [f for f in findings if f.rule == "replication-ttl-rule"]
    assert f.file == "p/a.yml" and f.line == 7


def test_replicatefrom_missing_member() -> None:
    files = {"p/a.yml": member("a", "10.0.0.1"),
             "p/b.yml": member("b", "10.0.0.2", tags="  replicatefrom: ghost")}
    topologies, findings = judge("patroni", files)
    b = only(topologies).node("b")
    assert b is not None and b.upstream == "ghost" and b.line_of("upstream") == 15
    assert "replication-upstream-exists" in denied(findings)


def test_cascading_replica_and_nofailover() -> None:
    files = {"p/a.yml": member("a", "10.0.0.1", tags="  nofailover: true"),
             "p/b.yml": member("b", "10.0.0.2"),
             "p/c.yml": member("c", "10.0.0.3", tags="  replicatefrom: a")}
    t = only(judge("patroni", files)[0])
    roles = {n.name: (n.role, n.upstream) for n in t.nodes}
    assert roles == {"a": ("replica", "b"), "b": ("primary", None), "c": ("replica", "a")}
    assert "nofailover" in (t.node("a") or t.nodes[0]).tags


def test_scopes_split_into_topologies_and_duplicate_names() -> None:
    files = {"p/a.yml": member("a", "10.0.0.1", scope="one"),
             "p/b.yml": member("a", "10.0.0.2", scope="one"),
             "p/c.yml": member("c", "10.0.0.3", scope="two")}
    topologies, findings = judge("patroni", files)
    assert sorted(t.name for t in topologies) == ["one", "two"]
    assert "replication-unique-ids" in denied(findings)


def test_sync_mode_with_too_few_standbys() -> None:
    text = member("a", "10.0.0.1").replace("    retry_timeout: 10\n", "    retry_timeout: 10\n"
                                            "    synchronous_mode: true\n"
                                            "    synchronous_node_count: 2\n")
    t, findings = judge("patroni", {"p/a.yml": text, "p/b.yml": member("b", "10.0.0.2")})
    sync = only(t).sync
    assert sync is not None and (sync.mode, sync.count) == ("on", 2)
    assert "replication-sync-consistent" in denied(findings)


def test_missing_scope_is_reported_and_supporting_files_ignored() -> None:
    text = "name: lone\npostgresql:\n  connect_address: 10.0.0.9:5432\n"
    result = get("patroni").parse([SourceFile("p/lone.yml", text.encode()),
                                   SourceFile("p/haproxy.cfg", b"global\n  maxconn 100\n"),
                                   SourceFile("p/README.md", b"# Patroni\n\n* item: x\n")])
    assert [f.rule for f in result.findings] == ["config-schema"]
    assert len(result.topologies) == 1


def test_lone_member_file_keeps_the_ttl_rule_only() -> None:
    text = member("a", "10.0.0.1", ttl=25).replace(
        "    retry_timeout: 10\n", "    retry_timeout: 10\n    synchronous_mode: true\n")
    t, findings = judge("patroni", {"p/patroni.yml": text})
    assert only(t).sync is None
    assert denied(findings) == {"replication-ttl-rule"}
