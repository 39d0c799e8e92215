"""Tests of changeguard.hook (the tree mirrors the package)."""
