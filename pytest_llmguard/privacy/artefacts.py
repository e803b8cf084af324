"""THE redaction step: what a run keeps or sends, mapped to its redacted form.

Scoring, checks and the verdict read the text as the model wrote it (a ``no_pii`` check
must catch a leak); everything that leaves the process reads the form made here, where
artefacts are written: the cache entry (``ResponseCache.put``), the run's Outcome (before
any report, the saved run, the history, the PR comment, annotations and alerts read it),
a failed case item's text (terminal, JUnit XML) and the cases ``llmguard sample`` writes.

An observation says which kinds were removed from its stored text (``redacted``), its
case's prompt and expected answer included, so every report can say so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from pytest_llmguard.metrics.textdiff import diff_spans, word_diff
from pytest_llmguard.outcome import CaseRegression, Outcome
from pytest_llmguard.privacy.redactor import Redactor
from pytest_llmguard.records import Case, Message, Observation, ScoredObservation


def _union(*groups: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted({k for g in groups for k in g}))


def _deep(value: Any, redactor: Redactor) -> Any:
    """Strings anywhere in a JSON-like value (a check's argument, a case's vars)."""
    if isinstance(value, str):
        return redactor.text(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_deep(v, redactor) for v in value)
    if isinstance(value, Mapping):
        return {k: _deep(v, redactor) for k, v in value.items()}
    return value


def case_kinds(case: Case, redactor: Redactor) -> tuple[str, ...]:
    """The kinds redacting ``case`` removes (its messages, expected answer and context)."""
    texts = [m.content for m in case.messages] + [case.expected or "", case.context or ""]
    return _union(*(redactor.redact(t).kinds for t in texts))


def redact_case(case: Case, redactor: Redactor) -> Case:
    """``case`` with its prompt, expected answer, context, vars and check arguments redacted."""
    if not redactor.enabled:
        return case
    return replace(
        case,
        messages=tuple(Message(m.role, redactor.text(m.content)) for m in case.messages),
        expected=redactor.optional(case.expected),
        context=redactor.optional(case.context),
        checks=tuple(replace(c, arg=_deep(c.arg, redactor)) for c in case.checks),
        vars=_deep(dict(case.vars), redactor),
    )


def redact_observation(
    obs: Observation, redactor: Redactor, also: tuple[str, ...] = ()
) -> Observation:
    """``obs`` with its output and error message redacted; ``also``: its case's kinds."""
    if not redactor.enabled:
        return obs
    output = redactor.redact(obs.output) if obs.output is not None else None
    error = obs.error
    kinds = _union(obs.redacted, also, output.kinds if output else ())
    if error is not None:
        message = redactor.redact(error.message)
        error = replace(error, message=message.text)
        kinds = _union(kinds, message.kinds)
    return replace(obs, output=output.text if output else None, error=error, redacted=kinds)


def redact_scored(
    scored: ScoredObservation, redactor: Redactor, also: tuple[str, ...] = ()
) -> ScoredObservation:
    """``scored`` as stored: its observation and check details redacted, verdicts as they were."""
    if not redactor.enabled:
        return scored
    details = [redactor.redact(c.detail) for c in scored.checks]
    obs = redact_observation(
        scored.observation, redactor, _union(also, *(d.kinds for d in details))
    )
    checks = tuple(replace(c, detail=d.text) for c, d in zip(scored.checks, details, strict=True))
    return replace(scored, observation=obs, checks=checks)


def _regression(r: CaseRegression, redactor: Redactor) -> CaseRegression:
    # The diff is made again from the redacted outputs: redacting its pieces one by one
    # would miss an item the diff cut in two (a phone number with one digit changed).
    before, after = redactor.text(r.baseline_output), redactor.text(r.candidate_output)
    return replace(
        r,
        reason=redactor.text(r.reason),
        baseline_output=before,
        candidate_output=after,
        diff=word_diff(before, after),
        spans=diff_spans(before, after),
    )


def redacted_note(scored: tuple[ScoredObservation, ...]) -> str | None:
    """What every report says when stored text was redacted: how many outputs, which kinds."""
    hit = [s for s in scored if s.observation.redacted]
    if not hit:
        return None
    kinds = _union(*(s.observation.redacted for s in hit))
    cases = len({s.observation.case_key for s in hit})
    return (
        f"redact: the stored text of {cases} case(s) was redacted ({', '.join(kinds)}); "
        "checks and scores saw the text as written"
    )


def redact_outcome(outcome: Outcome, redactor: Redactor) -> Outcome:
    """The Outcome every report, the saved run, the history and every post read."""
    if not redactor.enabled:
        return outcome
    kinds = {key: case_kinds(case, redactor) for key, case in outcome.cases.items()}

    def scored(items: tuple[ScoredObservation, ...]) -> tuple[ScoredObservation, ...]:
        return tuple(
            redact_scored(s, redactor, kinds.get(s.observation.case_key, ())) for s in items
        )

    stored = scored(outcome.scored)
    note = redacted_note(stored)
    notes = tuple(redactor.text(n) for n in outcome.notes)
    return replace(
        outcome,
        scored=stored,
        baseline_scored=scored(outcome.baseline_scored),
        cases={key: redact_case(case, redactor) for key, case in outcome.cases.items()},
        regressions=tuple(_regression(r, redactor) for r in outcome.regressions),
        notes=(*notes, note) if note else notes,
        incomplete=tuple(redactor.text(n) for n in outcome.incomplete),
    )
