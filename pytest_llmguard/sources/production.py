"""The ``production`` baseline: what the logs recorded, as observations the gate can judge.

Each sampled record becomes one observation of target ``production`` for its case:
the logged latency, time to first token, tokens, cost (the log's own, else the price
table's for its model and tokens) and error, and the logged response (redacted) as the
output. The logged response is scored like any output for what needs no reference
(PII, refusal, repetition; PII on the text as logged, before redaction), and the
logged feedback gives ``feedback_negative`` (``feedback_negative_rate``). Similarity is
left out: the logged response *is* the reference, so the production side has none, and
a similarity budget judges the candidate by its absolute bounds.

A candidate replays the same cases, so the gate pairs them case by case; a metric the
logs lack for most records (often ``ttft_ms``, or ``cost_usd`` for a model without a
price) is compared unpaired or skipped, and the report says which.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from pytest_llmguard.baseline import ProductionSide
from pytest_llmguard.config.records import PRODUCTION, Config, Price, QualitySettings
from pytest_llmguard.metrics.pii import PII_KINDS, redact
from pytest_llmguard.outcome import BaselineInfo
from pytest_llmguard.pricing import cost_usd, find_price
from pytest_llmguard.privacy.redactor import Redactor
from pytest_llmguard.records import Case, ErrorRecord, Observation, ScoredObservation
from pytest_llmguard.sources.loading import LogCases
from pytest_llmguard.sources.record import LogRecord

__all__ = ["logged_cost", "observations", "production_side", "scored"]


def logged_cost(record: LogRecord, pricing: Mapping[str, Price]) -> float | None:
    """The record's cost: the log's own, else the price table's for its model and tokens."""
    if record.cost_usd is not None or not record.model:
        return record.cost_usd
    price = find_price(record.model, pricing)
    return cost_usd(price, record.input_tokens, record.output_tokens, record.cached_tokens)


def observations(
    pairs: Sequence[tuple[Case, LogRecord]],
    pricing: Mapping[str, Price],
) -> list[Observation]:
    """One observation per (case, record), as logged (outputs not yet redacted)."""
    out = []
    for case, record in pairs:
        error = None
        if record.error is not None:
            detail = f"logged error: {record.error}"
            if record.error_message:
                detail += f": {record.error_message}"
            error = ErrorRecord(
                record.error_class or "server_error",
                redact(detail)[:500],
                record.error_status,
            )
        cost = logged_cost(record, pricing)
        out.append(
            Observation(
                case_key=case.key,
                target=PRODUCTION,
                repeat_index=0,
                model=record.model or "",
                output=record.response if error is None else None,
                latency_ms=record.latency,
                ttft_ms=record.ttft_ms,
                input_tokens=record.input_tokens,
                output_tokens=record.output_tokens,
                cached_tokens=record.cached_tokens,
                cost_usd=cost if error is None else record.cost_usd,
                cached=record.cached,
                error=error,
                started_at=record.started_at or 0.0,
                finish_reason=record.finish_reason,
            )
        )
    return out


def scored(
    pairs: Sequence[tuple[Case, LogRecord]],
    pricing: Mapping[str, Price],
    quality: QualitySettings,
    redactor: Redactor | None = None,
) -> tuple[ScoredObservation, ...]:
    """The production side, scored, with feedback and outputs redacted."""
    from pytest_llmguard.scoring import score_batch

    raw = observations(pairs, pricing)
    # Scored against the case without its reference or checks: the logged response is
    # the reference itself (see the module docstring).
    bare = [replace(case, expected=None, checks=()) for case, _ in pairs]
    out = []
    for (_, record), s in zip(pairs, score_batch(bare, raw, quality), strict=True):
        scores = dict(s.scores)
        if record.feedback is not None:
            scores["feedback_negative"] = 1.0 if record.feedback == "negative" else 0.0
        scrub = redactor or Redactor(PII_KINDS)
        observation = replace(s.observation, output=scrub.optional(s.observation.output))
        out.append(replace(s, observation=observation, scores=scores))
    return tuple(out)


def production_side(cases: LogCases, config: Config) -> ProductionSide:
    """The baseline ``compare.baseline: production`` judges against, said in every report."""
    pairs = cases.pairs()
    files = sorted({s.path for s in cases.sets})
    label = files[0] + (f" (+{len(files) - 1} more)" if len(files) > 1 else "")
    models = sorted({r.model for _, r in pairs if r.model})
    model = ", ".join(models[:3]) + (f" +{len(models) - 3}" if len(models) > 3 else "")
    info = BaselineInfo(
        source="production",
        label=f"{label}: {len(pairs)} sampled record(s)",
        target=PRODUCTION,
        model=model or "unknown model",
    )
    redactor = Redactor.for_logs(config.redact)
    return ProductionSide(info, scored(pairs, config.pricing, config.quality, redactor))
