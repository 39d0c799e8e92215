"""`show` is the reviewer's view (SPEC §13, issue 15 item 2): the plan's essentials, the step
timeline with who is out and who is primary, rollback, checks, waivers, reviews with their
revision, what is missing, `--diff`/`--since-revision`, markdown and the §13 JSON keys.

Real repos, real log commits, the CLI run in-process (`cg`) like every workflow test.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from changeguard.changelog.view import FileView, _with_diff, unified
from changeguard.changelog.workflow import show_view
from changeguard.commands.workflow import session
from changeguard.context import Globals
from changeguard.report.review import render_show_text
from tests.helpers import git, init_repo
from tests.helpers.changelog import NOW, PLAN_ID, Cg, cg, config, plan, write_yaml
from tests.plan.test_replication import PATH, TOPOLOGY
from tests.test_report import _golden

__all__ = ["cg"]  # the fixture, imported for pytest

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
NOTES = "db/notes.txt"
OLD = "db/old.txt"
PLAN_FILE = f"changes/{PLAN_ID}.yaml"
STEPS = [{"id": "s1", "action": "fail over to db2", "kind": "failover", "targets": ["db2"],
          "minutes": 5},
         {"id": "s2", "action": "migrate db1 volume", "kind": "storage", "targets": ["db1"],
          "minutes": 90},
         {"id": "s3", "action": "update monitoring", "kind": "config", "minutes": 5}]


def _plan(**extra: Any) -> dict[str, Any]:
    return plan(steps=STEPS, changes=[{"path": PATH, "summary": "db2 to zone c"},
                                      {"path": NOTES, "summary": "runbook"},
                                      {"path": OLD, "summary": "retired"}],
                waivers=[{"rule": "window-lead-time", "reason": "vendor fix"}], **extra)


@pytest.fixture
def r(tmp_path: Path, git_env: dict[str, str]) -> Path:
    """A config repo whose trusted `main` has the topology and an old file; the work tree
    proposes db2 in zone c, a new notes file, and deletes the old file."""

    def populate(root: Path) -> None:
        _trusted_topology(root)
        (root / OLD).write_text("retired\n")
        write_yaml(root / PLAN_FILE, _plan())

    repo = init_repo(tmp_path / "cfg", populate=populate)
    _propose(repo, TOPOLOGY.replace("zone: b", "zone: c"), "step 1: fail over\n")
    (repo / OLD).unlink()
    return repo


def _trusted_topology(root: Path) -> None:
    """The config (topologies mapped to the builtin schema) and the topology at PATH."""
    schemas = [{"paths": ["db/**/*.topology.yaml"], "schema": "builtin:replication-topology"}]
    write_yaml(root / ".changeguard.yaml", config(schemas=schemas))
    (root / "db").mkdir()
    (root / PATH).write_text(TOPOLOGY)


def _propose(repo: Path, topology: str, notes: str) -> None:
    (repo / PATH).write_text(topology)
    (repo / NOTES).write_text(notes)
    # the proposed content as a clone that fetched the log holds it (SPEC §13: submit
    # stores it; written here too so the view is tested on its own)
    git(repo, "hash-object", "-w", PATH, NOTES)


def _submit(cg: Cg, repo: Path) -> None:
    res = cg(repo, "submit", PLAN_FILE, "--now", NOW)
    assert res.code == 0, res.err


def _review(cg: Cg, repo: Path, kind: str, revision: int, email: str, *args: str) -> None:
    """approve/reject bound to the revision reviewed (SPEC §13)."""
    res = cg(repo, kind, PLAN_ID, "--revision", str(revision), *args, "--now", NOW,
             email=email)
    assert res.code == 0, res.err


def _show(cg: Cg, repo: Path, *args: str) -> dict[str, Any]:
    res = cg(repo, "show", PLAN_ID, "--format", "json", "--now", NOW, *args)
    assert res.code == 0, res.err
    data: dict[str, Any] = json.loads(res.out)
    return data


def test_text_view_has_the_timeline_reviews_and_the_approve_command(cg: Cg, r: Path) -> None:
    _submit(cg, r)
    _review(cg, r, "approve", 1, "chen@example.org", "--comment", "zone c checked")
    res = cg(r, "show", PLAN_ID, "--now", NOW)
    assert res.code == 0, res.err
    out = res.out
    for expected in (
            "services: alma-api-gateway    environment: production",
            "!+0..+5 min", "!+5..+95 min", "+95..+100 min",
            "out: db2 (apac-gateway); primary: db1 → db2",
            "out: db1 (apac-gateway); primary meanwhile: db2",
            "trigger: lag > 60s", "max minutes: 30; tested: yes; evidence: staging run",
            "lag < 5s — run `check-lag`, expect exit 0", "window-lead-time: vendor fix",
            "approved by chen@example.org at 2016-03-27T10:00:00+08:00 for revision 1",
            ": zone c checked", f"{NOTES}: proposed ", "trusted absent"):
        assert expected in out, (expected, out)
    # chen (cab) gave the normal approval; a failover still needs a dba, never chen again
    missing = [x for x in out.splitlines() if x.startswith("  waiting for ")]
    assert missing and all("chen@" not in x and "ana@" not in x for x in missing), missing
    assert any("role dba" in x and "dev@example.org" in x for x in missing), missing
    assert out.rstrip().splitlines()[-1] == f"  changeguard approve {PLAN_ID} --revision 1"


def test_json_adds_the_spec13_keys(cg: Cg, r: Path) -> None:
    _submit(cg, r)
    _review(cg, r, "reject", 1, "chen@example.org", "--reason", "needs a dba")
    data = _show(cg, r)
    assert (data["type"], data["risk"], data["services"]) == (
        "normal", "medium", ["alma-api-gateway"])
    assert [(s["id"], s["kind"], s["targets"], s["minutes"], s["offset_minutes"])
            for s in data["steps"]] == [("s1", "failover", ["db2"], 5, 0),
                                        ("s2", "storage", ["db1"], 90, 5),
                                        ("s3", "config", [], 5, 95)]
    files = {f["path"]: f for f in data["files"]}
    trusted = dict(line.split("\t")[::-1] for line in
                   git(r, "ls-tree", "-r", "--format=%(objectname)\t%(path)", "main")
                   .splitlines())
    assert files[PATH]["base_blob"] == trusted[PATH] and files[PATH]["blob"] != trusted[PATH]
    assert files[NOTES]["base_blob"] is None and files[NOTES]["blob"]  # added
    assert files[OLD] == {"path": OLD, "blob": None, "base_blob": trusted[OLD]}  # deleted
    assert data["rejections"] == [{"actor": "chen@example.org", "reason": "needs a dba",
                                   "at": NOW, "digest": data["digest"], "revision": 1}]
    assert data["approve_command"] is None  # rejected: nothing to approve until re-submitted
    digests = [data["digest"], *(x["digest"] for x in data["rejections"])]
    assert all(DIGEST.match(d) for d in digests)


def test_diff_from_the_trusted_revision(cg: Cg, r: Path) -> None:
    _submit(cg, r)
    res = cg(r, "show", PLAN_ID, "--diff", "--now", NOW)
    assert res.code == 0, res.err
    out = res.out
    assert "diff against trusted revision refs/heads/main (" in out
    assert f"--- a/{PATH}\n+++ b/{PATH}\n@@ " in out
    assert "-  - {name: db2, role: replica, host: db2.apac.example, zone: b," in out
    assert "+  - {name: db2, role: replica, host: db2.apac.example, zone: c," in out
    assert f"{NOTES}: new file\n--- /dev/null\n+++ b/{NOTES}\n@@ -0,0 +1 @@\n+step 1: fail" in out
    assert f"{OLD}: deleted\n--- a/{OLD}\n+++ /dev/null\n@@ -1 +0,0 @@\n-retired" in out
    assert "\x1b[" not in out  # not a terminal: no colour


def test_since_revision_diffs_two_revisions_and_marks_old_approvals_stale(
        cg: Cg, r: Path) -> None:
    _submit(cg, r)
    _review(cg, r, "approve", 1, "dev@example.org", "--comment", "rev 1 ok")
    _propose(r, TOPOLOGY.replace("zone: b", "zone: d"), "step 1: fail over\n")
    _submit(cg, r)  # plan.yaml unchanged, only a proposed file: a new revision (SPEC §13)
    data = _show(cg, r, "--since-revision", "1")
    assert data["revision"] == 2 and data["diff_base"].startswith("revision 1 (submit ")
    assert data["approvals"][0] | {"at": None} == {
        "actor": "dev@example.org", "digest": data["approvals"][0]["digest"], "stale": True,
        "at": None, "revision": 1, "comment": "rev 1 ok"}
    files = {f["path"]: f for f in data["files"]}
    assert files["plan.yaml"]["note"] == "unchanged"
    assert "-  - {name: db2, role: replica, host: db2.apac.example, zone: c," in \
        files[PATH]["diff"]
    assert "+  - {name: db2, role: replica, host: db2.apac.example, zone: d," in \
        files[PATH]["diff"]
    assert files[NOTES]["note"] == "unchanged"
    text = cg(r, "show", PLAN_ID, "--now", NOW).out
    assert "for revision 1 (sha256:" in text and "(stale: a later revision replaced it)" in text
    assert text.rstrip().endswith(f"changeguard approve {PLAN_ID} --revision 2")
    bad = cg(r, "show", PLAN_ID, "--since-revision", "3", "--now", NOW)
    assert bad.code == 2 and "has revisions 1..2" in bad.err


def test_markdown_goldens(cg: Cg, r: Path) -> None:
    _submit(cg, r)
    _review(cg, r, "approve", 1, "dev@example.org", "--comment", "ok | <b>bold</b>")
    plain = cg(r, "show", PLAN_ID, "--format", "markdown", "--now", NOW)
    diff = cg(r, "show", PLAN_ID, "--format", "markdown", "--diff", "--now", NOW)
    assert plain.code == 0 and diff.code == 0, plain.err + diff.err
    assert "| +5 | 90 | **storage** | db1 | migrate db1 volume | db1 (apac-gateway) | db2 |" \
        in plain.out
    assert "ok \\| &lt;b&gt;bold&lt;/b&gt;" in plain.out  # a comment cannot break the page
    assert "```diff\n--- a/db/apac-gateway.topology.yaml" in diff.out
    trusted = git(r, "rev-parse", "main").strip()[:12]
    _golden("show.md", plain.out)
    _golden("show-diff.md", diff.out.replace(trusted, "<trusted>"))


def test_colour_only_when_asked(tmp_path: Path, r: Path, cg: Cg,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    _submit(cg, r)
    monkeypatch.chdir(r)
    s = session(Globals(repo=r), NOW, writes=None)
    try:
        view = show_view(s, PLAN_ID, diff=True)
    finally:
        s.close()
    coloured = render_show_text(view, color=True)
    assert "\x1b[32m+  - {name: db2" in coloured and "\x1b[31m-retired\x1b[0m" in coloured
    assert "\x1b[" not in render_show_text(view, color=False)


def test_binary_missing_and_hostile_content() -> None:
    assert unified("a.bin", b"\x00\x01", b"\x00\x02") == (
        (), "binary or non-UTF-8 content: not shown")
    assert unified("a.txt", b"caf\xe9\n", b"cafe\n")[1] == "binary or non-UTF-8 content: " \
                                                          "not shown"
    assert unified("a.txt", b"x\r\n", b"x\n") == (
        (), "differs only in line endings or the final newline")
    missing = _with_diff(FileView("a.txt", "b" * 40, "a" * 40), "a" * 40, {"a" * 40: b"x\n"})
    assert missing.note == "content not stored in the log" and not missing.diff


def test_a_fence_in_the_content_cannot_close_the_markdown_fence(cg: Cg, r: Path) -> None:
    _propose(r, TOPOLOGY.replace("zone: b", "zone: c"), "```\n# heading injected\n")
    _submit(cg, r)
    out = cg(r, "show", PLAN_ID, "--format", "markdown", "--diff", "--now", NOW).out
    assert "````diff\n" in out and "\n+```\n+# heading injected\n````\n" in out


def test_json_shape_keeps_every_spec8_key(cg: Cg, r: Path) -> None:
    _submit(cg, r)
    data = _show(cg, r, "--diff")
    assert list(data)[:10] == ["id", "title", "state", "revision", "digest", "author",
                               "window", "approvals", "rejections", "events"]
    assert {"type", "risk", "services", "steps", "files"} <= set(data)
    assert all(set(s) >= {"id", "kind", "targets", "minutes", "offset_minutes"}
               for s in data["steps"])
    assert all(set(f) >= {"path", "blob", "base_blob", "diff"} for f in data["files"])
    log = git(r, "log", "--format=%H", "changeguard/log").split()
    assert [e["commit"] for e in data["events"]] == log[::-1]


def test_timeline_reads_topologies_the_plan_does_not_change(cg: Cg, r: Path) -> None:
    """SPEC §11: a step on a member of an unchanged topology is judged on the trusted one."""
    steps = [{"id": "s1", "action": "migrate db2 volume", "kind": "storage",
              "targets": ["db2"], "minutes": 90}]
    write_yaml(r / PLAN_FILE, plan(steps=steps, changes=[{"path": NOTES, "summary": "x"}]))
    _submit(cg, r)
    data = _show(cg, r)
    assert data["steps"][0]["impact"] == [{"topology": "apac-gateway", "out": ["db2"],
                                           "primary": ["db1"], "primary_before": ["db1"]}]


def _other(i: int) -> str:
    return TOPOLOGY.replace("apac-gateway", f"other{i}").replace("db1", f"o{i}a").replace(
        "db2", f"o{i}b")


def test_unchanged_topologies_are_read_by_one_git_process(tmp_path: Path, cg: Cg,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """A step on a topology the plan leaves alone: the view reads the trusted ones in one
    `cat-file --batch`, not one git process each, and times the step on that topology."""
    steps = [{"id": "s1", "action": "restart o3b", "kind": "restart", "targets": ["o3b"],
              "minutes": 5}]

    def populate(root: Path) -> None:
        _trusted_topology(root)
        for i in range(8):
            (root / f"db/other{i}.topology.yaml").write_text(_other(i))
        write_yaml(root / PLAN_FILE, plan(steps=steps, changes=[
            {"path": PATH, "summary": "db2 to zone c"}]))

    repo = init_repo(tmp_path / "cfg", populate=populate)
    _propose(repo, TOPOLOGY.replace("zone: b", "zone: c"), "notes\n")
    _submit(cg, repo)
    trace = tmp_path / "trace.json"
    monkeypatch.setenv("GIT_TRACE2_EVENT", str(trace))
    res = cg(repo, "show", PLAN_ID, "--now", NOW)
    monkeypatch.delenv("GIT_TRACE2_EVENT")
    assert res.code == 0, res.err
    assert "out: o3b (other3)" in res.out, res.out
    blobs = [e["argv"] for e in map(json.loads, trace.read_text().splitlines())
             if e["event"] == "start" and "cat-file" in e["argv"]
             and "blob" in e["argv"]]
    assert blobs == [], blobs
