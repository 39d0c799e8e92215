"""Sharing the log with a remote: fetch, replay local-only events on the remote tip, push.

Never force-pushes: a push that is rejected means someone else landed first, so we fetch
again, replay our events on their tip (re-validating each through the state machine) and push
again (issue 5 §5). When the remote cannot be reached during a write the event stays local
and `log sync` pushes it later.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from changeguard.changelog.events import (
    Prepared,
    Snapshot,
    WorldFor,
    append,
    build_commit,
    commit_author,
    commit_message,
    extra_trailers,
    is_simulated,
    parse_message,
)
from changeguard.changelog.freshness import stamp
from changeguard.changelog.layout import tracking_ref
from changeguard.changelog.state import ChangeState, FreezeState
from changeguard.changelog.store import Author, Git, cas_update, ref_tip
from changeguard.changelog.verified import common_dir
from changeguard.errors import GitError, RefusedError
from changeguard.model import GuardConfig

MAX_PUSHES = 40


class Unreachable(Exception):
    """The remote could not be contacted (network, auth, missing repository)."""


_LOCAL_LOCK = ("cannot lock ref", "Unable to create", "unable to update local ref")
FETCH_TRIES = 8


def fetch(git: Git, remote: str, ref: str) -> str | None:
    """Fetch the remote log into our private tracking ref; its tip, or None if it has no log.

    Goes through GitPython's command layer (via `changeguard.git`, with the log's cleaned
    environment; `--no-write-fetch-head`: concurrent writers in one clone must not race on
    FETCH_HEAD). Another local writer holding the tracking ref's lock is contention, not an
    unreachable remote: retry it.
    """
    from changeguard.git import fetch_with_gitpython

    track = tracking_ref(remote)
    for attempt in range(FETCH_TRIES):
        p = fetch_with_gitpython(git.repo, git.env, "-q", "--no-tags", "--no-write-fetch-head",
                                 remote, f"+{ref}:{track}")
        if p.returncode == 0:
            stamp(common_dir(git), remote)  # `show`/`list`/the hook say how old it is
            return ref_tip(git, track)
        err = p.stderr.decode("utf-8", "replace").strip()
        if "couldn't find remote ref" in err:
            return None
        if not any(w in err for w in _LOCAL_LOCK) or attempt == FETCH_TRIES - 1:
            raise Unreachable(err or f"git fetch {remote} failed")
        time.sleep(random.uniform(0.01, 0.05 * (attempt + 1)))
    raise Unreachable(f"git fetch {remote} failed")  # pragma: no cover - loop always returns


def fetch_trusted(git: Git, remote: str, branch: str) -> bool:
    """Refresh `refs/remotes/<remote>/<branch>` (SPEC §12: writers with a remote fetch the
    trusted branch along with the log, so the config they write under is current).

    False when it could not be fetched (offline, no such branch): the writer then keeps the
    trusted revision it has, and `log verify` judges what it wrote.
    """
    from changeguard.git import fetch_with_gitpython

    p = fetch_with_gitpython(git.repo, git.env, "-q", "--no-tags", "--no-write-fetch-head",
                             remote, f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}")
    return p.returncode == 0


def push(git: Git, remote: str, ref: str, tip: str) -> bool:
    """Fast-forward push; False when rejected because the remote moved."""
    p = git.run("push", "-q", "--porcelain", remote, f"{tip}:{ref}", check=False)
    if p.returncode == 0:
        git.run("update-ref", tracking_ref(remote), tip, check=False)
        return True
    text = (p.stdout + p.stderr).decode(errors="replace")
    if any(w in text for w in ("rejected", "non-fast-forward", "fetch first", "stale info",
                               "failed to lock", "cannot lock")):
        return False
    raise Unreachable(text.strip() or f"git push {remote} failed")


def is_ancestor(git: Git, a: str, b: str) -> bool:
    """True when commit `a` is an ancestor of (or equal to) `b`."""
    return git.run("merge-base", "--is-ancestor", a, b, check=False).returncode == 0


@dataclass
class Integrated:
    """What integrating local events onto the remote log did."""

    tip: str | None
    replayed: dict[str, str] = field(default_factory=dict)  # local commit -> new commit
    dropped: dict[str, str] = field(default_factory=dict)  # local commit -> why
    fetched: bool = False


def integrate(git: Git, config: GuardConfig, world_for: WorldFor, sign: bool) -> Integrated:
    """Make the local log contain the remote log, replaying local-only events on top."""
    remote, ref = config.log.remote, config.log.ref
    assert remote is not None
    for _ in range(MAX_PUSHES):
        local = ref_tip(git, ref)
        theirs = fetch(git, remote, ref)
        if theirs is None or theirs == local or (local and is_ancestor(git, theirs, local)):
            return Integrated(local, fetched=True)
        if local is None or is_ancestor(git, local, theirs):
            if cas_update(git, ref, theirs, local, "changeguard: sync (fast-forward)"):
                return Integrated(theirs, fetched=True)
            continue
        result = _replay(git, local, theirs, world_for, sign)
        if cas_update(git, ref, result.tip or theirs, local, "changeguard: sync (replay)"):
            return result
    raise RefusedError("the change log kept moving during sync", hint="retry `log sync`")


def _replay(git: Git, local: str, theirs: str, world_for: WorldFor, sign: bool) -> Integrated:
    own = git.out("rev-list", "--reverse", "--first-parent", local, "^" + theirs).split()
    out = Integrated(theirs, fetched=True)
    for c in own:
        msg = commit_message(git, c)
        try:
            ev = parse_message(msg)
        except ValueError as e:
            out.dropped[c] = f"not a change-log event ({e})"
            continue
        # a replayed event keeps the config it was written under (Changeguard-Config)
        prep, author = _restamped(Prepared(ev, trailers=extra_trailers(msg),
                                           simulated=is_simulated(msg), origin=c),
                                  commit_author(git, c))
        try:
            new, _ = build_commit(git, out.tip, prep, world_for, author, sign)
        except RefusedError as e:
            out.dropped[c] = f"{ev.kind} {ev.change} by {ev.actor} no longer applies: {e.message}"
            continue
        out.replayed[c] = new
        out.tip = new
    return out


def _restamped(prep: Prepared, author: Author) -> tuple[Prepared, Author]:
    """A real-clock event replayed on a newer remote tip takes the time it lands at.

    It enters the shared log now, after events that may be later than its first time (an
    offline write, a lost push race); `log verify` wants event times in log order and close
    to their commit's time (SPEC §12 "Time"), and `apply` re-judges it at the new time.
    Simulated events keep their made-up time.
    """
    if prep.simulated:
        return prep, author
    at = datetime.now(UTC).isoformat(timespec="seconds")
    return replace(prep, event=replace(prep.event, at=at)), replace(author, date=at)


def record_with_remote(git: Git, config: GuardConfig, prep: Prepared, world_for: WorldFor,
                       author: Author, sign: bool,
                       ) -> tuple[str, ChangeState | FreezeState, list[str]]:
    """Fetch + integrate, append locally, push; retry on rejection; offline keeps it local."""
    remote, ref = config.log.remote, config.log.ref
    warns: list[str] = []
    offline = None
    try:
        pre = integrate(git, config, world_for, sign)
        warns += [f"warning: dropped local event {c[:12]}: {why}" for c, why in pre.dropped.items()]
    except Unreachable as e:
        offline = str(e)
    commit, new = append(git, ref, prep, world_for, author, sign)
    if offline is None:
        try:
            commit = _push_loop(git, config, commit, world_for, sign)
        except Unreachable as e:
            offline = str(e)
    if offline is not None:
        warns.append(f"warning: log remote {remote!r} unreachable; the event is recorded locally,"
                     f" run `changeguard log sync` later ({offline.splitlines()[-1]})")
        return commit, new, warns
    return commit, _state_after(git, commit, prep, new), warns


def _push_loop(git: Git, config: GuardConfig, commit: str, world_for: WorldFor,
               sign: bool) -> str:
    remote, ref = config.log.remote, config.log.ref
    assert remote is not None
    for attempt in range(MAX_PUSHES):
        tip = ref_tip(git, ref) or commit
        if push(git, remote, ref, tip):
            return commit
        time.sleep(random.uniform(0, min(0.3, 0.01 * 2 ** min(attempt, 5))))
        res = integrate(git, config, world_for, sign)
        if commit in res.dropped:
            raise RefusedError("refused by the shared log: " + res.dropped[commit],
                               hint="`changeguard show ID` shows what changed meanwhile")
        commit = res.replayed.get(commit, commit)
    raise GitError(f"could not push the change log to {remote} after {MAX_PUSHES} attempts",
                   hint="run `changeguard log sync` later")


def _state_after(git: Git, commit: str, prep: Prepared,
                 fallback: ChangeState | FreezeState) -> ChangeState | FreezeState:
    snap = Snapshot(git, commit)
    got = snap.freeze() if prep.event.kind in ("freeze", "unfreeze") \
        else snap.state(prep.event.change)
    return got if got is not None else fallback


def sync(git: Git, config: GuardConfig, world_for: WorldFor, sign: bool) -> list[str]:
    """`log sync`: integrate with the remote and push local-only events; report lines."""
    remote, ref = config.log.remote, config.log.ref
    if not remote:
        raise GitError("no log remote configured", hint="set `log: {remote: origin}` in "
                                                         ".changeguard.yaml")
    try:
        res = integrate(git, config, world_for, sign)
        lines = [f"dropped local event {c[:12]}: {why}" for c, why in res.dropped.items()]
        tip = ref_tip(git, ref)
        if tip is not None:
            _push_loop(git, config, tip, world_for, sign)
    except Unreachable as e:
        raise GitError(f"log remote {remote!r} is unreachable: {e}") from e
    lines.append(f"change log in sync with {remote} at {(ref_tip(git, ref) or '-')[:12]}"
                 + (f" ({len(res.replayed)} local event(s) replayed)" if res.replayed else ""))
    return lines
