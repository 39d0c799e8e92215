"""Real git repositories in temp folders, with a pinned identity and no user config."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path


def isolated_git_env(home: Path) -> dict[str, str]:
    """The process environment minus GIT_* and CHANGEGUARD_NOW, with a pinned identity."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("GIT_") and k != "CHANGEGUARD_NOW"
    }
    env.update(
        HOME=str(home),
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Ana",
        GIT_AUTHOR_EMAIL="ana@example.org",
        GIT_COMMITTER_NAME="Ana",
        GIT_COMMITTER_EMAIL="ana@example.org",
        NO_COLOR="1",
    )
    return env


def git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run git and return stdout (raises on failure)."""
    out = subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True,
                         text=True)
    return out.stdout


def init_repo(root: Path, files: Mapping[str, str] | None = None, *,
              populate: Callable[[Path], None] | None = None) -> Path:
    """A git repo on branch main at `root` whose first commit ("init") holds `files` and
    whatever `populate(root)` writes."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    for name, text in (files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    if populate is not None:
        populate(root)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "init")
    return root
