"""Transition rules HEAD → proposed: MongoDB voters, GTID steps, sync standby + restart."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

from changeguard.replication.check import check_transitions
from changeguard.replication.interface import SourceFile
from changeguard.replication.model import Topology
from changeguard.replication.native import parse_native

HEAD = "apiVersion: changeguard/v1\nkind: ReplicationTopology\n"


def topo(body: str) -> Topology:
    r = parse_native(SourceFile("db/t.yaml", (HEAD + textwrap.dedent(body)).encode()))
    assert not r.findings, r.findings
    return r.topologies[0]


@dataclass
class Step:
    kind: str
    targets: list[str]
    minutes: float = 10
    id: str | None = None
    extra: list[str] = field(default_factory=list)


MONGO = """
name: rs0
engine: mongodb
nodes:
  - {name: a, role: primary, host: a}
  - {name: b, role: replica, host: b}
  - {name: c, role: replica, host: c}
"""


def test_one_voting_member_per_reconfig_is_allowed() -> None:
    after = topo(MONGO + "  - {name: d, role: replica, host: d, votes: 0, priority: 0}\n"
                 "  - {name: e, role: replica, host: e, votes: 0, priority: 0}\n")
    assert check_transitions([topo(MONGO)], [after]) == []
    after = topo(MONGO.replace("  - {name: c, role: replica, host: c}\n", ""))
    assert check_transitions([topo(MONGO)], [after]) == []


def test_two_voting_members_in_one_reconfig_denied() -> None:
    after = topo(MONGO + "  - {name: d, role: replica, host: d}\n"
                 "  - {name: e, role: replica, host: e}\n")
    (f,) = check_transitions([topo(MONGO)], [after])
    assert f.rule == "replication-transition" and "added d, e" in f.message
    assert f.line == 11 and f.file == "db/t.yaml"  # the last added voter, e


MYSQL = """
name: my
engine: mysql
nodes:
  - {name: db1, role: primary, host: a, server_id: 1, params: {gtid_mode: GTID}}
  - {name: db2, role: replica, host: b, server_id: 2, upstream: db1, params: {read_only: 1}}
"""


def test_gtid_mode_one_step_at_a_time() -> None:
    before = topo(MYSQL.replace("GTID", "OFF_PERMISSIVE"))
    ok = topo(MYSQL.replace("GTID", "ON_PERMISSIVE"))
    assert check_transitions([before], [ok]) == []
    jump = topo(MYSQL.replace("GTID", "'ON'"))
    (f,) = check_transitions([before], [jump])
    assert "OFF_PERMISSIVE -> ON skips 1 step" in f.message and f.line == 7
    assert f.pointer == "/nodes/0/params/gtid_mode"


def test_unset_gtid_mode_counts_as_off() -> None:
    before = topo(MYSQL.replace(", params: {gtid_mode: GTID}", ""))
    (f,) = check_transitions([before], [topo(MYSQL.replace("GTID", "ON_PERMISSIVE"))])
    assert "OFF -> ON_PERMISSIVE" in f.message


PG = """
name: pg
engine: postgresql
nodes:
  - {name: p1, role: primary, host: a}
  - {name: p2, role: replica, host: b, sync: true}
  - {name: p3, role: replica, host: c}
"""


def test_removing_only_sync_standby_with_primary_restart_denied() -> None:
    after = topo(PG.replace(", sync: true", ""))
    steps = [Step("config", ["p2"], id="s1"), Step("restart", ["p1"], id="s2")]
    (f,) = check_transitions([topo(PG)], [after], steps, "changes/CHG-1.yaml", [10, 12])
    assert "only synchronous standby p2" in f.message and "(step s2)" in f.message
    assert (f.file, f.line, f.pointer) == ("changes/CHG-1.yaml", 12, "/steps/1")


def test_sync_standby_removal_without_primary_restart_is_allowed() -> None:
    after = topo(PG.replace(", sync: true", ""))
    assert check_transitions([topo(PG)], [after], [Step("restart", ["p3"])]) == []
    # keeping the standby while restarting the primary is also fine (blast radius judges that)
    assert check_transitions([topo(PG)], [topo(PG)], [Step("restart", ["p1"])]) == []


def test_unrelated_topologies_are_not_paired() -> None:
    other = topo(MONGO.replace("name: rs0", "name: rs1") + "  - {name: d, role: replica, "
                 "host: d}\n  - {name: e, role: replica, host: e}\n")
    assert check_transitions([topo(MONGO)], [other]) == []


def test_moving_a_voter_counts_as_a_voting_change() -> None:
    after = topo(MONGO.replace("host: b}", "host: b2}") + "  - {name: d, role: replica, "
                 "host: d, votes: 1}\n")
    (f,) = check_transitions([topo(MONGO)], [after])
    assert "added d; moved b" in f.message
    one = topo(MONGO.replace("host: b}", "host: b2}"))
    assert check_transitions([topo(MONGO)], [one]) == []
