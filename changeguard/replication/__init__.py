"""Replication topologies: model, native format, invariants, transitions, blast radius."""

from __future__ import annotations
