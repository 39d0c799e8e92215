"""The reviewer's view of one change (SPEC §13): what `show` prints, read from the log tip.

Nothing here replays the log: the tip tree holds the change's state, plan and proposed
content, and the record of the change's own event commits (issue 17: `event_commits`).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, cast

from changeguard.changelog.layout import change_dir, commits_file
from changeguard.changelog.state import ChangeState, World, missing_approvals, overdue
from changeguard.errors import ChangeguardError, InputError, RefusedError

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

    from changeguard.changelog.store import Git
    from changeguard.config.trusted import Trusted
    from changeguard.model import ChangePlan, GuardConfig
    from changeguard.replication.model import Topology

NOT_STORED = "content not stored in the log"


class Session(Protocol):
    """What the view reads: `changelog.workflow.Session` (which imports this module)."""

    @property
    def repo(self) -> Path: ...
    @property
    def config(self) -> GuardConfig: ...
    @property
    def now(self) -> datetime: ...
    @property
    def trusted(self) -> Trusted | None: ...
    @property
    def git(self) -> Git: ...
    @property
    def ref(self) -> str: ...


@dataclass(frozen=True)
class Impact:
    """One disruptive step on one topology: who is out, who is primary meanwhile."""

    topology: str
    out: tuple[str, ...]
    primary: tuple[str, ...]  # serving as primary meanwhile; empty: none
    before: tuple[str, ...]  # primary before the step (differs from `primary` on a failover)


@dataclass(frozen=True)
class StepView:
    """A plan step on the window's timeline."""

    id: str | None
    action: str
    kind: str
    targets: tuple[str, ...]
    minutes: float
    offset: float  # minutes from the window start
    disruptive: bool
    impacts: tuple[Impact, ...] = ()


@dataclass(frozen=True)
class ReviewView:
    """One approval or rejection, bound to the revision and digest it was given for."""

    actor: str
    at: str
    digest: str
    revision: int | None
    stale: bool
    text: str | None  # the approval's comment or the rejection's reason


@dataclass(frozen=True)
class FileView:
    """A changed file: proposed blob, its blob at the diff base, and the diff."""

    path: str
    blob: str | None  # None: the change deletes the file
    base_blob: str | None  # None: the diff base lacks the file
    diff: tuple[str, ...] = ()  # unified diff lines (without newlines)
    note: str | None = None  # why no diff is shown (binary, not stored, unchanged)


@dataclass
class ChangeView:
    """Everything the reviewer's view shows about one change."""

    st: ChangeState
    tip: str  # the log commit the view was read at
    plan: ChangePlan | None
    steps: list[StepView]
    files: list[FileView]
    approvals: list[ReviewView]
    rejections: list[ReviewView]
    events: list[dict[str, object]]
    findings: list[dict[str, object]] | None  # None: the submit recorded none (older logs)
    missing: list[str]
    overdue: bool
    diff_base: str | None = None  # what --diff compared with; None without --diff
    base_label: str = "trusted"  # what a file's base blob is: the trusted branch or revision N
    notes: list[str] = field(default_factory=list)  # what could not be shown, and why

    @property
    def approve_command(self) -> str | None:
        """The exact command approving what was shown (None once it cannot be approved)."""
        if self.st["state"] not in ("submitted", "approved"):
            return None
        return f"changeguard approve {self.st['id']} --revision {self.st['revision']}"


# --------------------------------------------------------------- building the view


