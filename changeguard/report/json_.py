"""The stable JSON report (SPEC §8)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from changeguard.findings import Finding
from changeguard.report._common import ordered, summarize


def render_json(findings: Sequence[Finding], *, files: int) -> str:
    """`{"ok", "findings": [...], "summary": {"deny", "warn", "files"}}`, indent 2."""
    s = summarize(findings, files)
    doc = {
        "ok": s.ok,
        "findings": [f.to_json() for f in ordered(findings)],
        "summary": {"deny": s.deny, "warn": s.warn, "files": s.files},
    }
    # ASCII escapes: safe on any stdout encoding, even for odd code points in messages.
    return json.dumps(doc, indent=2)
