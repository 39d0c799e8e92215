"""Safe YAML/JSON loading: data plus a JSON-pointer → line map (SPEC §10).

PyYAML's C composer builds the node graph; we construct values ourselves so that
duplicate keys, alias bombs, deep nesting and YAML 1.1 surprises (`no` → False,
bare dates) are caught or kept literal instead of silently changing meaning.
Only PyYAML is imported here: the hook path relies on that.
"""

from __future__ import annotations

import gc
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from changeguard.errors import InputError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (hook start-up)
if TYPE_CHECKING:
    from typing import TypeAlias  # annotations only: the hook need not import typing

try:  # the C composer is ~10x faster; fall back when libyaml is absent
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

JSONScalar: TypeAlias = str | int | float | bool | None
JSONValue: TypeAlias = JSONScalar | list["JSONValue"] | dict[str, "JSONValue"]

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 200
ALIAS_BUDGET = 1000  # node visits reached through aliases, per document

_INT = re.compile(r"[-+]?[0-9]+$")
_INT_OTHER = re.compile(r"0o[0-7]+$|0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_INF = re.compile(r"[-+]?\.(inf|Inf|INF)$")
_NAN = re.compile(r"\.(nan|NaN|NAN)$")
_STD = "tag:yaml.org,2002:"


@dataclass(frozen=True)
class SourceMap:
    """Where each JSON pointer of a document starts (1-based lines)."""

    file: str
    lines: dict[str, int] = field(default_factory=dict)

    def line_for(self, pointer: str) -> int | None:
        """Line of `pointer`, or of its nearest ancestor that has one."""
        p = pointer
        while True:
            if p in self.lines:
                return self.lines[p]
            if not p:
                return None
            p = p.rsplit("/", 1)[0]


@dataclass(frozen=True)
class Loaded:
    """A parsed document and the map from its pointers to lines."""

    data: JSONValue
    source: SourceMap

    @property
    def file(self) -> str:
        return self.source.file


def escape_pointer(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def pointer_of(path: Iterator[str | int] | list[str | int] | tuple[str | int, ...]) -> str:
    return "".join("/" + escape_pointer(str(p)) for p in path)


class _Builder:
    """Turns a composed node graph into plain data, recording lines."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lines: dict[str, int] = {}
        self.alias_visits = 0
        self.seen: set[int] = set()

    def fail(self, node: yaml.Node, message: str, hint: str | None = None) -> InputError:
        return InputError(message, file=self.name, line=node.start_mark.line + 1, hint=hint)

    def build(self, node: yaml.Node, ptr: str, depth: int) -> JSONValue:
        if depth > MAX_DEPTH:
            raise self.fail(node, f"nesting deeper than {MAX_DEPTH} levels",
                            "flatten the document; real configs are never this deep")
        key = id(node)
        if key in self.seen and not isinstance(node, yaml.ScalarNode):
            self.alias_visits += 1
            if self.alias_visits > ALIAS_BUDGET:
                raise self.fail(node, "too many alias expansions (possible YAML alias bomb)",
                                "write the values out instead of using anchors/aliases")
        self.seen.add(key)
        self.lines.setdefault(ptr, node.start_mark.line + 1)
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node)
        if node.tag not in _COLLECTION_TAGS:
            raise self.fail(node, f"unsupported YAML tag {node.tag!r}", "remove the tag")
        if isinstance(node, yaml.SequenceNode):
            return [self.build(c, f"{ptr}/{i}", depth + 1) for i, c in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, ptr, depth)
        raise self.fail(node, "unsupported YAML node")  # pragma: no cover

    def mapping(self, node: yaml.MappingNode, ptr: str, depth: int) -> dict[str, JSONValue]:
        out: dict[str, JSONValue] = {}
        for knode, vnode in node.value:
            if not isinstance(knode, yaml.ScalarNode):
                raise self.fail(knode, "mapping keys must be plain strings")
            if knode.tag == _STD + "merge":
                self.merge(out, vnode, ptr, depth)
                continue
            k = knode.value
            if k in out:
                first = self.lines.get(f"{ptr}/{escape_pointer(k)}")
                raise self.fail(knode, f"duplicate key {k!r} (first defined on line {first})",
                                "remove one of the two entries")
            child = f"{ptr}/{escape_pointer(k)}"
            self.lines[child] = knode.start_mark.line + 1
            out[k] = self.build(vnode, child, depth + 1)
        return out

    def merge(self, out: dict[str, JSONValue], vnode: yaml.Node, ptr: str, depth: int) -> None:
        sources = vnode.value if isinstance(vnode, yaml.SequenceNode) else [vnode]
        for src in sources:
            value = self.build(src, ptr, depth + 1)
            if not isinstance(value, dict):
                raise self.fail(src, "`<<` merge needs a mapping")
            for k, v in value.items():
                out.setdefault(k, v)

    def scalar(self, node: yaml.ScalarNode) -> JSONScalar:
        value: str = node.value
        tag = node.tag
        if tag == _STD + "str":  # quoted, block, explicit !!str, or plain text
            return value
        if node.style:  # quoted/block style with another explicit tag
            return self._explicit(node, tag, value)
        if tag.startswith(_STD) and tag[len(_STD):] in _RESOLVABLE:
            return _resolve_plain(value)
        return self._explicit(node, tag, value)

    def _explicit(self, node: yaml.ScalarNode, tag: str, value: str) -> JSONScalar:
        kind = tag[len(_STD):] if tag.startswith(_STD) else tag
        if kind in ("str", "timestamp", "binary"):
            return value
        if kind in ("int", "float", "bool", "null"):
            resolved = _resolve_plain(value)
            if kind == "str" or isinstance(resolved, str):
                raise self.fail(node, f"{value!r} is not a valid !!{kind}")
            return resolved
        raise self.fail(node, f"unsupported YAML tag {tag!r}", "remove the tag")


# Tags PyYAML's YAML 1.1 resolver may assign to plain scalars: we re-resolve them
# with the YAML 1.2 core schema so `no`, `on`, `0777`, `2016-04-03` stay literal.
_COLLECTION_TAGS = frozenset({_STD + "map", _STD + "seq", _STD + "omap"})
_RESOLVABLE = frozenset({"str", "int", "float", "bool", "null", "timestamp", "value", "yaml"})


def _resolve_plain(value: str) -> JSONScalar:
    if value in ("", "~", "null", "Null", "NULL"):
        return None
    if value in ("true", "True", "TRUE"):
        return True
    if value in ("false", "False", "FALSE"):
        return False
    if _INT.match(value):
        return int(value)
    if _INT_OTHER.match(value):
        return int(value, 0)
    if _FLOAT.match(value):
        return float(value)
    if _INF.match(value):
        return float("-inf") if value.startswith("-") else float("inf")
    if _NAN.match(value):
        return float("nan")
    return value


def decode(raw: bytes, name: str) -> str:
    """UTF-8 (optionally with BOM) or a clear error naming the first bad line."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise InputError(f"not valid UTF-8 (byte 0x{raw[e.start]:02x})", file=name, line=line,
                         hint="save the file as UTF-8") from e


def read_bytes(path: Path, name: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Read a regular file within the size limit."""
    display = name or str(path)
    try:
        if not path.is_file():
            raise InputError("no such file" if not path.exists() else "not a regular file",
                             file=display, hint="check the path")
        size = path.stat().st_size
        if size > max_bytes:
            raise InputError(f"file is {size} bytes, over the {max_bytes}-byte limit",
                             file=display, hint="split the file or raise the limit")
        with path.open("rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", file=display) from e
    if len(raw) > max_bytes:
        raise InputError(f"file is over the {max_bytes}-byte limit", file=display)
    return raw


def prepare_text(text: str | bytes, name: str, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """Size limit, UTF-8 decoding and the NUL check every parser applies first."""
    if isinstance(text, bytes):
        if len(text) > max_bytes:
            raise InputError(f"input is over the {max_bytes}-byte limit", file=name)
        text = decode(text, name)
    elif len(text) > max_bytes:
        raise InputError(f"input is over the {max_bytes}-byte limit", file=name)
    if "\x00" in text:
        raise InputError("contains NUL bytes (binary file?)", file=name, line=text[: text.index(
            "\x00")].count("\n") + 1)
    return text


def yaml_error(e: yaml.YAMLError | RecursionError, name: str) -> InputError:
    """A parser failure as a located exit-2 error (shared with the streaming parser)."""
    if isinstance(e, RecursionError):
        return InputError("nesting too deep", file=name)
    if isinstance(e, yaml.MarkedYAMLError):
        mark = e.problem_mark or e.context_mark
        return InputError(f"not valid YAML: {e.problem or e.context}", file=name,
                          line=mark.line + 1 if mark else None,
                          hint="check indentation and quoting near that line")
    return InputError(f"not valid YAML: {e}", file=name)


def parse_documents(text: str | bytes, name: str,
                    max_bytes: int = DEFAULT_MAX_BYTES) -> list[Loaded]:
    """Every document of a YAML/JSON stream, with line maps."""
    text = prepare_text(text, name, max_bytes)
    docs: list[Loaded] = []
    # The node graph is acyclic and freed as a whole: cyclic GC passes over millions of
    # young nodes made a 100 000-node topology take 6x longer (superlinear in size).
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        for node in yaml.compose_all(text, Loader=_Loader):
            if node is None:
                continue
            b = _Builder(name)
            docs.append(Loaded(b.build(node, "", 0), SourceMap(name, b.lines)))
    except (yaml.YAMLError, RecursionError) as e:
        raise yaml_error(e, name) from e
    finally:
        if gc_was_on:
            gc.enable()
    return docs


def parse_document(text: str | bytes, name: str, max_bytes: int = DEFAULT_MAX_BYTES) -> Loaded:
    """Exactly one document (an empty stream is an error)."""
    docs = parse_documents(text, name, max_bytes)
    if not docs:
        raise InputError("empty document", file=name, hint="the file must hold one mapping")
    if len(docs) > 1:
        raise InputError("expected one YAML document, found several", file=name,
                         line=docs[1].source.line_for(""), hint="keep one document per file")
    return docs[0]


def load_file(path: Path | str, name: str | None = None,
              max_bytes: int = DEFAULT_MAX_BYTES) -> Loaded:
    """Read and parse a single-document YAML/JSON file."""
    p = Path(path)
    display = name or os.fspath(path)
    return parse_document(read_bytes(p, display, max_bytes), display, max_bytes)


def load_documents(path: Path | str, name: str | None = None,
                   max_bytes: int = DEFAULT_MAX_BYTES) -> list[Loaded]:
    """Read and parse a multi-document YAML file."""
    p = Path(path)
    display = name or os.fspath(path)
    return parse_documents(read_bytes(p, display, max_bytes), display, max_bytes)