def build_view(s: Session, change_id: str, world: World, *, diff: bool = False,
               since_revision: int | None = None) -> ChangeView:
    """Read one (checked) change id's view at the log tip (RefusedError when it is not there);
    `world` is the trusted roster that says who may still approve."""
    from changeguard.changelog.store import ref_tip

    tip = ref_tip(s.git, s.ref)
    st = _state(s, tip, change_id) if tip is not None else None
    if st is None or tip is None:
        raise RefusedError(f"no change {change_id} in the log",
                           hint="`changeguard list` shows recorded changes")
    base = f"{tip}:{change_dir(change_id)}"
    notes: list[str] = []
    plan = _plan(s, base, notes)
    commits = event_commits(s, tip, change_id, len(st["events"]))
    events: list[dict[str, object]] = [
        {"event": e["event"], "actor": e["actor"], "at": e["at"], "commit": c}
        for e, c in zip(st["events"], commits, strict=True)]
    view = ChangeView(
        st, tip, plan, _steps(s, st, plan, notes), _files(s, st), *_reviews(st), events,
        _findings(s, base), missing_approvals(st, world)
        if st["state"] in ("submitted", "approved") else [],
        overdue(st, s.config.emergency_review_hours, s.now), notes=notes)
    if since_revision is not None:
        _diff_since(s, view, since_revision)
    elif diff:
        _diff_trusted(s, view)
    return view


def _state(s: Session, tip: str, change_id: str) -> ChangeState | None:
    data = s.git.read_blob(f"{tip}:{change_dir(change_id)}/state.json")
    return cast("ChangeState", json.loads(data)) if data is not None else None


def _plan(s: Session, base: str, notes: list[str]) -> ChangePlan | None:
    """The stored plan.yaml, parsed by the plan loader (None, with a note, if it cannot be)."""
    from changeguard.plan.load import parse_plan

    raw = s.git.read_blob(f"{base}/plan.yaml")
    if raw is None:
        notes.append("the log holds no plan.yaml for this change")
        return None
    try:
        lp = parse_plan(raw, f"{s.ref}:{base.partition(':')[2]}/plan.yaml",
                        max_bytes=s.config.max_file_bytes)
    except ChangeguardError as e:
        notes.append(f"the stored plan cannot be read: {e.message}")
        return None
    if lp.plan is None:
        notes.append("the stored plan does not match the ChangePlan schema")
    return lp.plan


def event_commits(s: Session, tip: str, change_id: str, count: int) -> list[str | None]:
    """The commit of each of the change's `count` events, oldest first.

    Read from the change's record of its event commits (`changelog.eventcommits`, checked
    by `log verify`): a few object reads, however long ago the change was submitted. A
    record that does not list every event (a log written before records existed) falls
    back to a `git log` that stops after the change's events (`-n`): every event commit
    carries `Changeguard-Change: ID` as a trailer line (`log verify` checks it against the
    body), so that walk costs how far back the change's first event is.
    """
    from changeguard.changelog.eventcommits import change_of, complete, parse
    from changeguard.changelog.events import commit_message

    if count == 0:
        return []
    record = parse(s.git.read_blob(f"{tip}:{commits_file(change_id)}"))
    if record is not None or count == 1:
        got = complete(record, tip, change_of(commit_message(s.git, tip)), change_id, count)
        if got is not None:
            return list(got)
    out = s.git.out("log", f"-n{count}", "--format=%H", "-E",
                    f"--grep=^Changeguard-Change: {change_id}$", tip, "--")
    found: list[str | None] = list(reversed(out.split()))
    return [None] * (count - len(found)) + found[-count:]


def _revisions(st: ChangeState, kind: str) -> list[int]:
    """The revision current at each `kind` event (approvals/rejections are kept in order)."""
    rev, out = 0, []
    for e in st["events"]:
        if e["event"] == "submit":
            rev += 1
        elif e["event"] == kind:
            out.append(rev)
    return out


def _reviews(st: ChangeState) -> tuple[list[ReviewView], list[ReviewView]]:
    approvals, rejections = [], []
    for a, rev in zip(st["approvals"], _pad(_revisions(st, "approve"), len(st["approvals"])),
                      strict=True):
        approvals.append(ReviewView(a["actor"], a["at"], a["digest"],
                                    _stored_revision(a) or rev,
                                    a["stale"] or a["digest"] != st["digest"], a["comment"]))
    for r, rev in zip(st["rejections"], _pad(_revisions(st, "reject"), len(st["rejections"])),
                      strict=True):
        rejections.append(ReviewView(r["actor"], r["at"], r["digest"],
                                     _stored_revision(r) or rev, r["digest"] != st["digest"],
                                     r["reason"]))
    return approvals, rejections


