"""PostgreSQL conf files: members per data directory, standby.signal, sync names, params."""

from __future__ import annotations

from changeguard.replication.adapters import get
from changeguard.replication.interface import SourceFile
from tests.test_adapters_common import denied, judge, only

PRIMARY = ("listen_addresses = '10.0.0.1'\nmax_connections = 200\nwal_level = replica\n"
           "synchronous_standby_names = 'FIRST 1 (s1)'\n")
STANDBY = ("listen_addresses = '10.0.1.{i}'\nmax_connections = {mc}\n"
           "primary_conninfo = 'host={up} port=5432 user=rep application_name=s{i}'\n")


def pair(mc: int = 200, up: str = "10.0.0.1") -> dict[str, str | bytes]:
    return {"pg/primary/postgresql.conf": PRIMARY,
            "pg/s1/postgresql.conf": STANDBY.format(i=1, mc=mc, up=up),
            "pg/s1/standby.signal": b""}


def test_primary_standby_pair_passes() -> None:
    t, findings = judge("postgresql", pair())
    topo = only(t)
    assert {n.name: (n.role, n.upstream, n.host) for n in topo.nodes} == {
        "primary": ("primary", None, "10.0.0.1"), "s1": ("replica", "primary", "10.0.1.1")}
    assert topo.sync is not None and topo.sync.standby_names == ("s1",)
    assert denied(findings) == set()


def test_standby_params_below_primary() -> None:
    _, findings = judge("postgresql", pair(mc=100))
    [f] = [f for f in findings if f.rule == "replication-standby-params"]
    assert (f.file, f.line) == ("pg/s1/postgresql.conf", 2)


def test_default_params_count_for_standbys() -> None:
    files = pair()
    files["pg/primary/postgresql.conf"] = PRIMARY + "max_locks_per_transaction = 128\n"
    _, findings = judge("postgresql", files)
    assert any("max_locks_per_transaction" in f.message for f in findings)


def test_upstream_not_in_group_and_sync_name_missing() -> None:
    files = pair(up="10.5.5.5")
    files["pg/primary/postgresql.conf"] = PRIMARY.replace("(s1)", "(ghost)")
    _, findings = judge("postgresql", files)
    assert {"replication-upstream-exists", "replication-sync-consistent"} <= denied(findings)


def test_auto_conf_overrides_and_custom_names() -> None:
    files = {"pg/primary.conf": PRIMARY, "pg/standby1.conf": STANDBY.format(i=1, mc=200,
                                                                            up="10.0.0.1")}
    t, _ = judge("postgresql", files)
    roles = sorted((n.name, n.role) for n in only(t).nodes)
    assert roles == [("primary", "primary"), ("standby1", "replica")]
    files["pg/standby1.conf"] += "max_connections = 50\n"
    assert "replication-standby-params" in denied(judge("postgresql", files)[1])


def test_wal_level_minimal_cannot_feed_standbys() -> None:
    files = pair()
    files["pg/primary/postgresql.conf"] = PRIMARY.replace("replica", "minimal")
    assert "replication-standby-params" in denied(judge("postgresql", files)[1])


def test_supporting_files_are_ignored() -> None:
    result = get("postgresql").parse([SourceFile("pg/README.md", b"# notes\nmax = 1\n"),
                                      SourceFile("pg/pg_hba.conf", b"host all all 0/0 md5\n")])
    assert result.topologies == []


def test_lone_standby_conf_is_judged_alone() -> None:
    """One standby's conf: its primary is outside the group, nothing to compare."""
    files: dict[str, str | bytes] = {
        "pg/postgresql.conf": STANDBY.format(i=1, mc=100, up="db-primary.example")
        + "synchronous_standby_names = '*'\n", "pg/standby.signal": b""}
    t, findings = judge("postgresql", files)
    topo = only(t)
    assert topo.upstream_cluster == "db-primary.example:5432" and topo.sync is None
    assert denied(findings) == set()
