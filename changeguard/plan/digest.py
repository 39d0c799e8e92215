"""The change digest (SPEC §4): approvals bind to it, a new digest makes them stale."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from changeguard.model import ChangePlan


def blob_id(data: bytes) -> str:
    """git's blob id (sha1 object format) of `data`, computed without running git."""
    h = hashlib.sha1(b"blob %d\x00" % len(data))
    h.update(data)
    return h.hexdigest()


def _utc(value: object) -> str:
    # json's C encoder calls this only for what it cannot encode itself: the plan's datetimes
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    raise TypeError(f"{type(value).__name__} is not part of a plan's canonical form")


# `json.dumps` with these options, built once (dumps builds an encoder a call; `log verify`
# digests 10k plans)
_PLAN_TEXT = json.JSONEncoder(default=_utc, sort_keys=True, separators=(",", ":"),
                              ensure_ascii=False)
_PAYLOAD = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_plan(plan: ChangePlan) -> str:
    """Key order, formatting, defaults and equivalent offsets do not change this text."""
    return _PLAN_TEXT.encode(plan.model_dump(mode="python", by_alias=True))


def compute_digest(plan: ChangePlan, blobs: dict[str, str | None]) -> str:
    """sha256 over the canonical plan plus each changed path's proposed blob id."""
    payload = _PAYLOAD.encode({"plan": canonical_plan(plan),
                               "blobs": dict(sorted(blobs.items()))})
    return "sha256:" + hashlib.sha256(payload.encode()).hexdigest()
