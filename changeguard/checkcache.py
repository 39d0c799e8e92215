"""The verdict cache of `check FILE…`, `check --all` and the hook (issue 17).

A run's verdict (findings, checked and skipped files) is a function of the files asked for,
the bytes of every file the run read, the directory listings it used to complete groups, the
`schemas:` mapping (with the bytes of repo schemas), the size limit and the product itself.
An entry is stored under the key of everything but the bytes and listings; those are stored
in the entry as blob ids and are re-read and compared before the entry is believed, so a
re-check of unchanged content is answered without parsing or judging anything.

Trust: only local commands and the hook use it. The CI gate (`check --range`) and the log's
judges never call this module; with `CI` set, or `CHANGEGUARD_CHECK_CACHE=off`, nothing is
read or written. An entry whose content does not match its key or its checksum is ignored
(and replaced); a read-only `.git` only means nothing is remembered.

Stdlib only at the top: the hook imports it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from changeguard.caches import enabled, write_atomic

if TYPE_CHECKING:
    from changeguard.findings import Finding
    from changeguard.replication.load import CheckResult, Reader
    from changeguard.replication.mapping import FileMapping

FORMAT = 1  # bump when the entry layout or what a key covers changes
KEEP = 64  # entries kept; the oldest go first
VARIANTS = 4  # verdicts tried per run shape (same files asked for, different bytes)
_SCHEMA_FILES_MAX = 200  # a repo schema's folder (its `$ref` targets) is hashed up to this
Lister = Callable[[str], list[str]]
JSON = dict[str, object]


def store_for(git_dir: Path | None) -> Path | None:
    """`<common git dir>/changeguard/check-cache`, or None (no git dir, or disabled)."""
    if git_dir is None or not enabled():
        return None
    return git_dir / "changeguard" / "check-cache"


def store_of_repo(repo: Path) -> Path | None:
    """The store of the repository at `repo` (its common dir, shared by worktrees)."""
    from changeguard.git import git_dir_of

    gd = git_dir_of(repo)
    if gd is None:
        return None
    with contextlib.suppress(OSError):  # a linked worktree shares its common dir's cache
        gd = (gd / (gd / "commondir").read_text(encoding="utf-8").strip()).resolve()
    return store_for(gd)


def blob_id(data: bytes) -> str:
    """git's blob id of `data` (what `git hash-object` prints)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def _tree_stats(root: Path, suffixes: tuple[str, ...]) -> list[tuple[str, int, int]]:
    out: list[tuple[str, int, int]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith(suffixes):
                st = os.stat(os.path.join(dirpath, name))
                out.append((os.path.relpath(os.path.join(dirpath, name), root), st.st_size,
                            st.st_mtime_ns))
    return out


def product_fingerprint(pkg: Path | None = None) -> str:
    """The product as installed: its version, every module and shipped schema (by size and
    mtime).

    Stronger than the version string alone: an edited rule in a checkout changes the verdict
    without changing the version.
    """
    from changeguard.resources import data_dir

    root = pkg or Path(__file__).resolve().parent
    parts = [_tree_stats(root, (".py", ".json", ".yaml")),
             _tree_stats(data_dir("schemas"), (".json",)), _version(root)]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _version(pkg: Path) -> str:
    """The installed distribution's version, read from its metadata folder (no import of
    importlib.metadata: the hook's start-up)."""
    for site in {pkg.parent, *(Path(p) for p in sys.path if p)}:
        try:
            names = sorted(n for n in os.listdir(site)
                           if n.startswith("changeguard-") and n.endswith(".dist-info"))
        except OSError:
            continue
        if names:
            return names[-1]
    return "unknown"


def _schema_bytes(m: FileMapping, repo: Path) -> str | None:
    """Hash of a repo schema's folder (the schema and its `$ref`s); None: do not cache."""
    if m.schema is None or m.schema.startswith("builtin:"):
        return ""
    base = Path(m.root) if m.root is not None else repo
    folder = (base / m.schema).parent
    h = hashlib.sha256()
    count = 0
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames):
            count += 1
            if count > _SCHEMA_FILES_MAX:
                return None
            path = os.path.join(dirpath, name)
            try:
                with open(path, "rb") as fh:
                    h.update(os.path.relpath(path, folder).encode() + b"\0" + fh.read())
            except OSError:
                return None
    return h.hexdigest()


