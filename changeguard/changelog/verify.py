"""`log verify`: replay the whole log from its root and check every commit (SPEC §7, issue 5 §6).

Per commit: a parseable event whose trailers agree with its body; author email = actor
(forged-author detection); a legal transition by an authorised actor (the same `apply` the
writer uses); the stored state equal to the replayed state; no file changed that the event does
not explain; submit digests recomputed from the stored plan and blob ids; and, with
`require_signed`, a good SSH signature by the actor's own roster key. A submit must store
the proposed content its digest covers (SPEC §13): `files/` at the commit holds exactly the
non-deleted paths of its `plan.paths`, with the same blob ids, each present in the object
store, plus its `findings.json`; a submit without a `Changeguard-Config` trailer is legacy
(written before SPEC §12/§13) and may lack both. The plan, files and findings a submit leaves
unchanged (a re-submit that only edits a proposed file) are read at the commit's tree,
followed per change through the tree diffs (`_stored_at`). The ref's reflog must only
ever have moved forward (rewritten history). Records are read per real commit object, never
split out of a formatted log (SPEC §12): one `rev-list`, one bulk `cat-file` of the commits, one
`diff-tree --stdin -z` and one bulk `cat-file` of the blobs keep the cost linear.

Full and incremental verification are one code path (`verify`): the full one replays from
the empty state, the incremental one (`since=` a tip that verified) from the state stored in
that tip's tree, which equals its replayed state because it verified (`Replay.resume`).
"""

from __future__ import annotations

import gc
import json
import os
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from pathlib import Path
from typing import IO, TYPE_CHECKING

from changeguard.changelog import ancestry
from changeguard.changelog.anchors import check_anchors
from changeguard.changelog.clockcheck import ClockCheck
from changeguard.changelog.configs import CONFIG_TRAILER
from changeguard.changelog.eventcommits import Records, same_blob
from changeguard.changelog.events import (
    control_chars,
    index_entries,
    parse_message,
    parse_trailers,
    refuse_control_chars,
)
from changeguard.changelog.layout import (
    FILES,
    FINDINGS,
    change_dir,
    list_shard,
    proposed_name,
)
from changeguard.changelog.state import (
    NO_CHANGE,
    OPEN_STATES,
    ChangeState,
    Event,
    FreezeState,
    PlanSummary,
    World,
    apply,
    apply_freeze,
    dump_state,
    list_row,
    ts,
)
from changeguard.changelog.store import Git, ref_tip
from changeguard.changelog.verified import cached_tips, common_dir, fingerprint, remember
from changeguard.errors import GitError, InputError, RefusedError
from changeguard.git import start_with_files
from changeguard.model import ChangePlan, GuardConfig

if TYPE_CHECKING:
    import subprocess

    from changeguard.config.trusted import Trusted


@dataclass(frozen=True, slots=True)
class Problem:
    """One verification failure, at the commit that shows it."""

    commit: str
    message: str


@dataclass
class Commit:
    """One log commit as verify reads it."""

    sha: str
    parents: list[str]
    author_email: str
    message: str
    tree: str = ""
    committer: str = ""  # raw header value: name <email> epoch offset (clockcheck)
    unreadable: str | None = None  # why the object cannot be judged (bad bytes in it)
    changes: dict[str, str | None] = field(default_factory=dict)  # path -> new blob (None=del)

    @cached_property
    def trailers(self) -> dict[str, str]:
        """`parse_trailers(message)`, parsed once (several checks read them)."""
        return parse_trailers(self.message)


@dataclass
class Report:
    """What `log verify` found: events checked, problems, legacy events."""

    events: int = 0
    problems: list[Problem] = field(default_factory=list)
    legacy_events: int = 0  # events before the first Changeguard-Config trailer (SPEC §12)
    history: list[str] = field(default_factory=list, repr=False)  # the commits, oldest first

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def to_json(self) -> dict[str, object]:
        """SPEC §8 `log verify --format json` shape."""
        out: dict[str, object] = {
            "ok": self.ok, "events": self.events,
            "problems": [{"commit": p.commit, "message": p.message} for p in self.problems]}
        if self.legacy_events:  # additive: only logs with a pre-trailer prefix carry it
            out["legacy_events"] = self.legacy_events
        return out


def read_history(git: Git, tip: str, since: str | None = None) -> list[Commit]:
    """Every commit from the root (or after `since`) to `tip`, each read from its own object.

    No record is cut out of a formatted `git log` stream: a commit message may hold any
    separator, so the shas come from `rev-list`, each message/author/tree/parents from that
    sha's object (one bulk `cat-file`), and the changed files from `diff-tree -z`, whose
    NUL-terminated paths cannot be forged by a message.
    """
    with _History(git, tip, since) as h:
        h.finish()
        return h.commits


class _History:
    """`read_history` in two halves: the commits at once, their tree diffs from a
    `diff-tree` started first and left running. Its output is read as it comes
    (`changes_of`, commit by commit in history order), so the replay of the first commits
    runs while git still diffs the later ones, on the other core (issue 17)."""

    def __init__(self, git: Git, tip: str, since: str | None) -> None:
        shas = git.out("rev-list", "--reverse", "--topo-order", tip,
                       *(("^" + since,) if since else ())).split()
        self._diffs = _DiffTrees(git, shas)
        try:
            self.commits = _commits(git, shas)
        except BaseException:
            self._diffs.close()
            raise

    def __enter__(self) -> _History:
        return self

    def __exit__(self, *exc: object) -> None:
        self._diffs.close()

    def changes_of(self, c: Commit) -> None:
        """Give `c`, the next commit in history order, its changed files (waits for git)."""
        c.changes = self._diffs.changes_of(c.sha)

    def finish(self) -> None:
        """Give every commit not given yet its changed files, and wait for git to end
        (GitError when it failed: no verdict is made from a cut-short diff)."""
        for c in self.commits:
            if c.sha not in self._diffs.given:
                self.changes_of(c)
        self._diffs.end()


def _commits(git: Git, shas: list[str]) -> list[Commit]:
    """Each commit read from its own object (one bulk `cat-file`)."""
    return [_parse_commit(sha, got) for sha, got in zip(shas, git.read_many(shas), strict=True)]


