"""Reporters: findings -> text/json/sarif/junit, each a pure function returning `str`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from changeguard.errors import InputError
from changeguard.findings import Finding

FORMATS: tuple[str, ...] = ("text", "json", "sarif", "junit")

Renderer = Callable[[Sequence[Finding], int, bool, Sequence[str]], str]


def _text(findings: Sequence[Finding], files: int, color: bool,
          paths: Sequence[str]) -> str:
    from changeguard.report.text import render_text

    return render_text(findings, files=files, color=color)


def _json(findings: Sequence[Finding], files: int, color: bool,
          paths: Sequence[str]) -> str:
    from changeguard.report.json_ import render_json

    return render_json(findings, files=files)


def _sarif(findings: Sequence[Finding], files: int, color: bool,
           paths: Sequence[str]) -> str:
    from changeguard.report.sarif import render_sarif

    return render_sarif(findings, files=files)


def _junit(findings: Sequence[Finding], files: int, color: bool,
           paths: Sequence[str]) -> str:
    from changeguard.report.junit import render_junit

    return render_junit(findings, files=files, paths=paths)


# A registry, not an if-chain: `FORMATS` and `_REPORTERS` are checked against each other in tests.
_REPORTERS: dict[str, Renderer] = {"text": _text, "json": _json, "sarif": _sarif, "junit": _junit}


def render(findings: Sequence[Finding], fmt: str, *, files: int, color: bool = False,
           paths: Sequence[str] = ()) -> str:
    """Render findings in `fmt` (one of FORMATS); `files` is how many files were checked.

    `paths` optionally names the checked files, so JUnit can give clean files a passing case.
    """
    try:
        reporter = _REPORTERS[fmt]
    except KeyError:
        raise InputError(f"unknown format {fmt!r}",
                         hint="choose one of " + ", ".join(FORMATS)) from None
    return reporter(findings, files, color, paths)
