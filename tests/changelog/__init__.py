"""Tests of changeguard.changelog (the tree mirrors the package)."""
