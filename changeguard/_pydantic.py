"""pydantic's plugin discovery, off for changeguard's process (issue 17).

pydantic looks for plugins (the `pydantic` entry-point group) when it builds its first
validator. `pydantic.plugin._loader` imports `importlib.metadata` at its top (with email,
zipfile, csv: about a tenth of `validate`'s start-up), even when PYDANTIC_DISABLE_PLUGINS
turns every plugin off. A guardrail wants no third-party observer in its validation, so
unless the user chose a value, PYDANTIC_DISABLE_PLUGINS is set to `__all__` for this process;
while every plugin is off, the loader module is a stand-in whose `get_plugins()` answers
`()` (what pydantic's own answers then) without that import. Any other name asked of the
module, or a user's setting that leaves some plugin on, gets pydantic's real loader.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType

_VAR = "PYDANTIC_DISABLE_PLUGINS"
_LOADER = "pydantic.plugin._loader"
_ALL_OFF = ("__all__", "1", "true")  # pydantic's spellings of "no plugins at all"


def _real_loader() -> ModuleType:
    """pydantic's own loader module, imported in place of the stand-in."""
    import importlib

    if isinstance(sys.modules.get(_LOADER), _StandIn):
        del sys.modules[_LOADER]
    return importlib.import_module(_LOADER)


class _StandIn(ModuleType):
    """`pydantic.plugin._loader` while every plugin is off."""

    def __getattr__(self, name: str) -> object:
        if name.startswith("__"):  # the import system asks e.g. for `__path__`
            raise AttributeError(name)
        return getattr(_real_loader(), name)


def _get_plugins() -> tuple[object, ...]:
    if os.environ.get(_VAR) in _ALL_OFF:
        return ()
    return tuple(_real_loader().get_plugins())  # the user turned plugins back on meanwhile


def disable_plugins() -> None:
    """Call before the first pydantic model is built; a no-op once the loader is loaded."""
    os.environ.setdefault(_VAR, "__all__")
    if os.environ[_VAR] not in _ALL_OFF or _LOADER in sys.modules:
        return
    stand_in = _StandIn(_LOADER, __doc__)
    stand_in.get_plugins = _get_plugins  # type: ignore[attr-defined]
    sys.modules[_LOADER] = stand_in
