from __future__ import annotations

from pytest_llmguard.metrics.repetition import is_repetitive, repetition_score


def test_looping_sentence_is_repetitive() -> None:
    text = "Your refund will be processed soon. " * 4
    assert repetition_score(text) >= 0.7
    assert is_repetitive(text)


def test_stuck_token_loop() -> None:
    assert repetition_score("yes " * 20) > 0.8


def test_list_with_repeated_structure_but_different_content_is_not() -> None:
    text = (
        "Monday: 9am-5pm\nTuesday: 9am-5pm\nWednesday: 9am-5pm\nThursday: 9am-5pm\nFriday: 9am-6pm"
    )
    assert not is_repetitive(text)
    steps = "1. Open Settings.\n2. Select Billing.\n3. Click Download.\n4. Pick the month."
    assert repetition_score(steps) == 0.0


def test_short_texts_score_zero() -> None:
    assert repetition_score("Thank you, thank you!") == 0.0
    assert repetition_score("") == 0.0


def test_repeated_list_items_count_as_looping_sentences() -> None:
    text = "Tips:\n- Drink water.\n- Drink water.\n- Drink water.\n- Drink water.\n- Sleep well."
    assert repetition_score(text) >= 0.5


def test_threshold_is_respected() -> None:
    text = "The plan includes storage. The plan includes storage. It also has support and more."
    score = repetition_score(text)
    assert 0 < score < 1
    assert is_repetitive(text, threshold=score)
    assert not is_repetitive(text, threshold=score + 0.01)
