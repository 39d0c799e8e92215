"""Command family: policy — `policy test DIR` runs policy-pack test cases (SPEC §5)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from changeguard.cli._params import TextOrJson
from changeguard.cli.usage import require_command

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
    fmt: TextOrJson = None,
) -> int:
    """Run policy test cases: each plan against the packs, compared with the expected findings.

    Exit 0 all cases pass, 1 a case fails, 2 a test file is malformed.

    Example: changeguard policy test policies/examples/production/tests
    """
    from changeguard.commands.policy import run_policy_test

    return run_policy_test(ctx.find_root().obj, directory=directory, fmt=fmt)
