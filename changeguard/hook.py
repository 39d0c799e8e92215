"""The light `check --staged` path and the `changeguard-hook` entry point (SPEC §9, issue 6).

Start-up is a feature: the top level imports only the stdlib and changeguard's stdlib/PyYAML
modules. Staged paths are matched against `guarded`, `schemas[].paths` and `plans` first;
when none match we exit 0 before anything heavy is imported. Guarded files are judged from
the change-log tip tree with two git plumbing calls; only mapped config files and staged
plans pull in the replication checker or pydantic, lazily.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from changeguard.errors import ChangeguardError, InputError
from changeguard.findings import Finding, Severity
from changeguard.globs import match, match_any
from changeguard.hookgit import Git, Staged
from changeguard.lightconfig import LightConfig, Member, load_light_config

RULE = "guarded-path-coverage"
COVERING_STATES = ("approved", "in_progress")
OPEN_STATES = ("submitted", "approved", "in_progress")
_REGULAR_MODES = ("100644", "100755")
_SYMLINK_MODE = "120000"
MAX_PATHSPECS = 1000


@dataclass
class Selection:
    """What the staged set needs: config validation, plan validation, coverage."""

    staged: list[Staged]
    mapped: list[str] = field(default_factory=list)
    plans: list[str] = field(default_factory=list)
    guarded: list[Staged] = field(default_factory=list)
    config: str | None = None  # the staged .changeguard.yaml, validated in full
    links: list[str] = field(default_factory=list)  # staged symlinks in mapped paths

    @property
    def empty(self) -> bool:
        """True when nothing staged needs a check (the fast path)."""
        return not (self.mapped or self.plans or self.guarded or self.config or self.links)

    @property
    def files(self) -> int:
        """How many distinct files were judged (the report's summary)."""
        return len({*self.mapped, *self.plans, *(s.path for s in self.guarded)})


def run_staged(repo: Path, *, now: datetime | None, fmt: str, color: bool,
               config_path: Path | None, filenames: Sequence[str] = ()) -> int:
    """Judge the staged change set (plus `filenames`); 0 ok, 1 deny, raises for exit 2."""
    cfg = load_light_config(repo, config_path)
    git = Git(repo)
    staged = _staged(git)
    cfg_rel = _config_rel(repo, cfg)
    cfg_staged = cfg_rel is not None and any(s.path == cfg_rel and s.blob for s in staged)
    if cfg_rel is not None and any(s.path == cfg_rel for s in staged):
        cfg = with_committed_guards(git, cfg, cfg_rel)
    sel = select(cfg, staged, _relative(repo, filenames))
    sel.config = cfg_rel if cfg_staged else None
    if sel.empty:  # the common case: nothing guarded, mapped or a plan; nothing heavy imported
        return _emit([], fmt, color, 0) if fmt != "text" else 0
    if now is None:
        from changeguard.context import parse_now

        now = parse_now(None)
    read = _Reader(git, sel.staged)
    errors: list[ChangeguardError] = [
        InputError("is a symlink that points outside the repository; it is never followed, "
                   "and a mapped config must not escape validation", file=p,
                   hint="commit the file's content instead of a link")
        for p in sel.links if _link_leaves_repo(p, read(p))]
    if sel.config is not None:
        check_guard_config(sel.config, read)
    findings = check_configs(repo, cfg, sel.mapped, read, errors)
    findings += check_plans(repo, config_path, sel.plans, read, now)
    findings += check_coverage(git, cfg, sel.guarded, now)
    code = _emit(findings, fmt, color, sel.files)
    for e in errors:  # every file was looked at; unreadable ones make the run exit 2
        print(e.render(), file=sys.stderr)
    return 2 if errors else code


def _link_leaves_repo(path: str, target: bytes | None) -> bool:
    """A staged symlink's target (its blob) is absolute or climbs above the repo root."""
    import posixpath

    if target is None:
        return False
    t = target.decode("utf-8", "surrogateescape")
    if t.startswith("/"):
        return True
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(path), t))
    return joined == ".." or joined.startswith("../")


def _staged(git: Git) -> list[Staged]:
    """Index vs HEAD; while concluding a merge only content new to every parent counts."""
    staged = git.staged()
    heads = git.merge_heads()
    if not heads or not staged:
        return staged
    # A file equal to one parent's version was already judged when that parent was committed.
    for head in heads:
        differs = {(s.path, s.blob) for s in git.staged(against=head)}
        staged = [s for s in staged if (s.path, s.blob) in differs]
    return staged


