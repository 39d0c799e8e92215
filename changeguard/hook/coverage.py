"""`guarded-path-coverage` (SPEC §5, §12 "Coverage"): the one coverage rule.

Shared by `hook` (the staged set, judged now) and `hook.gate` (each commit of a range, judged
at its committer time): a guarded path's content at time T is covered only by a change that
lists the path with exactly that blob, was approved or in progress at T (after its approval,
before a `complete`/`rollback`/`cancel`/`reject` event), whose window holds T, and that no
freeze (config or log) active at T blocks. Stdlib only: the tip tree is read through one
`cat-file --batch` of `changeguard.git` (a mass change also lists `paths/` with `ls-tree`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from changeguard.changelog.layout import FREEZE_FILE, change_dir, key_hash
from changeguard.config.light import LightConfig, Member
from changeguard.findings import Finding, Severity
from changeguard.git import Git, Staged, tree_entries

RULE = "guarded-path-coverage"
COVERING_STATES = ("approved", "in_progress")
OPEN_STATES = ("submitted", "approved", "in_progress")
# states a change reaches only after it was approved (rejected/cancelled may also follow one)
_ENDED = ("completed", "rolled_back", "cancelled", "rejected")
_END_EVENTS = ("complete", "rollback", "cancel", "reject")
MAX_PATHSPECS = 1000


@dataclass(frozen=True)
class LogFreeze:
    """A `changeguard freeze` of the log: from its event time until `until` or an unfreeze."""

    start: datetime | None  # None: unreadable time, the freeze counts from the beginning
    end: datetime | None  # None: until unfreeze
    reason: str


@dataclass(frozen=True)
class LogView:
    """The change-log tip as the hook needs it: which changes list each path, and freeze."""

    listed: dict[str, list[str]]
    states: dict[str, dict[str, object]]
    freeze: dict[str, object] | None
    ref: str = ""


def read_log(git: Git, cfg: LightConfig, paths: Sequence[str]) -> LogView | None:
    """Read the tip tree with one `cat-file --batch` (a mass change: and one `ls-tree`);
    None: no log yet."""
    keys = {key_hash(p): p for p in paths}
    ref = cfg.log_ref
    rows = _path_rows(git, ref, keys)
    if rows is None and cfg.log_remote and ref.startswith("refs/heads/"):
        ref = f"refs/remotes/{cfg.log_remote}/{ref[len('refs/heads/'):]}"
        rows = _path_rows(git, ref, keys)
    if rows is None:
        return None
    listed: dict[str, list[str]] = {p: [] for p in paths}
    for name in rows:
        parts = name.split("/")  # paths/<xx>/<key>/<ID>
        # a change id never holds whitespace; one that does would break cat-file's protocol
        if len(parts) == 4 and parts[2] in keys and parts[1] == parts[2][:2] and parts[3] \
                and not any(c.isspace() for c in parts[3]):
            listed[keys[parts[2]]].append(parts[3])
    ids = sorted({i for ids in listed.values() for i in ids})
    specs = [f"{ref}:{change_dir(i)}/state.json" for i in ids] + [f"{ref}:{FREEZE_FILE}"]
    blobs = git.cat_blobs(specs)
    states = {i: _json_object(blobs[s]) for i, s in zip(ids, specs, strict=False)}
    return LogView(listed, {i: s for i, s in states.items() if s is not None},
                   _json_object(blobs[specs[-1]]), ref)


def _path_rows(git: Git, ref: str, keys: dict[str, str]) -> list[str] | None:
    """Names `paths/<xx>/<key>/<ID>` under the `keys`' directories of `ref`; None when `ref`
    does not exist. The directories are read through the run's one `cat-file`; a mass
    change lists all of `paths/` instead (one pathspec per path would pass argv limits)."""
    if len(keys) > MAX_PATHSPECS:
        got = git.ls_tree(ref, ["paths/"], recursive=True)
        return None if got is None else [name for _, name in got]
    dirs = [f"paths/{k[:2]}/{k}" for k in sorted(keys)]
    objects = git.objects([f"{ref}^{{tree}}", *(f"{ref}:{d}" for d in dirs)])
    if objects[0] is None:
        return None
    rawlen = len(objects[0][0]) // 2
    return [f"{d}/{name}" for d, o in zip(dirs, objects[1:], strict=True)
            if o is not None and o[1] == "tree" for _, name, _ in tree_entries(o[2], rawlen)]


def _json_object(raw: bytes | None) -> dict[str, object] | None:
    if raw is None:
        return None
    import json  # only once the log is read

    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def check_coverage(git: Git, cfg: LightConfig, staged: list[Staged],
                   now: datetime, branch: str | None = None, *,
                   log_exists: bool = True) -> list[Finding]:
    """`guarded-path-coverage` for each staged guarded path (SPEC §5).

    `branch`: HEAD's branch when it is not the trusted branch (SPEC §13 branch workflow);
    a change's proposed content is then accepted with a note of what it still needs.
    `log_exists`: False when the caller found no log ref (nothing to read).
    """
    if not staged:
        return []
    log = read_log(git, cfg, [s.path for s in staged]) if log_exists else None
    # a path no change lists has no recorded author: the one committing it is the author-to-be
    me = committer(git) if log is None or any(not log.listed.get(s.path) for s in staged) \
        else None
    if log is None:
        return [_no_log(cfg, s, me) for s in staged]
    frozen = active_freeze(cfg, tip_freezes(log.freeze), now)
    findings: list[Finding] = []
    for s in staged:
        findings += judge_path(s, log, cfg, now, frozen, me, branch)
    return findings


def committer(git: Git) -> str | None:
    """The email git will record as the commit's author (None when git has none)."""
    p = git.run("var", "GIT_AUTHOR_IDENT", check=False)
    text = p.stdout.decode("utf-8", "replace")
    if p.returncode != 0 or "<" not in text:
        return None
    return text[text.index("<") + 1:text.rfind(">")] or None


