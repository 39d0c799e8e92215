"""Command family: policy — `policy test DIR` runs policy-pack test cases (SPEC §5)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from changeguard.cli_usage import require_command

policy_app = typer.Typer(
    help="Work with policy packs: test them like code.",
    invoke_without_command=True,
    callback=require_command,
)


def register(app: typer.Typer) -> None:
    app.add_typer(policy_app, name="policy")


@policy_app.command("test")
def test(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(
        help="Directory of `kind: PolicyTest` files (or one file).", show_default=False)],
    fmt: Annotated[str | None, typer.Option("--format", help="text or json.")] = None,
) -> int:
    """Run policy test cases: each plan against the packs, compared with the expected findings.

    Exit 0 all cases pass, 1 a case fails, 2 a test file is malformed.

    Example: changeguard policy test policies/examples/production/tests
    """
    from changeguard import policytest
    from changeguard.commands.output import emit
    from changeguard.context import pick_format

    g = ctx.find_root().obj
    form = pick_format(fmt, g, ("text", "json"))
    results = policytest.run_tests(directory)
    if form == "json":
        emit(policytest.render_json(results))
    else:
        emit(policytest.render_text(results, verbose=g.verbose))
    return 0 if all(r.passed for r in results) else 1
