"""Issue 17: the verdict cache of `check FILE…`, `check --all` and the hook.

Real repos and real CLI processes. A cache hit is recognised without timing: a run answered
from the cache imports none of the judges (`changeguard.replication.engine`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from changeguard import caches, checkcache
from changeguard.hook import CACHE_MIN_FILES
from changeguard.replication.mapping import FileMapping
from tests.helpers import git
from tests.helpers.plans import config, write_yaml

GOOD = """\
apiVersion: changeguard/v1
kind: ReplicationTopology
name: {name}
engine: postgresql
nodes:
  - {{name: db1, role: primary, host: {name}-1, zone: a}}
  - {{name: db2, role: replica, host: {name}-2, zone: b, upstream: db1}}
"""
BAD = GOOD.replace("role: replica", "role: primary")
MAPPING = {"paths": ["topo/**/*.topology.yaml"], "schema": "builtin:replication-topology"}
# prints on stderr (last line) whether the judges were imported: a hit parses nothing
PROBE = ("import atexit, sys; atexit.register(lambda: sys.stderr.write("
         "'\\nJUDGED' if 'changeguard.replication.engine' in sys.modules else '\\nCACHED'));"
         "sys.argv = ['changeguard', *sys.argv[1:]];"
         "from changeguard.__main__ import run; run()")


@pytest.fixture
def env(git_env: dict[str, str]) -> dict[str, str]:
    """The test env without CI (where the cache is off by design) or a cache switch."""
    e = dict(git_env)
    e.pop("CI", None)
    e.pop(caches.ENV, None)
    return e


@pytest.fixture
def topo_repo(repo: Path) -> Path:
    write_yaml(repo / ".changeguard.yaml", config(guarded=[], schemas=[MAPPING]))
    (repo / "topo").mkdir()
    (repo / "topo/a.topology.yaml").write_text(GOOD.format(name="a"))
    (repo / "topo/b.topology.yaml").write_text(BAD.format(name="b"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "topologies")
    return repo


def _cg(repo: Path, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    p = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=repo, env=env,
                       capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr.rstrip()


def _store(repo: Path) -> Path:
    return repo / ".git" / "changeguard" / "check-cache"


def _entries(repo: Path) -> list[Path]:
    """Verdict entries (not the validated-config ones)."""
    return sorted(p for p in _store(repo).glob("*.json") if not p.name.startswith("config-"))


def _forge_clean(repo: Path) -> None:
    """Rewrite every entry, well-formed and checksummed, to claim no findings."""
    for path in _entries(repo):
        doc = json.loads(path.read_text())
        checkcache.save_entry(_store(repo), doc["key"], {**doc["body"], "findings": []})


@pytest.mark.parametrize("args", [("check", "--all", "--format", "json"),
                                  ("check", "topo/b.topology.yaml", "topo/a.topology.yaml"),
                                  ("check", "--all", "--format", "sarif")])
def test_a_hit_gives_the_findings_of_a_miss(topo_repo: Path, env: dict[str, str],
                                            args: tuple[str, ...]) -> None:
    code, out, err = _cg(topo_repo, env, *args)
    assert code == 1 and err.endswith("JUDGED")
    assert len(_entries(topo_repo)) == 1
    again = _cg(topo_repo, env, *args)
    assert again[2].endswith("CACHED")
    assert again[:2] == (code, out)
    assert again[2].removesuffix("CACHED") == err.removesuffix("JUDGED")


def test_changed_content_is_judged_again(topo_repo: Path, env: dict[str, str]) -> None:
    assert _cg(topo_repo, env, "check", "--all")[0] == 1
    (topo_repo / "topo/b.topology.yaml").write_text(GOOD.format(name="b"))
    code, _, err = _cg(topo_repo, env, "check", "--all")
    assert code == 0 and err.endswith("JUDGED")
    (topo_repo / "topo/b.topology.yaml").write_text(BAD.format(name="b"))
    code, _, err = _cg(topo_repo, env, "check", "--all")
    assert code == 1 and err.endswith("CACHED")  # the first run's entry, content as then


def test_a_new_file_is_a_new_run(topo_repo: Path, env: dict[str, str]) -> None:
    assert _cg(topo_repo, env, "check", "--all")[0] == 1
    (topo_repo / "topo/b.topology.yaml").write_text(GOOD.format(name="b"))
    assert _cg(topo_repo, env, "check", "--all")[0] == 0
    (topo_repo / "topo/c.topology.yaml").write_text(BAD.format(name="c"))  # untracked
    code, out, err = _cg(topo_repo, env, "check", "--all", "--format", "json")
    assert code == 1 and err.endswith("JUDGED")
    assert {f["file"] for f in json.loads(out)["findings"]} == {"topo/c.topology.yaml"}


@pytest.mark.parametrize("damage", ["garbage", "body", "key", "checksum"])
def test_a_corrupted_entry_is_ignored(topo_repo: Path, env: dict[str, str],
                                      damage: str) -> None:
    _, first, _ = _cg(topo_repo, env, "check", "--all", "--format", "json")
    (entry,) = _entries(topo_repo)
    doc = json.loads(entry.read_text())
    for other in ("check", "topo/a.topology.yaml"), ("check", "--all", "--format", "sarif"):
        _cg(topo_repo, env, *other)  # entries of other runs stay out of the way
    if damage == "garbage":
        entry.write_bytes(b"\x00not json")
    elif damage == "body":  # findings dropped, checksum left as it was
        doc["body"]["findings"] = []
        entry.write_text(json.dumps(doc))
    elif damage == "key":  # this run's entry, stored under another run's key
        other = next(p for p in _entries(topo_repo) if p != entry)
        doc["key"] = other.name.split(".")[0]
        entry.write_text(json.dumps(doc))
    else:
        doc["sha256"] = "0" * 64
        entry.write_text(json.dumps(doc))
    code, out, err = _cg(topo_repo, env, "check", "--all", "--format", "json")
    assert code == 1 and out == first and err.endswith("JUDGED")
    assert _cg(topo_repo, env, "check", "--all")[2].endswith("CACHED")  # replaced


def test_a_well_formed_entry_is_believed_by_local_commands(topo_repo: Path,
                                                           env: dict[str, str]) -> None:
    # the control for the trust tests below: a forged entry does fool a local check
    assert _cg(topo_repo, env, "check", "--all")[0] == 1
    _forge_clean(topo_repo)
    assert _cg(topo_repo, env, "check", "--all")[0] == 0


@pytest.mark.parametrize("switch", [{"CI": "true"}, {caches.ENV: "off"}])
def test_ci_and_the_switch_never_read_the_cache(topo_repo: Path, env: dict[str, str],
                                                switch: dict[str, str]) -> None:
    assert _cg(topo_repo, env, "check", "--all")[0] == 1
    _forge_clean(topo_repo)
    code, _, err = _cg(topo_repo, {**env, **switch}, "check", "--all")
    assert code == 1 and err.endswith("JUDGED")


def test_the_gate_never_believes_the_cache(repo: Path, env: dict[str, str]) -> None:
    write_yaml(repo / ".changeguard.yaml", config(guarded=[], schemas=[MAPPING]))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "config")
    base = git(repo, "rev-parse", "HEAD").strip()
    (repo / "topo").mkdir()
    (repo / "topo/b.topology.yaml").write_text(BAD.format(name="b"))
    for i in range(CACHE_MIN_FILES - 1):  # the hook caches runs of this many files
        (repo / f"topo/g{i}.topology.yaml").write_text(GOOD.format(name=f"g{i}"))
    git(repo, "add", "-A")
    assert _cg(repo, env, "check", "--staged")[0] == 1  # the hook writes its entry
    _forge_clean(repo)
    assert _cg(repo, env, "check", "--staged")[0] == 0  # ...and believes a forged one
    subprocess.run(["git", "commit", "-qm", "bad", "--no-verify"], cwd=repo, env=env,
                   check=True)
    # the gate judges the same file, same mapping, same bytes: it must judge them itself
    code, out, err = _cg(repo, env, "check", "--range", f"{base}..HEAD", "--format", "json")
    assert code == 1, err
    assert err.endswith("JUDGED")
    assert "replication-single-primary" in {f["rule"] for f in json.loads(out)["findings"]}


def test_the_hook_skips_the_cache_for_a_small_run(repo: Path, env: dict[str, str]) -> None:
    write_yaml(repo / ".changeguard.yaml", config(guarded=[], schemas=[MAPPING]))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "config")  # the hook reads the trusted revision's config
    (repo / "topo").mkdir()
    (repo / "topo/b.topology.yaml").write_text(BAD.format(name="b"))
    git(repo, "add", "-A")
    for _ in range(2):
        code, _, err = _cg(repo, env, "check", "--staged")
        assert code == 1 and err.endswith("JUDGED")
    assert not _store(repo).exists()


def test_an_unwritable_cache_does_not_break_check(topo_repo: Path, env: dict[str, str]) -> None:
    (topo_repo / ".git" / "changeguard").mkdir(exist_ok=True)
    (topo_repo / ".git" / "changeguard" / "check-cache").write_text("in the way\n")
    git_dir = topo_repo / ".git"
    os.chmod(git_dir, 0o555)  # read-only .git (root ignores it; the file above does not)
    try:
        for _ in range(2):
            code, out, err = _cg(topo_repo, env, "check", "--all", "--format", "json")
            assert code == 1 and "Traceback" not in err and err.endswith("JUDGED")
            assert json.loads(out)["summary"]["deny"] >= 1
    finally:
        os.chmod(git_dir, 0o755)


def _key(tmp: Path, mappings: list[FileMapping], **kw: object) -> str | None:
    args: dict[str, object] = {"max_bytes": 1000, "explicit": False, "complete_groups": False}
    args.update(kw)
    return checkcache.run_key(tmp, ["topo/a.topology.yaml"], mappings, **args)  # type: ignore[arg-type]


def test_the_key_covers_mapping_schema_limit_and_mode(tmp_path: Path) -> None:
    native = [FileMapping(("topo/**",), "builtin:replication-topology")]
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "gw.json").write_text('{"type": "object"}')
    local = [FileMapping(("topo/**",), "schemas/gw.json")]
    keys = {_key(tmp_path, native), _key(tmp_path, local),
            _key(tmp_path, [FileMapping(("topo/**",), None, "patroni")]),
            _key(tmp_path, [FileMapping(("other/**",), "builtin:replication-topology")]),
            _key(tmp_path, native, max_bytes=999), _key(tmp_path, native, explicit=True),
            _key(tmp_path, native, complete_groups=True)}
    assert len(keys) == 7 and None not in keys
    assert _key(tmp_path, native) == _key(tmp_path, native)  # stable
    before = _key(tmp_path, local)
    (tmp_path / "schemas" / "ref.json").write_text("{}")  # a `$ref` target beside it
    assert _key(tmp_path, local) != before
    after = _key(tmp_path, local)
    (tmp_path / "schemas" / "gw.json").write_text('{"type": "array"}')
    assert _key(tmp_path, local) != after


def test_the_product_fingerprint_follows_the_code(tmp_path: Path) -> None:
    pkg = Path(checkcache.__file__).resolve().parent
    copy = tmp_path / "changeguard"
    shutil.copytree(pkg, copy, ignore=shutil.ignore_patterns("__pycache__"),
                    copy_function=shutil.copy2)
    first = checkcache.product_fingerprint(copy)
    assert checkcache.product_fingerprint(copy) == first
    rules = copy / "replication" / "invariants.py"
    rules.write_text(rules.read_text() + "\n# a changed rule\n")
    assert checkcache.product_fingerprint(copy) != first


def test_an_edited_repo_schema_is_judged_again(repo: Path, env: dict[str, str]) -> None:
    (repo / "schemas").mkdir()
    (repo / "schemas" / "gw.json").write_text('{"type": "object"}')
    write_yaml(repo / ".changeguard.yaml", config(
        guarded=[], schemas=[{"paths": ["gw/*.json"], "schema": "schemas/gw.json"}]))
    (repo / "gw").mkdir()
    (repo / "gw" / "a.json").write_text('{"name": 1}')
    assert _cg(repo, env, "check", "--all")[0] == 0
    (repo / "schemas" / "gw.json").write_text(
        '{"type": "object", "properties": {"name": {"type": "string"}}}')
    code, _, err = _cg(repo, env, "check", "--all", "--format", "json")
    assert code == 1 and err.endswith("JUDGED")


PYDANTIC_PROBE = PROBE.replace("'changeguard.replication.engine'", "'pydantic'")


def test_a_known_config_is_read_without_pydantic(topo_repo: Path, env: dict[str, str]) -> None:
    def pyd(*args: str) -> tuple[int, str, str]:
        p = subprocess.run([sys.executable, "-c", PYDANTIC_PROBE, *args], cwd=topo_repo,
                           env=env, capture_output=True, text=True, timeout=120)
        return p.returncode, p.stdout, p.stderr.rstrip()

    first = pyd("check", "--all", "--format", "json")
    assert first[2].endswith("JUDGED")  # here: pydantic was imported
    again = pyd("check", "--all", "--format", "json")
    assert again[2].endswith("CACHED") and again[:2] == first[:2]


def test_config_edits_are_seen(topo_repo: Path, env: dict[str, str]) -> None:
    assert _cg(topo_repo, env, "check", "--all")[0] == 1
    cfg = topo_repo / ".changeguard.yaml"
    text = cfg.read_text()
    write_yaml(cfg, config(guarded=[], schemas=[{**MAPPING, "paths": ["elsewhere/**"]}]))
    assert _cg(topo_repo, env, "check", "--all")[0] == 0  # nothing mapped any more
    cfg.write_text(text.replace("kind: GuardConfig", "kind: GuardConfig\ngaurded: []"))
    for _ in range(2):  # an invalid config is never remembered
        code, _, err = _cg(topo_repo, env, "check", "--all")
        assert code == 2 and "gaurded" in err and "Traceback" not in err
    cfg.write_text(text)
    assert _cg(topo_repo, env, "check", "--all")[0] == 1