def _no_log(cfg: LightConfig, s: Staged, me: str | None) -> Finding:
    path = s.path
    what = "deletion of " if s.blob is None else ""
    sync = " (or run `changeguard log sync` to fetch the log)" if cfg.log_remote else ""
    return Finding(RULE, Severity.DENY,
                   f"{what}{path} is guarded and no change covers it: the change log "
                   f"{cfg.log_ref} does not exist yet{sync}", path, None, None,
                   f"list {path!r} under `changes:` of a plan (`changeguard new`), run "
                   "`changeguard submit PLAN`, get it approved"
                   f"{_approvers_text(cfg, {'author': me})}, and commit inside its window")


def tip_freezes(tip: dict[str, object] | None) -> list[LogFreeze]:
    """The freeze the log's tip `freeze.json` records (the hook judges now: the tip is enough)."""
    return _spans([tip] if tip is not None else [])


def log_freezes(git: Git, ref: str) -> list[LogFreeze]:
    """Every freeze the log ever recorded: each version of `freeze.json`, oldest first.

    The gate judges commits at their own times, so a freeze lifted since still blocks the
    commits made while it was active (SPEC §12).
    """
    if not ref:
        return []
    out = git.run("rev-list", "--reverse", ref, "--", FREEZE_FILE, check=False)
    shas = out.stdout.decode("ascii", "replace").split() if out.returncode == 0 else []
    specs = [f"{sha}:{FREEZE_FILE}" for sha in shas]
    blobs = git.cat_blobs(specs)
    return _spans([v for v in (_json_object(blobs[sp]) for sp in specs) if v is not None])


def _spans(versions: Sequence[dict[str, object]]) -> list[LogFreeze]:
    """Freeze spans from successive freeze states: a later freeze/unfreeze ends the last."""
    spans: list[LogFreeze] = []
    for i, v in enumerate(versions):
        if v.get("active") is not True:
            continue
        until = _time(v.get("until"))
        nxt = _time(versions[i + 1].get("at")) if i + 1 < len(versions) else None
        end = min((t for t in (until, nxt) if t is not None), default=None)
        reason = v.get("reason")
        spans.append(LogFreeze(_time(v.get("at")), end,
                               reason if isinstance(reason, str) else "", ))
    return spans


