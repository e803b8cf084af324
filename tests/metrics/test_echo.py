"""Echo-aware scoring: an output that restates the prompt earns no similarity, fails
``not_echo``, counts in ``echo_rate`` and does not pass ``contains`` on echoed text."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_llmguard.config import QualitySettings
from pytest_llmguard.config.quality import validate_quality
from pytest_llmguard.exceptions import ConfigError
from pytest_llmguard.metrics.echo import EchoFinder, echo_score, is_echo
from pytest_llmguard.metrics.similarity import pair_similarity
from pytest_llmguard.records import Case, Check, Message, Observation
from pytest_llmguard.scoring import score_batch
from pytest_llmguard.summary import summarize

JAPAN = "What is the capital of Japan?"


@pytest.mark.parametrize(
    ("output", "score"),
    [
        (JAPAN, 1.0),
        ("what is THE capital of japan", 1.0),  # case and punctuation do not matter
        ("What is the capital of Japan? Tokyo.", 6 / 7),
        ("The capital of Japan is Tokyo.", 4 / 6),
        ("Tokyo.", 0.0),
        ("Japan has Tokyo as its capital.", 0.0),  # shared words, no shared run
        ("", 0.0),
    ],
)
def test_echo_score(output: str, score: float) -> None:
    assert echo_score(output, [JAPAN]) == pytest.approx(score)


def test_short_outputs_echo_only_the_whole_prompt() -> None:
    assert echo_score("Hello there", ["Hello there"]) == 1.0
    assert echo_score("yes", ["Is Jupiter the largest planet? Answer yes or no."]) == 0.0


def test_runs_do_not_span_messages() -> None:
    messages = ["You are helpful and", "kind to every customer"]
    assert echo_score("and kind to", messages) == 0.0
    assert echo_score("kind to every", messages) == 1.0


def test_remainder_is_what_the_output_adds() -> None:
    finder = EchoFinder([JAPAN])
    assert finder.echo("What is the capital of Japan? It is Tokyo.").remainder == "? It is Tokyo."
    assert finder.echo("Tokyo.").remainder == "Tokyo."
    assert finder.echo(JAPAN).remainder == "?"


def test_a_reference_that_restates_the_prompt_is_not_an_echo() -> None:
    prompt = ["Repeat after me: the quick brown fox"]
    assert is_echo("the quick brown fox", prompt)
    assert not is_echo("the quick brown fox", prompt, reference="The quick brown fox.")
    assert is_echo(JAPAN, [JAPAN], reference="The capital of Japan is Tokyo.")
    assert not is_echo(JAPAN, [JAPAN], threshold=1.01)


def _case(
    *checks: tuple[str, Any], expected: str | None = "The capital of Japan is Tokyo."
) -> Case:
    return Case(
        "s",
        "golden_sets/s.yaml",
        "japan",
        (Message("system", "Answer briefly."), Message("user", JAPAN)),
        expected=expected,
        checks=tuple(Check(k, a) for k, a in checks),
    )


DEFAULTS = QualitySettings()


def _score(case: Case, *outputs: str, settings: QualitySettings = DEFAULTS) -> list[Any]:
    observations = [
        Observation(case.key, "t", i, "m", output, 10.0, output_tokens=5)
        for i, output in enumerate(outputs)
    ]
    return score_batch([case], observations, settings)


def test_an_echo_earns_no_similarity() -> None:
    # What the issue measured with token_set_ratio: echoes scored like answers.
    expected = "The capital of Japan is Tokyo."
    assert pair_similarity(JAPAN, expected) >= 0.85
    echo, answer, wrong = _score(_case(), JAPAN, "The capital of Japan is Tokyo.", "Kyoto.")
    assert echo.scores["echoed"] == 1.0 and echo.scores["echo"] == 1.0
    assert echo.scores["similarity"] == 0.0
    assert answer.scores["echoed"] == 0.0 and answer.scores["similarity"] == 1.0
    assert wrong.scores["echoed"] == 0.0


def test_an_echo_followed_by_an_answer_is_judged_by_the_answer() -> None:
    right, wrong = _score(_case(), f"{JAPAN} Tokyo.", f"{JAPAN} Kyoto.")
    assert right.scores["echoed"] == wrong.scores["echoed"] == 1.0
    assert right.scores["similarity"] == 1.0
    assert wrong.scores["similarity"] is not None and wrong.scores["similarity"] < 0.5


def test_contains_regex_and_facts_do_not_pass_on_echoed_text() -> None:
    case = _case(
        ("contains", "capital of Japan"),
        ("regex", r"(?i)capital"),
        ("facts", ["capital of Japan"]),
        ("not_contains", "Kyoto"),
    )
    (echo,) = _score(case, JAPAN)
    details = {c.name: (c.passed, c.detail) for c in echo.checks}
    assert details["contains"] == (
        False,
        'contains "capital of Japan": found only in text the output echoes from the prompt '
        "(quality.echo)",
    )
    assert details["regex"][0] is False and "echoes from the prompt" in details["regex"][1]
    assert details["facts"][0] is False and "echoed prompt" in details["facts"][1]
    assert details["not_contains"][0] is True
    (answer,) = _score(case, "The capital of Japan is Tokyo.")
    assert [c.passed for c in answer.checks] == [True, True, True, True]


def test_not_echo_check_and_threshold() -> None:
    case = _case(("not_echo", True))
    echo, answer = _score(case, JAPAN, "Tokyo.")
    assert echo.checks[0].passed is False
    assert echo.checks[0].detail == "not_echo: 100% of the output restates the prompt"
    assert answer.checks[0].passed is True
    loose = validate_quality({"echo": {"threshold": 1.0}})
    (partial,) = _score(case, f"{JAPAN} Tokyo.", settings=loose)
    assert partial.checks[0].passed is True and partial.scores["echo"] == pytest.approx(6 / 7)
    (disabled,) = _score(_case(("not_echo", False)), JAPAN)
    assert disabled.checks[0].passed is True


def test_echo_rate_is_budgetable() -> None:
    scored = _score(_case(), JAPAN, JAPAN, "Tokyo.", "The capital of Japan is Tokyo.")
    summary = summarize("t", "sim", "m", scored)
    assert summary.metrics["echo_rate"] == pytest.approx(0.5)


def test_echo_threshold_is_validated() -> None:
    assert QualitySettings().echo_threshold == 0.8
    assert validate_quality({"echo": {"threshold": 0.5}}).echo_threshold == 0.5
    with pytest.raises(ConfigError, match=r"quality\.echo\.threshold"):
        validate_quality({"echo": {"threshold": 2}})