def _config_rel(repo: Path, cfg: LightConfig) -> str | None:
    """The config file's repo-relative path when it lives in the repo (it may be staged)."""
    p = Path(cfg.file)
    if p.is_absolute():
        try:
            return p.resolve().relative_to(repo.resolve()).as_posix()
        except ValueError:
            return None
    return p.as_posix()


def with_committed_guards(git: Git, cfg: LightConfig, cfg_rel: str) -> LightConfig:
    """A commit that edits the config is judged by the union of HEAD's and the new guards.

    Otherwise one commit could drop `db/**` from `guarded` and change db/ unreviewed.
    """
    from dataclasses import replace

    from changeguard.errors import ConfigError
    from changeguard.lightconfig import parse_light_config
    from changeguard.loader import parse_document

    raw = git.cat_blobs([f"HEAD:{cfg_rel}"])[f"HEAD:{cfg_rel}"]
    if raw is None:
        return cfg
    try:
        old = parse_light_config(parse_document(raw, f"HEAD:{cfg_rel}"))
    except (ConfigError, InputError):
        return cfg  # HEAD's config was broken; the new one is judged on its own
    extra = tuple(g for g in old.guarded if g not in cfg.guarded)
    return replace(cfg, guarded=cfg.guarded + extra) if extra else cfg


def check_guard_config(path: str, read: _Reader) -> None:
    """The staged `.changeguard.yaml` must be a valid GuardConfig (exit 2 otherwise)."""
    raw = read(path)
    if raw is None:
        return
    from pydantic import ValidationError

    from changeguard.errors import ConfigError
    from changeguard.loader import parse_document
    from changeguard.model import GuardConfig
    from changeguard.validation import problems

    try:
        loaded = parse_document(raw, path)
    except InputError as e:
        raise ConfigError(e.message, file=e.file, line=e.line, hint=e.hint) from e
    try:
        GuardConfig.model_validate(loaded.data)
    except ValidationError as e:
        first = next(problems(e, GuardConfig, loaded.source))
        raise ConfigError(f"staged config: {first.message}", file=path, line=first.line,
                          hint=first.hint or "see docs/config.md") from e


def _relative(repo: Path, filenames: Sequence[str]) -> list[str]:
    """Repo-relative '/'-paths of FILE arguments (pre-commit passes them from the top)."""
    tops = (Path(os.path.abspath(repo)), repo.resolve())
    out = []
    for name in filenames:
        # normalise without following a staged symlink to its target (a different path)
        full = Path(os.path.abspath(name))
        for base in (full, full.parent.resolve() / full.name):
            rel = next((base.relative_to(t) for t in tops if base.is_relative_to(t)), None)
            if rel is not None and rel.parts:
                out.append(rel.as_posix())
                break
        else:
            raise InputError("file is outside the repository", file=name,
                             hint=f"pass paths inside {tops[1]}")
    return out


def select(cfg: LightConfig, staged: list[Staged], filenames: Sequence[str]) -> Selection:
    """Classify staged paths (and extra FILE arguments) by the config's globs; stdlib only."""
    sel = Selection(staged)
    # symlinks and submodules have no config text; deleted files have nothing to validate
    regular = {s.path for s in staged if s.blob is not None and s.mode in _REGULAR_MODES}
    staged_paths = {s.path for s in staged}
    regular.update(f for f in filenames if f not in staged_paths)
    seen: set[str] = set()
    for path, blob in [(s.path, s.blob) for s in staged] + [(f, "") for f in filenames]:
        if path in seen:
            continue
        seen.add(path)
        if match(cfg.plans, path):
            if blob is not None:  # a deleted plan has nothing to validate
                sel.plans.append(path)
            continue  # plan files are never guarded (SPEC §3)
        if path in regular and any(match_any(g, path) for g in cfg.schema_globs):
            sel.mapped.append(path)
    sel.guarded = [s for s in staged
                   if not match(cfg.plans, s.path) and match_any(cfg.guarded, s.path)]
    # a mapped config replaced by a link would escape validation: refuse it (never follow)
    sel.links = [s.path for s in staged if s.mode == _SYMLINK_MODE and s.blob is not None
                 and any(match_any(g, s.path) for g in cfg.schema_globs)]
    return sel


