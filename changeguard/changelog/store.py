"""Git plumbing for the change log: object reads/writes and compare-and-swap ref updates.

GitPython is the project's git library, but every call here is a hot path of `approve`/`list`,
and plumbing measured faster on each (2-core VM): `import git` alone 210-250 ms (a whole
`approve` at 10 changes is ~250 ms CPU); reading one state.json 4.2 ms via GitPython's
object DB vs 0.27 ms via a long-lived cat-file; update-ref 5.4 vs 4.7 ms. So this one module
talks to `git` plumbing directly (through `changeguard.git`, the one runner): one long-lived
`git cat-file --batch` for reads, one object write per event, `commit-tree` and
`update-ref NEW OLD` to move the ref. Objects are always written before the ref moves, so a
writer killed at any point leaves the log as it was or with its event complete (issue 5 §1).
The user's index, work tree and HEAD are never touched.

Object writes are batched (issue 17): an event's blobs and trees are hashed here (`stage`,
git's sha1 object format, as `plan.digest.blob_id`) and written together by `flush` as one
pack through one git process: `unpack-objects` for the usual handful (loose objects, like a
small push), `index-pack --stdin` for a big batch such as a submit of 5 000 paths (one
`hash-object`/`mktree` per object there cost ~12 CPU s). `TreeEdit.write` flushes, so a tree
it returns exists.
"""

from __future__ import annotations

import hashlib
import struct
import subprocess
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from changeguard import git as gitrun
from changeguard.errors import GitError

TREE_MODE = "040000"
BLOB_MODE = "100644"
_PACK_TYPE = {"commit": 1, "tree": 2, "blob": 3}
# like git's transfer.unpackLimit: below it a batch becomes loose objects (a pack per small
# event would pile up packs no `gc --auto` is run for); from it on, one pack
UNPACK_LIMIT = 100


class Entry(NamedTuple):
    """One tree entry (a NamedTuple: 10k of them are built per big-tree read)."""

    mode: str
    name: str
    sha: str

    @property
    def is_tree(self) -> bool:
        """True for a subtree entry."""
        return self.mode.lstrip("0") == "40000"


