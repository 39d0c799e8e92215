"""Tests of changeguard.policy (the tree mirrors the package)."""
