"""Events as commits on the log ref: message format, tip-tree layout, and the CAS append loop.

Tip-tree layout (docs/DESIGN.md "Change-log tip tree", a contract with the hook):
`changes/<xx>/<ID>/{plan.yaml,state.json}`, `paths/<xx>/<sha1(path)>/<ID>`, `freeze.json`;
added here: `services/<xx>/<sha1(service)>/<ID>` for open changes, so the conflict check reads
only candidates, and `list/<xx>.json` summary rows, so `list` reads 256 small blobs instead of
every state. `<xx>` is the first two hex digits of sha1 of the ID (or the key itself): no tree
has more than ~256 entries plus 1/256 of the changes, so git's per-commit tree diff (`log
verify`, `show`) stays small instead of growing with the log. A submit also stores the
proposed content of every changed file under `changes/<xx>/<ID>/files/<repo path>` and the
findings it reported as `changes/<xx>/<ID>/findings.json` (SPEC §13; `changelog.layout` says
how to find an older revision's commit, `revision_commits` lists them).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import cast

from changeguard.changelog.eventcommits import change_of, extended
from changeguard.changelog.layout import (
    FILES,
    FINDINGS,
    FREEZE_FILE,
    change_dir,
    commits_file,
    index_dir,
    key_hash,
    list_shard,
    proposed_file,
)
from changeguard.changelog.state import (
    EVENT_KINDS,
    NO_CHANGE,
    OPEN_STATES,
    ChangeState,
    Event,
    FreezeState,
    PlanSummary,
    World,
    apply,
    apply_freeze,
    dump_json,
    dump_state,
    list_row,
    overlaps,
    ts,
)
from changeguard.changelog.store import (
    TREE_MODE,
    Author,
    Git,
    TreeEdit,
    cas_update,
    commit_tree,
    parse_tree,
    ref_tip,
)
from changeguard.errors import GitError, InputError, RefusedError

TRAILERS = ("Changeguard-Event", "Changeguard-Change", "Changeguard-Digest", "Changeguard-Actor")
# SPEC §12 "Time": on events written under `clock: simulated` (their time may be made up)
CLOCK_TRAILER = "Changeguard-Clock"
SIMULATED = "simulated"
MIN_ATTEMPTS = 60
_BULK_KEYS = 64  # from this many index keys on, look them up with one bulk read
_FEW = 4  # up to this many objects, round trips on the long-lived cat-file beat a new process
RETRY_SECONDS = 120.0


def index_entries(st: ChangeState) -> dict[str, str]:
    """Index entries a change's state implies: tree path -> blob text."""
    out = {f"{_index_dir('paths', p)}/{st['id']}": p for p in st["paths"]}
    if st["state"] in OPEN_STATES:
        out.update({f"{_index_dir('services', s)}/{st['id']}": s for s in st["services"]})
    return out


# a sha1 per path or service: `log verify` asks again for every event of a change, and for
# the services many changes share
_index_dir = lru_cache(maxsize=1 << 14)(index_dir)


# --------------------------------------------------------------- message


def format_message(ev: Event, extra: Mapping[str, str] | None = None) -> str:
    """Subject, JSON body (the replayable event), the four trailers, then `extra` ones
    (Changeguard-Config, Changeguard-Clock, ...)."""
    subject = f"{ev.kind} {ev.change}" if ev.change != NO_CHANGE else ev.kind
    trailers = dict(zip(TRAILERS, (ev.kind, ev.change, ev.digest, ev.actor), strict=True))
    trailers.update({k: v for k, v in (extra or {}).items() if k not in TRAILERS})
    return (f"{subject}\n\n{ev.to_json()}\n\n"
            + "".join(f"{k}: {v}\n" for k, v in trailers.items()))


def extra_trailers(message: str) -> dict[str, str]:
    """The trailers beyond the four an event implies (e.g. Changeguard-Config): a replayed
    event keeps them, since they say what the event was written under."""
    return {k: v for k, v in parse_trailers(message).items() if k not in TRAILERS}


