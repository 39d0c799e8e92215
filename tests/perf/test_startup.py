"""Issue 17: the readers' start-up (`list`, `show`, `validate`) imports only what it uses.

`list` reads the trusted config through the light view (no pydantic at all); `show` parses
the stored plan with pydantic but never builds GuardConfig; `validate` skips Typer. What they
print is what the full model would make them print: the reader keys hold GuardConfig's
values, and a bad trusted config fails `list`/`show` with GuardConfig's own error.
Module sets and values, never times.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from changeguard.changelog.store import Git
from changeguard.config.trusted import find_trusted, full_config, reader_config
from tests.adversarial.test_config_inputs import CASES, _text
from tests.helpers import git
from tests.helpers.changelog import NOW, PLAN_ID, make_repo, plan_path

CFG = ".changeguard.yaml"
# atexit runs after SystemExit: which heavy modules (and built models) the run ended with
PROBE = ("import atexit, sys\n"
         "def _report():\n"
         "    mods = sorted(m for m in ('typer', 'pydantic', 'jsonschema') if m in sys.modules)\n"
         "    model = sys.modules.get('changeguard.model')\n"
         "    built = [n for n in ('GuardConfig', 'ChangePlan') if model is not None\n"
         "             and getattr(model, n).__pydantic_complete__]\n"
         "    sys.stderr.write('\\nLOADED ' + ','.join(mods) + ' BUILT ' + ','.join(built))\n"
         "atexit.register(_report)\n"
         "sys.argv = ['changeguard', *sys.argv[1:]]\n"
         "from changeguard.__main__ import run; run()\n")


def _probe(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    p = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr.rpartition("\nLOADED ")[2]


@pytest.fixture
def logged_repo(tmp_path: Path, git_env: dict[str, str]) -> Path:
    """A config repo whose log holds one submitted change (through the real CLI)."""
    repo = make_repo(tmp_path / "cfg")
    p = subprocess.run([sys.executable, "-m", "changeguard", "submit", plan_path(), "--now",
                        NOW], cwd=repo, env=git_env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return repo


@pytest.mark.parametrize("args,loaded", [
    (["list"], " BUILT "),
    (["list", "--format", "json", "--state", "submitted"], " BUILT "),
    (["show", PLAN_ID], "pydantic BUILT ChangePlan"),
    (["show", PLAN_ID, "--format", "json", "--diff"], "pydantic BUILT ChangePlan"),
    (["validate", plan_path(), "--now", NOW], "pydantic BUILT GuardConfig,ChangePlan"),
])
def test_readers_import_only_what_they_use(logged_repo: Path, git_env: dict[str, str],
                                           args: list[str], loaded: str) -> None:
    # the first run verifies the tip and remembers it (SPEC §12); the probe is the second
    first = subprocess.run([sys.executable, "-m", "changeguard", *args], cwd=logged_repo,
                           env=git_env, capture_output=True, text=True)
    code, out, report = _probe(args, logged_repo, git_env)
    assert (code, out) == (first.returncode, first.stdout) and code in (0, 1)
    assert report == loaded


def test_an_unverified_tip_still_gets_the_full_config(logged_repo: Path,
                                                       git_env: dict[str, str]) -> None:
    """No remembered verdict: `list` replays the tip (re-parsing its plans) under the full
    GuardConfig, built on demand from the same revision."""
    code, out, report = _probe(["list"], logged_repo, git_env)
    assert code == 0 and PLAN_ID in out
    assert report == "pydantic BUILT GuardConfig,ChangePlan", report


def _rich_config() -> str:
    data = yaml.safe_load(_text())
    data.update({"log": {"ref": "refs/heads/cg/log", "remote": "origin"},
                 "max_file_bytes": 1000, "emergency_review_hours": 5, "require_signed": False,
                 "clock_skew_minutes": 2.5,
                 "freezes": [{"name": "f", "start": "2026-09-01T00:00:00+08:00",
                              "end": "2026-09-15T00:00:00Z", "reason": "r"}]})
    data["reviewers"][0]["signing_key"] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB"
    return yaml.safe_dump(data, sort_keys=False)


@pytest.mark.parametrize("text", [
    _rich_config(),
    _text(),  # numbers left at their defaults stay ints, as in GuardConfig
    "apiVersion: changeguard/v1\nkind: GuardConfig\n",
    None,  # no config at the trusted revision: every default
])
def test_reader_keys_hold_what_guardconfig_holds(tmp_path: Path, text: str | None) -> None:
    files = {CFG: text} if text is not None else {"README": "x\n"}
    repo = tmp_path / "r"
    from tests.helpers import init_repo

    init_repo(repo, files)
    g = Git(repo)
    t = find_trusted(g, CFG, judge=False)
    full, reader = full_config(g, t), reader_config(g, t)
    assert type(reader).__name__ == "ReaderConfig"
    for key in ("apiVersion", "kind", "timezone", "guarded", "plans", "policies",
                "emergency_review_hours", "require_signed", "max_file_bytes", "clock",
                "clock_skew_minutes", "_root", "_file"):
        got, want = getattr(reader, key), getattr(full, key)
        assert (got, type(got)) == (want, type(want)), key
    assert (reader.log.ref, reader.log.remote) == (full.log.ref, full.log.remote)
    assert reader.trust.branch == full.trust.branch
    assert [(r.email, r.name, r.roles, r.signing_key) for r in reader.reviewers] == \
        [(r.email, r.name, r.roles, r.signing_key) for r in full.reviewers]
    assert [(f.name, f.start, f.end, f.reason) for f in reader.freezes] == \
        [(f.name, f.start, f.end, f.reason) for f in full.freezes]
    assert [(m.paths, m.schema_, m.format) for m in reader.schemas] == \
        [(m.paths, m.schema_, m.format) for m in full.schemas]
    if text == _rich_config():  # the comparison is not vacuous
        assert reader.reviewers and reader.freezes and reader.schemas and reader._root
        assert reader.reviewers[0].signing_key and reader.log.remote == "origin"
    # anything else is the full model's, built once from the same revision
    assert reader.windows == full.windows
    assert reader.lead_time_hours == full.lead_time_hours
    assert reader.holders_of("dba") == full.holders_of("dba")
    g.close()


READ = {"list": ["list"], "show": ["show", PLAN_ID]}


@pytest.mark.parametrize("command", list(READ))
@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_trusted_config_fails_readers_with_guardconfigs_error(
        logged_repo: Path, git_env: dict[str, str], command: str, case: str) -> None:
    """`log verify` builds the full GuardConfig; `list`/`show` print its error, byte for
    byte (exit 2, `.changeguard.yaml:LINE`), though they read the config the light way."""
    data, line, _ = CASES[case]()
    (logged_repo / CFG).write_bytes(data)
    git(logged_repo, "commit", "-qam", "bad config", env=git_env)
    judge = subprocess.run([sys.executable, "-m", "changeguard", "log", "verify"],
                           cwd=logged_repo, env=git_env, capture_output=True, text=True)
    reader = subprocess.run([sys.executable, "-m", "changeguard", *READ[command]],
                            cwd=logged_repo, env=git_env, capture_output=True, text=True)
    assert (reader.returncode, reader.stdout, reader.stderr) == (2, "", judge.stderr)
    assert judge.returncode == 2 and f"{CFG}:" in judge.stderr
    if line is not None:
        assert f"{CFG}:{line}:" in judge.stderr


def test_a_config_readers_accept_is_one_guardconfig_accepts(tmp_path: Path) -> None:
    """The light view decides for readers: its verdict is GuardConfig's on generated
    documents too (tests/test_config_contract.py holds the full contract)."""
    from changeguard.config.light import parse_light_config
    from changeguard.config.load import parse_config
    from changeguard.errors import ConfigError
    from changeguard.loader import parse_document

    base = yaml.safe_load(_rich_config())
    for key, bad in (("emergency_review_hours", 0), ("clock_skew_minutes", -1),
                     ("require_signed", "yes"), ("max_file_bytes", 1.5), ("timezone", "Mars"),
                     ("reviewers", [{"email": "a@x", "signing_key": 5}])):
        doc = parse_document(yaml.safe_dump({**base, key: bad}).encode(), CFG)
        for view in (parse_light_config, parse_config):
            with pytest.raises(ConfigError):
                view(doc)
