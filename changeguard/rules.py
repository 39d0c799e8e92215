"""The rule registry: every rule id, its default severity, and why it exists (SPEC §5)."""

from __future__ import annotations

from dataclasses import dataclass

from changeguard.findings import Finding, Severity


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule of the registry: id, severity, text for `explain`."""

    id: str
    severity: Severity
    title: str
    rationale: str
    hint: str
    waivable: bool = False
    category: str = "plan"


D, W = Severity.DENY, Severity.WARN

_RULES: tuple[Rule, ...] = (
    Rule("plan-schema", D, "The plan matches the ChangePlan JSON Schema",
         "A plan that does not have the documented shape cannot be judged by any other rule.",
         "Fix the field named in the message; `changeguard new` scaffolds a complete plan."),
    Rule("rollback-required", D, "A rollback plan with trigger, steps and max_minutes",
         "In the 2016 APAC incident the broken sync surfaced the next morning with no prepared "
         "way back; every change needs a rehearsed exit.",
         "Add `rollback: {trigger: ..., steps: [...], max_minutes: N}`."),
    Rule("rollback-tested", D, "High-risk rollbacks are tested, with evidence",
         "An untested rollback is a hope, not a plan; high-risk changes must show it worked.",
         "Set `rollback.tested: true` and `rollback.evidence:` (staging run, log link).",
         waivable=True),
    Rule("rollback-fits-window", D, "Steps plus rollback fit inside the window",
         "If the change and its rollback cannot both finish inside the window, a failure spills "
         "into business hours (07:30 SGT in 2016).",
         "Shorten steps, split the change, or request a longer window."),
    Rule("verification-required", D, "At least one verification check",
         "Verification inside the window catches broken replication before users do.",
         "Add `verification: [{check: ..., command: ..., expect: ...}]`."),
    Rule("window-in-maintenance", D, "The window lies inside a maintenance window",
         "Disruptive work belongs where customers expect it; emergency changes are exempt.",
         "Move the window inside one occurrence (`changeguard windows`) or declare "
         "`type: emergency`.", waivable=True),
    Rule("window-not-frozen", D, "The window overlaps no change freeze",
         "Freezes protect critical business periods; only emergencies may proceed (warned).",
         "Move the window outside the freeze (`changeguard windows` lists freezes)."),
    Rule("window-lead-time", D, "Submitted at least lead_time_hours before start",
         "Reviewers and stakeholders need time to review and to notify customers.",
         "Move the window later, or waive with a reason.", waivable=True),
    Rule("window-not-past", D, "The window ends after now",
         "A plan for the past cannot be approved or executed.",
         "Set a future window."),
    Rule("disruptive-steps-in-window", D,
         "Disruptive steps run inside the window; resync/failover need a dba approver",
         "The 2016 second outage was an ad-hoc manual resync at 14:40 on a working day.",
         "Keep restart/stop/storage/failover/resync steps inside the window, or declare an "
         "emergency change."),
    Rule("config-schema", D, "Each proposed config file passes its mapped schema/format",
         "A malformed config applied in the window is the 2016 root cause.",
         "Fix the file at the line shown; `changeguard check FILE` re-checks it.",
         category="config"),
    Rule("replication-single-primary", D, "Exactly one primary per topology",
         "Two writable primaries diverge (split brain); none means no writes at all.",
         "Mark exactly one node `role: primary`, or declare intended co-masters.",
         category="replication"),
    Rule("replication-upstream-exists", D, "Every replica's upstream names an existing node",
         "A replica pointing at a non-existent upstream silently stops replicating — the 2016 "
         "sync config error.", "Point `upstream` at a node of the same topology.",
         category="replication"),
    Rule("replication-no-cycle", D, "No replication cycles except declared co-masters",
         "A cycle of replicas has no source of truth.",
         "Break the cycle, or declare the ring in `co_masters`.", category="replication"),
    Rule("replication-sync-consistent", D,
         "Synchronous settings name existing, data-bearing standbys",
         "A sync standby list naming a missing node blocks commits or silently degrades.",
         "Make `sync` settings match nodes that exist and replicate from the primary.",
         category="replication"),
    Rule("replication-unique-ids", D, "Node names and server ids are unique",
         "Duplicate server_id breaks MySQL replication; duplicate names make topology ambiguous.",
         "Give every node a distinct name and server_id.", category="replication"),
    Rule("replication-distinct-failure-domains", D, "Redundant members do not share a host",
         "Two members on one host (even on different ports) fail together.",
         "Place members on distinct hosts (and zones where declared).", category="replication"),
    Rule("replication-quorum", D, "Voting membership can form a majority",
         "Even voter counts, too many voters or too few members lose elections or data.",
         "Use an odd number (≤ 7) of voters and the operator's minimum member count.",
         category="replication"),
    Rule("replication-standby-params", D, "Standbys carry the parameters replication needs",
         "Replicas with settings below the primary's (e.g. max_connections) refuse to start.",
         "Match standby parameters to the primary.", category="replication"),
    Rule("replication-ttl-rule", D, "Patroni: loop_wait + 2*retry_timeout <= ttl",
         "Otherwise the leader key may expire during a normal retry and trigger a failover.",
         "Lower loop_wait/retry_timeout or raise ttl.", category="replication"),
    Rule("replication-replica-read-only", D, "MySQL/MariaDB replicas are read-only",
         "A writable replica accepts stray writes that break replication.",
         "Set `read_only = ON` (and `super_read_only`) on replicas.", category="replication"),
    Rule("replication-transition", D, "Replication changes move one safe step at a time",
         "MongoDB may change one voter per reconfig; GTID mode moves one step at a time; a "
         "sync standby may not be removed while restarting the primary.",
         "Split the change into several plans.", category="replication"),
    Rule("redundancy-blast-radius", D, "No step leaves a redundancy group without data or primary",
         "The 2016 plan took the redundant pair's synchronisation down with its storage.",
         "Sequence steps so one member stays in service; fail over before touching the primary.",
         category="replication"),
    Rule("plan-step-targets", D,
         "Disruptive step targets name members, hosts or topologies of the plan's files",
         "A mistyped target (`db-1` for `db1`) matches no member, so the blast-radius check "
         "silently passes the step — the 2016 pattern of taking the whole pair down.",
         "Spell each target as a member name, host or topology name from the plan's "
         "topologies (`topology/member` also works).", category="replication"),
    Rule("conflicting-changes", D, "No overlapping change shares a service or path",
         "Two changes to the same service at once make failures unattributable.",
         "Move one window, or merge the plans.", category="workflow", waivable=True),
    Rule("approvals-required", D, "Enough distinct approvals, with the right roles, not stale",
         "A second pair of eyes with the right expertise is the cheapest safety net.",
         "Ask a roster member with the missing role to `changeguard approve ID --revision N` "
         "(N: the revision `changeguard show ID` prints).",
         category="workflow"),
    Rule("approvals-governance", D,
         "Governance changes need two distinct roster approvers, neither the author",
         "The config, its policy packs and its repo schemas decide who may approve what; a "
         "change to them is judged under the trusted roster, so nobody it adds can approve it.",
         "Ask two roster members of the trusted config (not the author) to "
         "`changeguard approve ID --revision N`.", category="workflow"),
    Rule("emergency-review", W, "Emergency changes are reviewed afterwards",
         "An emergency skips the queue, so it owes a post-incident review.",
         "A roster member other than the author runs `changeguard review ID --comment ...`.",
         category="workflow"),
    Rule("guarded-path-coverage", D, "Guarded files are committed only under an approved change",
         "Config edits outside an approved, in-window change are how the 2016 error happened.",
         "Submit a plan listing the file, get it approved, and commit inside its window.",
         category="hook"),
    Rule("waiver-invalid", D, "Waivers name a waivable rule and a reason",
         "A waiver is an explicit, reviewed exception; it cannot switch off safety rules.",
         "Remove the waiver or give a reason; `changeguard rules` shows which rules are waivable."),
)

RULES: dict[str, Rule] = {r.id: r for r in _RULES}


def finding(rule: str, message: str, file: str | None, line: int | None,
            pointer: str | None = None, hint: str | None = None) -> Finding:
    """A Finding of a registered rule with its default severity and hint."""
    r = RULES[rule]
    return Finding(rule, r.severity, message, file=file, line=line, pointer=pointer,
                   hint=hint or r.hint)


def get_rule(rule_id: str) -> Rule | None:
    return RULES.get(rule_id)


def closest(rule_id: str, n: int = 3) -> list[str]:
    """Nearest rule ids, for `explain UNKNOWN` and did-you-mean hints."""
    import difflib  # the hook imports this module; only a typo needs difflib

    return difflib.get_close_matches(rule_id, list(RULES), n=n, cutoff=0.4)
