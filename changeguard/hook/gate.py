"""`check --range BASE..HEAD`: the CI gate that `git commit --no-verify` cannot skip.

The gate judges what enters the trusted branch: the commits of BASE..HEAD along the first
parent, each against its first parent (a merge brings in everything its other parents hold
that its first parent did not: SPEC §12). For every such commit that changes a guarded path,
some change in the log must cover that exact blob at the commit's committer time (the one
rule of `hook.coverage`), and no committer time may lie beyond the gate's clock plus
`clock_skew_minutes`; mapped config files must pass at every commit.
Guards are the union of the range base's and tip's `guarded` lists, so a
range cannot switch its own guard off. The config is read with the full model (CI has no
start-up budget): a config any other command refuses is exit 2 here too (issue 13 §2).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from changeguard.config.light import LightConfig, view_of
from changeguard.errors import ChangeguardError, InputError
from changeguard.findings import Finding, Severity
from changeguard.git import Git, Staged, parse_raw_diff
from changeguard.globs import match_any
from changeguard.hook.coverage import (
    RULE,
    LogFreeze,
    active_freeze,
    judge_path,
    log_freezes,
    read_log,
)
from changeguard.hook.staged import Reader, check_configs, guarded_changes

if TYPE_CHECKING:
    from changeguard.config.trusted import Trusted
    from changeguard.model import GuardConfig


@dataclass(frozen=True)
class Commit:
    """One commit of a gated range and the files it changes."""

    sha: str
    time: datetime
    files: list[Staged]
    parent: str | None = None  # the first parent it is judged against (None: a root commit)


def parse_range(spec: str) -> tuple[str, str]:
    """`BASE..HEAD` → (BASE, HEAD)."""
    if ".." not in spec or "..." in spec:
        raise InputError(f"--range {spec!r} must look like BASE..HEAD",
                         hint="e.g. --range origin/main..HEAD")
    base, head = spec.split("..", 1)
    return base or "HEAD", head or "HEAD"


def commits_in(git: Git, base: str, head: str) -> list[Commit]:
    """First-parent commits of base..head, oldest first, with what each changed against its
    first parent (side-branch commits enter through their merge and are judged there)."""
    for rev in (base, head):
        if git.run("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}",
                   check=False).returncode != 0:
            raise InputError(f"--range: unknown revision {rev!r}",
                             hint="fetch enough history (e.g. fetch-depth: 0 in CI)")
    out = git.run("rev-list", "--first-parent", "--reverse", "--format=%H %P%n%cI",
                  f"{base}..{head}").stdout
    lines = [x for x in out.decode().splitlines() if not x.startswith("commit ")]
    commits: list[Commit] = []
    for ids, when in zip(lines[0::2], lines[1::2], strict=True):
        sha, *parents = ids.split()
        first = parents[0] if parents else None
        commits.append(Commit(sha, datetime.fromisoformat(when), _changed(git, sha, first),
                              first))
    return commits


def _changed(git: Git, sha: str, first_parent: str | None) -> list[Staged]:
    """What a commit changed against its first parent, whatever its other parents hold."""
    base = ["diff-tree", "-r", "--raw", "-z", "--no-renames", "--no-abbrev", "--no-commit-id"]
    if first_parent is None:
        return parse_raw_diff(git.run(*base, "--root", sha).stdout)
    return parse_raw_diff(git.run(*base, first_parent, sha).stdout)


def _base_blobs(git: Git, base: str) -> dict[str, str]:
    """path -> blob id of every file at BASE (the trusted revision)."""
    return {path: oid for oid, path in git.ls_tree(base, [], recursive=True) or []}


def _config_at(git: Git, rev: str, rel: str) -> LightConfig | None:
    """The config committed at `rev` (None when absent there).

    A broken config at the range's tip is exit 2: it must not reach the trusted branch.
    """
    from changeguard.config import parse_config
    from changeguard.config.trusted import located
    from changeguard.loader import parse_document

    raw = git.cat_blobs([f"{rev}:{rel}"])[f"{rev}:{rel}"]
    if raw is None:
        return None
    with located(rev, ": fix it before it reaches the trusted branch"):
        loaded = parse_document(raw, rel)
        return view_of(parse_config(loaded), loaded.file)


def gate_config(repo: Path, git: Git, base: str, head: str,
                config_path: Path | None) -> tuple[LightConfig, GuardConfig, Trusted]:
    """BASE's config (the trusted revision, SPEC §12) with guards widened by HEAD's.

    A range cannot bring its own roster, freezes, log ref or policies; HEAD's `guarded`
    only adds guards, so a range cannot switch its own guard off either.
    """
    from changeguard.config.trusted import config_rel, find_trusted, full_config

    trusted = find_trusted(git, config_rel(repo, config_path), judge=True, explicit=base,
                           required=config_path is not None)
    full = full_config(git, trusted)
    cfg = replace(view_of(full, trusted.config_rel), rev=trusted.sha)
    guarded = list(cfg.guarded)
    other = _config_at(git, head, trusted.config_rel)
    if other is not None:
        guarded += [g for g in other.guarded if g not in guarded]
    return replace(cfg, guarded=tuple(guarded)), full, trusted


def check_range(repo: Path, spec: str, *, config_path: Path | None, now: str | None = None
                ) -> tuple[list[Finding], int, list[ChangeguardError]]:
    """Findings for every commit of the range, files judged, and unreadable-file errors.

    `now` is the gate's clock (`--now`, allowed only under BASE's `clock: simulated`; else
    the wall clock).
    """
    from changeguard.clock import permit_now
    from changeguard.context import parse_now

    base, head = parse_range(spec)
    git = Git(repo)
    cfg, full, trusted = gate_config(repo, git, base, head, config_path)
    permit_now(now, cfg.clock, "`check --range`", f"{base}:{cfg.file}")  # SPEC §12 "Time"
    _verify_log(repo, full, trusted)
    clock = parse_now(now)
    latest = clock + timedelta(minutes=cfg.clock_skew_minutes)
    findings: list[Finding] = []
    errors: list[ChangeguardError] = []
    judged: set[str] = set()
    at_base: dict[str, str] | None = None
    freezes: _Freezes = _Freezes(git)
    for c in commits_in(git, base, head):
        guarded = guarded_changes(cfg, c.files, git, c.parent)
        if guarded:
            # content equal to BASE's is already on the trusted branch: nothing enters
            # (a merge of BASE into a PR branch, or a change undone within the range)
            at_base = _base_blobs(git, base) if at_base is None else at_base
            guarded = [s for s in guarded if at_base.get(s.path) != s.blob]
        mapped = [s.path for s in c.files if s.blob is not None and _mapped(cfg, s.path)]
        judged.update(s.path for s in guarded)
        judged.update(mapped)
        # a future date matters where it could claim a window: on guarded content
        future = _future(c, clock, latest) if guarded else []
        found = future + _coverage(git, cfg, guarded, c, freezes) \
            + _configs(repo, git, cfg, mapped, c, errors)
        findings += [_at_commit(f, c) for f in found]
    return findings, len(judged), errors


def _future(c: Commit, clock: datetime, latest: datetime) -> list[Finding]:
    """A committer time beyond the gate's clock (plus skew) could claim any window."""
    if c.time <= latest:
        return []
    return [Finding(RULE, Severity.DENY,
                    f"commit {c.sha[:12]} is dated {c.time.isoformat()}, later than the "
                    f"gate's clock {clock.isoformat()} plus clock_skew_minutes: a commit "
                    "cannot claim a time that has not come yet",
                    hint="re-commit with the real time (`git commit --amend --no-edit "
                         "--reset-author --date=now` with GIT_COMMITTER_DATE unset)")]


