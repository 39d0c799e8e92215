"""Change plans: loading, rules, digest and validation (SPEC §4, §5)."""

from __future__ import annotations

from changeguard.plan.checks import EvalContext
from changeguard.plan.digest import blob_id, canonical_plan, compute_digest
from changeguard.plan.evaluate import evaluate_plan, proposed_blobs
from changeguard.plan.load import LoadedPlan, load_plan, parse_plan

__all__ = [
    "EvalContext",
    "LoadedPlan",
    "blob_id",
    "canonical_plan",
    "compute_digest",
    "evaluate_plan",
    "load_plan",
    "parse_plan",
    "proposed_blobs",
]
