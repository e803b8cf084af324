"""The README's config reference covers every key of the shipped config schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _keys(node: dict[str, Any], defs: dict[str, Any], path: str, out: set[str]) -> None:
    if "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[1]]
    for name, child in node.get("properties", {}).items():
        out.add(f"{path}{name}")
        _keys(child, defs, f"{path}{name}.", out)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) and ("$ref" in extra or "properties" in extra):
        _keys(extra, defs, f"{path}NAME.", out)


def test_every_config_key_is_documented() -> None:
    schema = json.loads((ROOT / "pytest_llmguard" / "schemas" / "config.schema.json").read_text())
    keys: set[str] = set()
    _keys(schema, schema.get("$defs", {}), "", keys)
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Configuration") : readme.index("## Golden sets")]
    missing = []
    for key in sorted(keys):
        leaf = key.rsplit(".", 1)[-1]
        # documented: in backticks whole, as the start of a longer key, or as its last part
        forms = (f"`{key}`", f"`{key}.", f".{leaf}`", f"`{leaf}`")
        if not any(form in section for form in forms):
            missing.append(key)
    assert not missing, f"config keys missing from README#configuration: {missing}"
    assert len(keys) > 40
