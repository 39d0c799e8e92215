"""The topology model: address resolution, host identity, derived properties."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from changeguard.errors import ConfigError
from changeguard.replication.mapping import FileMapping, mapping_for
from changeguard.replication.model import (
    MemberCount,
    Node,
    Topology,
    normalise_host,
    same_host,
    split_address,
)

T = Topology("t", "mysql", "mysql", nodes=(
    Node("db1", "primary", host="10.0.0.1", port=3306),
    Node("db2", "replica", host="10.0.0.2", port=3306, upstream="10.0.0.1:3306"),
    Node("db3", "replica", host="10.0.0.2", port=3307),
    Node("arb", "arbiter", host="10.0.0.9"),
))


def test_resolve_by_name_address_and_unique_host() -> None:
    assert T.resolve("db2") is T.nodes[1]
    assert T.resolve("10.0.0.1:3306") is T.nodes[0]
    assert T.resolve("10.0.0.1") is T.nodes[0]
    assert T.resolve("10.0.0.2:3307") is T.nodes[2]
    assert T.resolve("10.0.0.2") is None  # two members there: ambiguous
    assert T.resolve("nowhere:1") is None


def test_loopback_spellings_are_one_machine() -> None:
    assert same_host("localhost", "127.0.0.1") and same_host("127.0.1.1", "::1")
    assert same_host("DB1.Example.", "db1.example")
    assert not same_host("10.0.0.1", "10.0.0.10")
    assert normalise_host("[::1]") == "127.0.0.1"


@pytest.mark.parametrize(("ref", "want"), [
    ("h:5432", ("h", 5432)), ("h", ("h", None)), ("[fe80::1]:6379", ("fe80::1", 6379)),
    ("fe80::1", ("fe80::1", None)), ("h:port", ("h:port", None)),
])
def test_split_address(ref: str, want: tuple[str, int | None]) -> None:
    assert split_address(ref) == want
    assert split_address("h:²") == ("h:²", None)


@given(st.text(max_size=30))
def test_split_address_never_raises(ref: str) -> None:
    _, port = split_address(ref)
    assert port is None or port >= 0


def test_derived_properties_and_frozen() -> None:
    arb = T.nodes[3]
    assert not arb.data_bearing and T.nodes[0].data_bearing and arb.voting_weight == 1
    assert [p.name for p in T.primaries()] == ["db1"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        T.nodes[0].role = "replica"  # type: ignore[misc]
    assert MemberCount("spec.instances", 1, 2, extra_voters=2).voters == 3
    n = Node("x", "replica", params={"read-only": "ON"}, lines={"params.read-only": 4}, line=2)
    assert n.param("read_only") == "ON" and n.param_line("read_only") == 4
    assert n.line_of("host") == 2 and n.pointer_of("host") is None


def test_operator_cr_with_only_an_instance_count_is_representable() -> None:
    nodes = tuple(Node(f"c-{i}", "primary" if i == 1 else "replica", synthetic=True)
                  for i in range(1, 4))
    t = Topology("c", "postgresql", "kubernetes", nodes=nodes, cluster="ns/c",
                 sizes=(MemberCount("spec.instances", 3, 2, file="c.yaml", line=8),))
    assert t.identity == "ns/c" and len(t.primaries()) == 1


def test_file_mapping_from_raw_and_match() -> None:
    maps = FileMapping.from_raw([
        {"paths": ["db/**/*.topology.yaml", "!db/old/**"],
         "schema": "builtin:replication-topology"},
        {"paths": ["db/patroni/*.yml"], "format": "patroni"},
    ])
    assert maps[0].effective_format == "native" and maps[1].effective_format == "patroni"
    assert mapping_for("db/a.topology.yaml", maps) is maps[0]
    assert mapping_for("db/x/y/a.topology.yaml", maps) is maps[0]
    assert mapping_for("db/old/a.topology.yaml", maps) is None
    assert mapping_for("db/patroni/p.yml", maps) is maps[1]
    with pytest.raises(ConfigError):
        FileMapping.from_raw([{"paths": ["x"], "schema": "a", "format": "b"}])
    with pytest.raises(ConfigError):
        FileMapping.from_raw([{"paths": "x", "format": "b"}])
