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


def main() -> int:
    """Run every call; never stop early (a failure is reported, not raised)."""
    from changeguard.cli import main as cli

    repo, calls = sys.argv[1], json.loads(sys.argv[2])
    codes: list[int] = []
    errors: list[str] = []
    for email, args in calls:
        os.environ["GIT_AUTHOR_EMAIL"] = email
        os.environ["GIT_AUTHOR_NAME"] = email.split("@")[0]
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = cli(["--repo", repo, *args])
        codes.append(code)
        if code != 0:
            errors.append(f"{args}: {err.getvalue()}")
    print(json.dumps({"codes": codes, "errors": errors}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