def parse_trailers(message: str) -> dict[str, str]:
    """Trailers of the last paragraph of a commit message."""
    last = message.strip().split("\n\n")[-1]
    out: dict[str, str] = {}
    for line in last.splitlines():
        k, sep, v = line.partition(": ")
        if sep:
            out[k] = v.strip()
    return out


def is_simulated(message: str) -> bool:
    """True when an event commit says its time came from a simulated clock."""
    return parse_trailers(message).get(CLOCK_TRAILER) == SIMULATED


def parse_message(message: str, trailers: dict[str, str] | None = None) -> Event:
    """The Event a log commit records; ValueError (only) when it is not a well-formed one.

    `trailers`: `parse_trailers(message)` when the caller has it already."""
    tr = parse_trailers(message) if trailers is None else trailers
    missing = [t for t in TRAILERS if t not in tr]
    if missing:
        raise ValueError("missing trailer(s) " + ", ".join(missing))
    body = next((p for p in message.split("\n\n") if p.lstrip().startswith("{")), None)
    if body is None:
        raise ValueError("no event JSON in the commit message")
    ev = _event_from(json.loads(body))
    expect = (ev.kind, ev.change, ev.digest, ev.actor)
    for t, v in zip(TRAILERS, expect, strict=True):
        if tr[t] != v:
            raise ValueError(f"trailer {t}: {tr[t]!r} disagrees with the event ({v!r})")
    return ev


_PLAN_KEYS = frozenset(PlanSummary.__annotations__)


def _event_from(d: object) -> Event:
    # the log is input too (it may come from a remote): check shapes before trusting them
    if not isinstance(d, dict):
        raise ValueError("event JSON is not an object")
    for k in ("event", "change", "actor", "at", "digest"):
        if not isinstance(d.get(k), str):
            raise ValueError(f"event JSON lacks string {k!r}")
    for k in ("comment", "reason", "until"):
        if d.get(k) is not None and not isinstance(d[k], str):
            raise ValueError(f"event JSON {k!r} is not a string")
    if d["event"] not in EVENT_KINDS:
        raise ValueError(f"unknown event {d['event']!r}")
    ts(d["at"])  # ValueError when not a timestamp
    verified = d.get("verified", [])
    if not isinstance(verified, list) or not all(isinstance(v, str) for v in verified):
        raise ValueError("event JSON 'verified' is not a list of strings")
    plan = d.get("plan")
    if (d["event"] == "submit") != isinstance(plan, dict) or (
            isinstance(plan, dict) and set(plan) != _PLAN_KEYS):
        raise ValueError("submit events (only) carry a complete plan summary")
    return Event(kind=d["event"], change=d["change"], actor=d["actor"], at=d["at"],
                 digest=d["digest"], comment=d.get("comment"), reason=d.get("reason"),
                 verified=tuple(verified), until=d.get("until"),
                 plan=cast("PlanSummary | None", plan))


# --------------------------------------------------------------- text an event may carry

# option names for the event fields a user types (for error messages)
_OPTION = {"comment": "--comment", "reason": "--reason", "verified": "--verified",
           "until": "--until"}


# Unicode category Cc is exactly U+0000-U+001F and U+007F-U+009F; newline and tab are allowed.
# A regex runs in C: per-character category lookups were 20% of a 10k-change `log verify`.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")  # what surrogateescape leaves of invalid UTF-8


def control_chars(text: str) -> str:
    """The control characters (other than newline and tab) in `text`, as U+XXXX; "" if none.

    A commit message is history's only record of an event, so nothing in it may look like a
    separator to any reader (SPEC §12 "History is read without in-band delimiters").
    """
    if _CONTROL.search(text) is None:
        return ""
    bad = sorted(set(_CONTROL.findall(text)))
    return ", ".join(f"U+{ord(ch):04X}" for ch in bad)


def _texts(value: object, where: str) -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(where, value)]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in [*_texts(k, where), *_texts(v, where)]]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _texts(v, where)]
    return []


