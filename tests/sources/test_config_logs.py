"""The ``logs`` config section: typed, checked once, errors with file, line and key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_llmguard.config import Config, LogSourceConfig, load_config
from pytest_llmguard.config.overrides import Options, apply_options
from pytest_llmguard.exceptions import ConfigError

TARGETS = "targets: {a: {provider: openai, model: m}, b: {provider: openai, model: m}}\n"


def load(tmp_path: Path, text: str, targets: str = TARGETS) -> Config:
    (tmp_path / "llmguard.yaml").write_text(targets + text)
    return load_config(str(tmp_path))


def test_the_section_is_typed(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        "logs:\n"
        "  sources: [{path: a.jsonl}, {path: t/*.json, format: otel, strict: true}]\n"
        "  sample: {n: 50, by: model, min_per_stratum: 2, since: 7d, seed: 4, dedupe: false}\n"
        "  feedback: {names: [thumbs], negative_below: 3, negative_values: [Meh]}\n"
        "  checks: [{similarity: {min: 0.5}}]\n",
    )
    logs = config.logs
    assert logs.sources == (
        LogSourceConfig(path="a.jsonl"),
        LogSourceConfig(path="t/*.json", format="otel", strict=True),
    )
    sample = logs.sample
    assert (sample.n, sample.by, sample.min_per_stratum, sample.since) == (50, ("model",), 2, "7d")
    assert (sample.seed, sample.dedupe) == (4, None)
    assert logs.feedback.names == ("thumbs",) and logs.feedback.negative_values == ("meh",)
    assert logs.checks == ({"similarity": {"min": 0.5}},)
    # fields imply openai-jsonl
    mapped = load(tmp_path, "logs: {sources: [{path: a.jsonl, fields: {model: llm}}]}\n")
    assert mapped.logs.sources[0].format == "openai-jsonl"


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("logs: {sample: {dedupe: true}}\n", "logs.sample.dedupe", "dedupe: true is not"),
        ("logs: {sample: {dedupe: 1.5}}\n", "logs.sample.dedupe", "1.5"),
        ("logs: {sample: {until: soon}}\n", "logs.sample.until", "'soon' is neither"),
        ("logs: {sample: {by: [colour]}}\n", "logs.sample.by", "a list of fields: model"),
        ("logs: {checks: [{regex: '('}]}\n", "logs.checks[0].regex", ""),
        ("logs: {sourcse: []}\n", "logs", "sourcse"),
    ],
)
def test_bad_values_are_config_errors(tmp_path: Path, text: str, where: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    assert where in str(info.value) and message in str(info.value)
    assert "llmguard.yaml:2" in str(info.value)


def test_options_override_and_production_needs_logs(tmp_path: Path) -> None:
    config = load(tmp_path, "compare: {baseline: production, candidate: b}\n")
    with pytest.raises(ConfigError, match="no logs are configured"):
        apply_options(config, Options())
    changed, _ = apply_options(config, Options(logs=("x/*.jsonl",), sample=7))
    assert changed.logs.sources == (LogSourceConfig(path="x/*.jsonl"),)
    assert changed.logs.sample.n == 7
    # a target named production is that target, not the logs
    named = load(
        tmp_path,
        "compare: {baseline: production, candidate: b}\n",
        targets=TARGETS.replace("{a:", "{production:"),
    )
    assert apply_options(named, Options())[0].compare is not None
