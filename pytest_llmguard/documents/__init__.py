"""User-written documents (YAML, JSONL) and the logs replayed from production.

One module per idea:

- ``document``: the ``Document`` record (data + the line of every key and item),
  ``format_path`` and ``describe`` for messages;
- ``reading``: a file into bytes/text, with one clear error per way it fails;
- ``yaml_loader``: safe YAML 1.2 with line marks, duplicate keys and alias bombs refused;
- ``jsonl``: the strict JSONL loader of golden sets (first bad line is an error);
- ``schemas``: the shipped JSON Schemas and ``validate``;
- ``fast_schema``: a schema compiled into closures that only answer "valid?";
- ``schema_errors``: jsonschema's errors turned into one error with file:line and key path;
- ``stream``: the tolerant, constant-memory JSONL/NDJSON reader (gzip too) for logs.
"""

from __future__ import annotations

from pytest_llmguard.documents.document import Document, JsonPath, describe, format_path
from pytest_llmguard.documents.jsonl import load_jsonl
from pytest_llmguard.documents.reading import MAX_BYTES
from pytest_llmguard.documents.schemas import SCHEMA_DIR, load_schema, validate
from pytest_llmguard.documents.stream import (
    MAX_LINE_BYTES,
    BadLine,
    JsonLines,
    JsonRecord,
    ReadStats,
    iter_json_lines,
)
from pytest_llmguard.documents.yaml_loader import MAX_ALIAS_NODES, load_document, parse_yaml

__all__ = [
    "MAX_ALIAS_NODES",
    "MAX_BYTES",
    "MAX_LINE_BYTES",
    "SCHEMA_DIR",
    "BadLine",
    "Document",
    "JsonLines",
    "JsonPath",
    "JsonRecord",
    "ReadStats",
    "describe",
    "format_path",
    "iter_json_lines",
    "load_document",
    "load_jsonl",
    "load_schema",
    "parse_yaml",
    "validate",
]
