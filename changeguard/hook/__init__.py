"""The light `check --staged` path and the `changeguard-hook` entry point (SPEC §9, issue 6).

Start-up is a feature: the top level imports only the stdlib and changeguard's stdlib/PyYAML
modules. Staged paths are matched against `guarded`, `schemas[].paths` and `plans` first
(`hook.staged`); when none match we exit 0 before anything heavy is imported. Guarded files
are judged from the change-log tip tree (`hook.coverage`, shared with the CI gate
`hook.gate`); only mapped config files and staged plans pull in pydantic, lazily.
"""

from __future__ import annotations

# first, before dataclasses is imported (hook/_defer.py)
from changeguard.hook import _defer  # noqa: F401

# isort: split
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from changeguard.config.light import LightConfig, remember_views_in
from changeguard.config.trusted import Trusted
from changeguard.errors import ChangeguardError, InputError
from changeguard.findings import Finding, Severity
from changeguard.git import Git, Staged, git_dir_of
from changeguard.hook.staged import (
    Reader,
    check_configs,
    check_guard_config,
    check_plans,
    config_rel,
    link_leaves_repo,
    relative,
    select,
    staged_changes,
    trusted_view,
    widened_by_staged_config,
)

CACHE_MIN_FILES = 8  # staged mapped files from which the hook consults its verdict cache


def run_staged(repo: Path, *, now: datetime | None, fmt: str, color: bool,
               config_path: Path | None, filenames: Sequence[str] = ()) -> int:
    """Judge the staged change set (plus `filenames`); 0 ok, 1 deny, raises for exit 2.

    The config is the trusted revision's (SPEC §12), never the working tree's or the
    index's: an unstaged `guarded: []` edit switches nothing off.
    """
    git = Git(repo, purpose="staged", one_reader=True)  # one cat-file for every read
    try:
        return _judge_staged(repo, git, now, fmt, color, config_path, filenames)
    finally:
        git.end_reads()


def _judge_staged(repo: Path, git: Git, now: datetime | None, fmt: str, color: bool,
                  config_path: Path | None, filenames: Sequence[str]) -> int:
    remember_views_in(git_dir_of(repo))  # the trusted config's parsed view (issue 17)
    trusted, cfg = trusted_view(repo, git, config_path)
    from changeguard.clock import permit_now  # stdlib only: the fast path stays light

    if trusted.sha is not None:  # before the first commit nothing is judged at any time
        permit_now(now.isoformat() if now is not None else None, cfg.clock, "the hook",
                   trusted.display)
    staged = staged_changes(git)
    if not staged and not filenames:
        if fmt == "text":  # issue 12: an empty run must not look like a silent pass
            print("nothing staged to check", file=sys.stderr)
            return 0
        return _emit([], fmt, color, 0)
    cfg_path = config_rel(repo, cfg)
    cfg_staged = cfg_path is not None and any(s.path == cfg_path and s.blob for s in staged)
    cfg = widened_by_staged_config(repo, git, cfg, staged)
    sel = select(cfg, staged, relative(repo, filenames), git)
    sel.config = cfg_path if cfg_staged else None
    if sel.empty:  # the common case: nothing guarded, mapped or a plan; nothing heavy imported
        return _emit([], fmt, color, 0) if fmt != "text" else 0
    if now is None:
        from changeguard.context import parse_now

        now = parse_now(None)
    read = Reader(git, sel.staged)
    errors: list[ChangeguardError] = [
        InputError("is a symlink that points outside the repository; it is never followed, "
                   "and a mapped config must not escape validation", file=p,
                   hint="commit the file's content instead of a link")
        for p in sel.links if link_leaves_repo(p, read(p))]
    if sel.config is not None:
        check_guard_config(sel.config, read)
    findings = check_configs(repo, cfg, sel.mapped, read, errors, cache=_cache(repo, sel.mapped))
    findings += check_plans(repo, git, trusted, sel.plans, read, now)
    if sel.guarded:
        findings += _coverage(git, cfg, trusted, sel.guarded, now)
    code = _emit(findings, fmt, color, sel.files)
    for e in errors:  # every file was looked at; unreadable ones make the run exit 2
        print(e.render(), file=sys.stderr)
    return 2 if errors else code


def _cache(repo: Path, mapped: list[str]) -> Path | None:
    """The verdict cache (issue 17), for runs where it pays: judging one or two small files
    costs less than keying and writing an entry (the figure is 1 new staged topology)."""
    if len(mapped) < CACHE_MIN_FILES:
        return None
    from changeguard.checkcache import store_of_repo

    return store_of_repo(repo)


