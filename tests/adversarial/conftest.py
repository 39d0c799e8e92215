"""Fixtures for the adversarial suites: a repo with every format mapped."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.adversarial._samples import make_config_repo


@pytest.fixture
def cfg_repo(tmp_path: Path, git_env: dict[str, str]) -> Path:
    """A committed config repo (roster, every adapter mapped, one plan)."""
    return make_config_repo(tmp_path / "cfg")
