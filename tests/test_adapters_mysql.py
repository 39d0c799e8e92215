"""MySQL/MariaDB: my.cnf members, CHANGE MASTER scripts, host maps, GTID and read_only."""

from __future__ import annotations

from changeguard.replication.transition import check_transitions
from tests.test_adapters_common import corpus, denied, judge, only


def cnf(server_id: int, host: str, *extra: str) -> str:
    return "\n".join(["[mysqld]", f"server_id={server_id}", "log_bin", f"report-host={host}",
                      *extra]) + "\n"


def change_master(host: str) -> str:
    return f"mysql -uroot -e \"CHANGE MASTER TO MASTER_HOST='{host}', MASTER_USER='r'\"\n"


def test_orchestrator_comaster_corpus_group() -> None:
    topologies, findings = judge("mysql", corpus("mysql/orchestrator-vagrant-comaster"))
    t = only(topologies)
    assert {n.name: (n.upstream, n.server_id, n.host) for n in t.nodes} == {
        "db1": ("db2", 1, "192.168.57.201"), "db2": ("db1", 2, "192.168.57.202"),
        "db3": ("db1", 3, "192.168.57.203"), "db4": ("db2", 4, "192.168.57.204")}
    assert denied(findings) == {"replication-no-cycle", "replication-single-primary",
                                "replication-replica-read-only"}
    ro = {f.file for f in findings if f.rule == "replication-replica-read-only"}
    assert {"mysql/orchestrator-vagrant-comaster/db3-my.cnf",
            "mysql/orchestrator-vagrant-comaster/db4-my.cnf"} <= ro


def test_single_gtid_server_passes() -> None:
    t, findings = judge("mysql", corpus("mysql/vitess-external-db-master_mysql57.cnf"))
    n = only(t).nodes[0]
    assert (n.role, n.server_id, n.param("gtid_mode"), n.param("enforce_gtid_consistency")) == (
        "primary", 1, "ON", "ON")
    assert denied(findings) == set()


def test_healthy_primary_with_read_only_replicas() -> None:
    files = {"db/a-my.cnf": cnf(1, "a"), "db/b-my.cnf": cnf(2, "b", "read_only=ON"),
             "db/c-my.cnf": cnf(3, "c", "super-read-only = 1"),
             "db/b-setup.sh": change_master("a"), "db/c-setup.sql":
             "CHANGE REPLICATION SOURCE TO SOURCE_HOST='a', SOURCE_AUTO_POSITION=1;\n"}
    t, findings = judge("mysql", files)
    assert {n.name: n.role for n in only(t).nodes} == {"a": "primary", "b": "replica",
                                                       "c": "replica"}
    assert denied(findings) == set()


def test_duplicate_server_id() -> None:
    files = {"db/a-my.cnf": cnf(1, "a"), "db/b-my.cnf": cnf(1, "b", "read_only=ON"),
             "db/b-init.sh": change_master("a")}
    _, findings = judge("mysql", files)
    [f] = [f for f in findings if f.rule == "replication-unique-ids"]
    assert f.file == "db/b-my.cnf" and f.line == 2


def test_writable_replica_is_reported_at_its_file() -> None:
    files = {"db/a-my.cnf": cnf(1, "a"), "db/b-my.cnf": cnf(2, "b", "read_only=OFF"),
             "db/b-init.sh": change_master("a")}
    _, findings = judge("mysql", files)
    [f] = [f for f in findings if f.rule == "replication-replica-read-only"]
    assert (f.file, f.line) == ("db/b-my.cnf", 5)


def test_gtid_on_without_enforce_consistency() -> None:
    _, findings = judge("mysql", {"db/a-my.cnf": cnf(1, "a", "gtid_mode=ON")})
    assert "replication-standby-params" in denied(findings)


def test_gtid_transition_moves_one_step_at_a_time() -> None:
    before, _ = judge("mysql", {"db/a-my.cnf": cnf(1, "a", "gtid_mode=OFF")})
    jump, _ = judge("mysql", {"db/a-my.cnf": cnf(1, "a", "gtid_mode=ON",
                                                 "enforce_gtid_consistency=ON")})
    step, _ = judge("mysql", {"db/a-my.cnf": cnf(1, "a", "gtid_mode=OFF_PERMISSIVE")})
    [f] = check_transitions(before, jump)
    assert f.rule == "replication-transition" and (f.file, f.line) == ("db/a-my.cnf", 5)
    assert check_transitions(before, step) == []


def test_upstream_outside_the_group() -> None:
    files = {"db/a-my.cnf": cnf(1, "a"), "db/b-my.cnf": cnf(2, "b", "read_only=1"),
             "db/b-init.sh": change_master("10.9.9.9")}
    _, findings = judge("mysql", files)
    assert "replication-upstream-exists" in denied(findings)


def test_hosts_file_and_client_host_assign_statements() -> None:
    files = {"db/one.cnf": cnf(1, "alpha"), "db/two.cnf": cnf(2, "beta", "read_only=ON"),
             "db/hosts": "10.0.0.1 alpha\n10.0.0.2 beta\n",
             "db/replication.sh": "mysql -h beta -e \"CHANGE MASTER TO MASTER_HOST='10.0.0.1'\"\n"}
    t, findings = judge("mysql", files)
    beta = only(t).node("beta")
    assert beta is not None and beta.upstream == "alpha" and beta.host == "10.0.0.2"
    assert denied(findings) == set()


