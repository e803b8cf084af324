"""``llmguard diff A.json B.json``: judge saved run B against saved run A.

The verdict comes from ``verdict.assess``, exactly as in a pytest run that replayed B's
candidate with ``--llmguard-baseline A.json``: same comparisons, same regressed cases,
judged at the interval level B's own run ended its sequential looks at.
"""

from __future__ import annotations

from dataclasses import replace

from pytest_llmguard.config import load_config
from pytest_llmguard.outcome import Outcome
from pytest_llmguard.store import load_run
from pytest_llmguard.verdict import Baseline, assess


def diff_runs(path_a: str, path_b: str, *, config_path: str | None, rootdir: str) -> Outcome:
    """Judge saved run B against saved run A with the configured budgets."""
    config = load_config(rootdir, config_path)
    run_a, run_b = load_run(path_a), load_run(path_b)
    candidate = run_b.pick(config.compare.candidate if config.compare else None)
    base = run_a.pick(candidate.target)
    scored_a = tuple(s for s in run_a.scored if s.observation.target == base.target)
    scored_b = tuple(s for s in run_b.scored if s.observation.target == candidate.target)
    judgement = assess(
        {candidate.target: candidate},
        scored_b,
        budgets=config.budgets,
        gate=replace(config.gate, confidence=run_b.judged_at or config.gate.confidence),
        candidate=candidate.target,
        baseline=Baseline(run_a.baseline_info(base), base, scored_a),
    )
    meta = run_b.meta
    return Outcome(
        started_at=str(meta.get("started_at", "")),
        finished_at=str(meta.get("finished_at", "")),
        duration_s=float(meta.get("duration_s") or 0.0),
        config_path=config.path,
        summaries=judgement.summaries,
        comparisons=judgement.comparisons,
        verdict=judgement.verdict,
        scored=scored_b,
        cases={},
        targets={},
        notes=judgement.notes,
        regressions=judgement.regressions,
        baseline=judgement.baseline,
        candidate=judgement.candidate,
        baseline_summary=judgement.baseline_summary,
        baseline_scored=judgement.baseline_scored,
    )
