"""The native `kind: ReplicationTopology` format: validation and model building.

This is the hook's hot path, so it must not import pydantic or jsonschema. Validation
interprets the shipped JSON Schema with a small evaluator covering exactly the keywords
that schema uses (tests/test_native.py proves it agrees with jsonschema on a corpus);
an unsupported keyword in the schema fails loudly instead of being ignored.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache

from changeguard.findings import Finding, Severity
from changeguard.loader import JSONValue, Loaded, SourceMap, escape_pointer
from changeguard.replication.interface import AdapterResult, SourceFile
from changeguard.replication.model import (
    MemberCount,
    Node,
    ParamValue,
    Settings,
    SyncSettings,
    Topology,
)
from changeguard.replication.yamlstream import parse_documents_streaming
from changeguard.resources import schema_path

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (hook start-up)
if TYPE_CHECKING:
    from typing import cast
else:
    def cast(_type: object, value: object) -> object:
        """typing.cast (a no-op at run time) without importing typing."""
        return value

SCHEMA_NAME = "replication-topology"
RULE = "config-schema"

Schema = Mapping[str, object]
_ANNOTATIONS = frozenset({"$schema", "$id", "title", "description", "$defs", "$comment"})
_SUPPORTED = _ANNOTATIONS | {
    "type", "enum", "const", "required", "properties", "additionalProperties", "items",
    "minItems", "uniqueItems", "pattern", "minLength", "maxLength", "minimum", "maximum",
    "exclusiveMinimum", "$ref",
}


@lru_cache(maxsize=1)
def native_schema() -> Schema:
    """The shipped native topology schema (checked for unsupported keywords once)."""
    with schema_path(SCHEMA_NAME).open("rb") as fh:
        schema = cast(Schema, json.load(fh))
    _assert_supported(schema)
    return schema


def _assert_supported(node: object) -> None:
    if isinstance(node, list):
        for item in node:
            _assert_supported(item)
        return
    if not isinstance(node, dict):
        return
    unknown = set(node) - _SUPPORTED
    if unknown:
        raise RuntimeError(f"native validator does not support {sorted(unknown)}")
    for key, value in node.items():
        if key == "properties" or key == "$defs":
            for sub in cast(dict[str, object], value).values():
                _assert_supported(sub)
        elif key in ("items", "additionalProperties"):
            _assert_supported(value)


class _Validator:
    """Evaluates the supported keyword subset, collecting every violation."""

    def __init__(self, root: Schema, source: SourceMap,
                 plans: dict[int, tuple[_Keyword, ...]]) -> None:
        self.root = root
        self.source = source
        self.errors: list[Finding] = []
        self.plans = plans  # id(schema node) -> its keyword checks, shared across documents

    def error(self, ptr: str, message: str, hint: str | None = None) -> None:
        """Record a `config-schema` finding at `ptr`."""
        where = _display_path(ptr)
        self.errors.append(Finding(
            RULE, Severity.DENY, f"{where}: {message}" if where else message,
            file=self.source.file, line=self.source.line_for(ptr) or 1, pointer=ptr or "/",
            hint=hint or "see schemas/replication-topology.schema.json"))

    def validate(self, value: JSONValue, schema: Schema, ptr: str) -> None:
        """Check `value` against `schema` at pointer `ptr`."""
        plan = self.plans.get(id(schema))
        if plan is None:
            plan = self.plans[id(schema)] = tuple(_KEYWORDS[k] for k in schema if k in _KEYWORDS)
        for check in plan:
            check(self, value, schema, ptr)

    def _resolve(self, ref: str) -> Schema:
        return _resolve_ref(self.root, ref)


def _resolve_ref(root: Schema, ref: str) -> Schema:
    """A local `#/...` reference inside `root` (cached: refs repeat on every node)."""
    key = (id(root), ref)
    hit = _REF_CACHE.get(key)
    if hit is not None:
        return hit
    if not ref.startswith("#/"):
        raise RuntimeError(f"only local $refs are supported: {ref}")
    node: object = root
    for part in ref[2:].split("/"):
        node = cast(Mapping[str, object], node)[part.replace("~1", "/").replace("~0", "~")]
    _REF_CACHE[key] = cast(Schema, node)
    return cast(Schema, node)


# Only ever holds refs of the lru-cached shipped schema, so it stays tiny and ids stay valid.
_REF_CACHE: dict[tuple[int, str], Schema] = {}


def _k_ref(v: _Validator, value: JSONValue, s: Schema, ptr: str) -> None:
    v.validate(value, v._resolve(cast(str, s["$ref"])), ptr)


def _is_type(value: JSONValue, name: str) -> bool:
    if name == "integer":
        if isinstance(value, bool):
            return False
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, _PY_TYPES[name])


_PY_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str, "boolean": bool, "object": dict, "array": list, "null": type(None),
}


def _k_type(v: _Validator, value: JSONValue, s: Schema, ptr: str) -> None:
    t = s["type"]
    if isinstance(t, str):
        if _is_type(value, t):
            return
        names = [t]
    else:
        names = cast(list[str], t)
    if not any(_is_type(value, n) for n in names):
        v.error(ptr, f"expected {' or '.join(names)}, got {_describe(value)}")


def _k_enum(v: _Validator, value: JSONValue, s: Schema, ptr: str) -> None:
    options = cast(list[JSONValue], s["enum"])
    if isinstance(value, str) and value in options:
        return  # strings compare exactly; the slow path handles 1 == 1.0 and True != 1
    if not any(_equal(value, o) for o in options):
        import difflib  # only for a bad value: the hook's start-up budget

        close = difflib.get_close_matches(str(value), [str(o) for o in options], n=1)
        hint = f"did you mean {close[0]!r}?" if close else None
        v.error(ptr, f"{_short(value)} is not one of {', '.join(map(str, options))}", hint)


def _k_const(v: _Validator, value: JSONValue, s: Schema, ptr: str) -> None:
    if not _equal(value, cast(JSONValue, s["const"])):
        v.error(ptr, f"must be {s['const']!r}, got {_short(value)}")


def _k_required(v: _Validator, value: JSONValue, s: Schema, ptr: str) -> None:
    if isinstance(value, dict):
        for key in cast(list[str], s["required"]):
            if key not in value:
                v.error(ptr, f"missing required key {key!r}", f"add `{key}:`")


def _k_properties(v: _Validator, value: JSONValue, s: Schema, ptr: str) -> None:
    if isinstance(value, dict):
        props = cast(Mapping[str, Schema], s["properties"])
        for key, item in value.items():
            sub = props.get(key)
            if sub is not None:
                esc = key if "~" not in key and "/" not in key else escape_pointer(key)
                v.validate(item, sub, f"{ptr}/{esc}")


def _k_additional(v: _Validator, value: JSONValue, s: Schema, ptr: str) -> None:
    if not isinstance(value, dict):
        return
    props = cast(Mapping[str, Schema], s.get("properties", {}))
    extra = s["additionalProperties"]
    for key in value:
        if key in props:
            continue
        child = f"{ptr}/{escape_pointer(key)}"
        if extra is False:
            import difflib  # only for an unknown key

            close = difflib.get_close_matches(key, list(props), n=1)
            hint = f"did you mean {close[0]!r}?" if close else "allowed: " + ", ".join(props)
            v.error(child, f"unknown key {key!r}", hint)
        elif isinstance(extra, dict):
            v.validate(value[key], cast(Schema, extra), child)


def _k_items(v: _Validator, value: JSONValue, s: Schema, ptr: str) -> None:
    if isinstance(value, list):
        sub = cast(Schema, s["items"])
        for i, item in enumerate(value):
            v.validate(item, sub, f"{ptr}/{i}")


def _k_min_items(v: _Validator, value: JSONValue, s: Schema, ptr: str) -> None:
    n = cast(int, s["minItems"])
    if isinstance(value, list) and len(value) < n:
        v.error(ptr, f"needs at least {n} item{'s' if n != 1 else ''}, has {len(value)}")


def _k_unique(v: _Validator, value: JSONValue, s: Schema, ptr: str) -> None:
    if s["uniqueItems"] is True and isinstance(value, list):
        seen: list[JSONValue] = []
        for item in value:
            if any(_equal(item, o) for o in seen):
                v.error(ptr, f"{_short(item)} is listed twice", "list each item once")
                return
            seen.append(item)


def _k_pattern(v: _Validator, value: JSONValue, s: Schema, ptr: str) -> None:
    if isinstance(value, str) and not _regex(cast(str, s["pattern"])).search(value):
        v.error(ptr, f"{value!r} does not match {s['pattern']}",
                "use letters, digits, '_', '.', '-' (starting with a letter or digit)")


def _k_min_length(v: _Validator, value: JSONValue, s: Schema, ptr: str) -> None:
    if isinstance(value, str) and len(value) < cast(int, s["minLength"]):
        v.error(ptr, "must not be empty" if s["minLength"] == 1 else
                f"shorter than {s['minLength']} characters")


def _k_max_length(v: _Validator, value: JSONValue, s: Schema, ptr: str) -> None:
    if isinstance(value, str) and len(value) > cast(int, s["maxLength"]):
        v.error(ptr, f"longer than {s['maxLength']} characters")


def _k_minimum(v: _Validator, value: JSONValue, s: Schema, ptr: str) -> None:
    lo = cast(float, s["minimum"])
    if _is_type(value, "number") and cast(float, value) < lo:
        v.error(ptr, f"{_short(value)} is less than the minimum {lo}")


def _k_maximum(v: _Validator, value: JSONValue, s: Schema, ptr: str) -> None:
    hi = cast(float, s["maximum"])
    if _is_type(value, "number") and cast(float, value) > hi:
        v.error(ptr, f"{_short(value)} is more than the maximum {hi}")


def _k_exclusive_min(v: _Validator, value: JSONValue, s: Schema, ptr: str) -> None:
    lo = cast(float, s["exclusiveMinimum"])
    if _is_type(value, "number") and cast(float, value) <= lo:
        v.error(ptr, f"{_short(value)} must be greater than {lo}")


_Keyword = Callable[["_Validator", JSONValue, Schema, str], None]
_KEYWORDS: dict[str, _Keyword] = {
    "$ref": _k_ref, "type": _k_type, "enum": _k_enum, "const": _k_const, "required": _k_required,
    "properties": _k_properties, "additionalProperties": _k_additional, "items": _k_items,
    "minItems": _k_min_items, "uniqueItems": _k_unique, "pattern": _k_pattern,
    "minLength": _k_min_length, "maxLength": _k_max_length, "minimum": _k_minimum,
    "maximum": _k_maximum, "exclusiveMinimum": _k_exclusive_min,
}


@lru_cache(maxsize=64)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _equal(a: JSONValue, b: JSONValue) -> bool:
    """JSON equality: booleans are not numbers, 1 == 1.0, containers compare deeply."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | dict) or isinstance(b, list | dict):
        return False
    return a == b


