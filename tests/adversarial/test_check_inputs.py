"""SPEC §10 against `check FILE` and `check --all`, for every replication format.

Each case is a real `python -m changeguard` process: exit 2, `error: FILE:LINE: message`,
no traceback, under 5 s and 300 MB, and nothing written to the change log.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.adversarial import _bad
from tests.adversarial._harness import (
    MEMORY_BUDGET_MB,
    Measured,
    assert_bounded,
    assert_rejected,
    log_refs,
    run_measured,
)
from tests.adversarial._samples import FORMATS, YAML_FORMATS, Fmt

IDS = [f.name for f in FORMATS]
YAML_IDS = [f.name for f in YAML_FORMATS]


def _check(repo: Path, env: dict[str, str], *args: str) -> Measured:
    before = log_refs(repo)
    m = run_measured(["check", *args], repo, env)
    assert log_refs(repo) == before
    return m


# (payload builder, expected line or None, words in the message) per class
Case = Callable[[Fmt], tuple[bytes, int | None, tuple[str, ...]]]


def _utf16(f: Fmt) -> tuple[bytes, int | None, tuple[str, ...]]:
    return _bad.utf16(f.sample), 1, ("UTF-8",)


def _latin1(f: Fmt) -> tuple[bytes, int | None, tuple[str, ...]]:
    data, line = _bad.latin1_line(f.sample, f.yaml)
    return data, line, ("UTF-8",)


def _oversize(f: Fmt) -> tuple[bytes, int | None, tuple[str, ...]]:
    return _bad.oversize(f.sample), None, ("limit",)


def _nul(f: Fmt) -> tuple[bytes, int | None, tuple[str, ...]]:
    return _bad.with_nul(f.sample), 2, ()  # the wording is the parser's


def _bomb(f: Fmt) -> tuple[bytes, int | None, tuple[str, ...]]:
    return _bad.alias_bomb(), None, ("alias",)


def _dup(f: Fmt) -> tuple[bytes, int | None, tuple[str, ...]]:
    data, line = _bad.duplicate_key(f.sample)
    return data, line, ("duplicate",)


def _deep(f: Fmt) -> tuple[bytes, int | None, tuple[str, ...]]:
    return _bad.deep(), 1, ("nesting",)


ANY_CLASSES: dict[str, Case] = {"utf16-bom": _utf16, "non-utf8": _latin1, "20MiB": _oversize}
# NUL bytes are the YAML loader's "binary file?" rule; text formats treat them as data.
YAML_CLASSES: dict[str, Case] = {"alias-bomb": _bomb, "duplicate-key": _dup,
                                 "10000-deep": _deep, "nul-bytes": _nul}


def _cases() -> list[tuple[Fmt, str]]:
    out = [(f, c) for c in ANY_CLASSES for f in FORMATS]
    out += [(f, c) for c in YAML_CLASSES for f in YAML_FORMATS]
    return out


def _payload(f: Fmt, cls: str) -> tuple[bytes, int | None, tuple[str, ...]]:
    return {**ANY_CLASSES, **YAML_CLASSES}[cls](f)


@pytest.mark.parametrize(("fmt", "cls"), _cases(),
                         ids=[f"{c}-{f.name}" for f, c in _cases()])
def test_check_file_rejects(cfg_repo: Path, git_env: dict[str, str], fmt: Fmt,
                            cls: str) -> None:
    data, line, words = _payload(fmt, cls)
    (cfg_repo / fmt.path).write_bytes(data)
    m = _check(cfg_repo, git_env, fmt.path)
    assert_rejected(m, fmt.path, line=line, words=words)


@pytest.mark.parametrize("cls", [*ANY_CLASSES, *YAML_CLASSES])
def test_check_all_names_every_bad_file(cfg_repo: Path, git_env: dict[str, str],
                                        cls: str) -> None:
    """One `--all` run with every format's file broken: each is named, none stops the rest."""
    targets = FORMATS if cls in ANY_CLASSES else YAML_FORMATS
    expected = {}
    for f in targets:
        data, line, _ = _payload(f, cls)
        (cfg_repo / f.path).write_bytes(data)
        expected[f.path] = line
    m = _check(cfg_repo, git_env, "--all")
    assert m.code == 2, (m.out, m.err)
    assert_bounded(m)
    for path, line in expected.items():
        where = f"error: {path}:{line}: " if line else f"error: {path}:"
        assert where in m.err, (path, m.err)


@pytest.mark.parametrize("fmt", FORMATS, ids=IDS)
def test_utf8_bom_is_accepted(cfg_repo: Path, git_env: dict[str, str], fmt: Fmt) -> None:
    plain = _check(cfg_repo, git_env, fmt.path)
    (cfg_repo / fmt.path).write_bytes(_bad.UTF8_BOM + fmt.sample.encode())
    bom = _check(cfg_repo, git_env, fmt.path)
    assert (bom.code, bom.out) == (plain.code, plain.out) == (0, plain.out), bom.err
    assert_bounded(bom)