def active_freeze(cfg: LightConfig, log_freezes: Sequence[LogFreeze],
                  now: datetime) -> str | None:
    """Why commits are frozen at `now` (config `freezes` or a log freeze), or None."""
    for f in cfg.freezes:
        if f.start <= now < f.end:
            return f"freeze {f.name!r} until {f.end.isoformat()}" + (
                f" ({f.reason})" if f.reason else "")
    for lf in log_freezes:
        if (lf.start is None or lf.start <= now) and (lf.end is None or now < lf.end):
            return "the line is frozen" + (f" until {lf.end.isoformat()}" if lf.end else "") \
                + (f" ({lf.reason})" if lf.reason else "")
    return None


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo is not None else None


Problem = tuple[str, str]  # (kind, text): kind picks the hint, text goes in the message


def judge_path(s: Staged, log: LogView, cfg: LightConfig, now: datetime,
               frozen: str | None, me: str | None = None,
               branch: str | None = None) -> list[Finding]:
    """Covered by some change (maybe a warning), or one deny finding saying what is missing.

    On an untrusted `branch` (the hook only; the gate never passes one) content a change
    proposes is accepted with a warning saying what it needs before it reaches the trusted
    branch.
    """
    candidates: list[tuple[str, list[Problem], dict[str, object]]] = []
    for cid in log.listed.get(s.path, []):
        state = log.states.get(cid)
        if state is None:
            continue
        problems = change_problems(state, s, now, frozen)
        if not problems:
            if frozen and state.get("type") == "emergency":
                return [Finding(RULE, Severity.WARN, f"{s.path}: emergency change {cid} "
                                f"proceeds during a freeze: {frozen}", s.path)]
            return []
        candidates.append((cid, problems, state))
    if branch is not None:
        note = branch_note(s, candidates, cfg, now, frozen, branch)
        if note is not None:
            return [note]
    return [_uncovered(s, candidates, cfg, me)]


BRANCH_STATES = ("submitted", "approved")


def branch_note(s: Staged, candidates: list[tuple[str, list[Problem], dict[str, object]]],
                cfg: LightConfig, now: datetime, frozen: str | None,
                branch: str) -> Finding | None:
    """SPEC §13 branch workflow: the staged blob is the proposed content of a submitted or
    approved change whose window has not closed, so it may wait on `branch` for review.

    Nothing else is: content no change proposes, or that only a rejected, cancelled,
    completed or expired change proposed, can never reach the trusted branch. A freeze does
    not refuse a branch commit (nothing is deployed from a branch; the gate refuses the
    merge while it lasts) but the note names it.
    """
    for cid, _problems, state in sorted(candidates, key=lambda c: c[0]):
        paths = state.get("paths")
        if state.get("state") not in BRANCH_STATES or not isinstance(paths, dict) \
                or s.path not in paths or paths[s.path] != s.blob:
            continue
        window = state.get("window")
        start = _time(window.get("start")) if isinstance(window, dict) else None
        end = _time(window.get("end")) if isinstance(window, dict) else None
        if start is None or end is None or now > end:
            continue
        needs = [*missing_approvals(state, cfg), f"its window {window_text(start, end)}"]
        if frozen:
            needs.append(f"the end of the freeze in force now ({frozen})")
        what = "deletion" if s.blob is None else "content"
        return Finding(RULE, Severity.WARN,
                       f"{s.path}: proposed {what} of {cid} (revision "
                       f"{state.get('revision', '?')}, {state.get('state')}): accepted on "
                       f"branch {branch}; before it can reach {cfg.trust_branch} it needs "
                       + " and ".join(needs), s.path,
                       hint=_merge_hint(cfg.trust_branch, branch, start, end))
    return None


