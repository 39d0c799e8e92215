"""The workflow commands' logic: build an event, record it on the log, read the log back."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, cast

from changeguard.changelog.binding import Binding, refuse_moved, usage_hint
from changeguard.changelog.events import (
    Prepared,
    Snapshot,
    WorldFor,
    append,
)
from changeguard.changelog.identity import Identity, current_actor
from changeguard.changelog.state import (
    NO_CHANGE,
    ChangeState,
    Event,
    FreezeState,
    PlanSummary,
    Requirement,
    World,
    missing_approvals,
)
from changeguard.changelog.store import Author, Git, ref_tip
from changeguard.errors import InputError, RefusedError

if TYPE_CHECKING:
    from changeguard.changelog.listing import ListingArgs
    from changeguard.changelog.view import ChangeView
    from changeguard.config.trusted import Trusted
    from changeguard.findings import Finding
    from changeguard.model import ChangePlan, GuardConfig

# Rules a submit cannot satisfy yet (approvals come later) or that this module checks itself.
_NOT_AT_SUBMIT = frozenset({"approvals-required", "emergency-review", "conflicting-changes"})


@dataclass
class Outcome:
    """What a command prints and returns (the CLI does the printing)."""

    code: int = 0
    # text gets a newline; bytes (in parts: list's rows) are printed as they are
    out: Sequence[str | bytes | list[bytes | memoryview]] = field(default_factory=list)
    err: list[str] = field(default_factory=list)


@dataclass
class Session:
    """One command's view of the repo: config, clock, identity and the log."""

    repo: Path
    config: GuardConfig
    now: datetime
    trusted: Trusted | None = None  # the revision the config was read from (SPEC §12)
    _actor: Identity | None = None
    _git: Git | None = None

    @property
    def git(self) -> Git:
        """The plumbing runner (started on first use)."""
        if self._git is None:
            self._git = Git(self.repo)
        return self._git

    @property
    def actor(self) -> Identity:
        """The acting identity (git var GIT_AUTHOR_IDENT)."""
        if self._actor is None:
            self._actor = current_actor(self.repo)
        return self._actor

    @property
    def ref(self) -> str:
        """The log ref from the config."""
        return self.config.log.ref

    def at(self) -> str:
        """The event time as RFC 3339."""
        return self.now.isoformat(timespec="seconds")

    def world(self, snap: Snapshot, freeze: FreezeState | None = None) -> World:
        """Roster, freezes and review hours for a transition on `snap`."""
        return make_world(self.config, snap.freeze() if freeze is None else freeze)

    def close(self) -> None:
        """Release the long-lived git process."""
        if self._git is not None:
            self._git.close()


def make_world(config: GuardConfig, freeze: FreezeState | None) -> World:
    """Roster, review hours and freezes from the config plus the log's freeze state."""
    roster = {r.email.lower(): tuple(r.roles) for r in config.reviewers}
    frz = tuple((f.start, f.end, f.name) for f in config.freezes)
    keys = {r.email.lower(): r.signing_key.strip() for r in config.reviewers if r.signing_key}
    return World(roster, config.emergency_review_hours, frz, freeze, keys=keys,
                 clock_skew_minutes=config.clock_skew_minutes)


def world_for(s: Session) -> WorldFor:
    """The World factory the append loop calls on each (re-)read tip."""

    def fn(snap: Snapshot, cur: ChangeState | None, ev: Event) -> World:
        return s.world(snap)

    return fn


def record(s: Session, prep: Prepared) -> tuple[str, ChangeState | FreezeState, list[str]]:
    """Append one event (locally, then to the remote when configured); returns warnings too."""
    if s.trusted is not None and s.trusted.sha is not None:
        from changeguard.changelog.configs import CONFIG_TRAILER

        # the config the event is judged under by `log verify` (SPEC §12)
        prep = replace(prep, trailers={**prep.trailers, CONFIG_TRAILER: s.trusted.sha})
    author = Author(s.actor.name, s.actor.email, prep.event.at)
    prep = replace(prep, simulated=s.config.clock == "simulated")  # SPEC §12 "Time"
    sign = s.config.require_signed
    factory = world_for(s)
    if s.config.log.remote:
        from changeguard.changelog.remote import record_with_remote

        commit, new, notes = record_with_remote(s.git, s.config, prep, factory, author, sign)
    else:
        (commit, new), notes = append(s.git, s.ref, prep, factory, author, sign), []
    _remember_own(s, commit)
    return commit, new, notes