def _parse_commit(sha: str, got: tuple[str, str, bytes] | None) -> Commit:
    if got is None or got[1] != "commit":
        return Commit(sha, [], "", "", unreadable="not a readable commit object")
    head, _, body = got[2].partition(b"\n\n")
    c = Commit(sha, [], "", "")
    for line in head.split(b"\n"):
        key, _, value = line.partition(b" ")
        if key == b"tree":
            c.tree = value.decode()
        elif key == b"parent":
            c.parents.append(value.decode())
        elif key == b"committer":
            c.committer = value.decode(errors="replace")
        elif key == b"author":
            c.author_email = value.rpartition(b"<")[2].partition(b">")[0].decode(
                errors="replace")
    try:
        c.message = body.decode()
    except UnicodeDecodeError:
        c.message = body.decode(errors="replace")
        c.unreadable = "commit message is not UTF-8"
        return c
    bad = control_chars(c.message)
    if bad:
        c.unreadable = f"commit message contains control character(s) {bad}"
    return c


Changes = dict[str, str | None]  # path -> new blob of a commit's tree diff (None: deleted)


class _DiffTrees:
    """commit -> {path: new blob or None} against its first parent, from one `diff-tree`
    process running in the background, read from a pipe as git writes it (`changes_of`).
    Its input and error output are temporary files: nothing has to feed or drain them, and
    a worker forked meanwhile (changelog/pool.py) holds no end of a pipe git writes to
    but its output's read end, which never keeps git waiting."""

    _ARGS = ("diff-tree", "--stdin", "-r", "--raw", "--no-renames", "--no-abbrev", "--root",
             "--always", "-z")

    def __init__(self, git: Git, shas: list[str]) -> None:
        self._git, self._shas = git, shas
        self._proc: subprocess.Popen[bytes] | None = None
        self._files: list[IO[bytes]] = []
        self._out = -1  # read end of git's output
        self._blocks: Iterator[tuple[str, Changes]] = iter(())
        self._ahead: dict[str, Changes] = {}
        self.given: set[str] = set()
        if not shas:
            return
        import tempfile  # here: the hook imports this module on its path

        try:
            # closed by close(): they outlive this call, git reads and writes them meanwhile
            files: list[IO[bytes]] = [tempfile.TemporaryFile() for _ in range(2)]  # noqa: SIM115
        except OSError:
            self._blocks = iter(_parse_diffs(self._git.run(
                *self._ARGS, input="".join(s + "\n" for s in shas).encode()).stdout).items())
            return  # no writable temp dir: diffed in the foreground
        src, self._err = self._files = files
        src.write("".join(s + "\n" for s in shas).encode())
        src.seek(0)
        r, w = os.pipe()
        try:
            with os.fdopen(w, "wb") as out:
                self._proc = start_with_files(self._ARGS, git.repo, git.env, src, out,
                                              self._err)
        except BaseException:
            os.close(r)
            self.close()
            raise
        self._out = r
        self._blocks = _stream_diffs(r)

    def changes_of(self, sha: str) -> Changes:
        """The changed files of `sha` ({} when git printed none), reading on as needed."""
        self.given.add(sha)
        if sha in self._ahead:
            return self._ahead.pop(sha)
        for got, changes in self._blocks:
            if got == sha:
                return changes
            self._ahead[got] = changes
        return {}

    def end(self) -> None:
        """Wait for git (GitError when it failed)."""
        for got, changes in self._blocks:  # what no commit asked for
            self._ahead[got] = changes
        if self._proc is None:
            return
        code = self._proc.wait()
        if code != 0:
            self._err.seek(0)
            msg = self._err.read().decode(errors="replace").strip()
            raise GitError(f"git diff-tree failed: {msg}")

    def close(self) -> None:
        """End git if it still runs (an error cut the read short) and drop the files."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        if self._out >= 0:
            os.close(self._out)
            self._out = -1
        for f in self._files:
            f.close()
        self._files = []


def _stream_diffs(fd: int) -> Iterator[tuple[str, Changes]]:
    """(commit, its changes) from `diff-tree --stdin -z` output read from `fd`, each as
    soon as the next commit's header (or the end) shows it is complete."""
    parser = _DiffParser()
    while chunk := os.read(fd, 1 << 18):
        yield from parser.feed(chunk)
    yield from parser.feed(b"", end=True)


class _DiffParser:
    """`diff-tree -z` records, fed in chunks cut anywhere: a commit header is a token of its
    own; each change is a `:` token (modes, blobs, status) then its path token."""

    def __init__(self) -> None:
        self._tail = b""  # an unfinished token
        self._sha: str | None = None
        self._cur: Changes = {}
        self._path_next = False  # a `:` token came: the next token is its path
        self._new: str | None = None  # that change's new blob

    def feed(self, chunk: bytes, end: bool = False) -> list[tuple[str, Changes]]:
        tokens = (self._tail + chunk).split(b"\0")
        self._tail = b"" if end else tokens.pop()
        done: list[tuple[str, Changes]] = []
        cur, new, path_next = self._cur, self._new, self._path_next
        for tok in tokens:
            if path_next:  # the path of the change before
                cur[tok.decode("utf-8", errors="surrogateescape")] = new
                path_next = False
            elif tok.startswith(b":"):
                blob = tok.split(b" ", 4)[3]
                new = None if blob and not blob.strip(b"0") else blob.decode()
                path_next = True
            elif tok:
                if self._sha is not None:
                    done.append((self._sha, cur))
                self._sha, cur = tok.decode(), {}
        self._cur, self._new, self._path_next = cur, new, path_next
        if end and self._sha is not None:
            done.append((self._sha, cur))
            self._sha = None
        return done


def _parse_diffs(raw: bytes) -> dict[str, Changes]:
    return dict(_DiffParser().feed(raw, end=True))


def refuse_shallow(git: Git, history: list[Commit]) -> None:
    """A log fetched with --depth has no root to replay from: exit 2, not a false verdict."""
    shallow = git.out("rev-parse", "--git-path", "shallow").strip()
    path = Path(shallow) if Path(shallow).is_absolute() else git.repo / shallow
    if not path.is_file():
        return
    cut = set(path.read_text().split())
    if any(c.sha in cut for c in history):
        raise GitError("the change log's history is shallow (fetched with --depth): it cannot "
                       "be replayed from its root",
                       hint="fetch the whole log: git fetch --unshallow, or fetch the log ref "
                            "without --depth")


class _Tip:
    """The tree of a tip that verified, read on demand (`Replay.resume`): its stored states,
    list shards and index entries are exactly what a replay from the root computes."""

    def __init__(self, git: Git, sha: str) -> None:
        from changeguard.changelog.events import Snapshot

        self.snap = Snapshot(git, sha)
        self._shards: dict[str, object] = {}

    def state(self, change_id: str) -> ChangeState | None:
        return self.snap.state(change_id)

    def shard(self, shard: str) -> object:
        if shard not in self._shards:
            self._shards[shard] = self.snap._json(shard)
        return self._shards[shard]

    def sharing(self, st: ChangeState) -> set[str]:
        """Changes open at the tip, overlapping `st`'s window, that the tip indexes under one
        of its paths or services (`Snapshot.sharing`, the writer's filter too; the shards
        it reads are memoised here across events)."""
        return self.snap.sharing(st, self.shard)