def _describe(value: JSONValue) -> str:
    kind = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
            dict: "object", type(None): "null"}[type(value)]
    if isinstance(value, list | dict):
        return kind
    return f"{kind} {_short(value)}"


def _short(value: JSONValue) -> str:
    text = json.dumps(value) if not isinstance(value, float) or math.isfinite(value) else str(
        value)
    return text if len(text) <= 40 else text[:37] + "..."


def _display_path(ptr: str) -> str:
    out = ""
    for part in ptr.split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out


@lru_cache(maxsize=1)
def _plans() -> dict[int, tuple[_Keyword, ...]]:
    # keyed by id() of nodes of the lru-cached schema, which lives as long as this cache
    return {}


def validate_document(loaded: Loaded) -> list[Finding]:
    """`config-schema` findings of one native document (empty when valid)."""
    v = _Validator(native_schema(), loaded.source, _plans())
    v.validate(loaded.data, native_schema(), "")
    return v.errors


# --- model building (only for documents that passed validation) ---------------------


def _lines_under(source: SourceMap, ptr: str, keys: Sequence[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for key in keys:
        line = source.lines.get(f"{ptr}/{escape_pointer(key)}")
        if line is not None:
            out[key] = line
    return out


def _build_node(raw: dict[str, JSONValue], ptr: str, source: SourceMap) -> Node:
    params = cast(dict[str, ParamValue], raw.get("params") or {})
    lines = _lines_under(source, ptr, list(raw))
    for key in params:
        line = source.lines.get(f"{ptr}/params/{escape_pointer(key)}")
        if line is not None:
            lines[f"params.{key}"] = line
    port, server_id, votes = raw.get("port"), raw.get("server_id"), raw.get("votes")
    priority = raw.get("priority")
    return Node(
        name=cast(str, raw["name"]), role=cast(str, raw["role"]),
        host=cast("str | None", raw.get("host")), port=_int(port), zone=cast(
            "str | None", raw.get("zone")), upstream=cast("str | None", raw.get("upstream")),
        sync=cast("bool | None", raw.get("sync")), server_id=_int(server_id),
        priority=float(cast(float, priority)) if priority is not None else None,
        votes=_int(votes), params=params, tags=frozenset(cast(list[str], raw.get("tags", []))),
        file=source.file, line=source.lines.get(ptr), lines=lines, pointer=ptr)


def _int(value: JSONValue) -> int | None:
    return int(cast(float, value)) if value is not None else None


def _build_sync(raw: dict[str, JSONValue] | None, source: SourceMap) -> SyncSettings | None:
    if raw is None:
        return None
    lines = _lines_under(source, "/sync", list(raw))
    if "standbys" in lines:
        lines["standby_names"] = lines["standbys"]
    return SyncSettings(
        mode=cast("str | None", raw.get("mode")), count=_int(raw.get("count")),
        min_sync=_int(raw.get("min_sync")), max_sync=_int(raw.get("max_sync")),
        standby_names=tuple(cast(list[str], raw.get("standbys", []))), file=source.file,
        line=source.lines.get("/sync"), lines=lines)


def _build_settings(raw: dict[str, JSONValue] | None, source: SourceMap) -> Settings:
    raw = raw or {}

    def num(key: str) -> float | None:
        value = raw.get(key)
        return float(cast(float, value)) if value is not None else None

    return Settings(ttl=num("ttl"), loop_wait=num("loop_wait"),
                    retry_timeout=num("retry_timeout"),
                    sentinel_quorum=_int(raw.get("sentinel_quorum")), file=source.file,
                    lines=_lines_under(source, "/settings", list(raw)))


def build_topology(loaded: Loaded) -> Topology:
    """A Topology from a native document that passed `validate_document`."""
    data = cast(dict[str, JSONValue], loaded.data)
    src = loaded.source
    nodes = tuple(_build_node(cast(dict[str, JSONValue], n), f"/nodes/{i}", src)
                  for i, n in enumerate(cast(list[JSONValue], data["nodes"])))
    co = tuple(tuple(cast(list[str], group))
               for group in cast(list[JSONValue], data.get("co_masters", [])))
    sizes: tuple[MemberCount, ...] = ()
    return Topology(
        name=cast(str, data["name"]), engine=cast(str, data["engine"]), format="native",
        nodes=nodes, cluster=cast("str | None", data.get("cluster")),
        kind="ReplicationTopology", files=(src.file,), co_masters=co,
        sync=_build_sync(cast("dict[str, JSONValue] | None", data.get("sync")), src),
        settings=_build_settings(cast("dict[str, JSONValue] | None", data.get("settings")),
                                 src),
        sizes=sizes, upstream_cluster=cast("str | None", data.get("upstream_cluster")),
        primary_cluster=cast("str | None", data.get("primary_cluster")), file=src.file,
        line=src.lines.get(""), lines=_lines_under(src, "", list(data)))


def parse_native(f: SourceFile, max_bytes: int | None = None) -> AdapterResult:
    """Parse, validate and build every document of one native file.

    Raises InputError when the file is not YAML at all (exit 2); shape problems are
    `config-schema` findings and that document yields no topology.
    """
    docs = parse_documents_streaming(f.data, f.path) if max_bytes is None else (
        parse_documents_streaming(f.data, f.path, max_bytes))
    result = AdapterResult()
    if not docs:
        result.findings.append(Finding(RULE, Severity.DENY, "empty file: expected a "
                                       "ReplicationTopology document", file=f.path, line=1,
                                       pointer="/", hint="see docs for the native format"))
    for loaded in docs:
        problems = validate_document(loaded)
        if problems:
            result.findings.extend(problems)
        else:
            result.topologies.append(build_topology(loaded))
    return result


class NativeAdapter:
    """The native format as an Adapter (registered by check.py, not the adapters package)."""

    format = "native"

    def detect(self, f: SourceFile) -> bool:
        """Native files say `kind: ReplicationTopology`."""
        return re.search(rb"(?m)^kind:\s*[\"']?ReplicationTopology\b", f.data[:65536]) is not None

    def parse(self, files: Sequence[SourceFile]) -> AdapterResult:
        """Each native file stands alone; cross-cluster links resolve later."""
        out = AdapterResult()
        for f in files:
            r = parse_native(f)
            out.topologies.extend(r.topologies)
            out.findings.extend(r.findings)
        return out
