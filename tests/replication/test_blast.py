"""redundancy-blast-radius: who is out of service at each moment of a plan (SPEC §11)."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from changeguard.replication.check import check_blast_radius
from changeguard.replication.interface import SourceFile
from changeguard.replication.model import Topology
from changeguard.replication.native import parse_native

HEAD = "apiVersion: changeguard/v1\nkind: ReplicationTopology\n"
PAIR = """
name: apac-gateway
engine: mysql
nodes:
  - {name: db1, role: primary, host: h1.example}
  - {name: db2, role: replica, host: h2.example, upstream: db1}
  - {name: arb, role: witness, host: h3.example}
"""


def topo(body: str = PAIR) -> Topology:
    r = parse_native(SourceFile("db/t.yaml", (HEAD + textwrap.dedent(body)).encode()))
    assert not r.findings
    return r.topologies[0]


@dataclass
class Step:
    kind: str
    targets: list[str]
    minutes: float
    id: str | None = None


PLAN = "changes/CHG-2016-0403.yaml"


def test_the_2016_plan_storage_on_the_replica_is_fine() -> None:
    steps = [Step("config", ["db2"], 5, "s1"), Step("storage", ["db2"], 90, "s2")]
    assert check_blast_radius(steps, [topo()], PLAN, [20, 21]) == []


def test_step_taking_every_data_member_down_denied_with_step_and_nodes() -> None:
    steps = [Step("config", ["db2"], 5, "s1"), Step("stop", ["h1.example", "db2"], 30, "s2")]
    msgs = check_blast_radius(steps, [topo()], PLAN, [20, 21])
    every = [f for f in msgs if "every data-bearing member" in f.message]
    assert len(every) == 1
    f = every[0]
    assert f.rule == "redundancy-blast-radius" and (f.file, f.line) == (PLAN, 21)
    assert "step s2" in f.message and "db1, db2" in f.message and "+5..+35 min" in f.message
    assert f.pointer == "/steps/1"


def test_primary_restart_without_failover_denied() -> None:
    (f,) = check_blast_radius([Step("restart", ["db1"], 10, "s1")], [topo()], PLAN, [7])
    assert "takes primary db1" in f.message and f.line == 7


def test_failover_first_then_restart_old_primary_allowed() -> None:
    steps = [Step("failover", ["db2"], 2, "s1"), Step("restart", ["db1"], 10, "s2")]
    assert check_blast_radius(steps, [topo()], PLAN) == []


def test_failover_after_the_restart_does_not_help() -> None:
    steps = [Step("restart", ["db1"], 10, "s1"), Step("failover", ["db2"], 2, "s2")]
    (f,) = check_blast_radius(steps, [topo()], PLAN)
    assert "step s1" in f.message


def test_new_primary_must_stay_up_after_failover() -> None:
    steps = [Step("failover", ["db2"], 2), Step("restart", ["db2"], 10)]
    (f,) = check_blast_radius(steps, [topo()], PLAN, [3, 4])
    assert "takes primary db2" in f.message and "step 2" in f.message and f.line == 4


def test_whole_topology_target_and_unrelated_targets() -> None:
    (a, b) = check_blast_radius([Step("resync", ["apac-gateway"], 10)], [topo()], PLAN)
    assert {a.message.split(" takes ")[1][:5], b.message.split(" takes ")[1][:5]} == {
        "every", "prima"}
    assert check_blast_radius([Step("restart", ["web1", "lb"], 10)], [topo()], PLAN) == []
    assert check_blast_radius([Step("command", ["db1", "db2"], 10)], [topo()], PLAN) == []


def test_co_masters_survive_losing_one() -> None:
    ring = topo("""
        name: ring
        engine: mysql
        nodes:
          - {name: db1, role: primary, host: a, upstream: db2}
          - {name: db2, role: primary, host: b, upstream: db1}
        co_masters: [[db1, db2]]
        """)
    assert check_blast_radius([Step("restart", ["db1"], 5), Step("restart", ["db2"], 5)],
                              [ring], PLAN) == []


def test_failover_to_a_member_that_cannot_be_promoted_denied() -> None:
    t = topo(PAIR.replace("upstream: db1}", "upstream: db1, tags: [nofailover]}"))
    msgs = [f.message for f in check_blast_radius(
        [Step("failover", ["db2"], 2, "s1"), Step("restart", ["db1"], 5, "s2")], [t], PLAN)]
    assert any("step s1" in m and "can become primary" in m for m in msgs)
    assert any("step s2" in m and "takes primary db1" in m for m in msgs)
