"""Issue 17: what the hook entry loads and spawns, counted (never timed).

Every case is a real `changeguard-hook` process (the installed entry point's code) in a
real repository. The probe prints the modules the process ended with; git's own trace
(`GIT_TRACE`, kept by `git.clean_env`) counts the git processes it started.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from changeguard.config import light
from changeguard.config.light import LightConfig, parse_light_config
from changeguard.loader import parse_document
from tests.helpers import git, init_repo
from tests.helpers.plans import CONFIG, TOPOLOGY

# atexit runs after SystemExit: the module set the whole run needed
PROBE = ("import atexit, sys; atexit.register(lambda: sys.stderr.write("
         "'\\nMODULES ' + ' '.join(sorted(sys.modules))));"
         "from changeguard.hook import main; sys.exit(main(sys.argv[1:]))")
NOW = "2016-04-03T02:00:00+08:00"


@pytest.fixture
def hook_repo(tmp_path: Path, git_env: dict[str, str]) -> Path:
    cfg = {**CONFIG, "schemas": [{"paths": ["topo/**/*.topology.yaml"],
                                  "schema": "builtin:replication-topology"}]}
    return init_repo(tmp_path / "repo", {".changeguard.yaml": yaml.safe_dump(cfg)})


def _env(git_env: dict[str, str], **extra: str) -> dict[str, str]:
    env = {k: v for k, v in git_env.items() if k not in ("CI", "CHANGEGUARD_CHECK_CACHE")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return {**env, "CHANGEGUARD_NOW": NOW, **extra}


def _hook(repo: Path, env: dict[str, str]) -> tuple[int, set[str], str]:
    p = subprocess.run([sys.executable, "-c", PROBE], cwd=repo, env=env, capture_output=True,
                       text=True, timeout=120)
    text, _, mods = p.stderr.rpartition("\nMODULES ")
    return p.returncode, set(mods.split()), text + p.stdout


def _stage(repo: Path, path: str, text: str) -> None:
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(text)
    git(repo, "add", path)


def test_unmapped_file_loads_no_replication_and_no_yaml_once_the_view_is_known(
        hook_repo: Path, git_env: dict[str, str]) -> None:
    _stage(hook_repo, "docs/notes.md", "hello\n")
    env = _env(git_env)
    code, first, _ = _hook(hook_repo, env)  # parses the trusted config, remembers its view
    assert code == 0
    assert "yaml" in first
    code, mods, out = _hook(hook_repo, env)
    assert code == 0, out
    assert not {m for m in mods if m.startswith("changeguard.replication")}
    assert not {"yaml", "changeguard.loader", "pydantic", "jsonschema", "hashlib"} & mods
    # the same run under CI reads no remembered view: it parses (and still passes)
    code, ci_mods, out = _hook(hook_repo, {**env, "CI": "true"})
    assert code == 0, out
    assert "yaml" in ci_mods


def test_staged_topology_loads_neither_pydantic_nor_jsonschema_nor_the_cache_keys(
        hook_repo: Path, git_env: dict[str, str]) -> None:
    _stage(hook_repo, "topo/gw.topology.yaml", TOPOLOGY)
    code, mods, out = _hook(hook_repo, _env(git_env))
    assert code == 0, out
    assert "changeguard.replication.native" in mods  # it was judged
    assert not {"pydantic", "jsonschema", "changeguard.checkcache", "hashlib", "difflib",
                "shutil", "typing"} & mods
    # `inspect` stands in until used (hook/_defer.py): what loading it imports is absent
    assert not {"ast", "dis", "tokenize", "linecache"} & mods
    # and judged for real: two primaries are a deny finding
    _stage(hook_repo, "topo/gw.topology.yaml", TOPOLOGY.replace("role: replica",
                                                                "role: primary"))
    code, _, out = _hook(hook_repo, _env(git_env))
    assert code == 1, out


def _git_processes(repo: Path, env: dict[str, str], tmp: Path) -> list[str]:
    trace = tmp / "trace.txt"
    trace.unlink(missing_ok=True)
    code, _, out = _hook(repo, {**env, "GIT_TRACE": str(trace)})
    assert code in (0, 1), out
    return [line for line in trace.read_text().splitlines() if "built-in: git" in line]


def test_git_processes_of_the_hook_entry(hook_repo: Path, git_env: dict[str, str],
                                         tmp_path: Path) -> None:
    env = _env(git_env)
    _stage(hook_repo, "docs/notes.md", "hello\n")
    unmapped = _git_processes(hook_repo, env, tmp_path)
    _stage(hook_repo, "topo/gw.topology.yaml", TOPOLOGY)
    topology = _git_processes(hook_repo, env, tmp_path)
    # one `cat-file --batch` kept open (the trusted config, then the staged blob) and the
    # staged set: two git processes whatever is staged
    for run in (unmapped, topology):
        names = [x.split("built-in: git ", 1)[1].split()[0] for x in run]
        assert names == ["cat-file", "diff"], run


# ---- the remembered view itself ----------------------------------------------------------

RAW = yaml.safe_dump({**CONFIG, "guarded": ["db/**"]}).encode()


def _parser(raw: bytes, calls: list[int]) -> light.Callable[[], LightConfig]:
    def parse() -> LightConfig:
        calls.append(1)
        return parse_light_config(parse_document(raw, ".changeguard.yaml"))
    return parse


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("CHANGEGUARD_CHECK_CACHE", raising=False)
    monkeypatch.setattr(light, "_memo", {})
    light.remember_views_in(tmp_path)
    yield tmp_path / "changeguard" / "light-config.marshal"
    light.remember_views_in(None)


def _fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(light, "_memo", {})


def test_a_remembered_view_is_the_parsed_view_of_the_same_bytes(
        store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    first = light.remembered_view(RAW, ".changeguard.yaml", _parser(RAW, calls))
    assert store.is_file() and calls == [1]
    _fresh_process(monkeypatch)
    again = light.remembered_view(RAW, ".changeguard.yaml", _parser(RAW, calls))
    assert again == first and calls == [1]  # from the store: nothing parsed
    other = yaml.safe_dump({**CONFIG, "guarded": []}).encode()
    _fresh_process(monkeypatch)
    view = light.remembered_view(other, ".changeguard.yaml", _parser(other, calls))
    assert view.guarded == () and calls == [1, 1]  # other bytes: parsed, never the old view
    _fresh_process(monkeypatch)
    assert light.remembered_view(RAW, "sub/.changeguard.yaml", _parser(RAW, calls)) == first
    assert calls == [1, 1, 1]  # another path is another key


@pytest.mark.parametrize("damage", ["garbage", "truncated", "stamp", "fields"])
def test_a_damaged_or_foreign_store_is_ignored(store: Path, monkeypatch: pytest.MonkeyPatch,
                                               damage: str) -> None:
    import marshal

    calls: list[int] = []
    light.remembered_view(RAW, ".changeguard.yaml", _parser(RAW, calls))
    data = store.read_bytes()
    stamp, entries = marshal.loads(data)
    if damage == "garbage":
        store.write_bytes(b"\x00not marshal")
    elif damage == "truncated":
        store.write_bytes(data[: len(data) // 2])
    elif damage == "stamp":  # written by another version of the code
        store.write_bytes(marshal.dumps(((0, *stamp[1:]), entries)))
    else:  # a field of the wrong type is not a view
        raw, file, fields = entries[0]
        store.write_bytes(marshal.dumps((stamp, [(raw, file, (*fields[:1], list(fields[1]),
                                                               *fields[2:]))])))
    _fresh_process(monkeypatch)
    view = light.remembered_view(RAW, ".changeguard.yaml", _parser(RAW, calls))
    assert calls == [1, 1] and view.guarded == ("db/**",)


def test_ci_neither_reads_nor_writes_the_store(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(light, "_memo", {})
    monkeypatch.setenv("CI", "true")
    light.remember_views_in(tmp_path)
    try:
        calls: list[int] = []
        light.remembered_view(RAW, ".changeguard.yaml", _parser(RAW, calls))
        assert calls == [1]
        assert not (tmp_path / "changeguard").exists()
    finally:
        light.remember_views_in(None)
    assert os.environ["CI"] == "true"


def test_a_deferred_inspect_loads_whole_on_first_use() -> None:
    """After the hook's imports, `inspect` is a stand-in; the first name read loads it."""
    probe = ("import sys; import changeguard.hook; import inspect; "
             "print(type(sys.modules['inspect']).__name__, 'ast' in sys.modules); "
             "from inspect import Parameter; import dataclasses; "
             "print(inspect.signature(len), Parameter.__name__, "
             "type(sys.modules['inspect']).__name__, 'ast' in sys.modules)")
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split("\n")[:2] == ["_Deferred False", "(obj, /) Parameter module True"]


