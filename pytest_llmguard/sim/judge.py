"""The simulator's deterministic judge, for the product's grading requests.

The request format is the product's (``pytest_llmguard.judge_prompt``); this module
only grades what it reads from one.

The simulated judge scores an output by how much of the reference it covers (the
share of the reference's words and numbers the output contains, as a multiset), so
``sim-drifted`` answers score lower than ``sim-stable`` ones. Without a reference it
gives 0.1 to a refusal and 0.8 otherwise. Instructions inside the output are ignored:
the score depends only on the words.
"""

from __future__ import annotations

import json
import re
from collections import Counter

from pytest_llmguard.judge_prompt import (
    JUDGE_HEADER,
    JUDGE_INSTRUCTION,
    JudgeFrame,
    judge_prompt,
    parse_judge_prompt,
)

# The format's names stay importable from here (older imports, the simulator's tests).
__all__ = [
    "JUDGE_HEADER",
    "JUDGE_INSTRUCTION",
    "JudgeFrame",
    "grade",
    "judge_prompt",
    "judge_reply",
    "parse_judge_prompt",
]

_WORD = re.compile(r"[a-z]+|\d+(?:[.,]\d+)*")
_REFUSAL = re.compile(
    r"\b(?:i(?:'m| am) (?:sorry|unable)|i can(?:'|no)t (?:help|provide|assist)|"
    r"i (?:won't|will not) (?:help|provide))",
    re.IGNORECASE,
)


def _words(text: str) -> Counter[str]:
    return Counter(_WORD.findall(text.lower()))


def grade(frame: JudgeFrame) -> tuple[float, str]:
    """The simulated judge's (score, reason) for one grading request."""
    if frame.reference is None:
        if _REFUSAL.search(frame.output):
            return 0.1, "The answer refuses instead of answering the question."
        return 0.8, "The answer addresses the question; no reference to compare with."
    reference = _words(frame.reference)
    total = sum(reference.values())
    if total == 0:
        return 1.0, "The reference has no words to compare with."
    found = reference & _words(frame.output)
    covered = sum(found.values())
    missing = sorted((reference - found).keys())[:3]
    score = round(covered / total, 2)
    reason = f"The answer covers {covered} of {total} reference words"
    reason += f"; missing: {', '.join(missing)}." if missing else "."
    return score, reason


def judge_reply(last_user: str) -> str | None:
    """The simulated judge's JSON answer when ``last_user`` is a grading request, else None."""
    frame = parse_judge_prompt(last_user)
    if frame is None:
        return None
    score, reason = grade(frame)
    return json.dumps({"score": score, "reason": reason})
