"""The one set of test helpers: one way to run the CLI, one way to make a repo.

`tests/conftest.py` wraps these as fixtures (`git_env`, `repo`, `run_cli`); test modules and
other helpers import them from here. `plans` builds configs and plans as data; `changelog`
builds a config repo with a committed plan and runs the workflow commands (`cg`, `spawn`).
"""

from tests.helpers.cli import Result, RunCli, run_cli, run_in_process, spawn_cli, wait_group
from tests.helpers.paths import DATA, ROOT
from tests.helpers.repo import git, init_repo, isolated_git_env

__all__ = ["DATA", "ROOT", "Result", "RunCli", "git", "init_repo", "isolated_git_env",
           "run_cli", "run_in_process", "spawn_cli", "wait_group"]
