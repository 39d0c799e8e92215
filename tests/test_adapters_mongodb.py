"""MongoDB replica-set configs: rs.initiate literals, JSON documents, voters, transitions."""

from __future__ import annotations

import json

import pytest

from changeguard.errors import InputError
from changeguard.replication.transition import check_transitions
from tests.test_adapters_common import corpus, denied, judge, only


def rs_json(n: int, *, arbiter: bool = False, votes0: int = 0) -> str:
    members = [{"_id": i, "host": f"m{i}.example:27017"} for i in range(n)]
    for m in members[:votes0]:
        m.update(votes=0, priority=0)
    if arbiter:
        members.append({"_id": n, "host": "arb.example:27017", "arbiterOnly": True})
    return json.dumps({"_id": "rs0", "version": 1, "members": members}, indent=2)


def test_corpus_initiate_literal() -> None:
    t, findings = judge("mongodb", corpus("mongodb/mxtransporter-init.js"))
    topo = only(t)
    assert topo.name == "rs0"
    assert [(n.name, n.role, n.priority, n.server_id) for n in topo.nodes] == [
        ("mongodb-primary:27017", "primary", 100.0, 0),
        ("mongodb-secondary:27017", "replica", 10.0, 1),
        ("mongodb-arbiter:27017", "arbiter", None, 2)]
    assert topo.nodes[2].line == 14
    assert denied(findings) == set()


def test_even_voters_fail_and_arbiter_fixes_it() -> None:
    _, findings = judge("mongodb", {"db/rs.json": rs_json(4)})
    [f] = [f for f in findings if f.rule == "replication-quorum"]
    assert f.file == "db/rs.json" and f.line is not None and f.line > 1
    assert denied(judge("mongodb", {"db/rs.json": rs_json(4, arbiter=True)})[1]) == set()
    assert denied(judge("mongodb", {"db/rs.json": rs_json(4, votes0=1)})[1]) == set()


def test_more_than_seven_voters() -> None:
    _, findings = judge("mongodb", {"db/rs.json": rs_json(9)})
    assert any("at most 7" in f.message for f in findings)


def test_duplicate_member_ids_and_hosts() -> None:
    doc = json.loads(rs_json(3))
    doc["members"][2]["_id"] = 0
    doc["members"][1]["host"] = doc["members"][0]["host"]
    _, findings = judge("mongodb", {"db/rs.json": json.dumps(doc)})
    assert sum(f.rule == "replication-unique-ids" for f in findings) == 2


def test_shell_output_with_object_ids_and_rs_conf_wrapper() -> None:
    text = ('{ "config" : { "_id" : "rs9", "members" : [ { "_id" : 0, "host" : "a:1" },'
            ' { "_id" : 1, "host" : "b:1" }, { "_id" : 2, "host" : "c:1" } ],'
            ' "settings" : { "replicaSetId" : ObjectId("5f1d") } }, "ok" : 1 }')
    t, findings = judge("mongodb", {"db/conf.json": text})
    assert only(t).name == "rs9" and denied(findings) == set()


def test_two_voters_changed_in_one_reconfig() -> None:
    before, _ = judge("mongodb", {"db/rs.json": rs_json(3)})
    after, _ = judge("mongodb", {"db/rs.json": rs_json(5)})
    [f] = check_transitions(before, after)
    assert f.rule == "replication-transition"
    one_more, _ = judge("mongodb", {"db/rs.json": rs_json(3, arbiter=True)})
    assert check_transitions(before, one_more) == []


def test_malformed_literal_is_an_input_error() -> None:
    with pytest.raises(InputError) as e:
        judge("mongodb", {"db/init.js": "rs.initiate({_id: 'rs0', members: [\n  {host: }\n"})
    assert (e.value.file, e.value.line) == ("db/init.js", 2)


def test_shell_eval_and_rs_add_members() -> None:
    script = ('#!/bin/bash\nsleep 5\nmongosh --host mongo1 --eval "rs.initiate({_id: \\"rs1\\",'
              ' members: [{_id: 0, host: \\"mongo1:27017\\"}]})"\n'
              "mongosh --host mongo1 --eval 'rs.add(\"mongo2:27017\")'\n"
              "mongosh --host mongo1 --eval 'rs.addArb(\"mongo3:27017\")'\n")
    from changeguard.replication.adapters import detect
    from changeguard.replication.interface import SourceFile

    assert detect(SourceFile("db/setup.sh", script.encode())) == "mongodb"
    t, findings = judge("mongodb", {"db/setup.sh": script})
    topo = only(t)
    assert [(n.name, n.role, n.line) for n in topo.nodes] == [
        ("mongo1:27017", "primary", 3), ("mongo2:27017", "replica", 4),
        ("mongo3:27017", "arbiter", 5)]
    assert denied(findings) == set()
    two = script.rsplit("mongosh", 1)[0]
    assert "replication-quorum" in denied(judge("mongodb", {"db/setup.sh": two})[1])
