"""Shared builders for the change-log tests: a config repo with plans, and CLI runners."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Result, init_repo, run_in_process, spawn_cli, wait_group
from tests.helpers.plans import NOW, config, plan, write_yaml

PLAN_ID = "CHG-2016-0403-storage"
IN_WINDOW = "2016-04-03T02:00:00+08:00"
__all__ = ["IN_WINDOW", "NOW", "PLAN_ID", "Cg", "approved_repo", "cg", "config", "local",
           "make_repo", "plan", "plan_path", "repo_of", "spawn", "wait_group", "write_plan",
           "write_yaml"]

Cg = Callable[..., Result]


def make_repo(root: Path, cfg: dict[str, Any] | None = None) -> Path:
    """A config repo with `.changeguard.yaml`, a topology file and one committed plan."""

    def populate(root: Path) -> None:
        write_yaml(root / ".changeguard.yaml", cfg if cfg is not None else config())
        (root / "db").mkdir(exist_ok=True)
        (root / "db" / "apac-gateway.topology.yaml").write_text("proposed: 1\n")
        write_plan(root, plan())

    return init_repo(root, populate=populate)


def repo_of(root: Path, cg: Cg, n: int, prefix: str) -> Path:
    """`make_repo` with n more changes PREFIX-0..n-1 submitted, each on its own service and
    with no changed file (no two conflict)."""
    repo = make_repo(root)
    for i in range(n):
        cid = f"{prefix}-{i}"
        write_plan(repo, plan(id=cid, title=f"change {i}", services=[f"svc-{i}"], changes=[]))
        assert cg(repo, "submit", plan_path(cid), "--now", NOW).code == 0
    return repo


@pytest.fixture
def local(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's shell: the local caches are used (never under CI or the switch)."""
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("CHANGEGUARD_CHECK_CACHE", raising=False)


def approved_repo(root: Path, cg: Cg) -> Path:
    """`make_repo` with PLAN_ID submitted and approved (revision 1) by dev@example.org."""
    repo = make_repo(root)
    assert cg(repo, "submit", plan_path(), "--now", NOW).code == 0
    assert cg(repo, "approve", PLAN_ID, "--revision", "1", "--now", NOW,
              email="dev@example.org").code == 0
    return repo


def plan_path(change_id: str = PLAN_ID) -> str:
    return f"changes/{change_id}.yaml"


def write_plan(repo: Path, data: dict[str, Any]) -> str:
    rel = plan_path(data["id"])
    write_yaml(repo / rel, data)
    return rel


spawn = spawn_cli  # the one way to start the CLI without waiting (tests/helpers)


@pytest.fixture
def cg(git_env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
       capsys: pytest.CaptureFixture[str]) -> Cg:
    """Run the CLI in-process (fast) as `email`; returns code/out/err."""
    def run(repo: Path, *args: str, email: str = "ana@example.org") -> Result:
        return run_in_process(monkeypatch, capsys, repo, *args, email=email)

    return run


def show(cg: Cg, repo: Path, change_id: str = PLAN_ID) -> dict[str, Any]:
    r = cg(repo, "show", change_id, "--format", "json")
    assert r.code == 0, r.err
    data: dict[str, Any] = json.loads(r.out)
    return data


def verify(cg: Cg, repo: Path) -> dict[str, Any]:
    r = cg(repo, "log", "verify", "--format", "json")
    data: dict[str, Any] = json.loads(r.out)
    assert r.code == (0 if data["ok"] else 1)
    return data
