"""The trusted revision (SPEC §12): where writers and judges read the config from.

Every command that writes to the log or judges coverage reads `.changeguard.yaml`, the
roster, the policy packs and the repo schemas it names from one commit of the trusted
branch, never from the working tree or the index: a pull request, an uncommitted edit or a
staged one cannot bring its own roster, policies or freezes. Read-only commands keep the
working tree so users can try edits.

Stdlib + PyYAML at the top level (the hook resolves the trusted config on every run);
pydantic only in `full_config`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from changeguard.config import defaults as d
from changeguard.errors import ConfigError, InputError
from changeguard.git import Git, git_dir_of

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (hook start-up)

if TYPE_CHECKING:
    from changeguard.config.light import LightConfig
    from changeguard.loader import JSONValue, Loaded
    from changeguard.model import GuardConfig

ENV_REV = "CHANGEGUARD_TRUSTED_REV"
DEFAULT_REMOTE = "origin"
# How far `trust.branch` may redirect: main's config may name another branch, whose config
# must then name itself.
_HOPS = 2
_HEADS = "ref: refs/heads/"


@dataclass(frozen=True)
class Trusted:
    """One resolved trusted revision and the config document committed there."""

    sha: str | None  # None: a writer in a repo without commits (nothing is trusted yet)
    name: str  # how it was found: a ref name, `HEAD`, or the --trusted-rev given
    config_rel: str  # the config's path inside the revision
    raw: bytes | None = field(default=None, repr=False)  # None: no config there

    @property
    def display(self) -> str:
        """How errors name the trusted config file: `<rev>:<path>` like git does."""
        return f"{self.name}:{self.config_rel}"


def config_rel(repo: Path, path: Path | None) -> str:
    """`--config PATH` as a path inside the trusted revision (SPEC §12)."""
    if path is None:
        return d.CONFIG_NAME
    p = path if path.is_absolute() else Path.cwd() / path
    try:
        rel = p.resolve().relative_to(repo.resolve()).as_posix()
    except ValueError:
        raise ConfigError(f"--config {path}: writers and judges read the config from the "
                          "trusted revision, so it must be a path inside the repository",
                          hint="commit the config to the trusted branch, or drop --config"
                          ) from None
    return rel


def find_trusted(git: Git, rel: str, *, judge: bool, explicit: str | None = None,
                 required: bool = False) -> Trusted:
    """The trusted revision and its config; exit 2 when a judge has none.

    `required` (an explicit `--config`): the revision must hold that file.
    """
    t = _find(git, rel, judge, explicit or os.environ.get(ENV_REV) or None)
    if required and t.raw is None:
        raise ConfigError(f"config file {rel} does not exist at the trusted revision {t.name}",
                          hint="commit it to the trusted branch, or fix --config")
    return t


def _find(git: Git, rel: str, judge: bool, explicit: str | None) -> Trusted:
    if explicit is not None:
        sha, raw = _lookup(git, [explicit], rel)[0]
        if sha is None:
            raise InputError(f"--trusted-rev {explicit!r} is not a commit here",
                             hint="fetch it first, e.g. `git fetch origin main`")
        return Trusted(sha, explicit, rel, raw)
    branch, remote = d.DEFAULT_TRUST_BRANCH, DEFAULT_REMOTE
    for _ in range(_HOPS):
        t = _resolve(git, branch, remote, rel, judge)
        want = _trust_keys(t)
        if want == (branch, remote):
            return t
        branch, remote = want
    raise ConfigError(f"trust.branch {branch!r}: its config names another trusted branch",
                      hint="the trusted branch's own config must name that branch")


def _resolve(git: Git, branch: str, remote: str, rel: str, judge: bool) -> Trusted:
    names = [f"refs/remotes/{remote}/{branch}", f"refs/heads/{branch}"]
    if not judge:
        names.append("HEAD")  # a repo's first commits, before the branch exists
    for name, (sha, raw) in zip(names, _lookup(git, names, rel), strict=True):
        if sha is not None:
            return Trusted(sha, name, rel, raw)
    if judge:
        raise InputError(f"no trusted revision: neither {names[0]} nor {names[1]} exists",
                         hint=f"fetch the trusted branch (`git fetch {remote} {branch}`) or "
                              "name it with --trusted-rev REV")
    return Trusted(None, "HEAD", rel)


def _lookup(git: Git, names: list[str], rel: str) -> list[tuple[str | None, bytes | None]]:
    """(commit id, config bytes) of each candidate, in one `cat-file --batch` (the hook's
    budget allows one git process besides `diff --cached`; with `Git(one_reader=True)` it is
    the same process that later reads the staged blobs)."""
    specs = [x for n in names for x in (f"{n}^{{commit}}", f"{n}^{{commit}}:{rel}")]
    objs = git.objects(specs)
    rows: list[tuple[str | None, bytes | None]] = []
    for commit, blob in zip(objs[0::2], objs[1::2], strict=True):
        sha = commit[0] if commit is not None and commit[1] == "commit" else None
        raw = blob[2] if blob is not None and blob[1] == "blob" else None
        rows.append((sha, raw if sha is not None else None))
    return rows


def _trust_keys(t: Trusted) -> tuple[str, str]:
    cfg = light_config(t)
    return cfg.trust_branch, cfg.log_remote or DEFAULT_REMOTE


def light_config(t: Trusted) -> LightConfig:
    """The hook's view of the trusted config (defaults when the revision has none)."""
    from changeguard.config.light import LightConfig, remembered_view

    if t.raw is None:
        return LightConfig(file=t.config_rel, rev=t.sha)
    # a pure function of the bytes: remembered (issue 17; see config.light), so the hook
    # parses nothing when this config was seen before
    cfg = remembered_view(t.raw, t.config_rel, lambda: _light_document(t)[0])
    return replace(cfg, file=t.config_rel, rev=t.sha)


