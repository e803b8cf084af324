"""The JSON Schemas shipped in ``pytest_llmguard/schemas``, and ``validate`` against them.

A valid document is recognised by the compiled fast check alone (``fast_schema``);
jsonschema (~0.1 s to import) runs only when that check cannot say "valid", and then
explains the error (``schema_errors``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llmguard.documents.document import Document
from pytest_llmguard.documents.fast_schema import Checker, compile_checker
from pytest_llmguard.documents.schema_errors import explain
from pytest_llmguard.exceptions import UsageError

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

__all__ = ["SCHEMA_DIR", "fast_checker", "jsonschema_validator", "load_schema", "validate"]

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"


@cache
def load_schema(name: str) -> Mapping[str, Any]:
    """One of the JSON Schemas shipped in ``pytest_llmguard/schemas`` (by file name)."""
    with open(SCHEMA_DIR / name, encoding="utf-8") as fh:
        schema: dict[str, Any] = json.load(fh)
    return schema


@cache
def fast_checker(name: str) -> Checker | None:
    """The compiled fast check of a shipped schema, or None if it uses an unmodelled keyword."""
    return compile_checker(load_schema(name))


@cache
def jsonschema_validator(name: str) -> Draft202012Validator:
    """jsonschema's validator for a shipped schema: the one that explains errors."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load_schema(name))


def validate(
    doc: Document, schema_name: str, error: type[UsageError], *, docs: str | None = None
) -> None:
    """Validate ``doc.data`` against a shipped schema; raise one ``error`` if invalid.

    The error is the most useful of jsonschema's, located in the file (see
    ``schema_errors.explain``); ``docs`` names the README section to point to.
    """
    fast = fast_checker(schema_name)
    if fast is not None and fast(doc.data) is True:
        return
    errors = list(jsonschema_validator(schema_name).iter_errors(doc.data))
    if errors:
        raise explain(errors, doc, error, docs)
