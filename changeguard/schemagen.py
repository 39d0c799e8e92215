"""Generate schemas/*.schema.json from the pydantic models (`python -m changeguard.schemagen`).

The models are the source of truth; tests/test_schemas.py fails when the files are stale
and proves that model and schema agree on a corpus of valid and invalid documents.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from changeguard.model import ChangePlan, GuardConfig
from changeguard.policy.model import PolicyPack

GENERATED: dict[str, tuple[type[BaseModel], str]] = {
    "changeplan": (ChangePlan, "changeguard ChangePlan (SPEC §4)"),
    "guard-config": (GuardConfig, "changeguard .changeguard.yaml (SPEC §3)"),
    "policy-pack": (PolicyPack, "changeguard policy pack (SPEC §5)"),
}

_RFC3339 = (r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})$")
_REPO_PATH = r"^(?![/\\])(?![A-Za-z]:[/\\])(?!(.*[/\\])?\.\.([/\\]|$))[^\n\x00]+$"


def _patch(node: object) -> None:
    """Make the schema as strict as the validators pydantic cannot express."""
    if isinstance(node, dict):
        if node.get("format") == "date-time":
            node["pattern"] = _RFC3339
        props = node.get("properties")
        if isinstance(props, dict) and "path" in props and node.get("title") == "Change":
            props["path"]["pattern"] = _REPO_PATH
        for v in node.values():
            _patch(v)
    elif isinstance(node, list):
        for v in node:
            _patch(v)


def build(name: str) -> dict[str, object]:
    """The JSON Schema document for one generated schema name."""
    model, title = GENERATED[name]
    schema = model.model_json_schema(by_alias=True, mode="validation")
    _patch(schema)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://changeguard.dev/schemas/{name}.schema.json",
            "description": title, **schema}


def render(name: str) -> str:
    return json.dumps(build(name), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    out = Path(argv[0]) if argv else Path(__file__).resolve().parent.parent / "schemas"
    for name in GENERATED:
        (out / f"{name}.schema.json").write_text(render(name), encoding="utf-8")
        print(f"wrote {out / (name + '.schema.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
