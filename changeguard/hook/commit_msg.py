"""The hook's `commit-msg` stage: anchor a guarded commit to the log tip it relied on (§12).

A commit that stages guarded paths gets a `Changeguard-Log: <tip>` trailer naming the
verified log tip its coverage was judged from. The trusted branch is replicated apart from
the log ref, so `log verify` in any later clone notices when that tip is no longer in the
log's history (`changelog.anchors`). Commits that stage nothing guarded are left alone.
"""

from __future__ import annotations

import sys
from pathlib import Path

from changeguard.git import Git
from changeguard.hook.staged import (
    guarded_changes,
    staged_changes,
    trusted_view,
    widened_by_staged_config,
)


def run_commit_msg(repo: Path, message_file: Path, config_path: Path | None) -> int:
    """Add the trailer when guarded paths are staged; 1 when the log tip does not verify."""
    git = Git(repo, purpose="staged")
    trusted, cfg = trusted_view(repo, git, config_path)  # as the pre-commit stage
    staged = staged_changes(git)
    cfg = widened_by_staged_config(repo, git, cfg, staged)
    if not guarded_changes(cfg, staged, git, "HEAD"):  # the pre-commit stage's one rule
        return 0
    from changeguard.changelog.anchors import TRAILER
    from changeguard.hook.logtip import believed_log

    log = believed_log(git, cfg, trusted)
    if log.problem is not None:
        print(f"error: the change log does not verify at {log.problem}\n"
              "  hint: nothing in an unverified log is believed; run `changeguard log verify`",
              file=sys.stderr)
        return 1
    anchor = _on_remote(git, cfg.log_remote, log.tip) if cfg.log_remote else log.tip
    if anchor is None:  # no log (the pre-commit stage refused), or none of it on the remote
        return 0
    git.run("interpret-trailers", "--in-place", "--if-exists", "replace", "--trailer",
            f"{TRAILER}: {anchor}", str(message_file.resolve()))
    return 0


def _on_remote(git: Git, remote: str, tip: str | None) -> str | None:
    """The newest commit of `tip` that the remote has: a local event not pushed yet may be
    replayed by `log sync` under a new id, and an anchor must never name one."""
    from changeguard.changelog.layout import tracking_ref

    if tip is None:
        return None
    p = git.run("merge-base", tip, tracking_ref(remote), check=False)
    return p.stdout.decode().strip() or None if p.returncode == 0 else None
