"""What a reviewer says they reviewed: `approve`/`reject --revision N | --digest D` (SPEC §13).

A review is recorded only for the revision the reviewer names. The check here runs once before
the event is built, with a message that says what moved; the event then carries the current
digest, and `state.apply` (also run on every compare-and-swap retry, remote rebase and
`log verify`) refuses it when the change has moved on since, so a re-submit landing between
this check and the ref update is refused too, never recorded against the new revision.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from changeguard.changelog.state import ChangeState
from changeguard.errors import InputError, RefusedError

# how a digest is written wherever it appears (SPEC §13; plan/digest.py writes it so)
DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class Binding:
    """The revision and/or digest the reviewer reviewed; when both are given both must hold."""

    revision: int | None = None
    digest: str | None = None

    @property
    def given(self) -> bool:
        """True when the reviewer named a revision or a digest."""
        return self.revision is not None or self.digest is not None

    def asked(self) -> str:
        """What the reviewer asked for, in their words."""
        parts = [f"revision {self.revision}"] if self.revision is not None else []
        if self.digest is not None:
            parts.append(self.digest if not parts else f"({self.digest})")
        return " ".join(parts)


def parse_digest(value: str | None) -> str | None:
    """`--digest` as given, checked to be `sha256:<64 lower-case hex>` (InputError: exit 2)."""
    if value is None:
        return None
    if not DIGEST_RE.fullmatch(value):
        raise InputError(f"--digest {value!r} is not a change digest; nothing was recorded",
                         hint="a digest is written sha256:<64 hex digits>, as "
                              "`changeguard show ID` prints it")
    return value


def refuse_moved(cur: ChangeState, kind: str, want: Binding) -> None:
    """RefusedError (exit 1, nothing recorded) unless `cur` is what the reviewer reviewed."""
    ok_rev = want.revision is None or want.revision == cur["revision"]
    ok_digest = want.digest is None or want.digest == cur["digest"]
    if ok_rev and ok_digest:
        return
    cid = cur["id"]
    hint = (f"run `changeguard show {cid}` to see what changed, then "
            f"`changeguard {kind} {cid} --revision {cur['revision']}` if you agree with it")
    if want.revision is not None and want.revision > cur["revision"]:
        # a newer revision than this clone knows: the clone is behind, nothing moved back
        hint = (f"revision {want.revision} is not in this clone's log: run `changeguard log "
                f"sync`, then `changeguard show {cid}`")
    raise RefusedError(
        f"{cid} is at revision {cur['revision']} ({cur['digest']}), you asked to {kind} "
        f"{want.asked()}; nothing was recorded", hint=hint)


def usage_hint(cur: ChangeState, kind: str) -> str:
    """The command a non-interactive caller should have typed (SPEC §13: names the revision)."""
    extra = ' --reason "…"' if kind == "reject" else ""
    return (f"changeguard {kind} {cur['id']} --revision {cur['revision']}{extra} "
            f"(or --digest {cur['digest']}); run `changeguard show {cur['id']}` to review it")