def _merge_hint(trusted: str, branch: str, start: datetime, end: datetime) -> str:
    return (f"once approved, merge it into {trusted} with a merge commit made inside the "
            f"window (`git merge --no-ff {branch}` during {window_text(start, end)}): the "
            "gate judges every commit entering it at its committer time, and a fast-forward "
            "would bring in this commit with its earlier time")


def window_text(start: datetime, end: datetime) -> str:
    """`2016-04-03 01:00–05:00 +08:00` (the end in the start's offset)."""
    end = end.astimezone(start.tzinfo)
    off = _offset(start)
    if end.date() == start.date():
        return f"{start:%Y-%m-%d %H:%M}–{end:%H:%M} {off}"
    return f"{start:%Y-%m-%d %H:%M}–{end:%Y-%m-%d %H:%M} {off}"


def _offset(t: datetime) -> str:
    delta = t.utcoffset()
    minutes = int(delta.total_seconds() // 60) if delta is not None else 0
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02}:{abs(minutes) % 60:02}"


def missing_approvals(state: dict[str, object], cfg: LightConfig) -> list[str]:
    """Approvals the current revision still needs, each with who may give them, e.g.
    `1 approval by dba (Dev, Ravi)`; from its recorded requirements and the trusted roster."""
    roster = {m.email.lower(): m for m in cfg.reviewers}
    author = str(state.get("author", "")).lower()
    digest = state.get("digest")
    valid = {str(a.get("actor", "")).lower() for a in _list(state.get("approvals"))
             if isinstance(a, dict) and not a.get("stale") and a.get("digest") == digest}
    valid = {a for a in valid if a in roster and a != author}
    out: list[str] = []
    for q in _list(state.get("requirements")):
        if not isinstance(q, dict):
            continue
        n = q.get("min", 1)
        more = max(n - len(valid), 0) if isinstance(n, int) and not isinstance(n, bool) else 0
        roles = {r for r in _list(q.get("roles")) if isinstance(r, str)}
        role_met = not roles or any(roles & set(roster[a].roles) for a in valid)
        text = _need_text(more, roles, role_met, [
            m for e, m in roster.items() if e not in valid and e != author
            and (role_met or roles & set(m.roles))])
        if text and text not in out:
            out.append(text)
    return out


def _need_text(more: int, roles: set[str], role_met: bool, who: list[Member]) -> str:
    names = ", ".join(m.name or m.email for m in who[:5]) + (", ..." if len(who) > 5 else "")
    people = f" ({names})" if names else " (nobody on the roster can give it)"
    if not role_met:
        by = " or ".join(sorted(roles))
        if more > 1:
            return f"{more} approvals, one of them by {by}{people}"
        return f"1 approval by {by}{people}"
    if more > 0:
        return f"{more} approval{'s' if more > 1 else ''}{people}"
    return ""


def change_problems(state: dict[str, object], s: Staged, now: datetime,
                    frozen: str | None) -> list[Problem]:
    """What keeps this change from covering the path's content at `now` (empty: it covers)."""
    problems = _state_problems(state, now)
    window = state.get("window")
    start = _time(window.get("start")) if isinstance(window, dict) else None
    end = _time(window.get("end")) if isinstance(window, dict) else None
    if start is None or end is None:
        problems.append(("window", "its window is unreadable"))
    elif now < start:
        problems.append(("opens", f"outside its window: opens {start.isoformat()}"))
    elif now > end:
        problems.append(("window", f"outside its window: closed {end.isoformat()}"))
    paths = state.get("paths")
    approved = paths.get(s.path, "") if isinstance(paths, dict) else ""
    if approved != s.blob:
        problems.append(("blob", f"blob differs: approved {_short(approved)}, "
                                 f"staged {_short(s.blob)}"))
    if frozen and state.get("type") != "emergency":
        problems.append(("frozen", f"frozen: {frozen}"))
    return problems


