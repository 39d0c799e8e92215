"""Print a pip constraints file pinning every runtime dependency to its declared lower bound.

`.ci/run` installs the package with it, so the bounds in pyproject.toml are proven, not hoped.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

root = Path(__file__).resolve().parent.parent
deps = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
for dep in deps:
    m = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)\s*>=\s*([^,;\s]+)\s*(;.*)?", dep)
    if m is None:
        sys.exit(f"dependency without a plain lower bound: {dep!r}")
    print(f"{m.group(1)}=={m.group(2)}")
