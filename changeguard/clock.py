"""Who may name the time (SPEC §12 "Time"): writers and judges use the wall clock.

`--now`/`CHANGEGUARD_NOW` lets a command pretend it is another time. For read-only commands
that is a what-if; for a command that writes an event or judges coverage it would let anyone
back-date a submit past the lead time or claim a `start` inside the window. So writers, the
hook and the gate accept it only when the config they obey says `clock: simulated` (demos,
rehearsals, tests), and events written so carry the `Changeguard-Clock: simulated` trailer.

Stdlib only: the hook imports this on its fast path.
"""

from __future__ import annotations

import os

from changeguard.errors import InputError

SIMULATED = "simulated"
ENV = "CHANGEGUARD_NOW"


def requested(value: str | None) -> str | None:
    """The time asked for instead of the wall clock: `--now`, else `$CHANGEGUARD_NOW`."""
    if value:
        return value
    return os.environ.get(ENV) or None


def permit_now(value: str | None, clock: str, command: str, config: str | None = None) -> None:
    """InputError (exit 2) when `command` is asked for a time but the clock is not simulated.

    `value` is the command's `--now` (None when not given; the environment is consulted
    here so no caller can forget it); `clock` is the config's `clock` key.
    """
    asked = requested(value)
    if asked is None or clock == SIMULATED:
        return
    source = "--now" if value else f"${ENV}"
    where = f" ({config})" if config else ""
    raise InputError(
        f"{source} {asked!r} is refused for {command}: the config says `clock: {clock}`"
        f"{where}, so events are recorded and judged at the wall-clock time",
        hint=f"drop {source} to use the wall clock, or set `clock: {SIMULATED}` in the config "
             "for demos, rehearsals and tests (its events are marked simulated)")