def run_key(repo: Path, files: Sequence[str], mappings: Sequence[FileMapping], *,
            max_bytes: int, explicit: bool, complete_groups: bool) -> str | None:
    """The key of a run (everything but the bytes it reads); None when it must not be cached."""
    maps: list[object] = []
    for m in mappings:
        schema = _schema_bytes(m, repo)
        if schema is None:
            return None
        maps.append([list(m.paths), m.schema, m.format, m.root, schema])
    material = [FORMAT, product_fingerprint(), maps, max_bytes, explicit, complete_groups,
                list(files)]
    return hashlib.sha256(json.dumps(material).encode()).hexdigest()


@dataclass
class _Recorder:
    """Wraps a run's reader and lister, noting what it depended on."""

    read_: Reader
    list_: Lister
    deps: dict[str, str | None] = field(default_factory=dict)
    dirs: dict[str, list[str]] = field(default_factory=dict)

    def read(self, path: str) -> bytes | None:
        data = self.read_(path)
        self.deps[path] = None if data is None else blob_id(data)
        return data

    def siblings(self, directory: str) -> list[str]:
        names = self.list_(directory)
        self.dirs[directory] = list(names)
        return names


def _checksum(body: JSON) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _entry_name(key: str, body: JSON) -> str:
    """`<run key>.<digest of what it read>.json`: a few verdicts per run shape are kept (a
    file edited and reverted is still a hit)."""
    deps = json.dumps([body.get("deps"), body.get("dirs")], sort_keys=True).encode()
    return f"{key}.{hashlib.sha256(deps).hexdigest()[:16]}.json"


def load_entries(store: Path, key: str) -> list[JSON]:
    """Entries stored under `key` (newest first) whose content matches key and checksum."""
    try:
        paths = sorted(store.glob(f"{key}.*.json"), key=lambda p: -p.stat().st_mtime_ns)
    except OSError:
        return []
    out: list[JSON] = []
    for path in paths[:VARIANTS]:
        body = _valid(path, key)
        if body is not None:
            out.append(body)
    return out


def _valid(path: Path, key: str) -> JSON | None:
    try:
        raw = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict) or raw.get("key") != key or raw.get("format") != FORMAT:
        return None
    body = raw.get("body")
    if not isinstance(body, dict) or raw.get("sha256") != _checksum(body):
        return None
    return body if path.name == _entry_name(key, body) else None


def save_entry(store: Path, key: str, body: JSON) -> None:
    """Write atomically; any OS error (read-only .git, full disk) just skips remembering."""
    doc = {"format": FORMAT, "key": key, "body": body, "sha256": _checksum(body)}
    if write_atomic(store / _entry_name(key, body), json.dumps(doc).encode("utf-8")):
        with contextlib.suppress(OSError):
            _prune(store)


