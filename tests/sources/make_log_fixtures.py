"""Write the production-log fixtures of tests/sources/ (run it after changing it; the
files it writes are committed, so the tests never depend on it running).

    python tests/sources/make_log_fixtures.py

Every format gets the same kind of traffic, from an imaginary support assistant of a
shop called Acme: two model versions, varied questions (with a near-duplicate pair),
errors, user feedback, personal data to scrub, and the damage real files have (a bad
line, a truncated last line, gzip).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1] / "data" / "logs"
T0 = 1_746_100_800.0  # 2025-05-01T12:00:00Z
SYSTEM = "You are Acme's support assistant. Answer briefly and politely."
OLD, NEW = "gpt-4o-mini-2024-07-18", "gpt-4.1-mini-2025-04-14"

# (question, answer, route, prompt version, feedback)
TRAFFIC: list[tuple[str, str, str, str, Any]] = [
    (
        "How long do I have to ask for a refund?",
        "You can ask for a refund within 30 days of purchase.",
        "/support/chat",
        "3",
        True,
    ),
    (
        "How long do I have to request a refund?",
        "You can request a refund within 30 days of purchase.",
        "/support/chat",
        "3",
        None,
    ),
    (
        "Where is my order #48213? My email is jane.doe@example.com",
        "Order #48213 shipped yesterday; tracking was sent to jane.doe@example.com.",
        "/support/orders",
        "3",
        True,
    ),
    (
        "Can I change the delivery address to 12 Rue de Rivoli, Paris?",
        "Yes, until the order ships. Open Orders, choose the order, then Edit address.",
        "/support/orders",
        "3",
        None,
    ),
    (
        "My card 4111 1111 1111 1111 was charged twice, please help",
        "Sorry about that. I've flagged the duplicate charge; it will be refunded in 5 days.",
        "/support/billing",
        "4",
        False,
    ),
    (
        "Do you ship to Canada?",
        "Yes. Shipping to Canada takes 5 to 7 business days.",
        "/support/chat",
        "3",
        True,
    ),
    (
        "What is the warranty on the Acme Pro blender?",
        "The Acme Pro blender has a two-year limited warranty.",
        "/support/chat",
        "4",
        None,
    ),
    (
        "Call me back at +1 415 555 0132 about my return",
        "I can't place calls, but you can start a return under Orders > Return.",
        "/support/returns",
        "4",
        False,
    ),
    (
        "How do I reset my password?",
        "Open Settings, choose Security, then Reset password.",
        "/support/account",
        "3",
        True,
    ),
    (
        "Is the Acme Pro dishwasher safe?",
        "The jar and blades are dishwasher safe; the base is not.",
        "/support/chat",
        "4",
        None,
    ),
    (
        "Translate 'thank you for your order' into French",
        "Merci pour votre commande.",
        "/support/chat",
        "4",
        None,
    ),
    (
        "What are your opening hours on Sunday?",
        "Our support team answers on Sundays from 10:00 to 16:00 CET.",
        "/support/chat",
        "3",
        False,
    ),
    (
        "Summarise my last three orders",
        "You ordered a blender, two filters and a kettle.",
        "/support/orders",
        "4",
        True,
    ),
    (
        "Can I pay with PayPal?",
        "Yes, PayPal is accepted at checkout.",
        "/support/billing",
        "3",
        None,
    ),
    (
        "Why was my account locked? user id 99812, IP 203.0.113.77",
        "Your account was locked after five failed sign-ins; it unlocks in 30 minutes.",
        "/support/account",
        "4",
        None,
    ),
    (
        "Give me a discount code",
        "I can't create discount codes, but our newsletter has offers.",
        "/support/chat",
        "4",
        False,
    ),
]


def write_gzip(path: Path, text: str) -> None:
    """gzip with a fixed timestamp, so that rewriting the fixtures changes no byte."""
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as fh:
        fh.write(text.encode())


def chat_response(i: int, model: str, answer: str, prompt_tokens: int) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{i:04d}",
        "object": "chat.completion",
        "created": int(T0 + i * 600),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(answer.split()) + 3,
            "total_tokens": prompt_tokens + len(answer.split()) + 3,
            "prompt_tokens_details": {"cached_tokens": 0},
        },
    }


def iso(seconds: float) -> str:
    from datetime import datetime, timezone

    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def openai_records(start: int, count: int) -> list[dict[str, Any]]:
    out = []
    for n in range(count):
        i = start + n
        question, answer, route, version, feedback = TRAFFIC[i % len(TRAFFIC)]
        model = OLD if i % 2 == 0 else NEW
        record: dict[str, Any] = {
            "timestamp": iso(T0 + i * 600),
            "latency_ms": 600 + (i * 137) % 900,
            "request": {
                "model": model.rsplit("-", 3)[0],
                "messages": [
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": question},
                ],
                "temperature": 0.2,
                "max_tokens": 300,
            },
            "metadata": {"route": route, "prompt_version": version, "tags": ["support"]},
        }
        if i % 11 == 7:
            record["error"] = {
                "type": "rate_limit_error",
                "message": "Rate limit reached for requests",
                "status": 429,
            }
            record["response"] = None
        elif i % 13 == 9:
            record["error"] = {"type": "timeout", "message": "Request timed out after 60 s"}
        else:
            record["response"] = chat_response(i, model, answer, 40 + len(question) // 4)
            if i % 3 == 0:
                record["ttft_ms"] = 180 + (i * 31) % 200
        if feedback is not None:
            record["feedback"] = "thumbs_up" if feedback else "thumbs_down"
        out.append(record)
    return out


def write_openai() -> None:
    folder = HERE / "openai"
    folder.mkdir(exist_ok=True)
    lines = [json.dumps(r) for r in openai_records(0, 24)]
    lines.insert(10, '{"timestamp": "2025-05-01T14:00:00Z", "request": {"model": ')  # bad
    lines.append(json.dumps(openai_records(24, 1)[0])[:70])  # the writer died mid-line
    (folder / "app.jsonl").write_text("\n".join(lines), encoding="utf-8")
    batch = [
        {
            "id": f"batch_req_{i}",
            "custom_id": f"req-{i}",
            "response": {
                "status_code": 200,
                "request_id": f"rid-{i}",
                "body": chat_response(100 + i, NEW, TRAFFIC[i][1], 52),
            },
            "body": {"model": NEW, "messages": [{"role": "user", "content": TRAFFIC[i][0]}]},
            "timestamp": iso(T0 + 86400 + i * 60),
            "error": None,
        }
        for i in range(6)
    ]
    write_gzip(folder / "batch-output.jsonl.gz", "\n".join(json.dumps(b) for b in batch) + "\n")


def kv(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        wrapped: dict[str, Any] = {"boolValue": value}
    elif isinstance(value, int):
        wrapped = {"intValue": str(value)}
    elif isinstance(value, float):
        wrapped = {"doubleValue": value}
    elif isinstance(value, list):
        wrapped = {"arrayValue": {"values": [kv("x", v)["value"] for v in value]}}
    elif isinstance(value, dict):
        wrapped = {"kvlistValue": {"values": [kv(k, v) for k, v in value.items()]}}
    else:
        wrapped = {"stringValue": str(value)}
    return {"key": key, "value": wrapped}


def span(i: int, name: str, attrs: dict[str, Any], **extra: Any) -> dict[str, Any]:
    start = int((T0 + i * 300) * 1e9)
    out = {
        "traceId": f"{0x5B8EFFF798038103D269B633813FC60C + i:032x}",
        "spanId": f"{0xEEE19B7EC3C1B174 + i:016x}",
        "name": name,
        "kind": 3,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + (700 + i * 53) * 1_000_000),
        "attributes": [kv(k, v) for k, v in attrs.items()],
        "status": {},
    }
    out.update(extra)
    return out


def parts(text: str) -> list[dict[str, str]]:
    return [{"type": "text", "content": text}]


def write_otel() -> None:
    folder = HERE / "otel"
    folder.mkdir(exist_ok=True)
    spans = []
    for i in range(8):
        question, answer, *_ = TRAFFIC[i]
        model = OLD if i % 2 == 0 else NEW
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.response.model": model,
            "gen_ai.request.temperature": 0.2,
            "gen_ai.usage.input_tokens": 41 + i,
            "gen_ai.usage.output_tokens": 12 + i,
            "gen_ai.response.finish_reasons": ["stop"],
            "gen_ai.response.id": f"chatcmpl-otel-{i}",
        }
        if i != 5:  # span 5: content capture was off
            attrs["gen_ai.system_instructions"] = json.dumps(parts(SYSTEM))
            attrs["gen_ai.input.messages"] = json.dumps(
                [{"role": "user", "parts": parts(question)}]
            )
            attrs["gen_ai.output.messages"] = json.dumps(
                [{"role": "assistant", "parts": parts(answer), "finish_reason": "stop"}]
            )
        if i % 3 == 0:
            attrs["gen_ai.response.time_to_first_chunk"] = 0.21 + i / 100
        extra: dict[str, Any] = {}
        if i == 6:  # a failed call: no output
            del attrs["gen_ai.output.messages"]
            attrs["error.type"] = "500"
            extra["status"] = {"code": 2, "message": "Internal server error"}
        if i == 2:
            extra["events"] = [
                {
                    "name": "gen_ai.evaluation.result",
                    "timeUnixNano": str(int((T0 + 3600) * 1e9)),
                    "attributes": [
                        kv("gen_ai.evaluation.name", "user_feedback"),
                        kv("gen_ai.evaluation.score.label", "incorrect"),
                    ],
                }
            ]
        spans.append(span(i, f"chat {model}", attrs, **extra))
    spans.append(
        span(
            20,
            "embeddings text-embedding-3-small",
            {
                "gen_ai.operation.name": "embeddings",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "text-embedding-3-small",
            },
        )
    )
    spans.append(span(21, "GET /api/orders", {"http.request.method": "GET"}))
    # content on the operation-details span event instead of the span (1.37+)
    details = span(
        22,
        "chat " + NEW,
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.response.model": NEW,
            "gen_ai.usage.input_tokens": 50,
            "gen_ai.usage.output_tokens": 14,
        },
    )
    details["events"] = [
        {
            "name": "gen_ai.client.inference.operation.details",
            "timeUnixNano": details["endTimeUnixNano"],
            "attributes": [
                kv("gen_ai.input.messages", [{"role": "user", "parts": parts(TRAFFIC[9][0])}]),
                kv(
                    "gen_ai.output.messages",
                    [{"role": "assistant", "parts": parts(TRAFFIC[9][1]), "finish_reason": "stop"}],
                ),
            ],
        }
    ]
    spans.append(details)
    document = {
        "resourceSpans": [
            {
                "resource": {"attributes": [kv("service.name", "acme-support")]},
                "scopeSpans": [
                    {"scope": {"name": "opentelemetry.instrumentation.openai_v2"}, "spans": spans}
                ],
            }
        ]
    }
    (folder / "traces-1.37.json").write_text(json.dumps(document, indent=2), encoding="utf-8")

    # 1.27-1.36 instrumentations: gen_ai.system, prompt_tokens/completion_tokens (before
    # 1.27), per-message events as span events or as log records in the logs pipeline.
    old_spans = []
    for n, i in enumerate(range(30, 36)):
        question, answer, *_ = TRAFFIC[n + 8]
        attrs = {
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.response.model": OLD,
        }
        if n % 2 == 0:
            attrs["gen_ai.usage.prompt_tokens"] = 38 + n
            attrs["gen_ai.usage.completion_tokens"] = 10 + n
        else:
            attrs["gen_ai.operation.name"] = "chat"
            attrs["gen_ai.usage.input_tokens"] = 38 + n
            attrs["gen_ai.usage.output_tokens"] = 10 + n
        s = span(i, "chat gpt-4o-mini", attrs)
        if n < 3:  # content as span events, attributes holding the body's fields
            s["events"] = [
                {
                    "name": "gen_ai.system.message",
                    "timeUnixNano": s["startTimeUnixNano"],
                    "attributes": [kv("gen_ai.system", "openai"), kv("content", SYSTEM)],
                },
                {
                    "name": "gen_ai.user.message",
                    "timeUnixNano": s["startTimeUnixNano"],
                    "attributes": [
                        kv("gen_ai.system", "openai"),
                        kv("gen_ai.event.content", json.dumps({"content": question})),
                    ],
                },
                {
                    "name": "gen_ai.choice",
                    "timeUnixNano": s["endTimeUnixNano"],
                    "attributes": [
                        kv("gen_ai.system", "openai"),
                        kv("index", 0),
                        kv("finish_reason", "stop"),
                        kv("message", {"content": answer}),
                    ],
                },
            ]
        old_spans.append(s)
    logs = []
    for n, s in enumerate(old_spans[3:5]):  # content as log records, joined by span id
        question, answer, *_ = TRAFFIC[n + 11]
        for name, body in (
            ("gen_ai.user.message", {"content": question}),
            (
                "gen_ai.choice",
                {"index": 0, "finish_reason": "stop", "message": {"content": answer}},
            ),
        ):
            logs.append(
                {
                    "timeUnixNano": s["startTimeUnixNano"],
                    "eventName": name,
                    "traceId": s["traceId"],
                    "spanId": s["spanId"],
                    "attributes": [kv("gen_ai.system", "openai")],
                    "body": kv("body", body)["value"],
                }
            )
    # span 35 stays without content: capture off
    traces_line = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": old_spans}]}]}
    logs_line = {"resourceLogs": [{"resource": {}, "scopeLogs": [{"logRecords": logs}]}]}
    cut = json.dumps(traces_line)[:90]
    text = "\n".join([json.dumps(logs_line), json.dumps(traces_line), cut])
    (folder / "collector-1.28.jsonl").write_text(text, encoding="utf-8")

    # 1.26: gen_ai.content.prompt / gen_ai.content.completion events, gzip
    legacy = span(
        40,
        "openai.chat",
        {
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.prompt_tokens": 33,
            "gen_ai.usage.completion_tokens": 9,
        },
    )
    legacy["events"] = [
        {
            "name": "gen_ai.content.prompt",
            "attributes": [
                kv("gen_ai.prompt", json.dumps([{"role": "user", "content": TRAFFIC[13][0]}]))
            ],
        },
        {
            "name": "gen_ai.content.completion",
            "attributes": [
                kv(
                    "gen_ai.completion",
                    json.dumps([{"role": "assistant", "content": TRAFFIC[13][1]}]),
                )
            ],
        },
    ]
    line = {"resourceSpans": [{"scopeSpans": [{"spans": [legacy]}]}]}
    write_gzip(folder / "legacy-1.26.jsonl.gz", json.dumps(line) + "\n")


def write_openinference() -> None:
    folder = HERE / "openinference"
    folder.mkdir(exist_ok=True)
    lines = []
    for n in range(6):
        question, answer, *_ = TRAFFIC[n]
        start = T0 + n * 900
        attributes: dict[str, Any] = {
            "openinference.span.kind": "LLM",
            "llm.model_name": OLD if n % 2 == 0 else NEW,
            "llm.provider": "openai",
            "llm.invocation_parameters": json.dumps({"temperature": 0.2, "max_tokens": 300}),
            "llm.token_count.prompt": 44 + n,
            "llm.token_count.completion": 11 + n,
            "llm.prompt_template.version": "v3",
            "tag.tags": ["support", "chat"],
        }
        if n % 2 == 0:  # flattened keys, as the OTLP exporter writes them
            attributes.update(
                {
                    "llm.input_messages.0.message.role": "system",
                    "llm.input_messages.0.message.content": SYSTEM,
                    "llm.input_messages.1.message.role": "user",
                    "llm.input_messages.1.message.contents.0.message_content.type": "text",
                    "llm.input_messages.1.message.contents.0.message_content.text": question,
                    "llm.output_messages.0.message.role": "assistant",
                    "llm.output_messages.0.message.content": answer,
                }
            )
            attrs_out: dict[str, Any] = attributes
        else:  # nested, as Phoenix's span JSON may hold them
            attrs_out = {k: v for k, v in attributes.items()}
            attrs_out["llm"] = {
                "input_messages": [
                    {"message": {"role": "system", "content": SYSTEM}},
                    {"message": {"role": "user", "content": question}},
                ],
                "output_messages": [{"message": {"role": "assistant", "content": answer}}],
            }
        if n == 3:
            attrs_out["annotations"] = [
                {"annotation": {"name": "user_feedback", "label": "thumbs_down", "score": 0}}
            ]
        status = "OK"
        events: list[dict[str, Any]] = []
        if n == 5:
            status = "ERROR"
            attrs_out.pop("llm", None)
            attrs_out["llm.input_messages.0.message.role"] = "user"
            attrs_out["llm.input_messages.0.message.content"] = question
            events = [
                {
                    "name": "exception",
                    "timestamp": iso(start + 1),
                    "attributes": {
                        "exception.type": "openai.APITimeoutError",
                        "exception.message": "Request timed out.",
                    },
                }
            ]
        lines.append(
            {
                "name": "ChatCompletion",
                "context": {"trace_id": f"trace-{n:04d}", "span_id": f"span-{n:04d}"},
                "span_kind": "LLM",
                "parent_id": None,
                "start_time": iso(start),
                "end_time": iso(start + 0.8 + n / 10),
                "status_code": status,
                "status_message": "",
                "attributes": attrs_out,
                "events": events,
            }
        )
    lines.append(
        {
            "name": "retrieve",
            "context": {"trace_id": "trace-0000", "span_id": "span-r"},
            "span_kind": "RETRIEVER",
            "start_time": iso(T0),
            "end_time": iso(T0 + 0.1),
            "status_code": "OK",
            "attributes": {"openinference.span.kind": "RETRIEVER"},
        }
    )
    (folder / "phoenix-spans.jsonl").write_text(
        "\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8"
    )


def write_langfuse() -> None:
    folder = HERE / "langfuse"
    folder.mkdir(exist_ok=True)
    objs: list[dict[str, Any]] = []
    for n in range(8):
        question, answer, route, _, _ = TRAFFIC[(n + 2) % len(TRAFFIC)]
        start = T0 + n * 420
        generation: dict[str, Any] = {
            "id": f"obs-{n:03d}",
            "traceId": f"tr-{n:03d}",
            "type": "GENERATION",
            "name": "support-answer",
            "startTime": iso(start),
            "endTime": iso(start + 0.9 + n / 20),
            "completionStartTime": iso(start + 0.25),
            "model": OLD if n < 4 else NEW,
            "modelParameters": {"temperature": 0.2, "max_tokens": 300},
            "input": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]
            if n % 2 == 0
            else {"messages": [{"role": "user", "content": question}]},
            "output": {"role": "assistant", "content": answer} if n % 3 else answer,
            "usageDetails": {"input": 45 + n, "output": 12 + n, "total": 57 + 2 * n},
            "costDetails": {"input": 0.0000068, "output": 0.0000072, "total": 0.000014},
            "level": "DEFAULT",
            "statusMessage": None,
            "promptName": "support-answer",
            "promptVersion": 3 if n < 4 else 4,
            "metadata": {"route": route},
        }
        if n == 5:
            generation.update(
                level="ERROR", output=None, statusMessage="RateLimitError: Error code: 429"
            )
        if n == 6:  # the legacy usage object, no costDetails
            generation.pop("usageDetails")
            generation.pop("costDetails")
            generation["usage"] = {"input": 51, "output": 18, "total": 69, "unit": "TOKENS"}
            generation["calculatedTotalCost"] = 0.0000153
        objs.append(generation)
        objs.append(
            {
                "id": f"obs-span-{n}",
                "traceId": f"tr-{n:03d}",
                "type": "SPAN",
                "name": "retrieve-context",
                "startTime": iso(start - 0.2),
            }
        )
    scores = [
        {
            "id": "sc-1",
            "traceId": "tr-000",
            "observationId": "obs-000",
            "name": "user-feedback",
            "dataType": "BOOLEAN",
            "value": 0,
            "stringValue": "False",
            "source": "API",
        },
        {
            "id": "sc-2",
            "traceId": "tr-001",
            "name": "user-feedback",
            "dataType": "NUMERIC",
            "value": 0.9,
            "source": "API",
        },
        {
            "id": "sc-3",
            "traceId": "tr-002",
            "observationId": "obs-002",
            "name": "user-feedback",
            "dataType": "CATEGORICAL",
            "stringValue": "bad",
            "source": "ANNOTATION",
        },
        {
            "id": "sc-4",
            "traceId": "tr-003",
            "observationId": "obs-003",
            "name": "toxicity",
            "dataType": "NUMERIC",
            "value": 0.02,
            "source": "EVAL",
        },
    ]
    text = "\n".join(json.dumps(o) for o in objs[:12])
    (folder / "observations.jsonl").write_text(text + "\n", encoding="utf-8")
    page = {"data": objs[12:] + scores, "meta": {"page": 1, "limit": 50, "totalItems": 8}}
    (folder / "api-page.json").write_text(json.dumps(page, indent=2), encoding="utf-8")


def write_litellm() -> None:
    folder = HERE / "litellm"
    folder.mkdir(exist_ok=True)
    lines = []
    for n in range(8):
        question, answer, route, *_ = TRAFFIC[(n + 5) % len(TRAFFIC)]
        start = T0 + n * 500
        stream = n % 2 == 1
        payload: dict[str, Any] = {
            "id": f"chatcmpl-ll{n}",
            "trace_id": f"ll-trace-{n}",
            "call_type": "acompletion",
            "stream": stream,
            "status": "success",
            "custom_llm_provider": "openai",
            "model": OLD if n < 4 else NEW,
            "model_group": "support",
            "api_base": "https://api.openai.com/v1",
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": question},
            ],
            "response": {
                "id": f"chatcmpl-ll{n}",
                "object": "chat.completion",
                "model": OLD if n < 4 else NEW,
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": answer},
                    }
                ],
            },
            "prompt_tokens": 40 + n,
            "completion_tokens": 11 + n,
            "total_tokens": 51 + 2 * n,
            "response_cost": 0.0000125 + n * 1e-7,
            "startTime": start,
            "endTime": start + 0.7 + n / 10,
            "completionStartTime": start + (0.2 if stream else 0.7 + n / 10),
            "cache_hit": n == 4,
            "request_tags": ["support", route.rsplit("/", 1)[-1]],
            "model_parameters": {"temperature": 0.2, "max_tokens": 300},
            "metadata": {"user_api_key_hash": "88dc28d0f030c55ed4ab77ed8faf0981" * 2},
            "error_str": None,
            "error_information": None,
        }
        if n == 6:
            payload.update(
                status="failure",
                response=None,
                response_cost=0.0,
                error_str="litellm.Timeout: Request timed out",
                error_information={
                    "error_code": "408",
                    "error_class": "Timeout",
                    "llm_provider": "openai",
                    "error_message": "Request timed out",
                },
            )
        lines.append({"standard_logging_object": payload} if n == 7 else payload)
    lines.append(
        {
            "id": "emb-1",
            "call_type": "aembedding",
            "status": "success",
            "model": "text-embedding-3-small",
            "messages": "hello",
            "response_cost": 1e-8,
            "startTime": T0,
            "endTime": T0 + 0.1,
        }
    )
    (folder / "standard-logging.jsonl").write_text(
        "\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    write_openai()
    write_otel()
    write_openinference()
    write_langfuse()
    write_litellm()
    print(f"wrote fixtures under {HERE}")
