"""The full view's model, GuardConfig (pydantic v2; SPEC §3).

It is defined with the plan model in `changeguard.model` (the two share field types such as
`Zone` and `NonEmpty`); this module is its home in the config package.
"""

from __future__ import annotations

from changeguard.model import (
    Freeze,
    GuardConfig,
    LogConfig,
    MaintenanceWindow,
    Reviewer,
    SchemaMapping,
)

__all__ = ["Freeze", "GuardConfig", "LogConfig", "MaintenanceWindow", "Reviewer",
           "SchemaMapping"]
