"""Bad input gives one clear UsageError naming the file, never another exception.

Property tests mutate a valid config and a valid golden set (wrong types, deleted and
unknown keys, nesting, byte-level damage, random bytes) and load them the way the
plugin's configure step does. Hand-written bad files (tests/data/bad_inputs/) and a few
generated ones (non-UTF-8, too large, alias bomb) then go through a real plugin run:
exit code 4, one ``ERROR:`` line, no traceback.

Nesting in the property tests stays moderate; the deep-nesting cases (RecursionError
territory) have their own tests below.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_llmguard.config import load_config
from pytest_llmguard.exceptions import UsageError
from pytest_llmguard.golden import HEADER_KEY, load_golden_sets
from pytest_llmguard.session import GuardSession

BAD_INPUTS = Path(__file__).parents[1] / "data" / "bad_inputs"

VALID_CONFIG: dict[str, Any] = {
    "golden_sets": ["golden_sets/"],
    "targets": {
        "baseline": {
            "provider": "openai",
            "base_url": "http://127.0.0.1:9/v1",
            "model": "gpt-x",
            "api_key_env": "LLMGUARD_FUZZ_KEY",
            "params": {"temperature": 0, "max_tokens": 50},
            "headers": {"x-team": "qa"},
            "timeout_s": 5,
        },
        "candidate": {"provider": "sim", "model": "sim-stable", "stream": True},
    },
    "compare": {"baseline": "baseline", "candidate": "candidate"},
    "pricing": {"gpt-x": {"input": 1.0, "output": 2.0, "cached_input": 0.5}},
    "run": {
        "concurrency": 4,
        "timeout_s": 5,
        "rpm": 600,
        "retries": {"max": 1, "on": ["timeout", "rate_limit"], "backoff_base_s": 0.1},
    },
    "cache": {"dir": ".llmguard/cache", "mode": "record"},
    "budgets": {
        "latency_p95_ms": {"max": 4000, "max_increase": "15%"},
        "error_rate": {"max": 0.02, "max_increase": 0.01},
        "check_pass_rate": {"min": 0.9},
    },
    "gate": {"confidence": 0.95, "min_cases": 5},
    "report": {"json": "report.json", "markdown": "report.md"},
    "sim": {"seed": 3, "models": {"sim-mine": {"base": "sim-stable", "latency_ms": 50}}},
    "redact": ["email", "api_key"],
}

VALID_GOLDEN: dict[str, Any] = {
    "name": "support",
    "description": "fuzzed",
    "system": "You are {{company}}'s assistant.",
    "params": {"max_tokens": 100},
    "vars": {"company": "Acme"},
    "tags": ["support"],
    "cases": [
        {
            "id": "refund",
            "prompt": "How long is the refund window for {{company}}?",
            "expected": "30 days.",
            "context": "Refunds: 30 days.",
            "checks": [
                {"contains": "30"},
                {"regex": "\\b30\\b"},
                {"json_schema": {"type": "object", "required": ["a"]}},
                {"similarity": {"min": 0.5}},
                {"facts": ["30 days"]},
                {"no_pii": True},
                {"max_output_tokens": 50},
            ],
            "tags": ["billing"],
            "repeat": 2,
        },
        {
            "id": "chat",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hello"},
            ],
        },
    ],
}

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
KEYS = st.sampled_from(["", "id", "cases", "model", "targets", "checks", "x"]) | st.text(
    max_size=12
)
EXAMPLES = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _paths(node: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield at
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*at, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*at, index))


def _parent_and_key(doc: Any, path: tuple[Any, ...]) -> tuple[Any, Any]:
    node = doc
    for step in path[:-1]:
        node = node[step]
    return node, path[-1]


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """``base`` after 1-3 mutations at random places."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, key = _parent_and_key(doc, path)
        action = draw(st.sampled_from(["replace", "delete", "unknown_key", "nest", "duplicate"]))
        if action == "replace":
            parent[key] = draw(VALUES)
        elif action == "delete":
            del parent[key]
        elif action == "unknown_key" and isinstance(parent, dict):
            parent[draw(KEYS)] = draw(VALUES)
        elif action == "nest":
            value = parent[key]
            for _ in range(draw(st.integers(1, 40))):
                value = draw(st.sampled_from([[value], {"k": value}]))
            parent[key] = value
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
    return doc