def _remember_own(s: Session, commit: str) -> None:
    """This writer's event on a tip this clone verified is remembered as verified too: it was
    built by the transitions `log verify` replays, on that very parent (the ref moved by
    compare-and-swap). The next `show`, `list` or hook then reads it without a replay
    (issue 17). An event on any other parent (a remote's newer events) is left to verify;
    the gate and `--from-scratch` believe no remembered tip (SPEC §12)."""
    if s.trusted is None:
        return
    from changeguard.changelog import verified

    got = s.git.read(commit)
    head = got[2].partition(b"\n\n")[0] if got is not None and got[1] == "commit" else b""
    parents = [line[7:].decode() for line in head.split(b"\n") if line.startswith(b"parent ")]
    fp = verified.trusted_fingerprint(s.trusted)
    if len(parents) == 1 and verified.is_known(s.git, parents[0], fp):
        verified.remember(verified.common_dir(s.git), commit, fp)


# --------------------------------------------------------------- submit


def _render(findings: list[Finding]) -> str:
    try:
        from changeguard.report import render
    except ImportError:
        return "\n".join(f"{f.file}:{f.line or 0}: {f.severity}: {f.rule}: {f.message}"
                         for f in findings)
    return render(findings, "text", files=1, color=False)


def submit(s: Session, plan_path: Path) -> Outcome:
    """Validate (deny ⇒ refuse, nothing written), then record `submitted` with the digest."""
    from changeguard.changelog.state import dump_json
    from changeguard.findings import Severity, is_ok
    from changeguard.plan import EvalContext, compute_digest, evaluate_plan, load_plan
    from changeguard.plan.digest import blob_id

    lp = load_plan(plan_path, s.repo, max_bytes=s.config.max_file_bytes)
    base = s.trusted.sha if s.trusted is not None and s.trusted.sha else "HEAD"
    ctx = EvalContext(s.repo, s.config, s.now, submitted_at=s.now, base=base)
    findings = [f for f in evaluate_plan(lp, ctx) if f.rule not in _NOT_AT_SUBMIT]
    if lp.plan is None or not is_ok(findings):
        return Outcome(1, [_render(findings)],
                       [f"error: {lp.display}: refused: the plan has deny findings; "
                        "nothing was recorded"])
    plan = lp.plan
    blobs, proposed = _proposed(s.repo, plan)
    digest = compute_digest(plan, blobs)
    cur = Snapshot(s.git, ref_tip(s.git, s.ref)).state(plan.id)
    if cur is not None and cur["digest"] == digest and cur["state"] != "rejected":
        return Outcome(0, [f"{plan.id}: unchanged (revision {cur['revision']}, {digest}); "
                           "nothing recorded"])
    summary = plan_summary(plan, blobs, s.config, s.repo, blob_id(lp.raw))
    ev = Event("submit", plan.id, s.actor.email, s.at(), digest, plan=summary)
    # the reported findings (none deny: it was not refused), as SPEC §8 `findings` entries
    reported = dump_json([f.to_json() for f in findings])
    _, got, warns = record(s, Prepared(ev, lp.raw, proposed=proposed, findings=reported))
    new = _as_change(got)
    warn_lines = [f"warning: {f.rule}: {f.message}" for f in findings
                  if f.severity is Severity.WARN]
    return Outcome(0, [f"{plan.id}: submitted revision {new['revision']} ({digest})",
                       *_needs(new, s)], warn_lines + warns)


