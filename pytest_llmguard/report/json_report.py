"""The machine-readable report (``schemas/report.schema.json``, ``schema_version`` 1).

It carries every raw observation, so a saved report is also a baseline for a later run.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from pytest_llmguard import __version__
from pytest_llmguard.outcome import Outcome

SCHEMA_VERSION = 1


def build_report(outcome: Outcome) -> dict[str, Any]:
    """The report as plain JSON-able data."""
    targets: dict[str, Any] = {}
    for name, summary in outcome.summaries.items():
        target = outcome.targets.get(name)
        targets[name] = {
            "provider": summary.provider,
            "model": summary.model,
            "base_url": target.base_url if target else None,
            "n": summary.n,
            "n_cases": summary.n_cases,
            "metrics": dict(summary.metrics),
            "errors_by_class": dict(summary.errors_by_class),
        }
    cases = []
    # Two targets (and repeats) share each case's own fields: look them up once.
    case_fields: dict[str, tuple[str, str | None, str, tuple[str, ...], Any]] = {}
    for s in outcome.scored:
        o = s.observation
        key = o.case_key
        fields = case_fields.get(key)
        if fields is None:
            case = outcome.cases.get(key)
            if case is not None:
                origin = case.provenance.to_dict() if case.provenance else None
                fields = (case.id, case.set_name, case.set_path, case.tags, origin)
            else:
                set_path, _, case_id = key.rpartition("::")
                fields = (case_id, None, set_path, (), None)
            case_fields[key] = fields
        error = o.error
        cases.append(
            {
                "id": fields[0],
                "key": key,
                "set": fields[1],
                "set_path": fields[2],
                "tags": fields[3],  # a tuple: written as a JSON array
                "target": o.target,
                "repeat_index": o.repeat_index,
                "model": o.model,
                "passed": s.passed,
                "output": o.output,
                "latency_ms": o.latency_ms,
                "ttft_ms": o.ttft_ms,
                "input_tokens": o.input_tokens,
                "output_tokens": o.output_tokens,
                "cached_tokens": o.cached_tokens,
                "cache_write_tokens": o.cache_write_tokens,
                "reasoning_tokens": o.reasoning_tokens,
                "cost_usd": o.cost_usd,
                "cached": o.cached,
                "attempts": o.attempts,
                "started_at": o.started_at,
                "finish_reason": o.finish_reason,
                "tokens_estimated": o.tokens_estimated,
                "redacted": list(o.redacted),  # kinds removed from the stored text (redact:)
                "error": error.to_dict() if error else None,
                "checks": [c.to_dict() for c in s.checks],
                "scores": dict(s.scores),
                # a case sampled from production logs: the record it came from
                "provenance": fields[4],
            }
        )
    return {
        "schema_version": SCHEMA_VERSION,
        "run": {
            "started_at": outcome.started_at,
            "finished_at": outcome.finished_at,
            "duration_s": outcome.duration_s,
            "partial": not outcome.complete,
            "complete": outcome.complete,
            "incomplete": list(outcome.incomplete),
            "failed_items": outcome.failed_items,
            "git": {"commit": outcome.git.get("commit"), "branch": outcome.git.get("branch")},
            "config_path": outcome.config_path,
            "llmguard_version": __version__,
            "shard": (
                None
                if outcome.shard is None
                else {"index": outcome.shard[0], "count": outcome.shard[1]}
            ),
            "inputs_digest": outcome.inputs_digest,
            "config_digest": outcome.config_digest,
        },
        "verdict": outcome.verdict,
        "candidate": outcome.candidate,
        "baseline": outcome.baseline.to_dict() if outcome.baseline else None,
        "notes": list(outcome.notes),
        "targets": targets,
        "comparisons": [c.to_dict() for c in outcome.comparisons],
        "regressions": [r.to_dict() for r in outcome.regressions],
        "judge": dict(outcome.judge) if outcome.judge else None,
        "cases": cases,
    }


# The C encoder: json.dumps(indent=...) silently falls back to the pure-Python one, which
# took 3 s for a 20,000-observation report here (this takes ~0.3 s).
_ONE_LINE = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": "), allow_nan=False)


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinity made null: they are not JSON, and a reader
    (``jq``, JavaScript, a strict parser) would reject the whole report."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def _strict(encode: Callable[[Any], str]) -> Callable[[Any], str]:
    """``encode``, retried on the value made :func:`finite` if it holds NaN or infinity."""

    def encode_finite(value: Any) -> str:
        try:
            return encode(value)
        except ValueError:  # "Out of range float values are not JSON compliant"
            return encode(finite(value))

    return encode_finite


def _case_encoder() -> Callable[[Any], str]:
    """``_ONE_LINE.encode`` for one case, with the C encoder built once, not per case.

    Building it per call (what ``JSONEncoder.encode`` does) was a fifth of the encoding
    time of a large report. No circular-reference bookkeeping: cases are plain trees.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator in this Python
        return _ONE_LINE.encode
    encode = make(
        None,
        _ONE_LINE.default,
        json.encoder.encode_basestring,
        None,
        _ONE_LINE.key_separator,
        _ONE_LINE.item_separator,
        False,
        False,
        False,  # allow_nan: a NaN raises, and the case is written again made finite
    )
    join = "".join

    def one_line(case: Any) -> str:
        return join(encode(case, 0))

    return one_line


