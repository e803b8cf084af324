"""The check kinds: one table giving each kind's validator and evaluator side by side.

Kinds and their argument (as written in YAML):

==================  =====================================================================
``contains``        a non-empty string that must occur in the output (case-sensitive)
``not_contains``    a non-empty string that must not occur (case-sensitive)
``regex``           a Python regular expression that must match somewhere (``re.search``)
``json_schema``     a JSON Schema (object); the output, optionally inside a Markdown
                    code fence, must be JSON valid against it
``max_output_tokens``  a positive integer; the reported output tokens (or, when the
                    provider reports none, an estimate of one token per 4 characters)
``similarity``      ``{min: 0..1}``: the similarity score to ``expected``
``facts``           a non-empty list of strings, each supported by the output
                    (words fuzzily, numbers exactly; see ``metrics.hallucination``)
``forbidden``       a non-empty list of strings, none of which may appear
``no_pii``          ``true`` (any kind) or a list of PII kinds that must not appear;
                    ``false`` disables the check
``not_refusal``     ``true``: the output must not refuse (partial refusals fail too);
                    ``false`` disables the check
``not_echo``        ``true``: the output must not mostly restate the prompt (echo score
                    at ``quality.echo.threshold``); ``false`` disables the check
``max_repetition``  a number in 0..1: the repetition score must not exceed it
``judge``           ``{min: 0..1}``: the LLM judge's score (``quality.judge``); fails
                    with the judge's reason, or when the judge gave no score
==================  =====================================================================

A new kind is one row here, one validator in :mod:`~pytest_llmguard.checks.validation`
(or an existing one), one evaluator in :mod:`~pytest_llmguard.checks.evaluation`, and
its entry in ``schemas/golden_set.schema.json``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from rapidfuzz import process

from pytest_llmguard.exceptions import CheckSpecError
from pytest_llmguard.records import Case, CheckResult

from . import evaluation, validation


@dataclass(frozen=True, slots=True)
class CheckKind:
    """How one kind's YAML argument is validated, and how an output is checked against it.

    ``validate(kind, arg)`` raises :class:`CheckSpecError`; ``evaluate(arg, *, output,
    output_tokens, scores, judge_reason)`` returns ``(passed, detail)``.
    """

    validate: Callable[[str, object], None]
    evaluate: Callable[..., tuple[bool, str]]


KINDS: Mapping[str, CheckKind] = {
    "contains": CheckKind(validation.need_string, evaluation.contains),
    "not_contains": CheckKind(validation.need_string, evaluation.not_contains),
    "regex": CheckKind(validation.need_regex, evaluation.regex),
    "json_schema": CheckKind(validation.need_schema, evaluation.json_schema),
    "max_output_tokens": CheckKind(validation.need_positive_int, evaluation.max_output_tokens),
    "similarity": CheckKind(validation.need_min_score, evaluation.similarity),
    "facts": CheckKind(validation.need_string_list, evaluation.facts),
    "forbidden": CheckKind(validation.need_string_list, evaluation.forbidden),
    "no_pii": CheckKind(validation.need_pii_kinds, evaluation.no_pii),
    "not_refusal": CheckKind(validation.need_bool, evaluation.not_refusal),
    "not_echo": CheckKind(validation.need_bool, evaluation.not_echo),
    "max_repetition": CheckKind(validation.need_unit_number, evaluation.max_repetition),
    "judge": CheckKind(validation.need_min_score, evaluation.judge),
}

CHECK_KINDS: tuple[str, ...] = tuple(KINDS)


def validate_check(kind: str, arg: object) -> None:
    """Raise :class:`CheckSpecError` when ``kind: arg`` is not a valid check.

    The message says what is wrong and what is valid; the golden-set loader adds the
    file and line.
    """
    found = KINDS.get(kind)
    if found is None:
        guess = process.extractOne(kind, CHECK_KINDS, score_cutoff=60)
        hint = f"did you mean {guess[0]!r}?" if guess else None
        raise CheckSpecError(f"unknown check {kind!r}; valid: {', '.join(CHECK_KINDS)}", hint=hint)
    found.validate(kind, arg)


def evaluate_checks(
    case: Case,
    output: str,
    output_tokens: int | None,
    scores: Mapping[str, float | None],
    *,
    judge_reason: str | None = None,
    answer: str | None = None,
) -> tuple[CheckResult, ...]:
    """One :class:`CheckResult` per declared check of ``case``, in declaration order.

    ``scores`` are the batch-computed scores of this output (``similarity`` and ``judge``
    are read from there; ``repetition``, ``refusal``, ``echo`` too when present).
    ``judge_reason`` is the LLM judge's explanation (or why it gave no score), shown in
    ``judge`` check details. ``answer`` is, for an output flagged as an echo of the
    prompt, what it adds to the prompt. An empty output fails every enabled check: no
    PII, no refusal and few tokens are not what an empty answer is.
    """
    if not output.strip():
        return tuple(
            CheckResult(c.kind, True, f"{c.kind}: disabled")
            if c.arg is False
            else CheckResult(c.kind, False, f"{c.kind}: the output is empty: nothing to check")
            for c in case.checks
        )
    results = []
    for check in case.checks:
        passed, detail = KINDS[check.kind].evaluate(
            check.arg,
            output=output,
            output_tokens=output_tokens,
            scores=scores,
            judge_reason=judge_reason,
            answer=answer,
        )
        results.append(CheckResult(check.kind, passed, detail))
    return tuple(results)