class _Reader:
    """Staged content by path: staged blobs in one batch, other paths from the index."""

    def __init__(self, git: Git, staged: list[Staged]) -> None:
        self.git = git
        self.blobs = {s.path: s.blob for s in staged}
        self.cache: dict[str, bytes | None] = {}

    def prefetch(self, paths: Sequence[str]) -> None:
        names = {p: self._name(p) for p in paths if p not in self.cache}
        wanted = {p: n for p, n in names.items() if n is not None}
        got = self.git.cat_blobs(sorted(set(wanted.values())))
        for p, n in names.items():
            self.cache[p] = got.get(n) if n is not None else None

    def _name(self, path: str) -> str | None:
        if path in self.blobs:
            return self.blobs[path]  # None: deleted in this commit
        # not staged (an explicit FILE): its index entry; `:path` is stage 0 of the index
        return None if "\n" in path else ":" + path

    def __call__(self, path: str) -> bytes | None:
        if path not in self.cache:
            self.prefetch([path])
        return self.cache[path]


def check_configs(repo: Path, cfg: LightConfig, paths: list[str], read: _Reader,
                  errors: list[ChangeguardError]) -> list[Finding]:
    """`config-schema`/replication findings for mapped files, judged on staged content."""
    if not paths:
        return []
    from changeguard.replication.check import check_files
    from changeguard.replication.mapping import FileMapping

    read.prefetch(paths)
    mappings = FileMapping.from_raw(cfg.schemas)

    def limited(path: str) -> bytes | None:  # staged blobs obey the size limit too (SPEC §10)
        data = read(path)
        if data is not None and len(data) > cfg.max_file_bytes:
            raise InputError(f"file is over the {cfg.max_file_bytes}-byte limit", file=path,
                             hint="split the file or raise max_file_bytes")
        return data

    # one staged member of a group (e.g. a Patroni scope) is judged with its siblings
    result = check_files(repo, paths, mappings, read=limited, raise_errors=False,
                         complete_groups=True)
    errors.extend(result.errors)
    return list(result.findings)


def check_plans(repo: Path, config_path: Path | None, paths: list[str], read: _Reader,
                now: datetime) -> list[Finding]:
    """Every plan rule on each staged ChangePlan (its staged bytes)."""
    if not paths:
        return []
    from changeguard.config import load_config
    from changeguard.plan import EvalContext, evaluate_plan, parse_plan

    config = load_config(repo, config_path)
    ctx = EvalContext(repo=repo, config=config, now=now)
    read.prefetch(paths)
    findings: list[Finding] = []
    for path in paths:
        raw = read(path)
        if raw is None:
            continue
        findings += evaluate_plan(parse_plan(raw, path, max_bytes=config.max_file_bytes), ctx)
    return findings


# ------------------------------------------------------------------ coverage (SPEC §5)


@dataclass(frozen=True)
class LogView:
    """The change-log tip as the hook needs it: which changes list each path, and freeze."""

    listed: dict[str, list[str]]
    states: dict[str, dict[str, object]]
    freeze: dict[str, object] | None


def path_key(path: str) -> str:
    """`paths/<xx>/<key>/` directory name of a repo path in the log tip tree (DESIGN.md)."""
    import hashlib  # only once a guarded path is staged

    return hashlib.sha1(path.encode("utf-8", "surrogateescape"), usedforsecurity=False
                        ).hexdigest()


def change_dir(change_id: str) -> str:
    """`changes/<xx>/<ID>`: the tip-tree directory of a change (xx = sha1(ID)[:2])."""
    return f"changes/{path_key(change_id)[:2]}/{change_id}"


