"""The ``redact:`` section: PII kinds (strings) and user patterns (``{label, pattern}``)."""

from __future__ import annotations

import re

from pytest_llmguard.config.records import RedactConfig, RedactPattern
from pytest_llmguard.documents import Document
from pytest_llmguard.exceptions import ConfigError

DOCS = "README.md#privacy"


def parse_redact(doc: Document) -> RedactConfig:
    """``redact:`` as a record; a pattern that does not compile is a ConfigError at its line."""
    kinds: list[str] = []
    patterns: list[RedactPattern] = []
    for i, item in enumerate(doc.data.get("redact") or ()):
        if isinstance(item, str):
            kinds.append(item)
            continue
        pattern = str(item["pattern"])
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise doc.error(
                ConfigError, f"redact pattern does not compile: {exc}", ("redact", i, "pattern")
            ) from None
        if compiled.search("") is not None:
            # an empty match would "redact" between every character
            raise doc.error(
                ConfigError,
                "redact pattern matches the empty text",
                ("redact", i, "pattern"),
                hint="make it match at least one character (e.g. + instead of *)",
                docs=DOCS,
            )
        patterns.append(RedactPattern(str(item["label"]), pattern))
    return RedactConfig(tuple(kinds), tuple(patterns))
