"""gitwildmatch glob matching (SPEC §11), stdlib only: the hook imports it first."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache


@lru_cache(maxsize=512)
def _compile(pattern: str, fold_case: bool = False) -> re.Pattern[str]:
    pat = pattern.strip()
    anchored = "/" in pat.rstrip("/")
    pat = pat.lstrip("/")
    dir_only = pat.endswith("/")
    pat = pat.rstrip("/")
    out: list[str] = []
    i, n = 0, len(pat)
    while i < n:
        c = pat[i]
        if pat.startswith("**/", i):
            out.append("(?:.*/)?")  # `**/` also matches zero directories
            i += 3
        elif pat.startswith("/**", i) and i + 3 == n:
            out.append("/.*")
            i += 3
        elif pat.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            j = pat.find("]", i + 1)
            if j == -1:
                out.append(re.escape(c))
                i += 1
            else:
                body = pat[i + 1 : j].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = j + 1
        elif c == "\\" and i + 1 < n:
            out.append(re.escape(pat[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    body = "".join(out)
    prefix = "" if anchored else "(?:.*/)?"
    # a pattern naming a directory also matches everything below it
    suffix = "/.+" if dir_only else "(?:/.+)?"
    flags = re.DOTALL | (re.IGNORECASE if fold_case else 0)
    return re.compile(f"^{prefix}{body}{suffix}$", flags)


def match(pattern: str, path: str, fold_case: bool = False) -> bool:
    """True when repo-relative `path` matches the gitwildmatch `pattern`."""
    return _compile(pattern, fold_case).match(path) is not None


def match_any(patterns: Iterable[str], path: str, fold_case: bool = False) -> bool:
    """True when `path` matches one pattern; a later `!pattern` re-excludes it."""
    hit = False
    for p in patterns:
        if p.startswith("!"):
            if hit and match(p[1:], path, fold_case):
                hit = False
        elif not hit and match(p, path, fold_case):
            hit = True
    return hit


def match_guarded(patterns: Iterable[str], path: str) -> bool:
    """`guarded` matching (SPEC §12 "Paths"): as written, or ignoring case.

    `DB/x.yaml` beside guarded `db/**` would be the same file on a case-insensitive checkout;
    either reading of the pattern list guarding the path guards it.
    """
    pats = tuple(patterns)
    return match_any(pats, path) or match_any(pats, path, fold_case=True)


_WILD = re.compile(r"[*?\\[]")


def literal_prefix(pattern: str) -> str:
    """The part of a glob before its first wildcard (`db/**/x` -> `db/`)."""
    m = _WILD.search(pattern)
    return pattern if m is None else pattern[:m.start()]


def may_overlap(attr_dir: str, attr_pattern: str, guarded: Iterable[str]) -> bool:
    """Could `attr_pattern` of the `.gitattributes` in `attr_dir` match a guarded path?

    Deciding whether two globs share a path is not worth exact answers here: the test is
    on literal prefixes (case-insensitive), so it errs towards "yes" (SPEC §12: when in
    doubt, the `.gitattributes` is guarded).
    """
    pat = attr_pattern.strip()
    base = attr_dir.rstrip("/") + "/" if attr_dir else ""
    # a pattern without '/' (besides a trailing one) matches at any depth below its file
    here = base + pat.lstrip("/") if "/" in pat.rstrip("/") else base
    a = literal_prefix(here).lower()
    for g in guarded:
        if g.startswith("!"):
            continue
        gp = g.strip()
        if "/" not in gp.rstrip("/"):
            return True  # an unanchored guard matches at any depth
        b = literal_prefix(gp.lstrip("/")).lower()
        if a.startswith(b) or b.startswith(a):
            return True
    return False
