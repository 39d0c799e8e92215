"""`.changeguard.yaml`: one set of keys and defaults, one locator, two views (issue 13 §2).

`load_config` is the full (pydantic) view every command uses; `config.light` is the hook's
stdlib view of the same keys. Importing this package stays light: the locator (and with it
PyYAML) loads on first use, so the hook can read a remembered light view without it.
"""

from __future__ import annotations

from changeguard.config.defaults import CONFIG_NAME

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (hook start-up)

if TYPE_CHECKING:
    from changeguard.config.load import config_path, load_config, parse_config, read_config

_LAZY = frozenset({"config_path", "load_config", "parse_config", "read_config"})


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from changeguard.config import load

        return getattr(load, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["CONFIG_NAME", "config_path", "load_config", "parse_config", "read_config"]