def _state_problems(state: dict[str, object], when: datetime) -> list[Problem]:
    """Was the change approved or in progress at `when`? (SPEC §12 "Coverage")."""
    st = str(state.get("state", "unknown"))
    if st == "submitted":
        return [("approve", "state is submitted, not approved")]
    if st not in COVERING_STATES and st not in _ENDED:
        return [("closed", f"state is {st}")]
    approved = approval_time(state)
    if st in _ENDED:
        ended = end_time(state)
        # covers nothing after its end event; an end nobody can date covers nothing at all
        if ended is None or when >= ended or approved is None:
            return [("closed", f"state is {st}" + (f" since {ended.isoformat()}"
                                                   if ended is not None else ""))]
    if approved is None:
        return [("approve", f"state is {st} but no approval of revision "
                            f"{state.get('revision', '?')} is recorded")]
    if when < approved:
        return [("early", f"approved only at {approved.isoformat()}, after this time")]
    return []


def approval_time(state: dict[str, object]) -> datetime | None:
    """When the current revision became approved: the approval completing its requirements.

    Replays the revision's approvals (current digest, not stale, never the author's, one per
    person) in time order against the recorded requirements (count, and a role among the
    approvers' recorded roles), as the state machine did when it wrote `approved`.
    """
    given = state.get("approvals")
    author = str(state.get("author", "")).lower()
    digest = state.get("digest")
    rows: list[tuple[datetime, str, set[str]]] = []
    for a in given if isinstance(given, list) else []:
        if not isinstance(a, dict) or a.get("stale") or a.get("digest") != digest:
            continue
        at, actor = _time(a.get("at")), str(a.get("actor", "")).lower()
        roles = a.get("roles")
        if at is None or not actor or actor == author:
            continue
        rows.append((at, actor, {r for r in roles if isinstance(r, str)}
                     if isinstance(roles, list) else set()))
    rows.sort(key=lambda r: r[0])
    reqs = [q for q in _list(state.get("requirements")) if isinstance(q, dict)]
    seen: dict[str, set[str]] = {}
    for at, actor, roles in rows:
        if actor in seen:
            continue
        seen[actor] = roles
        if all(_met(q, seen) for q in reqs):
            return at
    # the state says approved but the replay never gets there: the last approval, the
    # latest moment it can have happened (never earlier than the truth)
    return rows[-1][0] if rows else None


def _met(req: dict[str, object], approvers: dict[str, set[str]]) -> bool:
    n = req.get("min", 1)
    if isinstance(n, int) and not isinstance(n, bool) and len(approvers) < n:
        return False
    roles = {r for r in _list(req.get("roles")) if isinstance(r, str)}
    return not roles or any(rs & roles for rs in approvers.values())


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def end_time(state: dict[str, object]) -> datetime | None:
    """Time of the event that closed the current revision (complete, rollback, ...)."""
    events = state.get("events")
    rows = [e for e in events if isinstance(e, dict)] if isinstance(events, list) else []
    last_submit = max((i for i, e in enumerate(rows) if e.get("event") == "submit"), default=-1)
    for e in rows[last_submit + 1:]:
        if e.get("event") in _END_EVENTS:
            return _time(e.get("at"))
    return None


def _short(blob: object) -> str:
    if blob is None:
        return "deletion"
    return str(blob)[:12] if blob else "nothing"


def _uncovered(s: Staged, candidates: list[tuple[str, list[Problem], dict[str, object]]],
               cfg: LightConfig, me: str | None) -> Finding:
    what = "deletion of " if s.blob is None else ""
    if not candidates:
        sync = "; `changeguard log sync` fetches newer changes" if cfg.log_remote else ""
        return Finding(RULE, Severity.DENY,
                       f"{what}{s.path} is guarded and no change in the log lists it", s.path,
                       hint=f"list {s.path!r} under `changes:` of a plan, `changeguard submit` "
                            f"it and get it approved{_approvers_text(cfg, {'author': me})}{sync}")
    # open changes first: they are the ones the author is most likely working under
    candidates.sort(key=lambda c: (str(c[2].get("state")) not in OPEN_STATES, c[0]))
    parts = [f"{cid} ({'; '.join(t for _, t in problems)})"
             for cid, problems, _ in candidates[:3]]
    cid, problems, state = candidates[0]
    return Finding(RULE, Severity.DENY,
                   f"{what}{s.path} is guarded and not covered: " + "; ".join(parts), s.path,
                   hint=_fix_hint(cid, [k for k, _ in problems], state, cfg))


