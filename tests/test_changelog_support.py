"""Shared builders for the change-log tests: a config repo with plans, and CLI runners."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, Result, git
from tests.plans import NOW, config, plan, write_yaml

PLAN_ID = "CHG-2016-0403-storage"
IN_WINDOW = "2016-04-03T02:00:00+08:00"
__all__ = ["IN_WINDOW", "NOW", "PLAN_ID", "Cg", "cg", "config", "make_repo", "plan",
           "plan_path", "spawn", "write_plan"]

Cg = Callable[..., Result]


def make_repo(root: Path, cfg: dict[str, Any] | None = None) -> Path:
    """A config repo with `.changeguard.yaml`, a topology file and one committed plan."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    write_yaml(root / ".changeguard.yaml", cfg if cfg is not None else config())
    (root / "db").mkdir(exist_ok=True)
    (root / "db" / "apac-gateway.topology.yaml").write_text("proposed: 1\n")
    write_plan(root, plan())
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "init")
    return root


def plan_path(change_id: str = PLAN_ID) -> str:
    return f"changes/{change_id}.yaml"


def write_plan(repo: Path, data: dict[str, Any]) -> str:
    rel = plan_path(data["id"])
    write_yaml(repo / rel, data)
    return rel


def spawn(repo: Path, *args: str, email: str = "ana@example.org",
          env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start `python -m changeguard ARGS` as a real process with this identity."""
    e = dict(os.environ)
    e.update(GIT_AUTHOR_EMAIL=email, GIT_AUTHOR_NAME=email.split("@")[0],
             PYTHONPATH=str(ROOT))
    e.update(env or {})
    return subprocess.Popen([sys.executable, "-m", "changeguard", *args], cwd=repo, env=e,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def cg(git_env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
       capsys: pytest.CaptureFixture[str]) -> Cg:
    """Run the CLI in-process (fast) as `email`; returns code/out/err."""
    from changeguard.cli import main

    def run(repo: Path, *args: str, email: str = "ana@example.org") -> Result:
        monkeypatch.setenv("GIT_AUTHOR_EMAIL", email)
        monkeypatch.setenv("GIT_AUTHOR_NAME", email.split("@")[0])
        monkeypatch.chdir(repo)
        capsys.readouterr()
        code = main(["--repo", str(repo), *args])
        got = capsys.readouterr()
        return Result(code, got.out, got.err)

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
