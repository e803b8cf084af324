"""The http provider: JSON-safe body templates, selectors, and calls against the
simulator (its Chat Completions and Messages routes, spoken through templates) and a
small scripted loopback gateway; every fault classified as the OpenAI client's are."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from pytest_llmguard.config import RetryPolicy, RunConfig, TargetConfig
from pytest_llmguard.faults import CallFault
from pytest_llmguard.records import Case, Message, Observation
from pytest_llmguard.runner import CallUnit, Engine
from pytest_llmguard.targets.base import TargetClient
from pytest_llmguard.targets.http import PROVIDER, HttpClient, make_client
from pytest_llmguard.targets.http_template import (
    MISSING,
    case_values,
    parse_selector,
    render,
    select,
)
from tests.conftest import SimLog
from tests.single_calls import (
    COMMON_FAULTS,
    POLICY,
    FaultRow,
    assert_classified,
    fault_ids,
    observe_one,
)

QUESTION = "How long do I have to ask for a refund?"
CASE = Case(
    "s",
    "s.yaml",
    "c1",
    (Message("system", "You are Acme's support assistant."), Message("user", QUESTION)),
    params={"max_tokens": 50},
    vars={"product": "Acme Pro"},
)
CHAT = {
    "body": {
        "model": "{{model}}",
        "messages": "{{messages}}",
        "max_tokens": "{{params.max_tokens}}",
        "temperature": "{{params.temperature}}",  # not set: left out
    },
    "output_path": "choices.0.message.content",
    "usage_paths": {
        "input": "usage.prompt_tokens",
        "output": "usage.completion_tokens",
        "cached": "usage.prompt_tokens_details.cached_tokens",
    },
    "error_path": "error.message",
}
CHAT_STREAM = {
    **CHAT,
    "body": {**CHAT["body"], "stream": True, "stream_options": {"include_usage": True}},
    "stream_path": "choices[0].delta.content",
    "stream_done": "[DONE]",
}
MESSAGES = {
    "body": {
        "model": "{{model}}",
        "max_tokens": "{{params.max_tokens}}",
        "system": "{{system}}",
        "messages": "{{messages_no_system}}",
    },
    "output_path": "content.0.text",
    "usage_paths": {"input": "usage.input_tokens", "output": "usage.output_tokens"},
    "error_path": "error.message",
}
MESSAGES_HEADERS = {"anthropic-version": "2023-06-01", "x-api-key": "${TEST_GATEWAY_KEY}"}


def target(
    url: str,
    extra: Mapping[str, Any],
    headers: Mapping[str, str] = {},
    *,
    stream: bool = False,
    model: str = "sim-stable",
) -> TargetConfig:
    return TargetConfig(
        "gw", "http", model, base_url=url, headers=dict(headers), stream=stream, extra=dict(extra)
    )


def observe_with(
    client: TargetClient, *, timeout_s: float = 5.0, policy: RetryPolicy = POLICY
) -> Observation:
    return observe_one(client, CASE, timeout_s=timeout_s, policy=policy)


def observe(
    url: str,
    extra: Mapping[str, Any] = CHAT,
    headers: Mapping[str, str] = {},
    *,
    stream: bool = False,
    timeout_s: float = 5.0,
    policy: RetryPolicy = POLICY,
) -> Observation:
    t = target(url, extra, headers, stream=stream)
    client = make_client(t, url, RunConfig(timeout_s=timeout_s))
    return observe_with(client, timeout_s=timeout_s, policy=policy)


# ---- templates and selectors -----------------------------------------------------------

NASTY = 'Say "hi"\n\tthen \\ back\\slash, {"json": true} and \u2603 \U0001f600 </script>'


def test_substitution_is_json_safe_whatever_the_prompt_holds() -> None:
    case = Case("s", "s.yaml", "x", (Message("user", NASTY),), vars={"q": NASTY})
    template = {"input": "{{prompt}}", "wrapped": "Q: {{prompt}} / {{vars.q}}"}
    body = render(template, case_values(case, target("http://x", {})))
    encoded = json.dumps(body)
    assert json.loads(encoded) == {"input": NASTY, "wrapped": f"Q: {NASTY} / {NASTY}"}


def test_a_whole_placeholder_keeps_its_type_and_a_missing_one_is_left_out() -> None:
    t = TargetConfig("gw", "http", "m-1", params={"temperature": 0.2})
    values = case_values(CASE, t)
    body = render(
        {
            "model": "{{model}}",
            "messages": "{{messages_no_system}}",
            "all": "{{ messages }}",
            "params": "{{params}}",
            "n": "{{params.max_tokens}}",
            "top_p": "{{params.top_p}}",
            "list": ["{{vars.product}}", "{{vars.nope}}", 3],
            "id": "{{set}}/{{case_id}}",
        },
        values,
    )
    assert body == {
        "model": "m-1",
        "messages": [{"role": "user", "content": QUESTION}],
        "all": [m.to_dict() for m in CASE.messages],
        "params": {"temperature": 0.2, "max_tokens": 50},
        "n": 50,
        "list": ["Acme Pro", 3],
        "id": "s/c1",
    }


def test_a_missing_value_inside_text_is_a_client_error() -> None:
    client = HttpClient.for_target(
        target("http://x", {"body": {"q": "about {{vars.nope}}"}, "output_path": "a"}),
        "http://x",
        RunConfig(),
    )
    with pytest.raises(CallFault) as info:
        client.request_body(CASE)
    assert info.value.record.cls == "client_error"
    assert "{{vars.nope}}" in info.value.record.message


def test_system_inside_text_is_empty_without_a_system_prompt() -> None:
    case = Case("s", "s.yaml", "x", (Message("user", "hi"),))
    body = render({"p": "[{{system}}] {{prompt}}", "s": "{{system}}"}, case_values(case, CASE_T))
    assert body == {"p": "[] hi"}


CASE_T = TargetConfig("gw", "http", "m")


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("choices.0.message.content", ("choices", "0", "message", "content")),
        ("choices[0].message.content", ("choices", 0, "message", "content")),
        ("$.data.text", ("data", "text")),
        ("[1]", (1,)),
        ("a[0][2].b", ("a", 0, 2, "b")),
    ],
)
def test_selectors_parse(text: str, parts: tuple[Any, ...]) -> None:
    assert parse_selector(text) == parts


@pytest.mark.parametrize("text", ["", "a..b", ".a", "a.", "a[x]", "a[0", "a[-1]"])
def test_malformed_selectors_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="is not of the form"):
        parse_selector(text)


def test_select_walks_lists_and_objects() -> None:
    doc = {"choices": [{"text": "a"}, {"text": "b"}], "0": "zero"}
    assert select(doc, parse_selector("choices.1.text")) == "b"
    assert select(doc, parse_selector("choices[1].text")) == "b"
    assert select(doc, ("0",)) == "zero"
    assert select(doc, parse_selector("choices.5.text")) is MISSING
    assert select(doc, parse_selector("choices.0.text.deeper")) is MISSING


# ---- config checks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "base_url", "stream", "message"),
    [
        ({"body": {}, "output_path": "a"}, None, False, "needs base_url"),
        ({"output_path": "a"}, "http://x", False, "needs a body template"),
        ({"method": "GET", "output_path": "a"}, "http://x", False, None),
        ({"body": {}}, "http://x", False, "needs output_path"),
        ({"body": {}, "output_path": "a"}, "http://x", True, "that streams needs stream_path"),
        ({"body": {}, "output_path": "a..b"}, "http://x", False, "is not of the form"),
        ({"body": {}, "output_path": "a", "usage_paths": {"input": "u["}}, "http://x", False,
         "is not of the form"),
        ({"body": {"x": "{{vars}}{{params.a}}"}, "output_path": "a"}, "http://x", False, None),
        ({"body": {"x": "{{model.name}}"}, "output_path": "a"}, "http://x", False,
         "unknown placeholder {{model.name}}"),
    ],
)  # fmt: skip
def test_the_provider_checks_its_targets(
    extra: dict[str, Any], base_url: str | None, stream: bool, message: str | None
) -> None:
    t = TargetConfig("gw", "http", "m", base_url=base_url, stream=stream, extra=extra)
    problem = PROVIDER.check(t, {})
    if message is None:
        assert problem is None
    else:
        assert problem is not None and message in problem.message


# ---- against the simulator -------------------------------------------------------------


def test_the_chat_completions_route_through_a_template(sim_url: str, sim_log: SimLog) -> None:
    obs = observe(sim_url + "/chat/completions")
    assert obs.error is None, obs.error
    assert obs.output == "You can ask for a refund within 30 days of purchase."
    assert obs.input_tokens and obs.output_tokens and obs.cached_tokens == 0
    assert obs.model == "sim-stable"
    (row,) = sim_log.requests()
    assert row["path"] == "/v1/chat/completions"


def test_the_same_answer_and_usage_as_the_openai_client(sim_url: str) -> None:
    from pytest_llmguard.targets.openai import OpenAIClient

    t = TargetConfig("gw", "openai", "sim-drifted", params={"max_tokens": 50})
    openai = observe_with(OpenAIClient.for_target(t, sim_url, RunConfig()))
    http_t = target(sim_url + "/chat/completions", CHAT, model="sim-drifted")
    http = observe_with(make_client(http_t, sim_url + "/chat/completions", RunConfig()))
    assert http.error is None and openai.error is None
    assert (http.output, http.input_tokens, http.output_tokens) == (
        openai.output,
        openai.input_tokens,
        openai.output_tokens,
    )


def test_streaming_reads_each_event_s_text_with_ttft(sim_url: str) -> None:
    plain = observe(sim_url + "/chat/completions", headers={"x-sim-latency-ms": "80"})
    streamed = observe(
        sim_url + "/chat/completions",
        CHAT_STREAM,
        {"x-sim-latency-ms": "80"},
        stream=True,
    )
    assert streamed.error is None, streamed.error
    assert streamed.output == plain.output
    assert (streamed.input_tokens, streamed.output_tokens) == (
        plain.input_tokens,
        plain.output_tokens,
    )
    assert streamed.latency_ms is not None and streamed.latency_ms >= 80.0
    assert streamed.ttft_ms is not None and 0 < streamed.ttft_ms < streamed.latency_ms


def test_the_messages_route_through_a_template(
    sim_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_GATEWAY_KEY", "sk-ant-gateway-0123456789abcdef")
    obs = observe(sim_url + "/messages", MESSAGES, MESSAGES_HEADERS)
    assert obs.error is None, obs.error
    assert obs.output == "You can ask for a refund within 30 days of purchase."
    streamed = observe(
        sim_url + "/messages",
        {**MESSAGES, "body": {**MESSAGES["body"], "stream": True}, "stream_path": "delta.text"},
        MESSAGES_HEADERS,
        stream=True,
    )
    assert streamed.error is None and streamed.output == obs.output
    assert streamed.ttft_ms is not None


def test_an_unset_header_variable_fails_the_target_clearly(
    sim_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_GATEWAY_KEY", raising=False)
    obs = observe(sim_url + "/messages", MESSAGES, MESSAGES_HEADERS)
    assert obs.error is not None and obs.error.cls == "client_error"
    assert "TEST_GATEWAY_KEY is not set" in obs.error.message
    assert "headers.x-api-key" in obs.error.message


FAULTS: list[FaultRow] = [
    *COMMON_FAULTS,
    ("client_error", {"x-sim-status": "422"}, False, "client_error", 422, False),
    ("empty_choices", {}, False, "invalid_response", None, False),
]


@pytest.mark.parametrize("row", FAULTS, ids=fault_ids(FAULTS))
def test_fault_is_classified_and_retried_by_policy(
    sim_url: str, sim_log: SimLog, row: FaultRow
) -> None:
    fault, extra, stream, cls, status, retried = row
    obs = observe(
        sim_url + "/chat/completions",
        CHAT_STREAM if stream else CHAT,
        {"x-sim-fault": fault, **extra},
        stream=stream,
    )
    assert_classified(obs, len(sim_log.requests()), cls, status, retried)


def test_a_non_2xx_message_is_read_at_error_path(sim_url: str) -> None:
    headers = {"x-sim-fault": "client_error", "x-sim-status": "404"}
    obs = observe(sim_url + "/chat/completions", headers=headers, policy=RetryPolicy(max=0))
    assert obs.error is not None
    assert obs.error.message == "HTTP 404: The model does not exist."


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("fault", ["timeout", "slow_trickle"])
def test_waits_are_bounded_by_the_timeout(sim_url: str, fault: str, stream: bool) -> None:
    obs = observe(
        sim_url + "/chat/completions",
        CHAT_STREAM if stream else CHAT,
        {"x-sim-fault": fault},
        stream=stream,
        timeout_s=0.3,
        policy=RetryPolicy(max=0),
    )
    assert obs.error is not None and obs.error.cls == "timeout"


def test_connection_refused_is_a_connection_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        obs = observe(f"http://127.0.0.1:{port}/x", policy=RetryPolicy(max=1, backoff_base_s=0.01))
    assert obs.error is not None and obs.error.cls == "connection"
    assert obs.attempts == 2


# ---- a scripted gateway ----------------------------------------------------------------


class Gateway(BaseHTTPRequestHandler):
    """``/echo`` answers what it received; ``/ok-but-failed`` a 200 carrying an error;
    ``/status/N`` status N with an error naming the authorization header it got."""

    def _reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        received = json.loads(self.rfile.read(length) or b"null")
        if self.path.startswith("/echo"):
            text = json.dumps({"method": self.command, "path": self.path, "body": received})
            self._reply(200, {"result": {"text": text}, "tokens": {"in": 7, "out": 3}})
        elif self.path == "/ok-but-failed":
            self._reply(200, {"result": None, "failure": {"reason": "upstream model down"}})
        else:
            status = int(self.path.rsplit("/", 1)[1])
            reason = f"bad auth {self.headers.get('authorization')}"
            self._reply(status, {"failure": {"reason": reason}})

    do_GET = do_POST = do_PUT = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def gateway() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


GATEWAY = {
    "body": {"q": "{{prompt}}", "opts": {"n": "{{params.max_tokens}}"}},
    "output_path": "result.text",
    "usage_paths": {"input": "tokens.in", "output": "tokens.out"},
    "error_path": "failure.reason",
}


@pytest.mark.parametrize("method", ["POST", "PUT", "GET"])
def test_each_method_sends_the_filled_template(gateway: str, method: str) -> None:
    obs = observe(gateway + "/echo", {**GATEWAY, "method": method})
    assert obs.error is None, obs.error
    assert (obs.input_tokens, obs.output_tokens) == (7, 3)
    seen = json.loads(obs.output or "")
    assert seen["method"] == method
    if method == "GET":  # the body's entries as query parameters
        assert seen["body"] is None
        query = parse_qs(urlsplit(seen["path"]).query)
        assert query == {"q": [QUESTION], "opts": ['{"n": 50}']}
    else:
        assert seen["body"] == {"q": QUESTION, "opts": {"n": 50}}


def test_an_error_reported_with_a_200_is_a_server_error_never_an_output(gateway: str) -> None:
    obs = observe(gateway + "/ok-but-failed", GATEWAY, policy=RetryPolicy(max=0))
    assert obs.error is not None and obs.error.cls == "server_error"
    assert obs.error.message == "the endpoint reported an error: upstream model down"
    assert obs.output is None


@pytest.mark.parametrize(
    ("status", "cls"),
    [(400, "client_error"), (404, "client_error"), (429, "rate_limit"), (502, "server_error"),
     (302, "client_error")],
)  # fmt: skip
def test_a_non_2xx_status_is_an_error_of_its_class(gateway: str, status: int, cls: str) -> None:
    obs = observe(gateway + f"/status/{status}", GATEWAY, policy=RetryPolicy(max=0))
    assert obs.error is not None and (obs.error.cls, obs.error.status) == (cls, status)
    assert obs.output is None


def test_header_variables_are_sent_but_never_logged_or_cached(
    gateway: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "gw-secret-token-not-key-shaped-42"
    monkeypatch.setenv("TEST_GATEWAY_TOKEN", secret)
    headers = {"authorization": "Token ${TEST_GATEWAY_TOKEN}"}
    t = target(gateway + "/status/401", GATEWAY, headers)
    client = make_client(t, gateway + "/status/401", RunConfig())
    assert isinstance(client, HttpClient) and client.headers["authorization"] == f"Token {secret}"
    identity = json.dumps(client.request_identity(CASE))
    assert secret not in identity and "${TEST_GATEWAY_TOKEN}" in identity
    obs = observe_with(client, policy=RetryPolicy(max=0))
    assert obs.error is not None and obs.error.status == 401
    assert obs.error.message == "HTTP 401: bad auth Token [REDACTED]"


def test_env_references_expand_with_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_llmguard.targets.credentials import expand_env

    monkeypatch.setenv("TEST_SET_VAR", "v1")
    monkeypatch.delenv("TEST_UNSET_VAR", raising=False)
    assert expand_env("a ${TEST_SET_VAR} b") == ("a v1 b", [])
    assert expand_env("${TEST_UNSET_VAR:-dflt}/${TEST_SET_VAR:-no}") == ("dflt/v1", [])
    assert expand_env("x${TEST_UNSET_VAR}y $NOT {braces}") == (
        "xy $NOT {braces}",
        ["TEST_UNSET_VAR"],
    )


def test_a_template_value_missing_for_one_case_fails_that_call_only(
    sim_url: str, tmp_path: Path
) -> None:
    from pytest_llmguard.cache import ResponseCache

    extra = {**CHAT, "body": {**CHAT["body"], "user": "{{vars.customer}} asks"}}
    t = target(sim_url + "/chat/completions", extra)
    client = make_client(t, sim_url + "/chat/completions", RunConfig())
    engine = Engine({"gw": client}, RunConfig(), cache=ResponseCache(tmp_path, "record"))
    known = Case("s", "s.yaml", "known", CASE.messages, vars={"customer": "Ann"})
    (missing, ok) = asyncio.run(engine.run([CallUnit(CASE, "gw"), CallUnit(known, "gw")]))
    assert missing.error is not None and missing.error.cls == "client_error"
    assert "{{vars.customer}} has no value" in missing.error.message
    assert ok.error is None and ok.output
