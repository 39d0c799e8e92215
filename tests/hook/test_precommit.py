"""The real `pre-commit` tool with our `.pre-commit-hooks.yaml` (issue 6 §1; slow: pip builds).

pre-commit clones a hook repository at a commit, so the project is snapshotted into a
temporary git repo first (the checkout may have uncommitted work). pre-commit builds the
hook's virtualenv with pip from that snapshot; pip fetches hatchling and the dependencies.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hook.test_hook import CONFIG, NOW, blob_of, change, git, stage, write_log

ROOT = Path(__file__).resolve().parents[2]
PRE_COMMIT = [sys.executable, "-m", "pre_commit"]
SLOW = 900  # seconds: a cold pip cache downloads every dependency


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Caches shared by this module's tests (never the user's $HOME)."""
    base = tmp_path_factory.mktemp("precommit-cache")
    return {"PRE_COMMIT_HOME": str(base / "pre-commit"), "PIP_CACHE_DIR": str(base / "pip")}


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's packaging-relevant files committed to a fresh repo."""
    dst = tmp_path_factory.mktemp("snapshot") / "changeguard"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("changeguard", "schemas", "policies"):
        shutil.copytree(ROOT / name, dst / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy2(ROOT / name, dst / name)
    env = _isolated({})
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=dst, check=True, env=env)
    subprocess.run(["git", "add", "-A"], cwd=dst, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "-m", "snapshot"], cwd=dst, check=True, env=env)
    return dst


def _isolated(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT"))}
    env.update(GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="Ana",
               GIT_AUTHOR_EMAIL="ana@example.org", GIT_COMMITTER_NAME="Ana",
               GIT_COMMITTER_EMAIL="ana@example.org")
    env.update(extra)
    return env


@pytest.fixture
def config_repo(repo: Path) -> Path:
    (repo / ".changeguard.yaml").write_text(CONFIG)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "config")
    return repo


def test_manifest_declares_the_hook() -> None:
    import yaml

    hook, anchor = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert anchor["id"] == "changeguard-log-anchor" and anchor["stages"] == ["commit-msg"]
    assert anchor["entry"] == "changeguard-hook --stage commit-msg"
    assert hook["id"] == "changeguard" and hook["entry"] == "changeguard-hook"
    assert hook["language"] == "python" and hook["pass_filenames"] is True
    assert hook["always_run"] and hook["require_serial"]  # deletions are never passed
    assert "changeguard-hook = \"changeguard.hook:main\"" in (ROOT / "pyproject.toml").read_text()


def test_try_repo_refuses_an_uncovered_guarded_file(config_repo: Path, snapshot: Path,
                                                    shared: dict[str, str]) -> None:
    stage(config_repo, "db/main.yaml", "v: 2\n")
    env = _isolated({**shared, "HOME": os.environ["HOME"], "CHANGEGUARD_NOW": NOW})
    p = subprocess.run([*PRE_COMMIT, "try-repo", str(snapshot), "changeguard"],
                       cwd=config_repo, env=env, capture_output=True, text=True, timeout=SLOW)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "guarded-path-coverage" in p.stdout
    assert "db/main.yaml is guarded and no change covers it" in p.stdout


def test_installed_pre_commit_refuses_then_accepts(config_repo: Path, snapshot: Path,
                                                   shared: dict[str, str]) -> None:
    rev = git(snapshot, "rev-parse", "HEAD").strip()
    (config_repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {snapshot.as_uri()}\n    rev: {rev}\n"
        "    hooks: [{id: changeguard}]\n")
    git(config_repo, "add", ".pre-commit-config.yaml")
    git(config_repo, "commit", "-q", "--no-verify", "-m", "pre-commit config")
    env = _isolated({**shared, "HOME": os.environ["HOME"], "CHANGEGUARD_NOW": NOW})
    p = subprocess.run([*PRE_COMMIT, "install"], cwd=config_repo, env=env, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr

    def commit() -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", "commit", "-q", "-m", "bump"], cwd=config_repo, env=env,
                              capture_output=True, text=True, timeout=SLOW)

    blob = stage(config_repo, "db/main.yaml", "v: 2\n")
    p = commit()
    assert p.returncode == 1, p.stdout + p.stderr
    assert "db/main.yaml is guarded" in p.stdout + p.stderr
    write_log(config_repo, [change("CHG-7", {"db/main.yaml": blob})])
    p = commit()
    assert p.returncode == 0, p.stdout + p.stderr
    assert git(config_repo, "show", "HEAD:db/main.yaml") == "v: 2\n"
    assert blob == blob_of(config_repo, b"v: 2\n")


def test_commit_msg_stage_records_the_log_tip(config_repo: Path, snapshot: Path,
                                              shared: dict[str, str]) -> None:
    """SPEC §12: `pre-commit install -t commit-msg` runs `changeguard-log-anchor`."""
    rev = git(snapshot, "rev-parse", "HEAD").strip()
    (config_repo / ".pre-commit-config.yaml").write_text(
        "default_install_hook_types: [pre-commit, commit-msg]\n"
        f"repos:\n  - repo: {snapshot.as_uri()}\n    rev: {rev}\n"
        "    hooks: [{id: changeguard}, {id: changeguard-log-anchor}]\n")
    git(config_repo, "add", ".pre-commit-config.yaml")
    git(config_repo, "commit", "-q", "--no-verify", "-m", "pre-commit config")
    env = _isolated({**shared, "HOME": os.environ["HOME"], "CHANGEGUARD_NOW": NOW})
    p = subprocess.run([*PRE_COMMIT, "install"], cwd=config_repo, env=env, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert (config_repo / ".git" / "hooks" / "commit-msg").exists()

    def commit(message: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", "commit", "-q", "-m", message], cwd=config_repo, env=env,
                              capture_output=True, text=True, timeout=SLOW)

    (config_repo / "notes.txt").write_text("x\n")
    git(config_repo, "add", "notes.txt")
    p = commit("notes")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Changeguard-Log" not in git(config_repo, "log", "-1", "--format=%B")
    blob = stage(config_repo, "db/main.yaml", "v: 2\n")
    tip = write_log(config_repo, [change("CHG-7", {"db/main.yaml": blob})])
    p = commit("bump")
    assert p.returncode == 0, p.stdout + p.stderr
    assert git(config_repo, "log", "-1", "--format=%B").strip() == (
        f"bump\n\nChangeguard-Log: {tip}")
