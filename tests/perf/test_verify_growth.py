"""Issue 17: `log verify` at scale costs git work linear in the log, never per event.

Counts, not times: the git processes one run starts (GIT_TRACE) and the objects git reads
from packs (GIT_TRACE_PACK_ACCESS), for logs of 50 and 500 real submits built by the
benchmark's builder (bench/log_scale.py: every event made by the product's own state
machine and digest, so the log verifies). Real CLI subprocesses, real repositories.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path
from types import ModuleType

import pytest

from tests.helpers.cli import run_cli
from tests.helpers.paths import ROOT

SMALL, BIG = 50, 500  # 10x the events
_GIT_PROCESS = re.compile(r"trace: (?:built-in|exec): git ")


def _log_scale() -> ModuleType:
    spec = importlib.util.spec_from_file_location("log_scale", ROOT / "bench" / "log_scale.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """A config repo per size whose log holds that many submitted changes."""
    ls = _log_scale()
    home = tmp_path_factory.mktemp("home")
    env = {"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "Ana",
           "GIT_AUTHOR_EMAIL": ls.AUTHOR, "GIT_COMMITTER_NAME": "Ana",
           "GIT_COMMITTER_EMAIL": ls.AUTHOR}
    with pytest.MonkeyPatch.context() as mp:
        for k in [k for k in os.environ if k.startswith("GIT_")]:
            mp.delenv(k)
        for k, v in env.items():
            mp.setenv(k, v)
        out = {}
        for n in (SMALL, BIG):
            repo = tmp_path_factory.mktemp(f"log{n}") / "repo"
            ls.build(repo, n)
            out[n] = repo
        return out


def _traced(repo: Path, *args: str, email: str = "ana@example.org") -> tuple[int, int]:
    """(git processes started, objects read from packs) by one `changeguard ARGS` run."""
    trace, packs = repo.parent / "trace.txt", repo.parent / "packs.txt"
    for f in (trace, packs):
        f.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(HOME=str(repo.parent), GIT_CONFIG_NOSYSTEM="1", GIT_TRACE=str(trace),
               GIT_TRACE_PACK_ACCESS=str(packs), GIT_AUTHOR_EMAIL=email,
               GIT_AUTHOR_NAME="Dev", GIT_COMMITTER_EMAIL=email, GIT_COMMITTER_NAME="Dev",
               PYTHONPATH=str(ROOT))
    res = run_cli(env, *args, cwd=repo)
    assert res.code == 0, res.err
    procs = sum(1 for line in trace.read_text().splitlines() if _GIT_PROCESS.search(line))
    reads = len(packs.read_text().splitlines()) if packs.exists() else 0
    return procs, reads


def test_from_scratch_starts_the_same_git_processes_at_any_size(logs: dict[int, Path]) -> None:
    small, _ = _traced(logs[SMALL], "log", "verify", "--from-scratch")
    big, _ = _traced(logs[BIG], "log", "verify", "--from-scratch")
    assert small > 0
    # bulk reads: a git process per event would make this ~10x
    assert big <= 2 * small, (small, big)


def test_from_scratch_reads_objects_linearly(logs: dict[int, Path]) -> None:
    _, small = _traced(logs[SMALL], "log", "verify", "--from-scratch")
    _, big = _traced(logs[BIG], "log", "verify", "--from-scratch")
    assert small > 0
    # linear is ~10x for 10x the events; a quadratic replay would read ~100x
    assert big <= 2 * (BIG // SMALL) * small, (small, big)


def test_reverifying_after_new_events_reads_what_they_touch(logs: dict[int, Path]) -> None:
    repo = logs[BIG]
    _, full = _traced(repo, "log", "verify", "--from-scratch")  # remembers the tip
    for k in range(3):
        _traced(repo, "approve", f"CHG-B-{BIG - 1 - k:05d}", "--revision", "1", "--now",
                "2029-12-01T00:00:00+00:00", email="dev@example.org")
    procs, reads = _traced(repo, "log", "verify")
    # from the remembered tip: the new events' objects, not the states, shards and plans of
    # the 500 before them (what is left is rev-list walking the commits: ~4x fewer reads)
    assert reads * 2 <= full, (reads, full)
    assert procs > 0