def _proposed(repo: Path, plan: ChangePlan) -> tuple[dict[str, str | None], dict[str, bytes]]:
    """Each changed path's blob id (None: deleted) and content, read once from the work tree:
    the digest covers exactly the bytes the log stores (SPEC §13)."""
    from changeguard.plan.digest import blob_id

    read = _FastReader(repo)
    ids: dict[str, str | None] = {}
    content: dict[str, bytes] = {}
    for path in plan.paths:
        data = read(path)
        ids[path] = None if data is None else blob_id(data)
        if data is not None:
            content[path] = data
    return ids, content


class _FastReader:
    """The work-tree reader of `validate`, with its one cost per path cut (issue 17: a plan
    of 5 000 paths): each directory is resolved once, and a regular file inside the repo
    is read directly. Anything else (a symlink, a directory, a missing or oversized file)
    goes through `worktree_reader`, so its refusals and messages stay the same."""

    def __init__(self, repo: Path) -> None:
        import os

        from changeguard.plan.gitfiles import worktree_reader

        self.repo = repo
        self.slow = worktree_reader(repo)
        self.root = os.path.realpath(repo)
        self.inside: dict[str, bool] = {}  # directory -> resolves inside the repo

    def __call__(self, path: str) -> bytes | None:
        import os
        import stat

        from changeguard.loader import DEFAULT_MAX_BYTES

        full = os.path.join(self.repo, path)
        parent = os.path.dirname(full)
        if parent not in self.inside:
            real = os.path.realpath(parent)
            self.inside[parent] = real == self.root or real.startswith(self.root + os.sep)
        try:
            st = os.lstat(full)
        except OSError:
            return self.slow(path)
        if not self.inside[parent] or not stat.S_ISREG(st.st_mode) \
                or st.st_size > DEFAULT_MAX_BYTES:
            return self.slow(path)
        try:  # O_NOFOLLOW: a file swapped for a symlink since the lstat is not followed
            fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return self.slow(path)
        with os.fdopen(fd, "rb") as fh:
            return fh.read()


def plan_summary(plan: ChangePlan, blobs: dict[str, str | None], config: GuardConfig,
                 repo: Path, plan_blob: str) -> PlanSummary:
    """What a submit event records about its plan; `log verify` re-derives it (SPEC §12)."""
    from changeguard.policy import approval_requirements

    reqs: list[Requirement] = [
        {"rule": r.rule, "min": r.min, "roles": list(r.roles), "description": r.description}
        for r in approval_requirements(plan, config, repo)]
    return {
        "title": plan.title, "author": plan.author, "type": str(plan.type),
        "risk": str(plan.risk), "services": list(plan.services),
        "environment": plan.environment,
        "window": {"start": plan.window.start.isoformat(), "end": plan.window.end.isoformat()},
        "paths": blobs, "requirements": reqs, "waivers": [w.rule for w in plan.waivers],
        "plan_blob": plan_blob,
    }


def _as_change(st: ChangeState | FreezeState) -> ChangeState:
    if "id" not in st:
        raise RefusedError("internal: expected a change state")
    return cast("ChangeState", st)


def _needs(st: ChangeState, s: Session) -> list[str]:
    return [f"  waiting for {m}" for m in missing_approvals(st, make_world(s.config, None))]


# --------------------------------------------------------------- other events


def _current(s: Session, change_id: str) -> ChangeState:
    st = Snapshot(s.git, ref_tip(s.git, s.ref)).state(change_id)
    if st is None:
        raise RefusedError(f"no change {change_id} in the log",
                           hint="`changeguard list` shows recorded changes")
    return st