def _stored_revision(record: object) -> int | None:
    """A revision the state records itself (when the writer binds reviews to one)."""
    got = record.get("revision") if isinstance(record, dict) else None
    return got if isinstance(got, int) else None


def _pad(values: list[int], n: int) -> list[int | None]:
    return [*values[:n], *([None] * (n - len(values)))]


def _findings(s: Session, base: str) -> list[dict[str, object]] | None:
    raw = s.git.read_blob(f"{base}/findings.json")
    if raw is None:
        return None
    data = json.loads(raw)
    return [f for f in data if isinstance(f, dict)] if isinstance(data, list) else None


# --------------------------------------------------------------- files and diffs


def _files(s: Session, st: ChangeState) -> list[FileView]:
    base = _trusted_blobs(s, list(st["paths"]))
    return [FileView(p, b, base.get(p)) for p, b in sorted(st["paths"].items())]


def _trusted_blobs(s: Session, paths: list[str]) -> dict[str, str]:
    sha = s.trusted.sha if s.trusted is not None else None
    if sha is None or not paths:
        return {}
    wanted = set(paths)
    return {p: oid for oid, p in s.git.ls_tree(sha, paths) or [] if p in wanted}


def _diff_trusted(s: Session, view: ChangeView) -> None:
    """--diff: each changed file from the trusted revision to the proposed content."""
    t = s.trusted
    view.diff_base = f"trusted revision {t.name} ({t.sha[:12]})" if t and t.sha else \
        "nothing (no trusted revision)"
    contents = _contents(s, [b for f in view.files for b in (f.blob, f.base_blob) if b])
    view.files = [_with_diff(f, f.base_blob, contents) for f in view.files]


def _diff_since(s: Session, view: ChangeView, n: int) -> None:
    """--since-revision N: revision N's proposed content to the current one (plan too)."""
    cur = view.st["revision"]
    if not 1 <= n <= cur:
        raise InputError(f"--since-revision {n}: {view.st['id']} has revisions 1..{cur}",
                         hint=f"the current revision is {cur}")
    commit = _submit_commit(view, n)
    old = _state(s, commit, view.st["id"])
    if old is None:
        raise RefusedError(f"revision {n}'s submit commit {commit} holds no state",
                           hint="run `changeguard log verify`")
    view.diff_base = f"revision {n} (submit {commit[:12]})"
    view.base_label = f"revision {n}"
    old_paths, new_paths = old["paths"], view.st["paths"]
    contents = _contents(s, [b for b in (*old_paths.values(), *new_paths.values()) if b])
    files = [FileView(p, new_paths.get(p), old_paths.get(p))
             for p in sorted(set(old_paths) | set(new_paths))]
    plan = f"{change_dir(view.st['id'])}/plan.yaml"
    # the plan text is part of the digest too: show what changed in it first
    was, now = s.git.read(f"{commit}:{plan}"), s.git.read(f"{view.tip}:{plan}")
    for got in (was, now):
        if got is not None:
            contents[got[0]] = got[2]
    files.insert(0, FileView("plan.yaml", now[0] if now else None, was[0] if was else None))
    view.files = [_with_diff(f, f.base_blob, contents) for f in files]


def _submit_commit(view: ChangeView, n: int) -> str:
    submits = [e for e in view.events if e["event"] == "submit"]
    commit = submits[n - 1]["commit"] if n <= len(submits) else None
    if not isinstance(commit, str):
        raise RefusedError(f"cannot find the submit commit of revision {n} in the log",
                           hint="run `changeguard log verify`")
    return commit


