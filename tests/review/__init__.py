"""Tests of the reviewer's workflow (SPEC §13)."""
