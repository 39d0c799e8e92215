"""Log tips that verified, remembered under the git dir (SPEC §12 "Only a verified log").

Stdlib only: the hook asks "did this tip verify under this config?" by reading one small
file, before anything heavy is imported. A line is `<tip> <fingerprint>`; the fingerprint is
a hash of the config bytes the tip was judged under, so a changed roster or `require_signed`
never reuses an old verdict. A tip is a commit id and so names its whole history: an entry
cannot be carried over to a different history. Only the newest entries are kept: incremental
verification needs the newest verified ancestor of a tip, not all of them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from changeguard.git import Git, git_dir_of

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (hook start-up)
if TYPE_CHECKING:
    from changeguard.config.trusted import Trusted

CACHE = "changeguard-verified"
MAX_LINES = 256  # ~25 kB: the hook reads it on every guarded commit
_VERSION = b"changeguard-verified-v2\0"


def fingerprint(config_source: bytes) -> str:
    """Cache key part for the config a tip is judged under (its exact bytes)."""
    return hashlib.sha256(_VERSION + config_source).hexdigest()


def trusted_fingerprint(trusted: Trusted) -> str:
    """`fingerprint` of the trusted revision's config (SPEC §12; b"": it has none)."""
    return fingerprint(trusted.raw or b"")


def common_dir(git: Git) -> Path:
    """The repository's common git dir (shared by its worktrees, like the log ref).

    Read from `.git` (and a worktree's `commondir` file) without running git when it can:
    the hook's guarded path is counted in git processes.
    """
    gd = Path(git.env["GIT_DIR"]) if "GIT_DIR" in git.env else git_dir_of(git.repo)
    if gd is not None and (gd / "HEAD").is_file():
        try:
            common = (gd / "commondir").read_text(encoding="utf-8").strip()
        except OSError:
            return gd
        return (gd / common).resolve()
    out = git.run("rev-parse", "--path-format=absolute", "--git-common-dir").stdout
    return Path(out.decode("utf-8", "surrogateescape").strip())


def cached_tips(git_dir: Path, fp: str) -> list[str]:
    """Tips that verified under `fp`, oldest first (empty when nothing is cached)."""
    try:
        text = (git_dir / CACHE).read_text(encoding="ascii", errors="replace")
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        tip, _, key = line.partition(" ")
        if key == fp:
            out.append(tip)
    return out


def is_known(git: Git, tip: str, fp: str) -> bool:
    """True when `tip` verified under `fp` before: the readers' and the hook's fast path,
    taken before the replay machinery is imported."""
    return tip in cached_tips(common_dir(git), fp)


def remember(git_dir: Path, tip: str, fp: str) -> None:
    """Record a tip that verified; a read-only clone just verifies again next time."""
    path = git_dir / CACHE
    try:
        with path.open("a", encoding="ascii") as f:
            f.write(f"{tip} {fp}\n")
        lines = path.read_text(encoding="ascii", errors="replace").splitlines()
        if len(lines) > MAX_LINES:  # keep the newest half; rename is atomic for readers
            from changeguard.caches import write_atomic

            write_atomic(path, "".join(x + "\n" for x in lines[-MAX_LINES // 2:]).encode())
    except OSError:
        pass


def log_tip(git: Git, ref: str, remote: str | None) -> tuple[str, str] | None:
    """(ref, commit) of the log the hook reads: the local ref, else the remote's copy."""
    refs = [ref]
    if remote and ref.startswith("refs/heads/"):  # as hook.coverage.read_log falls back
        refs.append(f"refs/remotes/{remote}/{ref[len('refs/heads/'):]}")
    p = git.run("for-each-ref", "--format=%(refname) %(objectname)", *refs, check=False)
    found = dict(line.split(" ", 1) for line in p.stdout.decode().splitlines() if " " in line)
    for r in refs:
        if r in found:
            return r, found[r]
    return None