def read_log(git: Git, cfg: LightConfig, paths: Sequence[str]) -> LogView | None:
    """Read the tip tree with one `ls-tree` and one `cat-file --batch`; None: no log yet."""
    keys = {path_key(p): p for p in paths}
    # one pathspec per path; a mass change lists the whole index instead (argv limits)
    many = len(keys) > MAX_PATHSPECS
    specs = ["paths/"] if many else [f"paths/{k[:2]}/{k}/" for k in sorted(keys)]
    ref = cfg.log_ref
    rows = git.ls_tree(ref, specs, recursive=many)
    if rows is None and cfg.log_remote and ref.startswith("refs/heads/"):
        ref = f"refs/remotes/{cfg.log_remote}/{ref[len('refs/heads/'):]}"
        rows = git.ls_tree(ref, specs, recursive=many)
    if rows is None:
        return None
    listed: dict[str, list[str]] = {p: [] for p in paths}
    for _oid, name in rows:
        parts = name.split("/")  # paths/<xx>/<key>/<ID>
        # a change id never holds whitespace; one that does would break cat-file's protocol
        if len(parts) == 4 and parts[2] in keys and parts[1] == parts[2][:2] and parts[3] \
                and not any(c.isspace() for c in parts[3]):
            listed[keys[parts[2]]].append(parts[3])
    ids = sorted({i for ids in listed.values() for i in ids})
    specs = [f"{ref}:{change_dir(i)}/state.json" for i in ids] + [f"{ref}:freeze.json"]
    blobs = git.cat_blobs(specs)
    states = {i: _json_object(blobs[s]) for i, s in zip(ids, specs, strict=False)}
    return LogView(listed, {i: s for i, s in states.items() if s is not None},
                   _json_object(blobs[specs[-1]]))


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
                   now: datetime) -> list[Finding]:
    """`guarded-path-coverage` for each staged guarded path (SPEC §5)."""
    if not staged:
        return []
    log = read_log(git, cfg, [s.path for s in staged])
    if log is None:
        return [_no_log(cfg, s) for s in staged]
    frozen = active_freeze(cfg, log.freeze, now)
    findings: list[Finding] = []
    for s in staged:
        findings += judge_path(s, log, cfg, now, frozen)
    return findings


def _no_log(cfg: LightConfig, s: Staged) -> Finding:
    path = s.path
    what = "deletion of " if s.blob is None else ""
    sync = " (or run `changeguard log sync` to fetch the log)" if cfg.log_remote else ""
    return Finding(RULE, Severity.DENY,
                   f"{what}{path} is guarded and no change covers it: the change log "
                   f"{cfg.log_ref} does not exist yet{sync}", path, None, None,
                   f"list {path!r} under `changes:` of a plan (`changeguard new`), run "
                   "`changeguard submit PLAN`, get it approved"
                   f"{_approvers_text(cfg, None)}, and commit inside its window")


def active_freeze(cfg: LightConfig, log_freeze: dict[str, object] | None,
                  now: datetime) -> str | None:
    """Why commits are frozen now (config `freezes` or the log's freeze.json), or None."""
    for f in cfg.freezes:
        if f.start <= now < f.end:
            return f"freeze {f.name!r} until {f.end.isoformat()}" + (
                f" ({f.reason})" if f.reason else "")
    if log_freeze and log_freeze.get("active") is True:
        until = _time(log_freeze.get("until"))
        if until is None or now < until:
            reason = log_freeze.get("reason")
            return "the line is frozen" + (f" until {until.isoformat()}" if until else "") + (
                f" ({reason})" if reason else "")
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
               frozen: str | None) -> list[Finding]:
    """Covered by some change (maybe a warning), or one deny finding saying what is missing."""
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
    return [_uncovered(s, candidates, cfg)]


def change_problems(state: dict[str, object], s: Staged, now: datetime,
                    frozen: str | None) -> list[Problem]:
    """What keeps this change from covering the staged path (empty: it covers it)."""
    problems: list[Problem] = []
    st = str(state.get("state", "unknown"))
    if st == "submitted":
        problems.append(("approve", "state is submitted, not approved"))
    elif st not in COVERING_STATES:
        problems.append(("closed", f"state is {st}"))
    window = state.get("window")
    start = _time(window.get("start")) if isinstance(window, dict) else None
    end = _time(window.get("end")) if isinstance(window, dict) else None
    if start is None or end is None:
        problems.append(("window", "its window is unreadable"))
    elif now < start:
        problems.append(("window", f"outside its window: opens {start.isoformat()}"))
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


def _short(blob: object) -> str:
    if blob is None:
        return "deletion"
    return str(blob)[:12] if blob else "nothing"


def _uncovered(s: Staged, candidates: list[tuple[str, list[Problem], dict[str, object]]],
               cfg: LightConfig) -> Finding:
    what = "deletion of " if s.blob is None else ""
    if not candidates:
        sync = "; `changeguard log sync` fetches newer changes" if cfg.log_remote else ""
        return Finding(RULE, Severity.DENY,
                       f"{what}{s.path} is guarded and no change in the log lists it", s.path,
                       hint=f"list {s.path!r} under `changes:` of a plan, `changeguard submit` "
                            f"it and get it approved{_approvers_text(cfg, None)}{sync}")
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
        steps.append(f"get `changeguard approve {cid}`{_approvers_text(cfg, state)}")
    if "window" in kinds:
        steps.append("commit inside the change's window (or submit a revision with a new one)")
    if "frozen" in kinds:
        steps.append("wait for the freeze to end or `changeguard unfreeze`; only emergency "
                     "changes may proceed")
    return "; ".join(steps)


