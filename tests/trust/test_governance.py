"""SPEC §12 governance: roster edits need trusted approvals; events judged under their config.

Each attack goes through the real CLI and real git: config commits land on (or stay off) the
trusted branch `main`, writers pick an old or foreign config with `--trusted-rev`, and the log
is rewritten with plumbing where an attacker (or an older changeguard) would write it.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import git
from tests.helpers.changelog import (
    IN_WINDOW,
    NOW,
    PLAN_ID,
    Cg,
    cg,
    config,
    make_repo,
    plan,
    plan_path,
    verify,
    write_plan,
)
from tests.helpers.plans import write_yaml

__all__ = ["cg"]
REF = "refs/heads/changeguard/log"
GOV_ID = "CHG-2016-0405-roster"
ZED = "zed@example.org"
LATER = "2016-03-29T10:00:00+08:00"


def _gov_plan(repo: Path) -> str:
    """A plan that edits the roster (`.changeguard.yaml`), committed; the edit is not."""
    rel = write_plan(repo, plan(id=GOV_ID, title="Add Zed to the roster",
                                changes=[{"path": ".changeguard.yaml", "summary": "add zed"}]))
    git(repo, "add", rel)
    git(repo, "commit", "-q", "-m", "plan roster change", "--", rel)
    cfg = config()
    cfg["reviewers"].append({"email": ZED, "name": "Zed", "roles": ["dba", "cab"]})
    write_yaml(repo / ".changeguard.yaml", cfg)  # proposed content, not yet trusted
    return rel


def _state(cg: Cg, repo: Path, change: str) -> dict[str, Any]:
    r = cg(repo, "show", change, "--format", "json")
    assert r.code == 0, r.err
    data: dict[str, Any] = json.loads(r.out)
    return data


def _commit_config(repo: Path, cfg: dict[str, Any], msg: str, date: str | None = None) -> str:
    """Land a config change on main (the trusted branch); `date` pins its committer time."""
    write_yaml(repo / ".changeguard.yaml", cfg)
    env = dict(os.environ)
    if date is not None:
        env.update(GIT_COMMITTER_DATE=date, GIT_AUTHOR_DATE=date)
    subprocess.run(["git", "commit", "-q", "-m", msg, "--", ".changeguard.yaml"], cwd=repo,
                   env=env, check=True)
    return git(repo, "rev-parse", "HEAD").strip()


def _submitted(tmp_path: Path, cg: Cg) -> tuple[Path, str]:
    """A repo whose plan PLAN_ID is submitted under the first config; that config's sha."""
    repo = make_repo(tmp_path / "cfg")
    old = git(repo, "rev-parse", "HEAD").strip()
    assert cg(repo, "submit", plan_path(), "--now", NOW).code == 0
    return repo, old


def _without_dev() -> dict[str, Any]:
    cfg = config()
    cfg["reviewers"] = [r for r in cfg["reviewers"] if r["email"] != "dev@example.org"]
    return cfg


def _trailers(repo: Path, key: str) -> list[str]:
    out = git(repo, "log", "--reverse", REF, f"--format=%(trailers:key={key},valueonly)|")
    return [x.strip() for x in out.split("|")[:-1]]


# --------------------------------------------------------------- governance changes


