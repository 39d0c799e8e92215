"""Hostile payloads of SPEC §10, as bytes built around a valid sample."""

from __future__ import annotations

import itertools

UTF8_BOM = b"\xef\xbb\xbf"
MIB = 1024 * 1024
DEPTH = 10_000


def utf16(sample: str) -> bytes:
    """The sample as UTF-16 with its BOM (Windows editors write this)."""
    return sample.encode("utf-16")


def latin1_line(sample: str, yaml: bool) -> tuple[bytes, int]:
    """The sample plus a Latin-1 comment line; returns the bytes and that line number."""
    line = sample.count("\n") + 1
    comment = b"# caf\xe9 au lait\n"
    return sample.encode() + comment, line


def oversize(sample: str, mib: int = 20) -> bytes:
    """The sample padded with comment lines to `mib` MiB."""
    pad = b"#" + b"x" * 78 + b"\n"
    body = sample.encode()
    return body + pad * ((mib * MIB - len(body)) // len(pad) + 1)


def alias_bomb() -> bytes:
    """The billion-laughs shape: 9 levels of 9 aliases (~387 million nodes if expanded)."""
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    names = "abcdefghij"
    for prev, cur in itertools.pairwise(names):
        refs = ", ".join(f"*{prev}" for _ in range(9))
        lines.append(f"{cur}: &{cur} [{refs}]")
    return ("\n".join(lines) + "\n").encode()


def duplicate_key(sample: str) -> tuple[bytes, int]:
    """The sample with its first top-level key repeated at the end; returns the dup line."""
    if sample.lstrip().startswith("{"):  # JSON: repeat a key inside the object
        body = sample.rstrip().rstrip("}") + ', "_id": "rs1"}\n'
        return body.encode(), 1
    first = sample.splitlines()[0]
    line = sample.count("\n") + 1
    return (sample + first + "\n").encode(), line


def deep(depth: int = DEPTH) -> bytes:
    """`depth` nested flow sequences."""
    return b"x: " + b"[" * depth + b"]" * depth + b"\n"


def with_nul(sample: str) -> bytes:
    """A NUL byte on the second line (binary content behind a config name)."""
    if sample.startswith("{"):  # one-line JSON: inside the object, not after it
        return ("{\n\x00" + sample[1:]).encode()
    first, _, rest = sample.partition("\n")
    return (first + "\n\x00" + rest).encode()
