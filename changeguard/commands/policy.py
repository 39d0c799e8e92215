"""Command family: policy — `policy test DIR` runs policy-pack test cases (SPEC §5)."""

from __future__ import annotations

from pathlib import Path

from changeguard.commands.output import emit
from changeguard.context import TEXT_JSON, Format, Globals, pick_format


def run_policy_test(g: Globals, *, directory: Path, fmt: str | None) -> int:
    """Run each case's plan against the packs; exit 1 when a case fails."""
    from changeguard import policytest

    form = pick_format(fmt, g, TEXT_JSON)
    results = policytest.run_tests(directory)
    if form is Format.JSON:
        emit(policytest.render_json(results))
    else:
        emit(policytest.render_text(results, verbose=g.verbose))
    return 0 if all(r.passed for r in results) else 1
