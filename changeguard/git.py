"""The one git runner (issue 13 §3): every git process changeguard starts is spawned here.

Stdlib only at the top level, so the pre-commit hook can use it before anything heavy is
imported. Every call runs at the top of the work tree with `clean_env(repo, purpose)`, the one
rule for `GIT_*` variables that leak into hooks and CI jobs (see its docstring). Reads use
`-z` so paths with spaces or non-ASCII bytes arrive verbatim.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from changeguard.errors import GitError

Purpose = Literal["staged", "plumbing"]

# Variables that configure git (config, identity, transport, tracing) without pointing it at
# another repository, index, object store or work tree: always kept.
_KEEP = frozenset({
    "GIT_EXEC_PATH", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT", "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_SYSTEM", "GIT_CONFIG_NOSYSTEM", "GIT_CEILING_DIRECTORIES",
    "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_AUTHOR_DATE", "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL", "GIT_COMMITTER_DATE", "GIT_SSH", "GIT_SSH_COMMAND",
    "GIT_SSH_VARIANT", "GIT_SSL_CAINFO", "GIT_SSL_NO_VERIFY", "GIT_ASKPASS",
    "GIT_ALLOW_PROTOCOL", "GIT_HTTP_PROXY_AUTHMETHOD",
})
_KEEP_PREFIXES = ("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_", "GIT_TRACE")
NULL_IDS = frozenset({"0" * 40, "0" * 64})


@dataclass(frozen=True, slots=True)
class Staged:
    """One staged path: its new blob id (None when deleted) and git's status letter."""

    path: str
    blob: str | None
    status: str
    mode: str


def git_dir_of(repo: Path) -> Path | None:
    """The (per-worktree) git dir of `repo` without running git: `.git` or its `gitdir:`."""
    dot = repo / ".git"
    if dot.is_dir():
        return dot.resolve()
    if dot.is_file():
        try:
            text = dot.read_text(encoding="utf-8", errors="surrogateescape").strip()
        except OSError:
            return None
        if text.startswith("gitdir:"):
            target = Path(text[len("gitdir:"):].strip())
            return (repo / target).resolve() if not target.is_absolute() else target.resolve()
    return None


def _absolute(value: str, cwd: Path) -> Path:
    p = Path(value)
    return (p if p.is_absolute() else cwd / p).resolve()


def _inside(path: Path, parent: Path) -> bool:
    return path == parent or parent in path.parents


def clean_env(repo: Path, purpose: Purpose = "plumbing",
              environ: Mapping[str, str] | None = None,
              cwd: Path | None = None) -> dict[str, str]:
    """`environ` with leaked `GIT_*` removed: the one rule for every git process we start.

    - Kept: variables that only configure git (`_KEEP`: config, identity, transport, trace).
    - `GIT_DIR`/`GIT_WORK_TREE`: kept only when they name `repo` itself (git exports them to
      hooks in linked worktrees); another repository's leaked ones are dropped.
    - `GIT_INDEX_FILE`: kept only for purpose "staged" (the hook judges the index being
      committed, e.g. `.git/index.lock` under `git commit -a`) and only when it is `repo`'s;
      "plumbing" (log, revisions, identity, fetch) never sees an index (issue 5 §1).
    - Every other `GIT_*` (object dirs, namespaces, prefixes, quarantine) is dropped.
    - `GIT_TERMINAL_PROMPT=0` (nobody can answer a prompt in a hook or CI) and `LC_ALL=C`
      unless set (error texts are matched in English).
    """
    src = os.environ if environ is None else environ
    here = cwd or Path.cwd()
    env = {k: v for k, v in src.items()
           if not k.startswith("GIT_") or k in _KEEP or k.startswith(_KEEP_PREFIXES)}
    top = repo.resolve()
    own = git_dir_of(top)
    keep_dir = False
    if src.get("GIT_DIR"):
        gd = _absolute(src["GIT_DIR"], here)
        wt = _absolute(src["GIT_WORK_TREE"], here) if src.get("GIT_WORK_TREE") else None
        keep_dir = gd == own or (own is None and wt == top)
        if keep_dir:
            env["GIT_DIR"] = str(gd)
            if wt is not None:
                env["GIT_WORK_TREE"] = str(wt)
    if purpose == "staged" and src.get("GIT_INDEX_FILE"):
        # git passes a relative `.git/index` to hooks (cwd = top); make it absolute so it
        # survives our `cwd=repo`, and drop it when it belongs to another repository.
        index = _absolute(src["GIT_INDEX_FILE"], here)
        # git keeps index, index.lock and next-index-*.lock in the per-worktree git dir;
        # a linked worktree's index (under <own>/worktrees/) is not ours
        ours = own is not None and _inside(index, own) and own / "worktrees" not in index.parents
        if keep_dir or ours:
            env["GIT_INDEX_FILE"] = str(index)
    env["GIT_TERMINAL_PROMPT"] = "0"
    env.setdefault("LC_ALL", "C")
    return env


