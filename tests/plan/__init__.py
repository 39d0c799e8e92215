"""Tests of changeguard.plan (the tree mirrors the package)."""
