"""Each log format read from the fixture files of tests/data/logs (see make_fixtures.py):
fields, both generations of attribute names, errors, feedback, damaged input."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from pytest_llmguard.config import FeedbackConfig, LogsConfig, LogSourceConfig
from pytest_llmguard.exceptions import LogSourceError
from pytest_llmguard.sources.loading import read_records
from pytest_llmguard.sources.record import LogRecord
from pytest_llmguard.sources.tally import ReadReport, Tally

ROOT = Path(__file__).resolve().parents[2]
DATA = "tests/data/logs"


def read(
    path: str, fmt: str = "auto", *, strict: bool = False, root: Path = ROOT, **kw: object
) -> tuple[list[LogRecord], ReadReport]:
    tally = Tally()
    source = LogSourceConfig(path=path, format=fmt, **kw)  # type: ignore[arg-type]
    logs = LogsConfig(sources=(source,), strict=strict)
    records = list(read_records(logs, str(root), tally))
    return records, tally.report()


def by_id(records: list[LogRecord]) -> dict[str, LogRecord]:
    out = {}
    for r in records:
        p = r.provenance
        out[p.observation_id or p.span_id or p.request_id or f"{p.file}:{p.line}"] = r
    return out


def test_openai_jsonl_records_errors_feedback_and_damage() -> None:
    records, report = read(f"{DATA}/openai/app.jsonl", "openai-jsonl")
    assert report.records == len(records) == 24
    # line 11 is cut mid-object, the last line is truncated: both counted with their line
    assert report.bad == 2
    assert [(p.file, p.line) for p in report.examples] == [
        (f"{DATA}/openai/app.jsonl", 11),
        (f"{DATA}/openai/app.jsonl", 26),
    ]
    assert "truncated" in report.examples[1].reason
    first = records[0]
    assert first.provenance.line == 1 and first.provenance.request_id == "chatcmpl-0000"
    assert [m.role for m in first.messages] == ["system", "user"]
    assert first.response == "You can ask for a refund within 30 days of purchase."
    assert first.model == "gpt-4o-mini-2024-07-18"  # the response's model, not the alias
    assert (first.input_tokens, first.output_tokens, first.latency, first.ttft_ms) == (
        49,
        14,
        600.0,
        180.0,
    )
    assert first.params == {"temperature": 0.2, "max_tokens": 300}
    assert first.route == "/support/chat" and first.prompt_version == "3"
    assert first.feedback == "positive"
    limited = [r for r in records if r.error == "rate_limit_error"]
    assert limited and all(r.error_status == 429 and r.response is None for r in limited)
    assert any(r.error == "timeout" for r in records)
    assert {r.feedback for r in records} == {"positive", "negative", None}
    assert {r.model for r in records} >= {"gpt-4o-mini-2024-07-18", "gpt-4.1-mini-2025-04-14"}


def test_openai_batch_output_gzip() -> None:
    records, report = read(f"{DATA}/openai/batch-output.jsonl.gz")
    assert len(records) == 6 and report.bad == 0
    assert records[0].provenance.format == "openai-jsonl"
    assert records[0].model == "gpt-4.1-mini-2025-04-14"
    assert records[0].messages[0].content == "How long do I have to ask for a refund?"


def test_openai_field_mapping_for_home_grown_logs(tmp_path: Path) -> None:
    line = {
        "at": 1746100800,
        "chat": {"turns": [{"role": "user", "content": "Hi there"}]},
        "answer": "Hello!",
        "llm": "gpt-4o-mini",
        "took": 412,
        "thumbs": False,
    }
    (tmp_path / "mine.jsonl").write_text(json.dumps(line) + "\n")
    fields = {
        "timestamp": "at",
        "messages": "chat.turns",
        "output": "answer",
        "model": "llm",
        "latency_ms": "took",
        "feedback": "thumbs",
    }
    records, _ = read("mine.jsonl", "openai-jsonl", root=tmp_path, fields=fields)
    (record,) = records
    assert record.messages[0].content == "Hi there" and record.response == "Hello!"
    assert (record.model, record.latency, record.feedback) == ("gpt-4o-mini", 412.0, "negative")
    assert record.started_at == 1746100800.0


def test_otel_all_convention_versions() -> None:
    records, report = read(f"{DATA}/otel", "otel")
    spans = by_id(records)
    assert len(records) == 14
    # 1.37+: content attributes as JSON strings, gen_ai.provider.name, input/output_tokens
    new = spans["eee19b7ec3c1b174"]
    assert [m.role for m in new.messages] == ["system", "user"]
    assert new.messages[0].content.startswith("You are Acme's support assistant")
    assert new.response == "You can ask for a refund within 30 days of purchase."
    assert (new.provider, new.model, new.input_tokens, new.output_tokens) == (
        "openai",
        "gpt-4o-mini-2024-07-18",
        41,
        12,
    )
    assert new.ttft_ms == 210.0 and new.latency == 700.0
    assert new.params == {"temperature": 0.2}
    assert new.provenance.trace_id == "5b8efff798038103d269b633813fc60c"
    # the evaluation event is feedback
    assert spans["eee19b7ec3c1b176"].feedback == "negative"
    # error.type marks a failure
    failed = spans["eee19b7ec3c1b17a"]
    assert failed.error == "500" and failed.error_status == 500 and failed.response is None
    # content on the operation-details span event
    assert spans["eee19b7ec3c1b18a"].response.startswith("The jar and blades")
    # 1.28-1.36: gen_ai.system, prompt_tokens/completion_tokens, per-message span events
    old = spans["eee19b7ec3c1b192"]
    assert (old.provider, old.input_tokens, old.output_tokens) == ("openai", 38, 10)
    assert [m.role for m in old.messages] == ["system", "user"]
    assert old.response == "Open Settings, choose Security, then Reset password."
    # ... and per-message events as log records, joined to their span by id
    joined = spans["eee19b7ec3c1b195"]
    assert joined.messages[0].content == "What are your opening hours on Sunday?"
    assert joined.response.startswith("Our support team answers on Sundays")
    # 1.26: gen_ai.content.prompt / gen_ai.content.completion events, in a gzip file
    legacy = spans["eee19b7ec3c1b19c"]
    assert legacy.response == "Yes, PayPal is accepted at checkout."
    # spans without content are unusable, counted; embeddings and HTTP spans skipped
    assert dict(report.unusable_by_reason) == {
        "LLM span without its content (content capture off?)": 2
    }
    assert dict(report.skipped_by_kind) == {
        "gen_ai embeddings spans": 1,
        "spans that are not LLM calls": 1,
    }
    assert report.bad == 1  # the truncated last line of the collector file


def test_otel_streams_a_large_document_in_constant_memory(tmp_path: Path) -> None:
    """A document is streamed item by item (ijson): the first record comes out after a
    few buffers, not after the 40 MB that follow it are read into memory."""
    import tracemalloc

    document = json.loads((ROOT / DATA / "otel/traces-1.37.json").read_text())
    spans = document["resourceSpans"][0]["scopeSpans"][0]["spans"]
    huge = dict(spans[1], name="x" * 40_000_000)
    document["resourceSpans"][0]["scopeSpans"][0]["spans"] = [spans[0], huge]
    path = tmp_path / "big.json"
    path.write_text(json.dumps(document))
    source = LogSourceConfig(path="big.json", format="otel")
    records = read_records(LogsConfig(sources=(source,)), str(tmp_path), Tally())
    tracemalloc.start()
    first = next(records)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    records.close()
    assert first.provenance.span_id == "eee19b7ec3c1b174"
    assert peak < 8_000_000  # the buffers (1 MB reads), never the file


def test_openinference_spans() -> None:
    records, report = read(f"{DATA}/openinference/phoenix-spans.jsonl", "openinference")
    spans = by_id(records)
    assert len(records) == 6
    flat = spans["span-0000"]  # flattened keys, contents parts
    assert [m.role for m in flat.messages] == ["system", "user"]
    assert flat.messages[1].content == "How long do I have to ask for a refund?"
    assert (flat.model, flat.input_tokens, flat.output_tokens) == ("gpt-4o-mini-2024-07-18", 44, 11)
    assert flat.params == {"temperature": 0.2, "max_tokens": 300}
    assert flat.prompt_version == "v3" and flat.tags == ("support", "chat")
    nested = spans["span-0001"]  # nested attributes, as Phoenix's span JSON may hold them
    assert nested.response == "You can request a refund within 30 days of purchase."
    assert spans["span-0003"].feedback == "negative"  # annotation label thumbs_down
    failed = spans["span-0005"]
    assert failed.error == "openai.APITimeoutError" and failed.response is None
    assert dict(report.skipped_by_kind) == {"openinference RETRIEVER spans": 1}


def test_langfuse_observations_and_scores() -> None:
    records, report = read(f"{DATA}/langfuse", "langfuse")
    obs = by_id(records)
    assert len(records) == 8
    first = obs["obs-000"]
    assert first.provenance.trace_id == "tr-000"
    assert (first.input_tokens, first.output_tokens, first.cost_usd) == (45, 12, 0.000014)
    assert first.ttft_ms == 250.0 and first.prompt_name == "support-answer"
    assert first.prompt_version == "3" and first.route == "/support/orders"
    # scores: BOOLEAN false by observation, NUMERIC 0.9 by trace, CATEGORICAL "bad"
    assert (obs["obs-000"].feedback, obs["obs-001"].feedback, obs["obs-002"].feedback) == (
        "negative",
        "positive",
        "negative",
    )
    assert obs["obs-000"].feedback_detail == "user-feedback = False (BOOLEAN)"
    # an evaluator's score (toxicity) is not user feedback
    assert obs["obs-003"].feedback is None
    assert obs["obs-001"].messages[0].role == "user"  # input as {"messages": [...]}
    assert obs["obs-000"].response.startswith("Order #48213")  # output as a string
    failed = obs["obs-005"]
    assert failed.error == "ERROR" and failed.error_message == "RateLimitError: Error code: 429"
    legacy = obs["obs-006"]  # the legacy usage object and calculatedTotalCost
    assert (legacy.input_tokens, legacy.output_tokens, legacy.cost_usd) == (51, 18, 0.0000153)
    assert dict(report.skipped_by_kind) == {"langfuse span observations": 8}


def test_langfuse_feedback_names_are_configurable() -> None:
    tally = Tally()
    source = LogSourceConfig(path=f"{DATA}/langfuse", format="langfuse")
    logs = LogsConfig(sources=(source,), feedback=FeedbackConfig(names=("toxicity",)))
    obs = by_id(list(read_records(logs, str(ROOT), tally)))
    assert obs["obs-003"].feedback == "negative" and obs["obs-000"].feedback is None


def test_litellm_standard_logging_payload() -> None:
    records, report = read(f"{DATA}/litellm/standard-logging.jsonl", "litellm")
    calls = by_id(records)
    assert len(records) == 8
    plain = calls["chatcmpl-ll0"]
    assert (plain.model, plain.provider, plain.cost_usd) == (
        "gpt-4o-mini-2024-07-18",
        "openai",
        1.25e-05,
    )
    assert plain.latency == 700.0 and plain.ttft_ms is None  # not streamed: no first chunk
    assert calls["chatcmpl-ll1"].ttft_ms == 200.0
    assert calls["chatcmpl-ll4"].cached
    failed = calls["chatcmpl-ll6"]
    assert (failed.error, failed.error_message, failed.error_status) == (
        "Timeout",
        "Request timed out",
        408,
    )
    assert calls["chatcmpl-ll7"].provenance.trace_id == "ll-trace-7"  # the wrapped form
    assert dict(report.skipped_by_kind) == {"litellm aembedding calls": 1}
    assert calls["chatcmpl-ll0"].tags == ("support", "chat")


def test_auto_detects_every_format_per_file() -> None:
    records, report = read(DATA)
    formats = {r.provenance.format for r in records}
    assert formats == {"openai-jsonl", "otel", "openinference", "langfuse", "litellm"}
    assert report.records == 30 + 14 + 6 + 8 + 8


def test_strict_makes_the_first_bad_record_fatal() -> None:
    with pytest.raises(LogSourceError) as info:
        read(f"{DATA}/openai/app.jsonl", strict=True)
    assert f"{DATA}/openai/app.jsonl:11" in str(info.value)


def test_an_unknown_shape_and_a_missing_file_are_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "odd.jsonl").write_text('{"hello": "world"}\n')
    with pytest.raises(LogSourceError, match="cannot tell the log format"):
        read("odd.jsonl", root=tmp_path)
    with pytest.raises(LogSourceError, match="matches no file"):
        read("nothing/*.jsonl", root=tmp_path)


def test_a_broken_document_counts_one_bad_record(tmp_path: Path) -> None:
    text = (ROOT / DATA / "otel/traces-1.37.json").read_text()
    (tmp_path / "cut.json.gz").write_bytes(gzip.compress(text[: len(text) // 2].encode()))
    records, report = read("cut.json.gz", "otel", root=tmp_path)
    assert 0 < len(records) < 8
    assert report.bad == 1 and "breaks off" in report.examples[0].reason


def test_otel_log_records_wait_for_their_span_in_a_bounded_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pytest_llmguard.sources import otel

    path = f"{DATA}/otel/collector-1.28.jsonl"  # the log records come before their spans
    monkeypatch.setattr(otel, "MAX_PENDING", 2)
    records, report = read(path, "otel")
    joined = {r.provenance.span_id for r in records if r.messages[0].role != "system"}
    assert joined == {"eee19b7ec3c1b195", "eee19b7ec3c1b196"}  # decided as they leave
    assert report.unusable == 1  # the span without content
    monkeypatch.setattr(otel, "MAX_PENDING", 1)  # the first span's events are pushed out
    records, report = read(path, "otel")
    assert "eee19b7ec3c1b195" not in {r.provenance.span_id for r in records}
    assert dict(report.unusable_by_reason) == {
        "GenAI content events whose span is not in the source": 1,
        "LLM span without its content (content capture off?)": 2,
    }


def test_logged_failures_are_classified_in_every_format() -> None:
    records, _ = read(DATA)
    classes = {
        (r.provenance.format, r.error, r.error_class) for r in records if r.error is not None
    }
    assert classes == {
        ("openai-jsonl", "rate_limit_error", "rate_limit"),
        ("openai-jsonl", "timeout", "timeout"),
        ("otel", "500", "server_error"),
        ("openinference", "openai.APITimeoutError", "timeout"),
        ("langfuse", "ERROR", "rate_limit"),  # from its statusMessage
        ("litellm", "Timeout", "timeout"),
    }
    assert {r.field("error") for r in records} == {"-", "rate_limit", "timeout", "server_error"}
