"""One text redacted by the ``redact:`` config: PII kinds of ``metrics.pii`` and user patterns.

Every match becomes ``[REDACTED:kind]`` (a user pattern's label is its kind). Redaction is
idempotent: a redacted text holds nothing the kinds match, so redacting a stored artefact
again (a saved run read back as a baseline) changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from pytest_llmguard.config.records import RedactConfig
from pytest_llmguard.metrics.pii import PII_KINDS, find_pii


@dataclass(frozen=True, slots=True)
class Redacted:
    """A redacted text and the kinds removed from it (sorted, empty when unchanged)."""

    text: str
    kinds: tuple[str, ...] = ()


class Redactor:
    """The redaction of one config; ``enabled`` is False when it leaves every text as it is."""

    def __init__(self, kinds: Iterable[str], patterns: Iterable[tuple[str, str]] = ()) -> None:
        self.kinds = tuple(kinds)
        self._patterns = tuple((label, re.compile(p)) for label, p in patterns)

    @classmethod
    def of(cls, config: RedactConfig) -> Redactor:
        """What ``redact:`` asks for (nothing when it is not set)."""
        return cls(config.kinds, ((p.label, p.pattern) for p in config.patterns))

    @classmethod
    def for_logs(cls, config: RedactConfig) -> Redactor:
        """Log samples are always redacted: the ``redact:`` kinds (every kind when none is
        listed) and the user patterns."""
        return cls(config.kinds or PII_KINDS, ((p.label, p.pattern) for p in config.patterns))

    @property
    def enabled(self) -> bool:
        return bool(self.kinds or self._patterns)

    def redact(self, text: str) -> Redacted:
        """``text`` with every match replaced; overlapping matches merge into the first one."""
        if not self.enabled or not text:
            return Redacted(text)
        spans = [(m.start, m.end, m.kind) for m in find_pii(text, self.kinds)] if self.kinds else []
        for label, pattern in self._patterns:
            spans.extend(
                (m.start(), m.end(), label) for m in pattern.finditer(text) if m.end() > m.start()
            )
        if not spans:
            return Redacted(text)
        spans.sort(key=lambda span: (span[0], -span[1]))  # the longest match at a place wins
        parts: list[str] = []
        kinds: set[str] = set()
        last = 0
        for start, end, kind in spans:
            if start < last:  # overlaps the previous match: already covered (or extend it)
                last = max(last, end)
                continue
            parts.append(text[last:start])
            parts.append(f"[REDACTED:{kind}]")
            kinds.add(kind)
            last = end
        parts.append(text[last:])
        return Redacted("".join(parts), tuple(sorted(kinds)))

    def text(self, text: str) -> str:
        """Only the redacted text."""
        return self.redact(text).text

    def optional(self, text: str | None) -> str | None:
        return None if text is None else self.redact(text).text
