"""A small JavaScript object-literal parser for `rs.initiate({...})` / `rs.reconfig(...)`.

mongo-shell scripts are not JSON: keys are unquoted, strings use single quotes, arrays and
objects end with trailing commas, and there are `//`/`/* */` comments and wrappers such as
`NumberInt(1)`. We parse just that literal subset (no evaluation) and keep a JSON-pointer →
line map so findings point at the member that breaks a rule.
"""

from __future__ import annotations

import bisect
import re

from changeguard.errors import InputError
from changeguard.loader import JSONValue, Loaded, SourceMap, escape_pointer

MAX_DEPTH = 100
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_NUMBER = re.compile(r"[-+]?(0[xX][0-9a-fA-F]+|(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}
_SKIP = re.compile(r"(?:\s+|//[^\n]*|/\*(?:[^*]|\*(?!/))*\*/)*")
_SIMPLE = {q: re.compile(q + r"([^" + q + r"\\\n]*)" + q) for q in ("'", '"')}
_SIMPLE["`"] = re.compile(r"`([^`\\]*)`")
_U_BRACED = re.compile(r"\{([0-9a-fA-F]{1,6})\}")
_HEX2 = re.compile("[0-9a-fA-F]{2}")
_HEX4 = re.compile("[0-9a-fA-F]{4}")
_KEYWORDS: dict[str, JSONValue] = {"true": True, "false": False, "null": None,
                                   "undefined": None}
# rs.initiate(cfg) / rs.reconfig(cfg, {force: true}); also db.adminCommand({replSetInitiate: …})
_CALL = re.compile(r"\brs\s*\.\s*(initiate|reconfig)\s*\(|\breplSet(Initiate|Reconfig)\s*:")


class _Parser:
    def __init__(self, text: str, name: str, pos: int = 0) -> None:
        self.text = text
        self.name = name
        self.pos = pos
        self.lines: dict[str, int] = {}
        self.starts = [0, *(m.end() for m in re.finditer("\n", text))]

    def line(self, pos: int | None = None) -> int:
        return bisect.bisect_right(self.starts, self.pos if pos is None else pos)

    def fail(self, message: str) -> InputError:
        return InputError(f"JavaScript literal: {message}", file=self.name, line=self.line(),
                          hint="write the replica-set config as a plain object literal")

    def skip(self) -> None:
        """Skip whitespace and comments."""
        m = _SKIP.match(self.text, self.pos)
        if m:
            self.pos = m.end()
        if self.text.startswith("/*", self.pos):
            raise self.fail("unterminated /* comment")

    def peek(self) -> str:
        self.skip()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def value(self, ptr: str, depth: int) -> JSONValue:
        if depth > MAX_DEPTH:
            raise self.fail("nesting too deep")
        c = self.peek()
        if not c:  # `"" in "…"` is True: end of input must be caught first
            raise self.fail("unexpected end of input")
        self.lines.setdefault(ptr, self.line())
        if c == "{":
            return self.obj(ptr, depth)
        if c == "[":
            return self.arr(ptr, depth)
        if c in "\"'`":
            return self.string()
        if c and (c.isdigit() or c in "+-."):
            return self.number()
        m = _IDENT.match(self.text, self.pos)
        if m:
            return self.word(m.group(), ptr, depth)
        raise self.fail(f"unexpected {c!r}" if c else "unexpected end of input")

    def word(self, word: str, ptr: str, depth: int) -> JSONValue:
        self.pos += len(word)
        if word in _KEYWORDS:
            return _KEYWORDS[word]
        if word == "new":  # `new NumberInt(1)`, `new Date(...)`
            self.skip()
            m = _IDENT.match(self.text, self.pos)
            if not m:
                raise self.fail("expected a constructor name after `new`")
            return self.word(m.group(), ptr, depth)
        if self.peek() == "(":  # NumberInt(1), NumberLong("5"), ISODate("…")
            self.pos += 1
            if self.peek() == ")":
                self.pos += 1
                return None
            inner = self.value(ptr, depth + 1)
            if self.peek() != ")":
                raise self.fail(f"expected ')' after the argument of {word}(")
            self.pos += 1
            return _unwrap_number(word, inner)
        raise self.fail(f"unsupported identifier {word!r} (variables are not evaluated)")

    def obj(self, ptr: str, depth: int) -> dict[str, JSONValue]:
        self.pos += 1
        out: dict[str, JSONValue] = {}
        while True:
            c = self.peek()
            if c == "}":
                self.pos += 1
                return out
            key_line = self.line()
            key = self.key()
            if self.peek() != ":":
                raise self.fail(f"expected ':' after key {key!r}")
            self.pos += 1
            if key in out:
                raise self.fail(f"duplicate key {key!r}")
            child = f"{ptr}/{escape_pointer(key)}"
            self.lines[child] = key_line
            out[key] = self.value(child, depth + 1)
            c = self.peek()
            if c == ",":
                self.pos += 1
            elif c != "}":
                raise self.fail("expected ',' or '}' in object")

    def key(self) -> str:
        c = self.peek()
        if c and c in "\"'":
            return self.string()
        m = _IDENT.match(self.text, self.pos) or _NUMBER.match(self.text, self.pos)
        if not m:
            raise self.fail(f"expected a key, found {c!r}" if c else "unterminated object")
        self.pos = m.end()
        return m.group()

    def arr(self, ptr: str, depth: int) -> list[JSONValue]:
        self.pos += 1
        out: list[JSONValue] = []
        while True:
            c = self.peek()
            if c == "]":
                self.pos += 1
                return out
            out.append(self.value(f"{ptr}/{len(out)}", depth + 1))
            c = self.peek()
            if c == ",":
                self.pos += 1
            elif c != "]":
                raise self.fail("expected ',' or ']' in array")

    def string(self) -> str:
        t = self.text
        quote = t[self.pos]
        simple = _SIMPLE[quote].match(t, self.pos)
        if simple:  # no escapes: one regex instead of a character loop
            self.pos = simple.end()
            return simple.group(1)
        self.pos += 1
        out: list[str] = []
        while self.pos < len(t):
            c = t[self.pos]
            if c == quote:
                self.pos += 1
                return _join(out)
            if c == "\n" and quote != "`":
                break
            if c == "\\" and self.pos + 1 < len(t):
                self.pos += 1
                out.append(self.escape())
            else:
                out.append(c)
            self.pos += 1
        raise self.fail("unterminated string")

    def escape(self) -> str:
        """The character after a backslash (\\n, \\xHH, \\uHHHH, \\u{H…}); pos ends on it."""
        t, e = self.text, self.text[self.pos]
        if e in "xu":
            braced = e == "u" and t.startswith("{", self.pos + 1)
            pattern = _U_BRACED if braced else (_HEX2 if e == "x" else _HEX4)
            m = pattern.match(t, self.pos + 1)
            if m:
                self.pos = m.end() - 1
                code = int(m.group(1) if braced else m.group(), 16)
                return chr(code) if code <= 0x10FFFF else "\ufffd"
        return _ESCAPES.get(e, e)

    def number(self) -> int | float:
        m = _NUMBER.match(self.text, self.pos)
        if not m:
            raise self.fail(f"bad number near {self.text[self.pos:self.pos + 10]!r}")
        self.pos = m.end()
        s = m.group()
        body = s.lstrip("+-")
        if body[:2] in ("0x", "0X"):
            v = int(body, 16)
            return -v if s.startswith("-") else v
        if re.fullmatch(r"[-+]?\d+", s):
            return int(s)
        return float(s)


def _join(chars: list[str]) -> str:
    """Join, pairing UTF-16 surrogate escapes (\\ud83d\\ude00); lone ones become U+FFFD."""
    text = "".join(chars)
    if any("\ud800" <= c <= "\udfff" for c in text):
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def _unwrap_number(word: str, inner: JSONValue) -> JSONValue:
    """`NumberInt("1")` → 1; other wrappers keep their argument."""
    if word in ("NumberInt", "NumberLong", "Int32", "Long") and isinstance(inner, str):
        try:
            return int(inner.strip())
        except ValueError:
            return inner
    if word in ("NumberDecimal", "Double") and isinstance(inner, str):
        try:
            return float(inner.strip())
        except ValueError:
            return inner
    return inner


def parse_js_literal(text: str, name: str, pos: int = 0) -> tuple[Loaded, int]:
    """Parse one literal starting at `pos`; returns it (with line map) and the end offset."""
    p = _Parser(text, name, pos)
    try:
        data = p.value("", 0)
    except RecursionError as e:
        raise InputError("JavaScript literal: nesting too deep", file=name) from e
    return Loaded(data, SourceMap(name, p.lines)), p.pos


def find_replset_configs(text: str, name: str) -> list[Loaded]:
    """The config argument of every `rs.initiate(...)`/`rs.reconfig(...)` call in a script,
    with members that later `rs.add(...)`/`rs.addArb(...)` calls append."""
    found: list[tuple[int, Loaded]] = []
    for m in _CALL.finditer(text):
        p = _Parser(text, name, m.end())
        c = p.peek()
        if c == "{":
            found.append((m.start(), parse_js_literal(text, name, p.pos)[0]))
            continue
        ident = _IDENT.match(text, p.pos)
        if ident:  # rs.initiate(cfg): use the literal assigned to `cfg` before the call
            lit = _assigned_literal(text, name, ident.group(), m.start())
            if lit is not None:
                found.append((m.start(), lit))
    for m in _ADD.finditer(text):
        target = [loaded for pos, loaded in found if pos < m.start()]
        if target:
            _add_member(text, name, m, target[-1])
    return [loaded for _, loaded in found]


_ADD = re.compile(r"\brs\s*\.\s*(add|addArb)\s*\(")


def _add_member(text: str, name: str, call: re.Match[str], cfg: Loaded) -> None:
    members = cfg.data.get("members") if isinstance(cfg.data, dict) else None
    if not isinstance(members, list):
        return
    arg, _ = parse_js_literal(text, name, call.end())
    member: dict[str, JSONValue] = dict(arg.data) if isinstance(arg.data, dict) else {
        "host": arg.data}
    if call.group(1) == "addArb":
        member["arbiterOnly"] = True
    if "_id" not in member:
        ids = [m.get("_id") for m in members if isinstance(m, dict)]
        member["_id"] = max((i for i in ids if isinstance(i, int)), default=-1) + 1
    ptr = f"/members/{len(members)}"
    line = text.count("\n", 0, call.start()) + 1
    cfg.source.lines[ptr] = line
    for key in member:
        cfg.source.lines[f"{ptr}/{escape_pointer(key)}"] = line
    members.append(member)


def _assigned_literal(text: str, name: str, var: str, before: int) -> Loaded | None:
    pattern = re.compile(r"\b(?:var|let|const)?\s*" + re.escape(var) + r"\s*=\s*(?=\{)")
    last = None
    for m in pattern.finditer(text, 0, before):
        last = m
    if last is None:
        return None
    return parse_js_literal(text, name, last.end())[0]
