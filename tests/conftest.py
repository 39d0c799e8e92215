"""Shared fixtures: real git repositories and real subprocess runs of the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", action="store_true", help="also run long fuzz/kill loops")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Long fuzz/kill loops (`@pytest.mark.slow`) run with --slow, and always in CI."""
    if config.getoption("--slow") or os.environ.get("CI") == "true":
        return
    skip = pytest.mark.skip(reason="long loop: run with --slow (CI always runs it)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def git_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Pinned identity and isolated git config; HOME is a temp dir."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
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
    for k in list(os.environ):
        if k.startswith("GIT_") or k == "CHANGEGUARD_NOW":
            monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


def git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run git and return stdout (raises on failure)."""
    out = subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True,
                         text=True)
    return out.stdout


@pytest.fixture
def repo(tmp_path: Path, git_env: dict[str, str]) -> Path:
    """A fresh git repo on branch main with one commit."""
    r = tmp_path / "repo"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    (r / "README").write_text("config repo\n")
    git(r, "add", "README")
    git(r, "commit", "-q", "-m", "init")
    return r


@dataclass
class Result:
    code: int
    out: str
    err: str


RunCli = Callable[..., Result]


@pytest.fixture
def run_cli(git_env: dict[str, str]) -> Iterator[RunCli]:
    """Run `python -m changeguard ARGS` as a real subprocess."""

    def _run(*args: str, cwd: Path, env: dict[str, str] | None = None,
             input: str | None = None) -> Result:
        e = dict(git_env)
        if env:
            e.update(env)
        p = subprocess.run([sys.executable, "-m", "changeguard", *args], cwd=cwd, env=e,
                           capture_output=True, text=True, input=input, timeout=120)
        return Result(p.returncode, p.stdout, p.stderr)

    yield _run
