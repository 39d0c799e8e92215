"""The log stores what a digest covers (SPEC §13, issue 15 item 1): the proposed content of
every changed file under `changes/<xx>/<ID>/files/`, the findings reported at submit, a
re-submit that only edits a file verifies, and `log verify` checks the stored files."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from changeguard.changelog.events import revision_commits
from changeguard.changelog.layout import (
    files_dir,
    findings_file,
    plan_file,
    proposed_file,
    state_file,
)
from changeguard.changelog.store import Git
from changeguard.plan.digest import blob_id
from tests.conftest import git
from tests.helpers.changelog import (
    NOW,
    PLAN_ID,
    Cg,
    cg,
    config,
    make_repo,
    plan,
    plan_path,
    show,
    verify,
    write_plan,
)

__all__ = ["cg"]
REF = "refs/heads/changeguard/log"
TOPO = "db/apac-gateway.topology.yaml"
GONE = "db/retired.topology.yaml"  # listed by the plan, absent from the work tree: deleted


def _tree_files(repo: Path, rev: str, change_id: str = PLAN_ID) -> dict[str, str]:
    """repo path -> blob id of everything under the change's files/ at `rev`."""
    out = git(repo, "ls-tree", "-r", "-z", "--full-tree", rev, "--", files_dir(change_id))
    prefix = files_dir(change_id) + "/"
    rows = (e.partition("\t") for e in out.split("\0") if e)
    return {path[len(prefix):]: meta.split()[2] for meta, _, path in rows}


def _state(repo: Path, rev: str = REF) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(git(repo, "show", f"{rev}:{state_file(PLAN_ID)}"))
    return data


def _approve(cg: Cg, repo: Path, revision: int, email: str = "dev@example.org") -> None:
    """Approve `revision` (bound to it, SPEC §13)."""
    r = cg(repo, "approve", PLAN_ID, "--now", NOW, "--revision", str(revision), email=email)
    assert r.code == 0, r.err


@pytest.fixture
def r(tmp_path: Path, git_env: dict[str, str]) -> Path:
    """A config repo whose plan changes one topology and deletes another (rollback untested:
    a warn finding at submit)."""
    repo = make_repo(tmp_path / "cfg")
    rb = dict(plan()["rollback"], tested=False)
    rb.pop("evidence")
    write_plan(repo, plan(changes=[{"path": TOPO}, {"path": GONE}], rollback=rb))
    git(repo, "commit", "-qam", "plan")
    return repo


def test_submit_stores_proposed_content_and_findings(r: Path, cg: Cg) -> None:
    res = cg(r, "submit", plan_path(), "--now", NOW)
    assert res.code == 0, res.err
    st = _state(r)
    content = (r / TOPO).read_bytes()
    assert st["paths"] == {TOPO: blob_id(content), GONE: None}
    # the file's real path under files/, blob id = the paths map's; the deleted one absent
    assert _tree_files(r, REF) == {TOPO: st["paths"][TOPO]}
    assert git(r, "cat-file", "-p", f"{REF}:{proposed_file(PLAN_ID, TOPO)}").encode() == content
    assert git(r, "rev-parse", f"{REF}:{plan_file(PLAN_ID)}").strip() == st["plan_blob"]
    found = json.loads(git(r, "show", f"{REF}:{findings_file(PLAN_ID)}"))
    assert [f["rule"] for f in found] == ["rollback-tested"]
    assert set(found[0]) == {"rule", "severity", "message", "file", "line", "pointer", "hint"}
    assert found[0]["severity"] == "warn" and found[0]["file"] == plan_path()
    assert "rollback-tested" in res.err  # the same finding the submit reported
    assert verify(cg, r)["ok"]


