"""The log tip the hook believes: only one that verified (SPEC §12 "Only a verified log").

A tip found in `.git/changeguard-verified` costs one small file read; any other tip is
verified incrementally (from the newest remembered tip in its history) before coverage is
judged, which imports the full config model and `changelog.verify` — only when guarded
files are staged and the log moved since the last verified commit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from changeguard.changelog.verified import cached_tips, common_dir, config_fingerprint, log_tip
from changeguard.config.light import LightConfig
from changeguard.git import Git


@dataclass(frozen=True)
class Believed:
    """The config with its log ref pinned to the verified tip, or why nothing is believed."""

    cfg: LightConfig
    tip: str | None = None
    problem: str | None = None  # "<commit>: <message>" of the first bad commit


def believed_log(repo: Path, git: Git, cfg: LightConfig, config_path: Path | None
                 ) -> Believed:
    """Pin `cfg.log_ref` to a verified tip (unchanged when there is no log yet)."""
    found = log_tip(git, cfg.log_ref, cfg.log_remote)
    if found is None:
        return Believed(cfg)
    _, tip = found
    fp = config_fingerprint(repo, config_path)
    # the tip, not the ref: the log may move while we read it, and what we judge from is
    # exactly what verified
    pinned = replace(cfg, log_ref=tip)
    if tip in cached_tips(common_dir(git), fp):
        return Believed(pinned, tip)
    bad = _first_problem(repo, config_path, tip, fp)
    return Believed(pinned, tip, bad) if bad else Believed(pinned, tip)


def _first_problem(repo: Path, config_path: Path | None, tip: str, fp: str) -> str | None:
    from changeguard.changelog.store import Git as LogGit
    from changeguard.changelog.verify import first_problem
    from changeguard.config import load_config

    log_git = LogGit(repo)
    try:
        bad = first_problem(log_git, load_config(repo, config_path), fp, tip=tip)
    finally:
        log_git.close()
    return None if bad is None else f"{bad.commit}: {bad.message}"
