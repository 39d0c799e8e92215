"""Paths of the change-log tip tree (DESIGN.md), stdlib only: shared by the writers and the hook.

`changes/<xx>/<ID>/{plan.yaml,state.json,findings.json}`, `changes/<xx>/<ID>/files/<repo path>`,
`paths/<xx>/<sha1(path)>/<ID>`, `services/<xx>/<sha1(service)>/<ID>`, `list/<xx>.json`,
`freeze.json`; `<xx>` is the first two hex digits of the sha1 of the ID (or of the key itself).

What a submit stores (SPEC §13), per change, always as of its current revision:
- `plan.yaml`: the plan text as submitted (`plan_file`);
- `files/<repo path>`: the proposed content of every `changes[].path` the plan does not
  delete, at the file's own path under `files/` (`files_dir`, `proposed_file`); its blob id
  is the one in the submit's `plan.paths` map (and state.json's `paths`), which records a
  deleted file as null and has no `files/` entry for it. A new revision replaces `files/`
  exactly;
- `findings.json`: the warn findings reported at submit, a JSON list of SPEC §8 `findings`
  entries (`rule`, `severity`, `message`, `file`, `line`, `pointer`, `hint`), `[]` when none
  (`findings_file`).

Older revisions stay readable through older commits: revision N of a change is the N-th
commit on the log's first-parent history whose trailers are `Changeguard-Event: submit` and
`Changeguard-Change: <ID>` (every submit is a new revision, SPEC §7); that commit's tree holds
revision N's `plan.yaml`, `files/` and `findings.json` at these same paths
(`changelog.events.revision_commits` lists them).

`commits`: the commits of the change's events, each appended by the commit after it (a
commit cannot name itself), so at a tip that is the change's latest event that one is not
listed yet (`changelog.eventcommits`; older logs lack it).
"""

from __future__ import annotations

import hashlib

FREEZE_FILE = "freeze.json"
FILES = "files"  # subdirectory of a change: its proposed files
FINDINGS = "findings.json"
COMMITS = "commits"  # of a change: its event commits (eventcommits.py)


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


def plan_file(change_id: str) -> str:
    """`changes/<xx>/<ID>/plan.yaml`: the plan text of the change's current revision."""
    return f"{change_dir(change_id)}/plan.yaml"


def state_file(change_id: str) -> str:
    """`changes/<xx>/<ID>/state.json`: the change's replayed state."""
    return f"{change_dir(change_id)}/state.json"


def files_dir(change_id: str) -> str:
    """`changes/<xx>/<ID>/files`: the proposed content of the current revision (SPEC §13)."""
    return f"{change_dir(change_id)}/{FILES}"


def proposed_file(change_id: str, repo_path: str) -> str:
    """`changes/<xx>/<ID>/files/<repo path>`: the proposed content of one changed file."""
    return f"{files_dir(change_id)}/{proposed_name(repo_path)}"


def proposed_name(repo_path: str) -> str:
    """Where a changed file's proposed content lies below its change's `files/`.

    Empty and `.` segments are dropped (`db//x` and `./db/x` name the file `db/x`): they
    cannot be tree entries.
    """
    return "/".join(p for p in repo_path.split("/") if p not in ("", "."))


def commits_file(change_id: str) -> str:
    """`changes/<xx>/<ID>/commits`: the commits of the change's events, recorded by the commit
    after each (a JSON list of shas, oldest first; `changelog.eventcommits`)."""
    return f"{change_dir(change_id)}/{COMMITS}"


def findings_file(change_id: str) -> str:
    """`changes/<xx>/<ID>/findings.json`: the findings reported when it was submitted."""
    return f"{change_dir(change_id)}/{FINDINGS}"
