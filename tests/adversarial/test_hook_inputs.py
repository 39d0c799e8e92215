"""SPEC §10 against the pre-commit path: hostile *staged* content, read from the index by
`check --staged` and by the light `changeguard-hook` entry point alike."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.adversarial._harness import (
    Measured,
    assert_rejected,
    log_refs,
    measure,
    run_measured,
)
from tests.adversarial._samples import FORMATS, Fmt
from tests.adversarial.test_check_inputs import ANY_CLASSES, YAML_CLASSES, _payload
from tests.conftest import git

ENTRIES = ("check-staged", "hook")


def _hook(repo: Path, env: dict[str, str], entry: str) -> Measured:
    if entry == "check-staged":
        return run_measured(["check", "--staged"], repo, env)
    # `changeguard-hook` as pre-commit runs it, without the full CLI
    return measure([sys.executable, "-c", "import sys; from changeguard.hook import main; "
                    "sys.exit(main())"], repo, env)


def _cases() -> list[tuple[Fmt, str]]:
    out = [(f, c) for c in ANY_CLASSES for f in FORMATS]
    out += [(f, c) for c in YAML_CLASSES for f in FORMATS if f.yaml]
    return out


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize(("fmt", "cls"), _cases(), ids=[f"{c}-{f.name}" for f, c in _cases()])
def test_staged_hostile_file(cfg_repo: Path, git_env: dict[str, str], fmt: Fmt, cls: str,
                             entry: str) -> None:
    data, line, words = _payload(fmt, cls)
    (cfg_repo / fmt.path).write_bytes(data)
    git(cfg_repo, "add", fmt.path)
    before = log_refs(cfg_repo)
    m = _hook(cfg_repo, git_env, entry)
    assert log_refs(cfg_repo) == before
    assert_rejected(m, fmt.path, line=line, words=words)


@pytest.mark.parametrize("entry", ENTRIES)
def test_staged_symlink_is_refused(cfg_repo: Path, git_env: dict[str, str],
                                   entry: str) -> None:
    link = cfg_repo / "native" / "pair.topology.yaml"
    link.unlink()
    link.symlink_to("/etc/passwd")
    git(cfg_repo, "add", "native/pair.topology.yaml")
    m = _hook(cfg_repo, git_env, entry)
    assert_rejected(m, "native/pair.topology.yaml", words=("outside",))


@pytest.mark.parametrize("entry", ENTRIES)
def test_staged_symlink_is_not_followed(cfg_repo: Path, git_env: dict[str, str],
                                        entry: str) -> None:
    link = cfg_repo / "native" / "pair.topology.yaml"
    link.unlink()
    link.symlink_to("/etc/passwd")
    git(cfg_repo, "add", "native/pair.topology.yaml")
    m = _hook(cfg_repo, git_env, entry)
    assert "root:" not in m.out + m.err, m.err
    assert "Traceback" not in m.err
