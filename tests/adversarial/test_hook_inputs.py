"""SPEC §10 against the pre-commit path: hostile *staged* content, read from the index by
`check --staged` and by the light `changeguard-hook` entry point alike."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.adversarial._harness import Measured, assert_rejected, log_refs, run_measured
from tests.adversarial._samples import FORMATS, Fmt
from tests.adversarial.test_check_inputs import ANY_CLASSES, YAML_CLASSES, _payload
from tests.conftest import ROOT, git

ENTRIES = ("check-staged", "hook")


def _hook(repo: Path, env: dict[str, str], entry: str) -> Measured:
    if entry == "check-staged":
        return run_measured(["check", "--staged"], repo, env)
    # `changeguard-hook` as pre-commit runs it, without the full CLI
    e = {**env, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        p = subprocess.Popen([sys.executable, "-c", "import sys; from changeguard.hook import "
                              "main; sys.exit(main())"], cwd=repo, env=e, stdout=out, stderr=err,
                             stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(p.returncode, out.read().decode(errors="replace"),
                        err.read().decode(errors="replace"), time.monotonic() - t0,
                        usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


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
