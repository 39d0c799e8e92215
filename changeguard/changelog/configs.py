"""Which config each event of the log is judged under (SPEC §12).

Every event commit names the trusted-revision commit its writer used in a
`Changeguard-Config: <sha>` trailer. `log verify` judges the event under the config committed
there (roster, roles, policies, `require_signed`, emergency hours), so changing the roster
later never flags older events and a pull request cannot bring its own roster: the commit
must lie on the trusted branch's first-parent history.

Config *versions* only move forward. The version of a config commit is the newest
first-parent commit at or before it that changed a governance file (the config file, or a
local policy pack or repo schema the config names). An event is a problem when its version
is older than one an earlier event was judged under, older than the version in force on the
trusted branch at the event's time (committer time; the recorded `at` under `clock:
simulated`), or older than a governance commit that recorded (`Changeguard-Log`) a log tip
the event descends from: a revoked reviewer cannot keep approving under the config that
listed them, not even by back-dating.

Logs written before the trailer existed are a legacy prefix judged under the verifying
config; once one event carries the trailer, every later one must.
"""

from __future__ import annotations

import bisect
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from changeguard.changelog.events import parse_trailers
from changeguard.changelog.state import ts
from changeguard.changelog.store import Git
from changeguard.errors import ChangeguardError

if TYPE_CHECKING:
    from changeguard.config.trusted import Trusted
    from changeguard.model import GuardConfig

class Commit(Protocol):
    """What is read here of a log commit (verify.Commit; no import: verify imports us)."""

    sha: str
    message: str

    @property
    def trailers(self) -> dict[str, str]:
        """`parse_trailers(message)`, parsed once per commit."""
        ...


CONFIG_TRAILER = "Changeguard-Config"
LOG_TRAILER = "Changeguard-Log"
_SHA = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True, slots=True)
class Point:
    """One commit of the trusted branch's first-parent history."""

    sha: str
    time: int  # committer time (epoch seconds)
    version: int  # index of the newest governance change at or before it; -1: none yet


@dataclass
class Branch:
    """The trusted branch's first-parent history, oldest first, with config versions."""

    points: list[Point]
    by_sha: dict[str, Point]
    anchors: dict[str, int]  # log tip a governance commit recorded -> its version
    _times: list[int] = field(default_factory=list)  # sorted committer times
    _best: list[int] = field(default_factory=list)  # newest version in force by then

    def __post_init__(self) -> None:
        rows = sorted((p.time, p.version) for p in self.points)
        self._times = [t for t, _ in rows]
        best = -1
        for _, v in rows:
            best = max(best, v)
            self._best.append(best)

    def in_force(self, at: int) -> int:
        """The newest version that had landed on the trusted branch at epoch time `at`."""
        i = bisect.bisect_right(self._times, at)
        return self._best[i - 1] if i else -1

    def version_sha(self, version: int) -> str | None:
        """The governance commit that started `version` (None: before any)."""
        return self.points[version].sha if version >= 0 else None


def _governance(config: GuardConfig, rel: str) -> tuple[str, ...]:
    from changeguard.config.trusted import governance_refs

    packs, schemas = governance_refs(config)
    return (rel, *packs, *schemas)


def _touches(names: list[str], gov: tuple[str, ...]) -> bool:
    return any(n == g or n.startswith(g.rstrip("/") + "/") for n in names for g in gov)


def read_branch(git: Git, trusted: Trusted) -> Branch:
    """First-parent history of the trusted revision, each commit's config version."""
    from changeguard.config.load import parse_config
    from changeguard.loader import parse_document

    assert trusted.sha is not None
    # only %H and %ct are formatted (no message text), so the NUL split cannot be forged
    raw = git.run("log", "--reverse", "--first-parent", "--diff-merges=first-parent",
                  "--name-only", "-z", "--format=%x00commit %H %ct", trusted.sha).stdout
    rows: list[tuple[str, int, list[str]]] = []
    for tok in raw.decode("utf-8", "surrogateescape").split("\0"):
        tok = tok.lstrip("\n")
        if tok.startswith("commit ") and _SHA.match(tok[7:47]):
            rows.append((tok[7:47], int(tok[48:] or 0), []))
        elif tok and rows:
            rows[-1][2].append(tok)
    rel = trusted.config_rel
    gov: tuple[str, ...] = (rel,)
    points: list[Point] = []
    gov_shas: list[str] = []
    version = -1
    for i, (sha, when, names) in enumerate(rows):
        if rel in names:  # the governance set is what this commit's config names
            blob = git.cat_blobs([f"{sha}:{rel}"])[f"{sha}:{rel}"]
            try:
                cfg = parse_config(parse_document(blob, rel)) if blob is not None else None
                gov = _governance(cfg, rel) if cfg is not None else (rel,)
            except ChangeguardError:
                pass  # a broken config there: keep the files named before
        if _touches(names, gov):
            version = i
            gov_shas.append(sha)
        points.append(Point(sha, when, version))
    return Branch(points, {p.sha: p for p in points}, _anchors(git, gov_shas, points))


