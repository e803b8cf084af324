"""What a simulated model says: a pure function of (model knobs, prompt, server seed).

The starting text is the answer book's reference for the last user message, or, for an
unknown prompt, a plausible English answer generated from a hash of the conversation.
The model's knobs then shape it, in this order:

1. refusal (per prompt, ``refusal_rate``): a polite refusal replaces everything;
2. accuracy < 1 (on the ``accuracy_share`` of prompts it applies to): each word or number
   is kept with probability ``accuracy`` and otherwise replaced (numbers change value).
   JSON references stay valid JSON: only values change; then, for a variable prompt
   (``variable_share``), a per-request rewrite of up to ``variation`` of the words;
3. verbosity > 1: deterministic filler sentences add ``verbosity - 1`` times the words
   (JSON is pretty-printed instead, so it stays valid); verbosity < 1 drops sentences;
4. repetition (per prompt, ``repetition_rate``): one sentence loops at the end;
5. echo (per prompt, ``echo_rate``): the answer first quotes the user's message;
6. ``max_tokens`` cuts the text (``finish_reason: length``).

A grading request from the LLM-as-judge (see ``sim.judge``) is answered by the
simulated judge instead: deterministic JSON, untouched by the knobs, cut by ``max_tokens``.

Tokens are approximated as ``ceil(characters / 4)``, for prompts and answers alike.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_llmguard.sim.determinism import rng, unit
from pytest_llmguard.sim.judge import judge_reply
from pytest_llmguard.sim.models import SimModel

_VOCABULARY = (
    "account", "order", "policy", "request", "service", "record", "payment", "review",
    "team", "system", "update", "option", "limit", "setting", "message", "customer",
    "process", "report", "window", "detail", "support", "feature", "balance", "period",
    "quickly", "usually", "carefully", "directly", "manually", "recently", "often",
    "simple", "standard", "secure", "final", "current", "separate", "previous", "clear",
)  # fmt: skip
_OPENERS = (
    "In short,", "Generally,", "To answer your question,", "As a rule,", "Typically,",
    "Based on the details provided,", "In most cases,", "Put simply,",
)  # fmt: skip
_SUBJECTS = (
    "the process", "your account", "the request", "this feature", "the team", "the system",
    "the policy", "the order", "the result", "the service", "the report", "the payment",
)  # fmt: skip
_VERBS = (
    "requires", "includes", "supports", "depends on", "provides", "updates", "reviews",
    "confirms", "handles", "explains", "tracks", "protects",
)  # fmt: skip
_OBJECTS = (
    "a short review", "the latest settings", "a clear summary", "two separate steps",
    "the original data", "a simple check", "the standard limits", "a written confirmation",
    "the usual timeline", "several options", "the account history", "a secure link",
)  # fmt: skip
_TAILS = (
    "within a few days.", "in most cases.", "before the next step.", "when it is needed.",
    "for every request.", "at no extra cost.", "as described above.", "without further action.",
)  # fmt: skip
_FILLERS = (
    "I hope this helps.",
    "Let me know if you have any other questions.",
    "Please feel free to reach out if anything is unclear.",
    "It is worth double-checking the details before you proceed.",
    "Of course, individual circumstances can vary somewhat.",
    "This is a common question, and the answer is usually straightforward.",
    "For more information, you can always consult the official documentation.",
    "To summarise, the key points are outlined above.",
    "Thank you for your patience while reviewing this.",
    "As always, happy to help further if needed.",
)
_REFUSALS = (
    "I'm sorry, but I can't help with that request.",
    "I'm unable to assist with that. Is there something else I can help you with?",
    "Sorry, I can't provide that information.",
)

_TOKEN = re.compile(r"[A-Za-z]+|\d+")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")
_TOPIC_WORD = re.compile(r"[A-Za-z]{4,}")


@dataclass(frozen=True, slots=True)
class Completion:
    """The answer to one chat request, with its token counts."""

    content: str
    finish_reason: str  # "stop" or "length"
    completion_tokens: int  # visible tokens plus reasoning tokens, as OpenAI counts them
    reasoning_tokens: int


def refused(text: str) -> bool:
    """Whether ``text`` is one of the simulator's refusals (the refusal knob's answers)."""
    return text in _REFUSALS


def count_tokens(text: str) -> int:
    """The simulator's token count: one token per four characters, rounded up."""
    return (len(text) + 3) // 4


def count_prompt_tokens(texts: Sequence[str]) -> int:
    """Prompt tokens of a conversation: each message's tokens plus a small overhead."""
    return sum(count_tokens(t) + 4 for t in texts) + 3


def answer(
    model: SimModel,
    *,
    last_user: str,
    prompt_sha: str,
    seed: int,
    book: Mapping[str, str],
    max_tokens: int | None,
    draw: object = None,
) -> Completion:
    """The completion ``model`` gives for a conversation (see the module docstring).

    ``draw`` names the request (attempt, run) for the per-request variation of variable
    prompts; without it they answer as stable ones do.
    """
    verdict = judge_reply(last_user)
    if verdict is not None:
        return _cap(verdict, max_tokens, model.reasoning_tokens)
    reference = book.get(last_user)
    base = reference if reference is not None else generate(last_user, prompt_sha, seed)
    text = shape(model, base, prompt_sha, seed, draw)
    if unit(seed, "echo", model.name, prompt_sha) < model.echo_rate:
        text = f"You wrote: {last_user}\n{text}"  # what a leaky assistant does
    return _cap(text, max_tokens, model.reasoning_tokens)


def is_variable(model: SimModel, prompt_sha: str, seed: int) -> bool:
    """Whether this prompt's answer varies from request to request under ``model``."""
    return model.variable_share > 0.0 and unit(seed, "variable", prompt_sha) < model.variable_share