def change_event(s: Session, kind: str, change_id: str, *, comment: str | None = None,
                 reason: str | None = None, verified: tuple[str, ...] = (),
                 binding: Binding | None = None) -> Outcome:
    """approve/reject/start/complete/rollback/cancel/review on one change; approve/reject
    only of the revision `binding` names (SPEC §13)."""
    _check_id(change_id)
    cur = _current(s, change_id)
    if kind in ("approve", "reject"):
        if binding is None or not binding.given:
            raise InputError(f"{kind} needs --revision or --digest: the revision you reviewed",
                             hint=usage_hint(cur, kind))
        refuse_moved(cur, kind, binding)
    # the event carries the digest checked above: apply() refuses it on a retry's new tip
    ev = Event(kind, change_id, s.actor.email, s.at(), cur["digest"], comment=comment,
               reason=reason, verified=verified)
    _, got, warns = record(s, Prepared(ev))
    new = _as_change(got)
    lines = [f"{change_id}: {kind} recorded; state {new['state']}"]
    if kind == "approve" and new["state"] == "submitted":
        lines += _needs(new, s)
    return Outcome(0, lines, warns)


def freeze(s: Session, reason: str, until: datetime | None) -> Outcome:
    """Stop the line: no guarded commit and no non-emergency `start` until unfreeze/until."""
    if until is not None and until <= s.now:
        raise InputError(f"--until {until.isoformat()} is not after now ({s.at()})")
    ev = Event("freeze", NO_CHANGE, s.actor.email, s.at(), reason=reason,
               until=until.isoformat(timespec="seconds") if until else None)
    _, _, warns = record(s, Prepared(ev))
    end = f" until {ev.until}" if ev.until else " until `changeguard unfreeze`"
    return Outcome(0, [f"freeze recorded{end}: {reason}"], warns)


def unfreeze(s: Session) -> Outcome:
    """Lift the active freeze (no-op when none is active)."""
    cur = Snapshot(s.git, ref_tip(s.git, s.ref)).freeze()
    if cur is None or not cur["active"]:
        return Outcome(0, ["no active freeze; nothing recorded"])
    ev = Event("unfreeze", NO_CHANGE, s.actor.email, s.at())
    _, _, warns = record(s, Prepared(ev))
    return Outcome(0, ["freeze lifted"], warns)


def _check_id(change_id: str) -> None:
    import re

    from changeguard.model import ID_PATTERN

    if not re.match(ID_PATTERN, change_id):
        raise InputError(f"{change_id!r} is not a change id",
                         hint="ids look like CHG-2016-0403-storage")


# --------------------------------------------------------------- reading


def show_view(s: Session, change_id: str, *, diff: bool = False,
              since_revision: int | None = None) -> ChangeView:
    """The reviewer's view of one change (SPEC §13; built in changelog/view.py)."""
    from changeguard.changelog.view import build_view

    _check_id(change_id)
    return build_view(s, change_id, make_world(s.config, None), diff=diff,
                      since_revision=since_revision)


def show_json(s: Session, change_id: str) -> dict[str, object]:
    """SPEC §8 + §13 `show --format json`."""
    from changeguard.changelog.view import view_json

    return view_json(show_view(s, change_id))


def show_text(s: Session, data: dict[str, object]) -> str:
    """Human-readable `show` of the change `data` (show_json's) names."""
    from changeguard.report.review import render_show_text

    return render_show_text(show_view(s, str(data["id"])))


def list_rows(s: Session, state: str | None, only_overdue: bool) -> list[dict[str, object]]:
    """SPEC §8 `list` rows, ordered by window start (remembered for local reads)."""
    from changeguard.changelog import listing

    return listing.list_rows(s.git, s.ref, **_listing(s, state, only_overdue))


def list_output(s: Session, state: str | None, only_overdue: bool,
                fmt: str) -> str | list[bytes | memoryview]:
    """`list` as printed: the rows as JSON (`fmt` "json") or one line each."""
    from changeguard.changelog import listing

    return listing.render(s.git, s.ref, fmt=fmt, **_listing(s, state, only_overdue))


def _listing(s: Session, state: str | None, only_overdue: bool) -> ListingArgs:
    from changeguard.caches import enabled
    from changeguard.changelog.verified import common_dir

    return {"state": state, "only_overdue": only_overdue,
            "hours": s.config.emergency_review_hours, "now": s.now,
            "cache_dir": common_dir(s.git) if enabled() else None}


def warn(lines: list[str]) -> None:
    """Print warning lines on stderr."""
    for line in lines:
        print(line, file=sys.stderr)
