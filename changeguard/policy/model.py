"""Policy pack format (SPEC §5): rules with id, severity, when, and require/approvals/check."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    model_validator,
)

from changeguard.model import PlanType, Risk, StepKind, new_list
from changeguard.rules import RULES

RuleId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")]


class _Strict(BaseModel):
    # defer_build (as changeguard.model): only PolicyPack, the model packs are validated
    # with, builds a validator, and only when a pack is loaded (issue 17)
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class When(_Strict):
    """A rule applies when every given selector matches (absent selector = any)."""

    types: list[PlanType] | None = None
    risk: list[Risk] | None = None
    services: list[str] | None = None
    environments: list[str] | None = None
    paths: list[str] | None = None  # gitwildmatch globs over changes[].path / finding files
    step_kinds: list[StepKind] | None = None  # plan has at least one step of these kinds
    # true: the plan lists the config file or a local pack/schema it names (SPEC §12
    # "Governance is guarded"); false: it lists none of them
    governance: bool | None = None


class Approvals(_Strict):
    min: Annotated[int, Field(ge=0, le=20)] = 1
    roles: list[str] = Field(default_factory=new_list)
    # Approvals always come from distinct people (SPEC §5 `approvals-required`; one per
    # person in `valid_approvals`): `true` documents that, `false` is refused, not ignored.
    distinct: Literal[True] = True


class PolicyRule(_Strict):
    id: RuleId
    severity: Literal["deny", "warn"] = "deny"
    description: str = ""
    when: When = Field(default_factory=lambda: When())
    require: dict[str, object] | None = None
    approvals: Approvals | None = None
    # names the built-in rule whose findings this entry re-grades (severity, waivable);
    # no built-in check takes parameters, so there is no `params` (issue 13 §6)
    check: str | None = None
    waivable: StrictBool | None = None
    hint: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> PolicyRule:
        kinds = [k for k in (self.require, self.approvals, self.check) if k is not None]
        if len(kinds) != 1:
            raise ValueError(f"rule {self.id}: exactly one of require, approvals, check")
        if self.check is not None and self.check not in RULES:
            raise ValueError(f"rule {self.id}: check {self.check!r} is not a built-in rule "
                             "(`changeguard rules` lists them)")
        if self.check is not None and self.check != self.id:
            # overrides are matched to findings by id; a different `check:` would do nothing
            raise ValueError(f"rule {self.id}: `check: {self.check}` must repeat the id of the "
                             f"built-in rule it overrides (use `id: {self.check}`)")
        return self


class PolicyPack(_Strict):
    apiVersion: Literal["changeguard/v1"] = "changeguard/v1"
    kind: Literal["PolicyPack"] = "PolicyPack"
    name: str
    description: str = ""
    rules: list[PolicyRule] = Field(default_factory=new_list)

    @model_validator(mode="after")
    def _unique(self) -> PolicyPack:
        seen: set[str] = set()
        for r in self.rules:
            if r.id in seen:
                raise ValueError(f"rule id {r.id!r} appears twice in pack {self.name!r}")
            seen.add(r.id)
        return self
