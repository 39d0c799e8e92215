"""Event-driven YAML → (data, line map), equivalent to `changeguard.loader`.

`loader.parse_documents` composes the whole node graph first: a 5 MiB topology with
100 000 members needs ~260 MB for the graph alone. The native-topology path (the hook's
and `check --all`'s hot path) builds data straight from parser events instead, reusing
the loader's scalar rules, limits and messages; tests/test_native.py checks that both
give identical data, lines and errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from changeguard.errors import InputError
from changeguard.loader import (
    _COLLECTION_TAGS,
    _RESOLVABLE,
    _STD,
    ALIAS_BUDGET,
    DEFAULT_MAX_BYTES,
    MAX_DEPTH,
    JSONValue,
    Loaded,
    SourceMap,
    _Builder,
    _resolve_plain,
    escape_pointer,
    prepare_text,
    yaml_error,
)
from changeguard.yamlimport import yaml

ev = yaml.events
Resolver = yaml.resolver.Resolver

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (hook start-up)
if TYPE_CHECKING:
    from typing import Any

_MERGE = _STD + "merge"
_STR = _STD + "str"
_PLAIN_TAGS = frozenset(_STD + t for t in _RESOLVABLE)


def _plain_key(k: str) -> bool:
    """Keys that need no JSON-pointer escaping (nearly all of them)."""
    return "~" not in k and "/" not in k


_TAGS: dict[tuple[str, object], str] = {}  # (scalar text, implicit) -> resolved tag; bounded
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # C parser when libyaml exists


@dataclass
class _Anchor:
    """What replaying an alias needs: value, relative lines, cost and depth."""

    line: int
    value: JSONValue = None
    scalar: yaml.ScalarNode | None = None  # anchored scalars convert at each use
    lines: dict[str, int] = field(default_factory=dict)  # relative pointer -> line
    containers: int = 0  # container visits one expansion costs against the alias budget
    visit_lines: list[int] = field(default_factory=list)  # their lines, in order (capped)
    depth: int = 0  # deepest level below the anchored node
    done: bool = False


class _Deferred(Exception):
    """A build error, raised once the rest of the document parsed (as the loader does)."""

    def __init__(self, error: InputError) -> None:
        super().__init__(error.message)
        self.error = error


def _line(event: ev.Event) -> int:
    mark = event.start_mark
    return mark.line + 1 if mark is not None else 1


class _Stream:
    """Recursive descent over one document's events."""

    def __init__(self, name: str, events: Iterator[ev.Event]) -> None:
        self.name = name
        self.events = events
        self.lines: dict[str, int] = {}
        self.anchors: dict[str, _Anchor] = {}
        self.alias_visits = 0
        self.resolver: Any = Resolver()
        self.scalars = _Builder(name)  # the loader's scalar rules and messages
        self.containers = 0
        self.visit_lines: list[int] = []  # container lines while an anchor is open (capped)
        self.max_depth = 0
        self.log: list[str] | None = None  # pointers written while an anchor is open
        self.tags = _TAGS  # resolver results repeat a lot, across files too

    def fail(self, line: int, message: str, hint: str | None = None) -> _Deferred:
        """A build error, deferred until the document's syntax is known to be good."""
        return _Deferred(InputError(message, file=self.name, line=line, hint=hint))

    def compose_error(self, line: int, problem: str) -> InputError:
        """What PyYAML's composer would raise (duplicate anchor, undefined alias)."""
        return InputError(f"not valid YAML: {problem}", file=self.name, line=line,
                          hint="check indentation and quoting near that line")

    def set_line(self, ptr: str, line: int, overwrite: bool) -> None:
        """Record a pointer's line (overwrite for keys, first-wins for nodes)."""
        if overwrite:
            self.lines[ptr] = line
        else:
            self.lines.setdefault(ptr, line)
        if self.log is not None:
            self.log.append(ptr)

    def node(self, event: ev.Event, ptr: str, depth: int) -> JSONValue:
        """Build the node that starts with `event`."""
        if depth > MAX_DEPTH:
            raise self.fail(_line(event), f"nesting deeper than {MAX_DEPTH} levels",
                            "flatten the document; real configs are never this deep")
        if self.log is not None and depth > self.max_depth:  # only anchors need depths
            self.max_depth = depth
        if isinstance(event, ev.AliasEvent):
            return self.alias(event, ptr, depth)
        anchor = getattr(event, "anchor", None)
        if anchor is None:
            return self.fresh(event, ptr, depth)
        return self.anchored(event, anchor, ptr, depth)

    def define(self, anchor: str, event: ev.Event) -> _Anchor:
        """Register an anchor (a duplicate is a composer error)."""
        if anchor in self.anchors:
            raise self.compose_error(_line(event), "second occurrence")
        record = self.anchors[anchor] = _Anchor(_line(event))
        return record

    def anchored(self, event: ev.Event, anchor: str, ptr: str, depth: int) -> JSONValue:
        """Build an anchored node and remember what an alias needs to replay it."""
        record = self.define(anchor, event)
        if isinstance(event, ev.ScalarEvent):
            record.scalar, record.done = self.scalar_node(event), True
            self.set_line(ptr, record.line, overwrite=False)
            return self.convert(record.scalar)
        outer = (self.log, self.containers, self.max_depth, self.visit_lines)
        self.log, self.containers, self.max_depth, self.visit_lines = [], 0, depth, []
        written = self.log
        try:
            value = self.fresh(event, ptr, depth)
        finally:
            record.containers, record.depth = self.containers, self.max_depth - depth
            self.containers += outer[1]
            self.max_depth = max(outer[2], self.max_depth)
            self.log = outer[0]
            if self.log is not None:
                self.log.extend(written)
            record.visit_lines, self.visit_lines = self.visit_lines, outer[3]
            self._note_visits(record.visit_lines)
        prefix = ptr + "/"
        record.lines = {p[len(ptr):]: self.lines[p] for p in written if p.startswith(prefix)}
        record.value, record.done = value, True
        return value

    def lookup(self, event: ev.AliasEvent) -> _Anchor:
        """The anchor an alias names."""
        record = self.anchors.get(event.anchor or "")
        if record is None:
            raise self.compose_error(_line(event), "found undefined alias")
        return record

    def alias(self, event: ev.AliasEvent, ptr: str, depth: int) -> JSONValue:
        """Replay an anchored node at `ptr`, charging the alias budget."""
        record = self.lookup(event)
        if record.scalar is not None:
            self.set_line(ptr, record.line, overwrite=False)
            return self.convert(record.scalar)
        if not record.done or depth + record.depth > MAX_DEPTH:  # a self-referencing alias
            raise self.fail(record.line, f"nesting deeper than {MAX_DEPTH} levels",
                            "flatten the document; real configs are never this deep")
        remaining = ALIAS_BUDGET - self.alias_visits
        if record.containers > remaining:  # fail where the loader's re-walk would
            lines = record.visit_lines
            raise self.fail(lines[remaining] if remaining < len(lines) else record.line,
                            "too many alias expansions (possible YAML alias bomb)",
                            "write the values out instead of using anchors/aliases")
        self.alias_visits += record.containers
        self.containers += record.containers
        self._note_visits(record.visit_lines)
        self.max_depth = max(self.max_depth, depth + record.depth)
        self.set_line(ptr, record.line, overwrite=False)
        for rel, line in record.lines.items():
            self.set_line(ptr + rel, line, overwrite=True)
        return _copy(record.value)

    def fresh(self, event: ev.Event, ptr: str, depth: int) -> JSONValue:
        """Build a scalar, sequence or mapping that is not an alias."""
        self.set_line(ptr, _line(event), overwrite=False)
        if isinstance(event, ev.ScalarEvent):
            tag = self.scalar_tag(event)
            # the loader's two common cases inline; everything else goes through its code
            if tag == _STR:
                return event.value
            if not event.style and tag in _PLAIN_TAGS:
                return _resolve_plain(event.value)
            return self.convert(self.scalar_node(event))
        seq = isinstance(event, ev.SequenceStartEvent)
        ctag: Any = getattr(event, "tag", None)
        if ctag is None or ctag == "!":
            kind = yaml.SequenceNode if seq else yaml.MappingNode
            ctag = self.resolver.resolve(kind, None, getattr(event, "implicit", True))
        if ctag not in _COLLECTION_TAGS:
            raise self.fail(_line(event), f"unsupported YAML tag {ctag!r}", "remove the tag")
        self.containers += 1
        if self.log is not None:
            self._note_visits([_line(event)])
        return self.sequence(ptr, depth) if seq else self.mapping(ptr, depth)

    def _note_visits(self, lines: list[int]) -> None:
        """Remember container lines for the open anchor (enough to place a budget error)."""
        if self.log is not None and len(self.visit_lines) <= ALIAS_BUDGET:
            self.visit_lines.extend(lines[: ALIAS_BUDGET + 1 - len(self.visit_lines)])

    def convert(self, node: yaml.ScalarNode) -> JSONValue:
        """The loader's scalar rules; their errors wait for the rest of the document."""
        try:
            return self.scalars.scalar(node)
        except InputError as e:
            raise _Deferred(e) from None

    def scalar_tag(self, event: ev.ScalarEvent) -> str:
        """The resolved tag of a scalar (cached)."""
        tag = event.tag
        if tag is None or tag == "!":
            key = (event.value, event.implicit)
            tag = self.tags.get(key)
            if tag is None:
                tag = self.resolver.resolve(yaml.ScalarNode, event.value, event.implicit)
                if len(self.tags) < 4096:
                    self.tags[key] = tag
        return str(tag)

    def scalar_node(self, event: ev.ScalarEvent) -> yaml.ScalarNode:
        """A ScalarNode for the loader's scalar rules."""
        tag = self.scalar_tag(event)
        marks: Any = (event.start_mark, event.end_mark)  # libyaml's Mark type is not yaml's
        return yaml.ScalarNode(tag, event.value, marks[0], marks[1], event.style)

    def sequence(self, ptr: str, depth: int) -> list[JSONValue]:
        """Build a sequence up to its end event."""
        out: list[JSONValue] = []
        for event in self.events:
            if isinstance(event, ev.SequenceEndEvent):
                return out
            out.append(self.node(event, f"{ptr}/{len(out)}", depth + 1))
        raise InputError("not valid YAML: unexpected end of stream", file=self.name)

    def key(self, kev: ev.Event) -> tuple[str, str, int]:
        """(raw text, tag, line) of a mapping key; keys are never converted."""
        if isinstance(kev, ev.AliasEvent):
            record = self.lookup(kev)
            if record.scalar is None:
                raise self.fail(record.line, "mapping keys must be plain strings")
            return record.scalar.value, record.scalar.tag, record.line
        if not isinstance(kev, ev.ScalarEvent):
            raise self.fail(_line(kev), "mapping keys must be plain strings")
        if kev.anchor is not None:
            record = self.define(kev.anchor, kev)
            record.scalar, record.done = self.scalar_node(kev), True
        return kev.value, self.scalar_tag(kev), _line(kev)

    def mapping(self, ptr: str, depth: int) -> dict[str, JSONValue]:
        """Build a mapping up to its end event (duplicate keys, merges)."""
        out: dict[str, JSONValue] = {}
        for kev in self.events:
            if isinstance(kev, ev.MappingEndEvent):
                return out
            k, tag, line = self.key(kev)
            vev = next(self.events)
            if tag == _MERGE:
                self.merge(out, vev, ptr, depth)
                continue
            child = f"{ptr}/{k if _plain_key(k) else escape_pointer(k)}"
            if k in out:
                raise self.fail(line, f"duplicate key {k!r} (first defined on line "
                                f"{self.lines.get(child)})", "remove one of the two entries")
            self.set_line(child, line, overwrite=True)
            out[k] = self.node(vev, child, depth + 1)
        raise InputError("not valid YAML: unexpected end of stream", file=self.name)

    def merge(self, out: dict[str, JSONValue], vev: ev.Event, ptr: str, depth: int) -> None:
        """Apply a `<<` merge key: earlier keys win, as in the loader."""
        sources: list[tuple[int, JSONValue]] = []
        if isinstance(vev, ev.SequenceStartEvent):
            if vev.anchor is not None:
                self.define(vev.anchor, vev).done = True
            for src in self.events:
                if isinstance(src, ev.SequenceEndEvent):
                    break
                line = self.lookup(src).line if isinstance(src, ev.AliasEvent) else _line(src)
                sources.append((line, self.node(src, ptr, depth + 1)))
        else:
            line = self.lookup(vev).line if isinstance(vev, ev.AliasEvent) else _line(vev)
            sources.append((line, self.node(vev, ptr, depth + 1)))
        for line, value in sources:
            if not isinstance(value, dict):
                raise self.fail(line, "`<<` merge needs a mapping")
            for k, v in value.items():
                out.setdefault(k, v)

    def drain(self) -> None:
        """Consume the rest of the document, raising what composing it would raise."""
        for event in self.events:
            if isinstance(event, ev.DocumentEndEvent):
                return
            if isinstance(event, ev.AliasEvent):
                self.lookup(event)
            elif getattr(event, "anchor", None) is not None:
                self.define(event.anchor, event)  # type: ignore[attr-defined]


