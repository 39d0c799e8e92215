"""Tests of changeguard.cli: the commands as a user runs them (the tree mirrors the package)."""