class _States(dict[str, ChangeState]):
    """Replayed states; a change no replayed event touched is read from the verified tip."""

    def __init__(self, tip: _Tip | None) -> None:
        super().__init__()
        self.tip = tip

    def __missing__(self, key: str) -> ChangeState:
        st = self.tip.state(key) if self.tip is not None else None
        if st is None:
            raise KeyError(key)
        self[key] = st
        return st

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def get(self, key: str, default: ChangeState | None = None) -> ChangeState | None:  # type: ignore[override]
        try:
            return self[key]
        except KeyError:
            return default


class _Lazy(dict[str, object]):
    """A per-key memo filled from the verified tip on first use (`fill`)."""

    def __init__(self, fill: Callable[[str], object]) -> None:
        super().__init__()
        self.fill = fill

    def __missing__(self, key: str) -> object:
        value = self.fill(key)
        self[key] = value
        return value

    def get(self, key: str, default: object = None) -> object:
        return self[key]


class Replay:
    """Replayed world: every change's state, the freeze, and conflict indexes."""

    def __init__(self, config: GuardConfig, tip: _Tip | None = None) -> None:
        self.config = config
        self.roster = {r.email.lower(): tuple(r.roles) for r in config.reviewers}
        self._freezes = _config_freezes(config)  # per config, not per event
        self.tip = tip
        self.changes: dict[str, ChangeState] = _States(tip)
        self.freeze: FreezeState | None = None
        self.by_key: dict[str, set[str]] = defaultdict(set)  # of changes replayed here
        self.index: dict[str, set[str]] = defaultdict(set)  # change id -> stored index entries
        self.shards: dict[str, set[str]] = defaultdict(set)  # list/ shard -> change ids
        self.stored_shards: dict[str, object] = {}  # list/ shard -> content last stored
        # list/ shard -> its ids in order and `"id":row` of each, as the shard last stored
        self.pieces: dict[str, tuple[list[str], list[str]]] = {}
        self.clock = ClockCheck()  # event times across the whole log (SPEC §12 "Time")
        self.records = Records()  # changes/<xx>/<ID>/commits (changelog/eventcommits.py)
        self._where: dict[str, tuple[ChangeState, _Where]] = {}  # change id -> (state, keys)
        if tip is not None:
            self._lazy_from(tip)

    def _lazy_from(self, tip: _Tip) -> None:
        def index_of(change_id: str) -> set[str]:
            st = tip.state(change_id)  # what the tip stores, not what a replayed event made
            return set(index_entries(st)) if st is not None else set()

        def shard_ids(shard: str) -> set[str]:
            rows = self.stored_shards.get(shard)
            return set(rows) if isinstance(rows, dict) else set()

        self.index = _Lazy(index_of)  # type: ignore[assignment]
        self.stored_shards = _Lazy(tip.shard)
        self.shards = _Lazy(shard_ids)  # type: ignore[assignment]

    @classmethod
    def resume(cls, git: Git, config: GuardConfig, base: str) -> Replay:
        """The replayed world at `base`, a tip that verified, read from its tree on demand:
        re-verifying after 10 new events reads what those events touch, not every change
        (issue 17). A check that needs more than the tree restores it here (from `base`'s
        own commit): the freeze, and the previous event time of the order check.
        """
        from changeguard.changelog.events import commit_message, is_simulated

        tip = _Tip(git, base)
        replay = cls(config, tip)
        replay.freeze = tip.snap.freeze()
        message = commit_message(git, base)
        replay.records = Records(lambda path: git.read_blob(f"{base}:{path}"))
        replay.records.after(base, message, {}, lambda _: None)
        try:
            at = ts(parse_message(message).at)
        except ValueError:
            return replay
        if not is_simulated(message) and at.tzinfo is not None:
            replay.clock.prev = at
        return replay

    def use(self, config: GuardConfig) -> None:
        """Judge the next event under `config` (the one it was written under, SPEC §12)."""
        if config is not self.config:
            self.config = config
            self.roster = {r.email.lower(): tuple(r.roles) for r in config.reviewers}
            self._freezes = _config_freezes(config)

    def world(self, others: list[ChangeState]) -> World:
        """The World a replayed transition sees."""
        return World(self.roster, self.config.emergency_review_hours, self._freezes,
                     self.freeze, others)

    def where(self, st: ChangeState) -> _Where:
        """`st`'s conflict keys and window, worked out once per state (a replayed event
        asks for them several times; an approve's state keeps its change's)."""
        got = self._where.get(st["id"])
        if got is not None and got[0] is st:
            return got[1]
        w = _Where.of(st)
        self._where[st["id"]] = (st, w)
        return w

    def candidates(self, st: ChangeState, w: _Where | None = None) -> list[ChangeState]:
        """Open changes overlapping `st` in time that share a path or service (`w`:
        `_Where.of(st)` when the caller has it)."""
        w = w or self.where(st)
        ids: set[str] = set()
        by_key = self.by_key
        for k in w.search_keys():
            got = by_key.get(k)
            if got:
                ids |= got
        if self.tip is not None:
            ids |= self.tip.sharing(st)  # changes no replayed event touched
        ids.discard(st["id"])
        start, end = w.start, w.end
        keys = set(w.keys)
        out = []
        for i in sorted(ids):
            other = self.changes.get(i)
            if other is None or other["state"] not in OPEN_STATES:
                continue
            o = self.where(other)
            if keys.isdisjoint(o.keys):
                continue
            if o.start < end and start < o.end:
                out.append(other)
        return out

    def put(self, st: ChangeState, w: _Where | None = None) -> None:
        """Record a replayed state and update the conflict indexes (`w`: `_Where.of(st)`
        when the caller has it)."""
        old = self.changes.get(st["id"])
        if old is not None:
            for k in self.where(old).put_keys():
                self.by_key[k].discard(st["id"])
        self.changes[st["id"]] = st
        if w is not None:
            self._where[st["id"]] = (st, w)
        self.shards[_shard_of(st["id"])].add(st["id"])
        if st["state"] in OPEN_STATES:  # closed changes never conflict
            for k in self.where(st).put_keys():
                self.by_key[k].add(st["id"])

    def shard_as_expected(self, shard: str, before: object, change: str, sha: str) -> bool:
        """True when blob `sha`, the shard an event stored, holds byte for byte `dump_json`
        of the shard before it with `change`'s row replaced by its replayed one: it then
        parses to exactly what `_check_list`'s full comparison accepts, so the shard is
        taken as it is (one row encoded per event, the shard neither read nor decoded).
        Any other content gets the full comparison."""
        row = list_row(self.changes[change])
        prev = before if isinstance(before, dict) else {}
        try:
            mine = _piece(change, row)
            got = self.pieces.get(shard)
            if got is None:
                keys = sorted(prev)  # json's sort_keys order
                got = (keys, [_piece(k, prev[k]) for k in keys])
            expected = _with_piece(got, change, mine)
        except ValueError:  # NaN, a lone surrogate: no canonical text, the full check judges
            self.pieces.pop(shard, None)  # `got` may hold `mine` now
            return False
        if not same_blob(sha, expected):
            self.pieces.pop(shard, None)
            return False
        self.pieces[shard] = got
        self.stored_shards[shard] = {**prev, change: row}  # what the blob parses to
        return True

    def step(self, ev: Event) -> ChangeState | FreezeState:
        """Apply one event (RefusedError when illegal)."""
        if ev.kind in ("freeze", "unfreeze"):
            self.freeze = apply_freeze(ev, self.freeze, self.world([]))
            return self.freeze
        cur = self.changes.get(ev.change)
        others: list[ChangeState] = []
        w: _Where | None = None
        if ev.kind == "submit":
            others, w = self._submit_candidates(ev, cur)
        elif ev.kind == "approve" and cur is not None:
            others = self.candidates(cur)
        new = apply(ev, cur, self.world(others))
        # a submit's state copies the window, paths and services its candidates came from
        self.put(new, w if w is not None and _Where.of_fields(new) == w.fields else None)
        return new

    def _submit_candidates(self, ev: Event, cur: ChangeState | None
                           ) -> tuple[list[ChangeState], _Where | None]:
        """The conflict candidates of the state a submit makes, found from the fields of its
        summary that state copies (id, window, paths, services) rather than from a first
        `apply`: its refusals come before the conflict check, so the `apply` with these
        candidates raises the same ones. A summary they cannot be found from takes the
        long way, which reports it exactly as before. Also where they were looked for."""
        assert ev.plan is not None
        p = ev.plan
        try:
            st: ChangeState = {"id": ev.change, "window": p["window"],  # type: ignore[typeddict-item]
                               "paths": p["paths"], "services": p["services"]}
            w = _Where.of(st)
            return self.candidates(st, w), w
        except (KeyError, TypeError, ValueError, AttributeError):
            return self.candidates(apply(ev, cur, self.world([]))), None


