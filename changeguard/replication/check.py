"""The `check` entry points, re-exported for callers (hook, CLI, plan, bench).

Reading lives in load.py and judging in engine.py; this façade imports both and nothing
imports it back (issue 13: no cycles).
"""

from __future__ import annotations

from changeguard.replication.engine import (
    check_all,
    check_blast_radius,
    check_files,
    check_transitions,
    judge,
)
from changeguard.replication.load import (
    NATIVE_SCHEMA,
    CheckResult,
    FileMapping,
    Reader,
    all_repo_files,
    directory_lister,
    load,
    load_topologies,
    mapped_files,
    working_tree_reader,
)
from changeguard.replication.model import StepLike

__all__ = ["NATIVE_SCHEMA", "CheckResult", "FileMapping", "Reader", "StepLike",
           "all_repo_files", "check_all", "check_blast_radius", "check_files",
           "check_transitions", "directory_lister", "judge", "load", "load_topologies",
           "mapped_files", "working_tree_reader"]
