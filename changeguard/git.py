"""The one git runner (issue 13 §3): every git process changeguard starts is spawned here.

Stdlib only at the top level, so the pre-commit hook can use it before anything heavy is
imported. Every call runs at the top of the work tree with `clean_env(repo, purpose)`, the one
rule for `GIT_*` variables that leak into hooks and CI jobs (see its docstring). Reads use
`-z` so paths with spaces or non-ASCII bytes arrive verbatim.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from changeguard.errors import GitError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (hook start-up)
if TYPE_CHECKING:
    import subprocess
    from typing import IO, Literal

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
        if hasattr(os, "posix_spawn"):
            return _spawned(args, cwd, env, input)
        import subprocess

        return subprocess.run(["git", *args], cwd=cwd, env=dict(env), input=input,
                              capture_output=True, check=False)
    except FileNotFoundError as e:
        raise _not_installed() from e


def _not_installed() -> GitError:
    return GitError("git is not installed or not on PATH", hint="install git 2.30 or newer")


class _Completed:
    """What `subprocess.run` returns (the attributes callers read), without importing
    `subprocess`: its import (threading, selectors, signal) is a tenth of the hook's
    start-up (issue 17)."""

    __slots__ = ("args", "returncode", "stderr", "stdout")

    def __init__(self, args: list[str], returncode: int, stdout: bytes, stderr: bytes) -> None:
        self.args = args
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


_GIT: dict[str, str] = {}  # PATH -> the git executable found on it


def _git_path(env: Mapping[str, str]) -> str:
    """`git` on `env`'s PATH, as `subprocess` looks it up."""
    path = env.get("PATH", os.defpath)
    if path not in _GIT:
        for d in os.get_exec_path(dict(env)):
            full = os.path.join(d, "git")
            if os.path.isfile(full) and os.access(full, os.X_OK):
                _GIT[path] = full
                break
        else:
            raise _not_installed()
    return _GIT[path]


def _spawned(args: Sequence[str], cwd: Path, env: Mapping[str, str], input: bytes | None
             ) -> subprocess.CompletedProcess[bytes]:
    """`subprocess.run(..., capture_output=True)` by `os.posix_spawn` and pipes.

    `git -C cwd` stands for the working directory (posix_spawn has none); stdin is
    inherited unless `input` is given, as with `subprocess.run`. Every pipe is read to its
    end, so git never writes to a closed one (SIGPIPE stays as Python left it).
    """
    import select  # a C module: cheap

    argv = ["git", "-C", str(cwd), *args]
    exe = _git_path(env)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    in_r = in_w = -1
    actions = [(os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_DUP2, err_w, 2)]
    if input is not None:
        in_r, in_w = os.pipe()
        actions.insert(0, (os.POSIX_SPAWN_DUP2, in_r, 0))
    try:
        pid = os.posix_spawn(exe, argv, dict(env), file_actions=actions)
    finally:
        for fd in (out_w, err_w, in_r):
            if fd >= 0:
                os.close(fd)
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
    todo = memoryview(input) if input is not None else None
    poll = select.poll()
    poll.register(out_r, select.POLLIN)
    poll.register(err_r, select.POLLIN)
    if todo is not None:
        if todo:
            os.set_blocking(in_w, False)
            poll.register(in_w, select.POLLOUT)
        else:
            os.close(in_w)
    open_fds = len(chunks) + (1 if todo else 0)
    while open_fds:
        for fd, _ in poll.poll():
            if fd == in_w:
                assert todo is not None
                try:
                    todo = todo[os.write(in_w, todo[:65536]):]
                except BrokenPipeError:
                    todo = todo[:0]
                if not todo:  # all written (or git stopped reading): git sees EOF
                    poll.unregister(in_w)
                    os.close(in_w)
                    open_fds -= 1
                continue
            data = os.read(fd, 65536)
            if data:
                chunks[fd].append(data)
            else:
                poll.unregister(fd)
                os.close(fd)
                open_fds -= 1
    _, status = os.waitpid(pid, 0)
    done = _Completed(argv, os.waitstatus_to_exitcode(status), b"".join(chunks[out_r]),
                      b"".join(chunks[err_r]))
    return done  # type: ignore[return-value]  # duck-typed CompletedProcess (see _Completed)


