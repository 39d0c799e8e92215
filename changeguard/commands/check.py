"""Command: check — validate config files by the `schemas:` mapping (SPEC §2, §3, §6)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from changeguard.context import REPORT_FORMATS, Format, Globals, parse_now, pick_format, repo_root
from changeguard.errors import InputError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the hook's path)
if TYPE_CHECKING:
    from changeguard.findings import Finding
    from changeguard.model import GuardConfig
    from changeguard.replication.load import CheckResult


def run_check(g: Globals, *, files: list[str], staged: bool, all_files: bool,
              fmt: str | None, verbose: bool, now: str | None, rev_range: str | None) -> int:
    """`check`: named files, `--all`, `--staged` (the hook) or `--range` (the CI gate)."""
    form = pick_format(fmt, g, REPORT_FORMATS)
    if staged:  # the hook's light path (issue 17): nothing of the full CLI is imported
        return _staged(repo_root(g), g, form, now, files)
    from changeguard.commands.plan import error_document

    # bad input (exit 2) still yields a json/sarif/junit document carrying the error
    with error_document(form):
        repo = repo_root(g)
        if rev_range is not None:
            return _range(repo, g, form, rev_range, now)
        if not files and not all_files:
            raise InputError("nothing to check", hint="name files, or use --all or --staged")
        return check_named(repo, g, files, all_files, form, verbose or g.verbose, now=now)


def _range(repo: Path, g: Globals, form: Format, spec: str, now: str | None) -> int:
    """The CI gate (issue 7): exit 1 when a commit of the range was not covered."""
    from changeguard.commands.output import emit
    from changeguard.findings import is_ok
    from changeguard.hook.gate import check_range
    from changeguard.report import render

    findings, judged, errors = check_range(repo, spec, config_path=g.config, now=now)
    emit(render(findings, form, files=judged, color=g.color, errors=errors))
    for e in errors:
        print(e.render(), file=sys.stderr)
    return 2 if errors else 0 if is_ok(findings) else 1


def _staged(repo: Path, g: Globals, form: Format, now: str | None, files: list[str]) -> int:
    try:
        from changeguard import hook
    except ModuleNotFoundError as e:
        if e.name != "changeguard.hook":
            raise
        raise InputError("--staged is not available in this build") from e
    t_now = parse_now(now) if now is not None else None
    return hook.run_staged(repo, now=t_now, fmt=form, color=g.color, config_path=g.config,
                           filenames=files)


def repo_relative(repo: Path, name: str) -> str:
    """A command-line path as a repo-relative '/'-separated path (must stay inside)."""
    absolute = Path(os.path.abspath(name))
    root = repo.resolve()
    try:
        rel = absolute.relative_to(root)
    except ValueError:
        try:
            rel = absolute.resolve().relative_to(root)
        except ValueError:
            raise InputError("file is outside the repository", file=name,
                             hint=f"check files under {root}") from None
    return rel.as_posix()


def check_named(repo: Path, g: Globals, names: list[str], all_files: bool, form: Format,
                verbose: bool, now: str | None = None) -> int:
    """Check the named files (and with --all every mapped file), print the report.

    A named plan file (matching `plans:`) gets plan validation and a named config file
    config validation: each is checked as what it is, not skipped as unmapped (issue 12).
    """
    from changeguard.checkcache import bulk_view, check_files_cached, store_of_repo
    from changeguard.config import load_config
    from changeguard.replication.load import all_repo_files, working_tree_reader
    from changeguard.replication.mapping import FileMapping

    store = None if verbose else store_of_repo(repo)
    if not names:  # `check --all`: only the mapping is needed, maybe without pydantic
        mappings, limit = bulk_view(repo, g.config, store)
        return _report(g, form, verbose, check_files_cached(
            repo, all_repo_files(repo), mappings, working_tree_reader(repo, limit),
            store=store, max_bytes=limit), _Own(), summarise=True)
    config = load_config(repo, g.config)
    mappings = FileMapping.from_config(config)
    named = [repo_relative(repo, n) for n in names]
    for name, rel in zip(names, named, strict=True):
        if not os.path.lexists(name):
            raise InputError("no such file", file=name, hint="check the path")
        if rel == "" or os.path.isdir(name):
            raise InputError("is a directory", file=name, hint="name files, or use --all")
    own = _own_files(repo, g, config, names, named, now)
    rest = [rel for rel in named if rel not in own.paths]
    paths = [*rest, *(p for p in all_repo_files(repo) if p not in named)] if all_files \
        else rest
    # verdicts of unchanged content come from the cache; --verbose needs the topologies
    result = check_files_cached(repo, paths, mappings,
                                working_tree_reader(repo, config.max_file_bytes),
                                store=store, max_bytes=config.max_file_bytes,
                                explicit=not all_files)
    return _report(g, form, verbose, result, own, summarise=all_files)


def _report(g: Globals, form: Format, verbose: bool, result: CheckResult,
            own: _Own, summarise: bool) -> int:
    """Print notes, the report and errors; 2 on errors, else 1 on a deny, else 0."""
    from changeguard.commands.output import emit
    from changeguard.findings import is_ok
    from changeguard.report import render

    if verbose or not summarise:  # a file the user named and we skipped always gets a note
        _notes(result.skipped, summarise_unmapped=summarise)
    if verbose:  # which files formed each topology (same-named clusters in other folders)
        from changeguard.replication.grouping import describe

        for line in describe(result.topologies):
            print(f"note: {line}", file=sys.stderr)
    findings = [*own.findings, *result.findings]
    emit(render(findings, form, files=len({*result.checked, *own.paths}), color=g.color,
                errors=result.errors))
    for err in result.errors:
        print(err.render(), file=sys.stderr)
    if result.errors:
        return 2
    return 0 if is_ok(findings) else 1


@dataclass
class _Own:
    """Named files changeguard itself defines the format of: plans and the config."""

    paths: set[str] = field(default_factory=set)
    findings: list[Finding] = field(default_factory=list)


def _own_files(repo: Path, g: Globals, config: GuardConfig, names: list[str],
               named: list[str], now: str | None) -> _Own:
    """Validate named plan files (all plan rules) and config files (schema); exit 2 on errors."""
    from changeguard.config import CONFIG_NAME, load_config
    from changeguard.globs import match

    # --config may name a file outside the repo: compare absolute paths, links unresolved
    config_abs = os.path.abspath(g.config) if g.config else None
    own = _Own()
    plans: list[Path] = []
    for name, rel in zip(names, named, strict=True):
        if (os.path.abspath(name) == config_abs if config_abs else rel == CONFIG_NAME):
            load_config(repo, Path(name))  # raises ConfigError (exit 2) naming file and line
            own.paths.add(rel)
        elif match(config.plans, rel):
            plans.append(Path(name))
            own.paths.add(rel)
    if plans:
        own.findings.extend(_plan_findings(repo, config, plans, now, own.paths))
    return own


def _plan_findings(repo: Path, config: GuardConfig, plans: list[Path], now: str | None,
                   judged: set[str]) -> list[Finding]:
    from changeguard.plan import EvalContext, evaluate_plan, load_plan

    ctx = EvalContext(repo=repo, config=config, now=parse_now(now))
    findings: list[Finding] = []
    for p in plans:
        findings.extend(evaluate_plan(load_plan(p, repo, max_bytes=config.max_file_bytes), ctx,
                                      judged))
    return findings


def _notes(skipped: list[tuple[str, str]], summarise_unmapped: bool) -> None:
    """`--verbose`: why files were skipped (under --all, unmapped files as one count)."""
    unmapped = 0
    for path, reason in skipped:
        if summarise_unmapped and reason.startswith("no `schemas:`"):
            unmapped += 1
            continue
        print(f"note: {path}: skipped ({reason})", file=sys.stderr)
    if unmapped:
        print(f"note: {unmapped} file(s) match no `schemas:` entry and were skipped",
              file=sys.stderr)
