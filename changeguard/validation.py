"""Turn pydantic validation errors into located messages (file, line, pointer, hint)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from changeguard.loader import SourceMap, pointer_of

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError


@dataclass(frozen=True, slots=True)
class Problem:
    """One schema problem with its location."""

    kind: str  # pydantic error type, e.g. "extra_forbidden", "missing", "enum"
    loc: tuple[str | int, ...]
    pointer: str
    line: int | None
    message: str
    hint: str | None


def _fields_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """Known field names of the model that owns `loc`'s last key (for did-you-mean)."""
    from typing import get_args

    from pydantic import BaseModel as _BM

    current: type[_BM] | None = model
    for part in loc[:-1]:
        if current is None or isinstance(part, int):
            continue
        field = current.model_fields.get(str(part))
        if field is None:
            field = next((f for f in current.model_fields.values() if f.alias == part), None)
        if field is None:
            return []
        current = _model_in(field.annotation, get_args)
    if current is None:
        return []
    return [f.alias or name for name, f in current.model_fields.items()]


def _model_in(annotation: object, get_args: object) -> type[BaseModel] | None:
    from typing import get_args as ga

    from pydantic import BaseModel as _BM

    if isinstance(annotation, type) and issubclass(annotation, _BM):
        return annotation
    for arg in ga(annotation):
        found = _model_in(arg, get_args)
        if found is not None:
            return found
    return None


def problems(exc: ValidationError, model: type[BaseModel], source: SourceMap) -> Iterator[Problem]:
    """Each pydantic error as a Problem located in the source document."""
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        # an unknown key is the user's text (it may look like a tag, e.g. "["): keep it
        keep = 1 if err["type"] == "extra_forbidden" and loc else 0
        loc = _strip_union_tags(loc[:len(loc) - keep]) + loc[len(loc) - keep:]
        pointer = pointer_of(list(loc))
        line = source.line_for(pointer)
        kind = err["type"]
        where = ".".join(str(p) for p in loc) or "(document)"
        hint: str | None = None
        if kind == "extra_forbidden":
            known = _fields_at(model, loc)
            from difflib import get_close_matches  # error paths only: not at start-up

            close = get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
            msg = f"unknown key {where!r}"
            hint = f"did you mean {close[0]!r}?" if close else (
                "allowed keys: " + ", ".join(sorted(known)) if known else None)
        elif kind == "missing":
            msg = f"{where}: required field is missing"
            hint = f"add `{loc[-1]}:`" if loc else None
        else:
            msg = f"{where}: {_clean(err['msg'])}"
            ctx = err.get("ctx") or {}
            if "expected" in ctx:
                hint = f"expected {ctx['expected']}"
        yield Problem(kind, loc, pointer, line, msg, hint)


def _strip_union_tags(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """Drop pydantic's union-member tags (e.g. 'str', 'constrained-str') from locations."""
    tags = {"str", "float", "int", "bool", "constrained-str", "list[...]", "none", "dict[str,str]"}
    out = tuple(p for p in loc if not (isinstance(p, str) and (p in tags or "[" in p)))
    return out


def _clean(msg: str) -> str:
    return msg.replace("Value error, ", "")
