"""SPEC §10/§11 against the commands that read a plan: `validate` and `submit`.

Real subprocesses: exit 2, `error: FILE:LINE: message`, no traceback, bounded CPU and
memory, and the change log (`refs/heads/changeguard/*`) byte-for-byte unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.adversarial import _bad
from tests.adversarial._harness import (
    Measured,
    assert_bounded,
    assert_rejected,
    log_refs,
    run_measured,
)
from tests.helpers.plans import NOW, plan

PLAN = "changes/CHG-2016-0403-storage.yaml"
COMMANDS = ("validate", "submit")


def _text(**changes: object) -> str:
    return yaml.safe_dump(plan(**changes), sort_keys=False)


def _line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing `needle`."""
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(needle)


def _edit(old: str, new: str) -> tuple[bytes, int]:
    text = _text()
    assert old in text, old
    text = text.replace(old, new, 1)
    return text.encode(), _line_of(text, new.splitlines()[0])


Payload = tuple[bytes, int | None, tuple[str, ...]]


def _cases() -> dict[str, Callable[[], Payload]]:
    base = _text()

    def dup() -> Payload:
        return (base + "title: again\n").encode(), base.count("\n") + 1, ("duplicate",)

    def latin1() -> Payload:
        data, line = _bad.latin1_line(base, True)
        return data, line, ("UTF-8",)

    def edit(old: str, new: str, *words: str) -> Callable[[], Payload]:
        def make() -> Payload:
            data, line = _edit(old, new)
            return data, line, words
        return make

    return {
        "alias-bomb": lambda: (_bad.alias_bomb(), None, ("alias",)),
        "duplicate-key": dup,
        "non-utf8": latin1,
        "utf16-bom": lambda: (_bad.utf16(base), 1, ("UTF-8",)),
        "20MiB": lambda: (_bad.oversize(base), None, ("limit",)),
        "10000-deep": lambda: (_bad.deep(), 1, ("nesting",)),
        "nul-bytes": lambda: (_bad.with_nul(base), 2, ("NUL",)),
        "not-a-mapping": lambda: (b"- just\n- a list\n", 1, ("mapping",)),
        "not-yaml": lambda: (b"title: [unclosed\nrisk: high\n", None, ("YAML",)),
        "empty": lambda: (b"", None, ("empty",)),
        "dotdot-path": edit("- path: db/apac-gateway.topology.yaml",
                            "- path: ../../etc/passwd", ".."),
        "absolute-path": edit("- path: db/apac-gateway.topology.yaml",
                              "- path: /etc/passwd", "repo-relative"),
        "inner-dotdot-path": edit("- path: db/apac-gateway.topology.yaml",
                                  "- path: db/../../secret.yaml", ".."),
        "backslash-path": edit("- path: db/apac-gateway.topology.yaml",
                               "- path: ..\\\\..\\\\windows\\\\system.ini", ".."),
        "id-with-slash": edit("id: CHG-2016-0403-storage", "id: CHG-2016/../../x", "id"),
        "id-with-backslash": edit("id: CHG-2016-0403-storage", "id: CHG-2016\\\\x", "id"),
        "naive-datetime": edit("start: '2016-04-03T01:00:00+08:00'",
                               "start: '2016-04-03T01:00:00'", "timezone"),
        "bare-yaml-date": edit("start: '2016-04-03T01:00:00+08:00'",
                               "start: 2016-04-03", "RFC 3339"),
        "epoch-number": edit("start: '2016-04-03T01:00:00+08:00'",
                             "start: 1459616400", "RFC 3339"),
        "named-zone-not-offset": edit("start: '2016-04-03T01:00:00+08:00'",
                                      "start: 2016-04-03T01:00:00 Mars/Olympus", "RFC 3339"),
        "minutes-as-text": edit("minutes: 90", "minutes: ninety", "number"),
        "minutes-quoted": edit("minutes: 90", "minutes: '90'", ""),
        "services-not-list": edit("services:\n- alma-api-gateway",
                                  "services: alma-api-gateway", "list"),
        "tested-yes-string": edit("tested: true", "tested: 'yes'", "true or false"),
        "unknown-top-key": edit("risk: medium", "riks: medium", "riks"),
        "wrong-kind": edit("kind: ChangePlan", "kind: ChangePlans", "ChangePlan"),
        "wrong-api": edit("apiVersion: changeguard/v1", "apiVersion: changeguard/v0",
                          "apiVersion"),
        "python-tag": edit("title: Improve API-gateway storage (APAC)",
                           "title: !!python/object/apply:os.system ['touch /tmp/pwned']",
                           "tag"),
    }


