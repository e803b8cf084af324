"""The facts of a run that every report states: what was compared, and what the run did.

``sides`` says where the candidate and the baseline came from (target, model, and the
run or commit); ``run_facts`` counts cases, repeats, calls, cache hits, and the money
this run itself spent (cached responses cost nothing now). Renderers lay them out and
escape them in their own medium.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from pytest_llmguard import __version__
from pytest_llmguard.outcome import Outcome
from pytest_llmguard.units import format_number


@dataclass(frozen=True, slots=True)
class Side:
    """One side of the comparison: ``role`` (candidate/baseline), target, model, origin."""

    role: str
    target: str
    model: str
    origin: str  # "this run (commit abc1234 on main)", "same run", "saved run 00012 (...)"


@dataclass(frozen=True, slots=True)
class RunFacts:
    """What the run did, for the footer of a report."""

    cases: int
    targets: int
    repeats: tuple[int, int]  # fewest and most calls of one case on one target
    calls: int
    cache_hits: int
    errors: int
    duration_s: float
    spent_usd: float | None  # None when a fresh call's cost is unknown
    judge_usd: float | None
    version: str = __version__

    def sentence(self) -> str:
        """``48 cases × 1 repeat on 2 targets: 96 calls, 0 from the cache, ...``."""
        low, high = self.repeats
        count = str(high) if low == high else f"{low}–{high}"
        repeat = "repeat" if high == 1 else "repeats"
        parts = [
            f"{self.cases} cases × {count} {repeat} on {self.targets} target"
            + ("" if self.targets == 1 else "s"),
            f"{self.calls} calls ({self.cache_hits} from the cache, {self.errors} failed)",
            duration(self.duration_s),
        ]
        if self.spent_usd is None:
            parts.append("spent: unknown (a model without a price)")
        else:
            parts.append(f"spent {format_number(self.spent_usd, 'usd')}")
        if self.judge_usd is not None:
            parts.append(f"judge {format_number(self.judge_usd, 'usd')}")
        parts.append(f"pytest-llmguard {self.version}")
        return " · ".join(parts)


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def _commit(git: Mapping[str, str | None]) -> str:
    commit = git.get("commit")
    if not commit:
        return "this run"
    commit = commit[:7]
    branch = git.get("branch")
    on = f" on {branch}" if branch and branch != "HEAD" else ""
    return f"this run (commit {commit}{on})"


def _when(iso: str) -> str:
    """``2026-12-03T16:50:38+00:00`` as ``2026-12-03 16:50 UTC``."""
    if len(iso) >= 16 and iso[10] == "T" and iso.endswith(("+00:00", "Z")):
        return iso[:10] + " " + iso[11:16] + " UTC"
    return iso


def sides(outcome: Outcome) -> tuple[Side, ...]:
    """The candidate and its baseline, or every target when nothing was compared."""
    origin = _commit(outcome.git)
    found: list[Side] = []
    if outcome.candidate is not None:
        summary = outcome.summaries.get(outcome.candidate)
        model = summary.model if summary is not None else "?"
        found.append(Side("candidate", outcome.candidate, model, origin))
    info = outcome.baseline
    if info is not None:
        if info.source == "target":
            found.append(Side("baseline", info.target, info.model, "same run"))
        else:
            label = info.label
            origin = f"saved {label}" if label.startswith("run ") else f"saved run {label}"
            where = []
            if info.commit and info.commit[:7] not in label:
                where.append(f"commit {info.commit[:7]}")
            if info.started_at:
                where.append(_when(info.started_at))
            detail = f", {', '.join(where)}" if where else ""
            found.append(Side("baseline", info.target, info.model, origin + detail))
    if not found:
        for name, summary in outcome.summaries.items():
            found.append(Side("target", name, summary.model, origin))
    return tuple(found)


def run_facts(outcome: Outcome) -> RunFacts:
    """Counts and spend of the run (the candidate side and every other target it called)."""
    calls: Counter[tuple[str, str]] = Counter()
    cache_hits = errors = 0
    spent: float | None = 0.0
    for s in outcome.scored:
        o = s.observation
        calls[o.case_key, o.target] += 1
        if o.error is not None:
            errors += 1
        if o.cached:
            cache_hits += 1
        elif o.cost_usd is not None:
            spent = None if spent is None else spent + o.cost_usd
        elif o.error is None:
            spent = None
    judge = outcome.judge.get("cost_usd") if outcome.judge else None
    return RunFacts(
        cases=len({key for key, _ in calls}),
        targets=len({target for _, target in calls}),
        repeats=(min(calls.values(), default=0), max(calls.values(), default=0)),
        calls=len(outcome.scored),
        cache_hits=cache_hits,
        errors=errors,
        duration_s=outcome.duration_s,
        spent_usd=spent,
        judge_usd=float(judge) if isinstance(judge, (int, float)) else None,
    )
