"""Imported first by the hook: `inspect` is loaded on first use, not at import (issue 17).

`dataclasses` imports `inspect` (and with it ast, dis, tokenize: about a tenth of the hook's
start-up) only to write a docstring for a dataclass that has none; the hook's dataclasses all
have one, so on the hook's path it is never used. Until something reads one of its names,
`inspect` is a stand-in that then loads the real module and answers from it. (The stdlib's
`importlib.util.LazyLoader` does not help here: on Python 3.11 the `import` statement itself
reads the module's `__spec__`, which loads it.)

It also makes the cycle collector's young generation larger: start-up creates tens of
thousands of objects that live to exit, and the default (a collection every 700) scanned
them ~20 times in a hook run for nothing (~5 % of it). A run over many files still collects,
every 100 000 allocations.
"""

from __future__ import annotations

import gc
import sys
from types import ModuleType


class _Deferred(ModuleType):
    """Stands in for a module until one of its names is read."""

    def __getattr__(self, attr: str) -> object:
        name = self.__name__
        if sys.modules.get(name) is self:
            del sys.modules[name]
        real = __import__(name)
        return getattr(real, attr)


def defer(name: str) -> None:
    """Let `name` be imported for free; it loads when a name of it is first read."""
    if name not in sys.modules:
        sys.modules[name] = _Deferred(name)


defer("inspect")
gc.set_threshold(100_000, 20, 20)