def test_resubmit_replaces_files_and_keeps_older_revisions(r: Path, cg: Cg) -> None:
    assert cg(r, "submit", plan_path(), "--now", NOW).code == 0
    rev1_blob = _state(r)["paths"][TOPO]
    # revision 2: the topology changes, a new file is added, the deleted one is dropped
    (r / TOPO).write_text("proposed: 2\n")
    (r / "db" / "new.topology.yaml").write_text("fresh: 1\n")
    write_plan(r, plan(changes=[{"path": TOPO}, {"path": "db/new.topology.yaml"}]))
    assert cg(r, "submit", plan_path(), "--now", NOW).code == 0
    st = _state(r)
    assert st["revision"] == 2
    assert _tree_files(r, REF) == {TOPO: blob_id(b"proposed: 2\n"),
                                   "db/new.topology.yaml": blob_id(b"fresh: 1\n")}
    assert json.loads(git(r, "show", f"{REF}:{findings_file(PLAN_ID)}")) == []  # tested now
    # revision N's commit is the N-th submit of the change; its tree has that revision
    g = Git(r)
    try:
        commits = revision_commits(g, git(r, "rev-parse", REF).strip(), PLAN_ID)
    finally:
        g.close()
    assert len(commits) == 2 and commits[1] == git(r, "rev-parse", REF).strip()
    assert _tree_files(r, commits[0]) == {TOPO: rev1_blob}
    assert git(r, "cat-file", "-p", rev1_blob) == "proposed: 1\n"
    assert verify(cg, r)["ok"]


def test_resubmit_of_only_a_changed_file_verifies(tmp_path: Path, git_env: dict[str, str],
                                                  cg: Cg) -> None:
    repo = make_repo(tmp_path / "cfg")
    assert cg(repo, "submit", plan_path(), "--now", NOW).code == 0
    _approve(cg, repo, 1)
    plan_before = git(repo, "rev-parse", f"{REF}:{plan_file(PLAN_ID)}").strip()
    approved_tip = git(repo, "rev-parse", REF).strip()
    (repo / TOPO).write_text("proposed: 2\n")  # the plan text stays byte-identical
    res = cg(repo, "submit", plan_path(), "--now", NOW)
    assert res.code == 0 and "revision 2" in res.out, res.err
    assert git(repo, "rev-parse", f"{REF}:{plan_file(PLAN_ID)}").strip() == plan_before
    assert _tree_files(repo, REF) == {TOPO: blob_id(b"proposed: 2\n")}
    assert verify(cg, repo) == {"ok": True, "events": 3, "problems": []}
    assert cg(repo, "log", "verify").code == 0
    shown = show(cg, repo)
    assert shown["revision"] == 2 and shown["state"] == "submitted"
    assert [a["stale"] for a in shown["approvals"]] == [True]
    # incrementally from the approved tip too: the unchanged plan is read at that tree
    from changeguard.changelog.verify import verify as verify_log
    from changeguard.config import load_config

    g = Git(repo)
    try:
        rep = verify_log(g, load_config(repo), since=approved_tip)
    finally:
        g.close()
    assert rep.ok and rep.events == 3, rep.problems
    _approve(cg, repo, 2, email="ravi@example.org")
    assert verify(cg, repo)["ok"]


def test_a_plan_listing_paths_out_of_order_verifies(tmp_path: Path, git_env: dict[str, str],
                                                   cg: Cg) -> None:
    """The event JSON sorts `paths`; the plan's own order is not a summary mismatch."""
    repo = make_repo(tmp_path / "cfg")
    (repo / "db" / "a.topology.yaml").write_text("a: 1\n")
    write_plan(repo, plan(changes=[{"path": TOPO}, {"path": "db/a.topology.yaml"}]))
    assert cg(repo, "submit", plan_path(), "--now", NOW).code == 0
    assert list(_state(repo)["paths"]) == ["db/a.topology.yaml", TOPO]
    assert verify(cg, repo) == {"ok": True, "events": 1, "problems": []}


def test_a_plan_of_many_paths_still_finds_its_conflicts(tmp_path: Path,
                                                       git_env: dict[str, str], cg: Cg) -> None:
    """Many index keys are looked up in one bulk read; a shared path is still a conflict."""
    repo = make_repo(tmp_path / "cfg")
    assert cg(repo, "submit", plan_path(), "--now", NOW).code == 0
    many = [f"db/bulk/{i:03d}.yaml" for i in range(80)] + [TOPO]
    for path in many[:-1]:
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(f"{path}: 1\n")
    other = "CHG-2016-0403-bulk"
    write_plan(repo, plan(id=other, services=["svc-other"],
                          changes=[{"path": p} for p in many]))
    res = cg(repo, "submit", plan_path(other), "--now", NOW)
    assert res.code == 1 and "conflicting-changes" in res.err and f"touches {TOPO}" in res.err
    write_plan(repo, plan(id=other, services=["svc-other"],
                          changes=[{"path": p} for p in many[:-1]]))
    assert cg(repo, "submit", plan_path(other), "--now", NOW).code == 0
    assert len(_tree_files(repo, REF, other)) == 80
    assert verify(cg, repo)["ok"]