def _fix_hint(cid: str, kinds: list[str], state: dict[str, object], cfg: LightConfig) -> str:
    """How to get from the closest change to a covered commit."""
    if "closed" in kinds:
        return (f"{cid} is closed; submit a new plan listing the file and get it approved"
                f"{_approvers_text(cfg, {**state, 'approvals': []})}")
    steps = []
    if "blob" in kinds:
        # a new revision makes earlier approvals stale (SPEC §7): everyone may re-approve
        steps.append("stage the approved content, or `changeguard submit` a new revision of "
                     f"the plan with this content and get it approved again"
                     f"{_approvers_text(cfg, {**state, 'approvals': []})}")
    elif "approve" in kinds:
        rev = state.get("revision")
        steps.append(f"get `changeguard approve {cid} --revision {rev}`"
                     f"{_approvers_text(cfg, state)}")
    if "early" in kinds or "opens" in kinds:
        steps.append(_early_hint(state, cfg))
    elif "window" in kinds:
        steps.append("commit inside the change's window (or submit a revision with a new one)")
    if "frozen" in kinds:
        steps.append("wait for the freeze to end or `changeguard unfreeze`; only emergency "
                     "changes may proceed")
    return "; ".join(steps)


def _early_hint(state: dict[str, object], cfg: LightConfig) -> str:
    """Content committed before the approval or the window (a branch's, SPEC §13)."""
    window = state.get("window")
    start = _time(window.get("start")) if isinstance(window, dict) else None
    end = _time(window.get("end")) if isinstance(window, dict) else None
    when = f" {window_text(start, end)}" if start is not None and end is not None else ""
    return (f"commit inside the change's window{when}, after its approval; content committed "
            f"earlier (on a branch) enters {cfg.trust_branch} only with a merge commit made "
            "inside the window (`git merge --no-ff BRANCH`): the gate judges every commit "
            "entering it at its committer time, and a fast-forward keeps the earlier one")


def needed_roles(state: dict[str, object], cfg: LightConfig) -> set[str]:
    """Roles an approver needs (empty: any roster member), from the change's recorded
    policy requirements (issue 12): roles of the requirements no valid approval meets yet."""
    reqs = state.get("requirements")
    roles_of = {m.email.lower(): set(m.roles) for m in cfg.reviewers}
    given = _approved_by(state)
    need: set[str] = set()
    for q in reqs if isinstance(reqs, list) else []:
        roles = {r for r in (q.get("roles") or []) if isinstance(r, str)} \
            if isinstance(q, dict) and isinstance(q.get("roles"), list) else set()
        if roles and not any(roles_of.get(a, set()) & roles for a in given):
            need |= roles
    return need


def _approved_by(state: dict[str, object]) -> set[str]:
    """Lower-cased actors of the change's approvals that still count (not stale)."""
    given = state.get("approvals")
    return {str(a.get("actor", "")).lower() for a in (given if isinstance(given, list) else [])
            if isinstance(a, dict) and not a.get("stale")}


def approvers(cfg: LightConfig, state: dict[str, object]) -> list[Member]:
    """Roster members who can still approve: right role, never the author, not yet approved."""
    roles = needed_roles(state, cfg)
    done = _approved_by(state)
    author = state.get("author")
    if isinstance(author, str) and author:
        done.add(author.lower())
    return [m for m in cfg.reviewers
            if m.email.lower() not in done and (not roles or roles & set(m.roles))]


def _approvers_text(cfg: LightConfig, state: dict[str, object]) -> str:
    people = approvers(cfg, state)
    if not people:
        return " (no roster member in `reviewers:` can approve it yet)"
    names = [f"{m.name} <{m.email}>" if m.name else m.email for m in people[:5]]
    return " by " + ", ".join(names) + (", ..." if len(people) > 5 else "")


