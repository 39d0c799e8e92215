"""One concurrent writer: runs a list of CLI calls in this process, each as its actor.

Usage: python -m tests.adversarial._worker REPO '[["email", ["arg", ...]], ...]'
Prints one JSON line: the exit code of every call, and stderr of the failures.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from collections.abc import Callable


def main() -> int:
    """Run every call; never stop early (a failure is reported, not raised)."""
    from changeguard.cli import main as cli

    repo, calls = sys.argv[1], json.loads(sys.argv[2])
    codes: list[int] = []
    errors: list[str] = []
    gave_up = 0
    for email, args in calls:
        os.environ["GIT_AUTHOR_EMAIL"] = email
        os.environ["GIT_AUTHOR_NAME"] = email.split("@")[0]
        for _ in range(RETRIES):
            code, err = _once(cli, repo, args)
            if not (code == 1 and GAVE_UP in err):
                break
            gave_up += 1  # refused, nothing written, "retry the command": as a user would
        codes.append(code)
        if code != 0:
            errors.append(f"{args}: {err}")
    print(json.dumps({"codes": codes, "errors": errors, "gave_up": gave_up}))
    return 0


RETRIES = 5
GAVE_UP = "kept moving; gave up"


def _once(cli: Callable[[list[str]], int], repo: str, args: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = cli(["--repo", repo, *args])
    return code, err.getvalue()


if __name__ == "__main__":
    raise SystemExit(main())