@pytest.mark.parametrize("link", ["db/outside.yaml", "db/out/x.yaml"])
def test_a_proposed_path_through_a_symlink_out_of_the_repo_is_refused(
        tmp_path: Path, git_env: dict[str, str], cg: Cg, link: str) -> None:
    """The submit's own reader keeps the work-tree reader's rule: no link leaves the repo
    (neither the file itself nor a directory on its way)."""
    repo = make_repo(tmp_path / "cfg")
    secret = tmp_path / "secret"
    (secret / "x.yaml").parent.mkdir(parents=True)
    (secret / "x.yaml").write_text("secret: 1\n")
    if link == "db/outside.yaml":
        (repo / link).symlink_to(secret / "x.yaml")
    else:
        (repo / "db" / "out").symlink_to(secret)
    write_plan(repo, plan(changes=[{"path": TOPO}, {"path": link}]))
    res = cg(repo, "submit", plan_path(), "--now", NOW)
    assert res.code != 0 and "outside the repository" in res.err, res.err
    assert "Traceback" not in res.err
    assert subprocess.run(["git", "rev-parse", "-q", "--verify", REF], cwd=repo).returncode == 1
    from changeguard.changelog.workflow import _FastReader
    from changeguard.errors import InputError

    read = _FastReader(repo)
    assert read(TOPO) == (repo / TOPO).read_bytes() and read("db/none.yaml") is None
    with pytest.raises(InputError, match="outside the repository"):
        read(link)


# --------------------------------------------------------------- tampering (plumbing)


def _replace_submit(repo: Path, edit: dict[str, str | None]) -> str:
    """Replace the log tip (a submit) by a commit with the same message and author whose
    tree has `edit` applied (path -> blob id, None removes it)."""
    env = dict(os.environ, GIT_INDEX_FILE=str(repo / ".git" / "tamper-index"),
               GIT_AUTHOR_EMAIL="ana@example.org")
    tip = git(repo, "rev-parse", REF).strip()
    subprocess.run(["git", "read-tree", tip], cwd=repo, env=env, check=True)
    for path, sha in edit.items():
        args = ["--force-remove", path] if sha is None else [
            "--add", "--cacheinfo", f"100644,{sha},{path}"]
        subprocess.run(["git", "update-index", *args], cwd=repo, env=env, check=True)
    tree = subprocess.run(["git", "write-tree", "--missing-ok"], cwd=repo, env=env,
                          capture_output=True, check=True, text=True).stdout.strip()
    parent = ["-p", f"{tip}~1"] if git(repo, "rev-list", "--count", tip).strip() != "1" else []
    new = subprocess.run(["git", "commit-tree", tree, *parent], cwd=repo, env=env,
                         input=git(repo, "log", "-1", "--format=%B", tip),
                         capture_output=True, check=True, text=True).stdout.strip()
    git(repo, "update-ref", REF, new, tip)
    return new


def _problems_of(cg: Cg, repo: Path, commit: str) -> list[str]:
    rep = verify(cg, repo)
    assert not rep["ok"]
    assert cg(repo, "log", "verify").code == 1
    return [p["message"] for p in rep["problems"] if p["commit"] == commit]


def test_verify_flags_a_stored_blob_other_than_the_paths_map(r: Path, cg: Cg) -> None:
    assert cg(r, "submit", plan_path(), "--now", NOW).code == 0
    other = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=r, input=b"evil: 1\n",
                           capture_output=True, check=True).stdout.decode().strip()
    bad = _replace_submit(r, {proposed_file(PLAN_ID, TOPO): other})
    msgs = _problems_of(cg, r, bad)
    assert any(f"files/{TOPO} as blob {other[:12]}" in m for m in msgs), msgs


def test_verify_flags_an_omitted_or_extra_file(r: Path, cg: Cg) -> None:
    assert cg(r, "submit", plan_path(), "--now", NOW).code == 0
    bad = _replace_submit(r, {proposed_file(PLAN_ID, TOPO): None})
    msgs = _problems_of(cg, r, bad)
    assert any("does not store the proposed content of " + TOPO in m for m in msgs), msgs
    extra = blob_id(b"x")
    bad2 = _replace_submit(r, {proposed_file(PLAN_ID, TOPO): _state(r)["paths"][TOPO],
                               proposed_file(PLAN_ID, GONE): extra})
    msgs = _problems_of(cg, r, bad2)
    assert any(f"files/{GONE}, which its plan.paths does not propose" in m for m in msgs), msgs


