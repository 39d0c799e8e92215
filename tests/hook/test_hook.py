"""The light `check --staged` hook: coverage, staged content, git corner cases, start-up."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from changeguard.git import clean_env
from tests.conftest import RunCli

LOG_REF = "refs/heads/changeguard/log"
NOW = "2026-04-05T02:00:00+08:00"
WINDOW = ("2026-04-05T01:00:00+08:00", "2026-04-05T05:00:00+08:00")
HEAVY = ("pydantic", "typer", "click", "rich", "jsonschema", "git")

CONFIG = """\
apiVersion: changeguard/v1
kind: GuardConfig
timezone: Asia/Singapore
guarded: ["db/**", "gateway/**"]
plans: "changes/*.yaml"
reviewers:
  - {email: ana@example.org, name: Ana, roles: [dba, cab]}
  - {email: bo@example.org, name: Bo, roles: [dba]}
  - {email: cy@example.org, name: Cy, roles: [net]}
clock: simulated  # the tests pass --now (SPEC §12 "Time")
"""


# ------------------------------------------------------------------ helpers


def git(cwd: Path, *args: str, input: bytes | None = None,
        env: dict[str, str] | None = None) -> str:
    """Run git, return stdout text (raises on failure)."""
    p = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, env=env,
                       check=False)
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout.decode("utf-8", "surrogateescape")


def blob_of(repo: Path, data: bytes) -> str:
    """The git blob id `data` would get."""
    return git(repo, "hash-object", "--stdin", input=data).strip()


APPROVED_AT = "2026-04-01T10:00:00+08:00"


def change(cid: str, paths: dict[str, str | None], *, state: str = "approved",
           window: tuple[str, str] = WINDOW, type: str = "normal", risk: str = "medium",
           author: str = "dee@example.org", approved_at: str = APPROVED_AT,
           ended_at: str | None = None,
           requirements: Sequence[dict[str, object]] = ()) -> dict[str, object]:
    """A state.json as the log engineer writes it (DESIGN.md, change-log tip tree).

    Past `submitted`, bo approved it at `approved_at` (coverage starts there, SPEC §12);
    a closed state ended at `ended_at`.
    """
    digest = "sha256:" + "0" * 64
    events: list[dict[str, str]] = [{"event": "submit", "actor": author,
                                     "at": "2026-03-30T10:00:00+08:00"}]
    approvals: list[dict[str, object]] = []
    if state != "submitted":
        approvals.append({"actor": "bo@example.org", "digest": digest, "stale": False,
                          "at": approved_at, "roles": ["dba"], "comment": None})
        events.append({"event": "approve", "actor": "bo@example.org", "at": approved_at})
    end = {"completed": "complete", "rolled_back": "rollback", "cancelled": "cancel",
           "rejected": "reject"}.get(state)
    if end is not None:
        events.append({"event": end, "actor": author, "at": ended_at or approved_at})
    return {"id": cid, "title": f"change {cid}", "state": state, "revision": 1,
            "digest": digest, "author": author, "type": type, "risk": risk,
            "services": [], "environment": "production",
            "window": {"start": window[0], "end": window[1]}, "paths": paths,
            "approvals": approvals, "rejections": [], "events": events, "reviewed": False,
            "requirements": [dict(r) for r in requirements]}


def write_log(repo: Path, changes: Sequence[dict[str, object]],
              freeze: dict[str, object] | None = None, ref: str = LOG_REF) -> str:
    """Commit a log tip tree with git plumbing (plan, state, paths index, freeze)."""
    files: dict[str, bytes] = {}
    for st in changes:
        cid = str(st["id"])
        base = f"changes/{hashlib.sha1(cid.encode()).hexdigest()[:2]}/{cid}"  # sharded
        files[f"{base}/state.json"] = json.dumps(st).encode()
        files[f"{base}/plan.yaml"] = f"id: {cid}\n".encode()
        paths = st["paths"]
        assert isinstance(paths, dict)
        for p in paths:
            key = hashlib.sha1(p.encode()).hexdigest()
            files[f"paths/{key[:2]}/{key}/{cid}"] = p.encode()
    if freeze is not None:
        files["freeze.json"] = json.dumps(freeze).encode()
    lines = "".join(f"100644 {git(repo, 'hash-object', '-w', '--stdin', input=data).strip()}"
                    f"\t{path}\n" for path, data in files.items())
    env = dict(os.environ, GIT_INDEX_FILE=str(repo.parent / "log-index"))
    Path(env["GIT_INDEX_FILE"]).unlink(missing_ok=True)
    git(repo, "update-index", "--index-info", input=lines.encode(), env=env)
    tree = git(repo, "write-tree", env=env).strip()
    parent = subprocess.run(["git", "rev-parse", "-q", "--verify", ref], cwd=repo,
                            capture_output=True, text=True).stdout.strip()
    commit = git(repo, "commit-tree", tree, "-m", "event", *(["-p", parent] if parent else [])
                 ).strip()
    git(repo, "update-ref", ref, commit)
    seal_as_verified(repo, commit)
    return commit


def seal_as_verified(repo: Path, tip: str) -> None:
    """Let the hook believe a hand-written tip (these tests judge coverage, not the log).

    The hook only believes a verified log (SPEC §12, `tests/trust/test_anchor.py`); a
    hand-made state.json has no events behind it, so it is recorded as verified under the
    repo's current config bytes, as a real `log verify` run would record it.
    """
    from changeguard.changelog.verified import remember, trusted_fingerprint
    from changeguard.config.trusted import find_trusted
    from changeguard.git import Git

    trusted = find_trusted(Git(repo), ".changeguard.yaml", judge=False)
    remember(repo / ".git", tip, trusted_fingerprint(trusted))


def run_hook(cwd: Path, *args: str, now: str = NOW, importtime: bool = False,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The console script `changeguard-hook` as a real subprocess."""
    e = {k: v for k, v in os.environ.items() if k != "CHANGEGUARD_NOW"}
    e["CHANGEGUARD_NOW"] = now
    e.update(env or {})
    cmd = [sys.executable, *(["-X", "importtime"] if importtime else []), "-c",
           "from changeguard.hook import main; raise SystemExit(main())", *args]
    return subprocess.run(cmd, cwd=cwd, env=e, capture_output=True, text=True, timeout=60)