@lru_cache(maxsize=4)
def _light_document(t: Trusted) -> tuple[LightConfig, dict[str, JSONValue]]:
    """The light view of `t`'s config and the document it checked, read once a process:
    `find_trusted` (for `trust:`) and `reader_config` both ask (issue 17)."""
    from changeguard.config.light import LightConfig, parse_light_config

    if t.raw is None:
        return LightConfig(file=t.config_rel, rev=t.sha), {}
    with located(t.name):
        loaded = _document(t)
        cfg = parse_light_config(loaded)
    assert isinstance(loaded.data, dict)  # the light view refuses anything else
    return replace(cfg, file=t.config_rel, rev=t.sha), loaded.data


def _document(t: Trusted) -> Loaded:
    from changeguard.loader import parse_document

    assert t.raw is not None  # callers handle a revision without a config
    return parse_document(t.raw, t.config_rel)


@contextmanager
def located(rev: str, advice: str = "") -> Iterator[None]:
    """A bad committed config names its file and line, and says at which revision it is."""
    try:
        yield
    except InputError as e:
        where = f"it is the config committed at {rev}{advice}"
        raise ConfigError(e.message, file=e.file, line=e.line,
                          hint=f"{e.hint}; {where}" if e.hint else where) from e


def full_config(git: Git, t: Trusted) -> GuardConfig:
    """The full trusted config; its packs and schemas resolve inside the revision."""
    from changeguard.config.load import default_config, parse_config

    if t.raw is None:
        return default_config()
    with located(t.name):
        config = parse_config(_document(t))
    config._file = t.config_rel
    if t.sha is not None:
        set_root(config, governance_root(git, t.sha, *governance_refs(config)))
    return config


def reader_config(git: Git, t: Trusted) -> GuardConfig:
    """The trusted config for `list` and `show`: GuardConfig's values without pydantic.

    A `config.reader.ReaderConfig` standing for GuardConfig (it builds the full model from
    the same revision when asked for more than readers use). A document the light view
    refuses goes to `full_config`, whose error is the one every command prints.
    """
    from typing import cast

    from changeguard.config.reader import ReaderConfig, reader_values

    try:
        cfg, doc = _light_document(t)
    except ConfigError:
        # GuardConfig's own error (or, should the two views ever disagree, its verdict)
        return full_config(git, t)
    config = cast("GuardConfig", ReaderConfig(reader_values(cfg, doc),
                                              lambda: full_config(git, t)))
    if t.raw is not None:  # as full_config: a revision without a config is all defaults
        config._file = t.config_rel
        if t.sha is not None:
            set_root(config, governance_root(git, t.sha, *governance_refs(config)))
    return config


def governance_refs(config: GuardConfig) -> tuple[list[str], list[str]]:
    """Repo-relative files the config names: (local policy packs, local JSON Schemas)."""
    packs = [p for p in config.policies if not p.startswith("builtin:")]
    schemas = [m.schema_ for m in config.schemas
               if m.schema_ is not None and not m.schema_.startswith("builtin:")]
    return packs, schemas


