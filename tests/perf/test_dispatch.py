"""Issue 17: `changeguard check …` at the prompt is dispatched before Typer is imported.

Every case runs twice as a real process: through `python -m changeguard` (the fast
dispatch in `__main__`) and through the Typer app's `cli.main` directly; exit code, stdout
and stderr must be identical, usage errors included.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from changeguard.__main__ import check_command
from tests.helpers import git, init_repo
from tests.helpers.plans import CONFIG, TOPOLOGY

GOOD = TOPOLOGY
BAD = GOOD.replace("role: replica", "role: primary")  # two primaries: a deny finding
TYPER = "import sys; from changeguard.cli import main; sys.exit(main(sys.argv[1:]))"
# atexit runs after SystemExit: tells whether the framework was imported on the way
PROBE = ("import atexit, sys; atexit.register(lambda: sys.stderr.write("
         "'\\nTYPER-LOADED' if 'typer' in sys.modules else '\\nLIGHT'));"
         "sys.argv = ['changeguard', *sys.argv[1:]];"
         "from changeguard.__main__ import run; run()")


@pytest.fixture
def staged_repo(tmp_path: Path, git_env: dict[str, str]) -> Path:
    cfg = {**CONFIG, "schemas": [{"paths": ["topo/**/*.topology.yaml"],
                                  "schema": "builtin:replication-topology"}]}
    repo = init_repo(tmp_path / "repo", {".changeguard.yaml": yaml.safe_dump(cfg)})
    (repo / "topo").mkdir()
    (repo / "topo/good.topology.yaml").write_text(GOOD)
    (repo / "topo/bad.topology.yaml").write_text(BAD)
    git(repo, "add", "topo")
    return repo


def _run(code: list[str], args: list[str], cwd: Path, env: dict[str, str]
         ) -> tuple[int, str, str]:
    p = subprocess.run([sys.executable, *code, *args], cwd=cwd, env=env, capture_output=True,
                       text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


CASES = [
    ["check", "--staged"],
    ["check", "--staged", "--format", "json"],
    ["--format=json", "check", "--staged"],
    ["--no-color", "-v", "check", "-v", "--staged", "--format", "sarif"],
    ["check", "--staged", "topo/good.topology.yaml"],  # a named file joins the staged set
    ["check", "topo/bad.topology.yaml", "--staged", "--format=json", "--all"],
    ["check", "--staged", "--now", "2016-03-27T10:00:00+08:00", "--format", "json"],
    ["check", "--staged", "--format", "bogus"],  # exit 2 from run_check itself
    ["check", "--staged", "--now", "not-a-time"],  # exit 2: bad --now
    ["--repo", "no/such/dir", "check", "--staged"],  # exit 2: bad --repo
    ["check", "--staged", "--bogus"],  # usage error (click's message): exit 2
    ["check", "--staged", "--now"],  # missing value: exit 2
    ["check", "--staged", "-x", "--format", "json"],
    ["check", "--staged", "--help"],  # help still works (through Typer)
    ["--version", "check", "--staged"],
    ["check", "--all"],
    ["check", "--all", "--format", "json", "--verbose"],
    ["check", "topo/good.topology.yaml", "topo/bad.topology.yaml", "--format", "junit"],
    ["check", "no/such.yaml"],
    ["check"],  # nothing to check: exit 2
    ["check", "--format", "json"],  # the error as a JSON document
    ["check", "--range", "nope..HEAD"],
    ["check", "--all", "--help"],
]


@pytest.mark.parametrize("args", CASES, ids=[" ".join(c) for c in CASES])
def test_fast_dispatch_matches_the_typer_app(staged_repo: Path, git_env: dict[str, str],
                                             args: list[str]) -> None:
    fast = _run(["-m", "changeguard"], args, staged_repo, git_env)
    typer = _run(["-c", TYPER], args, staged_repo, git_env)
    assert fast == typer
    assert "Traceback" not in fast[2]


def test_the_cases_cover_every_outcome(staged_repo: Path, git_env: dict[str, str]) -> None:
    codes = {_run(["-m", "changeguard"], a, staged_repo, git_env)[0] for a in CASES}
    assert codes == {0, 1, 2}


@pytest.mark.parametrize("args,light", [
    (["check", "--staged"], True),
    (["--format", "json", "check", "--staged", "--now", "2016-03-27T10:00:00+08:00"], True),
    (["check", "--staged", "--help"], False),
    (["check", "--all"], True),
    (["check", "--all", "-h"], False),
    (["validate", "x.yaml"], True),
    (["validate", "x.yaml", "--help"], False),
])
def test_check_staged_does_not_import_the_cli_framework(
        staged_repo: Path, git_env: dict[str, str], args: list[str], light: bool) -> None:
    _, _, err = _run(["-c", PROBE], args, staged_repo, git_env)
    assert err.rstrip().endswith("LIGHT" if light else "TYPER-LOADED"), err


def test_check_command_reads_only_what_it_understands() -> None:
    assert check_command(["--repo", "check", "check", "--staged", "a"]) == (
        {"repo": "check"}, {"staged": True}, ["a"])
    assert check_command(["check", "--staged", "--format=json", "-v"]) == (
        {}, {"staged": True, "fmt": "json", "verbose": True}, [])
    assert check_command(["check", "--all"]) == ({}, {"all_files": True}, [])
    for argv in (["show", "--staged"], [], ["--all", "check"],
                 ["check", "--staged", "--", "x"], ["check", "--staged", "--format="],
                 ["check", "--staged", "--staged=1"], ["x", "check", "--staged"]):
        assert check_command(argv) is None, argv


def test_shell_completion_stays_with_click(staged_repo: Path, git_env: dict[str, str]) -> None:
    env = dict(git_env, _CHANGEGUARD_COMPLETE="complete_bash", COMP_WORDS="changeguard che",
               COMP_CWORD="1")
    code, out, _ = _run(["-m", "changeguard"], ["check", "--staged"], staged_repo, env)
    assert (code, out.split()) == (0, ["check"])


@pytest.fixture
def logged_repo(tmp_path: Path, git_env: dict[str, str]) -> Path:
    """A config repo whose log holds one submitted change (through the real CLI)."""
    from tests.helpers.changelog import NOW, make_repo, plan_path

    repo = make_repo(tmp_path / "cfg")
    code, _, err = _run(["-m", "changeguard"], ["submit", plan_path(), "--now", NOW], repo,
                        git_env)
    assert code == 0, err
    return repo


READ_CASES = [
    ["show", "CHG-2016-0403-storage"],
    ["show", "CHG-2016-0403-storage", "--format", "json"],
    ["--format=markdown", "show", "CHG-2016-0403-storage", "--diff"],
    ["show", "--diff", "CHG-2016-0403-storage", "--since-revision", "1"],
    ["show", "CHG-2016-0403-storage", "--since-revision", "2"],  # exit 2: no revision 2
    ["show", "CHG-2016-0403-storage", "--since-revision", "0"],  # click: below its minimum
    ["show", "CHG-2016-0403-storage", "--since-revision", "x"],  # click: not an integer
    ["show", "CHG-9999-none"],  # exit 1: no such change
    ["show", "not an id"],
    ["show"],  # click: missing argument
    ["show", "CHG-2016-0403-storage", "extra"],  # click: unexpected argument
    ["show", "CHG-2016-0403-storage", "--format", "sarif"],  # exit 2 from the command
    ["show", "CHG-2016-0403-storage", "--help"],
    ["list"],
    ["list", "--format", "json", "--state", "submitted"],
    ["list", "--overdue", "--now", "2016-04-20T10:00:00+08:00"],
    ["list", "x"],  # click: unexpected argument
]


def _same_both_ways(repo: Path, env: dict[str, str], args: list[str]) -> None:
    """The fast dispatch answers exactly as the Typer app: code, stdout, stderr."""
    fast = _run(["-m", "changeguard"], args, repo, env)
    typer = _run(["-c", TYPER], args, repo, env)
    assert fast == typer
    assert "Traceback" not in fast[2]


@pytest.mark.parametrize("args", READ_CASES, ids=[" ".join(c) for c in READ_CASES])
def test_show_and_list_fast_dispatch_matches_the_typer_app(
        logged_repo: Path, git_env: dict[str, str], args: list[str]) -> None:
    _same_both_ways(logged_repo, git_env, args)


@pytest.mark.parametrize("args,light", [
    (["show", "CHG-2016-0403-storage", "--diff"], True),
    (["list", "--format", "json"], True),
    (["show", "CHG-2016-0403-storage", "--since-revision", "x"], False),
    (["list", "--help"], False),
])
def test_show_and_list_do_not_import_the_cli_framework(
        logged_repo: Path, git_env: dict[str, str], args: list[str], light: bool) -> None:
    _, _, err = _run(["-c", PROBE], args, logged_repo, git_env)
    assert err.rstrip().endswith("LIGHT" if light else "TYPER-LOADED"), err


ROOT = Path(__file__).resolve().parents[2]
V1, V2 = "changes/CHG-2016-0403-storage.yaml", "changes/CHG-2016-0403-storage-v2.yaml"
VNOW = "2016-03-30T10:00:00+08:00"


@pytest.fixture
def example_repo(tmp_path: Path) -> Path:
    """The incident example (a topology, a denied plan and its fixed v2), committed."""
    import shutil

    repo = tmp_path / "example"
    shutil.copytree(ROOT / "examples" / "incident-2016", repo)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "example")
    return repo


VALIDATE_CASES = [
    ["validate", V2, "--now", VNOW],
    ["validate", V1, "--now", VNOW],  # exit 1: deny findings
    ["validate", V1, V2, "--now", VNOW, "--format", "json"],
    ["--format=sarif", "validate", V1, "--now", VNOW],
    ["--no-color", "validate", "--format", "junit", V1, "--now=" + VNOW],
    ["validate", V2, "--now", VNOW, "--rev", "HEAD", "--base", "HEAD"],
    ["validate", V2, "--now", VNOW, "--format", "markdown", "-o", "no/such/dir/out.md"],
    ["validate", "no/such.yaml"],  # exit 2 from the command
    ["validate", V2, "--format", "json", "--rev", "nope"],  # the error as a JSON document
    ["validate", V2, "--format", "bogus"],
    ["validate", V2, "--now", "not-a-time"],
    ["validate"],  # click: missing argument
    ["validate", V2, "--now"],  # click: missing value
    ["validate", V2, "--bogus"],  # click: no such option
    ["validate", V2, "-o"],
    ["validate", V2, "--", "x"],
    ["validate", V2, "--help"],
]


@pytest.mark.parametrize("args", VALIDATE_CASES, ids=[" ".join(c) for c in VALIDATE_CASES])
def test_validate_fast_dispatch_matches_the_typer_app(
        example_repo: Path, git_env: dict[str, str], args: list[str]) -> None:
    _same_both_ways(example_repo, git_env, args)


def test_validate_cases_cover_every_outcome(example_repo: Path,
                                            git_env: dict[str, str]) -> None:
    codes = {_run(["-m", "changeguard"], a, example_repo, git_env)[0] for a in VALIDATE_CASES}
    assert codes == {0, 1, 2}


def test_validate_output_file_is_the_same_on_both_paths(
        example_repo: Path, git_env: dict[str, str]) -> None:
    args = ["validate", V1, "--now", VNOW, "--format", "json", "--output"]
    fast = _run(["-m", "changeguard"], [*args, "fast.json"], example_repo, git_env)
    typer = _run(["-c", TYPER], [*args, "typer.json"], example_repo, git_env)
    assert fast == typer and fast[0] == 1
    text = (example_repo / "fast.json").read_text()
    assert text == (example_repo / "typer.json").read_text() and '"rule"' in text


VERIFY_CASES = [
    ["log", "verify"],
    ["log", "verify", "--format", "json"],
    ["--format=json", "log", "verify", "--from-scratch"],
    ["log", "verify", "--from-scratch", "--format=text"],
    ["log", "verify", "--format", "sarif"],  # exit 2 from the command
    ["--repo", "no/such/dir", "log", "verify"],  # exit 2: bad --repo
    ["log", "verify", "extra"],  # click: unexpected argument
    ["log", "verify", "--from-scratch=1"],  # click: a flag takes no value
    ["log", "verify", "--bogus"],
    ["log", "verify", "--help"],
    ["log", "--help", "verify"],
    ["log"],  # the group without a command
]


def _tamper_log(repo: Path) -> None:
    """A plain-git commit on the log that no event explains (log verify: exit 1)."""
    tip = git(repo, "rev-parse", "changeguard/log").strip()
    bad = git(repo, "commit-tree", f"{tip}^{{tree}}", "-p", tip, "-m", "quiet edit").strip()
    git(repo, "update-ref", "refs/heads/changeguard/log", bad, tip)


@pytest.mark.parametrize("tampered", [False, True], ids=["honest", "tampered"])
@pytest.mark.parametrize("args", VERIFY_CASES, ids=[" ".join(c) for c in VERIFY_CASES])
def test_log_verify_fast_dispatch_matches_the_typer_app(
        logged_repo: Path, git_env: dict[str, str], args: list[str], tampered: bool) -> None:
    if tampered:
        _tamper_log(logged_repo)
    _same_both_ways(logged_repo, git_env, args)


def test_log_verify_cases_cover_every_outcome(logged_repo: Path,
                                              git_env: dict[str, str]) -> None:
    cases = [["log", "verify"], ["log", "verify", "--format", "sarif"]]
    codes = {_run(["-m", "changeguard"], a, logged_repo, git_env)[0] for a in cases}
    _tamper_log(logged_repo)
    codes.add(_run(["-m", "changeguard"], ["log", "verify", "--from-scratch"], logged_repo,
                   git_env)[0])
    assert codes == {0, 1, 2}


@pytest.mark.parametrize("args,light", [
    (["log", "verify"], True),
    (["--format", "json", "log", "verify", "--from-scratch"], True),
    (["log", "verify", "--help"], False),
    (["log", "sync"], False),
])
def test_log_verify_does_not_import_the_cli_framework(
        logged_repo: Path, git_env: dict[str, str], args: list[str], light: bool) -> None:
    _, _, err = _run(["-c", PROBE], args, logged_repo, git_env)
    assert err.rstrip().endswith("LIGHT" if light else "TYPER-LOADED"), err


def test_command_line_reads_log_verify_only_as_two_words() -> None:
    from changeguard.__main__ import command_line

    assert command_line(["log", "verify", "--from-scratch"]) == (
        "log verify", {}, {"from_scratch": True}, [])
    for argv in (["log verify"], ["log"], ["log", "sync"], ["verify"], ["log", "-v", "verify"]):
        assert command_line(argv) is None, argv
