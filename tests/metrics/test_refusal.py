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
