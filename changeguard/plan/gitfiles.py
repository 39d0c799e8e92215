"""Reading proposed (work tree or --rev) and current (--base) file versions for validate."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from changeguard.errors import InputError
from changeguard.git import Git
from changeguard.plan.digest import blob_id

if TYPE_CHECKING:  # git runs through posix_spawn: `subprocess` costs validate's start-up
    import subprocess

Reader = Callable[[str], bytes | None]


def _git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    """The one git runner (`changeguard.git`): leaked GIT_* variables are cleaned one way."""
    return Git(repo).run(*args, check=check)


def worktree_reader(repo: Path) -> Reader:
    """Read files from the work tree; refuse symlinks that leave the repo."""
    root = repo.resolve()

    def read(path: str) -> bytes | None:
        p = repo / path
        if not p.exists() and not p.is_symlink():
            return None
        real = p.resolve()
        if real != root and root not in real.parents:
            raise InputError("symlink points outside the repository", file=path,
                             hint="changeguard never follows links out of the repo")
        if not real.is_file():
            raise InputError("not a regular file", file=path)
        from changeguard.loader import read_bytes

        return read_bytes(real, path)

    return read


class RevReader:
    """A `Reader` of files as of a git revision (None when absent there): each file read
    from git once; `prefetch` reads many in one `cat-file --batch` (`validate` reads every
    topology at the base: one process per file was 0.4 s of 0.6 s at 300 files). `tree`:
    the revision's path → blob id map when the caller has it (`Revisions`)."""

    def __init__(self, repo: Path, rev: str,
                 tree: Callable[[], dict[str, str]] | None = None) -> None:
        self.repo, self.rev, self._tree = repo, rev, tree
        self._cache: dict[str, bytes | None] = {}
        self._ids: dict[str, str] | None = None

    def ids(self) -> dict[str, str]:
        # one ls-tree up front: a plan listing 20 000 paths must not cost 20 000 processes
        if self._ids is None:
            self._ids = self._tree() if self._tree is not None else \
                _blob_ids_at(self.repo, self.rev) or {}
        return self._ids

    def __call__(self, path: str) -> bytes | None:
        if path not in self._cache:
            self.prefetch([path])
        return self._cache[path]

    def prefetch(self, paths: list[str]) -> None:
        """Read those of `paths` not read yet, in one git process."""
        ids = self.ids()
        want = [p for p in dict.fromkeys(paths) if p not in self._cache]
        held = [p for p in want if p in ids]
        got = Git(self.repo).objects([ids[p] for p in held]) if held else []
        self._cache.update(dict.fromkeys(want))
        for path, obj in zip(held, got, strict=True):
            if obj is not None and obj[1] == "blob":
                self._cache[path] = obj[2]


def _blob_ids_at(repo: Path, rev: str) -> dict[str, str] | None:
    """Path → blob id of every file in `rev`'s tree (None when `rev` does not exist)."""
    p = _git(repo, "ls-tree", "-r", "-z", "--full-tree", rev, check=False)
    if p.returncode != 0:
        return None
    out: dict[str, str] = {}
    for entry in p.stdout.split(b"\0"):
        meta, _, path = entry.partition(b"\t")
        if path and meta.split()[1] == b"blob":
            out[path.decode("utf-8", errors="surrogateescape")] = meta.split()[2].decode()
    return out


def has_revision(repo: Path, rev: str) -> bool:
    return _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}",
                check=False).returncode == 0


def tracked_files(repo: Path, rev: str) -> list[str]:
    """All file paths in `rev`'s tree (for topologies the plan does not change)."""
    return list(_blob_ids_at(repo, rev) or {})


class Revisions:
    """The revisions one command run reads (`--base`, `--rev`): whether each exists, its
    files and their content are asked of git once per run, not once per rule (issue 17)."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self._exists: dict[str, bool] = {}
        self._trees: dict[str, dict[str, str]] = {}
        self._readers: dict[str, RevReader] = {}

    def exists(self, rev: str) -> bool:
        """`has_revision`: `rev` names a commit."""
        self._tree(rev)
        return self._exists[rev]

    def files(self, rev: str) -> list[str]:
        """All file paths in `rev`'s tree (`tracked_files`)."""
        return list(self._tree(rev))

    def reader(self, rev: str) -> RevReader:
        """A `RevReader` of `rev`, one per run: each file is read from git once."""
        if rev not in self._readers:
            self._readers[rev] = RevReader(self.repo, rev, lambda: self._tree(rev))
        return self._readers[rev]

    def _tree(self, rev: str) -> dict[str, str]:
        if rev not in self._trees:
            # one process answers both questions: `rev^{commit}` lists only if `rev` names a
            # commit (what `has_revision` asks); otherwise no files, as for a missing rev
            tree = _blob_ids_at(self.repo, f"{rev}^{{commit}}")
            self._exists[rev] = tree is not None
            self._trees[rev] = tree or {}
        return self._trees[rev]


def blob_ids(paths: list[str], read: Reader) -> dict[str, str | None]:
    """Blob id of each path's content as `read` sees it (None when deleted)."""
    if isinstance(read, RevReader):  # the revision's tree names them: nothing to read
        ids = read.ids()
        return {path: ids.get(path) for path in paths}
    out: dict[str, str | None] = {}
    for path in paths:
        data = read(path)
        out[path] = None if data is None else blob_id(data)
    return out
