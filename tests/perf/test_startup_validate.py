"""Issue 17: `changeguard validate PLAN` imports and builds only what that plan needs.

Runs of the real CLI on a copy of examples/incident-2016: module sets and counts, never
times. Output (exit code, stdout, stderr) is compared with runs that take the other path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, git, init_repo

PLAN = "changes/CHG-2016-0403-storage-v2.yaml"
NOW = "2016-03-30T10:00:00+08:00"
VALIDATE = ["validate", PLAN, "--now", NOW]
# atexit runs after SystemExit: the modules the run ended with, one per line after a mark
PROBE = ("import atexit, sys\n"
         "def _report():\n"
         "    sys.stderr.write('\\nMODULES\\n' + '\\n'.join(sorted(sys.modules)))\n"
         "    loader = sys.modules.get('pydantic.plugin._loader')\n"
         "    sys.stderr.write('\\nLOADER ' + type(loader).__name__)\n"
         "atexit.register(_report)\n"
         "sys.argv = ['changeguard', *sys.argv[1:]]\n"
         "from changeguard.__main__ import run; run()\n")


def _example(root: Path) -> Path:
    def populate(repo: Path) -> None:
        shutil.copytree(ROOT / "examples" / "incident-2016", repo, dirs_exist_ok=True)

    return init_repo(root, populate=populate)


@pytest.fixture
def example(tmp_path: Path, git_env: dict[str, str]) -> Path:
    return _example(tmp_path / "repo")


def _probe(args: list[str], cwd: Path, env: dict[str, str]
           ) -> tuple[int, str, str, set[str], str]:
    """(exit code, stdout, stderr, modules loaded, type of pydantic's plugin loader)."""
    p = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=120)
    err, _, report = p.stderr.rpartition("\nMODULES\n")
    mods, _, loader = report.rpartition("\nLOADER ")
    return p.returncode, p.stdout, err, set(mods.split("\n")), loader


def _plugin_site(root: Path, log: Path) -> Path:
    """A folder holding an installed pydantic plugin (entry point) that logs each validator."""
    site = root / "site"
    dist = site / "cgprobe_plugin-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: cgprobe-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[pydantic]\ncgprobe = cgprobe_plugin:plugin\n")
    (site / "cgprobe_plugin.py").write_text(
        "class _Plugin:\n"
        "    def new_schema_validator(self, schema, schema_type, schema_type_path, "
        "schema_kind, config, plugin_settings):\n"
        f"        with open({str(log)!r}, 'a') as f:\n"
        "            f.write(str(schema_type_path.name) + '\\n')\n"
        "        return None, None, None\n"
        "plugin = _Plugin()\n")
    return site