def _config_freezes(config: GuardConfig) -> tuple[tuple[datetime, datetime, str], ...]:
    return tuple((f.start, f.end, f.name) for f in config.freezes)


_MAX_DAYS = 31
# a replay asks for a change's directory and list shard (a sha1 each) several times an event
_dir_of = lru_cache(maxsize=1 << 16)(change_dir)
_shard_of = lru_cache(maxsize=1 << 16)(list_shard)


class _Where:
    """A change's conflict-index keys (`p:PATH`, `s:SERVICE`) and window: what `candidates`
    and `put` read of a state, parsed once."""

    __slots__ = ("days", "end", "fields", "keys", "start")

    def __init__(self, fields: tuple[str, str, tuple[str, ...], tuple[str, ...]]) -> None:
        start_s, end_s, paths, services = self.fields = fields
        self.keys = [*("p:" + p for p in paths), *("s:" + s for s in services)]
        self.start, self.end = ts(start_s), ts(end_s)
        first = self.start.astimezone(UTC).toordinal()
        last = self.end.astimezone(UTC).toordinal()
        # UTC days the window touches; None for a long window (indexed separately)
        self.days = range(first, max(first, last) + 1) if last - first <= _MAX_DAYS else None

    @staticmethod
    def of_fields(st: ChangeState) -> tuple[str, str, tuple[str, ...], tuple[str, ...]]:
        return (st["window"]["start"], st["window"]["end"], tuple(st["paths"]),
                tuple(st["services"]))

    @classmethod
    def of(cls, st: ChangeState) -> _Where:
        return cls(cls.of_fields(st))

    def put_keys(self) -> list[str]:
        """Conflict-index buckets of a change: per shared key and UTC day of its window.

        Bucketing by day keeps replay linear: a submit looks only at changes of the same
        service or path whose windows share a day, not at every change that ever used it.
        """
        out = [f"{k}@all" for k in self.keys]
        if self.days is None:
            return out + [f"{k}@long" for k in self.keys]
        return out + [f"{k}@{d}" for k in self.keys for d in self.days]

    def search_keys(self) -> list[str]:
        if self.days is None:
            return [f"{k}@all" for k in self.keys]
        return [f"{k}@{x}" for k in self.keys for x in (*self.days, "long")]


def verify(git: Git, config: GuardConfig, *, tip: str | None = None,
           since: str | None = None, trusted: Trusted | None = None) -> Report:
    """Replay and check the log up to `tip` (default: the log ref); problems in commit order.

    `since` (a commit that verified under this config, an ancestor of `tip`) replays only the
    commits after it, starting from its stored state; None replays from the root.
    With `trusted` (the judge's trusted revision, whose config `config` is), every event is
    judged under the config its `Changeguard-Config` trailer names (changelog/configs.py),
    and the trusted branch's `Changeguard-Log` anchors are checked.
    """
    # The replay's data is acyclic and lives until the end: cyclic GC passes over the
    # growing heap of states and shards were ~7% of a 10k-change replay, and freed nothing.
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        return _verify(git, config, tip, since, trusted)
    finally:
        if gc_was_on:
            gc.enable()


