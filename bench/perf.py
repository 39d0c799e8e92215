"""Every figure of issue 17 in one run, side by side with the peer (check-jsonschema).

    .venv/bin/python bench/perf.py [--runs N] [--bulk-runs N] [--log-size 10000] [--json-only]

Whole processes, as users and git run them, interleaved round by round so that load from
other processes hits every case alike; medians of wall time and of CPU time (user+sys of
the process and its git children: the stable number on a shared machine). Byte-code is
cached outside the checkout (a PYTHONDONTWRITEBYTECODE shell would time the compiler), and
`CI` is unset (the verdict cache is for local commands; CI never reads it).

Figures owned by other helpers (submit, log verify, show, approve, list, the hook on a big
log) are measured here with the logs of bench/log_scale.py; optimising them is theirs.
Prints one JSON document, then a table. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import check_bulk  # noqa: E402  bench/ is a folder of scripts, not a package
import hook as hook_bench  # noqa: E402
import log_scale  # noqa: E402
import validate as validate_bench  # noqa: E402

from changeguard.changelog import ancestry, verified  # noqa: E402

BIN = Path(sys.executable).parent
SCHEMA = HERE.parent / "schemas" / "replication-topology.schema.json"
PEER = [str(BIN / "check-jsonschema"), "--schemafile", str(SCHEMA)]
CG = [str(BIN / "changeguard")]


@dataclass
class Sample:
    wall: float
    cpu: float
    rss_mb: float
    code: int


def run_once(cmd: list[str], cwd: Path, env: dict[str, str]) -> Sample:
    """One process: wall, CPU and peak RSS (MB), both counting its waited-for git children."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = code = os.waitstatus_to_exitcode(status)
        if code not in (0, 1):
            err.seek(0)
            raise SystemExit(f"{cmd} exited {code}: {err.read().decode()[-1500:]}")
    return Sample(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, code)


measured = run_once


