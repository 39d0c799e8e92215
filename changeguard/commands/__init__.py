"""One module per command family: typed arguments in, an exit code out.

Each gathers its inputs, calls the core and renders through `output` (the one writer to
stdout and files). `cli/` only parses and calls these.
"""

from changeguard.context import REPORT_FORMATS, TEXT_JSON, Format, Globals

__all__ = ["REPORT_FORMATS", "TEXT_JSON", "Format", "Globals"]