def _verify(git: Git, config: GuardConfig, tip: str | None, since: str | None,
            trusted: Trusted | None) -> Report:
    from changeguard.changelog.configs import judge_events

    report = Report()
    tip = tip or ref_tip(git, config.log.ref)
    if tip is None:
        # a deleted log is a shortened one too
        report.problems += [Problem(*p) for p in check_anchors(git, config, set(), _sha(trusted))]
        return report
    with _History(git, tip, since) as reading:
        history = reading.commits
        refuse_shallow(git, history)
        earlier = ancestry.history(git, since, common_dir(git)) if since is not None else []
        judged = judge_events(git, history, config, trusted,
                              (since, earlier) if since is not None else None)
        report.legacy_events = judged.legacy
        configs = [judged.config_of(c.sha, config) for c in history]
        events = [_event_of(c) for c in history]
        # the submits' plans are re-derived on every core while this process replays
        with _start_derivations(git, history, events, configs) as derivations:
            sigs = judged.signatures(git, [c.sha for c in history], config)
            report.events = len(earlier)  # the events up to `since` verified before
            replay = Replay(config) if since is None or not history else \
                Replay.resume(git, config, since)
            blobs = Blobs(git, derivations.texts)
            checked = []
            for c, ev, cfg in zip(history, events, configs, strict=True):
                reading.changes_of(c)  # as git diffs them: replaying overlaps the diffing
                replay.use(cfg)
                checked.append(_check(c, ev, replay, blobs, sigs, cfg))
                replay.records.after(c.sha, None if c.unreadable else c.message, c.changes,
                                     blobs.content)
            reading.finish()
            blobs.check_proposed(history)
            stored = _stored_at(git, history, since, blobs)
            derived = derivations.result()
    for c, ev, cfg, (before, submit, after) in zip(history, events, configs, checked,
                                                   strict=True):
        report.events += 1
        found = before
        if submit and c.sha in stored and isinstance(ev, Event):
            found = [*found, *_check_submit(c, ev, stored[c.sha], blobs, derived.get(c.sha),
                                            cfg, git.repo)]
        found = [*found, *after, *judged.problems.get(c.sha, [])]
        report.problems += [Problem(c.sha, m) for m in found]
    report.history = [*earlier, *(c.sha for c in history)]
    shas = set(report.history)
    report.problems += _reflog(git, config.log.ref, shas)
    report.problems += [Problem(*p) for p in check_anchors(git, config, shas, _sha(trusted))]
    return report


def _sha(trusted: Trusted | None) -> str | None:
    return trusted.sha if trusted is not None else None


def model_fingerprint(config: GuardConfig) -> str:
    """Cache fingerprint of a config known only as a model (callers without its bytes)."""
    return fingerprint(b"model\0" + config.model_dump_json().encode())


def verify_remembered(git: Git, config: GuardConfig, fp: str, *,
                      trusted: Trusted | None = None, believe_cache: bool = True) -> Report:
    """`verify`, continuing from the newest tip remembered as verified under `fp` (issue 17:
    re-verifying after 10 new events costs O(10)); a tip that verifies is remembered.

    `believe_cache=False` (`log verify --from-scratch`) replays from the root whatever the
    cache says. The reflog and anchor checks run on every call either way.
    """
    tip = ref_tip(git, config.log.ref)
    if tip is None:
        return verify(git, config, trusted=trusted)
    gd = common_dir(git)
    known = cached_tips(gd, fp) if believe_cache else []
    since = tip if tip in known else _newest_ancestor(git, tip, known)
    report = verify(git, config, tip=tip, since=since, trusted=trusted)
    if report.ok:
        if tip not in known:
            remember(gd, tip, fp)
        ancestry.keep(gd, tip, report.history)
    return report


def first_problem(git: Git, config: GuardConfig, fp: str | None = None, *,
                  tip: str | None = None, trusted: Trusted | None = None,
                  believe_cache: bool = True) -> Problem | None:
    """The first problem of the log at `tip` (default: its ref), or None (SPEC §12).

    A tip that verified under this config (`fp`, see `changelog.verified`) is remembered under
    the git dir, so a known tip costs one small file read. A new tip is verified
    incrementally, from the newest remembered tip in its history (else from the root).
    """
    tip = tip or ref_tip(git, config.log.ref)
    if tip is None:
        return None
    fp = fp or model_fingerprint(config)
    gd = common_dir(git)
    known = cached_tips(gd, fp) if believe_cache else []
    if tip in known:
        return None
    report = verify(git, config, tip=tip, since=_newest_ancestor(git, tip, known),
                    trusted=trusted)
    if report.problems:
        return report.problems[0]
    remember(gd, tip, fp)
    ancestry.keep(gd, tip, report.history)
    return None


_PROBES = 4  # remembered tips tried one by one before listing the whole history


def _newest_ancestor(git: Git, tip: str, known: list[str]) -> str | None:
    """A remembered tip in `tip`'s history, the newest when it can (the log is linear).

    `known` is oldest first. The newest few are tried with `merge-base --is-ancestor`, which
    walks only the commits since; the whole first-parent history (10k commits: a tenth of
    a second) is listed only when none of them is an ancestor."""
    if not known:
        return None
    for sha in list(dict.fromkeys(reversed(known)))[:_PROBES]:
        if git.run("merge-base", "--is-ancestor", sha, tip, check=False).returncode == 0:
            return sha
    remembered = set(known)
    for sha in git.out("rev-list", "--first-parent", tip).split():
        if sha in remembered:
            return sha
    return None


def refuse_unverified(git: Git, config: GuardConfig, fp: str | None = None, *,
                      trusted: Trusted | None = None, believe_cache: bool = True) -> None:
    """RefusedError (exit 1) naming the first bad commit when the log does not verify."""
    bad = first_problem(git, config, fp, trusted=trusted, believe_cache=believe_cache)
    if bad is not None:
        raise RefusedError(f"the change log does not verify at {bad.commit}: {bad.message}",
                           hint="nothing in an unverified log is believed; run "
                                "`changeguard log verify`")


def _in_change(path: str) -> tuple[str, str] | None:
    """(change id, path inside its directory) for a submit's stored files; else None."""
    if not path.startswith("changes/"):
        return None  # list/ shards, index entries: no split needed
    parts = path.split("/", 3)
    if len(parts) == 4 and parts[0] == "changes" and parts[3] != "state.json":
        return parts[2], parts[3]
    return None


def _is_proposed(path: str) -> bool:
    """`changes/<xx>/<ID>/files/...`: proposed content (checked for presence, never read)."""
    if "/" + FILES + "/" not in path:
        return False  # most paths: no split needed
    parts = path.split("/", 4)
    return len(parts) == 5 and parts[0] == "changes" and parts[3] == FILES


