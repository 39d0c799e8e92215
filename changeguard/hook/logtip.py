"""The log tip the hook believes: only one that verified (SPEC §12 "Only a verified log").

A tip found in `.git/changeguard-verified` costs one small file read; any other tip is
verified incrementally (from the newest remembered tip in its history) before coverage is
judged, which imports the full config model and `changelog.verify` — only when guarded
files are staged and the log moved since the last verified commit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from changeguard.changelog.verified import is_known, log_tip, trusted_fingerprint
from changeguard.config.light import LightConfig
from changeguard.config.trusted import Trusted
from changeguard.git import Git


@dataclass(frozen=True)
class Believed:
    """The config with its log ref pinned to the verified tip, or why nothing is believed."""

    cfg: LightConfig
    tip: str | None = None
    problem: str | None = None  # "<commit>: <message>" of the first bad commit


def believed_log(git: Git, cfg: LightConfig, trusted: Trusted) -> Believed:
    """Pin `cfg.log_ref` to a verified tip (unchanged when there is no log yet)."""
    found = log_tip(git, cfg.log_ref, cfg.log_remote)
    if found is None:
        return Believed(cfg)
    _, tip = found
    fp = trusted_fingerprint(trusted)
    # the tip, not the ref: the log may move while we read it, and what we judge from is
    # exactly what verified
    pinned = replace(cfg, log_ref=tip)
    if is_known(git, tip, fp):
        return Believed(pinned, tip)
    bad = _first_problem(git.repo, trusted, tip, fp)
    return Believed(pinned, tip, bad) if bad else Believed(pinned, tip)


def _first_problem(repo: Path, trusted: Trusted, tip: str, fp: str) -> str | None:
    """Verify `tip` under the full trusted config (the one import of pydantic here)."""
    from changeguard.changelog.store import Git as LogGit
    from changeguard.changelog.verify import first_problem
    from changeguard.config.trusted import full_config

    log_git = LogGit(repo)
    try:
        bad = first_problem(log_git, full_config(log_git, trusted), fp, tip=tip,
                            trusted=trusted)
    finally:
        log_git.close()
    return None if bad is None else f"{bad.commit}: {bad.message}"