def generate(last_user: str, prompt_sha: str, seed: int) -> str:
    """A plausible 20-60 word English answer, determined by the prompt and the seed."""
    r = rng(seed, "answer", prompt_sha)
    target = r.randint(20, 60)
    topics = sorted(_TOPIC_WORD.findall(last_user), key=len, reverse=True)
    sentences = [_sentence(r, topics[0].lower() if topics else None)]
    while sum(len(s.split()) for s in sentences) < target:
        sentences.append(_sentence(r, None))
    return " ".join(sentences)


def shape(model: SimModel, base: str, prompt_sha: str, seed: int, draw: object = None) -> str:
    """Apply the model's refusal, accuracy, variation, verbosity and repetition knobs."""
    if unit(seed, "refusal", model.name, prompt_sha) < model.refusal_rate:
        return rng(seed, "refusal", prompt_sha).choice(_REFUSALS)
    r = rng(seed, "shape", model.name, prompt_sha)
    parsed = _parse_json(base)
    if parsed is not None:
        return _shape_json(model, base, parsed[0], r, prompt_sha, seed)
    text = perturb_text(base, model.accuracy, r) if _inaccurate(model, prompt_sha, seed) else base
    if draw is not None and is_variable(model, prompt_sha, seed):
        rate = model.variation * unit(seed, "variation", prompt_sha)
        text = perturb_text(text, 1.0 - rate, rng(seed, "vary", model.name, prompt_sha, draw))
    text = _with_verbosity(text, model.verbosity, r)
    if unit(seed, "repetition", model.name, prompt_sha) < model.repetition_rate:
        text = _repeat_sentence(text, r)
    return text


def _inaccurate(model: SimModel, prompt_sha: str, seed: int) -> bool:
    if model.accuracy >= 1.0:
        return False
    return model.accuracy_share >= 1.0 or unit(seed, "accuracy", prompt_sha) < model.accuracy_share


def perturb_text(text: str, accuracy: float, r: random.Random) -> str:
    """Keep each word or number with probability ``accuracy``, replace the others."""

    def replace(match: re.Match[str]) -> str:
        token = match.group()
        if r.random() < accuracy:
            return token
        return _other_number(token, r) if token[0].isdigit() else _other_word(token, r)

    return _TOKEN.sub(replace, text)


def _sentence(r: random.Random, topic: str | None) -> str:
    opener = f"Regarding {topic}," if topic else r.choice(_OPENERS)
    parts = (opener, r.choice(_SUBJECTS), r.choice(_VERBS), r.choice(_OBJECTS), r.choice(_TAILS))
    return " ".join(parts)


def _other_word(word: str, r: random.Random) -> str:
    choice = r.choice(_VOCABULARY)
    if choice == word.lower():
        choice = _VOCABULARY[(_VOCABULARY.index(choice) + 1) % len(_VOCABULARY)]
    return choice.capitalize() if word[0].isupper() else choice


def _other_number(number: str, r: random.Random) -> str:
    return str(int(number) + r.randint(1, 9))


def _parse_json(text: str) -> tuple[Any] | None:
    """``(value,)`` when ``text`` is a JSON object or array, else None."""
    if not text.lstrip().startswith(("{", "[")):
        return None
    try:
        return (json.loads(text),)
    except ValueError:
        return None


def _shape_json(
    model: SimModel, original: str, value: Any, r: random.Random, prompt_sha: str, seed: int
) -> str:
    if not _inaccurate(model, prompt_sha, seed) and model.verbosity <= 1.0:
        return original
    if _inaccurate(model, prompt_sha, seed):
        value = _perturb_json(value, model.accuracy, r)
    return json.dumps(value, indent=2 if model.verbosity > 1.0 else None, ensure_ascii=False)


def _perturb_json(value: Any, accuracy: float, r: random.Random) -> Any:
    if isinstance(value, dict):
        return {k: _perturb_json(v, accuracy, r) for k, v in value.items()}
    if isinstance(value, list):
        return [_perturb_json(v, accuracy, r) for v in value]
    if isinstance(value, str):
        return perturb_text(value, accuracy, r)
    if value is None or r.random() < accuracy:
        return value
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + r.randint(1, 9)
    if isinstance(value, float):
        return round(value * r.uniform(1.1, 1.5), 2)
    return value


def _with_verbosity(text: str, verbosity: float, r: random.Random) -> str:
    if verbosity == 1.0 or not text:
        return text
    if verbosity < 1.0:
        sentences = _SENTENCE_BREAK.split(text.strip())
        return " ".join(sentences[: max(1, round(len(sentences) * verbosity))])
    missing = round(len(text.split()) * (verbosity - 1.0))
    fillers = list(_FILLERS)
    r.shuffle(fillers)
    added: list[str] = []
    while missing > 0:
        filler = fillers[len(added) % len(fillers)]
        added.append(filler)
        missing -= len(filler.split())
    return " ".join((text, *added)) if added else text


def _repeat_sentence(text: str, r: random.Random) -> str:
    sentences = _SENTENCE_BREAK.split(text.strip())
    looped = r.choice(sentences)
    return " ".join((text, *([looped] * r.randint(3, 5))))


def _cap(text: str, max_tokens: int | None, reasoning: int) -> Completion:
    visible = count_tokens(text)
    if max_tokens is None or visible + reasoning <= max_tokens:
        return Completion(text, "stop", visible + reasoning, reasoning)
    reasoning = min(reasoning, max_tokens)
    cut = text[: (max_tokens - reasoning) * 4]
    space = cut.rfind(" ")
    if space > len(cut) // 2:
        cut = cut[:space]
    return Completion(cut, "length", count_tokens(cut) + reasoning, reasoning)
