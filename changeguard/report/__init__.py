"""Reporters: findings -> text/json/sarif/junit/markdown/github, each a pure function
returning `str`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from changeguard.errors import ChangeguardError, InputError
from changeguard.findings import Finding

FORMATS: tuple[str, ...] = ("text", "json", "sarif", "junit", "markdown", "github")
# Formats a machine or a review place reads: on bad input (exit 2) they still get a document
# carrying the error.
DOCUMENT_FORMATS: tuple[str, ...] = ("json", "sarif", "junit", "markdown", "github")

Errors = Sequence[ChangeguardError]
Renderer = Callable[[Sequence[Finding], int, bool, Sequence[str], Errors], str]


def _text(findings: Sequence[Finding], files: int, color: bool,
          paths: Sequence[str], errors: Errors) -> str:
    from changeguard.report.text import render_text

    # errors go to stderr as `error: …` lines (the text report is for people, who read both)
    return render_text(findings, files=files, color=color)


def _json(findings: Sequence[Finding], files: int, color: bool,
          paths: Sequence[str], errors: Errors) -> str:
    from changeguard.report.json_ import render_json

    return render_json(findings, files=files, errors=errors)


def _sarif(findings: Sequence[Finding], files: int, color: bool,
           paths: Sequence[str], errors: Errors) -> str:
    from changeguard.report.sarif import render_sarif

    return render_sarif(findings, files=files, errors=errors)


def _junit(findings: Sequence[Finding], files: int, color: bool,
           paths: Sequence[str], errors: Errors) -> str:
    from changeguard.report.junit import render_junit

    return render_junit(findings, files=files, paths=paths, errors=errors)


def _markdown(findings: Sequence[Finding], files: int, color: bool,
              paths: Sequence[str], errors: Errors) -> str:
    from changeguard.report.markdown import render_markdown

    return render_markdown(findings, files=files, errors=errors)


def _github(findings: Sequence[Finding], files: int, color: bool,
            paths: Sequence[str], errors: Errors) -> str:
    from changeguard.report.github import render_github

    return render_github(findings, files=files, errors=errors)


# A registry, not an if-chain: `FORMATS` and `_REPORTERS` are checked against each other in tests.
_REPORTERS: dict[str, Renderer] = {"text": _text, "json": _json, "sarif": _sarif, "junit": _junit,
                                   "markdown": _markdown, "github": _github}


def render(findings: Sequence[Finding], fmt: str, *, files: int, color: bool = False,
           paths: Sequence[str] = (), errors: Errors = ()) -> str:
    """Render findings in `fmt` (one of FORMATS); `files` is how many files were judged.

    `paths` optionally names the checked files, so JUnit can give clean files a passing case.
    `errors` are the problems that made the run exit 2 (bad input): the machine formats
    carry them, so a CI step still gets a valid document saying the run failed.
    """
    try:
        reporter = _REPORTERS[fmt]
    except KeyError:
        raise InputError(f"unknown format {fmt!r}",
                         hint="choose one of " + ", ".join(FORMATS)) from None
    return reporter(findings, files, color, paths, errors)