_ENCODE_CASE = _strict(_case_encoder())


# orjson encodes a report's cases about 10x faster than the C encoder above, but only in
# one call over the whole list (called once per case it is just 2.4x). The cases are
# encoded as one array with this marker between them, then cut at the markers: a '"' that
# is part of a string is always written escaped, so ',"<marker>",' can only be an element.
_BREAK = "\x00llmguard-case-break\x00"
_BREAK_BYTES = b',"\\u0000llmguard-case-break\\u0000",'


def _case_lines(cases: list[Any]) -> str:
    """Each case as one line of JSON, joined for the report (orjson if it is installed)."""
    try:
        import orjson
    except ImportError:  # it has no wheel for this Python: the C encoder still does it
        return ",\n  ".join(map(_ENCODE_CASE, cases))
    spaced: list[Any] = [_BREAK] * (2 * len(cases) - 1)
    spaced[::2] = cases
    try:
        encoded = orjson.dumps(spaced)
    except (orjson.JSONEncodeError, TypeError):
        # e.g. an integer beyond 64 bits, or a non-string key: what json accepts, json does
        return ",\n  ".join(map(_ENCODE_CASE, cases))
    inner = encoded[1:-1]
    if inner.count(_BREAK_BYTES) != len(cases) - 1:  # a case holds the marker itself
        return ",\n  ".join(map(_ENCODE_CASE, cases))
    return inner.replace(_BREAK_BYTES, b",\n  ").decode("utf-8")


def dumps_report(document: Mapping[str, Any]) -> str:
    """The report as JSON text: indented at the top, one line per case (diffable, fast).

    Parses to exactly ``document``; only the layout differs from ``json.dumps(indent=1)``.
    """
    # One final join: a large report is tens of MB, and each concatenation copies it all.
    pieces: list[str] = ["{\n"]
    for key, value in document.items():
        if len(pieces) > 1:
            pieces.append(",\n")
        pieces += (" ", json.dumps(key, ensure_ascii=False), ": ")
        if key == "cases" and isinstance(value, list) and value:
            pieces += ("[\n  ", _case_lines(value), "\n ]")
        else:
            pieces.append(_dumps_indented(value).replace("\n", "\n "))
    pieces.append("\n}")
    return "".join(pieces)


def _dumps_indented(value: Any) -> str:
    try:
        return json.dumps(value, indent=1, ensure_ascii=False, allow_nan=False)
    except ValueError:
        return json.dumps(finite(value), indent=1, ensure_ascii=False, allow_nan=False)
