"""Per-output checks declared in golden sets: validation and evaluation.

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
``max_repetition``  a number in 0..1: the repetition score must not exceed it
``judge``           ``{min: 0..1}``: the LLM judge's score (``quality.judge``); fails
                    with the judge's reason, or when the judge gave no score
==================  =====================================================================

Details never contain PII found in an output: snippets are passed through
:func:`~pytest_llmguard.metrics.pii.redact` and ``no_pii`` reports kinds and counts only.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from rapidfuzz import process

from pytest_llmguard.exceptions import CheckSpecError

if TYPE_CHECKING:
    from jsonschema.protocols import Validator
from pytest_llmguard.metrics.hallucination import forbidden_found, unsupported_facts
from pytest_llmguard.metrics.pii import PII_KINDS, find_pii, redact
from pytest_llmguard.metrics.refusal import FULL, is_refusal, refusal_score
from pytest_llmguard.metrics.repetition import repetition_score
from pytest_llmguard.records import Case, CheckResult

CHECK_KINDS: tuple[str, ...] = (
    "contains",
    "not_contains",
    "regex",
    "json_schema",
    "max_output_tokens",
    "similarity",
    "facts",
    "forbidden",
    "no_pii",
    "not_refusal",
    "max_repetition",
    "judge",
)

_SNIPPET = 40
_FENCE_RE = re.compile(r"^```[a-zA-Z0-9_-]*\s*\n(.*?)\n?```\s*$", re.DOTALL)


# ---------------------------------------------------------------- validation


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _need_string(kind: str, arg: object) -> None:
    if not isinstance(arg, str) or not arg:
        raise CheckSpecError(f"{kind}: expected a non-empty string, got {_show(arg)}")


def _need_string_list(kind: str, arg: object) -> None:
    if (
        not isinstance(arg, list)
        or not arg
        or not all(isinstance(item, str) and item.strip() for item in arg)
    ):
        raise CheckSpecError(
            f"{kind}: expected a non-empty list of non-empty strings, got {_show(arg)}",
            hint=f'{kind}: ["30 days", "receipt"]',
        )


def _show(arg: object) -> str:
    text = json.dumps(arg, default=str) if not isinstance(arg, str) else repr(arg)
    return f"{type(arg).__name__} {text[:60]}"


def _validate_regex(arg: object) -> None:
    _need_string("regex", arg)
    assert isinstance(arg, str)
    try:
        _compiled(arg)
    except re.error as exc:
        where = f" at position {exc.pos}" if exc.pos is not None else ""
        raise CheckSpecError(
            f"regex: invalid regular expression {arg!r}: {exc.msg}{where}",
            hint="YAML double-quoted strings need \\\\ for a backslash; single quotes do not",
        ) from None


def _validate_schema(arg: object) -> None:
    if not isinstance(arg, dict):
        raise CheckSpecError(
            f"json_schema: expected a JSON Schema object, got {_show(arg)}",
            hint="json_schema: {type: object, required: [answer]}",
        )
    from jsonschema.exceptions import SchemaError  # only sets with json_schema checks pay for it

    try:
        _validator(json.dumps(arg, sort_keys=True))
    except SchemaError as exc:
        path = "/".join(str(p) for p in exc.path) or "(root)"
        raise CheckSpecError(f"json_schema: invalid schema at {path}: {exc.message}") from None
    except RecursionError:
        raise CheckSpecError("json_schema: the schema is nested too deeply") from None
    _check_refs(arg, arg)


def _check_refs(node: object, root: dict[str, Any], depth: int = 0) -> None:
    """Every ``$ref`` must be local (``#/...``) and resolve: no network, no crash later."""
    if depth > 200:
        raise CheckSpecError("json_schema: the schema is nested too deeply")
    if isinstance(node, dict):
        ref = node.get("$ref")
        if ref is not None:
            if not isinstance(ref, str) or not (ref == "#" or ref.startswith("#/")):
                raise CheckSpecError(
                    f"json_schema: $ref {ref!r} is not a local reference",
                    hint="only references inside the schema (#/...) are allowed",
                )
            target: object = root
            for part in ref[2:].split("/") if ref != "#" else ():
                part = part.replace("~1", "/").replace("~0", "~")
                if isinstance(target, dict) and part in target:
                    target = target[part]
                elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
                    target = target[int(part)]
                else:
                    raise CheckSpecError(f"json_schema: $ref {ref!r} does not resolve")
        for value in node.values():
            _check_refs(value, root, depth + 1)
    elif isinstance(node, list):
        for value in node:
            _check_refs(value, root, depth + 1)


def _validate_max_tokens(arg: object) -> None:
    if isinstance(arg, bool) or not isinstance(arg, int) or arg <= 0:
        raise CheckSpecError(f"max_output_tokens: expected a positive integer, got {_show(arg)}")


def _validate_min(kind: str) -> Callable[[object], None]:
    def check(arg: object) -> None:
        if not isinstance(arg, dict) or set(arg) != {"min"}:
            raise CheckSpecError(
                f"{kind}: expected {{min: <number 0..1>}}, got {_show(arg)}",
                hint=f"{kind}: {{min: 0.7}}",
            )
        low = arg["min"]
        if not _is_number(low) or not 0.0 <= low <= 1.0:
            raise CheckSpecError(f"{kind}: min must be a number from 0 to 1, got {_show(low)}")

    return check


def _validate_no_pii(arg: object) -> None:
    if isinstance(arg, bool):
        return
    if isinstance(arg, list) and arg and all(isinstance(k, str) for k in arg):
        unknown = [k for k in arg if k not in PII_KINDS]
        if not unknown:
            return
        raise CheckSpecError(
            f"no_pii: unknown PII kind {unknown[0]!r}; valid: {', '.join(PII_KINDS)}"
        )
    raise CheckSpecError(
        f"no_pii: expected true, false or a list of PII kinds ({', '.join(PII_KINDS)}), "
        f"got {_show(arg)}"
    )


def _validate_bool(kind: str) -> Callable[[object], None]:
    def check(arg: object) -> None:
        if not isinstance(arg, bool):
            raise CheckSpecError(f"{kind}: expected true or false, got {_show(arg)}")

    return check


def _validate_max_repetition(arg: object) -> None:
    if not _is_number(arg) or not 0.0 <= float(arg) <= 1.0:  # type: ignore[arg-type]
        raise CheckSpecError(
            f"max_repetition: expected a number from 0 to 1, got {_show(arg)}",
            hint="max_repetition: 0.3",
        )


_VALIDATORS: dict[str, Callable[[object], None]] = {
    "contains": functools.partial(_need_string, "contains"),
    "not_contains": functools.partial(_need_string, "not_contains"),
    "regex": _validate_regex,
    "json_schema": _validate_schema,
    "max_output_tokens": _validate_max_tokens,
    "similarity": _validate_min("similarity"),
    "facts": functools.partial(_need_string_list, "facts"),
    "forbidden": functools.partial(_need_string_list, "forbidden"),
    "no_pii": _validate_no_pii,
    "not_refusal": _validate_bool("not_refusal"),
    "max_repetition": _validate_max_repetition,
    "judge": _validate_min("judge"),
}


def validate_check(kind: str, arg: object) -> None:
    """Raise :class:`CheckSpecError` when ``kind: arg`` is not a valid check.

    The message says what is wrong and what is valid; the golden-set loader adds the
    file and line.
    """
    validator = _VALIDATORS.get(kind)
    if validator is None:
        guess = process.extractOne(kind, CHECK_KINDS, score_cutoff=60)
        hint = f"did you mean {guess[0]!r}?" if guess else None
        raise CheckSpecError(f"unknown check {kind!r}; valid: {', '.join(CHECK_KINDS)}", hint=hint)
    validator(arg)


# ---------------------------------------------------------------- evaluation


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@functools.lru_cache(maxsize=256)
def _validator(schema_key: str) -> Validator:
    import jsonschema

    schema = json.loads(schema_key)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator: Validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return validator


def _snippet(output: str, start: int, end: int) -> str:
    left = max(0, start - _SNIPPET)
    right = min(len(output), end + _SNIPPET)
    text = output[left:right].replace("\n", " ")
    prefix = "..." if left else ""
    suffix = "..." if right < len(output) else ""
    return f"{prefix}{redact(text)}{suffix}"


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _parse_json_output(output: str) -> Any:
    text = output.strip()
    fenced = _FENCE_RE.match(text)
    if fenced:
        text = fenced.group(1)
    return json.loads(text)


def _contains(arg: Any, output: str, **_: Any) -> tuple[bool, str]:
    if arg in output:
        return True, f"contains {_quote(arg)}: found"
    return False, f"contains {_quote(arg)}: not found in output"


def _not_contains(arg: Any, output: str, **_: Any) -> tuple[bool, str]:
    at = output.find(arg)
    if at < 0:
        return True, f"not_contains {_quote(arg)}: not found"
    snippet = _snippet(output, at, at + len(arg))
    return False, f"not_contains {_quote(arg)}: found at char {at}: {_quote(snippet)}"


def _regex(arg: Any, output: str, **_: Any) -> tuple[bool, str]:
    m = _compiled(arg).search(output)
    if m is None:
        return False, f"regex /{arg}/: no match in output"
    return True, f"regex /{arg}/: matched {_quote(redact(m.group(0))[:80])}"


def _json_schema(arg: Any, output: str, **_: Any) -> tuple[bool, str]:
    import jsonschema

    try:
        value = _parse_json_output(output)
    except json.JSONDecodeError as exc:
        return (
            False,
            f"json_schema: output is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
        )
    try:
        error = jsonschema.exceptions.best_match(
            _validator(json.dumps(arg, sort_keys=True)).iter_errors(value)
        )
    except (jsonschema.exceptions.SchemaError, RecursionError, LookupError) as exc:
        # validated at load time; anything left is reported on the case, never a crash
        return False, f"json_schema: cannot validate: {type(exc).__name__}"
    if error is None:
        return True, "json_schema: valid"
    message = redact(error.message)
    if len(message) > 160:
        message = message[:157] + "..."
    return False, f"json_schema: {error.json_path}: {message}"


def _max_output_tokens(
    arg: Any, output: str, output_tokens: int | None, **_: Any
) -> tuple[bool, str]:
    if output_tokens is None:
        count, how = math.ceil(len(output) / 4), " (estimated: 4 characters per token)"
    else:
        count, how = output_tokens, ""
    verdict = "<=" if count <= arg else ">"
    return (
        count <= arg,
        f"max_output_tokens {arg}: output has {count} tokens{how} ({verdict} {arg})",
    )


def _similarity(arg: Any, scores: Mapping[str, float | None], **_: Any) -> tuple[bool, str]:
    low = float(arg["min"])
    score = scores.get("similarity")
    if score is None:
        return False, f"similarity >= {low:.2f}: no score (the case has no expected output)"
    ok = score >= low
    return ok, f"similarity {score:.3f} {'>=' if ok else '<'} min {low:.2f} (vs expected)"


def _facts(arg: Any, output: str, **_: Any) -> tuple[bool, str]:
    missing = unsupported_facts(output, arg)
    if not missing:
        return True, f"facts: all {len(arg)} supported"
    listed = ", ".join(_quote(f) for f in missing)
    return False, f"facts: {len(missing)} of {len(arg)} not supported by the output: {listed}"


def _forbidden(arg: Any, output: str, **_: Any) -> tuple[bool, str]:
    found = forbidden_found(output, arg)
    if not found:
        return True, f"forbidden: none of {len(arg)} found"
    return False, "forbidden: found " + ", ".join(_quote(f) for f in found)


def _no_pii(arg: Any, output: str, **_: Any) -> tuple[bool, str]:
    if arg is False:
        return True, "no_pii: disabled"
    kinds = None if arg is True else arg
    counts = Counter(m.kind for m in find_pii(output, kinds))
    if not counts:
        return True, "no_pii: none found"
    found = ", ".join(f"{kind} ({n})" for kind, n in sorted(counts.items()))
    return False, f"no_pii: found {found}"


def _not_refusal(
    arg: Any, output: str, scores: Mapping[str, float | None], **_: Any
) -> tuple[bool, str]:
    if arg is False:
        return True, "not_refusal: disabled"
    score = refusal_score(output)
    if not is_refusal(output):
        return True, "not_refusal: no refusal"
    kind = "full" if score >= FULL else "partial"
    return False, f"not_refusal: the output is a {kind} refusal"


def _max_repetition(
    arg: Any, output: str, scores: Mapping[str, float | None], **_: Any
) -> tuple[bool, str]:
    score = scores.get("repetition")
    if score is None:
        score = repetition_score(output)
    ok = score <= float(arg)
    return ok, f"max_repetition {float(arg):.2f}: repetition score {score:.2f}"


def _judge(
    arg: Any, scores: Mapping[str, float | None], judge_reason: str | None = None, **_: Any
) -> tuple[bool, str]:
    low = float(arg["min"])
    score = scores.get("judge")
    # The reason is model text about the output: it may quote PII from it.
    why = redact(" ".join(judge_reason.split())) if judge_reason else ""
    if len(why) > 160:
        why = why[:157] + "..."
    if score is None:
        cause = why or "quality.judge is not configured or the judge was not called"
        return False, f"judge >= {low:.2f}: no score ({cause})"
    ok = score >= low
    detail = f"judge {score:.2f} {'>=' if ok else '<'} min {low:.2f}"
    return ok, f"{detail}: {why}" if why else detail


_EVALUATORS: dict[str, Callable[..., tuple[bool, str]]] = {
    "contains": _contains,
    "not_contains": _not_contains,
    "regex": _regex,
    "json_schema": _json_schema,
    "max_output_tokens": _max_output_tokens,
    "similarity": _similarity,
    "facts": _facts,
    "forbidden": _forbidden,
    "no_pii": _no_pii,
    "not_refusal": _not_refusal,
    "max_repetition": _max_repetition,
    "judge": _judge,
}


def evaluate_checks(
    case: Case,
    output: str,
    output_tokens: int | None,
    scores: Mapping[str, float | None],
    *,
    judge_reason: str | None = None,
) -> tuple[CheckResult, ...]:
    """One :class:`CheckResult` per declared check of ``case``, in declaration order.

    ``scores`` are the batch-computed scores of this output (``similarity`` and ``judge``
    are read from there; ``repetition`` too when present). ``judge_reason`` is the LLM
    judge's explanation (or why it gave no score), shown in ``judge`` check details.
    """
    results = []
    for check in case.checks:
        evaluate = _EVALUATORS[check.kind]
        passed, detail = evaluate(
            check.arg,
            output=output,
            output_tokens=output_tokens,
            scores=scores,
            judge_reason=judge_reason,
        )
        results.append(CheckResult(check.kind, passed, detail))
    return tuple(results)
