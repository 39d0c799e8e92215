"""Human-readable report: findings grouped by file, optional ANSI colour, a summary line."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

from changeguard.findings import Finding, Severity
from changeguard.report._common import Summary, ordered, scrub, summarize

_RESET = "\x1b[0m"
_STYLE = {"deny": "\x1b[1;31m", "warn": "\x1b[33m", "file": "\x1b[1m", "hint": "\x1b[2m",
          "ok": "\x1b[32m"}
_MARK = {Severity.DENY: "DENY", Severity.WARN: "warn"}
_NO_FILE = "(no file)"


def _paint(text: str, style: str, color: bool) -> str:
    return f"{_STYLE[style]}{text}{_RESET}" if color else text


def _location(f: Finding) -> str:
    if f.file is None:
        return ""
    return f"{f.file}:{f.line}: " if f.line else f"{f.file}: "


def _finding_lines(f: Finding, color: bool) -> list[str]:
    mark = _paint(_MARK[f.severity], str(f.severity), color)
    lines = [f"  {mark} {scrub(_location(f))}{scrub(f.rule)}: {scrub(f.message)}"]
    if f.hint:
        lines.append("       " + _paint(f"hint: {scrub(f.hint)}", "hint", color))
    return lines


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def summary_line(s: Summary, color: bool = False) -> str:
    """`N denied, M warnings in F files`, coloured by outcome."""
    text = f"{s.deny} denied, {_plural(s.warn, 'warning')} in {_plural(s.files, 'file')}"
    style = "deny" if s.deny else ("warn" if s.warn else "ok")
    return _paint(text, style, color)


def render_text(findings: Sequence[Finding], *, files: int, color: bool = False) -> str:
    """Findings grouped by file (`file:line: rule: message` + hint), then the summary line."""
    out: list[str] = []
    for file, group in groupby(ordered(findings), key=lambda f: f.file):
        out.append(_paint(scrub(file) if file is not None else _NO_FILE, "file", color))
        for f in group:
            out.extend(_finding_lines(f, color))
        out.append("")
    out.append(summary_line(summarize(findings, files), color))
    return "\n".join(out)
