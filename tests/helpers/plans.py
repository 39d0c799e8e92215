"""Builders for plan and config documents used across tests."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

CONFIG: dict[str, Any] = {
    "apiVersion": "changeguard/v1",
    "kind": "GuardConfig",
    "timezone": "Asia/Singapore",
    "clock": "simulated",  # tests replay 2016 with --now (SPEC §12 "Time")
    "guarded": ["db/**"],
    "plans": "changes/*.yaml",
    "policies": ["builtin:default"],
    "windows": [{"name": "sunday-maintenance", "days": ["sun"], "start": "01:00",
                 "end": "06:00", "timezone": "Asia/Singapore"}],
    "freezes": [],
    "lead_time_hours": 48,
    "emergency_review_hours": 72,
    "reviewers": [
        {"email": "ana@example.org", "name": "Ana", "roles": ["engineer"]},
        {"email": "dev@example.org", "name": "Dev", "roles": ["dba"]},
        {"email": "chen@example.org", "name": "Chen", "roles": ["cab"]},
        {"email": "ravi@example.org", "name": "Ravi", "roles": ["dba", "cab"]},
    ],
}

PLAN: dict[str, Any] = {
    "apiVersion": "changeguard/v1",
    "kind": "ChangePlan",
    "id": "CHG-2016-0403-storage",
    "title": "Improve API-gateway storage (APAC)",
    "author": "ana@example.org",
    "type": "normal",
    "risk": "medium",
    "services": ["alma-api-gateway"],
    "environment": "production",
    "window": {"start": "2016-04-03T01:00:00+08:00", "end": "2016-04-03T05:00:00+08:00"},
    "changes": [{"path": "db/apac-gateway.topology.yaml", "summary": "db2 volume"}],
    "steps": [
        {"id": "s1", "action": "migrate db2 volume", "kind": "storage", "targets": ["db2"],
         "minutes": 90},
    ],
    "verification": [{"check": "lag < 5s", "command": "check-lag", "expect": "exit 0"}],
    "rollback": {"trigger": "lag > 60s", "max_minutes": 30, "tested": True,
                 "evidence": "staging run",
                 "steps": [{"action": "re-attach old volume", "kind": "storage",
                            "targets": ["db2"], "minutes": 20}]},
}

# One week before the window: lead time satisfied, not in the past.
NOW = "2016-03-27T10:00:00+08:00"
# a small valid PostgreSQL topology (perf tests stage it)
TOPOLOGY = """\
apiVersion: changeguard/v1
kind: ReplicationTopology
name: gw
engine: postgresql
nodes:
  - {name: db1, role: primary, host: h1, zone: a}
  - {name: db2, role: replica, host: h2, zone: b, upstream: db1}
"""


def plan(**changes: Any) -> dict[str, Any]:
    """A valid plan with top-level keys replaced (None deletes a key)."""
    p = copy.deepcopy(PLAN)
    for k, v in changes.items():
        if v is None:
            p.pop(k, None)
        else:
            p[k] = v
    return p


def config(**changes: Any) -> dict[str, Any]:
    c = copy.deepcopy(CONFIG)
    for k, v in changes.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return c


def write_yaml(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path