def test_unattributable_statement_warns_and_docs_are_ignored() -> None:
    files = {"db/a.cnf": cnf(1, "a"), "db/b.cnf": cnf(2, "b"), "db/c.cnf": cnf(3, "c"),
             "db/misc.sql": "CHANGE MASTER TO MASTER_HOST='a';\n",
             "db/README.md": "CHANGE MASTER TO MASTER_HOST='zzz'\n"}
    _, findings = judge("mysql", files)
    [w] = [f for f in findings if f.rule == "config-schema"]
    assert w.severity == "warn" and w.file == "db/misc.sql"
    assert "replication-upstream-exists" not in denied(findings)


def test_mariadb_engine_and_loose_prefix() -> None:
    t, _ = judge("mysql", {"db/m.cnf": "[mariadb]\nloose-server-id = 5\ngtid_domain_id=1\n"})
    n = only(t).nodes[0]
    assert only(t).engine == "mariadb" and n.server_id == 5


def test_server_per_directory_layout() -> None:
    """`primary/my.cnf` + `replica/{my.cnf,init.sql}`: servers named by directory, one group."""
    files = {"db/primary/my.cnf": "[mysqld]\nserver-id=1\nlog-bin\n",
             "db/replica/my.cnf": "[mysqld]\nserver-id=2\nread-only=1\n",
             "db/replica/init.sql": "CHANGE MASTER TO MASTER_HOST='primary', "
                                    "MASTER_AUTO_POSITION=1;\n"}
    t, findings = judge("mysql", files)
    topo = only(t)
    assert topo.name == "db"
    assert {n.name: n.upstream for n in topo.nodes} == {"primary": None, "replica": "primary"}
    assert denied(findings) == set()
    files["db/replica/my.cnf"] = "[mysqld]\nserver-id=1\n"
    assert {"replication-unique-ids", "replication-replica-read-only"} <= denied(
        judge("mysql", files)[1])


def test_lone_replica_of_an_external_source_passes() -> None:
    files = {"db/r-my.cnf": cnf(2, "r"), "db/r-init.sql":
             "CHANGE REPLICATION SOURCE TO SOURCE_HOST='elsewhere.example';\n"}
    t, findings = judge("mysql", files)
    assert only(t).upstream_cluster == "elsewhere.example"
    assert denied(findings) == set()


def _galera(i: int, addr: str) -> str:
    return (f"[galera]\nwsrep_on=ON\nwsrep_provider=/usr/lib/galera/libgalera_smm.so\n"
            f"wsrep_cluster_address={addr}\nwsrep_node_address=10.0.0.{i}\n[mysqld]\n"
            f"server_id={i}\n")


def test_galera_members_are_co_masters_and_need_three() -> None:
    three = "gcomm://10.0.0.1,10.0.0.2,10.0.0.3"
    files = {f"g/node{i}.cnf": _galera(i, three) for i in (1, 2, 3)}
    t, findings = judge("mysql", files)
    topo = only(t)
    assert topo.engine == "mariadb" and len(topo.co_masters[0]) == 3
    assert denied(findings) == set()
    two = {f"g/node{i}.cnf": _galera(i, "gcomm://10.0.0.1,10.0.0.2") for i in (1, 2)}
    [f] = [f for f in judge("mysql", two)[1] if f.severity == "deny"]
    assert (f.rule, f.file, f.line) == ("replication-quorum", "g/node1.cnf", 4)


def test_group_replication_single_primary() -> None:
    def gr(i: int) -> str:
        return (f"[mysqld]\nserver_id={i}\ngtid_mode=ON\nenforce_gtid_consistency=ON\n"
                "group_replication_group_name=aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa\n"
                "group_replication_group_seeds=h1:33061,h2:33061,h3:33061\n"
                f"report_host=h{i}\n")

    t, findings = judge("mysql", {f"gr/h{i}.cnf": gr(i) for i in (1, 2, 3)})
    assert [n.role for n in only(t).nodes] == ["primary", "replica", "replica"]
    assert denied(findings) == set()


def test_semi_sync_waits_for_more_replicas_than_exist() -> None:
    files = {"db/a-my.cnf": cnf(1, "a", "rpl_semi_sync_master_enabled=1",
                                "rpl_semi_sync_master_wait_for_slave_count=2"),
             "db/b-my.cnf": cnf(2, "b", "read_only=ON"), "db/b-init.sh": change_master("a")}
    _, findings = judge("mysql", files)
    [f] = [f for f in findings if f.rule == "replication-sync-consistent"]
    assert (f.file, f.line) == ("db/a-my.cnf", 5)


def test_docker_style_names_and_exec_targets() -> None:
    files = {"c/master/my.cnf": "[mysqld]\nserver-id=1\nlog-bin\n",
             "c/slave1/my.cnf": "[mysqld]\nserver-id=2\nread-only=1\n",
             "c/slave2/my.cnf": "[mysqld]\nserver-id=3\nread-only=1\n",
             "c/setup.sh": "".join(
                 f"docker exec -i mysql-{n} mysql -uroot -e \"CHANGE MASTER TO "
                 "MASTER_HOST='mysql-master', MASTER_USER='r'\"\n" for n in ("slave1", "slave2"))}
    t, findings = judge("mysql", files)
    assert {n.name: n.upstream for n in only(t).nodes} == {
        "master": None, "slave1": "master", "slave2": "master"}
    assert denied(findings) == set()


def test_replica_roles_implied_by_read_only_without_scripts() -> None:
    files = {"p/master.cnf": cnf(1, "master"),
             "p/slave.cnf": cnf(2, "slave", "read_only=1", "relay-log=relay-bin")}
    t, findings = judge("mysql", files)
    assert {n.name: n.upstream for n in only(t).nodes} == {"master": None, "slave": "master"}
    assert denied(findings) == set()
    files["p/slave.cnf"] = cnf(2, "slave")  # nothing says which one replicates
    assert "replication-single-primary" in denied(judge("mysql", files)[1])
