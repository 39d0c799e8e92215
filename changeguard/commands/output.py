"""Writing command output: stdout, or a file replaced atomically (never half-written)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from changeguard.errors import InputError


def emit(text: str | bytes | list[bytes | memoryview], output: Path | None = None) -> None:
    """Print `text` (ending in one newline), or write it to `output` atomically.

    Bytes go to stdout as they are: iCalendar's CRLF line endings survive on every platform.
    """
    if output is None:
        if not isinstance(text, str):
            sys.stdout.buffer.writelines([text] if isinstance(text, bytes) else text)
            sys.stdout.buffer.flush()
            return
        sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
        sys.stdout.flush()
        return
    write_atomic(output, text if isinstance(text, str | bytes) else b"".join(text))


def write_atomic(path: Path, data: str | bytes, *, make_parents: bool = False,
                 option: str | None = None) -> None:
    """Write via a temp file in the same directory and rename over the target.

    The file gets the mode a plain `open()` would give (0666 minus the umask), not mkstemp's
    0600 (issue 12). A missing parent folder is refused unless `make_parents` (a folder the
    command itself owns, such as `init`'s `changes/`): a typo'd path must not "succeed".
    `option` names the command-line option the path came from, for the error message.
    """
    parent = path.parent
    if make_parents:
        parent.mkdir(parents=True, exist_ok=True)
    check_target(path, option)
    import tempfile  # only when writing a file: not on every command's path (issue 17)

    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    except OSError as e:
        raise InputError(f"{_what(path, option)}: {e.strerror}",
                         hint="choose a writable path") from e
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_target(path: Path, option: str | None = None) -> None:
    """Exit 2 before writing anything when the target cannot be a file we create."""
    parent = path.parent
    if not parent.is_dir():
        # name the outermost missing folder: that is usually where the typo is
        first = parent
        while not first.parent.is_dir() and first.parent != first:
            first = first.parent
        what = "is not a folder" if first.exists() else "does not exist"
        raise InputError(f"{_what(path, option)}: folder {first} {what}",
                         hint=f"create it first (mkdir -p {parent}) or fix the path")
    if path.is_dir():
        raise InputError(f"{_what(path, option)} is a directory", hint="give a file name")


def _what(path: Path, option: str | None) -> str:
    return f"{option} {path}" if option else f"cannot write {path}"


def _umask() -> int:
    # os.umask is the only portable way to read it; set and restore at once (single-threaded).
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
