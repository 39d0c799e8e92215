"""Who is acting: git's author identity in the config repo, with leaked hook env removed."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from changeguard.errors import GitError

# Variables a hook inherits from the outer git that would redirect our plumbing to the user's
# index or another repository; identity, config and transport settings are kept (issue 5 §1).
_KEEP = frozenset({
    "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_AUTHOR_DATE", "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL", "GIT_COMMITTER_DATE", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM",
    "GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_COUNT", "GIT_EXEC_PATH", "GIT_SSH", "GIT_SSH_COMMAND",
    "GIT_SSH_VARIANT", "GIT_SSL_CAINFO", "GIT_SSL_NO_VERIFY", "GIT_ASKPASS",
    "GIT_TERMINAL_PROMPT", "GIT_ALLOW_PROTOCOL", "GIT_HTTP_PROXY_AUTHMETHOD", "GIT_TRACE",
})


_CONFIG_PAIR = re.compile(r"GIT_CONFIG_(KEY|VALUE)_\d+$")


def clean_env() -> dict[str, str]:
    """os.environ without GIT_* variables that point git at another index/dir (hooks leak them)."""
    env: dict[str, str] = {}
    for k, v in os.environ.items():
        if k.startswith("GIT_") and k not in _KEEP and not _CONFIG_PAIR.match(k):
            continue
        env[k] = v
    env["GIT_TERMINAL_PROMPT"] = "0"
    env.setdefault("LC_ALL", "C")
    return env


@dataclass(frozen=True, slots=True)
class Identity:
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
    try:
        p = subprocess.run(["git", "var", "GIT_AUTHOR_IDENT"], cwd=repo, env=clean_env(),
                           capture_output=True, text=True)
    except FileNotFoundError as e:
        raise GitError("git is not installed", hint="install git ≥ 2.30") from e
    if p.returncode != 0 or not p.stdout.strip():
        raise GitError("git has no author identity here: " + p.stderr.strip(),
                       hint="set user.email (git config user.email you@example.org) "
                            "or GIT_AUTHOR_EMAIL")
    ident = parse_ident(p.stdout)
    if "@" not in ident.email:
        raise GitError(f"git author email {ident.email!r} is not an email address",
                       hint="set user.email to your roster email")
    return ident
