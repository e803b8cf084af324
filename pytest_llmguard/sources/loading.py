"""From ``logs:`` to cases: read every source, draw the sample, make the pseudo sets.

``read_records`` streams the usable records of the configured sources (``format: auto``
tells each file's format by its first record); ``load_log_cases`` samples them and
returns the pseudo golden sets the run collects, the record behind each case (for the
production baseline), and what was read and drawn, for the report.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from pytest_llmguard.config.records import Config, LogsConfig
from pytest_llmguard.golden import GoldenSet
from pytest_llmguard.privacy.redactor import Redactor
from pytest_llmguard.records import Case
from pytest_llmguard.sources.base import LogFormat, ReadContext
from pytest_llmguard.sources.cases import log_sets
from pytest_llmguard.sources.files import LogFile, expand
from pytest_llmguard.sources.record import Candidate, LogRecord
from pytest_llmguard.sources.registry import detect, get_format
from pytest_llmguard.sources.sampling import Sample, draw
from pytest_llmguard.sources.tally import ReadReport, Tally

__all__ = ["LogCases", "load_log_cases", "read_candidates", "read_records"]


@dataclass(frozen=True)
class LogCases:
    """The cases sampled from the logs, what they came from, and what was read."""

    sets: tuple[GoldenSet, ...]
    records: Mapping[str, LogRecord]  # case key -> the record it replays
    read: ReadReport
    sample: Sample

    def pairs(self) -> list[tuple[Case, LogRecord]]:
        return [(c, self.records[c.key]) for s in self.sets for c in s.cases]

    def notes(self) -> list[str]:
        """What the run says about its logs (in the report's notes)."""
        lines = self.sample.lines() + self.read.lines()[1:]
        return ["logs: " + "; ".join(lines[:1] + [x.strip() for x in lines[1:]])]


def read_records(logs: LogsConfig, rootdir: str, tally: Tally) -> Iterator[LogRecord]:
    """Every usable record of every source, in source and file order, normalised."""
    return (c.record() for c in read_candidates(logs, rootdir, tally))


def read_candidates(logs: LogsConfig, rootdir: str, tally: Tally) -> Iterator[Candidate]:
    """Every usable record of every source, normalised only when asked (sampling asks
    for the records it keeps)."""
    for source in logs.sources:
        files = expand(source.path, rootdir)
        ctx = ReadContext(
            tally=tally,
            feedback=logs.feedback,
            fields=source.fields,
            strict=logs.strict if source.strict is None else source.strict,
        )
        if source.format != "auto":
            yield from get_format(source.format).read(files, ctx)
            continue
        for fmt, group in _by_format(files):
            yield from fmt.read(group, ctx)


def _by_format(files: Sequence[LogFile]) -> Iterator[tuple[LogFormat, list[LogFile]]]:
    """Files grouped by their detected format (a format reads its group at once, so that
    Langfuse scores and OpenTelemetry log records find their records across files)."""
    groups: dict[str, tuple[LogFormat, list[LogFile]]] = {}
    for file in files:
        fmt = detect(file)
        key = f"{fmt.name}:{id(fmt)}"
        groups.setdefault(key, (fmt, []))[1].append(file)
    yield from groups.values()


def load_log_cases(config: Config, *, now: float, taken_names: Iterable[str] = ()) -> LogCases:
    """Read the configured logs, draw the sample and make its pseudo golden sets."""
    tally = Tally()
    logs = config.logs
    sample = draw(read_candidates(logs, config.rootdir, tally), logs.sample, now=now)
    sets, records = log_sets(
        sample.records,
        taken_names=taken_names,
        redactor=Redactor.for_logs(config.redact),
        checks=logs.checks,
    )
    return LogCases(sets=sets, records=records, read=tally.report(), sample=sample)
