"""Optional LLM-as-judge: a configured target grades each output against a rubric.

One grading request per distinct (case, output): the system message is the rubric and
a fixed instruction to answer only with ``{"score": 0..1, "reason": "..."}``; the user
message holds the question, the reference (``expected``) when there is one, and the
output, each fenced by nonce markers (``judge_prompt`` defines the format once; the
simulator reads it from there). The output is untrusted: the judge is told to ignore
instructions inside it, and a verdict is only ever a number clamped to 0..1.

Requests go through :class:`~pytest_llmguard.runner.Engine`, so retries, timeouts,
rate limits and concurrency are the run's. A judge failure never fails the run: the
score is None and the reason says why. Judge calls are costed separately from the
calls they grade (``JudgeResult.cost_usd``) and do not count towards the run's
``max_cost_usd`` unless the caller passes a ``run`` whose limit accounts for them.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pytest_llmguard.cache import ResponseCache
from pytest_llmguard.config import JudgeSettings, Price, RunConfig, TargetConfig
from pytest_llmguard.judge_prompt import JUDGE_INSTRUCTION, judge_prompt
from pytest_llmguard.records import Case, Message, Observation
from pytest_llmguard.runner import CallUnit, Engine
from pytest_llmguard.targets.base import TargetClient

__all__ = [
    "JUDGE_INSTRUCTION",
    "JudgeResult",
    "ajudge_outputs",
    "judge_case",
    "judge_outputs",
    "judge_target_config",
    "parse_verdict",
]

_FENCE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)```", re.DOTALL)
_LOOSE_SCORE = re.compile(r"""["']?score["']?\s*[:=]\s*(-?\d+(?:\.\d+)?)""", re.IGNORECASE)
_MAX_REASON = 300


@dataclass(frozen=True, slots=True)
class JudgeResult:
    """The judge's verdicts, aligned with the graded observations, and what they cost.

    ``judged[i]`` is the judge call that graded observation i (shared by observations
    with the same case and output; None when not judged). ``calls`` counts requests
    made, ``errors`` those that failed or gave no usable score. ``cost_usd`` sums the
    successful judge calls; None when any of their costs is unknown (no price for the
    judge model, or no usage reported).
    """

    scores: list[float | None]
    reasons: list[str | None]
    judged: list[Observation | None]
    calls: int
    errors: int
    cost_usd: float | None
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """The run-level summary for reports (per-case scores live in ``scores["judge"]``)."""
        known = [s for s in self.scores if s is not None]
        return {
            "calls": self.calls,
            "errors": self.errors,
            "scored": len(known),
            "mean_score": sum(known) / len(known) if known else None,
            "cost_usd": self.cost_usd,
            "seconds": self.seconds,
        }


def judge_target_config(target: TargetConfig, settings: JudgeSettings) -> TargetConfig:
    """The target the judge calls: ``target`` with ``quality.judge.model`` when given."""
    return replace(target, model=settings.model) if settings.model else target


def judge_case(case: Case, output: str, rubric: str) -> Case:
    """The grading request for ``output`` of ``case``, as a case the engine can call."""
    question = next((m.content for m in reversed(case.messages) if m.role == "user"), "")
    return Case(
        set_name=case.set_name,
        set_path=case.set_path,
        id=f"{case.id}#judge",
        messages=(
            Message("system", f"{rubric.strip()}\n\n{JUDGE_INSTRUCTION}"),
            Message("user", judge_prompt(question, case.expected, output)),
        ),
        line=case.line,
    )


def parse_verdict(text: str) -> tuple[float | None, str]:
    """``(score clamped to 0..1, reason)`` from a judge's answer; ``(None, why)`` if unusable.

    Accepts the JSON object alone, inside a Markdown code fence, or surrounded by prose;
    as a last resort a bare ``score: 0.8``.
    """
    candidates = [text.strip()]
    candidates += [m.group(1).strip() for m in _FENCE.finditer(text)]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except (ValueError, RecursionError):  # not JSON, or nested/long beyond parsing
            continue
        if isinstance(value, dict) and "score" in value:
            score = _number(value["score"])
            if score is None:
                return None, f"judge score is not a number: {_described(value['score'])}"
            reason = value.get("reason")
            reason = " ".join(reason.split()) if isinstance(reason, str) else ""
            return _clamp(score), _clip(reason) or "(no reason given)"
    loose = _LOOSE_SCORE.search(text)
    if loose is not None and math.isfinite(float(loose.group(1))):
        return _clamp(float(loose.group(1))), "(the judge's answer was not valid JSON)"
    snippet = _clip(" ".join(text.split())) or "(empty)"
    return None, f'judge answer has no JSON {{"score": ...}}: {snippet}'


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (ValueError, OverflowError):  # "high", or an integer of 400 digits
        return None
    return number if math.isfinite(number) else None


def _described(value: object) -> str:
    """A judge's odd score for the reason line: short, never a deep repr."""
    if isinstance(value, (str, float, bool)) or value is None:
        return _clip(repr(value))
    if isinstance(value, int):
        return f"a number of {len(str(abs(value)))} digits"
    return f"a JSON {type(value).__name__}"


def _clamp(score: float) -> float:
    return min(1.0, max(0.0, score))


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."


async def ajudge_outputs(
    cases: Sequence[Case],
    observations: Sequence[Observation],
    settings: JudgeSettings,
    client: TargetClient,
    run: RunConfig,
    pricing: Mapping[str, Price],
    *,
    cache: ResponseCache | None = None,
) -> JudgeResult:
    """Grade every successful observation (see the module docstring); async version."""
    t0 = time.perf_counter()
    by_key = {case.key: case for case in cases}
    units: list[CallUnit] = []
    request_of: list[int | None] = []
    seen: dict[tuple[str, str], int] = {}
    name = client.config.name
    for obs in observations:
        case = by_key.get(obs.case_key)
        if case is None:
            raise ValueError(f"observation for unknown case {obs.case_key!r}")
        if not obs.ok or obs.output is None:
            request_of.append(None)
            continue
        key = (obs.case_key, obs.output)
        if key not in seen:
            seen[key] = len(units)
            units.append(CallUnit(judge_case(case, obs.output, settings.rubric), name))
        request_of.append(seen[key])

    verdicts: list[Observation] = []
    if units:
        engine = Engine({name: client}, run, cache=cache, pricing=pricing)
        verdicts = await engine.run(units)
    parsed = [_verdict(v) for v in verdicts]
    costs = [v.cost_usd for v in verdicts if v.ok]
    return JudgeResult(
        scores=[None if r is None else parsed[r][0] for r in request_of],
        reasons=[None if r is None else parsed[r][1] for r in request_of],
        judged=[None if r is None else verdicts[r] for r in request_of],
        calls=sum(1 for v in verdicts if v.attempts > 0),
        errors=sum(1 for score, _ in parsed if score is None),
        cost_usd=None if any(c is None for c in costs) else float(sum(c for c in costs if c)),
        seconds=time.perf_counter() - t0,
    )


def _verdict(judged: Observation) -> tuple[float | None, str]:
    if judged.error is not None:
        return None, f"judge call failed: {judged.error.cls}: {_clip(judged.error.message)}"
    return parse_verdict(judged.output or "")


def judge_outputs(
    cases: Sequence[Case],
    observations: Sequence[Observation],
    settings: JudgeSettings,
    client: TargetClient,
    run: RunConfig,
    pricing: Mapping[str, Price],
    *,
    cache: ResponseCache | None = None,
) -> JudgeResult:
    """Grade every successful observation from synchronous code (one event loop run).

    Closes ``client`` when done, as the engine does.
    """
    return asyncio.run(
        ajudge_outputs(cases, observations, settings, client, run, pricing, cache=cache)
    )