def needed_roles(state: dict[str, object] | None) -> set[str]:
    """Roles an approver needs (empty: any roster member): the change's recorded policy
    requirements, else the builtin:default rule of SPEC §11."""
    st = state or {}
    reqs = st.get("requirements")
    if isinstance(reqs, list) and reqs:
        return {r for q in reqs if isinstance(q, dict) and isinstance(q.get("roles"), list)
                for r in q["roles"] if isinstance(r, str)}
    if st.get("type") == "emergency":
        return {"cab"}
    return {"dba"} if st.get("risk") == "high" else set()


def approvers(cfg: LightConfig, state: dict[str, object] | None) -> list[Member]:
    """Roster members who can still approve: right role, not the author, not yet approved."""
    st = state or {}
    roles = needed_roles(state)
    given = st.get("approvals")
    done = {str(a.get("actor", "")).lower() for a in (given if isinstance(given, list) else [])
            if isinstance(a, dict) and not a.get("stale")}
    done.add(str(st.get("author", "")).lower())
    return [m for m in cfg.reviewers
            if m.email.lower() not in done and (not roles or roles & set(m.roles))]


def _approvers_text(cfg: LightConfig, state: dict[str, object] | None) -> str:
    people = approvers(cfg, state)
    if not people:
        return " (no roster member in `reviewers:` can approve it yet)"
    names = [f"{m.name} <{m.email}>" if m.name else m.email for m in people[:5]]
    return " by " + ", ".join(names) + (", ..." if len(people) > 5 else "")


# ------------------------------------------------------------------ output and entry point


def _emit(findings: list[Finding], fmt: str, color: bool, files: int) -> int:
    """Print the report (silent text on success) and return 0 ok / 1 deny."""
    deny = any(f.severity is Severity.DENY for f in findings)
    if findings or fmt != "text":
        from changeguard.report import render

        text = render(findings, fmt, files=files, color=color)
        print(text, end="" if text.endswith("\n") else "\n")
    return 1 if deny else 0


@dataclass
class Options:
    """Command-line options of `changeguard-hook`."""

    files: list[str] = field(default_factory=list)
    config: Path | None = None
    repo: Path | None = None
    now: str | None = None
    format: str = "text"
    no_color: bool = False


def parse_args(argv: Sequence[str]) -> Options:
    """Options; plain FILE lists (what git and pre-commit pass) skip argparse's import."""
    if not any(a.startswith("-") for a in argv):
        return Options(files=list(argv))
    import argparse

    p = argparse.ArgumentParser(
        prog="changeguard-hook",
        description="pre-commit hook: `changeguard check --staged` with a fast start-up")
    p.add_argument("files", nargs="*", help="extra files to validate (pre-commit passes them)")
    p.add_argument("--config", type=Path, help="path of .changeguard.yaml")
    p.add_argument("--repo", type=Path, help="config repo (default: enclosing git repo)")
    p.add_argument("--now", help="judge time as RFC 3339 (default: $CHANGEGUARD_NOW or clock)")
    p.add_argument("--format", default="text", choices=("text", "json", "sarif", "junit"))
    p.add_argument("--no-color", action="store_true", help="plain text output")
    return p.parse_args(argv, namespace=Options())


def main(argv: Sequence[str] | None = None) -> int:
    """`changeguard-hook [FILE...]`: exit 0 ok, 1 deny, 2 cannot evaluate."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from changeguard.context import Globals, parse_now, repo_root

    try:
        repo = repo_root(Globals(repo=args.repo))
        now = parse_now(args.now) if args.now else None
        color = not args.no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()
        return run_staged(repo, now=now, fmt=args.format, color=color,
                          config_path=args.config, filenames=args.files)
    except ChangeguardError as e:
        print(e.render(), file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception:  # the hook's top-level handler: exit 2, never Python's 1 ("deny")
        import traceback

        print("internal error: please report it with the traceback below", file=sys.stderr)
        traceback.print_exc()
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
