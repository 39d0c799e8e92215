"""The memory bound of the bad-input tests measures the command, not the test process that
starts it (a pytest worker past 300 MB once failed every bound it measured)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from tests.adversarial._harness import measure

_TOUCH = "x = bytearray({mb} << 20)\nfor i in range(0, len(x), 4096): x[i] = 1\n"


def test_peak_rss_is_the_commands_own(tmp_path: Path) -> None:
    big = bytearray(350 << 20)
    for i in range(0, len(big), 4096):
        big[i] = 1  # this process now holds 350 MB
    small = measure([sys.executable, "-c", "pass"], tmp_path, dict(os.environ))
    grown = measure([sys.executable, "-c", _TOUCH.format(mb=200)], tmp_path, dict(os.environ))
    del big
    assert small.code == 0 and small.peak_mb < 100
    assert grown.code == 0 and 200 <= grown.peak_mb < 300


def test_a_hang_is_killed_with_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    m = measure([sys.executable, "-c", "import os, subprocess, time\n"
                 f"p = subprocess.Popen(['sleep', '60']); open({str(pid_file)!r}, 'w')"
                 ".write(str(p.pid)); time.sleep(60)"], tmp_path, dict(os.environ), timeout=2)
    assert m.code == -9
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 30  # SIGKILL is delivered at once, the exit takes a moment
    while _state(pid) not in ("gone", "Z") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _state(pid) in ("gone", "Z")


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return "gone"