def fetch_with_gitpython(repo: Path, env: Mapping[str, str], *args: str
                         ) -> subprocess.CompletedProcess[bytes]:
    """`git fetch ARGS` through GitPython's command layer, with the same cleaned `env`.

    Imported lazily (GitPython costs 200+ ms); failures come back as a non-zero exit code
    with git's stderr, like `spawn`.
    """
    import subprocess

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
                 purpose: Purpose = "plumbing", one_reader: bool = False) -> None:
        self.repo = repo
        self.env = clean_env(repo, purpose) if env is None else env
        # one_reader: every object read goes through one `git cat-file --batch` kept open
        # until `end_reads` (the hook: trusted config, staged blobs; issue 17)
        self._one_reader = one_reader
        self._reader: _Batch | None = None

    def objects(self, names: Sequence[str]) -> list[tuple[str, str, bytes] | None]:
        """(object id, type, content) of each name (`<id>`, `<rev>:<path>`, `:<path>`);
        None when missing or ambiguous."""
        if self._one_reader:
            return self.kept_objects(names)
        return self._read_once(names)

    def _read_once(self, names: Sequence[str]) -> list[tuple[str, str, bytes] | None]:
        if not names:
            return []
        payload = b"".join(n.encode("utf-8", "surrogateescape") + b"\n" for n in names)
        return _parse_objects(self.run("cat-file", "--batch", input=payload).stdout, len(names))

    def kept_objects(self, names: Sequence[str]) -> list[tuple[str, str, bytes] | None]:
        """`objects` through one `cat-file --batch` kept open until `end_reads` (many small
        reads, each answered at once)."""
        if not names:
            return []
        if not hasattr(os, "posix_spawn"):  # no kept reader here: one process per call
            return self._read_once(names)
        if self._reader is None:
            self._reader = _Batch(self.repo, self.env)
        return self._reader.read(names)

    def end_reads(self) -> None:
        """Stop the kept `cat-file` (it exits at end of input) and wait for it."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None

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
        return {n: None if o is None else o[2]
                for n, o in zip(names, self.objects(names), strict=True)}

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


def tree_entries(data: bytes, rawlen: int) -> Iterator[tuple[str, str, str]]:
    """(mode, name, object id) of each entry of a raw tree object (`rawlen`: id bytes)."""
    pos, n = 0, len(data)
    while pos < n:
        sp = data.index(b" ", pos)
        nul = data.index(b"\0", sp)
        yield (data[pos:sp].decode(), data[sp + 1:nul].decode("utf-8", errors="surrogateescape"),
               data[nul + 1:nul + 1 + rawlen].hex())
        pos = nul + 1 + rawlen


def _parse_objects(out: bytes, count: int) -> list[tuple[str, str, bytes] | None]:
    """Split `cat-file --batch` output into (id, type, content); None: missing/ambiguous."""
    result: list[tuple[str, str, bytes] | None] = []
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
        result.append((header[0].decode("ascii"), header[1].decode("ascii"), body))
    return result


def _parse_batch(out: bytes, count: int) -> list[bytes | None]:
    """Contents only (None: missing or ambiguous)."""
    return [None if o is None else o[2] for o in _parse_objects(out, count)]


class _Batch:
    """One `git cat-file --batch` kept open: requests in, objects out (git flushes each)."""

    _CHUNK = 32768  # bytes of names per round: below a pipe's buffer, so neither side blocks

    def __init__(self, repo: Path, env: Mapping[str, str]) -> None:
        exe = _git_path(env)
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            self.pid = os.posix_spawn(
                exe, ["git", "-C", str(repo), "cat-file", "--batch"], dict(env),
                file_actions=[(os.POSIX_SPAWN_DUP2, in_r, 0), (os.POSIX_SPAWN_DUP2, out_w, 1),
                              (os.POSIX_SPAWN_DUP2, null, 2)])
        finally:
            for fd in (in_r, out_w, null):
                os.close(fd)
        self.stdin = os.fdopen(in_w, "wb")
        self.stdout = os.fdopen(out_r, "rb")

    def read(self, names: Sequence[str]) -> list[tuple[str, str, bytes] | None]:
        out: list[tuple[str, str, bytes] | None] = []
        start = 0
        while start < len(names):
            end, size = start, 0
            while end < len(names) and (end == start or size < self._CHUNK):
                size += len(names[end]) + 1
                end += 1
            try:
                self.stdin.write(b"".join(n.encode("utf-8", "surrogateescape") + b"\n"
                                          for n in names[start:end]))
                self.stdin.flush()
            except BrokenPipeError:
                raise self._died() from None
            out += [self._one() for _ in range(end - start)]
            start = end
        return out

    def _one(self) -> tuple[str, str, bytes] | None:
        header = self.stdout.readline().split()
        if not header:
            raise self._died()
        if len(header) < 3 or header[-1] in (b"missing", b"ambiguous"):
            return None
        size = int(header[2])
        body = self.stdout.read(size + 1)  # content is followed by a newline
        if len(body) != size + 1:
            raise self._died()
        return header[0].decode("ascii"), header[1].decode("ascii"), body[:size]

    def _died(self) -> GitError:
        return GitError("git cat-file stopped answering",
                        hint="is this a git repository with a readable index?")

    def close(self) -> None:
        import contextlib

        for f in (self.stdin, self.stdout):
            with contextlib.suppress(OSError):  # git already gone: its pipe is broken
                f.close()
        os.waitpid(self.pid, 0)


def start_with_files(args: Sequence[str], cwd: Path, env: Mapping[str, str], stdin: IO[bytes],
                     stdout: IO[bytes], stderr: IO[bytes]) -> subprocess.Popen[bytes]:
    """`git ARGS` started in the background on files, not pipes (`log verify`'s diff-tree:
    a worker forked meanwhile then holds no pipe end that would keep git waiting)."""
    import subprocess  # not at the top: the hook's path spawns through posix_spawn

    try:
        return subprocess.Popen(["git", *args], cwd=cwd, env=dict(env), stdin=stdin,
                                stdout=stdout, stderr=stderr)
    except FileNotFoundError as e:
        raise _not_installed() from e
