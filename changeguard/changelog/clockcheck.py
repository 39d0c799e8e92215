"""`log verify`'s time checks (SPEC §12 "Time"): an event's time is not taken on its word.

The writer stamps an event with the wall clock, and its commit's committer time is taken from
the same clock a moment later; so, for every event not marked `Changeguard-Clock: simulated`,
in log order (the whole log, not one change):

- its time may differ from its commit's committer time by at most `clock_skew_minutes`;
- it may not be earlier than the previous such event's time by more than
  `clock_skew_minutes` (two honest writers' clocks, or a writer that lost a compare-and-swap
  race and landed after a later event, differ by at most that much, so the tolerance is the
  same one; anything more is a back-dated event, whatever its committer time says);
- it may not lie more than `clock_skew_minutes` in the future of the verifier's own clock
  (a `start` claiming a time inside a window that has not begun).

Simulated times are made up by definition (demos, rehearsals, tests: concurrent writers there
pass unrelated `--now` values), so the trailer exempts an event from all three, and may only
appear under a config that says `clock: simulated`. The writer refuses what the order check
would flag (`refuse_backdated`), so the CLI never writes a log that `log verify` rejects.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from changeguard.changelog.events import (
    CLOCK_TRAILER,
    SIMULATED,
    earlier_message,
    is_simulated,
    when,
)
from changeguard.changelog.state import Event, ts

if TYPE_CHECKING:
    from changeguard.model import GuardConfig


def committer_time(ident: str) -> datetime | None:
    """The time of a raw `committer` header value (`Name <email> 1700000000 +0100`)."""
    _, _, tail = ident.rpartition(">")
    parts = tail.split()
    if len(parts) != 2 or not parts[0].isdigit():
        return None
    try:  # the epoch seconds are UTC; the offset only says how the writer's clock read it
        return datetime.fromtimestamp(int(parts[0]), UTC)
    except (OverflowError, OSError, ValueError):
        return None


class ClockCheck:
    """Remembers the previous event's time while `log verify` walks the log in order."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime.now(UTC)
        self.prev: datetime | None = None

    def check(self, committer: str, message: str, ev: Event, config: GuardConfig,
              trailers: Mapping[str, str] | None = None) -> list[str]:
        """Problems with the time of one event (`committer`: its commit's raw header value;
        `trailers`: the message's, when parsed already)."""
        at = ts(ev.at)
        if at.tzinfo is None:  # never compared with an aware time: that would be a TypeError
            return [f"event time {ev.at} has no timezone offset"]
        skew = timedelta(minutes=config.clock_skew_minutes)
        simulated = is_simulated(message) if trailers is None else \
            trailers.get(CLOCK_TRAILER) == SIMULATED
        problems: list[str] = []
        if simulated and config.clock != "simulated":
            problems.append(f"event is marked Changeguard-Clock: simulated, but its config says "
                            f"`clock: {config.clock}`: a made-up time under a real clock")
        if simulated:
            return problems
        problems += self._against_commit(at, committer, skew, config)
        if self.prev is not None and at < self.prev - skew:
            problems.append(earlier_message(at, self.prev, config.clock_skew_minutes))
        self.prev = at
        return problems

    def _against_commit(self, at: datetime, committer: str, skew: timedelta,
                        config: GuardConfig) -> list[str]:
        limit = f"clock_skew_minutes ({config.clock_skew_minutes:g})"
        committed = committer_time(committer)
        if committed is None:
            return ["event commit has no readable committer time"]
        out: list[str] = []
        if abs(at - committed) > skew:
            minutes = abs(at - committed).total_seconds() / 60
            out.append(f"event time {when(at)} differs from its commit's committer time "
                       f"{when(committed)} by {minutes:.0f} minute(s), more than {limit}")
        if at > self.now + skew:
            out.append(f"event time {when(at)} is in the future of this clock "
                       f"({when(self.now)}) by more than {limit}")
        return out
