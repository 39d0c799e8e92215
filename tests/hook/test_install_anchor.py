"""`install-hook` writes the commit-msg stage too; the stage anchors guarded commits (SPEC §12)."""

from __future__ import annotations

import os
from pathlib import Path

from tests.hook.test_hook import (
    cfg_repo,
    change,
    commit,
    git,
    install,
    run_hook,
    stage,
    write_log,
)

__all__ = ["cfg_repo"]


def _message(repo: Path) -> str:
    return git(repo, "log", "-1", "--format=%B").rstrip("\n") + "\n"


def test_install_hook_writes_both_stages(cfg_repo: Path) -> None:
    p = install(cfg_repo)
    assert p.returncode == 0, p.stderr
    hooks = cfg_repo / ".git" / "hooks"
    for stage_name in ("pre-commit", "commit-msg"):
        text = (hooks / stage_name).read_text()
        assert f"changeguard {stage_name} hook" in text and os.access(hooks / stage_name, os.X_OK)
    assert "--stage commit-msg" in (hooks / "commit-msg").read_text()
    assert "--stage" not in (hooks / "pre-commit").read_text()


def test_foreign_commit_msg_hook_is_refused_then_chained(cfg_repo: Path) -> None:
    hooks = cfg_repo / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    foreign = hooks / "commit-msg"
    foreign.write_text("#!/bin/sh\necho legacy-msg-ran >&2\n")
    foreign.chmod(0o755)
    p = install(cfg_repo)
    assert p.returncode == 1 and "--force" in p.stderr and "commit-msg.legacy" in p.stderr
    assert not (hooks / "pre-commit").exists()  # refused before anything was written
    assert install(cfg_repo, "--force").returncode == 0
    assert "legacy-msg-ran" in (hooks / "commit-msg.legacy").read_text()
    stage(cfg_repo, "docs/x.md", "x\n")
    p = commit(cfg_repo)
    assert p.returncode == 0 and "legacy-msg-ran" in p.stderr


def test_commit_msg_stage_anchors_only_guarded_commits(cfg_repo: Path) -> None:
    assert install(cfg_repo).returncode == 0
    stage(cfg_repo, "docs/x.md", "x\n")
    assert commit(cfg_repo).returncode == 0
    assert "Changeguard-Log" not in _message(cfg_repo)
    blob = stage(cfg_repo, "db/main.yaml", "v: 2\n")
    tip = write_log(cfg_repo, [change("CHG-1", {"db/main.yaml": blob})])
    p = commit(cfg_repo)
    assert p.returncode == 0, p.stderr
    assert _message(cfg_repo) == f"change\n\nChangeguard-Log: {tip}\n"
    # amending with a newer log tip replaces the trailer, never adds a second one
    newer = write_log(cfg_repo, [change("CHG-1", {"db/main.yaml": blob}),
                                 change("CHG-2", {"db/other.yaml": None})])
    blob = stage(cfg_repo, "db/main.yaml", "v: 2\n# same change\n")
    write_log(cfg_repo, [change("CHG-1", {"db/main.yaml": blob})])
    tip = git(cfg_repo, "rev-parse", "refs/heads/changeguard/log").strip()
    assert tip != newer
    p = commit(cfg_repo, "--amend", "--no-edit")
    assert p.returncode == 0, p.stderr
    msg = _message(cfg_repo)
    assert msg.count("Changeguard-Log:") == 1 and f"Changeguard-Log: {tip}" in msg


def test_commit_msg_stage_without_a_message_file_is_a_usage_error(cfg_repo: Path) -> None:
    p = run_hook(cfg_repo, "--stage", "commit-msg",
                 env={"PRE_COMMIT_COMMIT_MSG_FILENAME": ""})
    assert p.returncode == 2 and "commit message file" in p.stderr