class Blobs:
    """Blob contents `log verify` reads: the submits' plans (read for the workers), the
    plans and findings of `_stored_at` (`fill`, one bulk read), anything else on demand
    (`content`); and which proposed blobs the object store lacks (`check_proposed`).

    States, list shards and records of event commits are not read: a replay computes
    what they must hold, and the blob id git names them by is the hash of that content
    (`same_blob`), as for every blob the digests bind. One that differs is read when its
    problem is reported (`content`): an honest 10k-change log saves ~60 MB of reads."""

    def __init__(self, git: Git, known: dict[str, bytes]) -> None:
        self.git = git
        self.data = dict(known)  # blobs read already (the submits' plans), by id
        self.absent: set[str] = set()

    def check_proposed(self, history: list[Commit]) -> None:
        """Find which proposed blobs added in `history` are missing (one `--batch-check`)."""
        proposed = sorted({b for c in history for p, b in c.changes.items()
                           if b is not None and _is_proposed(p)})
        self.absent = self.git.missing(proposed)

    def fill(self, shas: set[str]) -> None:
        """Read the blobs among `shas` not read yet (one bulk read)."""
        todo = sorted(shas - set(self.data))
        self.data.update({s: got[2] for s, got in zip(todo, self.git.read_many(todo),
                                                      strict=True) if got is not None})

    def get(self, sha: str) -> bytes | None:
        """Content of blob `sha` read in bulk (None when missing)."""
        return self.data.get(sha)

    def content(self, sha: str | None) -> bytes | None:
        """Content of object `sha`, read now if it was not in bulk (None when missing)."""
        if sha is None:
            return None
        if sha not in self.data:
            got = self.git.read(sha)
            if got is None:
                return None
            self.data[sha] = got[2]
        return self.data[sha]


def _stored_at(git: Git, history: list[Commit], since: str | None,
               blobs: Blobs) -> dict[str, dict[str, str]]:
    """Submit commit -> what its change's directory holds at that commit (plan.yaml,
    findings.json, files/...), followed through the tree diffs from the empty tree or from
    `since` (only the directories of the changes submitted after it are read there, one
    `ls-tree`); the plans and findings among them are read."""
    submits = {c.sha: c.trailers.get("Changeguard-Change", "")
               for c in history
               if c.unreadable is None and "Changeguard-Event: submit" in c.message}
    stored: dict[str, dict[str, str]] = {}
    if since is not None and submits:
        ids = sorted(set(submits.values()))
        dirs = [change_dir(i) for i in ids] if len(ids) <= 1000 else ["changes"]
        for sha, path in git.ls_tree(since, dirs, recursive=True) or []:
            if (where := _in_change(path)) is not None:
                stored.setdefault(where[0], {})[where[1]] = sha
    out: dict[str, dict[str, str]] = {}
    for c in history:
        for path, blob in c.changes.items():
            where = _in_change(path)
            if where is not None:
                files = stored.setdefault(where[0], {})
                if blob is None:
                    files.pop(where[1], None)
                else:
                    files[where[1]] = blob
        if c.sha in submits:
            out[c.sha] = dict(stored.get(submits[c.sha], {}))
    blobs.fill({s[k] for s in out.values() for k in ("plan.yaml", FINDINGS) if k in s})
    return out


_Derived = tuple[list[str], str | None]  # (problems, repr of a malformed summary's error)


class _Derivations:
    """The part of each submit's checks that reads only its event, its stored plan's text
    and its config (parse, digest, summary): started on forked workers before the replay
    (changelog/pool.py), collected after it. The plan is read by the blob id the event
    names; `_check_plan` uses the result only when the tree stores that very blob."""

    def __init__(self, git: Git, history: list[Commit], events: list[Event | str],
                 configs: list[GuardConfig]) -> None:
        from changeguard.changelog.pool import fork_start

        todo = [(c.sha, ev, cfg) for c, ev, cfg in zip(history, events, configs, strict=True)
                if c.unreadable is None and isinstance(ev, Event) and ev.kind == "submit"
                and ev.plan is not None and _is_sha(ev.plan.get("plan_blob"))]
        ids = sorted({ev.plan["plan_blob"] for _, ev, _ in todo if ev.plan is not None})
        self.texts = {s: got[2] for s, got in zip(ids, git.read_many(ids), strict=True)
                      if got is not None}
        work = [(ev, self.texts[ev.plan["plan_blob"]], cfg) for _, ev, cfg in todo
                if ev.plan is not None and ev.plan["plan_blob"] in self.texts]
        self._shas = [sha for sha, ev, _ in todo
                      if ev.plan is not None and ev.plan["plan_blob"] in self.texts]
        repo = git.repo
        self._pending = fork_start(lambda item: _derive(*item, repo), work)

    def __enter__(self) -> _Derivations:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pending.close()

    def result(self) -> dict[str, _Derived]:
        """Submit commit -> what its plan re-derives to."""
        return dict(zip(self._shas, self._pending.result(), strict=True))


_start_derivations = _Derivations


def _is_sha(value: object) -> bool:
    # only a real object id goes into a cat-file request (a forged one could hold a newline)
    return isinstance(value, str) and len(value) in (40, 64) and set(value) <= _HEX


_HEX = frozenset("0123456789abcdef")


def _derive(ev: Event, text: bytes, config: GuardConfig, repo: Path) -> _Derived:
    try:
        return _derive_plan(ev, text, config, repo), None
    except (KeyError, TypeError, ValueError) as e:  # a hand-made plan summary
        return [], repr(e)


def _event_of(c: Commit) -> Event | str:
    """The event a commit records, or the problem that says why it records none."""
    if c.unreadable is not None:
        return c.unreadable
    try:
        ev = parse_message(c.message, c.trailers)
        # The message holds no control character (else it is unreadable) and, decoded as
        # strict UTF-8, no surrogate; without a backslash its event JSON has no escape, so
        # every text of the event is a piece of the message: clean already.
        if "\\" in c.message:
            refuse_control_chars(ev)
    except (ValueError, KeyError, json.JSONDecodeError) as e:
        return f"not a change-log event: {e}"
    except InputError as e:
        return f"event text refused: {e.message}"
    return ev


_Checked = tuple[list[str], bool, list[str]]  # problems before the submit checks, "is a
# legal submit whose own checks apply", problems after them


