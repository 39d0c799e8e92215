"""Markdown report for review places: a PR comment or a CI job summary (SPEC §13)."""

from __future__ import annotations

from collections.abc import Sequence

from changeguard.errors import ChangeguardError
from changeguard.findings import Finding, Severity
from changeguard.report._common import ordered, scrub, summarize

_MARK = {Severity.DENY: "❌ deny", Severity.WARN: "⚠️ warn"}


def cell(text: str) -> str:
    """Text safe inside a table cell: no pipes, newlines or HTML (a message is untrusted)."""
    out = scrub(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
    return out.replace("<", "&lt;").replace(">", "&gt;").replace("`", "\\`")


def code(text: str) -> str:
    """A code span in a table cell (backslashes do not escape inside code spans)."""
    body = scrub(text).replace("|", "\\|").replace("\n", " ").replace("\r", " ")
    fence = "``" if "`" in body else "`"
    return f"{fence} {body} {fence}" if fence == "``" else f"`{body}`"


def _where(f: Finding) -> str:
    if f.file is None:
        return "—"
    return code(f"{f.file}:{f.line}" if f.line else f.file)


def render_markdown(findings: Sequence[Finding], *, files: int,
                    errors: Sequence[ChangeguardError] = ()) -> str:
    """A heading with the verdict, a table of findings with hints, then any input errors."""
    s = summarize(findings, files)
    verdict = "❌ failed" if errors or s.deny else ("⚠️ passed with warnings" if s.warn
                                                  else "✅ passed")
    out = [f"### changeguard: {verdict}", "",
           f"{s.deny} denied, {s.warn} warning{'s' if s.warn != 1 else ''} in "
           f"{s.files} file{'s' if s.files != 1 else ''}", ""]
    if findings:
        out += ["| | where | rule | message | how to fix |", "|---|---|---|---|---|"]
        out += [f"| {_MARK[f.severity]} | {_where(f)} | {code(f.rule)} | {cell(f.message)} "
                f"| {cell(f.hint) if f.hint else ''} |" for f in ordered(findings)]
        out.append("")
    if errors:
        out += ["**Could not be judged:**", ""]
        for e in errors:
            where = f"{code(e.file)}:{e.line}: " if e.file and e.line else (
                f"{code(e.file)}: " if e.file else "")
            hint = f" — {cell(e.hint)}" if e.hint else ""
            out.append(f"- {where}{cell(e.message)}{hint}")
        out.append("")
    return "\n".join(out)
