"""GitHub Actions workflow commands: one annotation per finding (SPEC §13).

`::error file=F,line=L,title=RULE::message` for a deny, `::warning …` for a warning, as
GitHub documents them; values are escaped so a hostile message cannot end the command or
start another one.
"""

from __future__ import annotations

from collections.abc import Sequence

from changeguard.errors import ChangeguardError
from changeguard.findings import Finding, Severity
from changeguard.report._common import ordered, scrub, summarize
from changeguard.report.text import summary_line


def _data(text: str) -> str:
    return scrub(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def _command(kind: str, message: str, file: str | None, line: int | None,
             title: str | None) -> str:
    props = []
    if file is not None:
        props.append(f"file={_prop(file)}")
        if line:
            props.append(f"line={line}")
    if title is not None:
        props.append(f"title={_prop(title)}")
    head = f"::{kind} {','.join(props)}" if props else f"::{kind}"
    return f"{head}::{_data(message)}"


def _finding(f: Finding) -> str:
    kind = "error" if f.severity is Severity.DENY else "warning"
    message = f"{f.message} (hint: {f.hint})" if f.hint else f.message
    return _command(kind, message, f.file, f.line, f.rule)


def render_github(findings: Sequence[Finding], *, files: int,
                  errors: Sequence[ChangeguardError] = ()) -> str:
    """Annotations, then the summary as a plain log line."""
    out = [_finding(f) for f in ordered(findings)]
    out += [_command("error", f"{e.message} (hint: {e.hint})" if e.hint else e.message,
                     e.file, e.line, "changeguard") for e in errors]
    out.append(summary_line(summarize(findings, files)))
    return "\n".join(out)
