"""Validate the ``logs`` config section into ``LogsConfig``.

The JSON Schema has checked the types already; this adds what a schema cannot say: a
time bound is a duration or a date, ``fields`` are only for ``openai-jsonl`` and name
known fields, every check is a valid check. Messages name the key path; ``config.build``
adds the file and line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_llmguard.config.records import (
    FeedbackConfig,
    LogsConfig,
    LogSourceConfig,
    SampleConfig,
)
from pytest_llmguard.exceptions import CheckSpecError, ConfigError
from pytest_llmguard.sources.window import check_bound
from pytest_llmguard.suggest import did_you_mean_hint

DOCS = "replaying-production-logs"
# The fields an openai-jsonl record is read for (sources/openai_jsonl.py), which
# ``logs.sources[].fields`` may point elsewhere.
OPENAI_JSONL_FIELDS = (
    "id",
    "timestamp",
    "messages",
    "request",
    "response",
    "output",
    "model",
    "latency_ms",
    "ttft_ms",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "error",
    "feedback",
    "route",
    "tags",
    "prompt_name",
    "prompt_version",
)


def parse_logs(raw: Mapping[str, Any]) -> LogsConfig:
    """The typed ``logs`` section; ConfigError with a dotted key path for a bad value."""
    sources = tuple(_source(i, s) for i, s in enumerate(raw.get("sources") or ()))
    sample = raw.get("sample") or {}
    for key in ("since", "until"):
        value = sample.get(key)
        problem = check_bound(value) if isinstance(value, str) else None
        if problem is not None:
            raise ConfigError(problem, key_path=f"logs.sample.{key}", docs=DOCS)
    by = sample.get("by") or ()
    default = SampleConfig()
    dedupe = sample.get("dedupe", default.dedupe)
    if dedupe is True:
        raise ConfigError(
            "dedupe: true is not a similarity; use a number between 0 and 1 (0.95 drops "
            "prompts 95% alike), or false to keep near-duplicates",
            key_path="logs.sample.dedupe",
            docs=DOCS,
        )
    feedback = raw.get("feedback") or {}
    default_feedback = FeedbackConfig()
    return LogsConfig(
        sources=sources,
        sample=SampleConfig(
            n=int(sample.get("n", default.n)),
            by=(by,) if isinstance(by, str) else tuple(by),
            min_per_stratum=int(sample.get("min_per_stratum", default.min_per_stratum)),
            since=sample.get("since"),
            until=sample.get("until"),
            seed=int(sample.get("seed", default.seed)),
            dedupe=None if dedupe is False or dedupe is None else float(dedupe),
        ),
        feedback=FeedbackConfig(
            names=tuple(feedback.get("names") or ()),
            negative_below=float(feedback.get("negative_below", default_feedback.negative_below)),
            negative_values=tuple(
                v.strip().lower()
                for v in feedback.get("negative_values", default_feedback.negative_values)
            ),
        ),
        strict=bool(raw.get("strict", False)),
        checks=_checks(raw.get("checks") or ()),
    )


def _source(index: int, raw: Mapping[str, Any]) -> LogSourceConfig:
    where = f"logs.sources[{index}]"
    fmt = str(raw.get("format", "auto"))
    fields = {str(k): str(v) for k, v in (raw.get("fields") or {}).items()}
    if fields and fmt not in ("auto", "openai-jsonl"):
        raise ConfigError(
            f"'fields' maps the fields of openai-jsonl records; this source's format is {fmt!r}",
            key_path=f"{where}.fields",
            docs=DOCS,
        )
    for name in fields:
        if name not in OPENAI_JSONL_FIELDS:
            raise ConfigError(
                f"unknown field {name!r}" + did_you_mean_hint(name, OPENAI_JSONL_FIELDS),
                key_path=f"{where}.fields.{name}",
                hint=f"fields: {', '.join(OPENAI_JSONL_FIELDS)}",
                docs=DOCS,
            )
    strict = raw.get("strict")
    return LogSourceConfig(
        path=str(raw["path"]),
        format="openai-jsonl" if fields and fmt == "auto" else fmt,
        fields=fields,
        strict=None if strict is None else bool(strict),
    )


def _checks(raw: Any) -> tuple[Mapping[str, Any], ...]:
    # Imported here: checks depends on heavier scoring code than loading needs.
    from pytest_llmguard.checks import validate_check

    out: list[Mapping[str, Any]] = []
    for index, item in enumerate(raw):
        ((kind, arg),) = item.items()
        try:
            validate_check(kind, arg)
        except CheckSpecError as exc:
            raise ConfigError(
                exc.message.removeprefix(f"{kind}: "),
                key_path=f"logs.checks[{index}].{kind}",
                hint=exc.hint,
                docs=exc.docs or DOCS,
            ) from None
        out.append({kind: arg})
    return tuple(out)