class Git(gitrun.Git):
    """Plumbing runner for one repository; its environment never carries an index."""

    def __init__(self, repo: Path, env: dict[str, str] | None = None) -> None:
        super().__init__(repo, env)
        self._pending: dict[str, tuple[str, bytes]] = {}  # id -> (type, content), unwritten

    def run(self, *args: str, input: bytes | None = None, check: bool = True,
            env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
        """Run `git ARGS`; GitError on failure when `check`."""
        p = super().run(*args, input=input, check=False, env=env)
        if check and p.returncode != 0:
            msg = p.stderr.decode(errors="replace").strip()
            raise GitError(f"git {args[0]} failed: {msg}")
        return p

    def out(self, *args: str, input: bytes | None = None) -> str:
        """stdout of `git ARGS`, stripped."""
        return self.run(*args, input=input).stdout.decode().strip()

    # ------------------------------------------------------------------ reads
    def read(self, spec: str) -> tuple[str, str, bytes] | None:
        """(sha, type, content) of an object name such as `SHA` or `TIP:path`; None if missing."""
        if spec in self._pending:  # staged, not flushed yet
            kind, data = self._pending[spec]
            return spec, kind, data
        return self.kept_objects([spec])[0]

    def read_many(self, specs: Sequence[str]) -> list[tuple[str, str, bytes] | None]:
        """Bulk read with one short-lived cat-file (no per-object round trip)."""
        return self._read_once(specs)

    def missing(self, shas: Sequence[str]) -> set[str]:
        """Those of `shas` the object store lacks (one `cat-file --batch-check`)."""
        if not shas:
            return set()
        p = self.run("cat-file", "--batch-check=%(objectname)",
                     input="".join(s + "\n" for s in shas).encode())
        return {line.split()[0] for line in p.stdout.decode().splitlines()
                if line.endswith(" missing")}

    def read_blob(self, spec: str) -> bytes | None:
        """Content of a blob (None if missing or not a blob)."""
        got = self.read(spec)
        return got[2] if got is not None and got[1] == "blob" else None

    def read_tree(self, sha: str) -> dict[str, Entry]:
        """Entries of a tree object."""
        got = self.read(sha)
        if got is None or got[1] != "tree":
            raise GitError(f"change log object {sha} is not a tree")
        return parse_tree(got[2], len(sha) // 2)

    # ------------------------------------------------------------------ writes
    def write_blob(self, data: bytes) -> str:
        """Store a blob; its id."""
        return self.out("hash-object", "-w", "--stdin", input=data)

    def write_tree(self, entries: Iterable[Entry]) -> str:
        """Store a tree from entries (in git's order, whatever theirs); its id."""
        sha = self.stage_tree(entries)
        self.flush()
        return sha

    def stage(self, kind: str, data: bytes) -> str:
        """The id of object `data` of type `kind`; written by the next `flush`."""
        sha = object_id(kind, data)
        self._pending.setdefault(sha, (kind, data))
        return sha

    def stage_blob(self, data: bytes) -> str:
        """Blob id of `data`, written by the next `flush`."""
        return self.stage("blob", data)

    def stage_tree(self, entries: Iterable[Entry]) -> str:
        # entries come from trees we read or objects staged here: like `mktree --missing`,
        # no per-entry existence check (`log verify` checks the proposed files are present)
        """Tree id of `entries`, written by the next `flush`."""
        return self.stage("tree", tree_bytes(entries))

    def flush(self) -> None:
        """Write every staged object with one git process (a pack; see the module doc)."""
        if not self._pending:
            return
        objects = list(self._pending.values())
        args = ("unpack-objects", "-q") if len(objects) < UNPACK_LIMIT \
            else ("index-pack", "--stdin")
        self.run(*args, input=pack(objects))
        self._pending.clear()

    def close(self) -> None:
        """Stop the long-lived cat-file process."""
        self.end_reads()


def object_id(kind: str, data: bytes) -> str:
    """git's id (sha1 object format) of an object of type `kind` with content `data`."""
    h = hashlib.sha1(b"%s %d\x00" % (kind.encode(), len(data)), usedforsecurity=False)
    h.update(data)  # an object name, as git computes it
    return h.hexdigest()


def _name(e: Entry) -> bytes:
    return e.name.encode("utf-8", "surrogateescape")


def tree_bytes(entries: Iterable[Entry]) -> bytes:
    """A tree object's content: git orders entries by name, a subtree's name as if it ended
    in `/`; modes without leading zeros (what `mktree` writes)."""
    rows = sorted(entries, key=lambda e: _name(e) + (b"/" if e.is_tree else b""))
    return b"".join(e.mode.lstrip("0").encode() + b" " + _name(e) + b"\x00"
                    + bytes.fromhex(e.sha) for e in rows)


def pack(objects: Sequence[tuple[str, bytes]]) -> bytes:
    """A version-2 pack of whole (undeltified) objects, as `git unpack-objects` reads it."""
    out = [b"PACK", struct.pack(">II", 2, len(objects))]
    for kind, data in objects:
        n = len(data)
        byte, n = (_PACK_TYPE[kind] << 4) | (n & 0x0F), n >> 4
        head = bytearray()
        while n:
            head.append(byte | 0x80)
            byte, n = n & 0x7F, n >> 7
        head.append(byte)
        out += [bytes(head), _deflate(data)]
    body = b"".join(out)
    return body + hashlib.sha1(body, usedforsecurity=False).digest()  # the pack's checksum


def _deflate(data: bytes) -> bytes:
    # level 1: speed over size. A small object gets a window no larger than itself (as good
    # a compression): zlib's set-up for the default 32 KiB window was ~60 µs an object,
    # most of a 15 000-object submit's packing
    small = len(data) <= 4096
    z = zlib.compressobj(1, zlib.DEFLATED, 12 if small else 15, 4 if small else 8)
    return z.compress(data) + z.flush()


def parse_tree(data: bytes, rawlen: int) -> dict[str, Entry]:
    """Raw tree object → entries by name."""
    return {name: Entry(mode, name, sha) for mode, name, sha in gitrun.tree_entries(data, rawlen)}


class TreeEdit:
    """A lazily loaded tree with pending edits; `write()` stores only what changed."""

    def __init__(self, git: Git, sha: str | None) -> None:
        self.git = git
        self.sha = sha
        self._entries: dict[str, Entry] | None = None
        self._subs: dict[str, TreeEdit] = {}
        self._dirty = False

    def entries(self) -> dict[str, Entry]:
        """Entries of this tree (loaded on first use)."""
        if self._entries is None:
            self._entries = self.git.read_tree(self.sha) if self.sha else {}
        return self._entries

    def sub(self, name: str, create: bool = True) -> TreeEdit | None:
        """The subtree `name` (created empty when missing and `create`)."""
        if name in self._subs:
            return self._subs[name]
        e = self.entries().get(name)
        if e is None and not create:
            return None
        t = TreeEdit(self.git, e.sha if e is not None and e.is_tree else None)
        self._subs[name] = t
        return t

    def _walk(self, path: str, create: bool) -> tuple[TreeEdit | None, str]:
        *dirs, leaf = path.split("/")
        node: TreeEdit | None = self
        for d in dirs:
            if node is None:
                break
            node = node.sub(d, create)
            if node is not None and create:
                node._dirty = True
        return node, leaf

    def blob_sha(self, path: str) -> str | None:
        """Blob id at `path` (slash-separated), or None."""
        node, leaf = self._walk(path, create=False)
        e = node.entries().get(leaf) if node is not None else None
        return e.sha if e is not None and not e.is_tree else None

    def put(self, path: str, sha: str, mode: str = BLOB_MODE) -> None:
        """Set `path` to blob `sha` (or to tree `sha` with TREE_MODE)."""
        node, leaf = self._walk(path, create=True)
        assert node is not None
        node.entries()[leaf] = Entry(mode, leaf, sha)
        node._subs.pop(leaf, None)
        node._dirty = True
        self._dirty = True

    def remove(self, path: str) -> None:
        """Delete `path`; emptied directories disappear on write."""
        node, leaf = self._walk(path, create=False)
        if node is not None and leaf in node.entries():
            del node.entries()[leaf]
            node._subs.pop(leaf, None)
            node._dirty = True
            self._mark(path)

    def _mark(self, path: str) -> None:
        node: TreeEdit | None = self
        for d in path.split("/")[:-1]:
            if node is None:
                return
            node._dirty = True
            node = node._subs.get(d)

    def write(self) -> str | None:
        """Write changed subtrees (and every staged object) with one git process; the new
        tree's id, None when the tree ended up empty."""
        sha = self._stage()
        self.git.flush()
        return sha

    def _stage(self) -> str | None:
        """Stage changed subtrees bottom-up; None when the tree ended up empty."""
        if not self._dirty and not any(s._dirty for s in self._subs.values()):
            return self.sha
        entries = self.entries()
        for name, sub in self._subs.items():
            sha = sub._stage()
            if sha is None:
                entries.pop(name, None)
            else:
                entries[name] = Entry(TREE_MODE, name, sha)
        if not entries:
            return None
        self.sha = self.git.stage_tree(entries.values())
        self._dirty = False
        return self.sha


@dataclass(frozen=True, slots=True)
class Author:
    """Author and committer of a log commit."""

    name: str
    email: str
    date: str | None = None  # git date (e.g. "@1700000000 +0000"); None = now


def commit_tree(git: Git, tree: str, parent: str | None, message: str, author: Author,
                sign: bool) -> str:
    """Create a commit object (not yet referenced)."""
    env = dict(git.env)
    env.update(GIT_AUTHOR_NAME=author.name, GIT_AUTHOR_EMAIL=author.email)
    if "GIT_COMMITTER_EMAIL" not in env:
        # the writer of an event is its committer; do not fail on an unset user.email
        env.update(GIT_COMMITTER_NAME=author.name, GIT_COMMITTER_EMAIL=author.email)
    if author.date:
        env["GIT_AUTHOR_DATE"] = author.date
    args = ["commit-tree", tree]
    if parent:
        args += ["-p", parent]
    if sign:
        args.append("-S")
    p = git.run(*args, input=message.encode(), check=False, env=env)
    if p.returncode != 0:
        err = p.stderr.decode(errors="replace").strip()
        if sign:
            from changeguard.errors import RefusedError

            raise RefusedError("require_signed is set but the event could not be signed: " + err,
                               hint="configure gpg.format=ssh and user.signingkey with the key "
                                    "listed for you in the roster")
        raise GitError("git commit-tree failed: " + err)
    return p.stdout.decode().strip()


def ref_tip(git: Git, ref: str) -> str | None:
    """The commit `ref` points to, or None when the log does not exist yet."""
    p = git.run("rev-parse", "-q", "--verify", ref + "^{commit}", check=False)
    return p.stdout.decode().strip() or None if p.returncode == 0 else None


def cas_update(git: Git, ref: str, new: str, old: str | None, reason: str) -> bool:
    """`update-ref REF NEW OLD`: True if moved, False if someone else moved it first."""
    zero = "0" * len(new)
    p = git.run("update-ref", "--create-reflog", "-m", reason, ref, new, old or zero,
                check=False)
    if p.returncode == 0:
        return True
    err = p.stderr.decode(errors="replace")
    if "lock" in err or "expected" in err or "exists" in err or "unable to resolve" in err:
        return False  # lost the race (ref moved, or another writer holds the lock)
    raise GitError("git update-ref failed: " + err.strip())
