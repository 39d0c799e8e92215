"""Commands: init, new, validate, rules, explain."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from changeguard.commands.output import check_target, emit, write_atomic
from changeguard.context import (
    REPORT_FORMATS,
    TEXT_JSON,
    Format,
    Globals,
    parse_now,
    pick_format,
    repo_root,
)
from changeguard.errors import ChangeguardError, InputError
from changeguard.findings import Finding, is_ok
from changeguard.rules import RULES, closest

if TYPE_CHECKING:
    from changeguard.plan import EvalContext, LoadedPlan

def run_init(g: Globals, *, force: bool) -> int:
    from changeguard.config import CONFIG_NAME
    from changeguard.templates import config_template, plan_template

    repo = repo_root(g)
    cfg = g.config or repo / CONFIG_NAME
    example = repo / "changes" / "CHG-EXAMPLE-0001.yaml"
    start = _next_sunday_0100(datetime.now(UTC))
    name, email = _identity(repo)
    files = {cfg: config_template(name, email),
             example: plan_template("CHG-EXAMPLE-0001", "Example change", email, start,
                                    new_files=frozenset({"db/example.topology.yaml"}))}
    check_target(cfg, "--config")  # a typo'd --config folder: exit 2 before writing anything
    for path, text in files.items():
        if path.exists() and not force:
            print(f"kept {_rel(path, repo)} (exists; --force overwrites)")
            continue
        # `changes/` is init's own folder; any other missing folder is the user's typo
        write_atomic(path, text, make_parents=path == example)
        print(f"wrote {_rel(path, repo)}")
    return 0


def run_new(g: Globals, *, plan_id: str | None, title: str, output: Path | None,
            now: str | None, force: bool, changes: list[str]) -> int:
    import re

    from changeguard.model import ID_PATTERN
    from changeguard.templates import plan_template

    t = parse_now(now)
    pid = plan_id or f"CHG-{t:%Y%m%d-%H%M%S}"
    if not re.match(ID_PATTERN, pid):
        raise InputError(f"--id {pid!r} is not a valid plan id",
                         hint="use capitals, digits and dashes, e.g. CHG-2026-0042")
    paths = [_change_path(c) for c in changes]
    if output is not None:
        if output.exists() and not force:
            raise InputError(f"{output} exists", hint="choose another --output or pass --force")
        check_target(output, "--output")
    text = plan_template(pid, title, _identity(Path.cwd())[1], _next_sunday_0100(t),
                         changes=paths or None, new_files=_missing(paths))
    if output is None:
        emit(text)
        return 0
    write_atomic(output, text, option="--output")
    print(f"wrote {output}")
    return 0


def _change_path(value: str) -> str:
    """`--change` must be what `changes[].path` accepts (SPEC §10): refuse it now, not later."""
    from pydantic import TypeAdapter, ValidationError

    from changeguard.model import RepoPath

    try:
        return TypeAdapter(RepoPath).validate_python(value)
    except ValidationError as e:
        why = str(e.errors()[0]["msg"]).removeprefix("Value error, ")
        raise InputError(f"--change {value!r} {why}",
                         hint="name a file inside the repository, relative to its top, "
                              "e.g. db/apac.topology.yaml") from None


def _missing(paths: list[str]) -> frozenset[str]:
    """The paths that exist neither in the work tree nor in git: the plan will create them."""
    from changeguard.context import find_repo
    from changeguard.errors import GitError

    try:
        repo = find_repo()
    except GitError:
        return frozenset()  # outside a repo nothing can be said about the files
    return frozenset(p for p in paths if not os.path.lexists(repo / p))


def run_validate(g: Globals, plans: list[Path], *, now: str | None, fmt: str | None,
                 rev: str | None, base: str, output: Path | None) -> int:
    from changeguard.report import render

    form = pick_format(fmt, g, REPORT_FORMATS)
    if output is not None:
        with error_document(form):  # before any work: a typo'd folder is exit 2
            check_target(output, "--output")
    with error_document(form, output):
        findings, files, notes = _validate(g, plans, now=now, rev=rev, base=base)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    emit(render(findings, form, files=files, color=g.color and output is None), output)
    return 0 if is_ok(findings) else 1


@contextmanager
def error_document(form: Format, output: Path | None = None) -> Iterator[None]:
    """On bad input (exit 2), still emit a json/sarif/junit document carrying the error.

    The error is re-raised, so the CLI prints the usual `error: …` line and exits 2.
    """
    from changeguard.report import DOCUMENT_FORMATS, render

    try:
        yield
    except ChangeguardError as e:
        if e.exit_code == 2 and form in DOCUMENT_FORMATS:
            emit(render([], form, files=0, errors=[e]), output)
        raise


def _validate(g: Globals, plans: list[Path], *, now: str | None, rev: str | None,
              base: str) -> tuple[list[Finding], int, list[str]]:
    """Findings, how many files were judged (plans + proposed config files), and notes."""
    from changeguard.config import load_config
    from changeguard.plan import EvalContext, evaluate_plan

    if not plans:
        raise InputError("no plan files given", hint="changeguard validate changes/CHG-….yaml")
    repo = repo_root(g)
    config = load_config(repo, g.config)
    ctx = EvalContext(repo=repo, config=config, now=parse_now(now), rev=rev, base=base)
    loaded = [_plan_at(ctx, p, config.max_file_bytes) for p in plans]
    findings: list[Finding] = []
    judged: set[str] = set()
    notes: list[str] = []
    for lp in loaded:
        findings.extend(evaluate_plan(lp, ctx, judged))
        notes.extend(_file_notes(lp, ctx))
        if rev is not None and lp.plan is not None:
            notes.append(_digest_note(ctx, lp, rev))
    return findings, len({lp.display for lp in loaded} | judged), notes


def _plan_at(ctx: EvalContext, path: Path, max_bytes: int) -> LoadedPlan:
    """The plan file from the work tree, or with `--rev` as committed at REV (SPEC §13)."""
    from changeguard.plan import load_plan
    from changeguard.plan.load import display_path, parse_plan

    repo, rev = ctx.repo, ctx.rev
    if rev is None:
        return load_plan(path, repo, max_bytes=max_bytes)
    if not ctx.revs.exists(rev):
        raise InputError(f"--rev {rev!r} is not a revision here",
                         hint="fetch it first, or name a commit, branch or tag")
    rel = display_path(path, repo)
    raw = ctx.revs.reader(rev)(rel)
    if raw is None:
        raise InputError(f"the plan does not exist at {rev}", file=rel,
                         hint="commit the plan, or name the revision that holds it")
    return parse_plan(raw, rel, max_bytes=max_bytes)


def _digest_note(ctx: EvalContext, lp: LoadedPlan, rev: str) -> str:
    """What `submit` of that plan at REV would record, so a reviewer can reproduce it."""
    from changeguard.plan import compute_digest
    from changeguard.plan.gitfiles import blob_ids

    assert lp.plan is not None  # the caller checked
    # `proposed_blobs(repo, plan, rev)`, with the files this run already read at REV
    digest = compute_digest(lp.plan, blob_ids(lp.plan.paths, ctx.revs.reader(rev)))
    return f"{lp.plan.id} at {rev}: digest {digest}"


def _file_notes(lp: LoadedPlan, ctx: EvalContext) -> list[str]:
    """Listed files that are absent as proposed: to be created, or deleted (issue 12)."""
    if lp.plan is None or not lp.plan.paths:
        return []
    proposed = set(ctx.revs.files(ctx.rev)) if ctx.rev else None
    at_base = set(ctx.revs.files(ctx.base)) if ctx.revs.exists(ctx.base) else set()
    notes: list[str] = []
    for path in lp.plan.paths:
        exists = path in proposed if proposed is not None else os.path.lexists(ctx.repo / path)
        if exists:
            continue
        if path in at_base:
            notes.append(f"{lp.display}: {path} will be deleted (it is in {ctx.base} but not "
                         "in the proposed files)")
        else:
            notes.append(f"{lp.display}: {path} does not exist yet: will be created (create "
                         "it before `submit`: a missing file is recorded as deleted)")
    return notes


def run_rules(g: Globals, fmt: str | None) -> int:
    form = pick_format(fmt, g, TEXT_JSON)
    if form == "json":
        emit(json.dumps([_rule_json(r.id) for r in RULES.values()], indent=2))
        return 0
    width = max(len(r) for r in RULES)
    lines = [f"{r.id:<{width}}  {r.severity.value:<4}  {'waivable' if r.waivable else '        '}"
             f"  {r.title}" for r in RULES.values()]
    emit("\n".join(lines))
    return 0


def run_explain(g: Globals, rule_id: str, fmt: str | None) -> int:
    form = pick_format(fmt, g, TEXT_JSON)
    r = RULES.get(rule_id)
    if r is None:
        near = closest(rule_id)
        raise InputError(f"unknown rule {rule_id!r}",
                         hint=("did you mean " + ", ".join(near) + "?") if near
                         else "`changeguard rules` lists every rule")
    if form == "json":
        emit(json.dumps(_rule_json(rule_id), indent=2))
        return 0
    emit(f"{r.id} ({r.severity.value}{', waivable' if r.waivable else ''})\n"
         f"  checks: {r.title}\n  why:    {r.rationale}\n  fix:    {r.hint}\n"
         + ("  waive:  add `waivers: [{rule: " + r.id + ", reason: ...}]` to the plan\n"
            if r.waivable else "  waive:  not waivable\n"))
    return 0


def _rule_json(rule_id: str) -> dict[str, object]:
    r = RULES[rule_id]
    return {"id": r.id, "severity": r.severity.value, "title": r.title,
            "rationale": r.rationale, "hint": r.hint, "waivable": r.waivable,
            "category": r.category}


def _identity(where: Path) -> tuple[str, str]:
    """git's author name and email (`git var GIT_AUTHOR_IDENT`), or the template placeholders."""
    from changeguard.changelog.identity import current_actor
    from changeguard.errors import GitError

    try:
        me = current_actor(where)
    except GitError:
        return "You", "you@example.org"  # no identity yet: the user edits the roster by hand
    return me.name or "You", me.email


def _next_sunday_0100(t: datetime) -> datetime:
    base = (t + timedelta(days=3)).replace(hour=1, minute=0, second=0, microsecond=0)
    return base + timedelta(days=(6 - base.weekday()) % 7)


def _rel(p: Path, repo: Path) -> str:
    try:
        return p.resolve().relative_to(repo.resolve()).as_posix()
    except ValueError:
        return str(p)