CASES = _cases()


def _run(repo: Path, env: dict[str, str], command: str, path: str = PLAN) -> Measured:
    before = log_refs(repo)
    m = run_measured([command, path, "--now", NOW], repo, env)
    assert log_refs(repo) == before, "the change log was written"
    return m


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", list(CASES))
def test_bad_plan_is_exit_2(cfg_repo: Path, git_env: dict[str, str], command: str,
                            case: str) -> None:
    data, line, words = CASES[case]()
    (cfg_repo / PLAN).write_bytes(data)
    m = _run(cfg_repo, git_env, command)
    assert_rejected(m, PLAN, line=line, words=tuple(w for w in words if w))


@pytest.mark.parametrize("command", COMMANDS)
def test_utf8_bom_plan_is_accepted(cfg_repo: Path, git_env: dict[str, str],
                                   command: str) -> None:
    (cfg_repo / PLAN).write_bytes(_bad.UTF8_BOM + _text().encode())
    m = run_measured([command, PLAN, "--now", NOW], cfg_repo, git_env)
    assert m.code == 0, (m.out, m.err)
    assert_bounded(m)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("stem", ["with space", "new\nline", "ünïcødé-変更"])
def test_odd_plan_file_names(cfg_repo: Path, git_env: dict[str, str], command: str,
                             stem: str) -> None:
    path = f"changes/{stem}.yaml"
    (cfg_repo / path).write_text(_text(), encoding="utf-8")
    m = run_measured([command, path, "--now", NOW], cfg_repo, git_env)
    assert m.code == 0, (m.out, m.err)
    assert_bounded(m)


@pytest.mark.parametrize("command", COMMANDS)
def test_plan_symlink_leaving_repo_is_refused(cfg_repo: Path, tmp_path: Path,
                                              git_env: dict[str, str], command: str) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text(_text())
    link = cfg_repo / "changes" / "link.yaml"
    link.symlink_to(outside)
    m = _run(cfg_repo, git_env, command, "changes/link.yaml")
    assert_rejected(m, "changes/link.yaml", words=("outside",))


@pytest.mark.parametrize("command", COMMANDS)
def test_proposed_file_symlink_leaving_repo_is_refused(cfg_repo: Path, tmp_path: Path,
                                                       git_env: dict[str, str],
                                                       command: str) -> None:
    """A plan's changed path that is a link out of the repo is never read or hashed."""
    secret = tmp_path / "secret.topology.yaml"
    secret.write_text("apiVersion: changeguard/v1\nkind: ReplicationTopology\n"
                      "name: SECRET-CONTENT\n")
    (cfg_repo / "native" / "evil.topology.yaml").symlink_to(secret)
    (cfg_repo / PLAN).write_text(_text(changes=[{"path": "native/evil.topology.yaml"}]))
    m = _run(cfg_repo, git_env, command)
    assert_rejected(m, "native/evil.topology.yaml", words=("outside",))
    assert "SECRET" not in m.out + m.err


@pytest.mark.parametrize("command", COMMANDS)
def test_missing_plan_file(cfg_repo: Path, git_env: dict[str, str], command: str) -> None:
    m = _run(cfg_repo, git_env, command, "changes/nope.yaml")
    assert_rejected(m, "changes/nope.yaml", words=("no such file",))


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("now", ["yesterday", "2016-03-27T10:00:00", "2016-13-45T00:00:00Z"])
def test_bad_now(cfg_repo: Path, git_env: dict[str, str], command: str, now: str) -> None:
    before = log_refs(cfg_repo)
    m = run_measured([command, PLAN, "--now", now], cfg_repo, git_env)
    assert m.code == 2 and "--now" in m.err, (m.out, m.err)
    assert_bounded(m)
    assert log_refs(cfg_repo) == before