@st.composite
def damaged_text(draw: st.DrawFn, base: dict[str, Any]) -> bytes:
    """A mutated document, serialised as YAML or JSON, maybe with some bytes damaged."""
    doc = draw(mutated(base))
    if draw(st.booleans()):
        text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    else:
        text = json.dumps(doc, ensure_ascii=draw(st.booleans()))
    data = bytearray(text.encode("utf-8"))
    for _ in range(draw(st.integers(0, 3))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "delete", "insert"]))
        if action == "flip":
            data[at] = draw(st.integers(0, 255))
        elif action == "delete":
            del data[at]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
    return bytes(data)


def _expect_clear_error_or_result(exc: BaseException | None, file: str) -> None:
    if exc is None:
        return
    assert isinstance(exc, UsageError), f"{type(exc).__name__} escaped: {exc!r}"
    message = str(exc)
    assert message.strip(), "empty message"
    assert file in message, f"the message does not name {file}: {message}"
    assert "Traceback" not in message


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fuzz")
    (path / "golden_sets").mkdir()
    return path


def _configure(root: Path) -> None:
    """What the plugin's pytest_configure does with the files, minus pytest."""
    config = load_config(str(root))
    golden_sets = load_golden_sets(config) if config.golden_sets == ("golden_sets/",) else ()
    GuardSession(config, golden_sets)


def _load_config_bytes(root: Path, data: bytes) -> None:
    (root / "llmguard.yaml").write_bytes(data)
    shutil.rmtree(root / "golden_sets")
    (root / "golden_sets").mkdir()
    (root / "golden_sets" / "g.yaml").write_text(
        "cases:\n  - {id: a, prompt: hi}\n", encoding="utf-8"
    )
    try:
        _configure(root)
    except Exception as exc:
        _expect_clear_error_or_result(exc, "llmguard.yaml")


def _load_golden_bytes(root: Path, name: str, data: bytes) -> None:
    (root / "llmguard.yaml").write_text(
        "targets:\n  t: {provider: sim, model: sim-stable}\n", encoding="utf-8"
    )
    shutil.rmtree(root / "golden_sets")
    (root / "golden_sets").mkdir()
    (root / "golden_sets" / name).write_bytes(data)
    try:
        _configure(root)
    except Exception as exc:
        _expect_clear_error_or_result(exc, f"golden_sets/{name}")


@EXAMPLES
@given(data=damaged_text(VALID_CONFIG))
def test_mutated_configs_load_or_fail_clearly(root: Path, data: bytes) -> None:
    _load_config_bytes(root, data)


@EXAMPLES
@given(data=damaged_text(VALID_GOLDEN))
def test_mutated_golden_sets_load_or_fail_clearly(root: Path, data: bytes) -> None:
    _load_golden_bytes(root, "g.yaml", data)