def test_verify_flags_a_proposed_blob_missing_from_the_object_store(r: Path, cg: Cg) -> None:
    """A clone whose object store lacks a stored proposed blob cannot show what was approved."""
    assert cg(r, "submit", plan_path(), "--now", NOW).code == 0
    sha = _state(r)["paths"][TOPO]
    loose = r / ".git" / "objects" / sha[:2] / sha[2:]
    assert loose.is_file()  # a small event's objects are written loose
    loose.chmod(0o644)
    loose.unlink()
    rep = verify(cg, r)
    assert not rep["ok"]
    assert any(f"proposed content of {TOPO} (blob {sha[:12]})" in p["message"]
               and "missing from the object store" in p["message"] for p in rep["problems"])


def test_files_outside_a_submit_are_unexplained(r: Path, cg: Cg) -> None:
    assert cg(r, "submit", plan_path(), "--now", NOW).code == 0
    _approve(cg, r, 1)
    bad = _replace_submit(r, {proposed_file(PLAN_ID, "db/sneaked.yaml"): blob_id(b"")})
    msgs = _problems_of(cg, r, bad)
    assert any("changes files no approve event explains" in m for m in msgs), msgs


def test_legacy_submit_without_files_verifies(r: Path, cg: Cg) -> None:
    """A submit written before the log stored proposed content (no Changeguard-Config
    trailer) is legacy: it needs no files/ and no findings.json."""
    assert cg(r, "submit", plan_path(), "--now", NOW).code == 0
    tip = git(r, "rev-parse", REF).strip()
    msg = "".join(line + "\n" for line in git(r, "log", "-1", "--format=%B", tip).splitlines()
                  if not line.startswith("Changeguard-Config:"))
    env = dict(os.environ, GIT_INDEX_FILE=str(r / ".git" / "legacy-index"),
               GIT_AUTHOR_EMAIL="ana@example.org")
    subprocess.run(["git", "read-tree", tip], cwd=r, env=env, check=True)
    subprocess.run(["git", "rm", "-r", "-q", "--cached", files_dir(PLAN_ID),
                    findings_file(PLAN_ID)], cwd=r, env=env, check=True)
    tree = subprocess.run(["git", "write-tree"], cwd=r, env=env, capture_output=True,
                          check=True, text=True).stdout.strip()
    legacy = subprocess.run(["git", "commit-tree", tree], cwd=r, env=env, input=msg,
                            capture_output=True, check=True, text=True).stdout.strip()
    git(r, "update-ref", "-d", REF)  # a log that began before issue 14/15
    git(r, "update-ref", REF, legacy, "")
    rep = verify(cg, r)
    assert rep["ok"], rep
    assert rep.get("legacy_events") == 1
    # the same commit with the trailer must store them
    with_trailer = subprocess.run(["git", "commit-tree", tree], cwd=r, env=env,
                                  input=git(r, "log", "-1", "--format=%B", tip),
                                  capture_output=True, check=True, text=True).stdout.strip()
    git(r, "update-ref", REF, with_trailer, legacy)
    git(r, "reflog", "expire", "--expire=now", "--all")
    rep = verify(cg, r)
    msgs = [p["message"] for p in rep["problems"] if p["commit"] == with_trailer]
    assert any("does not store the proposed content" in m for m in msgs), rep
    assert any("did not store findings.json" in m for m in msgs), rep


# --------------------------------------------------------------- other clones


def test_every_blob_of_the_state_is_in_a_fresh_clone(tmp_path: Path, git_env: dict[str, str],
                                                     cg: Cg) -> None:
    seed = make_repo(tmp_path / "seed", config(log={"remote": "origin"}))
    bare = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(bare))
    a, b = tmp_path / "a", tmp_path / "b"
    git(tmp_path, "clone", "-q", str(bare), str(a))
    (a / TOPO).write_text("proposed: only in a's work tree\n")  # never committed anywhere
    (a / "db" / "extra.topology.yaml").write_text("extra: 1\n")
    write_plan(a, plan(changes=[{"path": TOPO}, {"path": "db/extra.topology.yaml"}]))
    assert cg(a, "submit", plan_path(), "--now", NOW).code == 0
    git(tmp_path, "clone", "-q", str(bare), str(b))
    assert cg(b, "log", "sync").code == 0
    st = _state(b)
    blobs = [v for v in st["paths"].values() if v is not None]
    assert len(blobs) == 2
    for sha in blobs:
        subprocess.run(["git", "cat-file", "-e", sha], cwd=b, check=True)
    assert git(b, "cat-file", "-p", st["paths"][TOPO]) == "proposed: only in a's work tree\n"
    assert verify(cg, b)["ok"]


