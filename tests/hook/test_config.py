"""A misspelt top-level config key is exit 2 everywhere (issue 13 §2), through the real CLI.

Before, `gaurded:` was exit 2 for `check --all` but silently switched the guard off in the
pre-commit hook and in the CI gate `check --range`, which read a lighter view of the config.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.adversarial._samples import make_config_repo
from tests.conftest import RunCli, git
from tests.helpers.plans import NOW

PLAN = "changes/CHG-2016-0403-storage.yaml"
CID = "CHG-2016-0403-storage"
RAVI = {"GIT_AUTHOR_EMAIL": "ravi@example.org"}

COMMANDS: dict[str, list[str]] = {
    "check --staged": ["check", "--staged", "--now", NOW],
    "check --range": ["check", "--range", "HEAD~1..HEAD"],
    "check --all": ["check", "--all"],
    "validate": ["validate", PLAN, "--now", NOW],
    "submit": ["submit", PLAN, "--now", NOW],
    "approve": ["approve", CID, "--revision", "1", "--now", NOW],
    "reject": ["reject", CID, "--revision", "1", "--reason", "no", "--now", NOW],
    "start": ["start", CID, "--now", NOW],
    "complete": ["complete", CID, "--now", NOW],
    "rollback": ["rollback", CID, "--reason", "r", "--now", NOW],
    "cancel": ["cancel", CID, "--reason", "r", "--now", NOW],
    "review": ["review", CID, "--comment", "c", "--now", NOW],
    "freeze": ["freeze", "--reason", "x", "--now", NOW],
    "unfreeze": ["unfreeze", "--now", NOW],
    "log sync": ["log", "sync"],
}


@pytest.fixture
def misspelt(tmp_path: Path, git_env: dict[str, str]) -> Path:
    """A config repo whose committed config says `gaurded:`, with a guarded file staged."""
    repo = make_config_repo(tmp_path / "cfg")
    cfg = repo / ".changeguard.yaml"
    text = cfg.read_text()
    assert "guarded:" in text
    cfg.write_text(text.replace("guarded:", "gaurded:", 1))
    git(repo, "commit", "-q", "-am", "typo")
    (repo / "db" / "apac-gateway.topology.yaml").write_text("proposed: 2\n")
    git(repo, "add", "db")
    return repo


def _refs(repo: Path) -> str:
    return git(repo, "for-each-ref")


def _assert_typo_refused(code: int, err: str) -> None:
    assert code == 2, err
    assert "error: .changeguard.yaml:" in err and "unknown key 'gaurded'" in err, err
    assert "did you mean 'guarded'?" in err and "Traceback" not in err


@pytest.mark.parametrize("command", list(COMMANDS))
def test_misspelt_key_is_exit_2_for_every_command(misspelt: Path, run_cli: RunCli,
                                                  command: str) -> None:
    before = _refs(misspelt)
    r = run_cli(*COMMANDS[command], cwd=misspelt, env=RAVI)
    _assert_typo_refused(r.code, r.err)
    assert _refs(misspelt) == before  # nothing was written to the log


def test_misspelt_key_is_exit_2_in_the_hook(misspelt: Path, git_env: dict[str, str]) -> None:
    p = subprocess.run([sys.executable, "-c", "from changeguard.hook import main; "
                        "raise SystemExit(main())", "--now", NOW], cwd=misspelt, env=git_env,
                       capture_output=True, text=True, timeout=60)
    _assert_typo_refused(p.returncode, p.stderr)


def test_misspelt_key_blocks_a_real_commit(misspelt: Path, git_env: dict[str, str]) -> None:
    """The installed bare-git hook: the guard is not switched off, the commit is refused."""
    r = subprocess.run([sys.executable, "-m", "changeguard", "install-hook"], cwd=misspelt,
                       env=git_env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    head = git(misspelt, "rev-parse", "HEAD")
    p = subprocess.run(["git", "commit", "-q", "-m", "sneak"], cwd=misspelt,
                       env={**git_env, "CHANGEGUARD_NOW": NOW}, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode != 0  # git reports any failing hook as 1
    assert "unknown key 'gaurded'" in p.stderr and "did you mean 'guarded'?" in p.stderr
    assert git(misspelt, "rev-parse", "HEAD") == head
