"""Shared fixtures: real git repositories and real subprocess runs of the CLI."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.helpers import DATA, ROOT, Result, RunCli, git, init_repo, isolated_git_env, run_cli

# re-exported: test modules import these names from here too
__all__ = ["DATA", "ROOT", "Result", "RunCli", "git"]

# No timing in tests: Hypothesis's per-example deadline and its "too slow" health check are
# wall-clock budgets, which a shared 2-core machine under load breaks at random.
settings.register_profile("changeguard", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("changeguard")


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
    env = isolated_git_env(home)
    for k in list(os.environ):
        if k.startswith("GIT_") or k == "CHANGEGUARD_NOW":
            monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


@pytest.fixture
def repo(tmp_path: Path, git_env: dict[str, str]) -> Path:
    """A fresh git repo on branch main with one commit."""
    return init_repo(tmp_path / "repo", {"README": "config repo\n"})


@pytest.fixture(name="run_cli")
def run_cli_fixture(git_env: dict[str, str]) -> Iterator[RunCli]:
    """Run `python -m changeguard ARGS` as a real subprocess."""

    def _run(*args: str, cwd: Path, env: dict[str, str] | None = None,
             input: str | None = None) -> Result:
        return run_cli(git_env, *args, cwd=cwd, env=env, input=input)

    yield _run
