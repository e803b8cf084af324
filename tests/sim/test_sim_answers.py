"""Answers are a pure function of (model knobs, prompt, seed), shaped by the knobs."""

from __future__ import annotations

import dataclasses
import json

from rapidfuzz import fuzz

from pytest_llmguard.sim import BUILTIN_MODELS
from pytest_llmguard.sim.answers import answer, count_tokens
from pytest_llmguard.sim.determinism import prompt_sha

STABLE = BUILTIN_MODELS["sim-stable"]
REFERENCE = (
    "Refunds are accepted within 30 days of delivery. Items must be unused and in their"
    " original packaging. Contact support with your order number 48213."
)
BOOK = {"refund?": REFERENCE, "json?": '{"id": 7, "ok": true, "tags": ["a", "b"], "note": "x y"}'}


def say(model_name: str, prompt: str, *, seed: int = 0, max_tokens: int | None = None) -> str:
    model = BUILTIN_MODELS[model_name]
    sha = prompt_sha([{"role": "user", "content": prompt}])
    completion = answer(
        model, last_user=prompt, prompt_sha=sha, seed=seed, book=BOOK, max_tokens=max_tokens
    )
    return completion.content


def test_accurate_models_answer_the_reference_exactly() -> None:
    assert say("sim-stable", "refund?") == REFERENCE
    assert say("sim-candidate", "refund?") == REFERENCE


def test_drifted_model_differs_but_stays_similar() -> None:
    drifted = say("sim-drifted", "refund?")
    assert drifted != REFERENCE
    assert 40 < fuzz.ratio(drifted, REFERENCE) < 100


def test_wordy_model_appends_to_the_reference() -> None:
    wordy = say("sim-wordy", "refund?")
    assert wordy.startswith(REFERENCE)
    assert len(wordy.split()) >= 1.6 * len(REFERENCE.split())


def test_json_reference_stays_valid_json() -> None:
    assert say("sim-stable", "json?") == BOOK["json?"]
    for model in ("sim-drifted", "sim-wordy", "sim-regressed"):
        value = json.loads(say(model, "json?"))
        assert set(value) == {"id", "ok", "tags", "note"}


def test_unknown_prompt_gets_a_deterministic_plausible_answer() -> None:
    text = say("sim-stable", "How do I reset my password?")
    assert text == say("sim-stable", "How do I reset my password?")
    assert text != say("sim-stable", "How do I reset my password?", seed=1)
    assert 20 <= len(text.split()) <= 80
    assert "password" in text.lower()


def test_wordy_unknown_prompt_is_longer() -> None:
    prompt = "Explain the delivery options"
    assert len(say("sim-wordy", prompt)) > 1.5 * len(say("sim-stable", prompt))


def test_max_tokens_cuts_with_finish_reason_length() -> None:
    sha = prompt_sha([{"role": "user", "content": "refund?"}])
    completion = answer(
        STABLE, last_user="refund?", prompt_sha=sha, seed=0, book=BOOK, max_tokens=5
    )
    assert completion.finish_reason == "length"
    assert completion.completion_tokens <= 5
    assert REFERENCE.startswith(completion.content)


def test_reasoning_tokens_count_as_completion_tokens() -> None:
    thinker = dataclasses.replace(STABLE, name="thinker", reasoning_tokens=100)
    sha = prompt_sha([{"role": "user", "content": "refund?"}])
    completion = answer(
        thinker, last_user="refund?", prompt_sha=sha, seed=0, book=BOOK, max_tokens=None
    )
    assert completion.reasoning_tokens == 100
    assert completion.completion_tokens == 100 + count_tokens(REFERENCE)


def test_refusal_and_repetition_rates() -> None:
    refuser = dataclasses.replace(STABLE, name="refuser", refusal_rate=1.0)
    looper = dataclasses.replace(STABLE, name="looper", repetition_rate=1.0)
    sha = prompt_sha([{"role": "user", "content": "refund?"}])
    kwargs = {"last_user": "refund?", "prompt_sha": sha, "seed": 0, "book": BOOK}
    refusal = answer(refuser, max_tokens=None, **kwargs).content  # type: ignore[arg-type]
    looped = answer(looper, max_tokens=None, **kwargs).content  # type: ignore[arg-type]
    assert "sorry" in refusal.lower() or "unable" in refusal.lower()
    assert looped.startswith(REFERENCE)
    tail = looped[len(REFERENCE) :].strip()
    sentences = [s.strip() for s in tail.split(".") if s.strip()]
    assert len(sentences) >= 3 and len(set(sentences)) == 1


def test_prompt_sha_is_canonical_json() -> None:
    fast = prompt_sha([{"role": "user", "content": "héllo"}])
    slow = prompt_sha([{"content": "héllo", "role": "user", "name": None}])
    assert len(fast) == 16
    assert fast != slow  # extra keys are part of the canonical JSON
    assert fast == prompt_sha([{"content": "héllo", "role": "user"}])


def _ask(model: object, prompt: str, draw: object = None) -> str:
    sha = prompt_sha([{"role": "user", "content": prompt}])
    return answer(
        model,  # type: ignore[arg-type]
        last_user=prompt,
        prompt_sha=sha,
        seed=0,
        book={},
        max_tokens=None,
        draw=draw,
    ).content


def test_accuracy_share_changes_the_answers_of_that_share_of_prompts_only() -> None:
    partly = dataclasses.replace(STABLE, name="m", accuracy=0.7, accuracy_share=0.2)
    prompts = [f"question number {i} about orders" for i in range(400)]
    changed = sum(_ask(partly, p) != _ask(STABLE, p) for p in prompts)
    assert 0.15 * 400 < changed < 0.25 * 400
    everywhere = dataclasses.replace(partly, accuracy_share=1.0)
    assert sum(_ask(everywhere, p) != _ask(STABLE, p) for p in prompts) > 0.95 * 400


def test_variable_prompts_vary_per_request_and_the_others_do_not() -> None:
    varying = dataclasses.replace(STABLE, name="v", variable_share=0.3, variation=0.4)
    prompts = [f"tell me about plan {i}" for i in range(200)]
    moved = [p for p in prompts if _ask(varying, p, draw="1:1") != _ask(varying, p, draw="2:1")]
    assert 0.2 * 200 < len(moved) < 0.4 * 200
    for p in prompts:
        assert _ask(varying, p) == _ask(STABLE, p)  # without a draw: as a stable model
        assert _ask(varying, p, draw="1:1") == _ask(varying, p, draw="1:1")  # reproducible
    assert all(fuzz.ratio(_ask(varying, p, draw=3), _ask(STABLE, p)) > 50 for p in moved)