def _coverage(git: Git, cfg: LightConfig, trusted: Trusted, guarded: list[Staged],
              now: datetime) -> list[Finding]:
    """Coverage judged from a verified log tip only (SPEC §12); a stale clone says so."""
    from changeguard.hook.coverage import RULE, check_coverage
    from changeguard.hook.logtip import believed_log

    log = believed_log(git, cfg, trusted)
    if log.problem is not None:
        return [Finding(RULE, Severity.DENY, f"{s.path} is guarded and nothing in the change "
                        f"log is believed: it does not verify at {log.problem}", s.path,
                        hint="run `changeguard log verify`; a forged or broken log covers "
                             "nothing") for s in guarded]
    from changeguard.config.trusted import untrusted_branch

    # SPEC §13: off the trusted branch, proposed content may wait for review (one HEAD read)
    findings = check_coverage(git, log.cfg, guarded, now, untrusted_branch(git, trusted, cfg),
                              log_exists=log.tip is not None)
    if cfg.log_remote and any(f.severity is Severity.DENY for f in findings):
        from changeguard.changelog.freshness import sync_hint
        from changeguard.changelog.verified import common_dir

        print(f"note: {sync_hint(common_dir(git), cfg.log_remote)}", file=sys.stderr)
    return findings


def _emit(findings: list[Finding], fmt: str, color: bool, files: int) -> int:
    """Print the report (silent text on success) and return 0 ok / 1 deny."""
    deny = any(f.severity is Severity.DENY for f in findings)
    if findings or fmt != "text":
        from changeguard.report import render

        text = render(findings, fmt, files=files, color=color)
        print(text, end="" if text.endswith("\n") else "\n")
    return 1 if deny else 0


@dataclass
class Options:
    """Command-line options of `changeguard-hook`."""

    files: list[str] = field(default_factory=list)
    config: Path | None = None
    repo: Path | None = None
    now: str | None = None
    format: str = "text"
    no_color: bool = False
    stage: str = "pre-commit"


def parse_args(argv: Sequence[str]) -> Options:
    """Options; plain FILE lists (what git and pre-commit pass) skip argparse's import."""
    if not any(a.startswith("-") for a in argv):
        return Options(files=list(argv))
    import argparse

    p = argparse.ArgumentParser(
        prog="changeguard-hook",
        description="pre-commit hook: `changeguard check --staged` with a fast start-up")
    p.add_argument("files", nargs="*", help="extra files to validate (pre-commit passes them)")
    p.add_argument("--config", type=Path, help="path of .changeguard.yaml")
    p.add_argument("--repo", type=Path, help="config repo (default: enclosing git repo)")
    p.add_argument("--now", help="judge time as RFC 3339, only under `clock: simulated` "
                                 "(default: $CHANGEGUARD_NOW or the wall clock)")
    p.add_argument("--format", default="text",
                   choices=("text", "json", "sarif", "junit", "markdown", "github"))
    p.add_argument("--no-color", action="store_true", help="plain text output")
    p.add_argument("--stage", default="pre-commit", choices=("pre-commit", "commit-msg"),
                   help="git hook stage; commit-msg takes the message file and records the "
                        "log tip in a Changeguard-Log trailer (SPEC §12)")
    return p.parse_args(argv, namespace=Options())


def _commit_msg(repo: Path, args: Options) -> int:
    """`--stage commit-msg MSGFILE` (git and pre-commit pass the message file)."""
    from changeguard.hook.commit_msg import run_commit_msg

    name = args.files[0] if args.files else os.environ.get("PRE_COMMIT_COMMIT_MSG_FILENAME")
    if not name:
        raise InputError("the commit-msg stage needs the commit message file",
                         hint="git passes it: `changeguard-hook --stage commit-msg FILE`")
    return run_commit_msg(repo, Path(name), args.config)


def main(argv: Sequence[str] | None = None) -> int:
    """`changeguard-hook [FILE...]`: exit 0 ok, 1 deny, 2 cannot evaluate."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from changeguard.context import Globals, parse_now, repo_root

    try:
        repo = repo_root(Globals(repo=args.repo))
        now = parse_now(args.now) if args.now else None
        if args.stage == "commit-msg":
            return _commit_msg(repo, args)
        color = not args.no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()
        return run_staged(repo, now=now, fmt=args.format, color=color,
                          config_path=args.config, filenames=args.files)
    except ChangeguardError as e:
        print(e.render(), file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception:  # the hook's top-level handler: exit 2, never Python's 1 ("deny")
        import traceback

        print("internal error: please report it with the traceback below", file=sys.stderr)
        traceback.print_exc()
        return 2
