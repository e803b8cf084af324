"""Checks evaluated on one output: each returns whether it passed and a detail line.

Each evaluator takes the check's argument (validated at load time by
:mod:`~pytest_llmguard.checks.validation`) and, by keyword, what it needs of the
output: ``output``, ``output_tokens``, ``scores``, ``judge_reason``, and ``answer``:
for an output flagged as an echo of the prompt, the part it adds (None otherwise), where
``contains``, ``regex`` and ``facts`` look. Which kind uses which evaluator is decided
in :mod:`~pytest_llmguard.checks.registry`.

Details never contain PII found in an output: snippets are passed through
:func:`~pytest_llmguard.metrics.pii.redact` and ``no_pii`` reports kinds and counts only.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

from pytest_llmguard.metrics.hallucination import forbidden_found, unsupported_facts
from pytest_llmguard.metrics.pii import find_pii, redact
from pytest_llmguard.metrics.refusal import FULL, is_refusal, refusal_score
from pytest_llmguard.metrics.repetition import repetition_score

from .compiled import compiled_pattern, schema_validator

_SNIPPET = 40
# Longest message (a schema error, the judge's reason) quoted in a detail.
_DETAIL_CHARS = 160
_FENCE_RE = re.compile(r"^```[a-zA-Z0-9_-]*\s*\n(.*?)\n?```\s*$", re.DOTALL)


def _snippet(output: str, start: int, end: int) -> str:
    left = max(0, start - _SNIPPET)
    right = min(len(output), end + _SNIPPET)
    text = output[left:right].replace("\n", " ")
    prefix = "..." if left else ""
    suffix = "..." if right < len(output) else ""
    return f"{prefix}{redact(text)}{suffix}"


def _clip(text: str) -> str:
    """``text``, cut to at most ``_DETAIL_CHARS`` characters with "..." where cut."""
    if len(text) > _DETAIL_CHARS:
        return text[: _DETAIL_CHARS - 3] + "..."
    return text


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _parse_json_output(output: str) -> Any:
    text = output.strip()
    fenced = _FENCE_RE.match(text)
    if fenced:
        text = fenced.group(1)
    return json.loads(text)


_ECHOED_ONLY = "only in text the output echoes from the prompt (quality.echo)"


def contains(arg: Any, output: str, answer: str | None = None, **_: Any) -> tuple[bool, str]:
    """The argument occurs in the output (case-sensitive), outside echoed prompt text."""
    if arg in output:
        if answer is not None and arg not in answer:
            return False, f"contains {_quote(arg)}: found {_ECHOED_ONLY}"
        return True, f"contains {_quote(arg)}: found"
    return False, f"contains {_quote(arg)}: not found in output"


def not_contains(arg: Any, output: str, **_: Any) -> tuple[bool, str]:
    """The argument does not occur in the output; the detail shows where it does."""
    at = output.find(arg)
    if at < 0:
        return True, f"not_contains {_quote(arg)}: not found"
    snippet = _snippet(output, at, at + len(arg))
    return False, f"not_contains {_quote(arg)}: found at char {at}: {_quote(snippet)}"


def regex(arg: Any, output: str, answer: str | None = None, **_: Any) -> tuple[bool, str]:
    """The pattern matches somewhere in the output (``re.search``), outside echoed text."""
    m = compiled_pattern(arg).search(output)
    if m is None:
        return False, f"regex /{arg}/: no match in output"
    if answer is not None:
        m = compiled_pattern(arg).search(answer)
        if m is None:
            return False, f"regex /{arg}/: matched {_ECHOED_ONLY}"
    return True, f"regex /{arg}/: matched {_quote(redact(m.group(0))[:80])}"


def json_schema(arg: Any, output: str, **_: Any) -> tuple[bool, str]:
    """The output (optionally in a Markdown code fence) is JSON valid against the schema."""
    import jsonschema

    try:
        value = _parse_json_output(output)
    except json.JSONDecodeError as exc:
        return (
            False,
            f"json_schema: output is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
        )
    except RecursionError:
        return False, "json_schema: output is JSON nested too deeply to check"
    except ValueError as exc:  # e.g. a number of more than 4,300 digits
        return False, f"json_schema: output is not usable JSON: {_clip(str(exc))}"
    try:
        error = jsonschema.exceptions.best_match(schema_validator(arg).iter_errors(value))
    except (jsonschema.exceptions.SchemaError, RecursionError, LookupError) as exc:
        # validated at load time; anything left is reported on the case, never a crash
        return False, f"json_schema: cannot validate: {type(exc).__name__}"
    if error is None:
        return True, "json_schema: valid"
    return False, f"json_schema: {error.json_path}: {_clip(redact(error.message))}"


def max_output_tokens(
    arg: Any, output: str, output_tokens: int | None, **_: Any
) -> tuple[bool, str]:
    """The output has at most ``arg`` tokens (reported, else estimated)."""
    if output_tokens is None:
        count, how = math.ceil(len(output) / 4), " (estimated: 4 characters per token)"
    else:
        count, how = output_tokens, ""
    verdict = "<=" if count <= arg else ">"
    return (
        count <= arg,
        f"max_output_tokens {arg}: output has {count} tokens{how} ({verdict} {arg})",
    )


def similarity(arg: Any, scores: Mapping[str, float | None], **_: Any) -> tuple[bool, str]:
    """The similarity score to ``expected`` is at least ``arg['min']``."""
    low = float(arg["min"])
    score = scores.get("similarity")
    if score is None:
        return False, f"similarity >= {low:.2f}: no score (the case has no expected output)"
    ok = score >= low
    return ok, f"similarity {score:.3f} {'>=' if ok else '<'} min {low:.2f} (vs expected)"


def facts(arg: Any, output: str, answer: str | None = None, **_: Any) -> tuple[bool, str]:
    """Every listed fact is supported by the output (by what it adds, for an echo)."""
    missing = unsupported_facts(output if answer is None else answer, arg)
    if not missing:
        return True, f"facts: all {len(arg)} supported"
    listed = ", ".join(_quote(f) for f in missing)
    where = "the output" if answer is None else "what the output adds to the echoed prompt"
    return False, f"facts: {len(missing)} of {len(arg)} not supported by {where}: {listed}"


def forbidden(arg: Any, output: str, **_: Any) -> tuple[bool, str]:
    """None of the listed strings appears in the output."""
    found = forbidden_found(output, arg)
    if not found:
        return True, f"forbidden: none of {len(arg)} found"
    return False, "forbidden: found " + ", ".join(_quote(f) for f in found)


def no_pii(arg: Any, output: str, **_: Any) -> tuple[bool, str]:
    """No PII (of the listed kinds, or of any kind for ``true``) in the output."""
    if arg is False:
        return True, "no_pii: disabled"
    kinds = None if arg is True else arg
    counts = Counter(m.kind for m in find_pii(output, kinds))
    if not counts:
        return True, "no_pii: none found"
    found = ", ".join(f"{kind} ({n})" for kind, n in sorted(counts.items()))
    return False, f"no_pii: found {found}"


def not_refusal(
    arg: Any, output: str, scores: Mapping[str, float | None], **_: Any
) -> tuple[bool, str]:
    """The output is not a refusal at ``quality.refusal.threshold`` (the scorer's flag)."""
    if arg is False:
        return True, "not_refusal: disabled"
    score = refusal_score(output)
    flag = scores.get("refusal")
    refused = is_refusal(output) if flag is None else flag >= 0.5
    if not refused:
        if score > 0.0:  # below the configured threshold: say so rather than stay silent
            return True, "not_refusal: a partial refusal, below quality.refusal.threshold"
        return True, "not_refusal: no refusal"
    kind = "full" if score >= FULL else "partial"
    return False, f"not_refusal: the output is a {kind} refusal"


def not_echo(arg: Any, scores: Mapping[str, float | None], **_: Any) -> tuple[bool, str]:
    """The output does not mostly restate the prompt (``quality.echo.threshold``)."""
    if arg is False:
        return True, "not_echo: disabled"
    share = scores.get("echo") or 0.0
    if scores.get("echoed"):
        return False, f"not_echo: {share:.0%} of the output restates the prompt"
    return True, f"not_echo: {share:.0%} of the output restates the prompt"


def max_repetition(
    arg: Any, output: str, scores: Mapping[str, float | None], **_: Any
) -> tuple[bool, str]:
    """The repetition score is at most ``arg``."""
    score = scores.get("repetition")
    if score is None:
        score = repetition_score(output)
    ok = score <= float(arg)
    return ok, f"max_repetition {float(arg):.2f}: repetition score {score:.2f}"


def judge(
    arg: Any, scores: Mapping[str, float | None], judge_reason: str | None = None, **_: Any
) -> tuple[bool, str]:
    """The LLM judge's score is at least ``arg['min']``."""
    low = float(arg["min"])
    score = scores.get("judge")
    # The reason is model text about the output: it may quote PII from it.
    why = _clip(redact(" ".join(judge_reason.split()))) if judge_reason else ""
    if score is None:
        cause = why or "quality.judge is not configured or the judge was not called"
        return False, f"judge >= {low:.2f}: no score ({cause})"
    ok = score >= low
    detail = f"judge {score:.2f} {'>=' if ok else '<'} min {low:.2f}"
    return ok, f"{detail}: {why}" if why else detail
