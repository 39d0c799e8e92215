"""Which commits hold a change's events, recorded in the log's own tree (issue 17).

A commit cannot name its own sha, so each event commit records its *parent*: the commit
after event E (of change Y) appends E's sha to `changes/<xx>/<Y>/commits` (`commits_file`),
a JSON list, oldest first. At a tip T, a change's record therefore lists its event commits,
except T itself when T is that change's latest event. `show` reads it instead of walking
the log back to the change's first event (a cost that grew with the log).

Only what `log verify` checks is believed: a commit may change exactly one record, its
parent's change's, to that record plus the parent's sha (`Records.check`). So a record is
always a subsequence, in order, of the change's event commits; one written before this
existed (an older log) or by a writer that skipped it is shorter than the change's event
list, and readers then fall back to the walk (`complete`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable

from changeguard.changelog.layout import COMMITS, commits_file

CHANGE_TRAILER = "Changeguard-Change"
_TRAILER_LINE = f"\n{CHANGE_TRAILER}: "
_ID = re.compile(r"^[A-Z][A-Z0-9]*-[A-Za-z0-9-]{1,60}$")  # model.ID_PATTERN (stdlib here)
_SUFFIX = "/" + COMMITS
_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_ALGO = {40: hashlib.sha1, 64: hashlib.sha256}  # blob id length -> its hash (3 an event)


def change_of(message: str) -> str | None:
    """The change id an event commit's message names (its trailer), None for none or for a
    log-wide event (freeze): the change whose record the next commit extends.

    The last such line: trailers end the message, and the event JSON before them is one
    line (a message that is not a well-formed event fails `log verify` anyway)."""
    at = message.rfind(_TRAILER_LINE)
    if at < 0:
        return None
    got = message[at + len(_TRAILER_LINE):].partition("\n")[0].strip()
    return got if _ID.match(got) else None


def parse(data: bytes | None) -> list[str] | None:
    """The shas a record lists; None when absent or not a list of shas."""
    if data is None:
        return None
    try:
        value = json.loads(data)
    except ValueError:
        return None
    if not isinstance(value, list) or not all(isinstance(s, str) and _SHA.match(s)
                                              for s in value):
        return None
    return value


def same_blob(sha: str | None, data: bytes) -> bool:
    """True when `sha` is the id git gives a blob of `data` (sha1 or sha256 repository)."""
    algo = _ALGO.get(len(sha)) if sha is not None else None
    if algo is None:
        return False
    h = algo(b"blob %d\x00" % len(data))
    h.update(data)
    return h.hexdigest() == sha


def extended(old: bytes | None, parent: str) -> bytes:
    """The record after appending `parent`: `dump_json` of the longer list, built by
    concatenation (`log verify` does this per commit); an absent or malformed one starts
    over (a record unlike what this writes is flagged where it was written)."""
    entry = b'"' + parent.encode() + b'"'
    if old is not None and old.startswith(b'["') and old.endswith(b'"]\n'):
        return old[:-2] + b"," + entry + b"]\n"
    return b"[" + entry + b"]\n"


def complete(record: list[str] | None, tip: str, tip_change: str | None, change_id: str,
             count: int) -> list[str] | None:
    """The commits of `change_id`'s `count` events at `tip`, oldest first, when its record
    holds all of them (plus `tip` when the tip is its latest event); else None."""
    shas = list(record or [])
    if tip_change == change_id:
        shas.append(tip)
    return shas if len(shas) == count else None


class Records:
    """`log verify`'s side: the record each commit may write, and what it must hold.

    `read` gives a record's bytes at the tip an incremental run starts from (verified, so
    its records are right); `after` must see every commit in order.
    """

    def __init__(self, read: Callable[[str], bytes | None] | None = None) -> None:
        self.read = read
        self.known: dict[str, bytes | None] = {}  # record path -> content at the last commit
        self.prev: tuple[str, str | None] | None = None  # (sha, change) of the last commit
        self.path: str | None = None  # commits_file of the last commit's change
        # (path, blob, content) of the record `check` found right by its blob id
        self._matched: tuple[str, str, bytes] | None = None

    def allowed(self) -> str | None:
        """The one record path the next commit may change (its parent's change's)."""
        return self.path

    def _content(self, path: str) -> bytes | None:
        if path not in self.known:
            self.known[path] = self.read(path) if self.read is not None else None
        return self.known[path]

    def check(self, parents: list[str], changes: dict[str, str | None],
              data: Callable[[str], bytes | None]) -> list[str]:
        """Problems of a commit's change to its parent's change's record (`changes`: path
        -> new blob of the commit's tree diff; `data`: blob bytes)."""
        path = self.allowed()
        if path is None or path not in changes:
            return []
        assert self.prev is not None
        if parents[:1] != [self.prev[0]]:
            return [f"{path} changed by a commit that does not follow {self.prev[0][:12]}"]
        blob = changes[path]
        want = extended(self._content(path), self.prev[0])
        if blob is not None and same_blob(blob, want):
            self._matched = (path, blob, want)  # its content is known: `after` needs no read
            return []
        if (data(blob) if blob is not None else None) != want:
            return [f"{path} is not its previous content plus the parent commit "
                    f"{self.prev[0][:12]}: a record of event commits no event explains"]
        return []

    def after(self, sha: str, message: str | None, changes: dict[str, str | None],
              data: Callable[[str], bytes | None]) -> None:
        """Advance past commit `sha` (its message None when it is unreadable)."""
        matched, self._matched = self._matched, None
        for path, blob in changes.items():
            if path.endswith(_SUFFIX) and path.count("/") == 3 and path.startswith("changes/"):
                if matched is not None and matched[:2] == (path, blob):
                    self.known[path] = matched[2]
                else:
                    self.known[path] = data(blob) if blob is not None else None
        change = change_of(message) if message is not None else None
        self.prev = (sha, change)
        self.path = commits_file(change) if change is not None else None