def _check(c: Commit, ev: Event | str, replay: Replay, blobs: Blobs, sigs: dict[str, str],
           config: GuardConfig) -> _Checked:
    if c.unreadable is not None:
        return [c.unreadable], False, []
    if len(c.parents) > 1:
        return ["merge commit in the change log (history must be linear)"], False, []
    if isinstance(ev, str):
        return [ev], False, []
    problems: list[str] = replay.clock.check(c.committer, c.message, ev, config, c.trailers)
    if c.author_email.lower() != ev.actor.lower():
        problems.append(f"commit author {c.author_email} is not the event's actor {ev.actor} "
                        "(forged author)")
    if config.require_signed:
        problems += _check_signature(c.sha, ev.actor, sigs)
    problems += _check_files(c, ev, replay.records.allowed())
    problems += replay.records.check(c.parents, c.changes, blobs.content)
    try:
        new = replay.step(ev)
    except RefusedError as e:
        return [*problems, f"illegal {ev.kind} of {ev.change} by {ev.actor}: {e.message}"], \
            False, []
    except (KeyError, TypeError, ValueError) as e:  # a hand-made plan summary
        return [*problems, f"malformed {ev.kind} event: {e!r}"], False, []
    path = "freeze.json" if ev.change == NO_CHANGE else f"{_dir_of(ev.change)}/state.json"
    want = dump_state(new)
    sha = c.changes.get(path)
    stored = want if same_blob(sha, want) else blobs.content(sha)
    if stored is None:
        problems.append(f"{ev.kind} did not record {path}")
    elif stored != want:
        problems.append(f"stored {path} differs from the replayed state "
                        f"({_diff(stored, new)}): a state no event explains")
        _adopt(replay, ev, stored)
    after: list[str] = []
    if ev.change != NO_CHANGE and ev.change in replay.changes:
        after = [*_check_index(c, ev, replay), *_check_list(c, ev, replay, blobs)]
    return problems, ev.kind == "submit", after


def _check_list(c: Commit, ev: Event, replay: Replay, blobs: Blobs) -> list[str]:
    """The change's list/ row matches its state and no other row of the shard moved."""
    shard = _shard_of(ev.change)
    before = replay.stored_shards.get(shard)
    sha = c.changes.get(shard)
    if sha is not None and replay.shard_as_expected(shard, before, ev.change, sha):
        return []
    now = before
    if sha is not None:
        try:
            now = json.loads(blobs.content(sha) or b"null")
        except ValueError:
            now = None
    if not isinstance(now, dict) or now.get(ev.change) != list_row(replay.changes[ev.change]) \
            or not _same_except(now, before, ev.change):
        replay.stored_shards[shard] = _expected_shard(replay, shard)
        replay.pieces.pop(shard, None)  # they were those of the shard replaced here
        return [f"{shard} does not match the replayed states of its changes"]
    if now is not before:
        replay.stored_shards[shard] = now
        replay.pieces.pop(shard, None)
    return []


def _with_piece(pieces: tuple[list[str], list[str]], key: str, piece: str) -> bytes:
    """`dump_json` of a shard from its pieces, `key`'s set to `piece` (in place)."""
    keys, parts = pieces
    i = bisect_left(keys, key)
    if i < len(keys) and keys[i] == key:
        parts[i] = piece
    else:
        keys.insert(i, key)
        parts.insert(i, piece)
    return ("{" + ",".join(parts) + "}\n").encode()


def _piece(key: str, value: object) -> str:
    """`"key":value` as `dump_json` writes it inside a shard (ValueError: it cannot)."""
    return _PIECE.encode(key) + ":" + _PIECE.encode(value)


# `dump_json`'s options, and no NaN (ValueError): one encoder, not one a call
_PIECE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False)


def _same_except(now: dict[str, object], before: object, key: str) -> bool:
    # dict comparison runs in C; only the event's own row may differ
    prev = dict(before) if isinstance(before, dict) else {}
    cur = dict(now)
    prev.pop(key, None)
    cur.pop(key, None)
    return cur == prev


def _expected_shard(replay: Replay, shard: str) -> dict[str, object]:
    return {i: list_row(replay.changes[i]) for i in replay.shards[shard]}


def _diff(stored: bytes, new: object) -> str:
    try:
        s = json.loads(stored)
    except ValueError:
        return "not JSON"
    assert isinstance(new, dict)
    keys = sorted(k for k in set(s) | set(new) if s.get(k) != new.get(k))
    return "fields " + ", ".join(keys) if keys else "same data, not in canonical form"


def _adopt(replay: Replay, ev: Event, stored: bytes) -> None:
    # continue from what the log claims so one bad commit is not reported again and again
    try:
        data = json.loads(stored)
    except ValueError:
        return
    if ev.change == NO_CHANGE:
        replay.freeze = data
    elif isinstance(data, dict) and "id" in data:
        replay.put(data)  # type: ignore[arg-type]


def _check_files(c: Commit, ev: Event, record: str | None) -> list[str]:
    # `record`: the parent's change's record of event commits (Records.check checks it)
    if ev.change == NO_CHANGE:
        allowed = {"freeze.json", record}
        extra = sorted(p for p in c.changes if p not in allowed)
    else:
        base = f"{_dir_of(ev.change)}/"
        ok = {base + "state.json", _shard_of(ev.change), record}
        if ev.kind == "submit":  # a new revision's plan, findings and proposed files
            ok |= {base + "plan.yaml", base + FINDINGS}
        files = f"{base}{FILES}/" if ev.kind == "submit" else None
        extra = sorted(p for p in c.changes if p not in ok and not _own_index(p, ev.change)
                       and not (files is not None and p.startswith(files)))
    return [f"changes files no {ev.kind} event explains: {', '.join(extra[:5])}"] if extra else []


def _own_index(path: str, change_id: str) -> bool:
    """`paths/<xx>/<key>/<ID>` or `services/<xx>/<key>/<ID>` of this change (any key)."""
    if not path.endswith(change_id) or not path.startswith(("paths/", "services/")):
        return False  # most of a commit's paths: no split needed
    parts = path.split("/")
    return (len(parts) == 4 and parts[0] in ("paths", "services") and parts[3] == change_id
            and parts[2][:2] == parts[1])


class _Malformed(Exception):
    """A submit whose summary broke its re-derivation (the worker's error, as repr)."""


def _check_submit(c: Commit, ev: Event, stored: dict[str, str], blobs: Blobs,
                  derived: _Derived | None, config: GuardConfig, repo: Path) -> list[str]:
    """The plan at the commit's tree (changed by this submit or not: a re-submit whose text
    is unchanged is a legal new revision, SPEC §13), its digest and summary (`derived`,
    re-derived from the plan's text by a worker), and the proposed files and findings it
    stores."""
    try:
        assert ev.plan is not None
        legacy = CONFIG_TRAILER not in c.trailers
        return [*_check_plan(ev, stored, blobs, derived, config, repo),
                *_check_proposed(ev, stored, blobs.absent, legacy),
                *([] if legacy else _check_findings(ev, stored, blobs))]
    except _Malformed as e:
        return [f"malformed submit event: {e.args[0]}"]
    except (KeyError, TypeError, ValueError) as e:  # a hand-made plan summary
        return [f"malformed submit event: {e!r}"]


