"""PyYAML, imported without compiling the one pattern its pure-Python reader builds when
its class is defined (issue 17: 3 ms of every start-up, 5% of the hook's).

`yaml.reader.Reader.NON_PRINTABLE` is a character class spanning most of Unicode; `re`
optimises it at `re.compile`. With libyaml the C parser reads the text and the pattern is
never used; without it, it is compiled on first use, and behaves the same. Every module of
the package imports PyYAML through here (`from changeguard.yamlimport import yaml`), so the
first import in a process is this one. A PyYAML whose pattern differs is imported as is.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (hook start-up)
if TYPE_CHECKING:
    from typing import Any

_NON_PRINTABLE = "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"


class _OnFirstUse:
    """A pattern compiled when something first asks for one of its methods."""

    __slots__ = ("_compiled", "_pattern")

    def __init__(self, pattern: str) -> None:
        self._pattern = pattern
        self._compiled: re.Pattern[str] | None = None

    def __getattr__(self, name: str) -> Any:
        if self._compiled is None:
            self._compiled = re.compile(self._pattern)
        return getattr(self._compiled, name)


def _import_yaml() -> None:
    compile_now = re.compile

    def deferred(pattern: Any, flags: Any = 0) -> Any:
        if flags == 0 and pattern == _NON_PRINTABLE:
            return _OnFirstUse(pattern)
        return compile_now(pattern, flags)

    re.compile = deferred
    try:
        import yaml  # noqa: F401  (only to run its import with the patch above)
    finally:
        re.compile = compile_now


_import_yaml()

import yaml  # noqa: E402  (already imported: bound here for the importers)

__all__ = ["yaml"]
