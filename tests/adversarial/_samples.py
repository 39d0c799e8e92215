"""A config repo mapping one directory to each replication format, with a valid sample each."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.helpers import init_repo
from tests.helpers.plans import config, plan, write_yaml

NATIVE = """apiVersion: changeguard/v1
kind: ReplicationTopology
name: pair
engine: postgresql
nodes:
  - {name: db1, role: primary, host: 10.0.0.1, zone: a}
  - {name: db2, role: replica, host: 10.0.0.2, zone: b, upstream: db1}
"""
PATRONI = """scope: demo
name: pg0
restapi:
  connect_address: 10.0.0.1:8008
bootstrap:
  dcs:
    ttl: 30
    loop_wait: 10
    retry_timeout: 10
postgresql:
  connect_address: 10.0.0.1:5432
"""
PGCONF = "port = 5432\nhot_standby = on\nprimary_conninfo = 'host=10.0.0.1 port=5432'\n"
MYCNF = "[mysqld]\nserver_id = 2\nlog_bin = mysql-bin\nread_only = ON\n"
MONGO = ('{"_id": "rs0", "members": [{"_id": 0, "host": "a:27017"}, '
         '{"_id": 1, "host": "b:27017"}, {"_id": 2, "host": "c:27017"}]}\n')
REDIS = "port 6379\nreplicaof 10.0.0.1 6379\nreplica-read-only yes\n"
CNPG = """apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata:
  name: pg
  namespace: prod
spec:
  instances: 3
"""


@dataclass(frozen=True)
class Fmt:
    """One `schemas:` mapping: directory, format, a file name it reads, valid content."""

    name: str
    file: str
    sample: str
    yaml: bool  # parsed as YAML/JSON (alias bombs, duplicate keys, nesting apply)

    @property
    def path(self) -> str:
        return f"{self.name}/{self.file}"


FORMATS = (
    Fmt("native", "pair.topology.yaml", NATIVE, True),
    Fmt("patroni", "pg0.yml", PATRONI, True),
    Fmt("postgresql", "postgresql.conf", PGCONF, False),
    Fmt("mysql", "my.cnf", MYCNF, False),
    Fmt("mongodb", "rs0.json", MONGO, True),
    Fmt("redis", "redis.conf", REDIS, False),
    Fmt("kubernetes", "cluster.yaml", CNPG, True),
    Fmt("auto", "pair.yaml", NATIVE, True),
)
YAML_FORMATS = tuple(f for f in FORMATS if f.yaml)


def schemas() -> list[dict[str, Any]]:
    return [{"paths": [f"{f.name}/**"], "format": f.name} for f in FORMATS]


def make_config_repo(root: Path) -> Path:
    """A committed repo with the roster config, every format mapping and one plan."""

    def populate(root: Path) -> None:
        write_yaml(root / ".changeguard.yaml", config(schemas=schemas()))
        for f in FORMATS:
            (root / f.name).mkdir()
            (root / f.path).write_text(f.sample, encoding="utf-8")
        (root / "db").mkdir()
        (root / "db" / "apac-gateway.topology.yaml").write_text("proposed: 1\n")
        write_yaml(root / "changes" / "CHG-2016-0403-storage.yaml", plan())

    init_repo(root, populate=populate)
    return root
