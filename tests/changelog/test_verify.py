"""`log verify` detects tampering: edited state, forged author, rewritten history, signatures."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from changeguard.changelog.layout import change_dir
from tests.conftest import git
from tests.helpers.changelog import (
    NOW,
    PLAN_ID,
    Cg,
    cg,
    config,
    make_repo,
    plan_path,
    verify,
)

__all__ = ["cg"]
REF = "refs/heads/changeguard/log"
STATE = f"{change_dir(PLAN_ID)}/state.json"


@pytest.fixture
def r(tmp_path: Path, git_env: dict[str, str], cg: Cg) -> Path:
    repo = make_repo(tmp_path / "cfg")
    assert cg(repo, "submit", plan_path(), "--now", NOW).code == 0
    return repo


def _commit_on_tip(repo: Path, files: dict[str, bytes], message: str,
                   author: str = "ana@example.org") -> str:
    """Plain-git tamperer: a commit on the log tip with some files replaced."""
    env = dict(os.environ, GIT_INDEX_FILE=str(repo / ".git" / "tamper-index"),
               GIT_AUTHOR_EMAIL=author)
    tip = git(repo, "rev-parse", REF).strip()
    subprocess.run(["git", "read-tree", tip], cwd=repo, env=env, check=True)
    for path, data in files.items():
        sha = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=repo, input=data,
                             capture_output=True, check=True).stdout.decode().strip()
        subprocess.run(["git", "update-index", "--add", "--cacheinfo", f"100644,{sha},{path}"],
                       cwd=repo, env=env, check=True)
    tree = subprocess.run(["git", "write-tree"], cwd=repo, env=env, capture_output=True,
                          check=True, text=True).stdout.strip()
    new = subprocess.run(["git", "commit-tree", tree, "-p", tip], cwd=repo, env=env,
                         input=message, capture_output=True, check=True,
                         text=True).stdout.strip()
    git(repo, "update-ref", REF, new, tip)
    return new


def test_state_edited_without_event(r: Path, cg: Cg) -> None:
    state = json.loads(git(r, "show", f"{REF}:{STATE}"))
    state["state"] = "approved"
    bad = _commit_on_tip(r, {STATE: json.dumps(state).encode()}, "approve it quietly\n")
    rep = verify(cg, r)
    assert not rep["ok"] and rep["problems"][0]["commit"] == bad
    assert "not a change-log event" in rep["problems"][0]["message"]
    res = cg(r, "log", "verify")
    assert res.code == 1 and bad in res.err


def test_state_edited_under_a_real_event(r: Path, cg: Cg) -> None:
    assert cg(r, "approve", PLAN_ID, "--revision", "1", "--now", NOW,
              email="dev@example.org").code == 0
    msg = git(r, "log", "-1", "--format=%B", REF)
    state = json.loads(git(r, "show", f"{REF}:{STATE}"))
    state["approvals"].append(dict(state["approvals"][0], actor="ravi@example.org"))
    git(r, "update-ref", REF, f"{REF}~1")
    bad = _commit_on_tip(r, {STATE: json.dumps(state, sort_keys=True, indent=1).encode()},
                         msg, author="dev@example.org")
    rep = verify(cg, r)
    assert rep["problems"][0]["commit"] == bad
    assert "differs from the replayed state" in rep["problems"][0]["message"]
    assert "approvals" in rep["problems"][0]["message"]


def test_forged_author(r: Path, cg: Cg) -> None:
    assert cg(r, "approve", PLAN_ID, "--revision", "1", "--now", NOW,
              email="dev@example.org").code == 0
    tip = git(r, "rev-parse", REF).strip()
    tree = git(r, "rev-parse", f"{tip}^{{tree}}").strip()
    msg = git(r, "log", "-1", "--format=%B", tip)
    env = dict(os.environ, GIT_AUTHOR_EMAIL="ana@example.org")
    forged = subprocess.run(["git", "commit-tree", tree, "-p", f"{tip}~1"], cwd=r, env=env,
                            input=msg, capture_output=True, text=True,
                            check=True).stdout.strip()
    git(r, "update-ref", REF, forged)
    rep = verify(cg, r)
    assert rep["problems"][0]["commit"] == forged
    assert "forged author" in rep["problems"][0]["message"]


def test_rewritten_history(r: Path, cg: Cg) -> None:
    assert cg(r, "approve", PLAN_ID, "--revision", "1", "--now", NOW,
              email="dev@example.org").code == 0
    dropped = git(r, "rev-parse", REF).strip()
    git(r, "update-ref", REF, f"{REF}~1")  # silently remove the approval
    rep = verify(cg, r)
    assert not rep["ok"]
    assert rep["problems"][0] == {"commit": dropped, "message": rep["problems"][0]["message"]}
    assert "history rewritten" in rep["problems"][0]["message"]


def test_illegal_transition_in_history(r: Path, cg: Cg) -> None:
    # a well-formed approve event by the plan's own author, written with plain git
    assert cg(r, "approve", PLAN_ID, "--revision", "1", "--now", NOW,
              email="dev@example.org").code == 0
    msg = git(r, "log", "-1", "--format=%B", REF).replace("dev@example.org", "ana@example.org")
    files = {STATE: git(r, "show", f"{REF}:{STATE}").replace(
        "dev@example.org", "ana@example.org").encode()}
    git(r, "update-ref", REF, f"{REF}~1")
    bad = _commit_on_tip(r, files, msg, author="ana@example.org")
    rep = verify(cg, r)
    assert rep["problems"][0]["commit"] == bad
    assert "illegal approve" in rep["problems"][0]["message"]


# --------------------------------------------------------------- signatures


def _keygen(d: Path, name: str) -> tuple[Path, str]:
    key = d / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)],
                   check=True)
    return key, key.with_suffix(".pub").read_text().strip()


def _use_key(mp: pytest.MonkeyPatch, key: Path | None) -> None:
    mp.setenv("GIT_CONFIG_COUNT", "2")
    mp.setenv("GIT_CONFIG_KEY_0", "gpg.format")
    mp.setenv("GIT_CONFIG_VALUE_0", "ssh")
    mp.setenv("GIT_CONFIG_KEY_1", "user.signingkey")
    mp.setenv("GIT_CONFIG_VALUE_1", str(key) if key else "")


def _resign(repo: Path, email: str) -> str:
    """Replace the log tip by a copy signed with the key in the environment."""
    tip = git(repo, "rev-parse", REF).strip()
    msg = git(repo, "log", "-1", "--format=%B", tip)
    env = dict(os.environ, GIT_AUTHOR_EMAIL=email)
    new = subprocess.run(["git", "commit-tree", "-S", f"{tip}^{{tree}}", "-p", f"{tip}~1"],
                         cwd=repo, env=env, input=msg, capture_output=True, text=True,
                         check=True).stdout.strip()
    git(repo, "update-ref", REF, new, tip)
    return new


def test_require_signed(tmp_path: Path, git_env: dict[str, str], cg: Cg,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    ana_key, ana_pub = _keygen(keys, "ana")
    dev_key, dev_pub = _keygen(keys, "dev")
    cfg = config(require_signed=True)
    cfg["reviewers"][0]["signing_key"] = ana_pub
    cfg["reviewers"][1]["signing_key"] = dev_pub
    r = make_repo(tmp_path / "cfg", cfg)
    _use_key(monkeypatch, ana_key)
    assert cg(r, "submit", plan_path(), "--now", NOW).code == 0
    _use_key(monkeypatch, None)
    res = cg(r, "approve", PLAN_ID, "--revision", "1", "--now", NOW, email="dev@example.org")
    assert res.code == 1 and "could not be signed" in res.err  # refused, nothing written
    assert git(r, "rev-list", "--count", REF).strip() == "1"
    _use_key(monkeypatch, dev_key)
    assert cg(r, "approve", PLAN_ID, "--revision", "1", "--now", NOW,
              email="dev@example.org").code == 0
    assert verify(cg, r) == {"ok": True, "events": 2, "problems": []}
    # ravi acts but signs with dev's key: refused before the ref moves (SPEC §12) ...
    _use_key(monkeypatch, dev_key)
    res = cg(r, "freeze", "--reason", "x", "--now", NOW, email="ravi@example.org")
    assert res.code == 1 and "no signing_key for ravi" in res.err
    assert git(r, "rev-list", "--count", REF).strip() == "2"
    # ... events written while a config without require_signed was trusted are judged under
    # that config (Changeguard-Config, SPEC §12), so switching it back on flags none of them
    cfg["require_signed"] = False
    (r / ".changeguard.yaml").write_text(yaml.safe_dump(cfg))
    git(r, "commit", "-q", "-m", "signing off", "--", ".changeguard.yaml")  # writers trust it
    _use_key(monkeypatch, None)
    assert cg(r, "freeze", "--reason", "x", "--now", NOW, email="ravi@example.org").code == 0
    cfg["require_signed"] = True
    (r / ".changeguard.yaml").write_text(yaml.safe_dump(cfg))
    git(r, "commit", "-q", "-m", "signing on", "--", ".changeguard.yaml")
    assert verify(cg, r)["ok"]
    # under the signing-on config: dev's event re-signed with ana's key, then an unsigned copy
    _use_key(monkeypatch, dev_key)
    assert cg(r, "unfreeze", "--now", NOW, email="dev@example.org").code == 0
    _use_key(monkeypatch, ana_key)
    wrong = _resign(r, email="dev@example.org")
    tip = git(r, "rev-parse", REF).strip()
    unsigned = subprocess.run(
        ["git", "commit-tree", f"{tip}^{{tree}}", "-p", f"{tip}~1"], cwd=r,
        env=dict(os.environ, GIT_AUTHOR_EMAIL="dev@example.org"),
        input=git(r, "log", "-1", "--format=%B", tip), capture_output=True, text=True,
        check=True).stdout.strip()
    git(r, "update-ref", REF, unsigned, tip)
    rep = verify(cg, r)
    assert [p["commit"] for p in rep["problems"]][:1] == [unsigned]
    assert "unsigned" in rep["problems"][0]["message"]
    assert "history rewritten" in rep["problems"][1]["message"]  # the replaced originals
    git(r, "update-ref", REF, wrong, unsigned)
    rep = verify(cg, r)
    assert rep["problems"][0]["commit"] == wrong
    assert "not by the actor dev@example.org" in rep["problems"][0]["message"]


def test_list_summary_edited_under_a_real_event(r: Path, cg: Cg) -> None:
    assert cg(r, "approve", PLAN_ID, "--revision", "1", "--now", NOW,
              email="dev@example.org").code == 0
    msg = git(r, "log", "-1", "--format=%B", REF)
    shard = next(p for p in git(r, "ls-tree", "-r", "--name-only", REF).split()
                 if p.startswith("list/"))
    rows = json.loads(git(r, "show", f"{REF}:{shard}"))
    rows[PLAN_ID]["state"] = "completed"
    state = git(r, "show", f"{REF}:{STATE}").encode()
    git(r, "update-ref", REF, f"{REF}~1")
    bad = _commit_on_tip(r, {STATE: state, shard: json.dumps(rows).encode()}, msg,
                         author="dev@example.org")
    rep = verify(cg, r)
    assert rep["problems"][0] == {"commit": bad, "message": f"{shard} does not match the "
                                                            "replayed states of its changes"}


def test_start_before_approval_names_who_can_approve(r: Path, cg: Cg) -> None:
    res = cg(r, "start", PLAN_ID, "--now", "2016-04-03T02:00:00+08:00")
    assert res.code == 1 and "not approved" in res.err and "dev@example.org" in res.err
