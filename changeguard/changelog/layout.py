"""Paths of the change-log tip tree (DESIGN.md), stdlib only: shared by the writers and the hook.

`changes/<xx>/<ID>/{plan.yaml,state.json}`, `paths/<xx>/<sha1(path)>/<ID>`,
`services/<xx>/<sha1(service)>/<ID>`, `list/<xx>.json`, `freeze.json`; `<xx>` is the first two
hex digits of the sha1 of the ID (or of the key itself).
"""

from __future__ import annotations

import hashlib

FREEZE_FILE = "freeze.json"


def key_hash(text: str) -> str:
    """Directory name of an index entry (sha1 of the path or service text).

    surrogateescape: a path git hands us with non-UTF-8 bytes hashes to its raw bytes.
    """
    return hashlib.sha1(text.encode("utf-8", "surrogateescape"),
                        usedforsecurity=False).hexdigest()  # a directory name, not security


def change_dir(change_id: str) -> str:
    """Tip-tree directory of one change: `changes/<xx>/<ID>`, xx = sha1(ID)[:2]."""
    return f"changes/{key_hash(change_id)[:2]}/{change_id}"


def index_dir(kind: str, text: str) -> str:
    """`<kind>/<xx>/<sha1(text)>`: the index directory of one path or service."""
    key = key_hash(text)
    return f"{kind}/{key[:2]}/{key}"


def list_shard(change_id: str) -> str:
    """`list/<2 hex>.json`: the summary rows of about 1/256 of the changes."""
    return f"list/{key_hash(change_id)[:2]}.json"


def tracking_ref(remote: str) -> str:
    """Private ref holding the last fetched remote log tip."""
    return f"refs/changeguard/remotes/{remote}/log"
