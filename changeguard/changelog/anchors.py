"""`Changeguard-Log` anchors: a shortened log is visible to a fresh clone (SPEC §12).

A commit on the trusted branch that touched guarded paths records, in a `Changeguard-Log:
<sha>` trailer (the hook's `commit-msg` stage writes it), the log tip its coverage was
judged from. The trusted branch is replicated independently of the log ref, so when someone
moves the log ref back (locally, or on the shared remote, reflog expired) every clone still
holds the anchors: a recorded tip that is not in the current log's history, or that a clone
does not have at all, is a problem naming the commit that recorded it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from changeguard.changelog.store import Git

if TYPE_CHECKING:  # stdlib-only at run time: the hook's commit-msg stage imports TRAILER
    from changeguard.model import GuardConfig

TRAILER = "Changeguard-Log"
_LINE = re.compile(rf"^{TRAILER}:[ \t]*([0-9a-f]{{40}}|[0-9a-f]{{64}})[ \t]*$", re.IGNORECASE)
_ANY_TRAILER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*:[ \t]")


@dataclass(frozen=True, slots=True)
class Anchor:
    """A trusted-branch commit that anchors a log tip (SPEC §12)."""

    commit: str  # the trusted-branch commit whose message records it
    tip: str  # the log tip it relied on


def trusted_rev(git: Git) -> str | None:
    """The trusted revision as the judges resolve it (SPEC §12; None: not in this clone)."""
    from changeguard.config.defaults import CONFIG_NAME
    from changeguard.config.trusted import find_trusted
    from changeguard.errors import ChangeguardError

    try:
        return find_trusted(git, CONFIG_NAME, judge=True).sha
    except ChangeguardError:  # no trusted branch here: nothing recorded to check against
        return None


def recorded_tips(message: str) -> list[str]:
    """Log tips in the message's trailer block (its last paragraph, trailers only)."""
    paras = [p for p in message.strip("\n").split("\n\n") if p.strip()]
    if len(paras) < 2:  # a subject line alone has no trailer block
        return []
    lines = [x for x in paras[-1].splitlines() if x.strip()]
    if not all(_ANY_TRAILER.match(x) or x[:1] in " \t" for x in lines):
        return []
    return [m.group(1).lower() for x in lines if (m := _LINE.match(x.strip()))]


def anchors(git: Git, ref: str) -> list[Anchor]:
    """Every anchor on `ref`'s first-parent history, newest first (read per commit object)."""
    # --grep only narrows the candidates; each trailer is parsed from its own commit object
    shas = git.out("rev-list", "--first-parent", "-i", f"--grep=^{TRAILER}:", ref).split()
    out: list[Anchor] = []
    for sha, got in zip(shas, git.read_many(shas), strict=True):
        if got is None:
            continue
        body = got[2].partition(b"\n\n")[2].decode("utf-8", "replace")
        out += [Anchor(sha, tip) for tip in recorded_tips(body)]
    return out


def check_anchors(git: Git, config: GuardConfig, log_commits: set[str],
                  trusted: str | None = None) -> list[tuple[str, str]]:
    """(commit, problem) for each anchor on the trusted revision's first-parent history
    (`trusted`, default: resolved as the judges do) outside `log_commits`."""
    ref = trusted or trusted_rev(git)
    if ref is None:
        return []
    lost = [a for a in anchors(git, ref) if a.tip not in log_commits]
    present = git.read_many([a.tip for a in lost]) if lost else []
    out: list[tuple[str, str]] = []
    for a, got in zip(lost, present, strict=True):
        why = ("which this clone does not have at all" if got is None
               else "which is not in the current log's history")
        out.append((a.commit, f"the log was shortened: trusted-branch commit {a.commit[:12]} "
                              f"relied on log tip {a.tip[:12]} ({TRAILER} trailer), {why}"))
    return out
