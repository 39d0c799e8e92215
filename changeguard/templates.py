"""Text scaffolds written by `init` and `new` (commented, valid as written)."""

from __future__ import annotations

from datetime import datetime, timedelta

CONFIG_TEMPLATE = """\
# changeguard configuration (see docs/config.md). Validated against
# schemas/guard-config.schema.json: unknown keys are errors.
apiVersion: changeguard/v1
kind: GuardConfig
timezone: UTC                      # IANA zone: default for windows and display
log: {ref: refs/heads/changeguard/log}   # add `remote: origin` to share the log
guarded: ["db/**"]                 # commits touching these need an approved change
plans: "changes/*.yaml"            # plan files (never guarded themselves)
schemas:                           # which validator applies to which config files
  - {paths: ["db/**/*.topology.yaml"], schema: builtin:replication-topology}
policies: [builtin:default]
windows:
  - {name: weekly-maintenance, days: [sun], start: "01:00", end: "06:00"}
freezes: []
lead_time_hours: 48
emergency_review_hours: 72
require_signed: false
reviewers:
  - {email: you@example.org, name: You, roles: [dba, cab]}
"""


def config_template(name: str, email: str) -> str:
    """The commented config with the roster's first member set to git's author identity."""
    return CONFIG_TEMPLATE.replace("{email: you@example.org, name: You,",
                                   f"{{email: {_q(email)}, name: {_q(name)},")


def plan_template(plan_id: str, title: str, author: str, start: datetime,
                  minutes: int = 240, changes: list[str] | None = None,
                  new_files: frozenset[str] = frozenset()) -> str:
    """A complete plan with every section present, valid as written.

    Paths in `new_files` do not exist yet: their line says they will be created (issue 12),
    so nobody mistakes the missing file for a recorded deletion.
    """
    end = start + timedelta(minutes=minutes)
    paths = changes or ["db/example.topology.yaml"]
    change_lines = "".join(_change_line(p, p in new_files) for p in paths)
    return f"""\
apiVersion: changeguard/v1
kind: ChangePlan
id: {plan_id}
title: {_q(title)}
author: {author}
type: normal                       # normal | standard | emergency
risk: medium                       # low | medium | high
services: [example-service]
environment: production
window: {{start: {start.isoformat()}, end: {end.isoformat()}}}
changes:                           # files this change may modify (repo-relative)
{change_lines}steps:                             # run in order from the window start
  - {{id: s1, action: "apply the config change", kind: config, targets: [db2], minutes: 10}}
verification:
  - {{check: "replication lag < 5s", command: "check-lag --max 5", expect: "exit 0"}}
rollback:
  trigger: "verification fails or error rate > 1% for 5 min"
  steps:
    - {{action: "revert the config commit", kind: config, targets: [db2], minutes: 10}}
  max_minutes: 20
  tested: false
  evidence: ""
communication: {{status_page: false, notice_hours: 48}}
waivers: []
"""


def _change_line(path: str, new: bool) -> str:
    if new:
        return (f"  - {{path: {_q(path)}, summary: create this file}}"
                "  # does not exist yet: will be created\n")
    return f"  - {{path: {_q(path)}, summary: describe the edit}}\n"


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