def imported(stderr: str) -> set[str]:
    """Top-level package names from `python -X importtime` output."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            names.add(name)
    return names


def heavy_in(mods: set[str]) -> set[str]:
    return {m for m in mods if m.split(".")[0] in HEAVY}


@pytest.fixture
def cfg_repo(repo: Path) -> Path:
    """The conftest repo plus a .changeguard.yaml guarding db/** and gateway/**."""
    (repo / ".changeguard.yaml").write_text(CONFIG)
    (repo / "db").mkdir()
    (repo / "db" / "main.yaml").write_text("v: 1\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "config")
    return repo


def stage(repo: Path, path: str, text: str) -> str:
    """Write and `git add` a file; return its blob id."""
    p = repo / path
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    git(repo, "add", "--", path)
    return blob_of(repo, text.encode())


# ------------------------------------------------------------------ start-up (issue 6 §3)


def test_unguarded_commit_imports_nothing_heavy(cfg_repo: Path) -> None:
    stage(cfg_repo, "docs/readme.md", "hello\n")
    p = run_hook(cfg_repo, importtime=True)
    assert p.returncode == 0, p.stderr
    mods = imported(p.stderr)
    assert "changeguard.hook" in mods  # the measurement itself works
    assert heavy_in(mods) == set()
    assert not {m for m in mods if m.startswith(("changeguard.report", "changeguard.model",
                                                 "changeguard.replication", "json", "argparse",
                                                 "hashlib"))}


def test_guarded_commit_imports_no_pydantic_typer_jsonschema_git(cfg_repo: Path) -> None:
    blob = stage(cfg_repo, "db/main.yaml", "v: 2\n")
    write_log(cfg_repo, [change("CHG-1", {"db/main.yaml": blob})])
    p = run_hook(cfg_repo, importtime=True)
    assert p.returncode == 0, p.stderr
    assert heavy_in(imported(p.stderr)) == set()
    stage(cfg_repo, "db/main.yaml", "v: 3\n")
    p = run_hook(cfg_repo, importtime=True)
    assert p.returncode == 1
    mods = imported(p.stderr)
    assert heavy_in(mods) == set()
    assert "changeguard.report.text" in mods


def test_no_config_exits_zero(repo: Path) -> None:
    stage(repo, "db/x.yaml", "a: 1\n")
    p = run_hook(repo, now="")  # no config: the default clock is real
    assert (p.returncode, p.stdout, p.stderr) == (0, "", "")
    p = run_hook(repo, "--format", "json", now="")
    assert json.loads(p.stdout) == {"ok": True, "findings": [],
                                    "summary": {"deny": 0, "warn": 0, "files": 0}}


# ------------------------------------------------------------------ coverage (SPEC §5)


def test_missing_log_says_how_to_submit(cfg_repo: Path) -> None:
    stage(cfg_repo, "db/main.yaml", "v: 2\n")
    p = run_hook(cfg_repo)
    assert p.returncode == 1
    assert "guarded-path-coverage" in p.stdout
    assert "refs/heads/changeguard/log does not exist yet" in p.stdout
    assert "changeguard submit" in p.stdout


def test_covered_file_passes(cfg_repo: Path) -> None:
    blob = stage(cfg_repo, "db/main.yaml", "v: 2\n")
    write_log(cfg_repo, [change("CHG-1", {"db/main.yaml": blob}, state="in_progress")])
    p = run_hook(cfg_repo)
    assert (p.returncode, p.stdout) == (0, ""), p.stdout + p.stderr


def test_staged_blob_must_equal_approved_blob(cfg_repo: Path) -> None:
    approved = blob_of(cfg_repo, b"v: 2\n")
    staged = stage(cfg_repo, "db/main.yaml", "v: 2 # tweak\n")
    write_log(cfg_repo, [change("CHG-1", {"db/main.yaml": approved})])
    p = run_hook(cfg_repo)
    assert p.returncode == 1
    assert f"blob differs: approved {approved[:12]}, staged {staged[:12]}" in p.stdout
    assert "CHG-1" in p.stdout
    # a new revision needs fresh approvals: every roster member may give one (not the author)
    assert "stage the approved content, or `changeguard submit` a new revision" in p.stdout
    assert "Ana <ana@example.org>, Bo <bo@example.org>, Cy <cy@example.org>" in p.stdout


@pytest.mark.parametrize(("now", "text"), [
    ("2026-04-05T00:59:59+08:00", "outside its window: opens 2026-04-05T01:00:00+08:00"),
    ("2026-04-05T05:00:01+08:00", "outside its window: closed 2026-04-05T05:00:00+08:00"),
])
def test_now_must_be_inside_the_window(cfg_repo: Path, now: str, text: str) -> None:
    blob = stage(cfg_repo, "db/main.yaml", "v: 2\n")
    write_log(cfg_repo, [change("CHG-1", {"db/main.yaml": blob})])
    p = run_hook(cfg_repo, now=now)
    assert p.returncode == 1
    assert text in p.stdout
    assert "commit inside the change's window" in p.stdout


def test_unapproved_change_names_who_can_approve(cfg_repo: Path) -> None:
    blob = stage(cfg_repo, "db/main.yaml", "v: 2\n")
    write_log(cfg_repo, [change("CHG-9", {"db/main.yaml": blob}, state="submitted",
                                risk="high", author="ana@example.org", requirements=[
                                    {"rule": "approvals-high-risk", "min": 2,
                                     "roles": ["dba"], "description": "x"}])])
    p = run_hook(cfg_repo)
    assert p.returncode == 1
    assert "CHG-9 (state is submitted, not approved)" in p.stdout
    # high risk needs a dba; the author (Ana) may not approve her own change
    assert "Bo <bo@example.org>" in p.stdout
    assert "Ana <" not in p.stdout and "Cy <" not in p.stdout


@pytest.mark.parametrize(("who", "listed", "absent"), [
    ("ana@example.org", "Bo <bo@example.org>, Cy <cy@example.org>", "Ana <"),
    ("bo@example.org", "Ana <ana@example.org>, Cy <cy@example.org>", "Bo <"),
])
def test_hint_never_suggests_the_committer_as_approver(cfg_repo: Path, who: str, listed: str,
                                                       absent: str) -> None:
    """Issue 12: with no change recorded yet, the one committing is the author-to-be."""
    stage(cfg_repo, "db/main.yaml", "v: 2\n")
    p = run_hook(cfg_repo, env={"GIT_AUTHOR_EMAIL": who})  # no log at all
    assert p.returncode == 1
    assert listed in p.stdout and absent not in p.stdout, p.stdout
    write_log(cfg_repo, [change("CHG-1", {"db/other.yaml": None})])  # a log, path unlisted
    p = run_hook(cfg_repo, env={"GIT_AUTHOR_EMAIL": who})
    assert p.returncode == 1
    assert listed in p.stdout and absent not in p.stdout, p.stdout


def test_hint_roles_come_from_the_recorded_requirements(cfg_repo: Path) -> None:
    """Issue 12: not a hard-coded copy of the default policy (high risk used to mean dba)."""
    blob = stage(cfg_repo, "db/main.yaml", "v: 2\n")
    net = [{"rule": "team-net", "min": 1, "roles": ["net"], "description": "net"}]
    write_log(cfg_repo, [change("CHG-7", {"db/main.yaml": blob}, state="submitted",
                                risk="high", author="bo@example.org", requirements=net)])
    p = run_hook(cfg_repo)
    assert p.returncode == 1
    want = "get `changeguard approve CHG-7 --revision 1` by Cy <cy@example.org>"
    assert want in p.stdout, p.stdout
    write_log(cfg_repo, [change("CHG-7", {"db/main.yaml": blob}, state="submitted",
                                risk="high", author="bo@example.org")])
    p = run_hook(cfg_repo)  # nothing recorded: any roster member but the author
    assert "by Ana <ana@example.org>, Cy <cy@example.org>" in p.stdout, p.stdout


def test_unlisted_file_reports_no_change(cfg_repo: Path) -> None:
    blob = stage(cfg_repo, "db/main.yaml", "v: 2\n")
    stage(cfg_repo, "gateway/gw.json", "{}\n")
    write_log(cfg_repo, [change("CHG-1", {"db/main.yaml": blob})])
    p = run_hook(cfg_repo, "--format", "json")
    assert p.returncode == 1
    out = json.loads(p.stdout)
    assert out["ok"] is False
    [f] = out["findings"]
    assert f["file"] == "gateway/gw.json" and f["rule"] == "guarded-path-coverage"
    assert "no change in the log lists it" in f["message"]


def test_config_freeze_blocks_and_emergency_warns(cfg_repo: Path) -> None:
    cfg = cfg_repo / ".changeguard.yaml"
    cfg.write_text(CONFIG + "freezes:\n  - {name: exams, start: 2026-04-01T00:00:00Z, "
                   "end: 2026-04-30T00:00:00Z, reason: exam period}\n")
    git(cfg_repo, "commit", "-qam", "freeze")  # the hook trusts the committed config
    blob = stage(cfg_repo, "db/main.yaml", "v: 2\n")
    write_log(cfg_repo, [change("CHG-1", {"db/main.yaml": blob})])
    p = run_hook(cfg_repo)
    assert p.returncode == 1
    assert "frozen: freeze 'exams'" in p.stdout and "exam period" in p.stdout
    write_log(cfg_repo, [change("CHG-1", {"db/main.yaml": blob}, type="emergency")])
    p = run_hook(cfg_repo)
    assert p.returncode == 0
    assert "emergency change CHG-1 proceeds during a freeze" in p.stdout


def test_log_freeze_until_is_respected(cfg_repo: Path) -> None:
    blob = stage(cfg_repo, "db/main.yaml", "v: 2\n")
    freeze = {"active": True, "reason": "incident 42", "until": "2026-04-05T03:00:00+08:00",
              "actor": "ana@example.org", "at": "2026-04-04T00:00:00Z"}
    write_log(cfg_repo, [change("CHG-1", {"db/main.yaml": blob})], freeze=freeze)
    p = run_hook(cfg_repo)
    assert p.returncode == 1
    assert "the line is frozen until 2026-04-05T03:00:00+08:00 (incident 42)" in p.stdout
    assert run_hook(cfg_repo, now="2026-04-05T03:30:00+08:00").returncode == 0


def test_deletion_and_rename_need_coverage(cfg_repo: Path) -> None:
    git(cfg_repo, "mv", "db/main.yaml", "db/renamed.yaml")
    p = run_hook(cfg_repo)
    assert p.returncode == 1
    assert "deletion of db/main.yaml" in p.stdout and "db/renamed.yaml" in p.stdout
    blob = blob_of(cfg_repo, b"v: 1\n")
    write_log(cfg_repo, [change("CHG-1", {"db/main.yaml": None, "db/renamed.yaml": blob})])
    p = run_hook(cfg_repo)
    assert p.returncode == 0, p.stdout


def test_spaces_and_non_ascii_paths(cfg_repo: Path) -> None:
    path = "db/réplica set/ノード 1.yaml"
    blob = stage(cfg_repo, path, "v: 1\n")
    p = run_hook(cfg_repo)
    assert p.returncode == 1 and path in p.stdout
    write_log(cfg_repo, [change("CHG-1", {path: blob})])
    assert run_hook(cfg_repo).returncode == 0


def test_plan_files_are_judged_as_plans_unless_guarded(cfg_repo: Path) -> None:
    cfg = cfg_repo / ".changeguard.yaml"
    cfg.write_text(CONFIG.replace('plans: "changes/*.yaml"', 'plans: "db/plans/*.yaml"'))
    git(cfg_repo, "commit", "-qam", "plans")  # the hook trusts the committed config
    git(cfg_repo, "rm", "-q", "--cached", "db/main.yaml")
    p = run_hook(cfg_repo)
    assert p.returncode == 1  # db/main.yaml is guarded, not a plan
    # SPEC §12: a `plans:` glob over guarded files does not unguard them (attack 14b)
    cfg.write_text(CONFIG.replace('plans: "changes/*.yaml"', 'plans: "db/*.yaml"'))
    git(cfg_repo, "commit", "-q", "-m", "plans", "--", ".changeguard.yaml")
    p = run_hook(cfg_repo)
    assert p.returncode == 1 and "deletion of db/main.yaml is guarded" in p.stdout


# ------------------------------------------------------------------ git corner cases (§4)


def test_initial_commit_on_an_unborn_branch(tmp_path: Path, git_env: dict[str, str]) -> None:
    r = tmp_path / "fresh"
    git(tmp_path, "init", "-q", "-b", "main", str(r))
    stage(r, ".changeguard.yaml", CONFIG)
    stage(r, "db/main.yaml", "v: 1\n")
    # before the first commit nothing is trusted (SPEC §12): the repo's first commit lands
    assert run_hook(r).returncode == 0
    git(r, "commit", "-q", "-m", "init")
    stage(r, "db/main.yaml", "v: 2\n")
    p = run_hook(r)
    assert p.returncode == 1 and "db/main.yaml is guarded" in p.stdout


def test_subdirectory_and_relative_file_args(cfg_repo: Path) -> None:
    stage(cfg_repo, "db/main.yaml", "v: 2\n")
    (cfg_repo / "db" / "sub").mkdir()
    p = run_hook(cfg_repo / "db" / "sub", "../main.yaml")
    assert p.returncode == 1 and "db/main.yaml" in p.stdout
    p = run_hook(cfg_repo / "db", "/etc/passwd")
    assert p.returncode == 2 and "outside the repository" in p.stderr


def test_leaked_git_dir_of_another_repo_is_ignored(cfg_repo: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    git(tmp_path, "init", "-q", str(other))
    stage(cfg_repo, "db/main.yaml", "v: 2\n")
    leaked = {"GIT_DIR": str(other / ".git"), "GIT_INDEX_FILE": str(other / ".git" / "index"),
              "GIT_WORK_TREE": str(other)}
    p = run_hook(cfg_repo, env=leaked)
    assert p.returncode == 1 and "db/main.yaml" in p.stdout, p.stderr


def _leaked(env: dict[str, str]) -> dict[str, str]:
    """What clean_env passed on, minus the two variables it always sets."""
    assert env.pop("GIT_TERMINAL_PROMPT") == "0" and env.pop("LC_ALL") == "C"
    return env


def test_clean_env_keeps_what_git_sets_for_hooks(tmp_path: Path, cfg_repo: Path) -> None:
    leaked = {"GIT_INDEX_FILE": ".git/index.lock", "GIT_EXEC_PATH": "/x", "GIT_PREFIX": "",
              "GIT_OBJECT_DIRECTORY": "/elsewhere", "PATH": "/bin"}
    env = clean_env(cfg_repo, "staged", leaked, cwd=cfg_repo)
    assert _leaked(env) == {"GIT_INDEX_FILE": str((cfg_repo / ".git" / "index.lock").resolve()),
                            "GIT_EXEC_PATH": "/x", "PATH": "/bin"}
    # the one rule: plumbing (log, revisions, identity) never sees an index, even our own
    assert _leaked(clean_env(cfg_repo, "plumbing", leaked, cwd=cfg_repo)) == {
        "GIT_EXEC_PATH": "/x", "PATH": "/bin"}
    env = clean_env(cfg_repo, "staged", {"GIT_INDEX_FILE": str(tmp_path / "x" / "index")},
                    cwd=cfg_repo)
    assert _leaked(env) == {}


def install(repo: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "changeguard", "install-hook", *extra],
                          cwd=repo, capture_output=True, text=True, timeout=60)


def commit(repo: Path, *args: str, now: str = NOW) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, CHANGEGUARD_NOW=now)
    return subprocess.run(["git", "commit", "-q", "-m", "change", *args], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=60)


def test_bare_git_hook_respects_the_index_being_committed(cfg_repo: Path) -> None:
    assert install(cfg_repo).returncode == 0
    approved = stage(cfg_repo, "db/main.yaml", "v: 2\n")
    write_log(cfg_repo, [change("CHG-1", {"db/main.yaml": approved})])
    (cfg_repo / "db" / "main.yaml").write_text("v: 3\n")  # unstaged edit
    p = commit(cfg_repo, "-a")  # commits v: 3 through GIT_INDEX_FILE=index.lock
    assert p.returncode == 1 and "blob differs" in p.stdout + p.stderr
    p = commit(cfg_repo, "db/main.yaml")  # partial commit: next-index-*.lock
    assert p.returncode == 1
    p = commit(cfg_repo)  # the index holds the approved v: 2
    assert p.returncode == 0, p.stdout + p.stderr
    assert git(cfg_repo, "show", "HEAD:db/main.yaml") == "v: 2\n"


def test_worktree_uses_common_hooks_and_its_own_index(cfg_repo: Path, tmp_path: Path) -> None:
    assert install(cfg_repo).returncode == 0
    wt = tmp_path / "wt"
    git(cfg_repo, "worktree", "add", "-q", "-b", "side", str(wt))
    blob = stage(wt, "db/main.yaml", "v: 5\n")
    p = commit(wt)
    assert p.returncode == 1 and "db/main.yaml" in p.stdout + p.stderr
    write_log(cfg_repo, [change("CHG-1", {"db/main.yaml": blob})])
    assert commit(wt).returncode == 0


def test_merge_commit_is_judged_against_its_first_parent(cfg_repo: Path) -> None:
    assert install(cfg_repo).returncode == 0
    git(cfg_repo, "switch", "-q", "-c", "side")
    blob = stage(cfg_repo, "db/main.yaml", "v: 2\n")
    write_log(cfg_repo, [change("CHG-1", {"db/main.yaml": blob})])
    assert commit(cfg_repo).returncode == 0
    git(cfg_repo, "switch", "-q", "main")
    stage(cfg_repo, "notes.txt", "x\n")
    assert commit(cfg_repo).returncode == 0
    # inside CHG-1's window the merged content is covered like any other commit of it
    git(cfg_repo, "merge", "-q", "--no-commit", "side")
    assert commit(cfg_repo).returncode == 0, "covered merge refused"
    # days later the content still changes what HEAD (the first parent) holds (SPEC §12)
    later = "2026-05-01T12:00:00+08:00"
    git(cfg_repo, "reset", "-q", "--hard", "HEAD~1")
    git(cfg_repo, "merge", "-q", "--no-commit", "side")
    p = commit(cfg_repo, now=later)
    assert p.returncode == 1 and "outside its window: closed" in p.stdout + p.stderr
    # an evil merge (content on neither parent) is judged too
    stage(cfg_repo, "db/main.yaml", "v: 99\n")
    p = commit(cfg_repo, now=later)
    assert p.returncode == 1 and "blob differs" in p.stdout + p.stderr


def test_install_hook_refuses_foreign_hook_and_chains_it(cfg_repo: Path) -> None:
    hooks = cfg_repo / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    foreign = hooks / "pre-commit"
    foreign.write_text("#!/bin/sh\necho legacy-ran; exit ${LEGACY_RC:-0}\n")
    foreign.chmod(0o755)
    p = install(cfg_repo)
    assert p.returncode == 1 and "--force" in p.stderr
    assert "legacy-ran" in foreign.read_text()
    p = install(cfg_repo, "--force")
    assert p.returncode == 0, p.stderr
    assert (hooks / "pre-commit.legacy").read_text().startswith("#!/bin/sh\necho legacy-ran")
    assert install(cfg_repo).returncode == 0  # ours: updated in place, idempotent
    stage(cfg_repo, "docs/x.md", "x\n")
    env = dict(os.environ, LEGACY_RC="3")
    p = subprocess.run(["git", "commit", "-q", "-m", "x"], cwd=cfg_repo, env=env,
                       capture_output=True, text=True)
    assert p.returncode != 0 and "legacy-ran" in p.stderr  # git sends hook output to stderr
    p = commit(cfg_repo)
    assert p.returncode == 0 and "legacy-ran" in p.stderr


def test_install_hook_respects_core_hooks_path(cfg_repo: Path) -> None:
    git(cfg_repo, "config", "core.hooksPath", "ci hooks")
    assert install(cfg_repo).returncode == 0
    assert (cfg_repo / "ci hooks" / "pre-commit").is_file()
    assert not (cfg_repo / ".git" / "hooks" / "pre-commit").exists()
    stage(cfg_repo, "db/main.yaml", "v: 2\n")
    p = commit(cfg_repo)
    assert p.returncode == 1 and "guarded-path-coverage" in p.stdout + p.stderr


# ------------------------------------------------------------------ staged content (§2a, §2b)

TOPOLOGY = """\
apiVersion: changeguard/v1
kind: ReplicationTopology
name: apac-gateway
engine: postgresql
nodes:
  - {name: db1, role: primary, host: sg-db1, zone: sg-a}
  - {name: db2, role: replica, host: sg-db2, zone: sg-b, upstream: db1}
"""


@pytest.fixture
def mapped_repo(cfg_repo: Path) -> Path:
    """cfg_repo with native topologies mapped under topo/ (not guarded)."""
    (cfg_repo / ".changeguard.yaml").write_text(
        CONFIG + 'schemas:\n  - {paths: ["topo/*.yaml"], schema: builtin:replication-topology}\n')
    stage(cfg_repo, "topo/gw.yaml", TOPOLOGY)
    git(cfg_repo, "commit", "-q", "-am", "topology")
    return cfg_repo


def test_mapped_file_is_judged_on_its_staged_content(mapped_repo: Path) -> None:
    stage(mapped_repo, "topo/gw.yaml", TOPOLOGY.replace("role: replica", "role: primary"))
    (mapped_repo / "topo" / "gw.yaml").write_text(TOPOLOGY)  # the work tree is fine
    p = run_hook(mapped_repo, importtime=True)
    assert p.returncode == 1
    assert "topo/gw.yaml:7: replication-single-primary" in p.stdout
    # native topologies are checked without pydantic/jsonschema (issue 6 §3)
    assert heavy_in(imported(p.stderr)) == set()
    git(mapped_repo, "add", "topo/gw.yaml")
    p = run_hook(mapped_repo)
    assert (p.returncode, p.stdout) == (0, "")


def test_unparsable_mapped_file_exits_2_after_reporting_others(mapped_repo: Path) -> None:
    stage(mapped_repo, "topo/bad.yaml", "nodes: [unclosed\n")
    stage(mapped_repo, "db/main.yaml", "v: 9\n")
    p = run_hook(mapped_repo)
    assert p.returncode == 2
    assert "error: topo/bad.yaml:" in p.stderr and "not valid YAML" in p.stderr
    assert "guarded-path-coverage" in p.stdout  # still judged


def test_all_files_mode_validates_unstaged_arguments_from_the_index(mapped_repo: Path) -> None:
    # `pre-commit run --all-files` passes every file while nothing is staged
    (mapped_repo / "topo" / "gw.yaml").write_text("not: [valid\n")  # work tree only
    p = run_hook(mapped_repo, "topo/gw.yaml", "README")
    assert (p.returncode, p.stdout) == (0, ""), p.stderr


PLAN = """\
apiVersion: changeguard/v1
kind: ChangePlan
id: CHG-1
title: bump db
author: dee@example.org
type: normal
risk: extreme
window: {start: 2026-04-05T01:00:00+08:00, end: 2026-04-05T05:00:00+08:00}
changes: [{path: db/main.yaml}]
"""


def test_staged_plan_is_validated(cfg_repo: Path) -> None:
    stage(cfg_repo, "changes/CHG-1.yaml", PLAN)
    p = run_hook(cfg_repo)
    assert p.returncode == 1
    assert "changes/CHG-1.yaml:7: plan-schema" in p.stdout
    stage(cfg_repo, "changes/CHG-1.yaml", PLAN.replace("kind: ChangePlan", "kind: Other"))
    p = run_hook(cfg_repo)
    assert p.returncode == 2 and "error: changes/CHG-1.yaml:2: kind is 'Other'" in p.stderr


def test_check_staged_cli_runs_the_same_check(cfg_repo: Path, run_cli: RunCli) -> None:
    stage(cfg_repo, "db/main.yaml", "v: 2\n")
    r = run_cli("check", "--staged", "--now", NOW, "--format", "json", cwd=cfg_repo)
    assert r.code == 1, r.err
    assert json.loads(r.out)["findings"][0]["rule"] == "guarded-path-coverage"
    git(cfg_repo, "reset", "-q")
    r = run_cli("check", "--staged", cwd=cfg_repo)
    # issue 12: an empty staged set says so instead of printing nothing
    assert (r.code, r.out, r.err) == (0, "", "nothing staged to check\n")


def test_bad_config_is_exit_2_with_its_line(cfg_repo: Path) -> None:
    (cfg_repo / ".changeguard.yaml").write_text(CONFIG + "freezes:\n  - {name: x, start: "
                                                "2026-04-01T00:00:00, end: 2026-05-01}\n")
    git(cfg_repo, "commit", "-qam", "bad freeze")  # the hook trusts the committed config
    stage(cfg_repo, "docs/x.md", "x\n")
    p = run_hook(cfg_repo)
    assert p.returncode == 2
    # the same message as every other command (issue 13 §2: one config reading)
    assert ("error: .changeguard.yaml:12: freezes.0.start: '2026-04-01T00:00:00' has no "
            "timezone offset") in p.stderr


def test_staged_config_cannot_drop_a_guard_in_the_same_commit(cfg_repo: Path) -> None:
    stage(cfg_repo, ".changeguard.yaml", CONFIG.replace('"db/**", ', ""))
    stage(cfg_repo, "db/main.yaml", "v: 2\n")
    p = run_hook(cfg_repo)
    assert p.returncode == 1 and "db/main.yaml is guarded" in p.stdout
    git(cfg_repo, "commit", "-q", "--no-verify", "-m", "unguard db")
    stage(cfg_repo, "db/main.yaml", "v: 3\n")  # the next commit follows the new config
    assert run_hook(cfg_repo).returncode == 0


def test_staged_config_is_validated_in_full(cfg_repo: Path) -> None:
    stage(cfg_repo, ".changeguard.yaml", CONFIG + "guardd: [x]\n")
    p = run_hook(cfg_repo)
    assert p.returncode == 2
    # the trusted config is fine; the staged one is checked in full (issue 13 §2)
    assert "error: .changeguard.yaml:11: staged config: unknown key 'guardd'" in p.stderr
    assert "did you mean 'guarded'?" in p.stderr


# ------------------------------------------------------------------ end to end with the log CLI

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "incident-2016"
PLAN_ID = "CHG-2016-0403-storage"


def test_submit_approve_then_commit(repo: Path, run_cli: RunCli) -> None:
    import shutil

    shutil.copytree(EXAMPLE, repo, dirs_exist_ok=True)
    plan = repo / "changes" / f"{PLAN_ID}.yaml"
    plan.write_text((repo / "changes" / f"{PLAN_ID}-v2.yaml").read_text())
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "config repo")
    assert install(repo).returncode == 0
    topo = repo / "db" / "apac-gateway.topology.yaml"
    topo.write_text(topo.read_text().replace("host: sg-db2", "host: sg-db2-new"))
    git(repo, "add", "db")
    in_window = "2016-04-03T02:00:00+08:00"
    p = commit(repo, now=in_window)
    assert p.returncode == 1 and "does not exist yet" in p.stderr

    r = run_cli("submit", str(plan), "--now", "2016-03-30T10:00:00+08:00", cwd=repo)
    assert r.code == 0, r.err
    p = commit(repo, now=in_window)
    assert p.returncode == 1 and f"{PLAN_ID} (state is submitted, not approved)" in p.stderr
    assert "Dev <dev@example.org>, Ravi <ravi@example.org>" in p.stderr  # the dba holders
    for who in ("dev@example.org", "ravi@example.org"):
        r = run_cli("approve", PLAN_ID, "--revision", "1", "--now", "2016-03-31T10:00:00+08:00",
                    cwd=repo,
                    env={"GIT_AUTHOR_EMAIL": who})
        assert r.code == 0, r.err
    p = commit(repo, now="2016-04-03T06:30:00+08:00")
    assert p.returncode == 1 and "outside its window: closed" in p.stderr
    topo.write_text(topo.read_text() + "# unreviewed tweak\n")
    git(repo, "add", "db")
    p = commit(repo, now=in_window)
    assert p.returncode == 1 and "blob differs: approved" in p.stderr
    git(repo, "checkout", "-q", "HEAD", "--", "db")
    topo.write_text(topo.read_text().replace("host: sg-db2", "host: sg-db2-new"))
    git(repo, "add", "db")
    p = commit(repo, now=in_window)
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize("limit", [1000, 1])
def test_read_log_finds_listing_changes(cfg_repo: Path, limit: int,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from changeguard.config.light import LightConfig
    from changeguard.git import Git
    from changeguard.hook import coverage as hook

    monkeypatch.setattr(hook, "MAX_PATHSPECS", limit)  # 1: the mass-change `ls-tree -r` path
    write_log(cfg_repo, [change("CHG-1", {"db/a.yaml": None, "db/b c.yaml": None}),
                         change("CHG-2", {"db/b c.yaml": None, "db/other.yaml": None})])
    view = hook.read_log(Git(cfg_repo), LightConfig(),
                         ["db/a.yaml", "db/b c.yaml", "db/none.yaml"])
    assert view is not None
    assert {p: sorted(ids) for p, ids in view.listed.items()} == {
        "db/a.yaml": ["CHG-1"], "db/b c.yaml": ["CHG-1", "CHG-2"], "db/none.yaml": []}
    assert set(view.states) == {"CHG-1", "CHG-2"} and view.freeze is None
    assert hook.read_log(Git(cfg_repo), LightConfig(log_ref="refs/heads/nope"),
                         ["db/a.yaml"]) is None


def test_symlink_under_a_mapped_path_is_not_parsed(mapped_repo: Path) -> None:
    (mapped_repo / "topo" / "link.yaml").symlink_to("gw.yaml")
    git(mapped_repo, "add", "topo/link.yaml")
    p = run_hook(mapped_repo)
    assert (p.returncode, p.stderr) == (0, "")


def test_clean_env_keeps_a_worktrees_git_dir(cfg_repo: Path, tmp_path: Path) -> None:
    wt = tmp_path / "wt"
    git(cfg_repo, "worktree", "add", "-q", "-b", "w", str(wt))
    gd = (cfg_repo / ".git" / "worktrees" / "wt").resolve()
    env = clean_env(wt, "staged", {"GIT_DIR": str(gd), "GIT_INDEX_FILE": str(gd / "index")},
                    cwd=wt)
    assert _leaked(env) == {"GIT_DIR": str(gd), "GIT_INDEX_FILE": str(gd / "index")}
    # the same variables leaking into a run on the main work tree are dropped
    assert _leaked(clean_env(cfg_repo, "staged", {"GIT_DIR": str(gd)}, cwd=cfg_repo)) == {}
    index = gd / "index"
    assert _leaked(clean_env(cfg_repo, "staged", {"GIT_INDEX_FILE": str(index)},
                             cwd=cfg_repo)) == {}


def test_fast_path_runs_one_git_command_and_never_reads_the_log(cfg_repo: Path,
                                                                tmp_path: Path) -> None:
    trace = tmp_path / "trace.txt"
    stage(cfg_repo, "docs/readme.md", "hello\n")
    p = run_hook(cfg_repo, env={"GIT_TRACE": str(trace)})
    assert p.returncode == 0, p.stderr
    commands = [line.split("trace: built-in: ", 1)[1] for line in trace.read_text().splitlines()
                if "trace: built-in: " in line]
    # one `cat-file --batch` reads the trusted config (SPEC §12), one `diff` the index
    assert [c.split()[1] for c in commands] == ["cat-file", "diff"], commands
    trace.unlink()
    blob = stage(cfg_repo, "db/main.yaml", "v: 2\n")
    write_log(cfg_repo, [change("CHG-1", {"db/main.yaml": blob})])
    assert run_hook(cfg_repo, env={"GIT_TRACE": str(trace)}).returncode == 0
    commands = [line.split("trace: built-in: ", 1)[1] for line in trace.read_text().splitlines()
                if "trace: built-in: " in line]
    # trusted config, staged set, the log tip (it verified: one file read, no git); the
    # log's trees and blobs come through the first `cat-file`, kept open for the run
    assert [c.split()[1] for c in commands] == ["cat-file", "diff", "for-each-ref"]
