"""The pure workflow state machine (SPEC §7, §11) and the JSON kept in the log's tip tree.

`apply(event, current, world)` is the single definition of a legal transition: the writer calls
it before committing, a lost compare-and-swap race or a remote rebase calls it again on the new
tip, and `log verify` calls it while replaying history — so the three can never disagree.
"""

from __future__ import annotations

import json
import marshal
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, TypedDict

from changeguard.errors import RefusedError

EventKind = Literal["submit", "approve", "reject", "start", "complete", "rollback", "cancel",
                    "freeze", "unfreeze", "review"]
EVENT_KINDS: tuple[str, ...] = ("submit", "approve", "reject", "start", "complete", "rollback",
                                "cancel", "freeze", "unfreeze", "review")
STATES: tuple[str, ...] = ("submitted", "approved", "in_progress", "completed", "rolled_back",
                           "rejected", "cancelled")
OPEN_STATES = frozenset({"submitted", "approved", "in_progress"})
RESUBMITTABLE = frozenset({"submitted", "approved", "rejected"})
NO_CHANGE = "-"  # Changeguard-Change of freeze/unfreeze events


class WindowJSON(TypedDict):
    start: str
    end: str


class Requirement(TypedDict):
    rule: str
    min: int
    roles: list[str]
    description: str


class Approval(TypedDict):
    actor: str
    digest: str
    stale: bool
    at: str
    roles: list[str]
    comment: str | None


class Rejection(TypedDict):
    actor: str
    reason: str
    at: str
    digest: str


class EventRecord(TypedDict):
    event: str
    actor: str
    at: str


class PlanSummary(TypedDict):
    """What a `submit` event carries about the plan (replayable without parsing YAML)."""

    title: str
    author: str
    type: str
    risk: str
    services: list[str]
    environment: str | None
    window: WindowJSON
    paths: dict[str, str | None]
    requirements: list[Requirement]
    waivers: list[str]
    plan_blob: str


class ChangeState(TypedDict):
    id: str
    title: str
    state: str
    revision: int
    digest: str
    author: str
    type: str
    risk: str
    services: list[str]
    environment: str | None
    window: WindowJSON
    paths: dict[str, str | None]
    approvals: list[Approval]
    rejections: list[Rejection]
    events: list[EventRecord]
    reviewed: bool
    requirements: list[Requirement]
    waivers: list[str]
    plan_blob: str
    started_at: str | None
    ended_at: str | None
    verified: list[str]
    notes: list[Note]


class ListRow(TypedDict):
    id: str
    title: str
    state: str
    author: str
    window: WindowJSON
    type: str
    reviewed: bool
    started_at: str | None
    ended_at: str | None


class Note(TypedDict):
    event: str
    actor: str
    at: str
    text: str


class FreezeState(TypedDict):
    active: bool
    reason: str
    until: str | None
    actor: str
    at: str