@pytest.mark.parametrize("fmt", FORMATS, ids=IDS)
def test_symlink_leaving_repo_is_refused(cfg_repo: Path, tmp_path: Path,
                                         git_env: dict[str, str], fmt: Fmt) -> None:
    secret = tmp_path / "outside" / fmt.file
    secret.parent.mkdir()
    secret.write_text(fmt.sample + "# SECRET-CONTENT\n")
    link = cfg_repo / fmt.path
    link.unlink()
    link.symlink_to(secret)
    for args in ([fmt.path], ["--all"]):
        m = _check(cfg_repo, git_env, *args)
        assert_rejected(m, fmt.path, words=("outside",))
        assert "SECRET" not in m.out + m.err


@pytest.mark.parametrize("fmt", FORMATS, ids=IDS)
def test_directory_symlink_leaving_repo_is_refused(cfg_repo: Path, tmp_path: Path,
                                                   git_env: dict[str, str], fmt: Fmt) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / fmt.file).write_text(fmt.sample)
    (cfg_repo / fmt.name / "sub").symlink_to(outside, target_is_directory=True)
    m = _check(cfg_repo, git_env, f"{fmt.name}/sub/{fmt.file}")
    assert_rejected(m, f"{fmt.name}/sub/{fmt.file}", words=("outside",))


@pytest.mark.parametrize("fmt", FORMATS, ids=IDS)
@pytest.mark.parametrize("stem", ["with space", "new\nline", "ünïcødé-名前"])
def test_odd_file_names(cfg_repo: Path, git_env: dict[str, str], fmt: Fmt, stem: str) -> None:
    """Spaces, newlines and non-ASCII in names: checked like any file, and named in errors."""
    # a folder of its own: a named file brings its group's siblings along (issue 16.1)
    name = f"{fmt.name}/odd/{stem}-{fmt.file}"
    (cfg_repo / name).parent.mkdir(parents=True, exist_ok=True)
    (cfg_repo / name).write_text(fmt.sample)
    ok = _check(cfg_repo, git_env, name)
    assert ok.code == 0 and "1 file" in ok.out, (ok.out, ok.err)
    assert_bounded(ok)
    data, line = _bad.latin1_line(fmt.sample, fmt.yaml)
    (cfg_repo / name).write_bytes(data)
    bad = _check(cfg_repo, git_env, name)
    assert bad.code == 2 and f":{line}: not valid UTF-8" in bad.err, bad.err
    assert_bounded(bad)
    shown = bad.err.split(f":{line}: ")[0].removeprefix("error: ")
    assert shown in (name, repr(name)[1:-1], name.replace("\n", "\\n")), shown


@pytest.mark.parametrize("path", ["../outside.yaml", "/etc/passwd", "native/../../x.yaml"])
def test_paths_outside_the_repo(cfg_repo: Path, git_env: dict[str, str], path: str) -> None:
    m = _check(cfg_repo, git_env, path)
    assert_rejected(m, path, words=("outside",))


def test_fifo_is_not_opened(cfg_repo: Path, git_env: dict[str, str]) -> None:
    """A FIFO behind a config name must not hang the check (a blocking open)."""
    fifo = cfg_repo / "native" / "fifo.yaml"
    os.mkfifo(fifo)
    m = _check(cfg_repo, git_env, "native/fifo.yaml")  # --all lists tracked files only
    assert_rejected(m, "native/fifo.yaml", words=("regular file",))


def _big_topology(repo: Path, nodes: int = 100_000) -> str:
    """`nodes` nodes (100 000 is 4.7 MB, under the 5 MiB limit)."""
    lines = _native_header()
    lines.append("  - {name: n0, role: primary, host: 10.0.0.1}")
    lines += [f"  - {{name: n{i}, role: replica, upstream: n0}}" for i in range(1, nodes)]
    name = f"native/big{nodes}.topology.yaml"
    (repo / name).write_text("\n".join(lines) + "\n")
    return name


def test_hundred_thousand_node_topology_grows_linearly(cfg_repo: Path,
                                                       git_env: dict[str, str]) -> None:
    """10x the nodes costs at most 20x the CPU (linear is ~10x; quadratic would be ~100x).

    A growth ratio, not a time budget (issue 12): both runs share the host's load.
    """
    small = _check(cfg_repo, git_env, _big_topology(cfg_repo, 10_000))
    big = _check(cfg_repo, git_env, _big_topology(cfg_repo, 100_000))
    for m in (small, big):
        assert m.code in (0, 1), m.err
        assert "Traceback" not in m.err
    assert big.cpu <= 20 * small.cpu, (small.cpu, big.cpu)


def test_hundred_thousand_node_topology_memory(cfg_repo: Path,
                                               git_env: dict[str, str]) -> None:
    """Was ~410 MB while the whole node graph was composed; now streamed (yamlstream.py)."""
    m = _check(cfg_repo, git_env, _big_topology(cfg_repo))
    assert m.code in (0, 1), m.err
    assert m.peak_mb < MEMORY_BUDGET_MB, f"peak RSS {m.peak_mb:.0f} MB"


def _native_header() -> list[str]:
    return ["apiVersion: changeguard/v1", "kind: ReplicationTopology", "name: big",
            "engine: postgresql", "nodes:"]