def _contents(s: Session, blobs: Sequence[str]) -> dict[str, bytes]:
    """Blob id -> bytes for the blobs this clone has (one batch read)."""
    ids = list(dict.fromkeys(blobs))
    return {oid: got[2] for oid, got in zip(ids, s.git.read_many(ids), strict=True)
            if got is not None and got[1] == "blob"}


def _with_diff(f: FileView, old: str | None, contents: dict[str, bytes]) -> FileView:
    """`f` with its unified diff (or a note saying why there is none)."""
    if f.blob == old:
        return FileView(f.path, f.blob, f.base_blob,
                        note="unchanged" if f.blob else "absent in both")
    a = contents.get(old) if old else b""
    b = contents.get(f.blob) if f.blob else b""
    if a is None or b is None:
        return FileView(f.path, f.blob, f.base_blob, note=NOT_STORED)
    diff, note = unified(f.path, a if old else None, b if f.blob else None)
    return FileView(f.path, f.blob, f.base_blob, diff, note)


def unified(path: str, old: bytes | None, new: bytes | None) -> tuple[tuple[str, ...], str | None]:
    """difflib's unified diff of two versions (None: absent), or a note for binary text."""
    texts = [_text(x) for x in (old, new)]
    if any(t is None for t, x in zip(texts, (old, new), strict=True) if x is not None):
        return (), "binary or non-UTF-8 content: not shown"
    a, b = (t.splitlines() if t is not None else [] for t in texts)
    if a == b:
        return (), "differs only in line endings or the final newline"
    lines = difflib.unified_diff(a, b, "/dev/null" if old is None else f"a/{path}",
                                 "/dev/null" if new is None else f"b/{path}", lineterm="")
    label = "new file" if old is None else "deleted" if new is None else None
    return tuple(lines), label


def _text(data: bytes | None) -> str | None:
    if data is None or b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


# --------------------------------------------------------------- the timeline


def _steps(s: Session, st: ChangeState, plan: ChangePlan | None,
           notes: list[str]) -> list[StepView]:
    """The plan's steps from the window start, with the blast-radius walk's view of each."""
    if plan is None:
        return []
    from changeguard.replication.blast import DISRUPTIVE, walk

    impacts: dict[int, list[Impact]] = {}
    if any(step.kind in DISRUPTIVE for step in plan.steps):
        for t in _topologies(s, st, plan, notes):
            before = frozenset(n.name for n in t.primaries())
            for m in walk(t, plan.steps):
                # a failover hands the role over: its new primary is what serves meanwhile
                now = m.primaries if m.primaries != before else m.primaries - m.out
                impacts.setdefault(m.index, []).append(
                    Impact(t.name, tuple(sorted(m.out)), tuple(sorted(now)),
                           tuple(sorted(before))))
                before = m.primaries
    out, clock = [], 0.0
    for i, step in enumerate(plan.steps):
        out.append(StepView(step.id, step.action, str(step.kind), tuple(step.targets),
                            step.minutes, clock, step.kind in DISRUPTIVE,
                            tuple(impacts.get(i, ()))))
        clock += max(step.minutes, 0.0)
    return out


