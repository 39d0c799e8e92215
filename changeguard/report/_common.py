"""Helpers shared by the reporters: ordering, counting, and scrubbing hostile text."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from changeguard.errors import ChangeguardError
from changeguard.findings import Finding, Severity, sort_key

# C0/C1 controls (except tab/newline) let a hostile file name or message drive the terminal
# (ANSI injection) or break XML 1.0, which cannot carry them at all (SPEC §10).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def scrub(text: str) -> str:
    """Replace control characters with U+FFFD so output stays printable and valid XML."""
    return _CONTROL.sub("\ufffd", text)


def ordered(findings: Sequence[Finding]) -> list[Finding]:
    """Findings in the stable report order (file, line, rule, message)."""
    return sorted(findings, key=sort_key)


@dataclass(frozen=True, slots=True)
class Summary:
    """Counts a report ends with."""

    deny: int
    warn: int
    files: int

    @property
    def ok(self) -> bool:
        return self.deny == 0


def summarize(findings: Sequence[Finding], files: int) -> Summary:
    """Counts for the summary line and the JSON `summary` object."""
    deny = sum(1 for f in findings if f.severity is Severity.DENY)
    return Summary(deny=deny, warn=len(findings) - deny, files=files)


def error_json(e: ChangeguardError) -> dict[str, object]:
    """An error as the finding-like `{"message", "file", "line", "hint"}` object."""
    return {"message": e.message, "file": e.file, "line": e.line, "hint": e.hint}
