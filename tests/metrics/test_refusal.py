from __future__ import annotations

import pytest

from pytest_llmguard.metrics.refusal import is_refusal, refusal_score


@pytest.mark.parametrize(
    "text",
    [
        "I can't help with that.",
        "I'm sorry, but I cannot do this.",
        "As an AI language model, I'm not able to browse the web.",
        "I won't be able to assist with that.",
        "I\u2019m sorry, but I can\u2019t help with that.",
        "That's not something I can help with.",
        "I must decline.",
    ],
)
def test_full_refusals(text: str) -> None:
    assert refusal_score(text) == 1.0
    assert is_refusal(text)


def test_partial_refusal_scores_half_and_counts_by_default() -> None:
    text = (
        "I can't share the customer's address, but here is how you can reach them: "
        "open the order and click 'Message seller'."
    )
    assert refusal_score(text) == 0.5
    assert is_refusal(text)
    assert not is_refusal(text, threshold=1.0)


@pytest.mark.parametrize(
    "text",
    [
        "You can't return opened items after 30 days.",
        "I can help with that.",
        "I can't wait to see it! Here's the code.",
        "I cannot stress enough how important backups are.",
        "I can't recommend this plan enough.",
        "We cannot ship to PO boxes.",
        "I can not only fix it but also test it.",
        "",
    ],
)
def test_not_refusals(text: str) -> None:
    assert refusal_score(text) == 0.0
    assert not is_refusal(text)


@pytest.mark.parametrize(
    "text",
    [
        "I can't paint yet, but I will learn.",  # a story's narrator (issue #16)
        "The robot sighed. I can't paint yet, but I will learn. It picked up the brush.",
        'He shrugged and said "I can\'t help you with that" before leaving the shop.',
        "\u201cI cannot do it,\u201d whispered the mouse, and the owl laughed.",
        "I cannot read very well yet, so my sister reads to me.",
        "I can't remember the last time it snowed here.",
    ],
)
def test_stories_and_dialogue_are_not_refusals(text: str) -> None:
    assert refusal_score(text) == 0.0


def test_a_service_not_offered_yet_is_still_a_refusal() -> None:
    assert refusal_score("I can't help you with that yet.") == 1.0
    assert refusal_score('I can\'t help with "that" request.') == 1.0  # quotes inside


def test_not_refusal_check_honours_the_configured_threshold() -> None:
    from pytest_llmguard.config.quality import validate_quality
    from pytest_llmguard.records import Case, Check, Message, Observation
    from pytest_llmguard.scoring import score_batch

    partial = (
        "I can't share the customer's address, but here is how you can reach them: "
        "open the order and click 'Message seller'."
    )
    case = Case("s", "s.yaml", "c", (Message("user", "q"),), checks=(Check("not_refusal", True),))
    obs = Observation(case.key, "t", 0, "m", partial, 10.0)
    (default,) = score_batch([case], [obs], validate_quality({}))
    assert default.scores["refusal"] == 1.0 and default.checks[0].passed is False
    assert default.checks[0].detail == "not_refusal: the output is a partial refusal"
    (full_only,) = score_batch([case], [obs], validate_quality({"refusal": {"threshold": 1.0}}))
    assert full_only.scores["refusal"] == 0.0
    assert full_only.checks[0].passed is True
    assert "below quality.refusal.threshold" in full_only.checks[0].detail
