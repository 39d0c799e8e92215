"""`.changeguard.yaml`: one set of keys and defaults, one locator, two views (issue 13 §2).

`load_config` is the full (pydantic) view every command uses; `config.light` is the hook's
stdlib view of the same keys. Importing this package stays light (no pydantic).
"""

from __future__ import annotations

from changeguard.config.defaults import CONFIG_NAME
from changeguard.config.load import config_path, load_config, parse_config, read_config

__all__ = ["CONFIG_NAME", "config_path", "load_config", "parse_config", "read_config"]