def _anchors(git: Git, shas: list[str], points: list[Point]) -> dict[str, int]:
    """`Changeguard-Log` tips recorded by governance commits (the hook's commit-msg stage)."""
    out: dict[str, int] = {}
    index = {p.sha: p.version for p in points}
    for sha, got in zip(shas, git.read_many(shas), strict=True):
        if got is None:
            continue
        msg = got[2].partition(b"\n\n")[2].decode("utf-8", "replace")
        tip = parse_trailers(msg).get(LOG_TRAILER, "")
        if _SHA.match(tip):
            out[tip] = max(out.get(tip, -1), index[sha])
    return out


@dataclass
class Judged:
    """Per event commit: the config it is judged under and the problems of that choice."""

    configs: dict[str, GuardConfig] = field(default_factory=dict)
    problems: dict[str, list[str]] = field(default_factory=dict)
    legacy: int = 0  # events before the first Changeguard-Config trailer

    def config_of(self, sha: str, default: GuardConfig) -> GuardConfig:
        """The config to judge commit `sha` under."""
        return self.configs.get(sha, default)

    def signatures(self, git: Git, shas: list[str], default: GuardConfig) -> dict[str, str]:
        """commit -> "STATUS PRINCIPAL", each checked against its own config's keys."""
        groups: dict[int, tuple[GuardConfig, list[str]]] = {}
        for sha in shas:
            cfg = self.config_of(sha, default)
            if cfg.require_signed:
                groups.setdefault(id(cfg), (cfg, []))[1].append(sha)
        return {k: v for cfg, shas in groups.values() for k, v in _sigs(git, cfg, shas).items()}


def _sigs(git: Git, config: GuardConfig, shas: list[str]) -> dict[str, str]:
    lines = [f'{r.email} namespaces="git" {r.signing_key.strip()}'
             for r in config.reviewers if r.signing_key]
    with tempfile.TemporaryDirectory() as d:
        allowed = Path(d) / "allowed_signers"
        allowed.write_text("\n".join(lines) + "\n")
        out = git.run("-c", "gpg.format=ssh", "-c", f"gpg.ssh.allowedSignersFile={allowed}",
                      "log", "--no-walk=unsorted", "--stdin", "-z", "--format=%H %G? %GS",
                      input="".join(s + "\n" for s in shas).encode()).stdout.decode(
                          "utf-8", "replace")
    sigs: dict[str, str] = {}
    for rec in out.split("\0"):  # keyed by each real commit's own %H
        sha, _, rest = rec.strip().partition(" ")
        sigs[sha] = rest
    return sigs


class _Loader:
    """Configs by version, each loaded once through config.trusted (packs, schemas inside)."""

    def __init__(self, git: Git, trusted: Trusted, config: GuardConfig, branch: Branch) -> None:
        self.git, self.trusted, self.branch = git, trusted, branch
        assert trusted.sha is not None
        self.cache: dict[int, GuardConfig | str] = {
            branch.by_sha[trusted.sha].version: config} if trusted.sha in branch.by_sha else {}

    def load(self, version: int) -> GuardConfig | str:
        """The config of `version`, or why it cannot be loaded."""
        if version not in self.cache:
            from changeguard.config.load import default_config
            from changeguard.config.trusted import find_trusted, full_config

            sha = self.branch.version_sha(version)
            try:
                self.cache[version] = default_config() if sha is None else full_config(
                    self.git, find_trusted(self.git, self.trusted.config_rel, judge=True,
                                           explicit=sha))
            except ChangeguardError as e:
                self.cache[version] = f"its config does not load: {e.message}"
        return self.cache[version]


def _event_time(c: Commit, committed: _Committed, simulated: bool) -> int | None:
    if simulated:
        at = _at(c.message)
        if at is not None:
            return int(at.timestamp())
    return committed.get(c.sha)


def _at(message: str) -> datetime | None:
    import json

    body = next((p for p in message.split("\n\n") if p.lstrip().startswith("{")), None)
    try:
        return ts(json.loads(body)["at"]) if body is not None else None
    except (ValueError, KeyError, TypeError):
        return None


@dataclass
class _Walk:
    """Where the judgement stands after a prefix of the log."""

    floor: tuple[int, str] = (-1, "")  # newest version an earlier event was judged under
    anchor: int = -1  # newest version a governance commit bound to a log tip already passed
    seen: bool = False  # an earlier event carried the trailer
    legacy: int = 0  # events of the legacy prefix


