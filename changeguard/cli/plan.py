"""Commands: init, new, validate, rules, explain."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from changeguard.cli._params import Now, ReportFormat, TextOrJson


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("new")(new)
    app.command("validate")(validate)
    app.command("rules")(rules)
    app.command("explain")(explain)


def init(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
) -> int:
    """Write a commented .changeguard.yaml and an example plan (idempotent).

    Example: changeguard init
    """
    from changeguard.commands.plan import run_init

    return run_init(ctx.obj, force=force)


def new(
    ctx: typer.Context,
    plan_id: Annotated[str | None, typer.Option("--id", help="Plan id, e.g. CHG-2026-0001.")] = None,
    title: Annotated[str, typer.Option("--title", help="One-line title.")] = "Describe the change",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write.")] = None,
    change: Annotated[list[str] | None, typer.Option("--change", help="A file this change modifies (repeatable).")] = None,
    now: Now = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> int:
    """Scaffold a change plan with every section present.

    Example: changeguard new --id CHG-2026-0042 --title "Move db2" --change db/apac.topology.yaml
    """
    from changeguard.commands.plan import run_new

    return run_new(ctx.obj, plan_id=plan_id, title=title, output=output, now=now, force=force,
                   changes=change or [])


def validate(
    ctx: typer.Context,
    plans: Annotated[list[Path], typer.Argument(help="Plan files.", show_default=False)],
    now: Annotated[str | None, typer.Option("--now", help="Judge as of this RFC 3339 time.")] = None,
    fmt: ReportFormat = None,
    rev: Annotated[str | None, typer.Option("--rev", help="Read the plan and its proposed files as committed at REV; prints the digest submit would record.")] = None,
    base: Annotated[str, typer.Option("--base", help="Current version of changed files.")] = "HEAD",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report here.")] = None,
) -> int:
    """Validate change plans: every plan rule plus the replication checks of proposed files.

    Writes nothing. Exit 0 ok (warnings allowed), 1 a deny finding, 2 bad input.

    Example: changeguard validate changes/CHG-2016-0403-storage.yaml --format json
    """
    from changeguard.commands.plan import run_validate

    return run_validate(ctx.obj, plans, now=now, fmt=fmt, rev=rev, base=base, output=output)


def rules(
    ctx: typer.Context,
    fmt: TextOrJson = None,
) -> int:
    """List every rule id with its default severity and title.

    Example: changeguard rules
    """
    from changeguard.commands.plan import run_rules

    return run_rules(ctx.obj, fmt)


def explain(
    ctx: typer.Context,
    rule: Annotated[str, typer.Argument(help="Rule id, e.g. rollback-required.")],
    fmt: TextOrJson = None,
) -> int:
    """Explain what a rule checks, why, and how to satisfy or waive it.

    Example: changeguard explain window-lead-time
    """
    from changeguard.commands.plan import run_explain

    return run_explain(ctx.obj, rule, fmt)