def peak_rss(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Peak RSS (MB) of one run of `cmd`."""
    return run_once(cmd, cwd, env).rss_mb


Case = tuple[Callable[[], list[str]], Path, Callable[[], None] | None]


def series(cases: dict[str, Case], runs: int, env: dict[str, str]
           ) -> dict[str, dict[str, object]]:
    """Median wall/CPU per case over `runs` interleaved rounds (after one warm-up round).

    A case is (command factory, cwd, prepare): `prepare` runs untimed before each run (new
    content), the factory may name a different target each time (a new change to approve).
    """
    samples: dict[str, list[Sample]] = {name: [] for name in cases}
    for i in range(runs + 1):
        for name, (cmd, cwd, prepare) in cases.items():
            if prepare is not None:
                prepare()
            s = measured(cmd(), cwd, env)
            if i:
                samples[name].append(s)
    return {name: {"wall_s": statistics.median(x.wall for x in ss),
                   "cpu_s": statistics.median(x.cpu for x in ss),
                   "min_wall_s": min(x.wall for x in ss), "runs": len(ss),
                   "exit_codes": sorted({x.code for x in ss})}
            for name, ss in samples.items()}


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONDONTWRITEBYTECODE", "CI", "CHANGEGUARD_CHECK_CACHE")
           and not k.startswith("GIT_")}
    env.update(PYTHONPYCACHEPREFIX=str(tmp / "pycache"), NO_COLOR="1",
               GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1",
               GIT_AUTHOR_NAME="Ana", GIT_AUTHOR_EMAIL=log_scale.AUTHOR,
               GIT_COMMITTER_NAME="Ana", GIT_COMMITTER_EMAIL=log_scale.AUTHOR)
    return env


def _git(repo: Path, *args: str, env: dict[str, str]) -> None:
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


def _fixed(cmd: list[str]) -> Callable[[], list[str]]:
    return lambda: cmd


# ---- hook: 1 staged topology, new content each run ------------------------------------

def hook_figures(tmp: Path, env: dict[str, str], runs: int) -> dict[str, object]:
    repo = hook_bench.make_repo(tmp, "hook", {"topo/gw.topology.yaml":
                                              hook_bench.TOPOLOGY.format(name="gw")})
    counter = itertools.count()

    def new_content() -> None:
        (repo / "topo/gw.topology.yaml").write_text(
            hook_bench.TOPOLOGY.format(name=f"gw{next(counter)}"))
        _git(repo, "add", "topo/gw.topology.yaml", env=env)

    henv = dict(env, CHANGEGUARD_NOW=hook_bench.NOW)
    res = series({
        "hook_entry": (_fixed([str(BIN / "changeguard-hook")]), repo, new_content),
        "check_staged_prompt": (_fixed([*CG, "check", "--staged"]), repo, new_content),
        "check_jsonschema": (_fixed([*PEER, "topo/gw.topology.yaml"]), repo, new_content),
        "python_c_pass": (_fixed([sys.executable, "-c", "pass"]), repo, None),
    }, runs, henv)
    return res


# ---- check --all: 1000 topologies -------------------------------------------------------

def bulk_figures(tmp: Path, env: dict[str, str], runs: int, files: int) -> dict[str, object]:
    repo = tmp / "bulk"
    native = check_bulk.build_repo(repo, files, 0)
    _git(repo, "add", "-A", env=env)
    _git(repo, "commit", "-qm", "topologies", env=env)
    counter = itertools.count()

    def new_content() -> None:
        k = next(counter)
        for i, rel in enumerate(native):
            (repo / rel).write_text(check_bulk.native_doc(i).replace(
                f"description: generated topology {i}",
                f"description: generated topology {i} run {k}"))

    ours = [*CG, "check", "--all", "--format", "json"]
    new = series({"changeguard_new_content": (_fixed(ours), repo, new_content),
                  "check_jsonschema": (_fixed([*PEER, *native]), repo, new_content)},
                 runs, env)
    measured(ours, repo, env)  # the entry for this content
    same = series({"changeguard_unchanged": (_fixed(ours), repo, None)}, max(runs, 5), env)
    new_content()
    rss = {"rss_mb_new_content": peak_rss(ours, repo, env),
           "rss_mb_unchanged": peak_rss(ours, repo, env),
           "rss_mb_check_jsonschema": peak_rss([*PEER, *native], repo, env)}
    return {**new, **same, **rss, "files": files}


# ---- submit of a plan listing 5000 paths -----------------------------------------------

SUBMIT_CONFIG = {**log_scale.CONFIG, "guarded": ["db/**"], "lead_time_hours": 0,
                 "windows": [{"name": "any", "days": ["mon", "tue", "wed", "thu", "fri",
                                                      "sat", "sun"],
                              "start": "00:00", "end": "23:59", "timezone": "UTC"}]}


def submit_figures(tmp: Path, env: dict[str, str], runs: int, paths: int
                   ) -> dict[str, object]:
    import yaml

    repo = tmp / "submit"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main", env=env)
    (repo / ".changeguard.yaml").write_text(yaml.safe_dump(SUBMIT_CONFIG))
    for i in range(paths):
        p = repo / "db" / f"d{i // 500:02d}" / f"f{i:05d}.yaml"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"value: {i}\n")
    _git(repo, "add", "-A", env=env)
    _git(repo, "commit", "-qm", "init", env=env)
    plan = log_scale._plan(1)
    plan["changes"] = [{"path": f"db/d{i // 500:02d}/f{i:05d}.yaml"} for i in range(paths)]
    counter = itertools.count()
    target = repo / "changes" / "big.yaml"
    target.parent.mkdir()

    def new_revision() -> None:  # each run records a new revision of the same change
        target.write_text(yaml.safe_dump({**plan, "title": f"big change {next(counter)}"},
                                         sort_keys=False))

    cmd = [*CG, "submit", "changes/big.yaml", "--now", log_scale.NOW]
    return {**series({"submit": (_fixed(cmd), repo, new_revision)}, runs, env),
            "paths": paths}


# ---- the change log at 10 and at N changes ---------------------------------------------

def _log_repo(tmp: Path, name: str, n: int) -> Path:
    repo = tmp / name
    log_scale.CONFIG["guarded"] = ["db/**"]  # the hook judges coverage on a big log too
    log_scale.build(repo, n, records=True)  # as the CLI writes them
    (repo / "db").mkdir(exist_ok=True)
    (repo / "db" / "staged.yaml").write_text("v: 1\n")
    return repo


def log_figures(tmp: Path, env: dict[str, str], runs: int, size: int) -> dict[str, object]:
    small, big = _log_repo(tmp, "log10", 10), _log_repo(tmp, f"log{size}", size)
    tiny = _log_repo(tmp, "log10v", 10)  # its 10 approvals leave `small` 10 to approve
    aenv = dict(env, GIT_AUTHOR_EMAIL=log_scale.APPROVER, GIT_COMMITTER_EMAIL=log_scale.APPROVER,
                CHANGEGUARD_NOW=log_scale.NOW)
    for repo in (small, big):
        _git(repo, "add", "db/staged.yaml", env=env)
    verify = [*CG, "log", "verify"]
    scratch = [*verify, *_flag("log verify", "--from-scratch")]
    # the median of 3 runs, not one (a single run swung 4.5-6.3 s on a shared machine)
    full_verify = series({"log_verify_full": (_fixed(scratch), big, None)}, 3, aenv)
    approvals = {small: _approver(10), big: _approver(size)}
    after_10 = series({
        "log_verify_after_10_new": (_fixed(verify), big,
                                    _ten_new(big, approvals[big], verify, aenv)),
        "log_verify_after_10_new_10": (_fixed(verify), tiny,
                                       _ten_new(tiny, _approver(10), verify, aenv)),
    }, min(runs, 5), aenv)
    cases: dict[str, Case] = {}
    for label, repo in (("10", small), (str(size), big)):
        cases[f"approve_{label}"] = (approvals[repo], repo, None)
        cases[f"show_{label}"] = (_fixed([*CG, "show", "CHG-B-00005"]), repo, None)
        cases[f"list_{label}"] = (_fixed([*CG, "list", "--format", "json"]), repo, None)
        cases[f"hook_guarded_{label}"] = (_fixed([str(BIN / "changeguard-hook")]), repo, None)
    return {**full_verify, **after_10, **series(cases, runs, aenv), "changes": size}


# what a clone remembers of the tips it verified
_VERIFIED = (verified.CACHE, ancestry.FILE)


def _ten_new(repo: Path, approve: Callable[[], list[str]], verify: list[str],
             env: dict[str, str]) -> Callable[[], None]:
    """Verify `repo`, add 10 approvals; the returned setup makes those 10 events new to
    this clone again before each run (as if fetched: a writer remembers its own tips), so
    every run replays exactly them, from the tip verified before."""
    measured(verify, repo, env)
    git_dir = repo / ".git"
    saved = {n: (git_dir / n).read_bytes() for n in _VERIFIED if (git_dir / n).is_file()}
    for _ in range(10):
        measured(approve(), repo, env)

    def forget() -> None:
        for name in _VERIFIED:
            if name in saved:
                (git_dir / name).write_bytes(saved[name])
            else:
                (git_dir / name).unlink(missing_ok=True)
    return forget


def _approver(n: int) -> Callable[[], list[str]]:
    """Each call approves the next not yet approved change (newest first)."""
    ids: Iterator[int] = iter(range(n - 1, -1, -1))
    return lambda: [*CG, "approve", f"CHG-B-{next(ids):05d}", "--now", log_scale.NOW,
                    *_bind()]


def _bind() -> list[str]:
    """`--revision 1` where approve takes it (SPEC §13), nothing on older trees."""
    return ["--revision", "1"] if _flag("approve", "--revision") else []


def _flag(command: str, flag: str) -> list[str]:
    """`[flag]` when `changeguard COMMAND --help` lists it (figures span helpers' work)."""
    text = subprocess.run([*CG, *command.split(), "--help"], capture_output=True,
                          text=True).stdout
    return [flag] if flag in text else []


# ---- validate of one plan ---------------------------------------------------------------

def validate_figures(tmp: Path, env: dict[str, str], runs: int) -> dict[str, object]:
    repo = validate_bench._repo(tmp)
    plan = "changes/CHG-2016-0403-storage-v2.yaml"
    cmd = [*CG, "validate", plan, "--now", validate_bench.NOW]
    return series({"validate": (_fixed(cmd), repo, None)}, runs, env)


# ---- report -------------------------------------------------------------------------------

def _row(name: str, ours: dict[str, float], peer: dict[str, float] | None, target: str,
         ratio: float | None, ok: bool | None) -> dict[str, object]:
    return {"figure": name, "changeguard_s": round(ours["wall_s"], 4),
            "changeguard_cpu_s": round(ours["cpu_s"], 4),
            "peer_s": round(peer["wall_s"], 4) if peer else None,
            "peer_cpu_s": round(peer["cpu_s"], 4) if peer else None,
            "ratio": round(ratio, 3) if ratio is not None else None,
            "cpu_ratio": round(ours["cpu_s"] / peer["cpu_s"], 3) if peer else None,
            "target": target, "meets_target": ok}


def figures(r: dict[str, dict[str, object]], size: int) -> list[dict[str, object]]:
    """The table of issue 17, from the raw series (ratios of median wall times)."""
    h, b, s, lg, v = r["hook"], r["bulk"], r["submit"], r["log"], r["validate"]
    def d(x: object) -> dict[str, float]:
        assert isinstance(x, dict)
        return x
    out = []
    cj, hk = d(h["check_jsonschema"]), d(h["hook_entry"])
    ratio = hk["wall_s"] / cj["wall_s"]
    out.append(_row("hook entry, 1 new staged topology vs check-jsonschema", hk, cj,
                    "<= 0.3 (aim 0.2)", ratio, ratio <= 0.3))
    pr = d(h["check_staged_prompt"])
    ratio = pr["wall_s"] / hk["wall_s"]
    out.append(_row("check --staged at the prompt vs the hook entry", pr, hk,
                    "same path and cost (~1.0)", ratio, ratio <= 1.1))
    bj = d(b["check_jsonschema"])
    for key, label, limit in (("changeguard_new_content", "new content each run", 0.15),
                              ("changeguard_unchanged", "unchanged (re-check)", 0.05)):
        ours = d(b[key])
        ratio = ours["wall_s"] / bj["wall_s"]
        out.append(_row(f"check --all, {b['files']} topologies, {label} vs check-jsonschema",
                        ours, bj, f"<= {limit}", ratio, ratio <= limit))
    rss = float(b["rss_mb_new_content"])  # type: ignore[arg-type]
    out.append({"figure": "peak RSS, check --all on 1000 files (MB)", "changeguard_s": None,
                "value": round(rss, 1), "unchanged_mb": round(
                    float(b["rss_mb_unchanged"]), 1),  # type: ignore[arg-type]
                "peer_mb": round(float(b["rss_mb_check_jsonschema"]), 1),  # type: ignore[arg-type]
                "target": "<= 100", "meets_target": rss <= 100})
    sub = d(s["submit"])
    out.append(_row(f"submit, plan listing {s['paths']} paths", sub, None, "<= 2 s", None,
                    sub["wall_s"] <= 2))
    full, inc = d(lg["log_verify_full"]), d(lg["log_verify_after_10_new"])
    out.append(_row(f"log verify, {size} changes (from the root)", full, None, "<= 3 s", None,
                    full["wall_s"] <= 3))
    out.append(_row("log verify after 10 new events vs from the root", inc, full,
                    "O(10), not O(10k)", inc["wall_s"] / full["wall_s"], None))
    inc10 = d(lg["log_verify_after_10_new_10"])
    ratio = inc["wall_s"] / inc10["wall_s"]
    # no walk of the log, but each event's conflict check reads the changes that share its
    # service: 1 in 50 of the log (log_scale.SERVICES), so 200 at 10k, none at 10
    out.append(_row(f"log verify after 10 new events, at {size} vs at 10 changes", inc, inc10,
                    "O(10 events + their conflict candidates)", ratio, None))
    for what in ("hook_guarded", "approve", "show", "list"):
        big, small = d(lg[f"{what}_{size}"]), d(lg[f"{what}_10"])
        ratio = big["wall_s"] / small["wall_s"]
        ok = ratio <= 1.2 and (what != "list" or big["wall_s"] <= 0.2)
        out.append(_row(f"{what.replace('_guarded', ' (guarded file, verified tip)')} at "
                        f"{size} vs 10 changes", big, small,
                        "<= 1.2x" + (", <= 0.2 s" if what == "list" else ""), ratio, ok))
    val = d(v["validate"])
    out.append(_row("validate, one plan", val, None, "<= 0.25 s", None, val["wall_s"] <= 0.25))
    return out


def table(rows: list[dict[str, object]]) -> str:
    head = (f"{'figure':66} {'ours s':>8} {'cpu s':>7} {'peer s':>8} {'ratio':>7} "
            f"{'cpu r':>7}  target")
    lines = [head, "-" * len(head)]
    for r in rows:
        def f(k: str, w: int, p: int = 3, r: dict[str, object] = r) -> str:
            x = r.get(k)
            return f"{x:>{w}.{p}f}" if isinstance(x, float | int) else " " * (w - 1) + "-"
        if "value" in r:
            lines.append(f"{r['figure']:66} {r['value']:>8} {'':>7} {r['peer_mb']:>8} "
                         f"{'':>7} {'':>7}  {r['target']} {'ok' if r['meets_target'] else 'MISS'}")
            continue
        mark = {True: "ok", False: "MISS", None: ""}[r["meets_target"]]  # type: ignore[index]
        lines.append(f"{r['figure']:66} {f('changeguard_s', 8)} {f('changeguard_cpu_s', 7)} "
                     f"{f('peer_s', 8)} {f('ratio', 7)} {f('cpu_ratio', 7)}  {r['target']} "
                     f"{mark}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=9, help="rounds for the fast cases")
    ap.add_argument("--bulk-runs", type=int, default=3, help="rounds for check --all")
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--log-size", type=int, default=10000)
    ap.add_argument("--submit-paths", type=int, default=5000)
    ap.add_argument("--json-only", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cg-perf-") as t:
        tmp = Path(t)
        env = _env(tmp)
        raw = {"hook": hook_figures(tmp, env, max(args.runs, 15)),
               "bulk": bulk_figures(tmp, env, args.bulk_runs, args.files),
               "submit": submit_figures(tmp, env, max(3, args.runs // 3), args.submit_paths),
               # the small log has 10 changes to approve: at most 9 rounds after the warm-up
               "log": log_figures(tmp, env, min(9, max(3, args.runs)), args.log_size),
               "validate": validate_figures(tmp, env, args.runs)}
    rows = figures(raw, args.log_size)
    doc = {"benchmark": "issue-17", "figures": rows, "raw": raw,
           "python": sys.version.split()[0], "cpus": os.cpu_count(),
           "load_average_1m": os.getloadavg()[0], "seconds": round(time.perf_counter() - t0)}
    print(json.dumps(doc, indent=2))
    if not args.json_only:
        print()
        print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
