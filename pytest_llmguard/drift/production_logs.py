"""Production records for the drift check, read from the configured ``logs:``.

``drift/production.py`` compares a recent window of production calls with the window
before it; this module reads those windows from the log sources and maps each logged
call (``LogRecord``, whatever its format) to a ``ProductionRecord``:

- ``timestamp``: the call's start (else its end), unix seconds; a record with neither
  fits no window and is counted as undated;
- ``latency_ms``, ``input_tokens``, ``output_tokens`` as logged (latency: end - start
  when the log has no duration);
- ``cost_usd``: the log's own, else the price table's for its model and tokens (the
  same rule as the production baseline);
- ``output_length``: characters of the logged response;
- ``error_class``: the runner's class names (``rate_limit``, ``timeout``...);
- ``refusal``: the refusal detector (``metrics/refusal``) on the response, at
  ``quality.refusal.threshold``;
- ``feedback_negative``: the logged feedback as ``logs.feedback`` reads it (None: none).

It streams: only records inside ``[now - (recent + reference), now]`` are built and kept,
as small slotted records, so a long log costs one pass and a window's memory. Reading is
the readers' own (``sources.loading.read_candidates``, as sampling reads): ``logs.strict``
makes a damaged record fatal, otherwise it is counted and said. ``logs.sample`` is not
applied: it chooses what to replay, while drift wants every call of the windows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pytest_llmguard.config.records import Config, Price
from pytest_llmguard.drift.production import ProductionRecord, when_utc
from pytest_llmguard.metrics.refusal import is_refusal
from pytest_llmguard.sources.loading import read_candidates
from pytest_llmguard.sources.production import logged_cost
from pytest_llmguard.sources.record import LogRecord
from pytest_llmguard.sources.tally import ReadReport, Tally

__all__ = ["ProductionLogs", "production_record", "read_production"]


@dataclass(frozen=True)
class ProductionLogs:
    """The records of the drift windows, and what reading the logs saw."""

    records: tuple[ProductionRecord, ...]
    read: ReadReport
    start: float  # the reference window's start
    now: float  # the recent window's end
    undated: int = 0  # usable records without a timestamp: they fit no window
    outside: int = 0  # dated records before ``start`` or after ``now``

    def notes(self) -> list[str]:
        """What the check says about its logs (the windows' own counts come with the tests)."""
        read = self.read.lines()
        line = f"production logs {when_utc(self.start)} .. {when_utc(self.now)}: {read[0]}"
        line += f"; {len(self.records):,} in the windows"
        if self.outside:
            line += f", {self.outside:,} outside them"
        if self.undated:
            line += f", {self.undated:,} without a timestamp (not tested)"
        return [line, *(f"production logs: {x.strip()}" for x in read[1:])]


def production_record(
    record: LogRecord, pricing: Mapping[str, Price], refusal_threshold: float
) -> ProductionRecord | None:
    """The drift check's view of one logged call; None when it has no timestamp."""
    when = _timestamp(record)
    return None if when is None else _mapped(record, when, pricing, refusal_threshold)


def _mapped(
    record: LogRecord, when: float, pricing: Mapping[str, Price], refusal_threshold: float
) -> ProductionRecord:
    response = record.response if record.error is None else None
    return ProductionRecord(
        timestamp=when,
        latency_ms=record.latency,
        input_tokens=record.input_tokens,
        output_tokens=record.output_tokens,
        cost_usd=logged_cost(record, pricing),
        output_length=len(response) if response is not None else None,
        error_class=record.error_class,
        refusal=is_refusal(response, refusal_threshold) if response is not None else None,
        feedback_negative=None if record.feedback is None else record.feedback == "negative",
    )


def read_production(config: Config, *, now: float) -> ProductionLogs:
    """Every logged call of the drift windows ending at ``now`` (see the module docstring).

    Raises ``LogSourceError`` on a damaged record under ``logs.strict``.
    """
    settings = config.drift.production
    start = now - settings.recent_s - settings.reference_s
    tally = Tally()
    kept: list[ProductionRecord] = []
    undated = outside = 0
    threshold = config.quality.refusal_threshold
    for candidate in read_candidates(config.logs, config.rootdir, tally):
        # A candidate knows its start time without being normalised: a record outside the
        # windows (most of a long log) is never built. Its end time needs the record.
        record = None
        when = candidate.started_at
        if when is None:
            record = candidate.record()
            when = _timestamp(record)
        if when is None:
            undated += 1
        elif not start < when <= now:  # the windows' own bounds
            outside += 1
        else:
            record = record or candidate.record()
            kept.append(_mapped(record, when, config.pricing, threshold))
    return ProductionLogs(tuple(kept), tally.report(), start, now, undated, outside)


def _timestamp(record: LogRecord) -> float | None:
    return record.started_at if record.started_at is not None else record.ended_at
