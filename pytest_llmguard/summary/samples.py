"""The samples: one number read from each scored observation, per name.

Metrics (:mod:`~pytest_llmguard.summary.metric_defs`) are computed over samples, and a
RunSummary keeps every sample's raw values per case so that a comparison can pair them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter

from pytest_llmguard.records import ScoredObservation

# A detector score at or above this counts the response as flagged (hallucinated,
# leaking PII, refusing). Detectors emit 0/1 today; the cut keeps graded scores usable.
FLAG_THRESHOLD = 0.5
# Repetition scores are the share of repeated n-grams; 0.3 already reads as looping.
REPETITION_THRESHOLD = 0.3

ReadAll = Callable[[Sequence[ScoredObservation]], list[float | None]]


@dataclass(frozen=True, slots=True)
class SampleDef:
    """One number read from each scored observation (None: not applicable, skipped).

    ``required`` samples make every metric built on them None when any successful
    observation lacks the value (an unknown price must never read as $0). ``read``
    takes a whole run at once: one Python call per run, not per observation.
    """

    name: str
    read: ReadAll
    successful_only: bool
    required: bool = False

    def extract(self, scored: ScoredObservation) -> float | None:
        """The value of one observation."""
        return self.read((scored,))[0]

    def extract_all(self, scored: Sequence[ScoredObservation]) -> list[float | None]:
        """The value of every observation, in order."""
        return self.read(scored)


def _flag(name: str, threshold: float) -> SampleDef:
    """1.0 when the score is at or above the threshold, else 0.0."""

    def read(scored: Sequence[ScoredObservation]) -> list[float | None]:
        values = [s.scores.get(name) for s in scored]
        return [None if v is None else float(v >= threshold) for v in values]

    return SampleDef(name, read, successful_only=False)


def _repetitive(s: ScoredObservation) -> float | None:
    """The scorer's own flag (at the configured quality.repetition.threshold) when present."""
    flag = s.scores.get("repetitive")
    if flag is not None:
        return float(flag)
    value = s.scores.get("repetition")
    return None if value is None else float(value >= REPETITION_THRESHOLD)


def _number(attr: str, *, required: bool = False) -> SampleDef:
    """An observation attribute, from successful calls only."""
    get = attrgetter(f"observation.{attr}")

    def read(scored: Sequence[ScoredObservation]) -> list[float | None]:
        return [None if v is None else float(v) for v in map(get, scored)]

    return SampleDef(attr, read, successful_only=True, required=required)


def _score(name: str) -> SampleDef:
    """A quality score, from successful calls only."""

    def read(scored: Sequence[ScoredObservation]) -> list[float | None]:
        values = [s.scores.get(name) for s in scored]
        return [None if v is None else float(v) for v in values]

    return SampleDef(name, read, successful_only=True)


def _passed(s: ScoredObservation) -> float | None:
    """1 or 0; unknown (None) when it passed only because a check could not be re-checked
    (a replayed redacted output): counting it as a pass would be a silent pass."""
    if s.passed and any(c.unchecked for c in s.checks):
        return None
    return float(s.passed)


def _always(name: str, extract: Callable[[ScoredObservation], bool]) -> SampleDef:
    """A yes/no known for every observation."""
    return SampleDef(
        name,
        lambda scored: [float(x) for x in map(extract, scored)],
        successful_only=False,
    )


SAMPLES: Mapping[str, SampleDef] = {
    s.name: s
    for s in (
        _number("latency_ms"),
        _number("ttft_ms"),
        _number("input_tokens"),
        _number("output_tokens"),
        _number("cost_usd", required=True),
        _score("similarity"),
        _always("error", lambda s: not s.observation.ok),
        SampleDef("passed", lambda scored: list(map(_passed, scored)), successful_only=False),
        _flag("hallucination", FLAG_THRESHOLD),
        _flag("pii", FLAG_THRESHOLD),
        _flag("refusal", FLAG_THRESHOLD),
        SampleDef(
            "repetition", lambda scored: list(map(_repetitive, scored)), successful_only=False
        ),
        SampleDef("echo", _flag("echoed", FLAG_THRESHOLD).read, successful_only=False),
        _flag("feedback_negative", FLAG_THRESHOLD),
        _always("cached", attrgetter("observation.cached")),
    )
}
