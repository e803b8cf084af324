"""Compiled regular expressions and JSON Schema validators, cached by their source.

Validation compiles each pattern and schema when a golden set loads (so a bad one is
reported there); evaluation then finds it compiled, however many outputs it checks.
"""

from __future__ import annotations

import functools
import json
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jsonschema.protocols import Validator


@functools.lru_cache(maxsize=1024)
def compiled_pattern(pattern: str) -> re.Pattern[str]:
    """``re.compile(pattern)``, once per distinct pattern (raises ``re.error``)."""
    return re.compile(pattern)


def schema_validator(schema: object) -> Validator:
    """A validator for ``schema`` (raises ``jsonschema.SchemaError`` when it is invalid).

    Cached by the schema's canonical JSON: schemas from YAML are dicts, not hashable.
    """
    return _schema_validator(json.dumps(schema, sort_keys=True))


@functools.lru_cache(maxsize=256)
def _schema_validator(schema_key: str) -> Validator:
    import jsonschema  # only sets with json_schema checks pay for it

    schema = json.loads(schema_key)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator: Validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return validator
