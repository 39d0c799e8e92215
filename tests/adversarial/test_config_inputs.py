"""SPEC §10 against `.changeguard.yaml`, loaded by every command that reads it.

A bad config is exit 2 naming `.changeguard.yaml` and the line, for reading and writing
commands alike, and nothing is written to the change log. Read-only commands read the
working tree's config; writers read the trusted revision's (SPEC §12), so for them the bad
config is committed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.adversarial import _bad
from tests.adversarial._harness import assert_bounded, assert_rejected, log_refs, run_measured
from tests.adversarial._samples import schemas
from tests.helpers import git
from tests.helpers.plans import NOW, config

CFG = ".changeguard.yaml"
PLAN = "changes/CHG-2016-0403-storage.yaml"
COMMANDS: dict[str, list[str]] = {
    "validate": ["validate", PLAN, "--now", NOW],
    "check-all": ["check", "--all"],
    "check-file": ["check", "native/pair.topology.yaml"],
    "submit": ["submit", PLAN, "--now", NOW],
    "approve": ["approve", "CHG-2016-0403-storage", "--revision", "1", "--now", NOW],
    "windows": ["windows", "--from", NOW],
    "freeze": ["freeze", "--reason", "x", "--now", NOW],
}
WRITERS = frozenset({"submit", "approve", "freeze"})

Payload = tuple[bytes, int | None, tuple[str, ...]]


def _text() -> str:
    return yaml.safe_dump(config(schemas=schemas()), sort_keys=False)


def _edit(old: str, new: str, *words: str) -> Callable[[], Payload]:
    def make() -> Payload:
        text = _text()
        assert old in text, old
        text = text.replace(old, new, 1)
        first = new.splitlines()[0]
        line = next(i for i, s in enumerate(text.splitlines(), 1) if first in s)
        return text.encode(), line, words
    return make


def _cases() -> dict[str, Callable[[], Payload]]:
    base = _text()

    def latin1() -> Payload:
        data, line = _bad.latin1_line(base, True)
        return data, line, ("UTF-8",)

    return {
        "alias-bomb": lambda: (_bad.alias_bomb(), None, ("alias",)),
        "duplicate-key": lambda: ((base + "timezone: UTC\n").encode(), base.count("\n") + 1,
                                  ("duplicate",)),
        "non-utf8": latin1,
        "utf16-bom": lambda: (_bad.utf16(base), 1, ("UTF-8",)),
        "20MiB": lambda: (_bad.oversize(base), None, ("limit",)),
        "10000-deep": lambda: (_bad.deep(), 1, ("nesting",)),
        "not-a-mapping": lambda: (b"- a\n- b\n", 1, ("mapping",)),
        "unknown-zone": _edit("timezone: Asia/Singapore", "timezone: Mars/Olympus",
                              "time zone"),
        "zone-traversal": _edit("timezone: Asia/Singapore", "timezone: ../../../etc/passwd",
                                "time zone"),
        "zone-is-a-directory": _edit("timezone: Asia/Singapore", "timezone: Asia",
                                     "time zone"),
        "window-unknown-zone": _edit("  timezone: Asia/Singapore", "  timezone: Asia/Singapur",
                                     "time zone"),
        "naive-freeze": _edit("freezes: []", "freezes: [{name: f, start: '2026-09-01T00:00:00'"
                              ", end: '2026-09-15T00:00:00+08:00', reason: r}]", "timezone"),
        "lead-time-text": _edit("lead_time_hours: 48", "lead_time_hours: two days", ""),
        "guarded-not-list": _edit("guarded:\n- db/**", "guarded: 5", ""),
        "unknown-key": _edit("lead_time_hours: 48", "lead_time_hour: 48", "lead_time_hours"),
        "bad-format": _edit("format: mysql", "format: mysq", "mysql"),
        "bad-day": _edit("- sun", "- sunday", "sun"),
        "wrong-kind": _edit("kind: GuardConfig", "kind: ChangePlan", "GuardConfig"),
    }


CASES = _cases()


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("case", list(CASES))
def test_bad_config_is_exit_2(cfg_repo: Path, git_env: dict[str, str], command: str,
                              case: str) -> None:
    data, line, words = CASES[case]()
    (cfg_repo / CFG).write_bytes(data)
    if command in WRITERS:  # writers trust only the committed config
        git(cfg_repo, "commit", "-qam", "bad config", env=git_env)
    before = log_refs(cfg_repo)
    m = run_measured(COMMANDS[command], cfg_repo, {**git_env, "GIT_AUTHOR_EMAIL":
                                                    "ravi@example.org"})
    assert log_refs(cfg_repo) == before
    assert_rejected(m, CFG, line=line, words=tuple(w for w in words if w))


@pytest.mark.parametrize("command", ["validate", "check-all", "submit"])
def test_utf8_bom_config_is_accepted(cfg_repo: Path, git_env: dict[str, str],
                                     command: str) -> None:
    (cfg_repo / CFG).write_bytes(_bad.UTF8_BOM + _text().encode())
    m = run_measured(COMMANDS[command], cfg_repo, git_env)
    assert m.code == 0, (m.out, m.err)
    assert_bounded(m)


@pytest.mark.parametrize("command", ["validate", "check-all", "submit"])
def test_missing_config_option_file(cfg_repo: Path, git_env: dict[str, str],
                                    command: str) -> None:
    m = run_measured(["--config", "nope.yaml", *COMMANDS[command]], cfg_repo, git_env)
    assert m.code == 2 and "nope.yaml" in m.err, (m.out, m.err)
    assert_bounded(m)


@pytest.mark.parametrize("command", ["validate", "check-all", "submit"])
def test_config_symlink_leaving_repo(cfg_repo: Path, tmp_path: Path, git_env: dict[str, str],
                                     command: str) -> None:
    """`.changeguard.yaml` linked out of the repo is refused; `--config` may name any file."""
    outside = tmp_path / "shared.yaml"
    outside.write_text(_text())
    (cfg_repo / CFG).unlink()
    (cfg_repo / CFG).symlink_to(outside)
    before = log_refs(cfg_repo)
    m = run_measured(COMMANDS[command], cfg_repo, git_env)
    explicit = run_measured(["--config", str(outside), *COMMANDS[command]], cfg_repo, git_env)
    if command in WRITERS:  # the working tree's link is not read; --config must be inside
        assert m.code == 0, m.err  # the committed config (same text) is the one used
        assert explicit.code == 2 and "trusted revision" in explicit.err, explicit.err
        return
    assert log_refs(cfg_repo) == before
    assert_rejected(m, CFG, words=("outside",))
    assert explicit.code == 0, explicit.err
