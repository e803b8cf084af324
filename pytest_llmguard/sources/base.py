"""What a log format is: a name, a test that recognises its records, and a reader.

A reader streams the files of one source and yields ``LogRecord``s, reporting bad,
unusable and skipped records into the ``ReadContext``'s tally as it goes. Formats are
registered in ``sources.registry``; one module per format.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pytest_llmguard.config.records import FeedbackConfig
from pytest_llmguard.records import Provenance
from pytest_llmguard.sources.files import Item, LogFile, items
from pytest_llmguard.sources.record import Candidate
from pytest_llmguard.sources.tally import Tally

__all__ = [
    "LogFormat",
    "Path",
    "ReadContext",
    "compile_path",
    "read_items",
    "where",
]


@dataclass(frozen=True)
class ReadContext:
    """What every reader needs: the feedback rules, field paths, strictness, the tally."""

    tally: Tally
    feedback: FeedbackConfig = field(default_factory=FeedbackConfig)
    fields: Mapping[str, str] = field(default_factory=dict)  # openai-jsonl only
    strict: bool = False


class LogFormat(Protocol):
    """One log format (``openai-jsonl``, ``otel``...)."""

    @property
    def name(self) -> str: ...

    @property
    def prefixes(self) -> tuple[str, ...]:
        """Where its items sit inside one JSON document (ijson prefixes)."""
        ...

    def detect(self, data: Mapping[str, Any]) -> bool:
        """Whether a record (a JSONL line or a document item) is in this format."""
        ...

    def read(self, files: Sequence[LogFile], ctx: ReadContext) -> Iterator[Candidate]:
        """Every usable record of the files, in file order (each a ``LogRecord``, or a
        candidate that makes one when the sample keeps it)."""
        ...


def read_items(
    files: Sequence[LogFile],
    prefixes: Sequence[str],
    ctx: ReadContext,
    convert: Callable[[Item, LogFile, ReadContext], Iterable[Candidate]],
) -> Iterator[Candidate]:
    """Each file's items through ``convert``: the loop of every one-record-per-item format."""
    for file in files:
        for item in items(file, prefixes, ctx.tally, strict=ctx.strict):
            for record in convert(item, file, ctx):
                ctx.tally.record()
                yield record


Path = tuple[str, ...]


def compile_path(path: str) -> Path:
    """A dotted path (``response.choices.0.message``) as its keys, split once."""
    return tuple(path.split("."))


def where(file: LogFile, line: int | None, fmt: str, **ids: str | None) -> Provenance:
    """The provenance of a record read at ``file:line`` (its time is added when it becomes
    a case: formatting a date for every record read would cost more than reading it)."""
    clean = {k: (str(v) if v not in (None, "") else None) for k, v in ids.items()}
    return Provenance(file=file.display, line=line, format=fmt, **clean)