def refuse_control_chars(ev: Event) -> None:
    """InputError (exit 2) when any text of the event is not clean UTF-8 without controls."""
    fields = {"actor": ev.actor, "comment": ev.comment, "reason": ev.reason,
              "verified": ev.verified, "until": ev.until, "plan": ev.plan}
    texts = [(name, text) for name, value in fields.items() for _, text in _texts(value, name)]
    joined = "\n".join(t for _, t in texts)
    if _CONTROL.search(joined) is None and _SURROGATE.search(joined) is None:
        return  # the common case, decided in C
    for name, text in texts:
        what = _OPTION.get(name, f"the event's {name}")
        if _SURROGATE.search(text):
            raise InputError(f"{what} is not valid UTF-8 text; nothing was recorded",
                             hint="pass the text in UTF-8 (check the terminal's locale)")
        bad = control_chars(text)
        if bad:
            raise InputError(f"{what} contains control character(s) {bad}; "
                             "nothing was recorded",
                             hint="only newline and tab are allowed in event text")


# --------------------------------------------------------------- reading a tip


class Snapshot:
    """One tip of the log, read lazily; also the tree being edited for the next event."""

    def __init__(self, git: Git, tip: str | None) -> None:
        self.git = git
        self.tip = tip
        tree = None
        if tip is not None:
            got = git.read(tip + "^{tree}")
            if got is None:
                raise GitError(f"change log commit {tip} has no tree")
            tree = got[0]
        self.tree = tree
        self.root = TreeEdit(git, tree)

    def _json(self, path: str) -> object | None:
        # through self.root: the `changes/` trees on the way are parsed once (the write
        # needs them anyway) and each candidate then costs a few small object reads
        sha = self.root.blob_sha(path)
        data = self.git.read_blob(sha) if sha is not None else None
        return json.loads(data) if data is not None else None

    def state(self, change_id: str) -> ChangeState | None:
        """state.json of a change at this tip, or None."""
        return cast("ChangeState | None", self._json(f"{change_dir(change_id)}/state.json"))

    def freeze(self) -> FreezeState | None:
        """freeze.json at this tip, or None."""
        return cast("FreezeState | None", self._json(FREEZE_FILE))

    def index_ids(self, kind: str, key: str) -> list[str]:
        """Change ids listed under `kind/<xx>/<sha1(key)>/`."""
        # resolved inside git: `paths/` is not edited by most events, so never parse it here
        got = self.git.read(f"{self.tree}:{index_dir(kind, key)}") if self.tree else None
        if got is None or got[1] != "tree":
            return []
        return list(parse_tree(got[2], len(got[0]) // 2))

    def _bulk_index_ids(self, keys: list[tuple[str, str]]) -> set[str]:
        # a plan of many paths (issue 17): 5 000 lookups through the long-lived cat-file cost
        # ~1.5 s, and as `TREE:path` specs git re-walks the index trees for each; here each
        # tree on the way is read once (the shards of the keys, then their entries' trees)
        assert self.tree is not None
        top = self.git.read_tree(self.tree)
        wanted: dict[str, set[str]] = {}  # kind -> sha1 of each key
        for kind, key in keys:
            wanted.setdefault(kind, set()).add(key_hash(key))
        leaves: list[str] = []
        for kind, hashes in wanted.items():
            e = top.get(kind)
            if e is None or not e.is_tree:
                continue
            shards = self.git.read_tree(e.sha)
            names = sorted({h[:2] for h in hashes} & set(shards))
            for got in self.git.read_many([shards[n].sha for n in names]):
                if got is None or got[1] != "tree":
                    continue
                entries = parse_tree(got[2], len(got[0]) // 2)
                leaves += [entries[h].sha for h in hashes & set(entries)]
        return {i for g in self.git.read_many(leaves) if g is not None and g[1] == "tree"
                for i in parse_tree(g[2], len(g[0]) // 2)}

    def _rows(self, by_shard: dict[str, list[str]]) -> dict[str, object]:
        """Change id -> its list row at this tip, for the ids of each `list/<xx>.json`."""
        if len(by_shard) <= _FEW:  # a round trip each on the long-lived cat-file
            shards = {n: self._json(n) for n in by_shard}
            return {i: rows.get(i) for n, rows in shards.items() if isinstance(rows, dict)
                    for i in by_shard[n]}
        got = self.git.read(f"{self.tree}:list") if self.tree else None
        if got is None or got[1] != "tree":
            return {}
        entries = parse_tree(got[2], len(got[0]) // 2)
        wanted = sorted(n for n in by_shard if n.partition("/")[2] in entries)
        blobs = self.git.read_many([entries[n.partition("/")[2]].sha for n in wanted])
        out: dict[str, object] = {}
        for name, blob in zip(wanted, blobs, strict=True):
            if blob is not None:
                text = blob[2].decode()
                out.update((i, _row_in(text, i)) for i in by_shard[name])
        return out

    def sharing(self, st: ChangeState,
                shard: Callable[[str], object] | None = None) -> set[str]:
        """Ids of the changes open at this tip whose window overlaps `st`'s and that the tip
        indexes under one of its paths or services: the only ones that can conflict with it
        (`state.conflicts` counts exactly the open, overlapping ones).

        The candidates are sorted out by their list rows (state, window), not their states:
        at most one small shard read per 1/256 of the changes, however many changes share a
        service or a file's history (issue 17). `shard` reads one shard's rows (`log
        verify` passes its memo); by default the needed shards are read in one go.
        """
        keys = [*(("paths", p) for p in st["paths"]), *(("services", s) for s in st["services"])]
        if len(keys) > _BULK_KEYS and self.tree:
            ids = self._bulk_index_ids(keys)
        else:
            ids = {i for kind, key in keys for i in self.index_ids(kind, key)}
        ids.discard(st["id"])
        if not ids:
            return set()
        by_shard: dict[str, list[str]] = {}
        for i in ids:
            by_shard.setdefault(list_shard(i), []).append(i)
        if shard is None:
            rows = self._rows(by_shard)
        else:
            shards = {n: shard(n) for n in by_shard}
            rows = {i: got.get(i) for n, got in shards.items() if isinstance(got, dict)
                    for i in by_shard[n]}
        out: set[str] = set()
        for i, row in rows.items():
            if isinstance(row, dict) and row.get("state") in OPEN_STATES \
                    and isinstance(row.get("window"), dict) \
                    and overlaps(row["window"], st["window"]):
                out.add(i)
        return out

    def states(self, ids: Iterable[str]) -> list[ChangeState]:
        """The states of `ids` at this tip, in id order (those it holds)."""
        wanted = sorted(ids)
        if len(wanted) <= _FEW or self.tree is None:
            return [s for i in wanted if (s := self.state(i)) is not None]
        got = self.git.read_many([f"{self.tree}:{change_dir(i)}/state.json" for i in wanted])
        return [cast("ChangeState", json.loads(g[2])) for g in got
                if g is not None and g[1] == "blob"]

    def candidates(self, st: ChangeState) -> list[ChangeState]:
        """Conflict candidates of `st`: the states of the changes `sharing` names."""
        return self.states(self.sharing(st))


def _row_in(shard: str, change_id: str) -> object:
    """The row of `change_id` in a list shard's text, parsed alone (a 10k-change log's
    shards hold ~40 rows: parsing whole shards was most of the conflict check). Exact for
    what `dump_json` writes: a `"` inside a string is escaped, and a key followed by `{` is
    a top-level change id (the only other object-valued key is `window`)."""
    key = json.dumps(change_id) + ":{"
    at = shard.find(key)
    if at < 0:
        return None
    try:
        return _DECODER.raw_decode(shard, at + len(key) - 1)[0]
    except ValueError:
        return None


_DECODER = json.JSONDecoder()


# --------------------------------------------------------------- writing


@dataclass(frozen=True)
class Prepared:
    """An event ready to be turned into a commit."""

    event: Event
    plan_bytes: bytes | None = None  # submit: the plan text as submitted
    # submit: repo path -> proposed content (blob ids come from the event's `plan.paths`)
    proposed: Mapping[str, bytes] = field(default_factory=dict)
    findings: bytes | None = None  # submit: findings.json as reported (None: not known)
    # a submit replayed from this commit (`log sync`): its files/ and findings.json are
    # copied from there, exactly as they were first stored
    origin: str | None = None
    # trailers beyond the four the event implies (Changeguard-Config, ...), in order
    trailers: Mapping[str, str] = field(default_factory=dict)
    simulated: bool = False  # written under `clock: simulated`: mark it (CLOCK_TRAILER)


WorldFor = Callable[[Snapshot, ChangeState | None, Event], World]


def _apply_change(snap: Snapshot, prep: Prepared, world_for: WorldFor) -> ChangeState:
    ev = prep.event
    cur = snap.state(ev.change)
    world = world_for(snap, cur, ev)
    if ev.kind in ("submit", "approve"):
        probe = apply(ev, cur, World(world.roster)) if ev.kind == "submit" else cur
        if probe is not None:
            world = replace(world, others=snap.candidates(probe))
    new = apply(ev, cur, world)
    base = change_dir(ev.change)
    if ev.kind == "submit":
        _store_submitted(snap, prep, base)
    snap.root.put(f"{base}/state.json", snap.git.stage_blob(dump_state(new)))
    _update_index(snap, cur, new)
    _update_list(snap, new)
    return new


def _store_submitted(snap: Snapshot, prep: Prepared, base: str) -> None:
    """plan.yaml, files/ (replaced exactly: a file the revision dropped disappears) and
    findings.json of a new revision (SPEC §13)."""
    ev = prep.event
    assert ev.plan is not None
    sha = snap.git.stage_blob(prep.plan_bytes) if prep.plan_bytes is not None \
        else ev.plan["plan_blob"]
    snap.root.put(f"{base}/plan.yaml", sha)
    snap.root.remove(f"{base}/{FILES}")
    snap.root.remove(f"{base}/{FINDINGS}")
    if prep.origin is not None:
        _copy_stored(snap, prep.origin, base)
        return
    for path, blob in ev.plan["paths"].items():
        if blob is None:
            continue  # deleted: recorded as null in `paths`, no entry here
        data = prep.proposed.get(path)
        if data is not None and snap.git.stage_blob(data) != blob:
            raise GitError(f"internal: the proposed content of {path} is not blob {blob}")
        snap.root.put(proposed_file(ev.change, path), blob)
    if prep.findings is not None:
        snap.root.put(f"{base}/{FINDINGS}", snap.git.stage_blob(prep.findings))


def _copy_stored(snap: Snapshot, origin: str, base: str) -> None:
    got = snap.git.read(f"{origin}:{base}")
    entries = snap.git.read_tree(got[0]) if got is not None and got[1] == "tree" else {}
    files, found = entries.get(FILES), entries.get(FINDINGS)
    if files is not None and files.is_tree:
        snap.root.put(f"{base}/{FILES}", files.sha, TREE_MODE)
    if found is not None and not found.is_tree:
        snap.root.put(f"{base}/{FINDINGS}", found.sha)


def revision_commits(git: Git, tip: str, change_id: str) -> list[str]:
    """The submit commits of `change_id` on the log's first-parent history up to `tip`,
    oldest first: element N-1 is revision N's commit (its tree holds that revision's
    plan.yaml, files/ and findings.json, `changelog.layout`)."""
    fmt = ("--format=%H %(trailers:key=Changeguard-Event,valueonly,separator=)"
           " %(trailers:key=Changeguard-Change,valueonly,separator=)")
    out = git.out("log", "--first-parent", "--reverse", fmt, tip)
    rows = (line.split(" ") for line in out.splitlines())
    return [r[0] for r in rows if len(r) == 3 and r[1] == "submit" and r[2] == change_id]


def _update_list(snap: Snapshot, new: ChangeState) -> None:
    shard = list_shard(new["id"])
    rows = snap._json(shard)
    rows = dict(rows) if isinstance(rows, dict) else {}
    row = list_row(new)
    if rows.get(new["id"]) != row:
        rows[new["id"]] = row
        snap.root.put(shard, snap.git.stage_blob(dump_json(rows)))


def _update_index(snap: Snapshot, cur: ChangeState | None, new: ChangeState) -> None:
    before = index_entries(cur) if cur is not None else {}
    after = index_entries(new)
    for p in sorted(set(before) - set(after)):
        snap.root.remove(p)
    for p in sorted(set(after) - set(before)):
        snap.root.put(p, snap.git.stage_blob(after[p].encode()))


# --------------------------------------------------------------- time (SPEC §12)


def when(t: datetime) -> str:
    """A time in a clock message: RFC 3339 to the second."""
    return t.isoformat(timespec="seconds")


def earlier_message(at: datetime, prev: datetime, skew_minutes: float) -> str:
    """Why an event earlier than the previous one by more than the skew is refused."""
    return (f"event time {when(at)} is earlier than the previous event's ({when(prev)}) by "
            f"more than clock_skew_minutes ({skew_minutes:g}): a back-dated event")


def refuse_backdated(git: Git, tip: str | None, ev: Event, skew_minutes: float) -> None:
    """RefusedError (exit 1, nothing written) when a real-clock event would land more than
    the skew before the log tip's event, which `log verify` would flag.

    Honest writers only meet this when their clock is behind the clock that wrote the tip.
    """
    if tip is None:
        return
    message = commit_message(git, tip)
    try:
        prev = ts(parse_message(message).at)
    except ValueError:
        return  # not an event: `log verify` names that commit, and apply() is not fooled
    if is_simulated(message) or prev.tzinfo is None:
        return
    at = ts(ev.at)
    if at.tzinfo is not None and at < prev - timedelta(minutes=skew_minutes):
        raise RefusedError(earlier_message(at, prev, skew_minutes) + "; nothing was recorded",
                           hint="check this machine's clock (the log tip was written at "
                                f"{when(prev)}), then run the command again")



def build_commit(git: Git, tip: str | None, prep: Prepared, world_for: WorldFor,
                 author: Author, sign: bool) -> tuple[str, ChangeState | FreezeState]:
    """Apply the event on `tip` (re-validating it) and write its commit; the ref is not moved."""
    ev = prep.event
    refuse_control_chars(ev)  # before any object is written
    snap = Snapshot(git, tip)
    if not prep.simulated:  # SPEC §12 "Time": what `log verify`'s order check would flag
        refuse_backdated(git, tip, ev, world_for(snap, None, ev).clock_skew_minutes)
    if tip is not None:
        _record_parent(snap, tip)
    new: ChangeState | FreezeState
    if ev.kind in ("freeze", "unfreeze"):
        cur = snap.freeze()
        new = apply_freeze(ev, cur, world_for(snap, None, ev))
        snap.root.put(FREEZE_FILE, git.stage_blob(dump_state(new)))
    else:
        new = _apply_change(snap, prep, world_for)
    tree = snap.root.write()
    if tree is None:
        raise GitError("internal: empty change-log tree")
    extra = dict(prep.trailers)
    if prep.simulated:
        extra[CLOCK_TRAILER] = SIMULATED
    commit = commit_tree(git, tree, tip, format_message(ev, extra), author, sign)
    if sign:
        check_signed_by(git, commit, ev.actor, world_for(snap, None, ev).keys)
    return commit, new


def _record_parent(snap: Snapshot, tip: str) -> None:
    """Append the tip to its change's record of event commits (`changelog.eventcommits`):
    the one record a commit may extend, so `show` finds every event without a walk."""
    change = change_of(commit_message(snap.git, tip))
    if change is None or snap.root.blob_sha(f"{change_dir(change)}/state.json") is None:
        return  # a log-wide event (freeze), or not an event `log verify` would pass
    path = commits_file(change)
    sha = snap.root.blob_sha(path)
    old = snap.git.read_blob(sha) if sha is not None else None
    snap.root.put(path, snap.git.stage_blob(extended(old, tip)))


def check_signed_by(git: Git, commit: str, actor: str, keys: dict[str, str]) -> None:
    """RefusedError unless `commit` carries a good signature by `actor`'s roster key.

    Called before the ref moves (SPEC §12 "People, not strings"): a signature by any other
    key would be written and only flagged later by `log verify`.
    """
    key = keys.get(actor.lower())
    if key is None:
        raise RefusedError(f"require_signed is set but the roster lists no signing_key for "
                           f"{actor}; nothing was recorded",
                           hint="add your SSH public key as signing_key in the roster")
    import tempfile  # only under require_signed: readers never pay for it (issue 17)

    with tempfile.TemporaryDirectory() as d:
        allowed = Path(d) / "allowed_signers"
        allowed.write_text(f'{actor} namespaces="git" {key}\n')
        got = git.out("-c", "gpg.format=ssh", "-c", f"gpg.ssh.allowedSignersFile={allowed}",
                      "log", "-1", "--format=%G?", commit)
    if got != "G":
        raise RefusedError(f"the event was signed, but not with the roster key of {actor} "
                           f"(signature status {got}); nothing was recorded",
                           hint="set user.signingkey to the key listed for you in the roster")


def append(git: Git, ref: str, prep: Prepared, world_for: WorldFor, author: Author,
           sign: bool) -> tuple[str, ChangeState | FreezeState]:
    """Write the event and move the ref with compare-and-swap; re-validate on a lost race."""
    # Retry until a deadline, not a count: under heavy contention (16 writers on 2 cores)
    # a fixed count starved some writers; each lost race means someone else progressed.
    deadline = time.monotonic() + RETRY_SECONDS
    attempt = 0
    while attempt < MIN_ATTEMPTS or time.monotonic() < deadline:
        attempt += 1
        tip = ref_tip(git, ref)
        commit, new = build_commit(git, tip, prep, world_for, author, sign)
        if cas_update(git, ref, commit, tip, f"changeguard: {prep.event.kind} "
                                             f"{prep.event.change}"):
            return commit, new
        # lost the race: back off with jitter so N writers do not retry in lock-step
        import random

        time.sleep(random.uniform(0, min(0.5, 0.005 * 2 ** min(attempt, 7))))
    lock = git.repo / git.out("rev-parse", "--git-path", ref + ".lock")
    if lock.exists() and time.time() - lock.stat().st_mtime > 30:
        raise GitError(f"{lock} is left over from a crashed git process",
                       hint="if no changeguard or git command is running, delete that file")
    raise RefusedError(f"the change log ref {ref} kept moving; gave up after "
                       f"{attempt} attempts in {RETRY_SECONDS:g} s", hint="retry the command")


def commit_message(git: Git, sha: str) -> str:
    """The message of a commit object."""
    got = git.read(sha)
    if got is None or got[1] != "commit":
        raise GitError(f"{sha} is not a commit")
    _, _, msg = got[2].partition(b"\n\n")
    return msg.decode(errors="replace")


def commit_author(git: Git, sha: str) -> Author:
    """Author of a commit (name, email, raw date) for replays that keep it."""
    got = git.read(sha)
    if got is None:
        raise GitError(f"{sha} is not a commit")
    for line in got[2].split(b"\n\n", 1)[0].decode(errors="replace").splitlines():
        if line.startswith("author "):
            rest = line[len("author "):]
            name, _, tail = rest.partition(" <")
            email, _, date = tail.partition("> ")
            return Author(name, email, "@" + date)
    raise GitError(f"commit {sha} has no author")
