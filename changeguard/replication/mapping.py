"""The `.changeguard.yaml` `schemas:` mapping as a light type (no pydantic: hook path)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from changeguard.errors import ConfigError
from changeguard.globs import match_any

NATIVE_SCHEMA = "builtin:replication-topology"


@dataclass(frozen=True, slots=True)
class FileMapping:
    """One `schemas:` entry: globs plus exactly one of `schema:` or `format:`."""

    paths: tuple[str, ...]
    schema: str | None = None
    format: str | None = None
    # where a repo-relative `schema:` lives when the config came from a revision (SPEC §12)
    root: str | None = None

    @classmethod
    def from_raw(cls, raw: Sequence[Mapping[str, object]], root: str | None = None
                 ) -> list[FileMapping]:
        """Build mappings from the raw `schemas:` list (already shape-checked or not)."""
        out: list[FileMapping] = []
        for i, entry in enumerate(raw):
            paths = entry.get("paths")
            if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
                raise ConfigError(f"schemas[{i}].paths must be a list of globs")
            schema, fmt = entry.get("schema"), entry.get("format")
            if (schema is None) == (fmt is None):
                raise ConfigError(f"schemas[{i}] needs exactly one of `schema:` or `format:`")
            if schema is not None and not isinstance(schema, str):
                raise ConfigError(f"schemas[{i}].schema must be a string")
            if fmt is not None and not isinstance(fmt, str):
                raise ConfigError(f"schemas[{i}].format must be a string")
            out.append(cls(tuple(str(p) for p in paths), schema, fmt, root))
        return out

    @classmethod
    def from_config(cls, config: object) -> list[FileMapping]:
        """From a GuardConfig (duck-typed: `.schemas[i].paths/.schema_/.format`)."""
        out: list[FileMapping] = []
        base = getattr(config, "_root", None)
        root = str(base) if base is not None else None
        for m in getattr(config, "schemas", []) or []:
            schema = getattr(m, "schema_", None) or getattr(m, "schema", None)
            out.append(cls(tuple(m.paths), schema if isinstance(schema, str) else None,
                           m.format, root))
        return out

    def matches(self, path: str) -> bool:
        """True when repo-relative `path` matches this entry's globs."""
        return match_any(self.paths, path)

    @property
    def effective_format(self) -> str | None:
        """`native` for the builtin topology schema, else the declared format."""
        if self.schema == NATIVE_SCHEMA:
            return "native"
        return self.format


def mapping_for(path: str, mappings: Sequence[FileMapping]) -> FileMapping | None:
    """The first mapping whose globs match `path`."""
    for m in mappings:
        if m.matches(path):
            return m
    return None
