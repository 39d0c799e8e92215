"""Freezes to show: the config's `freezes:` plus a stop-the-line freeze recorded in the log."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from changeguard.changelog.state import FreezeState
    from changeguard.model import Freeze, GuardConfig

LOG_FREEZE_NAME = "stop-the-line"


def all_freezes(repo: Path, config: GuardConfig, horizon: datetime) -> list[Freeze]:
    """Config freezes and the log's active `changeguard freeze` (open-ended ones end at horizon)."""
    return [*config.freezes, *log_freezes(repo, config, horizon)]


def log_freezes(repo: Path, config: GuardConfig, horizon: datetime) -> list[Freeze]:
    """The active freeze at the log tip, as a Freeze (none without a log or an active freeze)."""
    state = _read_freeze(repo, config.log.ref)
    return [] if state is None else _as_freeze(state, horizon)


def _read_freeze(repo: Path, ref: str) -> FreezeState | None:
    # the changelog's own tip reader (Snapshot), so the layout lives in one place
    from changeguard.changelog.events import Snapshot
    from changeguard.changelog.store import Git, ref_tip

    git = Git(repo)
    try:
        tip = ref_tip(git, ref)
        return Snapshot(git, tip).freeze() if tip is not None else None
    except ValueError:
        return None  # malformed freeze.json: `log verify` reports it
    finally:
        git.close()


def _as_freeze(state: FreezeState, horizon: datetime) -> list[Freeze]:
    from changeguard.model import Freeze

    try:
        if not state.get("active"):
            return []
        start = datetime.fromisoformat(state["at"])
        until = state.get("until")
        end = datetime.fromisoformat(until) if until else max(horizon, start)
    except (ValueError, KeyError, TypeError, AttributeError):
        return []  # `log verify` reports a malformed log; listings just omit it
    if end <= start:  # expired, or an open-ended one that starts after the horizon
        return []
    reason = f"{state.get('reason', '')} (by {state.get('actor', '?')})"
    if not until:
        reason += "; until `changeguard unfreeze`"
    return [Freeze(name=LOG_FREEZE_NAME, start=start, end=end, reason=reason)]
