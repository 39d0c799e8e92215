"""Policy packs: loading, severity overrides, `require` rules and approval requirements."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, cast

from changeguard.errors import ConfigError, InputError
from changeguard.findings import Finding, Severity
from changeguard.globs import match_any
from changeguard.rules import RULES

if TYPE_CHECKING:
    from changeguard.model import ChangePlan, GuardConfig
    from changeguard.plan.load import LoadedPlan
    from changeguard.policy.model import PolicyPack, PolicyRule, When

__all__ = [
    "ApprovalRequirement",
    "apply_policy",
    "approval_requirements",
    "effective_rules",
    "evaluate_requires",
    "is_waivable",
    "load_pack",
    "load_packs",
]


@dataclass(frozen=True, slots=True)
class ApprovalRequirement:
    """≥ `min` valid approvals, and if `roles`, ≥ 1 of them by a holder of one of the roles."""

    rule: str
    min: int
    roles: tuple[str, ...]
    description: str


def load_pack(path: Path, display: str) -> PolicyPack:
    """Load one pack file, with located errors (exit 2)."""
    return _load_pack_cached(path.resolve(), display)


@lru_cache(maxsize=32)
def _load_pack_cached(path: Path, display: str) -> PolicyPack:
    from pydantic import ValidationError

    from changeguard.loader import load_file
    from changeguard.policy.model import PolicyPack

    try:
        loaded = load_file(path, display)
    except InputError as e:
        raise ConfigError(e.message, file=e.file, line=e.line, hint=e.hint) from e
    try:
        return PolicyPack.model_validate(loaded.data)
    except ValidationError as e:
        from changeguard.validation import problems  # only a pack that fails needs it

        p = next(problems(e, PolicyPack, loaded.source))
        raise ConfigError(p.message, file=display, line=p.line,
                          hint=p.hint or "see policies/default.yaml for the format") from e


def resolve_pack(ref: str, repo: Path) -> tuple[Path, str]:
    """`builtin:NAME` or a repo-relative path → (file, display name)."""
    from changeguard.resources import policy_path

    if ref.startswith("builtin:"):
        p = policy_path(ref.split(":", 1)[1])
        if not p.is_file():
            raise ConfigError(f"unknown builtin policy pack {ref!r}",
                              hint="available: builtin:default")
        return p, ref
    if ref.startswith("/") or ".." in ref.split("/"):
        raise ConfigError(f"policy pack path {ref!r} must be repo-relative without '..'")
    p = repo / ref
    if not p.is_file():
        raise ConfigError(f"policy pack {ref!r} not found", file=".changeguard.yaml",
                          hint="fix `policies:` in .changeguard.yaml")
    return p, ref


def load_packs(config: GuardConfig, repo: Path) -> list[PolicyPack]:
    """Every pack named by the config, in order (inside its revision when it has one)."""
    root = config.files_root(repo)
    return [load_pack(*resolve_pack(ref, root)) for ref in config.policies]


def effective_rules(packs: Iterable[PolicyPack]) -> dict[str, PolicyRule]:
    """Rules by id; a later pack's rule replaces an earlier one with the same id."""
    out: dict[str, PolicyRule] = {}
    for pack in packs:
        for r in pack.rules:
            out[r.id] = r
    return out


def governance_files(config: GuardConfig) -> tuple[str, ...]:
    """The files of a governance change (SPEC §12): the config, its local packs and schemas."""
    from changeguard.config.defaults import CONFIG_NAME
    from changeguard.config.trusted import governance_refs

    packs, schemas = governance_refs(config)
    return (config._file or CONFIG_NAME, *packs, *schemas)


def is_governance(plan: ChangePlan, files: Iterable[str]) -> bool:
    """True when the plan lists a governance file (or a file inside a pack folder)."""
    gov = [f.rstrip("/") for f in files]
    return any(p == g or p.startswith(g + "/") for p in plan.paths for g in gov)


def when_matches(when: When, plan: ChangePlan, file: str | None = None,
                 governance: Iterable[str] = ()) -> bool:
    """True when every selector of `when` holds for the plan (and the finding's file).

    `governance`: the governance files of the config judging the plan (`when.governance`).
    """
    if when.governance is not None and is_governance(plan, governance) != when.governance:
        return False
    if when.types is not None and plan.type not in when.types:
        return False
    if when.risk is not None and plan.risk not in when.risk:
        return False
    if when.services is not None and not set(when.services) & set(plan.services):
        return False
    if when.environments is not None and plan.environment not in when.environments:
        return False
    if when.step_kinds is not None and not {s.kind for s in plan.steps} & set(when.step_kinds):
        return False
    if when.paths is not None:
        candidates = [file] if file else plan.paths
        if not any(match_any(when.paths, c) for c in candidates):
            return False
    return True


def is_waivable(rule_id: str, rules: dict[str, PolicyRule]) -> bool:
    entry = rules.get(rule_id)
    if entry is not None and entry.waivable is not None:
        return entry.waivable
    r = RULES.get(rule_id)
    return bool(r and r.waivable)


def apply_policy(findings: Sequence[Finding], plan: ChangePlan | None,
                 rules: dict[str, PolicyRule]) -> list[Finding]:
    """Severity overrides: a pack rule whose severity differs from the default applies."""
    out: list[Finding] = []
    for f in findings:
        entry = rules.get(f.rule)
        default = RULES[f.rule].severity if f.rule in RULES else None
        if (entry is not None and plan is not None and entry.check is not None
                and default is not None and entry.severity != default.value
                and when_matches(entry.when, plan, f.file)):
            f = f.with_severity(Severity(entry.severity))
        out.append(f)
    return out


def evaluate_requires(lp: LoadedPlan, plan: ChangePlan,
                      rules: dict[str, PolicyRule]) -> list[Finding]:
    """`require` rules: a JSON Schema fragment applied to the plan document."""
    findings: list[Finding] = []
    for r in rules.values():
        if r.require is None or not when_matches(r.when, plan):
            continue
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import SchemaError

        try:
            Draft202012Validator.check_schema(r.require)
        except SchemaError as e:
            raise ConfigError(f"policy rule {r.id}: invalid `require` schema: {e.message}") from e
        for err in Draft202012Validator(r.require).iter_errors(lp.loaded.data):
            from changeguard.loader import pointer_of

            ptr = pointer_of(list(err.absolute_path))
            msg = f"{r.description or r.id}: {err.message}"
            findings.append(Finding(r.id, Severity(r.severity), msg, lp.display,
                                    lp.line(ptr), ptr, r.hint))
    return findings


def approval_requirements(plan: ChangePlan, config: GuardConfig,
                          repo: Path) -> list[ApprovalRequirement]:
    """Approval rules of the config's packs that apply to this plan."""
    key = ("approval-rules", repo)
    memo = config._memo.get(key)
    if memo is None:  # packs and governance files are fixed for one config object
        memo = config._memo[key] = (effective_rules(load_packs(config, repo)),
                                    governance_files(config))
    rules, gov = cast("tuple[dict[str, PolicyRule], tuple[str, ...]]", memo)
    out: list[ApprovalRequirement] = []
    for r in rules.values():
        if r.approvals is not None and when_matches(r.when, plan, governance=gov):
            out.append(ApprovalRequirement(r.id, r.approvals.min, tuple(r.approvals.roles),
                                           r.description or r.id))
    return out