def _copy(value: JSONValue) -> JSONValue:
    """A fresh copy, as the loader rebuilds an aliased node at each use."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def parse_documents_streaming(text: str | bytes, name: str,
                              max_bytes: int = DEFAULT_MAX_BYTES) -> list[Loaded]:
    """Like `loader.parse_documents`, without holding the node graph in memory."""
    text = prepare_text(text, name, max_bytes)
    try:
        return _documents(text, name)
    except (yaml.YAMLError, RecursionError) as e:
        raise yaml_error(e, name) from e


def _documents(text: str, name: str) -> list[Loaded]:
    parser = _LOADER(text)
    try:
        return _walk(iter(parser.get_event, None), name)
    finally:
        parser.dispose()


def _walk(events: Iterator[ev.Event], name: str) -> list[Loaded]:
    docs: list[Loaded] = []
    for event in events:
        if isinstance(event, ev.StreamEndEvent):
            break
        if not isinstance(event, ev.DocumentStartEvent):
            continue
        stream = _Stream(name, events)
        try:
            data = stream.node(next(events), "", 0)
        except _Deferred as d:
            stream.drain()  # a syntax error later in the document wins, as in the loader
            raise d.error from None
        docs.append(Loaded(data, SourceMap(name, stream.lines)))
    return docs