@dataclass(frozen=True, slots=True)
class Event:
    """One log event; serialised as JSON in the commit body plus the four trailers."""

    kind: str
    change: str
    actor: str
    at: str
    digest: str = NO_CHANGE
    comment: str | None = None
    reason: str | None = None
    verified: tuple[str, ...] = ()
    until: str | None = None
    plan: PlanSummary | None = None

    def to_json(self) -> str:
        """The event as the JSON paragraph of its commit message."""
        d: dict[str, object] = {"event": self.kind, "change": self.change, "actor": self.actor,
                                "at": self.at, "digest": self.digest}
        for k in ("comment", "reason", "until", "plan"):
            if getattr(self, k) is not None:
                d[k] = getattr(self, k)
        if self.verified:
            d["verified"] = list(self.verified)
        return json.dumps(d, sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class World:
    """What a transition may look at besides the change itself."""

    roster: dict[str, tuple[str, ...]]  # lower-case email -> roles
    emergency_review_hours: float = 72
    config_freezes: tuple[tuple[datetime, datetime, str], ...] = ()
    freeze: FreezeState | None = None
    others: list[ChangeState] = field(default_factory=list)  # conflict candidates
    keys: dict[str, str] = field(default_factory=dict)  # lower-case email -> SSH signing key
    clock_skew_minutes: float = 10  # the config's: how far event times may disagree (§12)

    def roles(self, actor: str) -> tuple[str, ...] | None:
        """Roster roles of `actor`, or None when not on the roster."""
        return self.roster.get(actor.lower())

    def holders(self, roles: list[str] | tuple[str, ...]) -> list[str]:
        """Roster emails holding any of `roles`."""
        return sorted(e for e, rs in self.roster.items() if set(rs) & set(roles))


def ts(value: str) -> datetime:
    """Parse a stored RFC 3339 timestamp."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _refuse(msg: str, hint: str | None = None) -> RefusedError:
    return RefusedError(msg, hint=hint)


# --------------------------------------------------------------- authorisation


def _need_roster(ev: Event, world: World, what: str) -> tuple[str, ...]:
    roles = world.roles(ev.actor)
    if roles is None:
        who = ", ".join(sorted(world.roster)) or "nobody (the config has no reviewers)"
        raise _refuse(f"{ev.actor} is not on the reviewer roster and may not {what}",
                      hint=f"roster members: {who}")
    return roles


def _author_or_roster(ev: Event, st: ChangeState, world: World) -> None:
    if ev.actor.lower() != st["author"].lower():
        _need_roster(ev, world, f"{ev.kind} {st['id']}")


def _not_author(ev: Event, st: ChangeState, what: str) -> None:
    if ev.actor.lower() == st["author"].lower():
        raise _refuse(f"{ev.actor} is the author of {st['id']} and may not {what} it",
                      hint="ask a roster member other than the author")


def _need_state(st: ChangeState, allowed: frozenset[str] | set[str], ev: Event) -> None:
    if st["state"] not in allowed:
        raise _refuse(f"cannot {ev.kind} {st['id']}: it is {st['state']}",
                      hint=f"{ev.kind} needs state " + " or ".join(sorted(allowed)))


# --------------------------------------------------------------- approvals


def valid_approvals(st: ChangeState, world: World) -> list[Approval]:
    """Approvals that count: roster member, not author, current digest, one per person."""
    seen: set[str] = set()
    out: list[Approval] = []
    for a in st["approvals"]:
        key = a["actor"].lower()
        if (a["stale"] or a["digest"] != st["digest"] or key == st["author"].lower()
                or key in seen or world.roles(key) is None):
            continue
        seen.add(key)
        out.append(a)
    return out


def missing_approvals(st: ChangeState, world: World) -> list[str]:
    """Unmet approval requirements, each saying who can unblock it."""
    valid = valid_approvals(st, world)
    done = {st["author"].lower(), *(a["actor"].lower() for a in valid)}  # cannot approve again
    out: list[str] = []
    for req in st["requirements"]:
        if len(valid) < req["min"]:
            n = req["min"] - len(valid)
            who = [e for e in (world.holders(req["roles"]) if req["roles"]
                               else sorted(world.roster)) if e not in done]
            out.append(f"{req['rule']}: needs {n} more approval(s)"
                       f" (can approve: {', '.join(who) or 'nobody on the roster'})")
        if req["roles"] and not any(set(world.roles(a["actor"]) or ()) & set(req["roles"])
                                    for a in valid):
            who = [e for e in world.holders(req["roles"]) if e != st["author"].lower()]
            out.append(f"{req['rule']}: needs an approval from role {'/'.join(req['roles'])}"
                       f" (holders: {', '.join(who) or 'nobody on the roster'})")
    return out


# --------------------------------------------------------------- conflicts


def overlaps(a: WindowJSON, b: WindowJSON) -> bool:
    """True when two windows share a moment (touching ends do not)."""
    return ts(a["start"]) < ts(b["end"]) and ts(b["start"]) < ts(a["end"])


def conflicts(st: ChangeState, world: World) -> list[str]:
    """`conflicting-changes`: open changes overlapping in time sharing a service or path."""
    if "conflicting-changes" in st["waivers"]:
        return []
    out: list[str] = []
    for o in world.others:
        if o["id"] == st["id"] or o["state"] not in OPEN_STATES:
            continue
        if not overlaps(st["window"], o["window"]):
            continue
        shared = sorted(set(st["services"]) & set(o["services"])) + sorted(
            set(st["paths"]) & set(o["paths"]))
        if shared:
            out.append(f"{o['id']} ({o['state']}, {o['window']['start']}..{o['window']['end']})"
                       f" also touches {', '.join(shared)}")
    return out


def _check_conflicts(st: ChangeState, world: World) -> None:
    found = conflicts(st, world)
    if found:
        raise _refuse(f"conflicting-changes: {st['id']} overlaps " + "; ".join(found),
                      hint="move one window, merge the plans, or waive `conflicting-changes` "
                           "in the plan with a reason")


# --------------------------------------------------------------- freezes


def active_freeze(world: World, now: datetime) -> str | None:
    """Why starting is frozen at `now` (log freeze or config freeze), or None."""
    f = world.freeze
    if f is not None and f["active"] and (f["until"] is None or now < ts(f["until"])):
        return f"freeze by {f['actor']}: {f['reason']}"
    for start, end, name in world.config_freezes:
        if start <= now < end:
            return f"configured freeze {name}"
    return None


# --------------------------------------------------------------- transitions


def _record(st: ChangeState, ev: Event) -> ChangeState:
    new = marshal.loads(marshal.dumps(st))  # type: ignore[arg-type]  # deep copy (plain JSON data) keeps the input as is
    new["events"].append(_entry(ev))
    return new  # type: ignore[no-any-return]


def _entry(ev: Event) -> EventRecord:
    return {"event": ev.kind, "actor": ev.actor, "at": ev.at}


def _note(ev: Event, text: str | None) -> Note:
    return {**_entry(ev), "text": text or ""}


def _submit(ev: Event, cur: ChangeState | None, world: World) -> ChangeState:
    p = ev.plan
    if p is None:
        raise _refuse("submit event without a plan")
    if ev.actor.lower() != p["author"].lower():
        raise _refuse(f"only the plan's author {p['author']} may submit {ev.change}"
                      f" (you are {ev.actor})", hint="set GIT_AUTHOR_EMAIL/user.email, or "
                                                     "make yourself the plan's author")
    if world.roles(p["author"]) is None:
        # people, not strings (SPEC §12): an alias outside the roster could approve itself
        who = ", ".join(sorted(world.roster)) or "nobody (the config has no reviewers)"
        raise _refuse(f"the plan's author {p['author']} is not a roster member; only roster "
                      f"members may submit changes", hint=f"roster members: {who}")
    if cur is not None:
        if cur["digest"] == ev.digest:
            raise _refuse(f"{ev.change} revision {cur['revision']} already has this digest")
        _need_state(cur, RESUBMITTABLE, ev)
        if cur["author"].lower() != ev.actor.lower():
            raise _refuse(f"{ev.change} belongs to {cur['author']}; only they may revise it")
    st: ChangeState = {
        "id": ev.change, "title": p["title"], "state": "submitted",
        "revision": 1 if cur is None else cur["revision"] + 1, "digest": ev.digest,
        "author": p["author"], "type": p["type"], "risk": p["risk"],
        "services": list(p["services"]), "environment": p["environment"],
        "window": dict(p["window"]),  # type: ignore[typeddict-item]
        "paths": dict(p["paths"]),
        "approvals": [], "rejections": [], "events": [], "reviewed": False,
        "requirements": [dict(r) for r in p["requirements"]],  # type: ignore[misc]
        "waivers": list(p["waivers"]), "plan_blob": p["plan_blob"], "started_at": None,
        "ended_at": None, "verified": [], "notes": [],
    }
    if cur is not None:
        st["approvals"] = [{**a, "stale": True} for a in cur["approvals"]]
        st["rejections"] = list(cur["rejections"])
        st["events"] = list(cur["events"])
        st["notes"] = list(cur["notes"])
    _check_conflicts(st, world)
    # `st` is new and its lists are its own, so no deep copy (`_record`): what it shares
    # with `cur` or the event is never changed in place (every transition copies first)
    st["events"].append(_entry(ev))
    return st


def _approve(ev: Event, st: ChangeState, world: World) -> ChangeState:
    _need_state(st, {"submitted", "approved"}, ev)
    roles = _need_roster(ev, world, f"approve {st['id']}")
    _not_author(ev, st, "approve")
    _need_digest(ev, st)
    if any(a["actor"].lower() == ev.actor.lower() and a["digest"] == st["digest"]
           and not a["stale"] for a in st["approvals"]):
        raise _refuse(f"{ev.actor} already approved revision {st['revision']} of {st['id']}")
    _check_conflicts(st, world)
    new = _record(st, ev)
    new["approvals"].append({"actor": ev.actor, "digest": ev.digest, "stale": False,
                             "at": ev.at, "roles": sorted(roles), "comment": ev.comment})
    new["state"] = "approved" if not missing_approvals(new, world) else "submitted"
    return new


def _need_digest(ev: Event, st: ChangeState) -> None:
    # a review binds to the digest it names (SPEC §13): one written for an earlier revision
    # (a re-submit won the race, or a forged event) is never recorded against the current one
    if ev.digest != st["digest"]:
        raise _refuse(f"{st['id']} is at revision {st['revision']} ({st['digest']}), not the "
                      f"digest this {ev.kind} names ({ev.digest})",
                      hint=f"run `changeguard show {st['id']}` to see what changed, then "
                           f"{ev.kind} again with --revision {st['revision']}")


def _reject(ev: Event, st: ChangeState, world: World) -> ChangeState:
    _need_state(st, OPEN_STATES, ev)
    _need_roster(ev, world, f"reject {st['id']}")
    _not_author(ev, st, "reject")
    _need_digest(ev, st)
    new = _record(st, ev)
    new["rejections"].append({"actor": ev.actor, "reason": ev.reason or "", "at": ev.at,
                              "digest": st["digest"]})
    new["state"] = "rejected"
    return new


def _start(ev: Event, st: ChangeState, world: World) -> ChangeState:
    if st["state"] == "submitted":
        raise _refuse(f"cannot start {st['id']}: it is not approved yet",
                      hint="; ".join(missing_approvals(st, world)) or None)
    _need_state(st, {"approved"}, ev)
    _author_or_roster(ev, st, world)
    now = ts(ev.at)
    if st["type"] != "emergency":
        w = st["window"]
        if not ts(w["start"]) <= now < ts(w["end"]):
            raise _refuse(f"{st['id']} may start only inside its window {w['start']} .. "
                          f"{w['end']} (now {ev.at})",
                          hint="wait for the window, or submit a revision with a new window")
        frozen = active_freeze(world, now)
        if frozen:
            cab = ", ".join(world.holders(["cab", "dba"])) or "a cab/dba roster member"
            raise _refuse(f"{st['id']} may not start: {frozen}; only emergency changes may",
                          hint=f"ask {cab} to `changeguard unfreeze`")
    missing = missing_approvals(st, world)
    if missing:
        raise _refuse(f"{st['id']} is no longer sufficiently approved: " + "; ".join(missing))
    new = _record(st, ev)
    new["state"], new["started_at"] = "in_progress", ev.at
    return new


def _finish(ev: Event, st: ChangeState, world: World) -> ChangeState:
    _need_state(st, {"in_progress"}, ev)
    _author_or_roster(ev, st, world)
    new = _record(st, ev)
    new["state"] = "completed" if ev.kind == "complete" else "rolled_back"
    new["ended_at"] = ev.at
    if ev.kind == "complete":
        new["verified"] = list(ev.verified)
    else:
        new["notes"].append(_note(ev, ev.reason))
    return new


def _cancel(ev: Event, st: ChangeState, world: World) -> ChangeState:
    _need_state(st, OPEN_STATES, ev)
    _author_or_roster(ev, st, world)
    new = _record(st, ev)
    new["state"] = "cancelled"
    new["notes"].append(_note(ev, ev.reason))
    return new


def _review(ev: Event, st: ChangeState, world: World) -> ChangeState:
    if st["started_at"] is None:
        raise _refuse(f"{st['id']} has not started; a post-incident review follows `start`")
    _need_roster(ev, world, f"review {st['id']}")
    _not_author(ev, st, "review")
    new = _record(st, ev)
    new["reviewed"] = True
    new["notes"].append(_note(ev, ev.comment))
    return new


_CHANGE_TRANSITIONS = {
    "approve": _approve, "reject": _reject, "start": _start, "complete": _finish,
    "rollback": _finish, "cancel": _cancel, "review": _review,
}


def apply(ev: Event, cur: ChangeState | None, world: World) -> ChangeState:
    """The new state of `ev.change` after `ev`, or RefusedError if the transition is illegal."""
    if ev.kind == "submit":
        return _submit(ev, cur, world)
    fn = _CHANGE_TRANSITIONS.get(ev.kind)
    if fn is None:
        raise _refuse(f"unknown event {ev.kind!r}")
    if cur is None:
        raise _refuse(f"no change {ev.change} in the log",
                      hint="`changeguard list` shows recorded changes; `submit` records one")
    return fn(ev, cur, world)


def apply_freeze(ev: Event, cur: FreezeState | None, world: World) -> FreezeState:
    """freeze/unfreeze: only roster members with role cab or dba (SPEC §11)."""
    roles = _need_roster(ev, world, ev.kind)
    if not {"cab", "dba"} & set(roles):
        who = ", ".join(world.holders(["cab", "dba"])) or "nobody"
        raise _refuse(f"{ev.actor} lacks role cab or dba needed to {ev.kind}",
                      hint=f"ask one of: {who}")
    if ev.kind == "unfreeze":
        if cur is None or not cur["active"]:
            raise _refuse("there is no active freeze to lift")
        return {"active": False, "reason": cur["reason"], "until": cur["until"],
                "actor": ev.actor, "at": ev.at}
    return {"active": True, "reason": ev.reason or "", "until": ev.until, "actor": ev.actor,
            "at": ev.at}


def overdue(st: ChangeState | ListRow, hours: float, now: datetime) -> bool:
    """`emergency-review`: an unreviewed emergency past its review deadline."""
    if st["type"] != "emergency" or st["reviewed"]:
        return False
    since = st["ended_at"] or st["started_at"]
    return since is not None and now > ts(since) + timedelta(hours=hours)


# one encoder for every deterministic dump: json.dumps with options builds a new one a call
# (`log verify` dumps three values an event)
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def dump_state(st: ChangeState | FreezeState) -> bytes:
    """Deterministic state.json bytes (verify compares them)."""
    # compact: json's C encoder is several times faster than indent= (log verify at 10k)
    return (_CANONICAL.encode(st) + "\n").encode()


def list_row(st: ChangeState) -> ListRow:
    """The part of a state `list` needs (kept in the sharded list/ summaries)."""
    return {"id": st["id"], "title": st["title"], "state": st["state"], "author": st["author"],
            "window": st["window"], "type": st["type"], "reviewed": st["reviewed"],
            "started_at": st["started_at"], "ended_at": st["ended_at"]}


def dump_json(value: object) -> bytes:
    """Deterministic compact JSON bytes."""
    return (_CANONICAL.encode(value) + "\n").encode()