def test_validate_does_not_discover_pydantic_plugins(example: Path,
                                                     git_env: dict[str, str]) -> None:
    """importlib.metadata (entry-point discovery) is never imported on validate's path."""
    env = {k: v for k, v in git_env.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    code, out, err, mods, loader = _probe(VALIDATE, example, env)
    assert code == 0, err
    assert "0 denied" in out
    assert "pydantic" in mods and "changeguard.model" in mods
    assert "importlib.metadata" not in mods
    assert loader == "_StandIn"


def test_plugins_stay_off_unless_the_user_turns_them_on(example: Path, tmp_path: Path,
                                                        git_env: dict[str, str]) -> None:
    """An installed plugin sees nothing by default; a user's own PYDANTIC_DISABLE_PLUGINS
    (here naming another plugin) is kept, pydantic's real loader runs, and the output is
    the same either way."""
    log = tmp_path / "plugin.log"
    env = {**git_env, "PYTHONPATH": os.pathsep.join(
        [str(_plugin_site(tmp_path, log)), *filter(None, [os.environ.get("PYTHONPATH")])])}
    env.pop("PYDANTIC_DISABLE_PLUGINS", None)  # unset: changeguard's own default applies
    default = _probe(VALIDATE, example, env)
    assert default[0] == 0 and not log.exists()
    assert default[4] == "_StandIn"
    chosen = _probe(VALIDATE, example, {**env, "PYDANTIC_DISABLE_PLUGINS": "some-other"})
    assert chosen[:3] == default[:3]
    assert chosen[4] == "module" and "importlib.metadata" in chosen[3]
    assert "ChangePlan" in log.read_text().split()


def test_validate_leaves_the_trust_machinery_unloaded(example: Path,
                                                      git_env: dict[str, str]) -> None:
    """Packs resolve under `GuardConfig.files_root`: `config.trusted` (trusted revisions,
    governance copies) is not imported to learn that a work-tree config has no revision."""
    code, out, err, mods, _ = _probe(VALIDATE, example, git_env)
    assert code == 0 and "0 denied" in out, err
    assert "changeguard.policy" in mods and "changeguard.config.load" in mods
    assert "changeguard.config.trusted" not in mods


def _git_logger(root: Path, log: Path) -> dict[str, str]:
    """PATH with a `git` that records its arguments, one run per line, then runs git."""
    real = shutil.which("git")
    assert real is not None
    bin_dir = root / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "git"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{real}" "$@"\n')
    wrapper.chmod(0o755)
    return {"PATH": os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")])}


def test_validate_asks_git_about_the_base_once(example: Path, tmp_path: Path,
                                                git_env: dict[str, str]) -> None:
    """Rules, transitions, unchanged topologies and file notes share one answer per
    revision: one ls-tree of HEAD (which also tells that it exists), one read of the
    changed file."""
    log = tmp_path / "git.log"
    env = {**git_env, **_git_logger(tmp_path, log)}
    code, out, err, mods, _ = _probe(VALIDATE, example, env)
    assert code == 0 and "0 denied" in out, err
    runs = log.read_text().splitlines()
    verbs = [r.split()[2] for r in runs]  # `-C <repo> <verb> …`
    assert sorted(verbs) == ["cat-file", "ls-tree"], runs
    assert "subprocess" not in mods  # git is started through posix_spawn on this path


def test_validate_rev_reads_each_revision_once(example: Path, tmp_path: Path,
                                               git_env: dict[str, str]) -> None:
    """With --rev the plan, the proposed files and the digest note share REV's tree."""
    log = tmp_path / "git.log"
    env = {**git_env, **_git_logger(tmp_path, log)}
    code, out, err, _, _ = _probe([*VALIDATE, "--rev", "HEAD"], example, env)
    assert code == 0 and "0 denied" in out and "digest" in err, err
    verbs = [r.split()[2] for r in log.read_text().splitlines()]
    # HEAD is both --rev and --base: one ls-tree; the plan and the topology file each read
    # once
    assert sorted(verbs) == ["cat-file", "cat-file", "ls-tree"], verbs


def test_a_plan_without_topologies_skips_the_replication_engine(example: Path,
                                                                 git_env: dict[str, str]
                                                                 ) -> None:
    """No changed file maps to a schema and no step is disruptive: nothing for the engine
    to judge, so it is not imported (the plan rules still run: a deny finding here)."""
    text = (example / PLAN).read_text()
    plain = text.replace("kind: storage", "kind: manual").replace("kind: failover",
                                                                   "kind: manual")
    plain = plain.replace("  - {path: db/apac-gateway.topology.yaml, summary: db2 on the new "
                          "volume}\n", "  - {path: README.md}\n")
    plain = plain.replace("max_minutes: 30", "max_minutes: 300")  # 135 + 300 > 240 min
    assert plain.count("kind: manual") == 5 and "README.md" in plain
    (example / "changes" / "plain.yaml").write_text(plain)
    code, out, err, mods, _ = _probe(["validate", "changes/plain.yaml", "--now", NOW],
                                     example, git_env)
    assert code == 1 and "rollback-fits-window" in out, (out, err)
    assert "README.md does not exist yet" in err  # the file notes still look at the base
    assert "changeguard.model" in mods and "changeguard.replication.mapping" in mods
    assert not {"changeguard.replication.engine", "changeguard.replication.load"} & mods


def test_rev_and_base_must_name_commits(example: Path, git_env: dict[str, str]) -> None:
    """One ls-tree of `REV^{commit}` answers "is it a commit?" as rev-parse did: a tree id
    is no revision for --rev (exit 2), and as --base it is a base that does not exist."""
    tree = git(example, "rev-parse", "HEAD^{tree}").strip()
    code, _, err, _, _ = _probe([*VALIDATE, "--rev", tree], example, git_env)
    assert code == 2 and "is not a revision here" in err
    (example / "db" / "apac-gateway.topology.yaml").unlink()  # deleted, or never there?
    at_tree = _probe([*VALIDATE, "--base", tree], example, git_env)
    missing = _probe([*VALIDATE, "--base", "no-such-rev"], example, git_env)
    at_head = _probe(VALIDATE, example, git_env)
    assert at_tree[:3] == missing[:3]
    assert "does not exist yet" in at_tree[2] and "will be deleted" in at_head[2]


# Loaded at interpreter start from PYTHONPATH: reports, at exit, whether the cycle collector
# was on and how many collections ran once the command was dispatched (`changeguard.commands`
# imported), for either entry point, unmodified
_SITE = ("import atexit, gc, sys\n"
         "_AFTER = []\n"
         "def _seen(phase, info):\n"
         "    if phase == 'start' and 'changeguard.commands' in sys.modules:\n"
         "        _AFTER.append(info['generation'])\n"
         "gc.callbacks.append(_seen)\n"
         "def _report():\n"
         "    sys.stderr.write('\\nGC %s %d %s' % (gc.isenabled(), len(_AFTER),\n"
         "                     'typer' in sys.modules))\n"
         "atexit.register(_report)\n")


@pytest.mark.parametrize("entry", ["module", "console script"])
def test_validate_runs_without_the_cycle_collector(example: Path, tmp_path: Path,
                                                   git_env: dict[str, str], entry: str) -> None:
    """Start-up objects all live to exit: `validate` (by `python -m changeguard` and by the
    installed `changeguard` script alike) turns the collector off at dispatch, before the
    heavy imports, instead of scanning them ~55 times; the output is the same."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(_SITE)
    env = {**git_env, "PYTHONPATH": os.pathsep.join(
        [str(site), *filter(None, [os.environ.get("PYTHONPATH")])])}
    script = Path(sys.executable).parent / "changeguard"
    if entry == "console script" and not script.is_file():
        pytest.skip("no installed console script next to this interpreter")
    cmd = [sys.executable, "-m", "changeguard"] if entry == "module" else [str(script)]
    p = subprocess.run([*cmd, *VALIDATE], cwd=example, env=env, capture_output=True,
                       text=True, timeout=120)
    err, _, report = p.stderr.rpartition("\nGC ")
    enabled, collections, typer = report.split()
    assert p.returncode == 0 and "0 denied" in p.stdout, p.stderr
    assert (enabled, typer) == ("False", "False")
    assert collections == "0", report  # with the collector on: ~50
    # the probe's own import does not count against the output: as without it
    plain = _probe(VALIDATE, example, git_env)
    assert (p.returncode, p.stdout, err) == plain[:3]