def _prune(store: Path) -> None:
    entries = sorted(store.glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
    for old in entries[:-KEEP]:
        old.unlink(missing_ok=True)


def _unchanged(body: JSON, read: Reader, lister: Lister,
               prefetch: Callable[[Sequence[str]], None] | None) -> bool:
    """True when every file and listing the stored run depended on is still the same."""
    from changeguard.errors import ChangeguardError

    deps, dirs = body.get("deps"), body.get("dirs")
    if not isinstance(deps, dict) or not isinstance(dirs, dict):
        return False
    if prefetch is not None:
        prefetch(list(deps))
    try:
        for path, blob in deps.items():
            data = read(path)
            if (None if data is None else blob_id(data)) != blob:
                return False
    except ChangeguardError:
        return False
    return all(lister(d) == names for d, names in dirs.items())


def _opt(value: object, kind: type[str] | type[int]) -> str | int | None:
    if value is None or (isinstance(value, kind) and not isinstance(value, bool)):
        return value
    raise TypeError(value)


def _finding(raw: object) -> Finding:
    from changeguard.findings import Finding, Severity

    if not isinstance(raw, dict):
        raise TypeError(raw)
    line = _opt(raw["line"], int)
    file, pointer, hint = (_opt(raw[k], str) for k in ("file", "pointer", "hint"))
    return Finding(str(raw["rule"]), Severity(raw["severity"]), str(raw["message"]),
                   str(file) if file is not None else None,
                   int(line) if line is not None else None,
                   str(pointer) if pointer is not None else None,
                   str(hint) if hint is not None else None)


def _ostr(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise TypeError(value)


def _strings(value: object) -> list[object]:
    if not isinstance(value, list):
        raise TypeError(value)
    return value


def _result_from(body: JSON) -> CheckResult | None:
    """The stored verdict as a CheckResult (no topologies: nothing was parsed)."""
    from changeguard.replication.load import CheckResult

    try:
        findings = [_finding(f) for f in _strings(body["findings"])]
        skipped = [(str(p), str(r)) for p, r in (_strings(s) for s in
                                                _strings(body["skipped"]))]
        checked = [str(p) for p in _strings(body["checked"])]
    except (KeyError, TypeError, ValueError):
        return None
    return CheckResult(findings=findings, files_checked=len(checked), skipped=skipped,
                       checked=checked)


def _body_of(rec: _Recorder, result: CheckResult) -> JSON:
    return {"deps": rec.deps, "dirs": rec.dirs,
            "findings": [f.to_json() for f in result.findings],
            "skipped": [list(s) for s in result.skipped], "checked": list(result.checked)}


def check_files_cached(repo: Path, files: Sequence[str], mappings: Sequence[FileMapping],
                       read: Reader, *, store: Path | None, max_bytes: int,
                       explicit: bool = False, complete_groups: bool = False,
                       prefetch: Callable[[Sequence[str]], None] | None = None
                       ) -> CheckResult:
    """`replication.check.check_files(..., raise_errors=False)`, answered from `store` when
    the same run over the same bytes was judged before; `store=None` never caches."""
    from changeguard.replication.load import directory_lister

    lister = directory_lister(repo)
    key = None if store is None else run_key(repo, files, mappings, max_bytes=max_bytes,
                                               explicit=explicit,
                                               complete_groups=complete_groups)
    for body in load_entries(store, key) if store is not None and key is not None else []:
        if _unchanged(body, read, lister, prefetch):
            hit = _result_from(body)
            if hit is not None:
                return hit
    # the judges are imported only on a miss: a hit parses nothing
    from changeguard.replication.engine import judge
    from changeguard.replication.load import load

    rec = _Recorder(read, lister)
    result = judge(load(repo, files, mappings, rec.read, explicit=explicit,
                        complete_groups=complete_groups, siblings=rec.siblings))
    if store is not None and key is not None and not result.errors:
        save_entry(store, key, _body_of(rec, result))
    return result


def bulk_view(repo: Path, config_file: Path | None, store: Path | None
              ) -> tuple[list[FileMapping], int]:
    """The `schemas:` mapping and size limit of the working tree's config, for `check --all`.

    Validating a config document is a pure function of its data (and the product), so a
    document validated before is answered from the store without importing pydantic; an
    invalid one is never stored and raises its ConfigError (exit 2) every time.
    """
    from changeguard.config.load import parse_config, read_config
    from changeguard.replication.mapping import FileMapping

    loaded = read_config(repo, config_file)
    if loaded is None or store is None:
        return _view_of(repo, config_file)
    material = [FORMAT, "config", product_fingerprint(), loaded.file, loaded.data]
    key = "config-" + hashlib.sha256(json.dumps(material, sort_keys=True, default=repr)
                                     .encode()).hexdigest()
    for body in load_entries(store, key):
        try:
            rows = [_strings(m) for m in _strings(body["schemas"])]
            maps = [FileMapping(tuple(str(p) for p in _strings(r[0])), _ostr(r[1]), _ostr(r[2]),
                                _ostr(r[3])) for r in rows]
            limit = body["max_file_bytes"]
        except (KeyError, TypeError, IndexError):
            continue
        if isinstance(limit, int) and all((m.schema is None) != (m.format is None)
                                          for m in maps):
            return maps, limit
    config = parse_config(loaded)
    maps = FileMapping.from_config(config)
    save_entry(store, key, {"schemas": [[list(m.paths), m.schema, m.format, m.root]
                                        for m in maps],
                            "max_file_bytes": config.max_file_bytes})
    return maps, config.max_file_bytes


def _view_of(repo: Path, config_file: Path | None) -> tuple[list[FileMapping], int]:
    from changeguard.config import load_config
    from changeguard.replication.mapping import FileMapping

    config = load_config(repo, config_file)
    return FileMapping.from_config(config), config.max_file_bytes
