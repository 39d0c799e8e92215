"""gitwildmatch glob matching (SPEC §11), stdlib only: the hook imports it first."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache


@lru_cache(maxsize=512)
def _compile(pattern: str) -> re.Pattern[str]:
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
    return re.compile(f"^{prefix}{body}{suffix}$", re.DOTALL)


def match(pattern: str, path: str) -> bool:
    """True when repo-relative `path` matches the gitwildmatch `pattern`."""
    return _compile(pattern).match(path) is not None


def match_any(patterns: Iterable[str], path: str) -> bool:
    """True when `path` matches one pattern; a later `!pattern` re-excludes it."""
    hit = False
    for p in patterns:
        if p.startswith("!"):
            if hit and match(p[1:], path):
                hit = False
        elif not hit and match(p, path):
            hit = True
    return hit
