"""Outcomes made from plain data, for the report tests and the HTML benchmark.

``synthetic_outcome`` judges a generated baseline/candidate run with the real verdict
path (``verdict.assess``), so every report reads the same records a pytest run gives:
N cases in three golden sets, outputs of about ``words`` words, a candidate that is a
little slower and rewrites some answers (some of which then fail their check), a few
server errors, and optional hostile text planted in outputs, ids, reasons and notes.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace

from pytest_llmguard.config import GateConfig
from pytest_llmguard.config.budgets import parse_budgets
from pytest_llmguard.metrics.pii import find_pii
from pytest_llmguard.outcome import BaselineInfo, Outcome
from pytest_llmguard.records import (
    Case,
    CheckResult,
    ErrorRecord,
    Message,
    Observation,
    ScoredObservation,
)
from pytest_llmguard.summary import summarize
from pytest_llmguard.verdict import Baseline, assess

SETS = ("golden_sets/support.yaml", "golden_sets/faq.jsonl", "golden_sets/text_to_sql.yaml")
WORDS = tuple(
    " ".join(
        (
            "refund order receipt days purchase shipping account password settings billing",
            "invoice customer support plan upgrade cancel subscription delivery address within",
            "business please contact the your you can we will a of to and in for on with after",
        )
    ).split()
)
BUDGETS = {
    "latency_p95_ms": {"max_increase": "15%"},
    "cost_per_response_usd": {"max_increase": "10%"},
    "error_rate": {"max": 0.02},
    "similarity_mean": {"max_decrease": 0.03},
    "check_pass_rate": {"min": 0.95},
}
HOSTILE = (
    "</script><script>window.__pwned = 'script'</script>",
    "<img src=x onerror=\"window.__pwned = 'img'\">",
    "<a href=\"javascript:window.__pwned='link'\">click me</a>",
    "abc\u202edcba\u2066 reversed\u2069 text",  # bidi override and isolate
    "lone \ud800 surrogate and \udfff another",
    "line\u2028separator\u2029paragraph & <!-- comment --> ]]>",
    "<svg onload=\"window.__pwned='svg'\"><style>*{display:none}</style>",
)


def _sentence(rng: random.Random, words: int, vocabulary: Sequence[str]) -> str:
    return " ".join(rng.choices(vocabulary, k=words)).capitalize() + "."


def _rewrite(rng: random.Random, text: str, share: float, vocabulary: Sequence[str]) -> str:
    words = text.split()
    for i in range(len(words)):
        if rng.random() < share:
            words[i] = rng.choice(vocabulary)
    return " ".join(words)


def synthetic_outcome(
    n_cases: int = 200,
    *,
    repeat: int = 1,
    words: int = 40,
    seed: int = 1,
    hostile: Sequence[str] = (),
    saved_baseline: bool = False,
    vocabulary: Sequence[str] = WORDS,
    budgets: bool = True,
) -> Outcome:
    """A judged baseline-vs-candidate outcome (see the module docstring).

    ``vocabulary``: the words outputs are drawn from (with repetition: a list of real
    text's words keeps their frequencies, so outputs compress about as real text does).
    ``budgets=False`` judges no budget (quicker at 10,000 cases; the regressed cases stay).
    """
    rng = random.Random(seed)
    cases: dict[str, Case] = {}
    scored: list[ScoredObservation] = []
    for i in range(n_cases):
        set_path = SETS[i % len(SETS)]
        case_id = f"case-{i:05d}"
        if hostile and i < len(hostile):
            case_id = f"{case_id}-{hostile[i]}"
        expected = _sentence(rng, words, vocabulary)
        anchor = expected.split()[0]
        case = Case(
            set_name=set_path.rsplit("/", 1)[1].split(".")[0],
            set_path=set_path,
            id=case_id,
            messages=(Message("user", f"Question {i}: {_sentence(rng, 12, vocabulary)}"),),
            expected=expected,
            tags=("billing",) if i % 4 == 0 else ("shipping", "faq"),
        )
        cases[case.key] = case
        regressed = rng.random() < 0.12
        for target in ("baseline", "candidate"):
            for r in range(repeat):
                output = expected
                similarity = 1.0
                if target == "candidate" and regressed:
                    output = _rewrite(rng, expected, 0.3, vocabulary)
                    similarity = round(0.6 + 0.3 * rng.random(), 4)
                if hostile and i < len(hostile):
                    output = f"{hostile[i]} {target} says: {output}"
                error = None
                if target == "candidate" and rng.random() < 0.01:
                    error = ErrorRecord(
                        "server_error", f"HTTP 503 {hostile[0] if hostile else ''}", 503
                    )
                passed = anchor in output.split() if error is None else False
                checks = (
                    (
                        CheckResult(
                            "contains",
                            passed,
                            f"contains {anchor!r}: "
                            + ("found" if passed else f"not found in {output[:40]!r}"),
                        ),
                    )
                    if error is None
                    else ()
                )
                scale = 1.25 if target == "candidate" else 1.0
                latency = rng.lognormvariate(4.9, 0.25) * scale
                out_tokens = len(output.split()) + (8 if target == "candidate" else 0)
                scored.append(
                    ScoredObservation(
                        Observation(
                            case_key=case.key,
                            target=target,
                            repeat_index=r,
                            model="sim-stable" if target == "baseline" else "sim-regressed",
                            output=None if error else output,
                            latency_ms=None if error else round(latency, 2),
                            ttft_ms=None if error else round(latency * 0.3, 2),
                            input_tokens=None if error else 90,
                            output_tokens=None if error else out_tokens,
                            cost_usd=None if error else (90 * 0.15 + out_tokens * 0.6) / 1e6,
                            error=error,
                        ),
                        checks,
                        # as the scorer gives them (scoring.py)
                        {
                            "similarity": None if error else similarity,
                            "pii": None if error else float(bool(find_pii(output))),
                        },
                    )
                )
    base_scored = tuple(s for s in scored if s.observation.target == "baseline")
    cand_scored = tuple(s for s in scored if s.observation.target == "candidate")
    summaries = {
        "baseline": summarize("baseline", "sim", "sim-stable", base_scored),
        "candidate": summarize("candidate", "sim", "sim-regressed", cand_scored),
    }
    if saved_baseline:
        info = BaselineInfo("saved", "00007", "baseline", "sim-stable", commit="abc1234def5678")
        run_summaries = {"candidate": summaries["candidate"]}
        run_scored: tuple[ScoredObservation, ...] = cand_scored
    else:
        info = BaselineInfo("target", "baseline", "baseline", "sim-stable")
        run_summaries = summaries
        run_scored = tuple(scored)
    judgement = assess(
        run_summaries,
        run_scored,
        budgets=parse_budgets(BUDGETS if budgets else {}),
        gate=GateConfig(min_cases=min(20, n_cases)),
        candidate="candidate",
        baseline=Baseline(info, summaries["baseline"], base_scored),
        notes=[f"note with {hostile[0]}"] if hostile else [],
    )
    return Outcome(
        started_at="2026-01-02T03:04:05+00:00",
        finished_at="2026-01-02T03:05:06+00:00",
        duration_s=61.0,
        config_path="llmguard.yaml",
        summaries=judgement.summaries,
        comparisons=judgement.comparisons,
        verdict=judgement.verdict,
        scored=run_scored,
        cases=cases,
        targets={},
        notes=judgement.notes,
        regressions=judgement.regressions,
        baseline=judgement.baseline,
        candidate=judgement.candidate,
        git={"commit": "0123456789abcdef", "branch": "feature/html"},
        baseline_summary=judgement.baseline_summary,
        baseline_scored=judgement.baseline_scored,
    )


def without_baseline_side(outcome: Outcome) -> Outcome:
    """The outcome as a saved run re-rendered from JSON holds it: no baseline side records."""
    return replace(outcome, baseline_summary=None, baseline_scored=())
