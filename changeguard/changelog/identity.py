"""Who is acting: git's author identity in the config repo, with leaked hook env removed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from changeguard.errors import GitError


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is acting: a git name and email."""

    name: str
    email: str

    @property
    def key(self) -> str:
        """Case-insensitive roster key."""
        return self.email.lower()


_IDENT = re.compile(r"^(?P<name>.*?) <(?P<email>[^>]*)> \d+ [+-]\d{4}$")


def parse_ident(text: str) -> Identity:
    """`Name <email> 1700000000 +0000` → Identity."""
    m = _IDENT.match(text.strip())
    if not m:
        raise GitError(f"cannot parse git identity {text.strip()!r}")
    return Identity(m["name"], m["email"])


def current_actor(repo: Path) -> Identity:
    """`git var GIT_AUTHOR_IDENT` in the config repo (SPEC §2 Identity)."""
    from changeguard.git import Git

    p = Git(repo).run("var", "GIT_AUTHOR_IDENT", check=False)
    out = p.stdout.decode("utf-8", "replace")
    if p.returncode != 0 or not out.strip():
        raise GitError("git has no author identity here: "
                       + p.stderr.decode("utf-8", "replace").strip(),
                       hint="set user.email (git config user.email you@example.org) "
                            "or GIT_AUTHOR_EMAIL")
    ident = parse_ident(out)
    if "@" not in ident.email:
        raise GitError(f"git author email {ident.email!r} is not an email address",
                       hint="set user.email to your roster email")
    return ident
