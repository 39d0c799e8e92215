"""The one Finding type shared by every rule, checker and reporter."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class Severity(StrEnum):
    DENY = "deny"
    WARN = "warn"


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule result (SPEC §1/§8)."""

    rule: str
    severity: Severity
    message: str
    file: str | None = None
    line: int | None = None
    pointer: str | None = None
    hint: str | None = None

    def to_json(self) -> dict[str, str | int | None]:
        return {
            "rule": self.rule,
            "severity": str(self.severity),
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "pointer": self.pointer,
            "hint": self.hint,
        }

    def with_severity(self, severity: Severity) -> Finding:
        return replace(self, severity=severity)


def sort_key(f: Finding) -> tuple[str, int, str, str]:
    return (f.file or "", f.line or 0, f.rule, f.message)


def is_ok(findings: list[Finding]) -> bool:
    """True when no finding denies."""
    return not any(f.severity is Severity.DENY for f in findings)
