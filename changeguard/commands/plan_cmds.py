"""init, new, validate, rules, explain."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from changeguard.commands.output import emit, write_atomic
from changeguard.context import Globals, parse_now, pick_format, repo_root
from changeguard.errors import InputError
from changeguard.findings import Finding, is_ok
from changeguard.rules import RULES, closest

REPORT_FORMATS = ("text", "json", "sarif", "junit")


def run_init(g: Globals, *, force: bool) -> int:
    from changeguard.config import CONFIG_NAME
    from changeguard.templates import CONFIG_TEMPLATE, plan_template

    repo = repo_root(g)
    cfg = g.config or repo / CONFIG_NAME
    example = repo / "changes" / "CHG-EXAMPLE-0001.yaml"
    start = _next_sunday_0100(datetime.now(UTC))
    me = _author(repo)
    files = {cfg: CONFIG_TEMPLATE.replace("you@example.org", me),
             example: plan_template("CHG-EXAMPLE-0001", "Example change", me, start)}
    for path, text in files.items():
        if path.exists() and not force:
            print(f"kept {_rel(path, repo)} (exists; --force overwrites)")
            continue
        write_atomic(path, text)
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
    text = plan_template(pid, title, _author(Path.cwd()), _next_sunday_0100(t),
                         changes=changes or None)
    if output is None:
        emit(text)
        return 0
    if output.exists() and not force:
        raise InputError(f"{output} exists", hint="choose another --output or pass --force")
    write_atomic(output, text)
    print(f"wrote {output}")
    return 0


def run_validate(g: Globals, plans: list[Path], *, now: str | None, fmt: str | None,
                 rev: str | None, base: str, output: Path | None) -> int:
    from changeguard.config import load_config
    from changeguard.plan import EvalContext, evaluate_plan, load_plan
    from changeguard.report import render

    form = pick_format(fmt, g, REPORT_FORMATS)
    if not plans:
        raise InputError("no plan files given", hint="changeguard validate changes/CHG-….yaml")
    repo = repo_root(g)
    config = load_config(repo, g.config)
    ctx = EvalContext(repo=repo, config=config, now=parse_now(now), rev=rev, base=base)
    loaded = [load_plan(p, repo, max_bytes=config.max_file_bytes) for p in plans]
    findings: list[Finding] = []
    for lp in loaded:
        findings.extend(evaluate_plan(lp, ctx))
    emit(render(findings, form, files=len(loaded), color=g.color and output is None), output)
    return 0 if is_ok(findings) else 1


def run_rules(g: Globals, fmt: str | None) -> int:
    form = pick_format(fmt, g, ("text", "json"))
    if form == "json":
        emit(json.dumps([_rule_json(r.id) for r in RULES.values()], indent=2))
        return 0
    width = max(len(r) for r in RULES)
    lines = [f"{r.id:<{width}}  {r.severity.value:<4}  {'waivable' if r.waivable else '        '}"
             f"  {r.title}" for r in RULES.values()]
    emit("\n".join(lines))
    return 0


def run_explain(g: Globals, rule_id: str, fmt: str | None) -> int:
    form = pick_format(fmt, g, ("text", "json"))
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


def _author(repo: Path) -> str:
    from changeguard.git import Git

    email = Git(repo).run("config", "user.email", check=False).stdout.decode("utf-8", "replace"
                                                                             ).strip()
    return email if "@" in email else "you@example.org"


def _next_sunday_0100(t: datetime) -> datetime:
    base = (t + timedelta(days=3)).replace(hour=1, minute=0, second=0, microsecond=0)
    return base + timedelta(days=(6 - base.weekday()) % 7)


def _rel(p: Path, repo: Path) -> str:
    try:
        return p.resolve().relative_to(repo.resolve()).as_posix()
    except ValueError:
        return str(p)