def test_check_staged_at_the_prompt_loads_what_the_hook_loads(
        hook_repo: Path, git_env: dict[str, str]) -> None:
    """`changeguard check --staged` (the console script's `run`) defers `inspect` and skips
    `typing` as the hook entry does: same path, same cost (issue 17)."""
    _stage(hook_repo, "topo/gw.topology.yaml", TOPOLOGY)
    probe = ("import atexit, sys; atexit.register(lambda: sys.stderr.write("
             "'\\nMODULES ' + ' '.join(sorted(sys.modules))));"
             "sys.argv = ['changeguard', 'check', '--staged'];"
             "from changeguard.__main__ import run; run()")
    p = subprocess.run([sys.executable, "-c", probe], cwd=hook_repo, env=_env(git_env),
                       capture_output=True, text=True, timeout=120)
    text, _, mods = p.stderr.rpartition("\nMODULES ")
    assert p.returncode == 0, text + p.stdout
    loaded = set(mods.split())
    assert "changeguard.replication.native" in loaded  # it was judged
    assert not {"typing", "ast", "dis", "tokenize", "typer", "pydantic"} & loaded


def test_the_hook_and_check_collect_cycles_less_often(hook_repo: Path,
                                                     git_env: dict[str, str]) -> None:
    """Both entries run with the larger young generation (hook/_defer.py): a run that judges
    a topology collects a handful of times, not ~20 (issue 17); counted, never timed."""
    _stage(hook_repo, "topo/gw.topology.yaml", TOPOLOGY)
    bare = subprocess.run([sys.executable, "-c", "import gc; print(sum(s['collections'] "
                           "for s in gc.get_stats()))"], capture_output=True, text=True,
                          timeout=60)
    start_up = int(bare.stdout)  # the interpreter's own, before any of ours
    report = ("import atexit, gc, sys; atexit.register(lambda: sys.stderr.write("
              "'\\nGC %d %d' % (gc.get_threshold()[0], sum(s['collections'] "
              "for s in gc.get_stats()))));")
    for entry in ("from changeguard.hook import main; sys.exit(main([]))",
                  "sys.argv = ['changeguard', 'check', '--staged'];"
                  "from changeguard.__main__ import run; run()"):
        p = subprocess.run([sys.executable, "-c", report + entry], cwd=hook_repo,
                           env=_env(git_env), capture_output=True, text=True, timeout=120)
        text, _, got = p.stderr.rpartition("\nGC ")
        assert p.returncode == 0, text + p.stdout
        threshold, collections = map(int, got.split())
        assert threshold == 100_000
        assert collections - start_up <= 10, (start_up, collections)  # ~20 by default
