"""Log records as cases (redacted, stable ids, provenance), the golden set `llmguard sample`
writes, and the production baseline judged by verdict.assess."""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from pytest_llmguard.baseline import BaselinePlan, ProductionSide
from pytest_llmguard.cli import main
from pytest_llmguard.config import Config, GateConfig, LogsConfig, LogSourceConfig, SampleConfig
from pytest_llmguard.config.budgets import parse_budgets
from pytest_llmguard.golden import load_golden_set
from pytest_llmguard.metrics.pii import find_pii
from pytest_llmguard.outcome import Judgement
from pytest_llmguard.records import Message, Observation, Provenance, ScoredObservation
from pytest_llmguard.sources.cases import log_sets, to_case
from pytest_llmguard.sources.loading import LogCases, load_log_cases
from pytest_llmguard.sources.production import production_side
from pytest_llmguard.sources.record import LogRecord
from pytest_llmguard.summary import summarize
from pytest_llmguard.verdict import assess

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "logs"
NOW = 1_746_100_800.0 + 3 * 86400


def pii_record() -> LogRecord:
    return LogRecord(
        messages=(
            Message("system", "You are Acme's support assistant."),
            Message("user", "Where is order 48213? Mail me at jane.doe@example.com"),
        ),
        response="It shipped; tracking went to jane.doe@example.com, call +1 415 555 0132.",
        provenance=Provenance(file="logs/app.jsonl", line=3, request_id="chatcmpl-7"),
        params={"temperature": 0.2},
    )


def test_a_case_is_redacted_and_keeps_its_provenance() -> None:
    case = to_case(pii_record(), "app.jsonl", checks=({"similarity": {"min": 0.6}},))
    text = " ".join(m.content for m in case.messages) + (case.expected or "")
    assert not find_pii(text)
    assert "[REDACTED:email]" in case.messages[1].content
    assert case.expected is not None and "[REDACTED:phone]" in case.expected
    assert case.id.startswith("where-is-order-48213-mail-me-")
    assert case.key == f"logs/app.jsonl::{case.id}"
    assert case.provenance == pii_record().provenance and case.line == 3
    assert case.tags == ("logs",) and dict(case.params) == {"temperature": 0.2}
    assert [c.kind for c in case.checks] == ["similarity"]
    # no logged response: no reference, so no similarity check
    failed = to_case(
        LogRecord(pii_record().messages, None, pii_record().provenance, error="timeout"),
        "app.jsonl",
        checks=({"similarity": {"min": 0.6}}, {"not_contains": "sorry"}),
    )
    assert failed.expected is None and [c.kind for c in failed.checks] == ["not_contains"]


def test_ids_are_stable_and_sets_are_per_file() -> None:
    record = pii_record()
    assert to_case(record, "a").id == to_case(record, "b").id
    moved = LogRecord(
        record.messages,
        record.response,
        Provenance(file="other/x.jsonl", line=99, request_id="chatcmpl-7"),
    )
    assert to_case(moved, "x").id == to_case(record, "a").id  # same record, other file
    sets, behind = log_sets([record, moved], taken_names=["app"])
    assert [s.name for s in sets] == ["logs-app_jsonl", "x"]
    assert [s.path for s in sets] == ["logs/app.jsonl", "other/x.jsonl"]
    assert set(behind) == {c.key for s in sets for c in s.cases}


def _config(tmp: Path, *, n: int = 12, dedupe: float | None = 0.95) -> Config:
    source = LogSourceConfig(path="logs/")
    logs = LogsConfig(sources=(source,), sample=SampleConfig(n=n, seed=1, dedupe=dedupe))
    return Config(rootdir=str(tmp), logs=logs)


