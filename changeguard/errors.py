"""Errors that stop evaluation (exit 2) or refuse an action (exit 1)."""

from __future__ import annotations


class ChangeguardError(Exception):
    """A problem the user can fix; printed as `error: FILE:LINE: message` plus a hint."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.hint = hint

    def render(self) -> str:
        """The one-line `error: FILE:LINE: message` form, plus an indented hint."""
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        text = f"error: {where}{self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class InputError(ChangeguardError):
    """Untrusted input that cannot be evaluated (SPEC §10): exit 2."""


class ConfigError(InputError):
    """A bad `.changeguard.yaml` or policy pack: exit 2."""


class GitError(ChangeguardError):
    """git is missing, too old, or the repository is unusable: exit 2."""


class RefusedError(ChangeguardError):
    """A refused transition or unauthorised actor (SPEC §2): exit 1."""

    exit_code = 1