def _check_plan(ev: Event, stored: dict[str, str], blobs: Blobs, derived: _Derived | None,
                config: GuardConfig, repo: Path) -> list[str]:
    assert ev.plan is not None
    sha = stored.get("plan.yaml")
    if sha is None:
        return [f"submit of {ev.change} did not store plan.yaml"]
    if sha != ev.plan["plan_blob"]:
        return [f"stored plan.yaml {sha[:12]} is not the submitted plan "
                f"{ev.plan['plan_blob'][:12]}"]
    text = blobs.get(sha)
    if text is None:
        return [f"stored plan.yaml {sha[:12]} is missing from the object store"]
    problems, error = derived if derived is not None else _derive(ev, text, config, repo)
    if error is not None:
        raise _Malformed(error)
    return problems


def _derive_plan(ev: Event, text: bytes, config: GuardConfig, git_repo: Path) -> list[str]:
    """Parse the stored plan `text`; its digest and summary must be the event's."""
    from changeguard.errors import ChangeguardError
    from changeguard.plan import compute_digest, parse_plan
    from changeguard.plan.load import valid_plan

    assert ev.plan is not None
    plan_path = f"{change_dir(ev.change)}/plan.yaml"
    # a valid plan is built without line maps; any other is parsed again by parse_plan,
    # whose error or findings (with their lines) are the verdict, as before
    plan = valid_plan(text, plan_path)
    if plan is None:
        try:
            plan = parse_plan(text, plan_path).plan
        except ChangeguardError as e:
            return [f"stored plan does not parse: {e.message}"]
    if plan is None or plan.id != ev.change or plan.author != ev.plan["author"]:
        return [f"stored plan is not a valid plan for {ev.change} by {ev.plan['author']}"]
    digest = compute_digest(plan, ev.plan["paths"])
    if digest != ev.digest:
        return [f"digest {ev.digest} does not match the stored plan and blobs ({digest})"]
    return _check_summary(ev.plan, plan, config, git_repo)


def _check_proposed(ev: Event, stored: dict[str, str], absent: set[str],
                    legacy: bool) -> list[str]:
    """files/ holds exactly the submit's non-deleted `plan.paths`, same blob ids, present."""
    assert ev.plan is not None
    want = {proposed_name(p): b for p, b in ev.plan["paths"].items() if b is not None}
    prefix = FILES + "/"
    have = {rel[len(prefix):]: b for rel, b in stored.items() if rel.startswith(prefix)}
    if legacy and not have:
        return []  # written before the log stored proposed content
    problems: list[str] = []
    missing = sorted(set(want) - set(have))
    if missing:
        problems.append(f"submit of {ev.change} does not store the proposed content of "
                        f"{', '.join(missing[:3])} (files/ must hold every file plan.paths "
                        "does not delete)")
    extra = sorted(set(have) - set(want))
    if extra:
        problems.append(f"submit of {ev.change} stores files/{', files/'.join(extra[:3])}, "
                        "which its plan.paths does not propose")
    for path in sorted(set(want) & set(have)):
        if want[path] != have[path]:
            problems.append(f"submit of {ev.change} stores files/{path} as blob "
                            f"{have[path][:12]}, not the submitted {want[path][:12]}")
        elif have[path] in absent:
            problems.append(f"the proposed content of {path} (blob {have[path][:12]}) that "
                            f"submit of {ev.change} stores is missing from the object store")
    return problems


_FINDING_KEYS = frozenset({"rule", "severity", "message", "file", "line", "pointer", "hint"})


def _check_findings(ev: Event, stored: dict[str, str], blobs: Blobs) -> list[str]:
    """findings.json is there, and is a list of SPEC §8 findings none of which denies."""
    sha = stored.get(FINDINGS)
    text = blobs.get(sha) if sha is not None else None
    if text is None:
        return [f"submit of {ev.change} did not store {FINDINGS}"]
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, list) or not all(
            isinstance(f, dict) and set(f) == _FINDING_KEYS and f["severity"] != "deny"
            for f in data):
        return [f"stored {FINDINGS} of {ev.change} is not a list of the findings a submit "
                "may report (SPEC §8 shape, none denying)"]
    return []


def _check_summary(got: PlanSummary, plan: ChangePlan, config: GuardConfig,
                   repo: Path) -> list[str]:
    """Nothing in a submit is taken on its word: re-derive its summary from the stored plan."""
    from changeguard.changelog.workflow import plan_summary

    want = plan_summary(plan, got["paths"], config, repo, got["plan_blob"])
    diff = [k for k in want if k != "paths" and want[k] != got[k]]  # type: ignore[literal-required]
    # as sets: the event's JSON keeps its keys sorted, a plan lists its paths in any order
    if set(got["paths"]) != set(plan.paths):
        diff.append("paths")
    if not diff:
        return []
    return [f"submit summary differs from the stored plan in {', '.join(diff)}: "
            "a summary no plan explains"]


def _check_index(c: Commit, ev: Event, replay: Replay) -> list[str]:
    have = replay.index[ev.change]
    for p, b in c.changes.items():
        if _own_index(p, ev.change):
            (have.discard if b is None else have.add)(p)
    want = set(index_entries(replay.changes[ev.change]))
    if have != want:
        replay.index[ev.change] = want
        return [f"index entries of {ev.change} do not match its state "
                f"(missing {sorted(want - have)[:3]}, extra {sorted(have - want)[:3]})"]
    return []


# --------------------------------------------------------------- signatures


def _check_signature(sha: str, actor: str, sigs: dict[str, str]) -> list[str]:
    status, _, principal = sigs.get(sha, "N").partition(" ")
    if status == "N":
        return ["unsigned event, but require_signed is true"]
    if status != "G":
        return [f"signature does not verify against the roster's keys (status {status})"]
    if principal.strip().lower() != actor.lower():
        return [f"signed by {principal.strip()}, not by the actor {actor}"]
    return []


def _reflog(git: Git, ref: str, history: set[str]) -> list[Problem]:
    """Every earlier tip must still be in the history, unless `log sync` replayed it away."""
    p = git.run("reflog", "show", "--format=%H %gs", ref, "--", check=False)
    entries = [line.partition(" ") for line in p.stdout.decode().splitlines()]  # newest first
    replaced = {entries[i + 1][0] for i, (_, _, msg) in enumerate(entries[:-1])
                if msg == "changeguard: sync (replay)"}
    for sha, _, _ in reversed(entries):
        if sha in history or sha in replaced:
            continue
        if any(git.run("merge-base", "--is-ancestor", sha, r, check=False).returncode == 0
               for r in replaced):
            continue
        return [Problem(sha, "history rewritten: this earlier tip of the log is no longer part "
                             "of it (the ref was moved backwards or replaced)")]
    return []