def test_attack_reviewer_added_by_the_change_cannot_approve_it(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    repo = make_repo(tmp_path / "cfg")
    rel = _gov_plan(repo)
    res = cg(repo, "submit", rel, "--now", NOW)
    assert res.code == 0, res.err
    assert "approvals-governance" in res.out
    # zed is on the roster the change proposes, not on the trusted one
    res = cg(repo, "approve", GOV_ID, "--revision", "1", "--now", NOW, email=ZED)
    assert res.code == 1 and "roster" in res.err
    assert [a["actor"] for a in _state(cg, repo, GOV_ID)["approvals"]] == []
    assert verify(cg, repo)["ok"]


def test_attack_roster_edit_needs_two_trusted_approvals(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    repo = make_repo(tmp_path / "cfg")
    rel = _gov_plan(repo)
    assert cg(repo, "submit", rel, "--now", NOW).code == 0
    # a medium-risk change needs one approval, but a governance change two, not the author's
    assert cg(repo, "approve", GOV_ID, "--revision", "1", "--now", NOW).code == 1
    assert cg(repo, "approve", GOV_ID, "--revision", "1", "--now", NOW,
              email="dev@example.org").code == 0
    state = _state(cg, repo, GOV_ID)
    assert state["state"] == "submitted"
    text = cg(repo, "show", GOV_ID).out
    assert "approvals-governance: needs 1 more approval(s)" in text
    assert cg(repo, "start", GOV_ID, "--now", IN_WINDOW).code == 1
    assert cg(repo, "approve", GOV_ID, "--revision", "1", "--now", NOW,
              email="chen@example.org").code == 0
    assert _state(cg, repo, GOV_ID)["state"] == "approved"
    assert verify(cg, repo)["ok"]


def test_attack_config_at_a_custom_path_is_governance_too(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    """`--config ops/guard.yaml`: that file, not `.changeguard.yaml`, is the governance one."""
    repo = make_repo(tmp_path / "cfg")
    (repo / "ops").mkdir()
    git(repo, "mv", ".changeguard.yaml", "ops/guard.yaml")
    git(repo, "commit", "-q", "-m", "config moves to ops/")
    rel = write_plan(repo, plan(id=GOV_ID, title="Add Zed to the roster",
                                changes=[{"path": "ops/guard.yaml", "summary": "add zed"}]))
    git(repo, "add", rel)
    git(repo, "commit", "-q", "-m", "plan roster change", "--", rel)
    cfg = config()
    cfg["reviewers"].append({"email": ZED, "name": "Zed", "roles": ["dba", "cab"]})
    write_yaml(repo / "ops" / "guard.yaml", cfg)
    opt = ("--config", "ops/guard.yaml")
    assert cg(repo, *opt, "submit", rel, "--now", NOW).code == 0
    assert cg(repo, *opt, "approve", GOV_ID, "--revision", "1", "--now", NOW,
              email="dev@example.org").code == 0
    shown = cg(repo, *opt, "show", GOV_ID)
    assert "approvals-governance: needs 1 more approval(s)" in shown.out, shown.out


def test_ordinary_change_does_not_need_governance_approvals(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    repo, _ = _submitted(tmp_path, cg)
    assert cg(repo, "approve", PLAN_ID, "--revision", "1", "--now", NOW,
              email="dev@example.org").code == 0
    assert _state(cg, repo, PLAN_ID)["state"] == "approved"


def test_explain_approvals_governance(tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    repo = make_repo(tmp_path / "cfg")
    res = cg(repo, "explain", "approvals-governance")
    assert res.code == 0 and "two distinct" in res.out


# --------------------------------------------------------------- events under their config


def test_attack_event_under_a_config_not_on_the_trusted_branch(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    repo, _ = _submitted(tmp_path, cg)
    # a PR branch brings its own roster and its author approves under it
    git(repo, "checkout", "-q", "-b", "pr")
    cfg = config()
    cfg["reviewers"].append({"email": ZED, "roles": ["dba"]})
    pr = _commit_config(repo, cfg, "add zed (unreviewed)")
    git(repo, "checkout", "-q", "main")
    res = cg(repo, "--trusted-rev", "pr", "approve", PLAN_ID, "--revision", "1", "--now", NOW,
             email=ZED)
    assert res.code == 0, res.err  # the writer believed the PR; the judge does not
    forged = git(repo, "rev-parse", REF).strip()
    assert _trailers(repo, "Changeguard-Config")[-1] == pr
    rep = verify(cg, repo)
    assert not rep["ok"]
    assert any(p["commit"] == forged and "not on the trusted branch" in p["message"]
               for p in rep["problems"])
    res = cg(repo, "log", "verify")
    assert res.code == 1 and forged in res.err


def test_attack_revoked_reviewer_keeps_approving_under_old_config(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    repo, old = _submitted(tmp_path, cg)
    # dev is revoked on main a day after the submit (committer time pinned on the timeline)
    _commit_config(repo, _without_dev(), "revoke dev", date="2016-03-28T10:00:00+08:00")
    assert cg(repo, "approve", PLAN_ID, "--revision", "1", "--now", LATER,
              email="dev@example.org").code == 1
    # ... so dev writes under the config that still listed them
    res = cg(repo, "--trusted-rev", old, "approve", PLAN_ID, "--revision", "1", "--now", LATER,
             email="dev@example.org")
    assert res.code == 0, res.err
    bad = git(repo, "rev-parse", REF).strip()
    rep = verify(cg, repo)
    assert rep["problems"] and rep["problems"][0]["commit"] == bad
    assert "already had the newer config version" in rep["problems"][0]["message"]
    assert cg(repo, "log", "verify").code == 1


def test_attack_backdated_event_under_old_config_version(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    repo, old = _submitted(tmp_path, cg)
    seen = git(repo, "rev-parse", REF).strip()
    # the revocation lands later (real committer time) and records the log tip it saw
    write_yaml(repo / ".changeguard.yaml", _without_dev())
    git(repo, "commit", "-q", "-m", f"revoke dev\n\nChangeguard-Log: {seen}",
        "--", ".changeguard.yaml")
    # dev back-dates an approval to before the revocation, under the old config
    res = cg(repo, "--trusted-rev", old, "approve", PLAN_ID, "--revision", "1", "--now", NOW,
             email="dev@example.org")
    assert res.code == 0, res.err
    bad = git(repo, "rev-parse", REF).strip()
    rep = verify(cg, repo)
    assert [p["commit"] for p in rep["problems"]] == [bad]
    assert "log tip this event descends from" in rep["problems"][0]["message"]


def test_attack_event_older_than_an_earlier_events_config(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    repo, old = _submitted(tmp_path, cg)
    cfg = config()
    cfg["reviewers"].append({"email": ZED, "roles": []})
    _commit_config(repo, cfg, "add zed", date="2030-01-01T00:00:00+00:00")
    assert cg(repo, "approve", PLAN_ID, "--revision", "1", "--now", NOW,
              email="chen@example.org").code == 0
    res = cg(repo, "--trusted-rev", old, "freeze", "--reason", "x", "--now", NOW,
             email="dev@example.org")
    assert res.code == 0, res.err
    bad = git(repo, "rev-parse", REF).strip()
    rep = verify(cg, repo)
    assert [p["commit"] for p in rep["problems"]] == [bad]
    assert "an earlier event" in rep["problems"][0]["message"]


def test_roster_change_later_never_flags_older_events(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    repo, old = _submitted(tmp_path, cg)
    assert cg(repo, "approve", PLAN_ID, "--revision", "1", "--now", NOW,
              email="dev@example.org").code == 0
    new = _commit_config(repo, _without_dev(), "revoke dev")
    assert cg(repo, "freeze", "--reason", "x", "--now", NOW, email="chen@example.org").code == 0
    assert _trailers(repo, "Changeguard-Config") == [old, old, new]
    assert verify(cg, repo) == {"ok": True, "events": 3, "problems": []}
    # a commit touching no governance file keeps the config version: both are fine
    (repo / "NOTES").write_text("more\n")
    git(repo, "add", "NOTES")
    git(repo, "commit", "-q", "-m", "docs", "--", "NOTES")
    assert cg(repo, "unfreeze", "--now", NOW, email="chen@example.org").code == 0
    assert cg(repo, "--trusted-rev", new, "freeze", "--reason", "y", "--now", NOW,
              email="chen@example.org").code == 0
    assert verify(cg, repo)["ok"]


def test_trailer_on_every_event_kind(tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    repo, old = _submitted(tmp_path, cg)
    steps = [("approve", PLAN_ID, "dev@example.org", ("--revision", "1")),
             ("start", PLAN_ID, "ana@example.org", ()),
             ("rollback", PLAN_ID, "ana@example.org", ("--reason", "lag")),
             ("review", PLAN_ID, "dev@example.org", ("--comment", "ok")),
             ("freeze", None, "chen@example.org", ("--reason", "x")),
             ("unfreeze", None, "chen@example.org", ())]
    for kind, change, who, extra in steps:
        when = IN_WINDOW if kind in ("start", "rollback") else NOW
        args = [kind, *([change] if change else []), *extra, "--now", when]
        res = cg(repo, *args, email=who)
        assert res.code == 0, (kind, res.err)
    for n, (kind, arg) in enumerate((("reject", "--reason"), ("cancel", "--reason"))):
        cid = f"CHG-2016-041{2 + n}-{kind}"
        write_plan(repo, plan(id=cid, services=[kind],
                              changes=[{"path": f"db/{kind}.yaml", "summary": "x"}]))
        assert cg(repo, "submit", plan_path(cid), "--now", NOW).code == 0
        who = "dev@example.org" if kind == "reject" else "ana@example.org"
        res = cg(repo, kind, cid, *(["--revision", "1"] if kind == "reject" else []), arg,
                 "no", "--now", NOW, email=who)
        assert res.code == 0, (kind, res.err)
    write_plan(repo, plan(id="CHG-2016-0411-done", services=["third"],
                          changes=[{"path": "db/third.yaml", "summary": "x"}]))
    for args, who in ((("submit", plan_path("CHG-2016-0411-done")), "ana@example.org"),
                      (("approve", "CHG-2016-0411-done", "--revision", "1"), "dev@example.org"),
                      (("start", "CHG-2016-0411-done"), "ana@example.org"),
                      (("complete", "CHG-2016-0411-done", "--verified", "lag ok"),
                       "ana@example.org")):
        when = IN_WINDOW if args[0] in ("start", "complete") else NOW
        res = cg(repo, *args, "--now", when, email=who)
        assert res.code == 0, (args, res.err)
    kinds = _trailers(repo, "Changeguard-Event")
    assert set(kinds) == {"submit", "approve", "start", "rollback", "review", "freeze",
                          "unfreeze", "reject", "cancel", "complete"}
    assert _trailers(repo, "Changeguard-Config") == [old] * len(kinds)
    assert verify(cg, repo)["ok"]


# --------------------------------------------------------------- logs of older versions


def _legacy_tree(repo: Path, sha: str) -> str:
    """`sha`'s tree without the records of event commits (older writers wrote none, and a
    record names the commits this rewrite replaces)."""
    env = dict(os.environ, GIT_INDEX_FILE=str(repo / ".git" / "legacy-index"))
    for args in (["read-tree", f"{sha}^{{tree}}"],
                 ["rm", "-q", "--cached", "--ignore-unmatch", ":(glob)changes/*/*/commits"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)
    return subprocess.run(["git", "write-tree"], cwd=repo, env=env, check=True,
                          capture_output=True, text=True).stdout.strip()


def _strip_trailers(repo: Path, keep_last: int = 0) -> list[str]:
    """Rewrite the log as an older changeguard wrote it: same trees, no Changeguard-Config
    (the newest `keep_last` commits keep theirs); the reflog of the rewrite is dropped."""
    shas = git(repo, "rev-list", "--reverse", REF).split()
    parent: str | None = None
    out: list[str] = []
    for i, sha in enumerate(shas):
        msg = git(repo, "log", "-1", "--format=%B", sha)
        if i < len(shas) - keep_last:
            msg = "".join(line + "\n" for line in msg.splitlines()
                          if not line.startswith("Changeguard-Config:"))
        env = dict(os.environ)
        for k, fmt in (("GIT_AUTHOR_NAME", "%an"), ("GIT_AUTHOR_EMAIL", "%ae"),
                       ("GIT_AUTHOR_DATE", "%ad")):
            env[k] = git(repo, "log", "-1", f"--format={fmt}", sha).strip()
        args = ["git", "commit-tree", _legacy_tree(repo, sha), *(["-p", parent] if parent else [])]
        parent = subprocess.run(args, cwd=repo, env=env, input=msg, text=True,
                                capture_output=True, check=True).stdout.strip()
        out.append(parent)
    git(repo, "update-ref", REF, out[-1])
    git(repo, "reflog", "expire", "--expire=all", "--all")
    return out


def test_legacy_log_without_trailers_verifies_with_a_note(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    repo, _ = _submitted(tmp_path, cg)
    assert cg(repo, "approve", PLAN_ID, "--revision", "1", "--now", NOW,
              email="dev@example.org").code == 0
    assert cg(repo, "freeze", "--reason", "x", "--now", NOW, email="chen@example.org").code == 0
    _strip_trailers(repo)
    assert _trailers(repo, "Changeguard-Config") == ["", "", ""]
    res = cg(repo, "log", "verify")
    assert res.code == 0, res.out + res.err
    assert ("3 event(s) predate Changeguard-Config and were judged under the trusted config"
            in res.out)
    assert verify(cg, repo) == {"ok": True, "events": 3, "problems": [], "legacy_events": 3}
    # new events carry the trailer after the legacy prefix
    assert cg(repo, "unfreeze", "--now", NOW, email="chen@example.org").code == 0
    assert verify(cg, repo) == {"ok": True, "events": 4, "problems": [], "legacy_events": 3}


def test_legacy_events_are_judged_under_the_trusted_config(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    repo, _ = _submitted(tmp_path, cg)
    assert cg(repo, "approve", PLAN_ID, "--revision", "1", "--now", NOW,
              email="dev@example.org").code == 0
    _strip_trailers(repo)
    _commit_config(repo, _without_dev(), "revoke dev")
    rep = verify(cg, repo)
    assert not rep["ok"] and "dev@example.org" in rep["problems"][0]["message"]


def test_attack_event_without_trailer_after_trailered_ones(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    repo, _ = _submitted(tmp_path, cg)
    assert cg(repo, "approve", PLAN_ID, "--revision", "1", "--now", NOW,
              email="dev@example.org").code == 0
    # keep the first event's trailer, drop the last one's: not a legacy prefix
    shas = git(repo, "rev-list", "--reverse", REF).split()
    tip = shas[-1]
    msg = "".join(line + "\n" for line in git(repo, "log", "-1", "--format=%B", tip).splitlines()
                  if not line.startswith("Changeguard-Config:"))
    env = dict(os.environ, GIT_AUTHOR_EMAIL="dev@example.org",
               GIT_AUTHOR_DATE=git(repo, "log", "-1", "--format=%ad", tip).strip())
    bad = subprocess.run(["git", "commit-tree", f"{tip}^{{tree}}", "-p", shas[0]], cwd=repo,
                         env=env, input=msg, text=True, capture_output=True,
                         check=True).stdout.strip()
    git(repo, "update-ref", REF, bad, tip)
    git(repo, "reflog", "expire", "--expire=all", "--all")
    rep = verify(cg, repo)
    assert [p["commit"] for p in rep["problems"]] == [bad]
    assert "only a legacy prefix may lack it" in rep["problems"][0]["message"]


# --------------------------------------------------------------- writers with a remote


def _clones(tmp_path: Path) -> tuple[Path, Path, Path]:
    seed = make_repo(tmp_path / "seed", config(log={"remote": "origin"}))
    bare = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(bare))
    a, b = tmp_path / "a", tmp_path / "b"
    git(tmp_path, "clone", "-q", str(bare), str(a))
    git(tmp_path, "clone", "-q", str(bare), str(b))
    return bare, a, b


def test_attack_stale_clone_writes_under_a_revoked_roster(
        tmp_path: Path, git_env: dict[str, str], cg: Cg) -> None:
    _, a, b = _clones(tmp_path)
    assert cg(a, "submit", plan_path(), "--now", NOW).code == 0
    cfg = _without_dev()
    cfg["log"] = {"remote": "origin"}
    _commit_config(a, cfg, "revoke dev")
    git(a, "push", "-q", "origin", "main")
    # b fetched the log but not main: the writer fetches the trusted branch itself
    git(b, "fetch", "-q", "origin", f"+{REF}:{REF}")
    res = cg(b, "approve", PLAN_ID, "--revision", "1", "--now", NOW, email="dev@example.org")
    assert res.code == 1 and "roster" in res.err
    assert git(b, "rev-parse", "refs/remotes/origin/main") == git(a, "rev-parse", "main")


def test_replayed_event_keeps_its_config(tmp_path: Path, git_env: dict[str, str],
                                         cg: Cg) -> None:
    bare, a, b = _clones(tmp_path)
    base = git(a, "rev-parse", "HEAD").strip()
    assert cg(a, "submit", plan_path(), "--now", NOW).code == 0
    git(b, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    git(b, "fetch", "-q", str(bare), f"+{REF}:{REF}")
    assert cg(b, "approve", PLAN_ID, "--revision", "1", "--now", NOW,
              email="dev@example.org").code == 0
    git(b, "remote", "set-url", "origin", str(bare))
    other = "CHG-2016-0410-other"
    write_plan(a, plan(id=other, services=["svc-b"], changes=[{"path": "db/b.yaml"}]))
    assert cg(a, "submit", plan_path(other), "--now", NOW).code == 0
    res = cg(b, "log", "sync")
    assert res.code == 0 and "replayed" in res.out
    assert git(bare, "log", "-1", "--format=%s", REF).strip() == f"approve {PLAN_ID}"
    assert _trailers(b, "Changeguard-Config") == [base] * 3
    assert verify(cg, b)["ok"]