def test_a_replayed_submit_keeps_its_files(tmp_path: Path, git_env: dict[str, str],
                                           cg: Cg) -> None:
    """An offline submit replayed by `log sync` onto a newer remote tip stores the same
    files/ and findings.json it was first written with."""
    seed = make_repo(tmp_path / "seed", config(log={"remote": "origin"}))
    bare = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(bare))
    a, b = tmp_path / "a", tmp_path / "b"
    git(tmp_path, "clone", "-q", str(bare), str(a))
    git(tmp_path, "clone", "-q", str(bare), str(b))
    other = "CHG-2016-0410-other"
    write_plan(a, plan(id=other, services=["svc-b"], changes=[{"path": "db/b.yaml"}]))
    (a / "db" / "b.yaml").write_text("b: 1\n")
    git(b, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    (b / TOPO).write_text("proposed: offline\n")
    res = cg(b, "submit", plan_path(), "--now", NOW)
    assert res.code == 0 and "unreachable" in res.err
    offline = _tree_files(b, REF)
    assert cg(a, "submit", plan_path(other), "--now", NOW).code == 0
    git(b, "remote", "set-url", "origin", str(bare))
    res = cg(b, "log", "sync")
    assert res.code == 0 and "replayed" in res.out, res.err
    tip = git(bare, "rev-parse", REF).strip()
    assert git(bare, "log", "-1", "--format=%s", tip).strip() == f"submit {PLAN_ID}"
    assert _tree_files(bare, tip) == offline == {TOPO: blob_id(b"proposed: offline\n")}
    git(bare, "cat-file", "-e", f"{tip}:{findings_file(PLAN_ID)}")
    assert verify(cg, b)["ok"]
    assert cg(a, "log", "sync").code == 0 and verify(cg, a)["ok"]


# --------------------------------------------------------------- batched object writes


@pytest.mark.parametrize("count", [3, 150])  # below / above UNPACK_LIMIT: loose, one pack
def test_staged_objects_are_what_git_writes(repo: Path, count: int) -> None:
    """Ids hashed here equal git's, trees in git's order (a subtree sorts as `name/`), and
    `flush` writes every object, small and big, in one git process."""
    from changeguard.changelog.store import BLOB_MODE, TREE_MODE, UNPACK_LIMIT, Entry

    assert (count < UNPACK_LIMIT) != (count > UNPACK_LIMIT)
    g = Git(repo)
    try:
        blobs = [g.stage_blob(f"blob {i}\n".encode()) for i in range(count)]
        big = g.stage_blob(os.urandom(64 * 1024))  # beyond the small-object window
        sub = g.stage_tree([Entry(BLOB_MODE, "x", blobs[0])])
        names = [Entry(BLOB_MODE, "a.b", blobs[1]), Entry(TREE_MODE, "a", sub),
                 Entry(BLOB_MODE, "a-", blobs[2]), Entry(BLOB_MODE, "big", big)]
        top = g.stage_tree(names)
        assert subprocess.run(["git", "cat-file", "-e", top], cwd=repo).returncode != 0
        g.flush()
    finally:
        g.close()
    for i, sha in enumerate(blobs):
        assert git(repo, "cat-file", "-p", sha) == f"blob {i}\n"
    mktree = "".join(f"{e.mode} {'tree' if e.is_tree else 'blob'} {e.sha}\t{e.name}\n"
                     for e in names)
    assert subprocess.run(["git", "mktree"], cwd=repo, input=mktree, capture_output=True,
                          text=True, check=True).stdout.strip() == top
    assert git(repo, "ls-tree", "--name-only", top).split() == ["a-", "a.b", "a", "big"]
    assert git(repo, "cat-file", "-s", big).strip() == str(64 * 1024)
    git(repo, "fsck", "--strict", "--no-dangling")
