"""The git-backed change log: store, state machine, workflow, verify and remote sync (issue 5)."""

from __future__ import annotations
