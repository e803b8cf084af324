"""Where a case sampled from production logs came from (``Case.provenance``).

Kept apart from ``records`` (which re-exports it) because only log cases carry it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Provenance"]


def _text(d: Mapping[str, Any], key: str) -> str | None:
    value = d.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"provenance.{key} is not text: {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800" in JSON): not writable
        raise ValueError(f"provenance.{key} is not valid Unicode text") from None
    return value


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a case sampled from production logs came from, so a report links back to it.

    ``file`` is rootdir-relative, ``line`` 1-based (None inside one JSON document);
    the ids are those the log carried (OpenTelemetry trace and span, Langfuse trace and
    observation, a request or response id), and ``format`` the reader that read it.
    """

    file: str
    line: int | None = None
    format: str | None = None
    trace_id: str | None = None
    span_id: str | None = None
    observation_id: str | None = None
    request_id: str | None = None
    timestamp: str | None = None  # ISO 8601, UTC

    def to_dict(self) -> dict[str, Any]:
        """The fields that are set (a golden set keeps only those)."""
        return {k: getattr(self, k) for k in _PROVENANCE_KEYS if getattr(self, k) is not None}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Provenance:
        file = d.get("file")
        if not isinstance(file, str):
            raise ValueError("provenance.file is not text")
        line = d.get("line")
        if line is not None and (isinstance(line, bool) or not isinstance(line, int)):
            raise ValueError(f"provenance.line is not a number: {line!r}")
        return cls(file, line, **{k: _text(d, k) for k in _PROVENANCE_KEYS[2:]})

    def describe(self) -> str:
        """``logs/app.jsonl:17 (span 5fb3…)``: where to find the record."""
        where = self.file + (f":{self.line}" if self.line is not None else "")
        ids = [
            f"{label} {value}"
            for label, value in (
                ("observation", self.observation_id),
                ("span", self.span_id),
                ("request", self.request_id),
            )
            if value
        ]
        return where + (f" ({ids[0]})" if ids else "")


_PROVENANCE_KEYS = (
    "file",
    "line",
    "format",
    "trace_id",
    "span_id",
    "observation_id",
    "request_id",
    "timestamp",
)
