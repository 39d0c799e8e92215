"""Staged-set selection for the hook: what is staged, what it needs, staged content.

Stdlib only at the top level (issue 6 §3): `select` classifies staged paths by the config's
globs before anything heavy is imported; config and plan checks import their checkers lazily.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from changeguard.config.light import LightConfig, governance_paths
from changeguard.errors import ChangeguardError, InputError
from changeguard.findings import Finding
from changeguard.git import Git, Staged
from changeguard.globs import match, match_any, match_guarded, may_overlap

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (hook start-up)

if TYPE_CHECKING:
    from changeguard.config.trusted import Trusted

_REGULAR_MODES = ("100644", "100755")
_SYMLINK_MODE = "120000"


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


def link_leaves_repo(path: str, target: bytes | None) -> bool:
    """A staged symlink's target (its blob) is absolute or climbs above the repo root."""
    import posixpath

    if target is None:
        return False
    t = target.decode("utf-8", "surrogateescape")
    if t.startswith("/"):
        return True
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(path), t))
    return joined == ".." or joined.startswith("../")


def staged_changes(git: Git) -> list[Staged]:
    """Index vs HEAD, also while concluding a merge (SPEC §12: a merge is judged against its
    first parent, HEAD). `.git/MERGE_HEAD` is never read: anyone can write that file, and
    content equal to another parent's (a stale branch's) still changes what HEAD holds."""
    return git.staged()


def is_guarded(cfg: LightConfig, path: str, governance: Sequence[str] = ()) -> bool:
    """`guarded` globs in either case, or a governance file (SPEC §12), whatever `plans` says."""
    low = path.lower()
    return any(low == g.lower() for g in governance) or match_guarded(cfg.guarded, path)


def is_attributes(path: str) -> bool:
    """A `.gitattributes` at any level (any case: case-insensitive checkouts read it too)."""
    return path.rsplit("/", 1)[-1].lower() == ".gitattributes"


def attributes_guarded(cfg: LightConfig, path: str, contents: Sequence[bytes | None]) -> bool:
    """A `.gitattributes` is guarded when one of its patterns (before or after the change)
    may match a guarded path: `working-tree-encoding`, `eol`, `ident`, `filter` change the
    bytes of guarded files at checkout. In doubt (macros, quoted patterns) it is guarded."""
    import posixpath

    where = posixpath.dirname(path)
    # governance files are literal repo-relative paths: anchored
    guards = [*cfg.guarded, *("/" + g for g in governance_paths(cfg))]
    for raw in contents:
        for line in (raw or b"").decode("utf-8", "replace").splitlines():
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            if text.startswith(("[attr]", '"')) or may_overlap(where, text.split()[0], guards):
                return True
    return False


def guarded_changes(cfg: LightConfig, changes: Sequence[Staged], git: Git,
                    before: str | None) -> list[Staged]:
    """The changed paths that need coverage, hook and gate alike (SPEC §12).

    `before` is the revision the change is judged against (HEAD for the hook, the first
    parent for the gate; None for a root commit): a `.gitattributes` is judged on both its
    old and new patterns. The commit that adds the first config (none at `before`) bootstraps
    the guard: there is nothing yet whose review it could skip.
    """
    gov = governance_paths(cfg)
    cfg_file = gov[0] if gov and gov[0] == _norm(cfg.file) else None
    out: list[Staged] = []
    attrs: list[Staged] = []
    for s in changes:
        if cfg_file is not None and s.path == cfg_file and s.status == "A" \
                and not match_guarded(cfg.guarded, s.path):
            continue
        if is_guarded(cfg, s.path, gov):
            out.append(s)
        elif is_attributes(s.path):
            attrs.append(s)
    if attrs:
        names = [s.blob for s in attrs if s.blob] + (
            [f"{before}:{s.path}" for s in attrs] if before else [])
        got = git.cat_blobs(names)
        out += [s for s in attrs if attributes_guarded(cfg, s.path, [
            got.get(s.blob) if s.blob else None,
            got.get(f"{before}:{s.path}") if before else None])]
    order = {s.path: i for i, s in enumerate(changes)}
    return sorted(out, key=lambda s: order[s.path])


def _norm(name: str) -> str:
    import posixpath

    return posixpath.normpath(name.replace("\\", "/"))


def config_rel(repo: Path, cfg: LightConfig) -> str | None:
    """The config file's repo-relative path when it lives in the repo (it may be staged)."""
    p = Path(cfg.file)
    if p.is_absolute():
        try:
            return p.resolve().relative_to(repo.resolve()).as_posix()
        except ValueError:
            return None
    return p.as_posix()


def trusted_view(repo: Path, git: Git, config_path: Path | None) -> tuple[Trusted, LightConfig]:
    """The trusted revision and its light config: what both hook stages judge by (§12)."""
    from changeguard.config.trusted import config_rel as trusted_rel
    from changeguard.config.trusted import find_trusted, light_config

    trusted = find_trusted(git, trusted_rel(repo, config_path), judge=False,
                           required=config_path is not None)
    return trusted, light_config(trusted)


def widened_by_staged_config(repo: Path, git: Git, cfg: LightConfig,
                             staged: Sequence[Staged]) -> LightConfig:
    """`cfg`, plus HEAD's guards when the config file itself is staged."""
    cfg_path = config_rel(repo, cfg)
    if cfg_path is not None and any(s.path == cfg_path for s in staged):
        return with_committed_guards(git, cfg, cfg_path)
    return cfg


