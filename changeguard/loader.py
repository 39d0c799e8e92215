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

from changeguard.errors import InputError
from changeguard.yamlimport import yaml

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (hook start-up)
if TYPE_CHECKING:
    from typing import ClassVar, TypeAlias  # annotations only: the hook need not import typing

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


# first characters of every plain text that resolves to a non-string (null, bool, number)
_NOT_TEXT_FIRST = frozenset("0123456789+-.~nNtTfF")


def _resolve_plain(value: str) -> JSONScalar:
    if value and value[0] not in _NOT_TEXT_FIRST:
        return value  # most plain scalars: none of the patterns below can match
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


# ----------------------------------------------------------- data only (no line map)


class _QuickLoader(_Loader):
    """The loader's composer, with the resolver's scalar tags memoised (plans repeat their
    keys and values) and path resolvers skipped (PyYAML's safe loaders have none)."""

    # implicit flags -> scalar text -> resolved tag; bounded
    _tags: ClassVar[dict[object, dict[str, str]]] = {}

    def resolve(self, kind: type, value: str, implicit: object) -> str:
        if kind is yaml.ScalarNode:
            by_text = self._tags.get(implicit)
            if by_text is None:
                by_text = self._tags.setdefault(implicit, {})
            tag = by_text.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
                if len(by_text) < 4096:
                    by_text[value] = tag
            return tag
        return super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call,no-any-return]

    if not _Loader.yaml_path_resolvers:
        def descend_resolver(self, current_node: object, current_index: object) -> None:
            return None

        def ascend_resolver(self) -> None:
            return None

        if _Loader is getattr(yaml, "CSafeLoader", None):
            # composing needs only the C parser: the constructor is never asked, and the
            # resolver's path state only serves the path resolvers skipped above
            def __init__(self, stream: str) -> None:
                from yaml.cyaml import CParser  # type: ignore[attr-defined]

                CParser.__init__(self, stream)


_STR = _STD + "str"
_PLAIN_TAGS = frozenset(_STD + t for t in _RESOLVABLE)
_SCALAR, _SEQUENCE, _MAPPING = yaml.ScalarNode, yaml.SequenceNode, yaml.MappingNode


class _Fallback(Exception):
    """The quick parse met something the full parse must judge (and word)."""


class _DataBuilder(_Builder):
    """`_Builder` without the line map: same values, same checks (depth, alias budget,
    tags, duplicate keys); any error is raised again by the full parse, which words it."""

    def value(self, node: yaml.Node, depth: int) -> JSONValue:
        if depth > MAX_DEPTH:
            raise _Fallback
        cls = node.__class__
        if cls is _SCALAR:
            # the two common cases of `scalar` inline; the rest goes through it
            tag = node.tag
            if tag == _STR:
                return node.value  # type: ignore[no-any-return]
            if not node.style and tag in _PLAIN_TAGS:  # type: ignore[attr-defined]
                return _resolve_plain(node.value)
            return self.scalar(node)  # type: ignore[arg-type]
        key = id(node)
        if key in self.seen:  # an alias: a collection met again
            self.alias_visits += 1
            if self.alias_visits > ALIAS_BUDGET:
                raise _Fallback
        self.seen.add(key)
        if node.tag not in _COLLECTION_TAGS:
            raise _Fallback
        if cls is _SEQUENCE:
            return [self.value(c, depth + 1) for c in node.value]
        if cls is not _MAPPING:
            raise _Fallback  # pragma: no cover
        out: dict[str, JSONValue] = {}
        for knode, vnode in node.value:
            if knode.__class__ is not _SCALAR:
                raise _Fallback
            if knode.tag == _STD + "merge":
                self.merge_data(out, vnode, depth)
                continue
            k = knode.value
            if k in out:
                raise _Fallback
            out[k] = self.value(vnode, depth + 1)
        return out

    def merge_data(self, out: dict[str, JSONValue], vnode: yaml.Node, depth: int) -> None:
        sources = vnode.value if vnode.__class__ is _SEQUENCE else [vnode]
        for src in sources:
            value = self.value(src, depth + 1)
            if not isinstance(value, dict):
                raise _Fallback
            for k, v in value.items():
                out.setdefault(k, v)