def set_root(config: GuardConfig, root: Path) -> None:
    """Make the config's repo-relative packs and schemas resolve under `root`."""
    config._root = root


def governance_root(git: Git, sha: str, packs: list[str], schemas: list[str]) -> Path:
    """A private copy of the governance files of `sha` (packs, schema folders), cached.

    Packs and schemas are loaded by path (schemas resolve `$ref`s beside themselves), so the
    files of the trusted revision are written once under `.git/changeguard/trusted/`.
    """
    import hashlib

    gd = git_dir_of(git.repo)
    if gd is None:
        raise ConfigError("cannot find the git directory to hold the trusted config")
    key = hashlib.sha256("\0".join([*packs, "", *schemas]).encode()).hexdigest()[:16]
    target = gd / "changeguard" / "trusted" / f"{sha}-{key}"
    if target.is_dir():
        return target
    import shutil  # only when the copy is made: readers find it cached (issue 17)

    rows = _files(git, sha, packs, schemas)
    tmp = target.with_name(f".tmp-{os.getpid()}-{target.name}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
    except OSError:  # a read-only .git: a private temporary copy for this process
        tmp = target = _scratch()
    blobs = git.cat_blobs(sorted({oid for oid, _ in rows}))
    for oid, path in rows:
        data = blobs.get(oid)
        if data is None or ".." in path.split("/"):
            continue
        out = tmp / path
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    if tmp == target:
        return target
    try:
        tmp.rename(target)
    except OSError:  # another process won the race: its copy is the same
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _scratch() -> Path:
    import atexit
    import shutil
    import tempfile

    d = Path(tempfile.mkdtemp(prefix="changeguard-trusted-"))
    atexit.register(shutil.rmtree, d, True)
    return d


def _files(git: Git, sha: str, packs: list[str], schemas: list[str]) -> list[tuple[str, str]]:
    """Blob rows of the packs, and of each schema's folder (its `$ref`s live there)."""
    folders = sorted({s.rsplit("/", 1)[0] for s in schemas if "/" in s})
    rows: list[tuple[str, str]] = []
    if packs or folders:  # no paths would list the whole tree
        rows += git.ls_tree(sha, [*packs, *folders], recursive=True) or []
    if any("/" not in s for s in schemas):  # a top-level schema: the top-level files
        rows += [r for r in git.ls_tree(sha, ["."]) or [] if "/" not in r[1]]
    return rows


def head_branch(git: Git) -> str | None:
    """The branch HEAD names, or None (detached, unreadable).

    Read from the HEAD file, not by a git process: the hook's start-up budget (issue 17).
    A reftable repository keeps a stub HEAD (`refs/heads/.invalid`); only then is git asked.
    """
    gd = Path(git.env["GIT_DIR"]) if "GIT_DIR" in git.env else git_dir_of(git.repo)
    try:
        text = (gd / "HEAD").read_text(encoding="utf-8").strip() if gd is not None else ""
    except (OSError, UnicodeDecodeError):
        return None
    if text == _HEADS + ".invalid":
        p = git.run("symbolic-ref", "-q", "HEAD", check=False)
        text = "ref: " + p.stdout.decode("utf-8", "replace").strip() if p.returncode == 0 \
            else ""
    name = text[len(_HEADS):] if text.startswith(_HEADS) else ""
    return name or None


def untrusted_branch(git: Git, trusted: Trusted, cfg: LightConfig) -> str | None:
    """HEAD's branch when it is not the trusted branch (SPEC §13 branch workflow), else None.

    Strict (None) on the trusted branch, on a detached HEAD, and where the trusted revision
    is HEAD itself (a repo whose trusted branch does not exist yet). Names compare
    case-insensitively: on a case-insensitive file system `Main` is the ref file of `main`.
    """
    if trusted.sha is None or trusted.name == "HEAD":
        return None
    branch = head_branch(git)
    if branch is None or branch.casefold() == cfg.trust_branch.casefold():
        return None
    return branch


def working_tree_differs(repo: Path, t: Trusted) -> bool:
    """True when the working tree's config is not the trusted one (writers note it)."""
    p = repo / t.config_rel
    try:
        here: bytes | None = p.read_bytes()
    except OSError:
        here = None
    return here != t.raw


__all__ = ["ENV_REV", "Trusted", "config_rel", "find_trusted", "full_config",
           "governance_refs", "governance_root", "head_branch", "light_config", "located",
           "reader_config", "set_root", "untrusted_branch", "working_tree_differs"]