def spawn(args: Sequence[str], cwd: Path, env: Mapping[str, str], input: bytes | None = None
          ) -> subprocess.CompletedProcess[bytes]:
    """Run `git ARGS` and capture its output (never raises for a non-zero exit)."""
    try:
        return subprocess.run(["git", *args], cwd=cwd, env=dict(env), input=input,
                              capture_output=True, check=False)
    except FileNotFoundError as e:
        raise GitError("git is not installed or not on PATH",
                       hint="install git 2.30 or newer") from e


def start_batch(cwd: Path, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """A long-lived `git cat-file --batch` (the change log's hot read path)."""
    try:
        return subprocess.Popen(["git", "cat-file", "--batch"], cwd=cwd, env=dict(env),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    except FileNotFoundError as e:
        raise GitError("git is not installed or not on PATH",
                       hint="install git 2.30 or newer") from e


def fetch_with_gitpython(repo: Path, env: Mapping[str, str], *args: str
                         ) -> subprocess.CompletedProcess[bytes]:
    """`git fetch ARGS` through GitPython's command layer, with the same cleaned `env`.

    Imported lazily (GitPython costs 200+ ms); failures come back as a non-zero exit code
    with git's stderr, like `spawn`.
    """
    from git import Repo
    from git.exc import GitCommandError, InvalidGitRepositoryError, NoSuchPathError

    argv = ["fetch", *args]
    try:
        with Repo(repo) as r:
            r.git.fetch(*args, env=dict(env))
    except GitCommandError as e:
        err = str(e.stderr or e).strip()
        code = e.status if isinstance(e.status, int) else 1
        return subprocess.CompletedProcess(argv, code or 1, b"", err.encode())
    except (InvalidGitRepositoryError, NoSuchPathError) as e:
        return subprocess.CompletedProcess(argv, 128, b"", f"git fetch failed: {e}".encode())
    return subprocess.CompletedProcess(argv, 0, b"", b"")


class Git:
    """Runs git plumbing in one repository with a cleaned environment."""

    def __init__(self, repo: Path, env: dict[str, str] | None = None,
                 purpose: Purpose = "plumbing") -> None:
        self.repo = repo
        self.env = clean_env(repo, purpose) if env is None else env

    def run(self, *args: str, input: bytes | None = None, check: bool = True,
            env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
        """Run `git ARGS` at the top of the work tree; GitError when it fails and `check`."""
        p = spawn(args, self.repo, self.env if env is None else env, input)
        if check and p.returncode != 0:
            msg = p.stderr.decode("utf-8", "replace").strip().splitlines()
            raise GitError(f"git {args[0]} failed: {msg[-1] if msg else p.returncode}",
                           hint="is this a git repository with a readable index?")
        return p

    def staged(self, against: str | None = None) -> list[Staged]:
        """Index vs HEAD (or `against`); renames appear as delete + add so both paths count."""
        base = ["diff", "--cached", "--raw", "-z", "--no-renames", "--no-abbrev",
                "--no-ext-diff", "--no-textconv", "--no-color", "--ignore-submodules=none"]
        if against is not None:
            base.append(against)
        return parse_raw_diff(self.run(*base).stdout)

    def merge_heads(self) -> list[str]:
        """Commit ids in MERGE_HEAD while a merge is being concluded (else empty)."""
        gd = Path(self.env["GIT_DIR"]) if "GIT_DIR" in self.env else git_dir_of(self.repo)
        if gd is None:
            return []
        try:
            text = (gd / "MERGE_HEAD").read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError):
            return []
        return [line.strip() for line in text.splitlines() if line.strip()]

    def cat_blobs(self, names: Sequence[str]) -> dict[str, bytes | None]:
        """Contents of objects named like `<id>` or `<rev>:<path>`; None when missing."""
        if not names:
            return {}
        payload = b"".join(n.encode("utf-8", "surrogateescape") + b"\n" for n in names)
        out = self.run("cat-file", "--batch", input=payload).stdout
        return dict(zip(names, _parse_batch(out, len(names)), strict=True))

    def ls_tree(self, rev: str, paths: Iterable[str], recursive: bool = False
                ) -> list[tuple[str, str]] | None:
        """`(object id, path)` rows under `paths` of `rev`; None when `rev` does not exist."""
        flags = ["-r"] if recursive else []
        p = self.run("ls-tree", "-z", *flags, "--full-tree", rev, "--", *paths, check=False)
        if p.returncode != 0:
            if self.run("rev-parse", "-q", "--verify", f"{rev}^{{tree}}",
                        check=False).returncode != 0:
                return None
            raise GitError(f"cannot read {rev}: "
                           + p.stderr.decode("utf-8", "replace").strip())
        rows: list[tuple[str, str]] = []
        for entry in p.stdout.split(b"\0"):
            if not entry:
                continue
            meta, _, path = entry.partition(b"\t")
            rows.append((meta.split()[2].decode("ascii"),
                         path.decode("utf-8", "surrogateescape")))
        return rows


def parse_raw_diff(out: bytes) -> list[Staged]:
    """Parse `git diff --raw -z --no-renames` output."""
    parts = out.split(b"\0")
    staged: list[Staged] = []
    i = 0
    while i + 1 < len(parts):
        meta = parts[i].decode("ascii")
        if not meta.startswith(":"):
            i += 1
            continue
        fields = meta[1:].split()
        path = parts[i + 1].decode("utf-8", "surrogateescape")
        new = fields[3]
        staged.append(Staged(path, None if new in NULL_IDS else new, fields[4][:1], fields[1]))
        i += 2
    return staged


def _parse_batch(out: bytes, count: int) -> list[bytes | None]:
    """Split `cat-file --batch` output into contents (None: missing or ambiguous)."""
    result: list[bytes | None] = []
    pos = 0
    for _ in range(count):
        nl = out.index(b"\n", pos)
        header = out[pos:nl].split()
        pos = nl + 1
        if len(header) < 3 or header[-1] in (b"missing", b"ambiguous"):
            result.append(None)
            continue
        size = int(header[2])
        body = out[pos:pos + size]
        pos += size + 1  # content is followed by a newline
        result.append(body)
    return result


def start_with_files(args: Sequence[str], cwd: Path, env: Mapping[str, str], stdin: IO[bytes],
                     stdout: IO[bytes], stderr: IO[bytes]) -> subprocess.Popen[bytes]:
    """`git ARGS` started in the background on files, not pipes (`log verify`'s diff-tree:
    a worker forked meanwhile then holds no pipe end that would keep git waiting)."""
    try:
        return subprocess.Popen(["git", *args], cwd=cwd, env=dict(env), stdin=stdin,
                                stdout=stdout, stderr=stderr)
    except FileNotFoundError as e:
        raise GitError("git is not installed or not on PATH",
                       hint="install git 2.30 or newer") from e
