"""`check --range BASE..HEAD`: the CI gate that `git commit --no-verify` cannot skip.

For every commit of the range that touches a guarded path, some change in the log must
have covered that exact blob at the commit's committer time; mapped config files must pass
at every commit. Guards are the union of the range base's and tip's `guarded` lists, so a
range cannot switch its own guard off. The config is read with the full model (CI has no
start-up budget): a config any other command refuses is exit 2 here too (issue 13 §2).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from changeguard.config.light import LightConfig, view_of
from changeguard.errors import ChangeguardError, ConfigError, InputError
from changeguard.findings import Finding, Severity
from changeguard.git import Git, Staged, parse_raw_diff
from changeguard.globs import match_any
from changeguard.hook.coverage import RULE, active_freeze, judge_path, read_log
from changeguard.hook.staged import Reader, check_configs

if TYPE_CHECKING:
    from changeguard.model import GuardConfig

# Once a change went ahead, its tip state may have moved on (completed, rolled back):
# the commit was still made under an approval.
_WENT_AHEAD = ("approved", "in_progress", "completed", "rolled_back")


@dataclass(frozen=True)
class Commit:
    sha: str
    time: datetime
    files: list[Staged]


def parse_range(spec: str) -> tuple[str, str]:
    """`BASE..HEAD` → (BASE, HEAD)."""
    if ".." not in spec or "..." in spec:
        raise InputError(f"--range {spec!r} must look like BASE..HEAD",
                         hint="e.g. --range origin/main..HEAD")
    base, head = spec.split("..", 1)
    return base or "HEAD", head or "HEAD"


def commits_in(git: Git, base: str, head: str) -> list[Commit]:
    """Commits of base..head, oldest first, with what each one changed."""
    for rev in (base, head):
        if git.run("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}",
                   check=False).returncode != 0:
            raise InputError(f"--range: unknown revision {rev!r}",
                             hint="fetch enough history (e.g. fetch-depth: 0 in CI)")
    out = git.run("rev-list", "--reverse", "--format=%H %P%n%cI", f"{base}..{head}").stdout
    lines = [x for x in out.decode().splitlines() if not x.startswith("commit ")]
    commits: list[Commit] = []
    for ids, when in zip(lines[0::2], lines[1::2], strict=True):
        sha, *parents = ids.split()
        commits.append(Commit(sha, datetime.fromisoformat(when), _changed(git, sha, parents)))
    return commits


def _changed(git: Git, sha: str, parents: list[str]) -> list[Staged]:
    """What a commit changed; for a merge, only content new to every parent."""
    base = ["diff-tree", "-r", "--raw", "-z", "--no-renames", "--no-abbrev", "--no-commit-id"]
    if not parents:
        return parse_raw_diff(git.run(*base, "--root", sha).stdout)
    changed = parse_raw_diff(git.run(*base, parents[0], sha).stdout)
    for p in parents[1:]:
        differs = {(s.path, s.blob) for s in parse_raw_diff(git.run(*base, p, sha).stdout)}
        changed = [s for s in changed if (s.path, s.blob) in differs]
    return changed


def _config_at(git: Git, rev: str, rel: str) -> LightConfig | None:
    """The config committed at `rev` (None when absent there).

    A broken config at the range's tip is exit 2: it must not reach the trusted branch.
    """
    from changeguard.config import parse_config
    from changeguard.loader import parse_document

    raw = git.cat_blobs([f"{rev}:{rel}"])[f"{rev}:{rel}"]
    if raw is None:
        return None
    try:
        loaded = parse_document(raw, rel)
        return view_of(parse_config(loaded), loaded.file)
    except InputError as e:
        where = f"it is the config committed at {rev}: fix it before it reaches the trusted " \
            "branch"
        raise ConfigError(e.message, file=e.file, line=e.line,
                          hint=f"{e.hint}; {where}" if e.hint else where) from e


def gate_config(repo: Path, git: Git, base: str, head: str,
                config_path: Path | None) -> tuple[LightConfig, GuardConfig]:
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
    return replace(cfg, guarded=tuple(guarded)), full


def check_range(repo: Path, spec: str, *, config_path: Path | None, now: str | None = None
                ) -> tuple[list[Finding], int, list[ChangeguardError]]:
    """Findings for every commit of the range, files judged, and unreadable-file errors."""
    from changeguard.clock import permit_now

    base, head = parse_range(spec)
    git = Git(repo)
    cfg, full = gate_config(repo, git, base, head, config_path)
    permit_now(now, cfg.clock, "`check --range`", f"{base}:{cfg.file}")  # SPEC §12 "Time"
    _verify_log(repo, full)
    findings: list[Finding] = []
    errors: list[ChangeguardError] = []
    judged: set[str] = set()
    for c in commits_in(git, base, head):
        guarded = [s for s in c.files if match_any(cfg.guarded, s.path)]
        mapped = [s.path for s in c.files if s.blob is not None and _mapped(cfg, s.path)]
        judged.update(s.path for s in guarded)
        judged.update(mapped)
        found = _coverage(git, cfg, guarded, c) + _configs(repo, git, cfg, mapped, c, errors)
        findings += [_at_commit(f, c) for f in found]
    return findings, len(judged), errors


def _verify_log(repo: Path, config: GuardConfig) -> None:
    """Only a verified log is believed (SPEC §12): exit 1 naming the first bad commit."""
    from changeguard.changelog.store import Git as LogGit
    from changeguard.changelog.verify import refuse_unverified

    log_git = LogGit(repo)
    try:
        refuse_unverified(log_git, config)
    finally:
        log_git.close()


def _mapped(cfg: LightConfig, path: str) -> bool:
    return any(match_any(globs, path) for globs in cfg.schema_globs)


def _coverage(git: Git, cfg: LightConfig, guarded: list[Staged], c: Commit) -> list[Finding]:
    if not guarded:
        return []
    log = read_log(git, cfg, [s.path for s in guarded])
    if log is None:
        return [Finding(RULE, Severity.DENY, f"{s.path} is guarded and the change log "
                        f"{cfg.log_ref} does not exist", s.path) for s in guarded]
    went_ahead = {cid: (dict(st, state="approved") if st.get("state") in _WENT_AHEAD else st)
                  for cid, st in log.states.items()}
    log = replace(log, states=went_ahead)
    frozen = active_freeze(cfg, None, c.time)  # config freezes at commit time
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
