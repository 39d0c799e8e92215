"""`schemas:` entries with `schema:`: JSON Schema validation with lines (SPEC §3).

jsonschema picks the draft from `$schema` (default 2020-12); `$ref`s resolve offline with
`referencing` against files beside the schema — never the network.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from changeguard.errors import ChangeguardError, ConfigError
from changeguard.findings import Finding, Severity
from changeguard.loader import JSONValue, Loaded, load_file, parse_documents, pointer_of
from changeguard.replication.interface import SourceFile
from changeguard.resources import schema_path

if TYPE_CHECKING:
    # jsonschema ships no type information; treat its objects as Any
    ValidationError = Any
    Validator = Any

RULE = "config-schema"


def resolve_schema_path(repo: Path, ref: str) -> Path:
    """`builtin:NAME` → shipped schema; otherwise a repo-relative path inside the repo."""
    if ref.startswith("builtin:"):
        p = schema_path(ref.split(":", 1)[1])
        if not p.is_file():
            raise ConfigError(f"unknown builtin schema {ref!r}",
                              hint="builtin schemas: builtin:replication-topology")
        return p
    root = repo.resolve()
    p = (root / ref).resolve()
    if root not in p.parents:
        raise ConfigError(f"schema {ref!r} is outside the repository")
    if not p.is_file():
        raise ConfigError(f"schema file {ref!r} does not exist",
                          hint="fix the `schema:` path in .changeguard.yaml")
    return p


def _read_json(path: Path, display: str) -> Any:
    """A schema document: JSON, or YAML for `.yaml`/`.yml` schemas."""
    try:
        if path.suffix in (".yaml", ".yml"):
            return load_file(path, display).data
        with path.open("rb") as fh:
            return json.load(fh)
    except ChangeguardError as e:
        raise ConfigError(f"schema is not readable: {e.message}", file=display,
                          line=e.line) from e
    except (OSError, ValueError) as e:
        raise ConfigError(f"schema is not readable JSON: {e}", file=display) from e


def build_validator(path: Path, display: str) -> Validator:
    """A checked validator for the schema at `path`, resolving `$ref`s offline."""
    import importlib

    from referencing import Registry, Resource
    from referencing.exceptions import NoSuchResource
    from referencing.jsonschema import DRAFT202012, specification_with

    validators: Any = importlib.import_module("jsonschema.validators")
    SchemaError: Any = importlib.import_module("jsonschema.exceptions").SchemaError

    schema = _read_json(path, display)
    cls = validators.validator_for(schema, default=validators.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as e:
        raise ConfigError(f"schema is invalid: {e.message}", file=display,
                          hint="fix the schema (checked against its metaschema)") from e
    base = schema.get("$id", "") if isinstance(schema, dict) else ""
    base_dir = base.rsplit("/", 1)[0] + "/" if "/" in base else ""
    root = path.parent.resolve()

    def retrieve(uri: str) -> Resource[Any]:
        rel = uri[len(base_dir):] if base_dir and uri.startswith(base_dir) else uri
        rel = rel.removeprefix("file://")
        if "://" in rel:
            raise NoSuchResource(uri)  # offline only
        target = (root / rel).resolve()
        if not target.is_file():
            raise NoSuchResource(uri)
        return Resource.from_contents(_read_json(target, uri), default_specification=spec)

    dialect = schema.get("$schema", "") if isinstance(schema, dict) else ""
    spec = specification_with(dialect, default=DRAFT202012)
    registry: Registry[Any] = Registry(retrieve=retrieve)  # type: ignore[call-arg]
    validator: Validator = cls(schema, registry=registry)
    return validator


def check_schema_files(repo: Path, ref: str, files: Sequence[SourceFile],
                       errors: list[ChangeguardError]) -> list[Finding]:
    """`config-schema` findings for every document of `files` against schema `ref`."""
    from referencing.exceptions import Unresolvable

    validator = build_validator(resolve_schema_path(repo, ref), ref)
    out: list[Finding] = []
    for f in files:
        try:
            docs = parse_documents(f.data, f.path)
        except ChangeguardError as e:
            errors.append(e)
            continue
        for loaded in docs:
            try:
                out.extend(_document_findings(validator, loaded, ref))
            except Unresolvable as e:
                raise ConfigError(f"schema {ref}: cannot resolve $ref {e}",
                                  hint="$refs must name files beside the schema") from e
    return out


def _document_findings(validator: Validator, loaded: Loaded, ref: str) -> Iterator[Finding]:
    import importlib

    best_match: Any = importlib.import_module("jsonschema.exceptions").best_match

    for error in validator.iter_errors(loaded.data):
        if error.context:
            error = best_match(error.context) or error
        ptr = _offending_pointer(error)
        where = ptr[1:].replace("/", ".") if ptr else ""
        yield Finding(RULE, Severity.DENY, f"{where}: {error.message}" if where else
                      error.message, file=loaded.file, line=loaded.source.line_for(ptr) or 1,
                      pointer=ptr or "/", hint=f"see {ref}")


def _offending_pointer(error: ValidationError) -> str:
    """Point at the unexpected key itself for additionalProperties errors."""
    ptr = pointer_of(list(error.absolute_path))
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        schema = error.schema if isinstance(error.schema, dict) else {}
        known = set(schema.get("properties", {}))
        extra = [k for k in error.instance if k not in known]
        if extra:
            return pointer_of([*error.absolute_path, extra[0]])
    return ptr


__all__ = ["JSONValue", "check_schema_files", "resolve_schema_path"]
