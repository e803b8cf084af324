"""What reading a log source saw: records, bad records, records that cannot be replayed.

Readers report into one ``Tally`` while they stream; ``Tally.report()`` is the frozen
``ReadReport`` the run prints and the report keeps. Nothing is dropped silently:

- *bad* records are damaged input (not JSON, cut off, the wrong shape): counted with
  file and line, and fatal under ``strict``;
- *unusable* records are well-formed but cannot become a case, with the reason (an LLM
  span recorded without its content because capture was off, an embeddings call);
- *skipped* items are not model calls at all (a retrieval span, an HTTP span): counted
  by kind, never a problem.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from pytest_llmguard.documents.stream import ReadStats
from pytest_llmguard.exceptions import LogSourceError

__all__ = ["MAX_EXAMPLES", "Problem", "ReadReport", "Tally"]

MAX_EXAMPLES = 20  # bad and unusable records kept with their place, for the report
DOCS = "replaying-production-logs"


@dataclass(frozen=True, slots=True)
class Problem:
    """One bad or unusable record: where, and why."""

    file: str
    line: int | None
    reason: str

    def describe(self) -> str:
        where = self.file + (f":{self.line}" if self.line is not None else "")
        return f"{where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class ReadReport:
    """Counts of one read of log sources, and the first problems with their places."""

    files: int
    records: int  # usable: each can become a case
    bad: int
    unusable: int
    unusable_by_reason: tuple[tuple[str, int], ...]
    skipped_by_kind: tuple[tuple[str, int], ...]
    examples: tuple[Problem, ...]

    def lines(self) -> list[str]:
        """What a run says about its logs, one line each."""
        out = [f"{self.records:,} usable record(s) in {self.files} file(s)"]
        if self.bad:
            out.append(f"{self.bad:,} bad record(s) skipped")
        for reason, count in self.unusable_by_reason:
            out.append(f"{count:,} record(s) unusable: {reason}")
        if self.skipped_by_kind:
            kinds = ", ".join(f"{count:,} {kind}" for kind, count in self.skipped_by_kind)
            out.append(f"not model calls, skipped: {kinds}")
        out.extend(f"  {p.describe()}" for p in self.examples[:5])
        return out


class Tally:
    """The counts while sources are read; ``strict`` turns the first bad record into an error.

    Unusable records are never fatal: a span without content is what capture-off
    tracing writes, not damage.
    """

    def __init__(self) -> None:
        self.files = 0
        self.records = 0
        self.bad_count = 0
        self.unusable_reasons: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        self.examples: list[Problem] = []

    def _keep(self, problem: Problem) -> None:
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(problem)

    def bad(self, file: str, line: int | None, reason: str, *, strict: bool = False) -> None:
        """A damaged record; raises LogSourceError when read strictly."""
        if strict:
            raise LogSourceError(reason, file=file, line=line, docs=DOCS)
        self.bad_count += 1
        self._keep(Problem(file, line, reason))

    def unusable(self, file: str, line: int | None, reason: str) -> None:
        self.unusable_reasons[reason] += 1
        self._keep(Problem(file, line, reason))

    def skip(self, kind: str) -> None:
        self.skipped[kind] += 1

    def record(self) -> None:
        self.records += 1

    def file_read(self, stats: ReadStats) -> None:
        """A JSONL file is done: its bad lines join the count."""
        self.files += 1
        self.bad_count += stats.bad_lines
        for sample in stats.bad_samples:
            self._keep(Problem(stats.path, sample.line, sample.reason))

    def document_read(self, file: str, items: int) -> None:
        self.files += 1

    def report(self) -> ReadReport:
        return ReadReport(
            files=self.files,
            records=self.records,
            bad=self.bad_count,
            unusable=sum(self.unusable_reasons.values()),
            unusable_by_reason=tuple(self.unusable_reasons.most_common()),
            skipped_by_kind=tuple(self.skipped.most_common()),
            examples=tuple(self.examples),
        )