def _resumed(git: Git, since: str, shas: list[str], branch: Branch) -> _Walk:
    """The walk's state after `since`, a tip that verified, without reading its history.

    Verified means versions only moved forward and the legacy events form a prefix: so the
    floor is `since`'s own version, the anchor the newest anchored commit among its
    ancestors, and the legacy count the position of the first trailer (a binary search).
    `shas` is `since`'s history, oldest first.
    """
    inside = set(shas)
    walk = _Walk(anchor=max((v for s, v in branch.anchors.items() if s in inside), default=-1))

    def trailer(sha: str) -> str | None:
        got = git.read(sha)
        return parse_trailers(got[2].partition(b"\n\n")[2].decode(errors="replace")).get(
            CONFIG_TRAILER) if got is not None else None

    name = trailer(since)
    if name is None:
        walk.legacy = len(shas)
        return walk
    walk.seen = True
    point = branch.by_sha.get(name)
    if point is not None:
        walk.floor = (point.version, since)
    lo, hi = 0, len(shas) - 1  # the first commit with a trailer
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if trailer(shas[mid]) is not None else (mid + 1, hi)
    walk.legacy = lo
    return walk


def judge_events(git: Git, history: Sequence[Commit], config: GuardConfig,
                 trusted: Trusted | None,
                 resumed: tuple[str, list[str]] | None = None) -> Judged:
    """The config of every event of `history` (log order) and the problems of each choice.

    `resumed`: the verified tip `history` continues from and that tip's history, oldest
    first (changelog/ancestry.py); None: history starts at the root.
    """
    out = Judged()
    since = resumed[0] if resumed is not None else None
    if trusted is None or trusted.sha is None or not (history or since):
        return out  # no trusted revision given: everything under `config` (library callers)
    branch = read_branch(git, trusted)
    walk = _resumed(git, *resumed, branch) if resumed is not None else _Walk()
    out.legacy = walk.legacy
    if not history:
        return out
    loader = _Loader(git, trusted, config, branch)
    committed = _Committed(git, history[-1].sha, since)
    simulated = config.clock == "simulated"
    floor, anchor, seen = walk.floor, walk.anchor, walk.seen
    for c in history:
        trailers = c.trailers
        if "Changeguard-Event" not in trailers:
            continue  # not an event at all: verify says so
        name = trailers.get(CONFIG_TRAILER)
        if name is None:
            if seen:
                out.problems[c.sha] = [f"no {CONFIG_TRAILER} trailer, but earlier events "
                                       "carry one (only a legacy prefix may lack it)"]
            else:
                out.legacy += 1
        else:
            seen = True
            floor = _judge_one(c, name, out, branch, loader, floor, anchor,
                               _event_time(c, committed, simulated))
        anchor = max(anchor, branch.anchors.get(c.sha, -1))
    return out


def _judge_one(c: Commit, name: str, out: Judged, branch: Branch, loader: _Loader,
               floor: tuple[int, str], anchor: int, when: int | None) -> tuple[int, str]:
    point = branch.by_sha.get(name)
    if point is None:
        out.problems[c.sha] = [f"{CONFIG_TRAILER} {name[:40]} is not on the trusted branch's "
                               "first-parent history: the event was written under a config "
                               "that never landed"]
        return floor
    v = point.version
    problems: list[str] = []
    if v < floor[0]:
        problems.append(f"written under config {name[:12]}, older than the config version "
                        f"an earlier event ({floor[1][:12]}) was judged under")
    if when is not None and v < branch.in_force(when):
        newer = branch.version_sha(branch.in_force(when)) or ""
        problems.append(f"written under config {name[:12]}, but at its time the trusted branch "
                        f"already had the newer config version {newer[:12]}")
    if v < anchor:
        newer = branch.version_sha(anchor) or ""
        problems.append(f"written under config {name[:12]}, older than the config version "
                        f"{newer[:12]} that landed after the log tip this event descends from")
    cfg = loader.load(v)
    if isinstance(cfg, str):
        problems.append(f"{CONFIG_TRAILER} {name[:12]}: {cfg}")
    else:
        out.configs[c.sha] = cfg
    if problems:
        out.problems[c.sha] = problems
    return (v, c.sha) if v > floor[0] else floor


class _Committed:
    """`_committer_times`, listed on first use: a log whose events carry no config trailer
    (or a simulated clock's times) never asks, and need not wait for a whole-history walk."""

    def __init__(self, git: Git, tip: str, since: str | None) -> None:
        self._args = (git, tip, since)
        self._times: dict[str, int] | None = None

    def get(self, sha: str) -> int | None:
        if self._times is None:
            self._times = _committer_times(*self._args)
        return self._times.get(sha)


def _committer_times(git: Git, tip: str, since: str | None = None) -> dict[str, int]:
    # only %H and %ct are formatted: no message text can forge a line
    out = git.out("log", "--format=%H %ct", tip, *(("^" + since,) if since else ()))
    rows = (line.split() for line in out.splitlines())
    return {r[0]: int(r[1]) for r in rows if len(r) == 2}


__all__ = ["CONFIG_TRAILER", "LOG_TRAILER", "Branch", "Judged", "judge_events", "read_branch"]
