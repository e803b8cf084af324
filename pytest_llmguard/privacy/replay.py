"""Checks on a replayed redacted output: what can still be said, and what cannot.

A cache entry stored with ``redact:`` holds ``[REDACTED:email]`` where the model wrote an
address. Checking that text again would pass ``no_pii`` silently (the leak was removed
before storing) and could flip ``contains`` or ``regex`` either way, so those checks are
reported as not re-checkable (``CheckResult.unchecked``, never a failure) and the PII
score is unknown; checks that read only counts or the text's shape keep their result.
"""

from __future__ import annotations

from collections.abc import Mapping

from pytest_llmguard.records import CheckResult

# What the redaction cannot change: counts, refusal wording, repeated n-grams' share.
SHAPE_CHECKS = frozenset({"max_output_tokens", "not_refusal", "max_repetition"})


def not_recheckable(
    checks: tuple[CheckResult, ...], scores: Mapping[str, float | None], kinds: tuple[str, ...]
) -> tuple[tuple[CheckResult, ...], dict[str, float | None]]:
    """``checks`` and ``scores`` of a redacted replay, with what needs the raw text marked."""
    why = (
        f"not re-checkable: the cached output was stored redacted ({', '.join(kinds)}); "
        "record it again (--llmguard-cache=refresh) to check it"
    )
    marked = tuple(
        c if c.name in SHAPE_CHECKS else CheckResult(c.name, True, f"{c.name}: {why}", True)
        for c in checks
    )
    return marked, {**scores, "pii": None}
