"""Shared helpers for the adapter tests, plus format lookup and `format: auto` detection."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from changeguard.errors import InputError
from changeguard.findings import Finding, Severity
from changeguard.replication.adapters import FORMATS, detect, get
from changeguard.replication.engine import check_all
from changeguard.replication.interface import SourceFile
from changeguard.replication.model import Topology
from tests.conftest import DATA

CORPUS = DATA / "corpus"


def corpus(*paths: str) -> dict[str, bytes]:
    """Corpus files (a file or every file under a folder) keyed by corpus-relative path."""
    out: dict[str, bytes] = {}
    for p in paths:
        base = CORPUS / p
        items = sorted(x for x in base.rglob("*") if x.is_file()) if base.is_dir() else [base]
        for x in items:
            out[x.relative_to(CORPUS).as_posix()] = x.read_bytes()
    return out


def judge(fmt: str, files: Mapping[str, str | bytes]) -> tuple[list[Topology], list[Finding]]:
    """Parse files with one adapter and run every invariant over the result."""
    src = [SourceFile(p, d.encode() if isinstance(d, str) else d) for p, d in files.items()]
    result = get(fmt).parse(src)
    return result.topologies, result.findings + check_all(result.topologies)


def denied(findings: list[Finding]) -> set[str]:
    """Rule ids of the deny findings."""
    return {f.rule for f in findings if f.severity is Severity.DENY}


def only(topologies: list[Topology]) -> Topology:
    assert len(topologies) == 1, [t.name for t in topologies]
    return topologies[0]


def test_get_returns_each_format() -> None:
    for fmt in FORMATS:
        assert get(fmt).format == fmt


def test_get_unknown_format_suggests_the_closest() -> None:
    with pytest.raises(InputError) as e:
        get("mysq")
    assert e.value.hint is not None and "mysql" in e.value.hint
    with pytest.raises(LookupError):  # core's lookup treats it as "not available"
        get("oracle")


_DETECTABLE = {"patroni": "patroni", "mysql": "mysql", "mongodb": "mongodb",
               "redis": "redis"}


@pytest.mark.parametrize("row", json.loads((CORPUS / "MANIFEST.json").read_text()),
                         ids=lambda r: r["file"])
def test_detect_corpus_files(row: dict[str, str]) -> None:
    """Replication configs get their format; supporting docs get None."""
    path = row["file"]
    got = detect(SourceFile(path, (CORPUS / path).read_bytes()))
    name = Path(path).name
    if name.endswith((".md", ".cfg")):
        assert got is None
    elif name.endswith((".yaml", ".yml")):
        assert got == _DETECTABLE.get(row["system"], "kubernetes")
    else:
        assert got == _DETECTABLE[row["system"]]


@pytest.mark.parametrize(("path", "text", "expected"), [
    ("db/pg/postgresql.conf", "max_connections = 100\nwal_level = replica\n", "postgresql"),
    ("db/pg/standby.signal", "", "postgresql"),
    ("db/a/my.cnf", "[mysqld]\nserver_id = 1\n", "mysql"),
    ("db/a/setup.sql", "CHANGE REPLICATION SOURCE TO SOURCE_HOST='a';\n", "mysql"),
    ("db/r/6379.conf", "port 6379\nreplicaof 10.0.0.1 6379\n", "redis"),
    ("db/m/rs.json", '{"_id": "rs0", "members": [{"_id": 0, "host": "a:27017"}]}', "mongodb"),
    ("db/m/init.js", "rs.initiate({_id: 'rs0', members: []})", "mongodb"),
    ("db/p/node1.yml", "scope: demo\nname: node1\npostgresql: {listen: 1.2.3.4:5432}\n",
     "patroni"),
    ("docs/notes.md", "Run CHANGE MASTER TO MASTER_HOST='db1' on the replica.\n", None),
    ("lb/haproxy.cfg", "global\n    maxconn 100\nlisten x\n    bind *:5000\n", None),
    ("bin/blob", b"\xff\xfe\x00junk", None),
])
def test_detect_synthetic(path: str, text: str | bytes, expected: str | None) -> None:
    data = text.encode() if isinstance(text, str) else text
    assert detect(SourceFile(path, data)) == expected


_LINES = st.sampled_from([
    "[mysqld]", "server_id=1", "server_id=1", "report_host=db1", "log_bin", "read_only=ON",
    "CHANGE MASTER TO MASTER_HOST='db1', MASTER_PORT=3306;", "10.0.0.1 db1",
    "port 6379", "replicaof 10.0.0.1 6379", "sentinel monitor m 10.0.0.1 6379 2",
    "bind 10.0.0.2", "primary_conninfo = 'host=db1'", "max_connections = 100",
    "synchronous_standby_names = 'ANY 1 (a, b)'", "scope: s", "name: n",
    "postgresql: {connect_address: 10.0.0.1:5432}", "tags: {replicatefrom: x}",
    "apiVersion: postgresql.cnpg.io/v1", "kind: Cluster", "metadata: {name: c}",
    "spec: {instances: 2, minSyncReplicas: 3}", "rs.initiate({_id: 'r', members: [",
    "{_id: 0, host: 'a:1'},", "]})", "---", "{", "}", "'", '"', "", "  - x",
])
_PATHS = st.sampled_from(["g/my.cnf", "g/db1-my.cnf", "g/init.sql", "g/setup.sh",
                          "g/redis.conf", "g/sentinel.conf", "g/postgresql.conf",
                          "g/standby.signal", "g/p.yml", "g/k.yaml", "g/rs.json", "g/init.js",
                          "g/hosts", "g/Vagrantfile", "g/README.md"])


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_PATHS, st.lists(_LINES, max_size=12)), min_size=1, max_size=4),
       st.sampled_from(FORMATS))
def test_adapters_and_detection_never_crash(files: list[tuple[str, list[str]]],
                                            fmt: str) -> None:
    """Random mixes of config lines: topologies and findings, or an InputError; never a
    crash (the invariants run over whatever the adapter built)."""
    src = {p: "\n".join(lines).encode() for p, lines in files}
    sources = [SourceFile(p, d) for p, d in src.items()]
    for f in sources:
        assert detect(f) in (None, *FORMATS)
    try:
        result = get(fmt).parse(sources)
    except InputError as e:
        assert e.file in src
        return
    check_all(result.topologies)