def with_committed_guards(git: Git, cfg: LightConfig, cfg_rel: str) -> LightConfig:
    """A commit that edits the config is judged by the union of HEAD's and the new guards.

    Otherwise one commit could drop `db/**` from `guarded` and change db/ unreviewed.
    """
    from dataclasses import replace

    from changeguard.config.light import parse_light_config
    from changeguard.errors import ConfigError
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


def check_guard_config(path: str, read: Reader) -> None:
    """The staged `.changeguard.yaml` must be a valid GuardConfig (exit 2 otherwise)."""
    raw = read(path)
    if raw is None:
        return
    from changeguard.config import parse_config
    from changeguard.errors import ConfigError
    from changeguard.loader import parse_document

    try:
        loaded = parse_document(raw, path)
    except InputError as e:
        raise ConfigError(e.message, file=e.file, line=e.line, hint=e.hint) from e
    try:
        parse_config(loaded)
    except ConfigError as e:
        raise ConfigError(f"staged config: {e.message}", file=path, line=e.line,
                          hint=e.hint) from e


def relative(repo: Path, filenames: Sequence[str]) -> list[str]:
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


def select(cfg: LightConfig, staged: list[Staged], filenames: Sequence[str],
           git: Git | None = None) -> Selection:
    """Classify staged paths (and extra FILE arguments) by the config's globs; stdlib only.

    `git` reads `.gitattributes` contents (HEAD's and the staged one) when one is staged.
    """
    sel = Selection(staged)
    gov = governance_paths(cfg)
    # symlinks and submodules have no config text; deleted files have nothing to validate
    regular = {s.path for s in staged if s.blob is not None and s.mode in _REGULAR_MODES}
    staged_paths = {s.path for s in staged}
    regular.update(f for f in filenames if f not in staged_paths)
    seen: set[str] = set()
    for path, blob in [(s.path, s.blob) for s in staged] + [(f, "") for f in filenames]:
        if path in seen:
            continue
        seen.add(path)
        # a guarded file is never a plan: `plans: "db/**"` must not unguard db/ (SPEC §12)
        if match(cfg.plans, path) and not is_guarded(cfg, path, gov):
            if blob is not None:  # a deleted plan has nothing to validate
                sel.plans.append(path)
            continue
        if path in regular and any(match_any(g, path) for g in cfg.schema_globs):
            sel.mapped.append(path)
    if git is not None:
        sel.guarded = guarded_changes(cfg, staged, git, "HEAD")
    else:
        sel.guarded = [s for s in staged if is_guarded(cfg, s.path, gov)]
    # a mapped config replaced by a link would escape validation: refuse it (never follow)
    sel.links = [s.path for s in staged if s.mode == _SYMLINK_MODE and s.blob is not None
                 and any(match_any(g, s.path) for g in cfg.schema_globs)]
    return sel


class Reader:
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


def check_configs(repo: Path, cfg: LightConfig, paths: list[str], read: Reader,
                  errors: list[ChangeguardError], cache: Path | None = None) -> list[Finding]:
    """`config-schema`/replication findings for mapped files, judged on staged content;
    `cache`: the hook's verdict cache (issue 17; the gate passes none)."""
    if not paths:
        return []
    from changeguard.replication.mapping import FileMapping

    read.prefetch(paths)
    mappings = FileMapping.from_raw(cfg.schemas, _schema_root(read.git, cfg))

    def limited(path: str) -> bytes | None:  # staged blobs obey the size limit too (SPEC §10)
        data = read(path)
        if data is not None and len(data) > cfg.max_file_bytes:
            raise InputError(f"file is over the {cfg.max_file_bytes}-byte limit", file=path,
                             hint="split the file or raise max_file_bytes")
        return data

    # one staged member of a group (e.g. a Patroni scope) is judged with its siblings
    if cache is None:  # no store: skip keying (hashlib, json) and judge directly (issue 17)
        from changeguard.replication.engine import judge
        from changeguard.replication.load import load

        result = judge(load(repo, paths, mappings, limited, complete_groups=True))
    else:
        from changeguard.checkcache import check_files_cached

        result = check_files_cached(repo, paths, mappings, limited, store=cache,
                                    max_bytes=cfg.max_file_bytes, complete_groups=True,
                                    prefetch=read.prefetch)
    errors.extend(result.errors)
    return list(result.findings)


def _schema_root(git: Git, cfg: LightConfig) -> str | None:
    """Repo schemas of a trusted config are read from its revision (SPEC §12)."""
    local = [str(m["schema"]) for m in cfg.schemas
             if isinstance(m.get("schema"), str) and not str(m["schema"]).startswith("builtin:")]
    if cfg.rev is None or not local:
        return None
    from changeguard.config.trusted import governance_root

    return str(governance_root(git, cfg.rev, [], local))


def check_plans(repo: Path, git: Git, trusted: Trusted, paths: list[str], read: Reader,
                now: datetime) -> list[Finding]:
    """Every plan rule on each staged ChangePlan (its staged bytes), under the trusted
    config."""
    if not paths:
        return []
    from changeguard.config.trusted import full_config
    from changeguard.plan import EvalContext, evaluate_plan, parse_plan

    config = full_config(git, trusted)
    ctx = EvalContext(repo=repo, config=config, now=now)
    read.prefetch(paths)
    findings: list[Finding] = []
    for path in paths:
        raw = read(path)
        if raw is None:
            continue
        findings += evaluate_plan(parse_plan(raw, path, max_bytes=config.max_file_bytes), ctx)
    return findings