def test_resampling_the_same_records_gives_the_same_cases(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    shutil.copy(DATA / "openai" / "app.jsonl", tmp_path / "logs" / "a.jsonl")
    first = load_log_cases(_config(tmp_path), now=NOW)
    # the same records, reordered and split across two files under other names
    lines = (DATA / "openai" / "app.jsonl").read_text().splitlines()
    random.Random(5).shuffle(lines)
    (tmp_path / "logs" / "a.jsonl").unlink()
    (tmp_path / "logs" / "z1.jsonl").write_text("\n".join(lines[:12]) + "\n")
    (tmp_path / "logs" / "z2.jsonl").write_text("\n".join(lines[12:]) + "\n")
    second = load_log_cases(_config(tmp_path), now=NOW)
    ids = sorted(c.id for s in first.sets for c in s.cases)
    assert ids == sorted(c.id for s in second.sets for c in s.cases)
    assert len(ids) == 12 and first.read.bad == 2 == second.read.bad


def test_llmguard_sample_writes_a_loadable_golden_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "logs").mkdir()
    for name in (
        "openai/app.jsonl",
        "langfuse/observations.jsonl",
        "litellm/standard-logging.jsonl",
    ):
        shutil.copy(DATA / name, tmp_path / "logs" / name.replace("/", "-"))
    out = tmp_path / "golden_sets" / "prod.yaml"
    argv = ["sample", "--from", "logs/*", "-n", "10", "--by", "model", "-o", str(out)]
    assert main(argv) == 0
    said = capsys.readouterr().out
    assert "wrote" in said and "10 case(s) in golden set 'prod'" in said
    text = out.read_text()
    assert text.startswith("# Sampled by `llmguard sample`")
    assert "jane.doe@example.com" not in text and "4111 1111" not in text
    golden = load_golden_set(str(out), str(tmp_path))
    assert golden.name == "prod" and len(golden.cases) == 10
    assert all(
        c.provenance is not None and c.provenance.file.startswith("logs/") for c in golden.cases
    )
    assert {c.tags for c in golden.cases} == {("logs",)}
    again = tmp_path / "again.yaml"
    assert main([*argv[:-1], str(again)]) == 0
    assert [c.id for c in load_golden_set(str(again), str(tmp_path)).cases] == [
        c.id for c in golden.cases
    ]


def test_llmguard_sample_errors_are_exit_4(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["sample", "--from", "missing/*.jsonl", "-o", "x.yaml"]) == 4
    assert "matches no file" in capsys.readouterr().err
    (tmp_path / "a.jsonl").write_text((DATA / "openai" / "app.jsonl").read_text())
    assert main(["sample", "--from", "a.jsonl", "--by", "colour", "-o", "x.yaml"]) == 4
    assert "--by colour: not a field" in capsys.readouterr().err
    assert main(["sample", "--from", "a.jsonl", "--since", "yesterday", "-o", "x.yaml"]) == 4
    assert main(["sample", "--from", "a.jsonl", "--dedupe", "lots", "-o", "x.yaml"]) == 4
    assert "--dedupe lots: expected a similarity" in capsys.readouterr().err
    assert not (tmp_path / "x.yaml").exists()


def _production(tmp: Path) -> tuple[LogCases, ProductionSide]:
    """Every record of the openai fixture, sampled, and the production side it makes."""
    (tmp / "logs").mkdir()
    shutil.copy(DATA / "openai" / "app.jsonl", tmp / "logs" / "app.jsonl")
    config = _config(tmp, n=30, dedupe=None)
    cases = load_log_cases(config, now=NOW)
    return cases, production_side(cases, config)