def _topologies(s: Session, st: ChangeState, plan: ChangePlan,
                notes: list[str]) -> list[Topology]:
    """The proposed topologies (SPEC §11: the plan's files as proposed, others as trusted)."""
    from changeguard.plan.gitfiles import RevReader, tracked_files
    from changeguard.replication.load import load
    from changeguard.replication.mapping import FileMapping, mapping_for

    maps = [m for m in FileMapping.from_config(s.config) if m.effective_format is not None]
    sha = s.trusted.sha if s.trusted is not None else None
    if not maps:
        return []
    tracked = tracked_files(s.repo, sha) if sha else []
    base = RevReader(s.repo, sha) if sha else None
    proposed = _contents(s, [b for b in st["paths"].values() if b])
    notes.extend(f"{p}: {NOT_STORED}; the timeline cannot use its proposed topology"
                 for p, b in sorted(st["paths"].items()) if b and b not in proposed
                 and mapping_for(p, maps) is not None)

    def read(path: str) -> bytes | None:
        if path in st["paths"]:
            blob = st["paths"][path]
            return proposed.get(blob) if blob else None
        return base(path) if base is not None else None

    present = sorted({p for p in tracked if p not in st["paths"]}
                     | {p for p, b in st["paths"].items() if b})

    def siblings(directory: str) -> list[str]:
        return [p for p in present if p.rpartition("/")[0] == directory]

    def topologies(files: list[str]) -> list[Topology]:
        result = load(s.repo, files, maps, read, complete_groups=True, siblings=siblings)
        notes.extend(f"topology not shown: {e.message}" for e in result.errors)
        return result.topologies

    mine = [p for p in st["paths"] if mapping_for(p, maps) is not None]
    got = topologies(mine) if mine else []
    if _all_hit(plan, got):  # the unchanged topologies are read only when a step needs them
        return got
    others = [p for p in tracked if p not in st["paths"] and mapping_for(p, maps) is not None]
    if base is not None:
        base.prefetch(others)  # one git process for all of them, not one each
    return got + topologies(others)


def _all_hit(plan: ChangePlan, topologies: list[Topology]) -> bool:
    """Every target of a disruptive step names something in `topologies`."""
    from changeguard.replication.blast import DISRUPTIVE
    from changeguard.replication.model import targeted

    return all(any(targeted(t, [x]) for t in topologies)
               for step in plan.steps if step.kind in DISRUPTIVE for x in step.targets)


# --------------------------------------------------------------- JSON (SPEC §8 + §13)


def view_json(v: ChangeView) -> dict[str, object]:
    """`show --format json`: every §8 key plus §13's, and the rest of the reviewer's view."""
    st = v.st
    out: dict[str, object] = {  # §8's keys first, in §8's order, then §13's
        "id": st["id"], "title": st["title"], "state": st["state"],
        "revision": st["revision"], "digest": st["digest"], "author": st["author"],
        "window": {"start": st["window"]["start"], "end": st["window"]["end"]},
        "approvals": [{"actor": a.actor, "digest": a.digest, "stale": a.stale, "at": a.at,
                       "revision": a.revision, "comment": a.text} for a in v.approvals],
        "rejections": [{"actor": r.actor, "reason": r.text, "at": r.at, "digest": r.digest,
                        "revision": r.revision} for r in v.rejections],
        "events": v.events,
        "type": st["type"], "risk": st["risk"], "services": list(st["services"]),
        "steps": [_step_json(x) for x in v.steps],
        "files": [_file_json(f, v.diff_base is not None) for f in v.files],
        "environment": st["environment"],
        "findings": v.findings, "missing": v.missing, "overdue": v.overdue,
        "approve_command": v.approve_command,
    }
    if v.plan is not None:
        out["rollback"] = v.plan.rollback.model_dump(mode="json") if v.plan.rollback else None
        out["verification"] = [c.model_dump(mode="json") for c in v.plan.verification]
        out["waivers"] = [w.model_dump(mode="json") for w in v.plan.waivers]
    if v.diff_base is not None:
        out["diff_base"] = v.diff_base
    if v.notes:
        out["notes"] = v.notes
    return out


def _step_json(x: StepView) -> dict[str, object]:
    return {"id": x.id, "kind": x.kind, "targets": list(x.targets), "minutes": x.minutes,
            "offset_minutes": x.offset, "action": x.action,
            "impact": [{"topology": i.topology, "out": list(i.out), "primary": list(i.primary),
                        "primary_before": list(i.before)} for i in x.impacts]}


def _file_json(f: FileView, with_diff: bool) -> dict[str, object]:
    out: dict[str, object] = {"path": f.path, "blob": f.blob, "base_blob": f.base_blob}
    if with_diff:
        out["diff"] = "\n".join(f.diff)
        out["note"] = f.note
    return out