class _Freezes:
    """The log's freezes, read once when a guarded commit needs them."""

    def __init__(self, git: Git) -> None:
        self.git = git
        self.spans: dict[str, list[LogFreeze]] = {}

    def at_ref(self, ref: str) -> list[LogFreeze]:
        if ref not in self.spans:
            self.spans[ref] = log_freezes(self.git, ref)
        return self.spans[ref]


def _verify_log(repo: Path, config: GuardConfig, trusted: Trusted) -> None:
    """Only a verified log is believed (SPEC §12): exit 1 naming the first bad commit."""
    from changeguard.changelog.store import Git as LogGit
    from changeguard.changelog.verify import refuse_unverified

    log_git = LogGit(repo)
    try:
        config, trusted = _log_trust(log_git, config, trusted)
        # issue 17: the gate believes no cache it did not write in this run (a CI workspace
        # may be shared with earlier jobs), so it replays the log from its root
        refuse_unverified(log_git, config, trusted=trusted, believe_cache=False)
    finally:
        log_git.close()


def _log_trust(git: Git, config: GuardConfig, base: Trusted) -> tuple[GuardConfig, Trusted]:
    """The revision whose first-parent history the log's `Changeguard-Config` commits must
    be on: the trusted branch when it contains BASE (events written after BASE landed, e.g.
    `check --range HEAD~1..HEAD` on main), else BASE itself (a PR's own commits never are)."""
    from changeguard.config.trusted import find_trusted, full_config

    try:
        branch = find_trusted(git, base.config_rel, judge=True)
    except ChangeguardError:
        return config, base
    if branch.sha is None or branch.sha == base.sha or base.sha is None or git.run(
            "merge-base", "--is-ancestor", base.sha, branch.sha, check=False).returncode:
        return config, base
    return full_config(git, branch), branch


def _mapped(cfg: LightConfig, path: str) -> bool:
    return any(match_any(globs, path) for globs in cfg.schema_globs)


def _coverage(git: Git, cfg: LightConfig, guarded: list[Staged], c: Commit,
              freezes: _Freezes) -> list[Finding]:
    if not guarded:
        return []
    log = read_log(git, cfg, [s.path for s in guarded])
    if log is None:
        return [Finding(RULE, Severity.DENY, f"{s.path} is guarded and the change log "
                        f"{cfg.log_ref} does not exist", s.path) for s in guarded]
    # the same rule as the hook, at the commit's time: config freezes and log freezes then
    frozen = active_freeze(cfg, freezes.at_ref(log.ref), c.time)
    out: list[Finding] = []
    for s in guarded:
        out += judge_path(s, log, cfg, c.time, frozen)
    return out


def _configs(repo: Path, git: Git, cfg: LightConfig, paths: list[str], c: Commit,
             errors: list[ChangeguardError]) -> list[Finding]:
    if not paths:
        return []
    return check_configs(repo, cfg, paths, Reader(git, c.files), errors)


def _at_commit(f: Finding, c: Commit) -> Finding:
    return replace(f, message=f"{f.message} [commit {c.sha[:12]} at {c.time.isoformat()}]")