def document_data(text: str | bytes, name: str, max_bytes: int = DEFAULT_MAX_BYTES) -> JSONValue:
    """`parse_document(text, name, max_bytes).data`, without building the line map.

    For callers that need lines only to word an error (`log verify` re-reading 10k stored
    plans): the document is built by the same composer and scalar rules as
    `parse_document`; anything that fails is parsed again by `parse_document`, so every
    error (InputError) and its message and line are exactly its own.
    """
    try:
        prepared = prepare_text(text, name, max_bytes)
        simple = block_data(prepared)
        if simple is not _NOT_SIMPLE:
            return simple  # type: ignore[return-value]
        docs: list[JSONValue] = []
        gc_was_on = gc.isenabled()
        gc.disable()  # as parse_documents: the node graph is acyclic and freed as a whole
        try:
            for node in yaml.compose_all(prepared, Loader=_QuickLoader):
                if node is not None:
                    docs.append(_DataBuilder(name).value(node, 0))
        finally:
            if gc_was_on:
                gc.enable()
        if len(docs) == 1:
            return docs[0]
    except (InputError, _Fallback, yaml.YAMLError, RecursionError):
        pass
    return parse_document(text, name, max_bytes).data  # raises the error, worded as ever


# ------------------------------------------------- plain block YAML, without the composer

_NOT_SIMPLE = object()  # `block_data`: not a text it reads; the composer reads it
_OUTSIDE = re.compile(r"[^\n\x20-\x7e]")  # tabs, CR, controls, non-ASCII: the composer's
# Every line of a simple text: indent, `- ` (an item), `key:` (plain key), and a one-line
# scalar (quoted without escapes, `[]`, `{}`, or plain: no indicator first, no `: `, no
# ` #`, no trailing space); or a whole-line comment. A line that does not match is left
# to the composer.
_LINE = re.compile(r"""^(\ *)(?:(-(?:\ +|$))?(?:([A-Za-z0-9_][A-Za-z0-9_.-]*):(?:\ +|$))?(
      '(?:[^'\n]|'')*'
    | "[^"\\\n]*"
    | \[\] | \{\}
    | (?:[A-Za-z0-9_/]|[-+.][A-Za-z0-9])[A-Za-z0-9_./+@,()=<>!&*%?'"~^$;|`\\\[\]{}-]*
      (?:(?::|\ +)[A-Za-z0-9_./+@,()=<>!&*%?'"~^$;|`\\\[\]{}-]+)*
    )?|\#.*)\ *$""", re.M | re.X)
_MAX_SIMPLE_DEPTH = 64
_Line = tuple[int, str, str, str]  # indent, "- " or "", key or "", scalar text or ""


def block_data(text: str) -> object:
    """`document_data(text)` for the plain block YAML that plans are written in, or
    `_NOT_SIMPLE`: one document of block mappings (plain keys) and sequences whose scalars
    are one-line plain, single- or double-quoted (no escape) texts, or `[]`/`{}`, with
    whole-line comments; ASCII, spaces only (`_LINE`). Anything else (flow collections,
    anchors, tags, block or multi-line scalars, end-of-line comments, duplicate keys, any
    doubt) is left to the composer, whose values and errors are the verdict (`log verify`
    re-reads 10k stored plans: composing was half of re-deriving one). Plain scalars
    resolve as the composer's builder resolves them (`_resolve_plain`)."""
    if _OUTSIDE.search(text):
        return _NOT_SIMPLE
    found = _LINE.findall(text)
    if len(found) != text.count("\n") + 1:
        return _NOT_SIMPLE  # a line of another kind
    lines: list[_Line] = [(len(ind), dash, key, val) for ind, dash, key, val in found
                          if dash or key or val]
    if not lines or lines[0][0] != 0:
        return _NOT_SIMPLE
    try:
        value, end = _Block(lines).node(0, 0, 0)
    except _Fallback:
        return _NOT_SIMPLE
    return value if end == len(lines) else _NOT_SIMPLE


