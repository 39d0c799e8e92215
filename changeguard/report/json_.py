"""The stable JSON report (SPEC §8)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from changeguard.errors import ChangeguardError
from changeguard.findings import Finding
from changeguard.report._common import error_json, ordered, summarize


def render_json(findings: Sequence[Finding], *, files: int,
                errors: Sequence[ChangeguardError] = ()) -> str:
    """`{"ok", "findings": [...], "summary": {"deny", "warn", "files"}}`, indent 2.

    With errors (the run exits 2), `ok` is false and an `errors` list follows `summary`.
    """
    s = summarize(findings, files)
    doc: dict[str, object] = {
        "ok": s.ok and not errors,
        "findings": [f.to_json() for f in ordered(findings)],
        "summary": {"deny": s.deny, "warn": s.warn, "files": s.files},
    }
    if errors:
        doc["errors"] = [error_json(e) for e in errors]
    # ASCII escapes: safe on any stdout encoding, even for odd code points in messages.
    return json.dumps(doc, indent=2)