DENIED: dict[str, dict[str, Any]] = {  # parses, right shape, breaks a rule: exit 1
    "risk-extreme": {"risk": "extreme"},
    "no-rollback": {"rollback": None},
    "no-verification": {"verification": None},
    "window-in-the-past": {"window": {"start": "2016-03-20T01:00:00+08:00",
                                      "end": "2016-03-20T05:00:00+08:00"}},
    "outside-maintenance": {"window": {"start": "2016-04-05T01:00:00+08:00",
                                       "end": "2016-04-05T05:00:00+08:00"}},
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", list(DENIED))
def test_policy_denial_is_exit_1_and_writes_nothing(cfg_repo: Path, git_env: dict[str, str],
                                                    command: str, case: str) -> None:
    (cfg_repo / PLAN).write_text(_text(**DENIED[case]))
    m = _run(cfg_repo, git_env, command)
    assert m.code == 1, (m.out, m.err)
    assert_bounded(m)
    assert "deny" in (m.out + m.err).lower() or "refus" in m.err.lower(), (m.out, m.err)


BAD_IDS = ["../etc/passwd", "CHG-1/x", "/etc/passwd", "CHG-1\\x", "..", "CHG-1\nx", ""]
ID_COMMANDS: dict[str, list[str]] = {
    "approve": ["--revision", "1"], "reject": ["--revision", "1", "--reason",
                                               "r"], "start": [], "complete": [],
    "rollback": ["--reason", "r"], "cancel": ["--reason", "r"], "review": ["--comment", "c"],
    "show": [],
}


@pytest.mark.parametrize("command", list(ID_COMMANDS))
def test_ids_with_path_characters_on_the_command_line(cfg_repo: Path, git_env: dict[str, str],
                                                      command: str) -> None:
    before = log_refs(cfg_repo)
    for bad in BAD_IDS:
        m = run_measured([command, bad, *ID_COMMANDS[command], "--now", NOW], cfg_repo,
                         {**git_env, "GIT_AUTHOR_EMAIL": "dev@example.org"})
        assert m.code == 2, (bad, m.out, m.err)
        assert m.err.startswith("error: ") or "Error" in m.err, (bad, m.err)
        assert_bounded(m)
    assert log_refs(cfg_repo) == before


def _huge_plan(n: int) -> str:
    """A plan with `n` steps and `n` changed paths (~90 bytes per pair, under 5 MiB)."""
    steps = [{"action": f"s{i}", "kind": "config", "targets": ["db2"], "minutes": 0}
             for i in range(n)]
    return _text(steps=steps, changes=[{"path": f"native/x{i}.yaml"} for i in range(n)])


def test_huge_plan_validate(cfg_repo: Path, git_env: dict[str, str]) -> None:
    """20 000 changed paths: was one `git cat-file` each (25 CPU s); now one ls-tree."""
    (cfg_repo / PLAN).write_text(_huge_plan(20_000))
    m = _run(cfg_repo, git_env, "validate")
    assert m.code in (0, 1), m.err
    assert_bounded(m)


@pytest.mark.slow
def test_huge_plan_submit_grows_linearly(cfg_repo: Path, git_env: dict[str, str]) -> None:
    """10x the changed paths costs at most 20x the CPU: a growth ratio, not a budget.

    Its absolute cost (one git process per path today, ~12 CPU s for 5 000 paths) is a
    bench/ figure for the performance issue (#17), not a test assertion (issue 12).
    """
    measured = []
    for n in (500, 5_000):  # the second submit is a new revision of the same change
        (cfg_repo / PLAN).write_text(_huge_plan(n))
        m = run_measured(["submit", PLAN, "--now", NOW], cfg_repo, git_env)
        assert m.code == 0, m.err
        assert_bounded(m)
        measured.append(m.cpu)
    assert measured[1] <= 20 * measured[0], measured
