"""What every local cache under the git dir shares (issue 17): one switch, one way to write.

The verdict cache (`checkcache`), the hook's remembered config view (`config.light`) and the
`list` rows (`changelog.listing`) are conveniences for local commands: none is read or
written under CI or with `CHANGEGUARD_CHECK_CACHE=off`, and a write that fails (read-only
`.git`, full disk) only means nothing is remembered. Stdlib only: the hook imports it.
"""

from __future__ import annotations

import os
from pathlib import Path

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (hook start-up)
if TYPE_CHECKING:
    from collections.abc import Iterable

ENV = "CHANGEGUARD_CHECK_CACHE"


def enabled() -> bool:
    """False in CI (a gate must not believe a cache it did not write) or when switched off."""
    if os.environ.get(ENV, "").lower() in ("off", "0", "false", "no"):
        return False
    return os.environ.get("CI", "").lower() not in ("true", "1", "yes")


def sealed(magic: bytes, parts: Iterable[bytes | memoryview]) -> list[bytes | memoryview]:
    """`parts` framed as a cache file: `magic` (its format and version), a CRC-32 of what
    follows, then the parts. The checksum catches a damaged file, which is all a checksum
    anyone can recompute could catch (sha256 cost 3x as much over a 2.6 MB file)."""
    import zlib

    body = list(parts)
    crc = 0
    for part in body:
        crc = zlib.crc32(part, crc)
    return [magic, crc.to_bytes(4, "little"), *body]


def unsealed(magic: bytes, raw: bytes | memoryview) -> memoryview | None:
    """What `sealed` framed in `raw`, or None when the magic or the checksum differs."""
    import zlib

    view, at = memoryview(raw), len(magic) + 4
    if view[:len(magic)] != magic or len(view) < at \
            or zlib.crc32(view[at:]).to_bytes(4, "little") != view[len(magic):at]:
        return None
    return view[at:]


def write_atomic(path: Path, data: bytes | Iterable[bytes | memoryview]) -> bool:
    """Write `data` (or its parts, one after the other) through a temp file and a rename, so
    a concurrent reader never sees half of it; False (and no temp file left) when the OS
    refuses."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("wb") as f:
            f.writelines([data] if isinstance(data, bytes) else data)
        os.replace(tmp, path)
        return True
    except OSError:
        import contextlib  # here: the hook imports this module on every run

        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        return False