class _Block:
    """The recursive descent of `block_data` over its lines; `_Fallback` wherever the text
    is not of the simple kind (the composer then judges it)."""

    def __init__(self, lines: list[_Line]) -> None:
        self.lines = lines
        self.n = len(lines)

    def deeper(self, i: int, indent: int) -> bool:
        return i < self.n and self.lines[i][0] > indent

    def node(self, i: int, indent: int, depth: int) -> tuple[JSONValue, int]:
        """The block collection whose first line is line `i`, at `indent`."""
        if depth > _MAX_SIMPLE_DEPTH:
            raise _Fallback
        if self.lines[i][1]:
            return self.sequence(i, indent, depth)
        return self.mapping(i, indent, depth)

    def value_after(self, i: int, indent: int, depth: int, seq_ok: bool) -> tuple[JSONValue, int]:
        """The value of a `key:` or `-` with nothing after it on line `i - 1`."""
        if self.deeper(i, indent):
            return self.node(i, self.lines[i][0], depth + 1)
        if seq_ok and i < self.n and self.lines[i][0] == indent and self.lines[i][1]:
            return self.sequence(i, indent, depth + 1)  # a sequence at its key's indent
        return None, i

    def mapping(self, i: int, indent: int, depth: int) -> tuple[JSONValue, int]:
        """A mapping at `indent` whose first key is on line `i` (maybe after its `- `)."""
        out: dict[str, JSONValue] = {}
        lines, n = self.lines, self.n
        first = True
        while True:
            _, dash, key, val = lines[i]
            if not key or key in out or (dash and not first):
                raise _Fallback
            first = False
            i += 1
            if val:
                out[key] = _one_line(val)
                if i < n and lines[i][0] > indent:  # a continued scalar
                    raise _Fallback
            else:
                out[key], i = self.value_after(i, indent, depth, True)
            if i >= n or lines[i][0] < indent:
                return out, i
            if lines[i][0] > indent:
                raise _Fallback

    def sequence(self, i: int, indent: int, depth: int) -> tuple[JSONValue, int]:
        out: list[JSONValue] = []
        lines, n = self.lines, self.n
        while i < n and lines[i][0] == indent and lines[i][1]:
            _, dash, key, val = lines[i]
            if key:
                value, i = self.mapping(i, indent + len(dash), depth + 1)
            elif val:
                value = _one_line(val)
                i += 1
                if self.deeper(i, indent):
                    raise _Fallback
            else:
                value, i = self.value_after(i + 1, indent, depth, False)
            out.append(value)
        if self.deeper(i, indent):
            raise _Fallback
        return out, i


def _one_line(text: str) -> JSONValue:
    """A one-line scalar (or `[]`, `{}`) `_LINE` matched."""
    first = text[0]
    if first == "'":
        return text[1:-1].replace("''", "'")
    if first == '"':
        return text[1:-1]
    if first == "[":
        return []
    if first == "{":
        return {}
    return _plain(text)


_RESOLVER = yaml.resolver.Resolver()  # the composer's YAML 1.1 tags for plain scalars
_PLAIN_TAG: dict[str, str] = {}  # plain text -> that tag; bounded


def _plain(text: str) -> JSONScalar:
    """A plain scalar as `_DataBuilder.value` reads it: text when the composer's resolver
    tags it `str`, else resolved by `_resolve_plain` (`0o17` stays text, as there)."""
    if text[0] not in _NOT_TEXT_FIRST and text[0] not in "yYoO<=":
        return text  # no implicit resolver starts with that character: a str
    tag = _PLAIN_TAG.get(text)
    if tag is None:
        tag = _RESOLVER.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
        if len(_PLAIN_TAG) < 4096:
            _PLAIN_TAG[text] = tag
    return text if tag == _STR else _resolve_plain(text)