@EXAMPLES
@given(doc=mutated(VALID_GOLDEN), damage=st.integers(0, 2))
def test_mutated_jsonl_golden_sets_load_or_fail_clearly(
    root: Path, doc: dict[str, Any], damage: int
) -> None:
    cases = doc.pop("cases", None)
    lines = [json.dumps({HEADER_KEY: doc})] if doc else []
    lines.extend(json.dumps(c) for c in (cases if isinstance(cases, list) else [cases]))
    if damage and lines:
        # a truncated last line, as when an export is cut short
        lines[-1] = lines[-1][: len(lines[-1]) // (damage + 1)]
    _load_golden_bytes(root, "g.jsonl", ("\n".join(lines) + "\n").encode("utf-8"))


@EXAMPLES
@given(data=st.binary(max_size=512))
def test_random_bytes_fail_clearly(root: Path, data: bytes) -> None:
    _load_config_bytes(root, data)
    _load_golden_bytes(root, "g.yaml", data)


# ---- known bugs, one input each --------------------------------------------------------

DEEP = 400


@pytest.mark.parametrize(
    ("name", "text"),
    [
        pytest.param(
            "g.yaml",
            "cases:\n  - {id: a, prompt: hi, checks: [{json_schema: "
            + "{items: " * DEEP
            + "{}"
            + "}" * DEEP
            + "}]}\n",
            id="deep-json-schema",
        ),
        pytest.param(
            "g.jsonl",
            '{"id": "a", "prompt": "hi"}\n' + "[" * 100_000 + "\n",
            id="deep-jsonl-line",
        ),
        pytest.param(
            "g.yaml",
            'cases:\n  - {id: "a\\e(0b\\a", prompt: hi}\n',
            id="control-chars-in-id",
        ),
    ],
)
def test_known_bad_inputs_fail_clearly(root: Path, name: str, text: str) -> None:
    (root / "llmguard.yaml").write_text(
        "targets:\n  t: {provider: sim, model: sim-stable}\n", encoding="utf-8"
    )
    shutil.rmtree(root / "golden_sets")
    (root / "golden_sets").mkdir()
    (root / "golden_sets" / name).write_text(text, encoding="utf-8")
    with pytest.raises(UsageError) as info:
        _configure(root)
    assert f"golden_sets/{name}" in str(info.value)


# ---- through the plugin: exit 4, one ERROR line, no traceback --------------------------


def _expected_first_line(path: Path, display: str) -> tuple[str, str]:
    mode, _, first = (
        path.read_text(encoding="utf-8").splitlines()[0].removeprefix("# ").partition(": ")
    )
    return mode, first.replace("{file}", display)


CONFIG_CORPUS = ["alias_bomb", "unknown_top_key", "tab_indent", "python_tag"]
GOLDEN_CORPUS = ["bad_regex", "bad_json_schema", "id_traversal", "duplicate_ids", "python_tag"]
TARGETS = "targets:\n  t: {provider: sim, model: sim-stable}\n"


def _assert_one_usage_error(result: pytest.RunResult, expected: str | None = None) -> str:
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = result.stdout.str() + result.stderr.str()
    errors = [line for line in output.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1, output
    assert "Traceback" not in output and "INTERNALERROR" not in output
    if expected is not None:
        assert errors[0].startswith("ERROR: " + expected), errors[0]
    return errors[0]


@pytest.mark.parametrize("name", CONFIG_CORPUS)
def test_config_corpus_through_the_plugin(pytester: pytest.Pytester, name: str) -> None:
    source = BAD_INPUTS / "config" / f"{name}.yaml"
    shutil.copy(source, pytester.path / source.name)
    _, expected = _expected_first_line(source, source.name)
    result = pytester.runpytest("--llmguard", "--llmguard-config", source.name)
    _assert_one_usage_error(result, expected)


@pytest.mark.parametrize("name", GOLDEN_CORPUS)
def test_golden_corpus_through_the_plugin(pytester: pytest.Pytester, name: str) -> None:
    source = BAD_INPUTS / "golden" / f"{name}.yaml"
    (pytester.path / "llmguard.yaml").write_text(TARGETS, encoding="utf-8")
    (pytester.path / "golden_sets").mkdir()
    shutil.copy(source, pytester.path / "golden_sets" / source.name)
    _, expected = _expected_first_line(source, f"golden_sets/{source.name}")
    result = pytester.runpytest("--llmguard")
    _assert_one_usage_error(result, expected)


GENERATED = [
    pytest.param(b'cases:\n  - {id: a, prompt: "caf\xe9"}\n', "not valid UTF-8", id="non-utf8"),
    pytest.param(
        b"cases:\n  - {id: a, prompt: hi}\n" + b"# padding\n" * 2_300_000,
        "file is too large",
        id="huge",
    ),
    pytest.param(b"", "file is empty", id="empty"),
]


@pytest.mark.parametrize(("data", "words"), GENERATED)
def test_generated_bad_golden_sets_through_the_plugin(
    pytester: pytest.Pytester, data: bytes, words: str
) -> None:
    (pytester.path / "llmguard.yaml").write_text(TARGETS, encoding="utf-8")
    (pytester.path / "golden_sets").mkdir()
    (pytester.path / "golden_sets" / "g.yaml").write_bytes(data)
    line = _assert_one_usage_error(pytester.runpytest("--llmguard"))
    assert line.startswith("ERROR: golden_sets/g.yaml") and words in line


def test_unresolvable_schema_ref_is_a_usage_error(pytester: pytest.Pytester) -> None:
    (pytester.path / "llmguard.yaml").write_text(TARGETS, encoding="utf-8")
    (pytester.path / "golden_sets").mkdir()
    # The simulator answers a sim target with `expected`, so the output is JSON.
    (pytester.path / "golden_sets" / "g.yaml").write_text(
        'cases:\n  - {id: a, prompt: hi, expected: "{\\"a\\": 1}",\n'
        '     checks: [{json_schema: {$ref: "#/nowhere"}}]}\n',
        encoding="utf-8",
    )
    _assert_one_usage_error(pytester.runpytest("--llmguard"))