def _judge(
    side: ProductionSide,
    change: Callable[[Observation], Observation],
    scores: dict[str, float | None],
) -> Judgement:
    """A candidate that answered every logged case as ``change`` says, judged on latency
    and ttft against the production side."""
    candidate = [
        ScoredObservation(
            change(
                Observation(
                    case_key=s.observation.case_key,
                    target="candidate",
                    repeat_index=0,
                    model="sim",
                    output="ok",
                    latency_ms=s.observation.latency_ms or 1000.0,
                    ttft_ms=s.observation.ttft_ms,
                    input_tokens=s.observation.input_tokens,
                    output_tokens=s.observation.output_tokens,
                )
            ),
            scores=scores,
        )
        for s in side.scored
    ]
    budgets = parse_budgets(
        {"latency_p50_ms": {"max_increase": "10%"}, "ttft_p95_ms": {"max_increase": "10%"}}
    )
    baseline, _ = BaselinePlan("candidate", production=side).resolve({}, {})
    return assess(
        {"candidate": summarize("candidate", "sim", "sim", candidate)},
        candidate,
        budgets=budgets,
        gate=GateConfig(min_cases=5),
        candidate="candidate",
        baseline=baseline,
    )


def test_production_baseline_judges_a_candidate(tmp_path: Path) -> None:
    cases, side = _production(tmp_path)
    assert isinstance(side, ProductionSide)
    assert side.info.source == "production" and "logs/app.jsonl: 24 sampled" in side.info.label
    by_key = {s.observation.case_key: s for s in side.scored}
    pairs = cases.pairs()
    assert len(by_key) == len(pairs) == 24
    errors = [s for s in side.scored if s.observation.error is not None]
    assert {e.observation.error.cls for e in errors} == {"rate_limit", "timeout"}  # type: ignore[union-attr]
    # cost from the price table (the log has none), PII scored before redaction
    ok = [s for s in side.scored if s.observation.ok]
    assert all(s.observation.cost_usd is not None for s in ok)
    assert any(s.scores.get("pii") == 1.0 for s in ok)
    assert not any(find_pii(s.observation.output or "") for s in ok)
    summary = summarize("production", "logs", "m", list(side.scored))
    negative = sum(1 for _, r in pairs if r.feedback == "negative")
    rated = sum(1 for _, r in pairs if r.feedback is not None)
    assert summary.metrics["feedback_negative_rate"] == pytest.approx(negative / rated)

    # a candidate 50% slower on every case: the latency budget fails, paired by case
    judgement = _judge(
        side,
        lambda o: replace(o, latency_ms=(o.latency_ms or 1000.0) * 1.5, ttft_ms=None),
        {"feedback_negative": None},
    )
    latency = next(c for c in judgement.comparisons if c.metric == "latency_p50_ms")
    assert latency.verdict == "fail" and latency.paired
    assert judgement.baseline is not None and judgement.baseline.source == "production"
    ttft = next(c for c in judgement.comparisons if c.metric == "ttft_p95_ms")
    assert ttft.verdict == "skip"  # the candidate has no ttft; the logs have it for a few
    assert json.dumps(judgement.baseline.to_dict())
    # the production side is reported beside the targets, with its feedback, ungated
    assert judgement.summaries["production"].metrics["feedback_negative_rate"] == pytest.approx(
        negative / rated
    )
    assert {c.candidate for c in judgement.comparisons} == {"candidate"}


def test_a_metric_the_logs_lack_on_the_same_cases_is_compared_unpaired_and_said(
    tmp_path: Path,
) -> None:
    _, side = _production(tmp_path)
    timed = {s.observation.case_key for s in side.scored if s.observation.ttft_ms is not None}
    assert len(timed) == 6  # the logs have a first-token time for 6 of 24 records
    # the candidate streams the other 18: no case has ttft on both sides
    judgement = _judge(
        side, lambda o: replace(o, ttft_ms=None if o.case_key in timed else 200.0), {}
    )
    by_metric = {c.metric: c for c in judgement.comparisons}
    assert by_metric["latency_p50_ms"].paired and not by_metric["ttft_p95_ms"].paired
    assert by_metric["ttft_p95_ms"].verdict != "skip"
    assert (
        "compared unpaired with production (too few cases had the value on both sides): "
        "ttft_p95_ms" in judgement.notes
    )
