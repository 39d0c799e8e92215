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


def _canonical(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def canonical_plan(plan: ChangePlan) -> str:
    """Key order, formatting, defaults and equivalent offsets do not change this text."""
    data = _canonical(plan.model_dump(mode="python", by_alias=True))
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def compute_digest(plan: ChangePlan, blobs: dict[str, str | None]) -> str:
    """sha256 over the canonical plan plus each changed path's proposed blob id."""
    payload = json.dumps({"plan": canonical_plan(plan), "blobs": dict(sorted(blobs.items()))},
                         sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(payload.encode()).hexdigest()
