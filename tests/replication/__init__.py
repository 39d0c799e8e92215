"""Tests of changeguard.replication (the tree mirrors the package)."""
