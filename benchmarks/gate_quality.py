"""Gate quality: false failures on an unchanged model, detection of real regressions.

    .venv/bin/python benchmarks/gate_quality.py                 # 200 runs, ~8 min on 2 busy cores
    .venv/bin/python benchmarks/gate_quality.py --runs 50       # quicker, coarser rates

Each run is one small CI gate: 100 golden cases (reference answers in the simulator's
answer book, so similarity means something) replayed over real HTTP on 127.0.0.1
against five simulated model versions, interleaved case by case so machine noise hits
every version alike. The simulator runs in its own process and is re-seeded for every
run, so every run draws fresh case latencies, fresh per-request jitter and fresh
output wording. Versions (knobs of ``pytest_llmguard.sim.models``):

  ref-a, ref-b   the same model version twice: identical knobs, independent draws
                 (accuracy 0.95: a sampled model rewords ~5 % of words run to run)
  slower         latency x1.25, so every percentile, p95 included, is 25 % higher
  wordier        verbosity 1.13: mean output tokens +15 % (measured and printed)
  drifted        accuracy 0.77: mean similarity to the reference 0.05 lower (printed)

ref-a is the baseline of every comparison. Budgets, as a team would plausibly write them,
each between "no change" and the injected regression:

  latency_p95_ms      max_increase 10 %   p95 jitters run to run; below ~10 % is noise
  output_tokens_mean  max_increase 5 %    cost creep of a few percent is tolerated
  similarity_mean     max_decrease 0.02   wording noise of a sampled model is ~0.01

Every run is judged twice from the same observations: by the interval gate (the
default: fail only when the confidence interval of the change lies beyond the budget)
and by the naive point-estimate gate (``gate.strict: true``). The same-version row counts
a run as failed when any budget fails; the other rows count the verdict of the budget on
the regressed metric ("fail" is a detection; "warn" is reported separately).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_llmguard.budgets import Budget, parse_budgets
from pytest_llmguard.config import GateConfig, RetryPolicy, RunConfig, TargetConfig
from pytest_llmguard.gate import Comparison, compare, overall_verdict
from pytest_llmguard.records import Case, Message
from pytest_llmguard.runner import CallUnit, Engine
from pytest_llmguard.scoring import score_batch
from pytest_llmguard.sim.answers import generate
from pytest_llmguard.sim.models import load_models
from pytest_llmguard.sim.server import SimServer
from pytest_llmguard.summary import RunSummary, summarize
from pytest_llmguard.targets.openai import OpenAIClient

BASELINE = "ref-a"
# Knobs on top of sim-stable (120 ms median, per-case latency sigma 0.25).
MODELS: Mapping[str, Mapping[str, float]] = {
    "ref-a": {"accuracy": 0.95},
    "ref-b": {"accuracy": 0.95},
    "slower": {"accuracy": 0.95, "latency_ms": 150.0},
    "wordier": {"accuracy": 0.95, "verbosity": 1.13},
    "drifted": {"accuracy": 0.77},
}
BUDGETS: Mapping[str, Mapping[str, Any]] = {
    "latency_p95_ms": {"max_increase": "10%"},
    "output_tokens_mean": {"max_increase": "5%"},
    "similarity_mean": {"max_decrease": 0.02},
}


@dataclass(frozen=True, slots=True)
class Scenario:
    """One row of the table: a candidate judged against the baseline."""

    name: str
    candidate: str
    metric: str | None  # the regressed metric; None: no regression (any fail is false)
    injected: str
    target: str


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("same model version", "ref-b", None, "none", "fail rate <= 2%"),
    Scenario("p95 latency +25%", "slower", "latency_p95_ms", "+25%", "detection >= 95%"),
    Scenario("output tokens +15%", "wordier", "output_tokens_mean", "+15%", "detection >= 95%"),
    Scenario("similarity -0.05", "drifted", "similarity_mean", "-0.05", "detection >= 95%"),
)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything that defines a benchmark run (printed with the results)."""

    runs: int = 200
    cases: int = 100
    noise_sigma: float = 0.15
    latency_scale: float = 0.25
    concurrency: int = 16
    resamples: int = 2000
    seed: int = 1
    in_process: bool = False  # the simulator in a thread instead of its own process


@dataclass
class Tally:
    """Verdict counts of one scenario over all runs."""

    runs: int = 0
    interval: dict[str, int] = field(default_factory=dict)
    strict: dict[str, int] = field(default_factory=dict)
    other_fails: int = 0  # interval-gate fails on budgets other than the regressed one
    changes: list[float] = field(default_factory=list)  # realised change of the metric

    def rate(self, mode: str, verdict: str) -> float:
        counts = self.interval if mode == "interval" else self.strict
        return counts.get(verdict, 0) / self.runs if self.runs else 0.0


def build_cases(n: int, seed: int = 7) -> list[Case]:
    """``n`` support questions with ~135-word reference answers (deterministic)."""
    cases = []
    for i in range(n):
        prompt = f"Customer question {i}: how does the refund policy handle order {1000 + i}?"
        # Three generated paragraphs: long enough that +15 % tokens is a real amount of
        # text rather than a single filler sentence.
        expected = " ".join(generate(prompt, f"{i}-{k}", seed) for k in range(3))
        cases.append(
            Case(
                "gate",
                "golden_sets/gate.yaml",
                f"q{i:03d}",
                (Message("user", prompt),),
                expected=expected,
            )
        )
    return cases


def budgets() -> tuple[Budget, ...]:
    return parse_budgets(BUDGETS)


# -- the simulator --------------------------------------------------------------------


def _server_config(cases: Sequence[Case], settings: Settings) -> dict[str, Any]:
    return {
        "models": {name: dict(knobs) for name, knobs in MODELS.items()},
        "answers": {c.messages[-1].content: c.expected for c in cases},
        "noise_sigma": settings.noise_sigma,
        "latency_scale": settings.latency_scale,
    }


def _new_server(config: Mapping[str, Any], seed: int) -> SimServer:
    return SimServer(
        models=load_models({"models": config["models"]}),
        answers=config["answers"],
        seed=seed,
        noise_sigma=config["noise_sigma"],
        latency_scale=config["latency_scale"],
    )


def serve(config_path: str) -> int:
    """Subprocess mode: for each seed read on stdin, (re)start the simulator, print its URL."""
    config = json.loads(Path(config_path).read_text(encoding="utf-8"))
    server: SimServer | None = None
    try:
        for line in sys.stdin:
            if server is not None:
                server.stop_thread()
            server = _new_server(config, int(line))
            print(server.start_in_thread(), flush=True)
    finally:
        if server is not None:
            server.stop_thread()
    return 0


class _Simulators:
    """Fresh simulators on demand, in a separate process (default) or in a thread."""

    def __init__(self, config: Mapping[str, Any], in_process: bool, tmp: Path) -> None:
        self._config = config
        self._server: SimServer | None = None
        self._proc: subprocess.Popen[str] | None = None
        if not in_process:
            path = tmp / "sim.json"
            path.write_text(json.dumps(config), encoding="utf-8")
            self._proc = subprocess.Popen(
                [sys.executable, __file__, "--serve", str(path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )

    def reseed(self, seed: int) -> str:
        """A simulator with ``seed`` (replacing the previous one); its base URL."""
        if self._proc is None:
            if self._server is not None:
                self._server.stop_thread()
            self._server = _new_server(self._config, seed)
            return self._server.start_in_thread()
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(f"{seed}\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline().strip()
        if not line.startswith("http://"):
            raise RuntimeError(f"the simulator process did not answer with a URL: {line!r}")
        return line

    def close(self) -> None:
        if self._server is not None:
            self._server.stop_thread()
        if self._proc is not None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()  # ends its loop over stdin
            self._proc.wait(timeout=10)


@contextmanager
def simulators(config: Mapping[str, Any], in_process: bool) -> Iterator[_Simulators]:
    with tempfile.TemporaryDirectory() as tmp:
        sims = _Simulators(config, in_process, Path(tmp))
        try:
            yield sims
        finally:
            sims.close()


# -- one gate run ---------------------------------------------------------------------


def _units(cases: Sequence[Case], targets: Sequence[str], rng: random.Random) -> list[CallUnit]:
    """Case by case, targets in a random order: drifting machine load hits all alike."""
    units: list[CallUnit] = []
    for case in cases:
        order = list(targets)
        rng.shuffle(order)
        units.extend(CallUnit(case, t) for t in order)
    return units


async def _observe(
    base_url: str, cases: Sequence[Case], settings: Settings, rng: random.Random
) -> dict[str, RunSummary]:
    run = RunConfig(
        concurrency=settings.concurrency,
        timeout_s=10.0,
        retries=RetryPolicy(max=2, backoff_base_s=0.01, backoff_max_s=0.05),
    )
    clients = {
        name: OpenAIClient(
            TargetConfig(name, "openai", name),
            base_url=base_url,
            api_key=None,
            timeout_s=run.timeout_s,
            max_connections=settings.concurrency,
        )
        for name in MODELS
    }
    observations = await Engine(clients, run).run(_units(cases, list(MODELS), rng))
    scored = score_batch(cases, observations, {})
    return {
        name: summarize(name, "openai", name, [s for s in scored if s.observation.target == name])
        for name in MODELS
    }


def _judged(comparisons: Sequence[Comparison], metric: str | None) -> str:
    if metric is None:
        return overall_verdict(comparisons)
    return next(c.verdict for c in comparisons if c.metric == metric)


def judge(
    summaries: Mapping[str, RunSummary],
    tallies: Mapping[str, Tally],
    resamples: int,
    seed: int,
) -> None:
    """Add one run's verdicts (interval and strict gate) to each scenario's tally."""
    all_budgets = budgets()
    base = summaries[BASELINE]
    for scenario in SCENARIOS:
        cand = summaries[scenario.candidate]
        tally = tallies[scenario.name]
        tally.runs += 1
        for mode, strict in (("interval", False), ("strict", True)):
            gate = GateConfig(strict=strict)
            comps = compare(base, cand, all_budgets, gate, n_resamples=resamples, seed=seed)
            verdict = _judged(comps, scenario.metric)
            counts = tally.interval if mode == "interval" else tally.strict
            counts[verdict] = counts.get(verdict, 0) + 1
            if mode == "interval" and scenario.metric is not None:
                others = [c for c in comps if c.metric != scenario.metric]
                tally.other_fails += overall_verdict(others) == "fail"
        metric = scenario.metric or "latency_p95_ms"
        b, c = base.metrics[metric], cand.metrics[metric]
        if b is not None and c is not None:
            tally.changes.append(c - b if metric == "similarity_mean" else (c / b - 1.0) * 100)


@dataclass
class Result:
    settings: Settings
    tallies: dict[str, Tally]
    seconds: float
    errors: int


def run_benchmark(settings: Settings, progress: bool = False) -> Result:
    """Run ``settings.runs`` gates and tally the verdicts of every scenario."""
    cases = build_cases(settings.cases)
    tallies = {s.name: Tally() for s in SCENARIOS}
    rng = random.Random(settings.seed)
    errors = 0
    start = time.perf_counter()
    with simulators(_server_config(cases, settings), settings.in_process) as sims:
        for i in range(settings.runs):
            run_seed = settings.seed * 1_000_003 + i
            url = sims.reseed(run_seed)
            summaries = asyncio.run(_observe(url, cases, settings, rng))
            errors += sum(sum(s.errors_by_class.values()) for s in summaries.values())
            judge(summaries, tallies, settings.resamples, run_seed)
            if progress and (i + 1) % 10 == 0:
                print(
                    f"  {i + 1}/{settings.runs} runs, {time.perf_counter() - start:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
    return Result(settings, tallies, time.perf_counter() - start, errors)


# -- output ---------------------------------------------------------------------------


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def _met(scenario: Scenario, tally: Tally) -> str:
    rate = tally.rate("interval", "fail")
    ok = rate <= 0.02 if scenario.metric is None else rate >= 0.95
    return "yes" if ok else "**no**"


def _realised(scenario: Scenario, tally: Tally) -> str:
    if not tally.changes:
        return "–"
    mean = sum(tally.changes) / len(tally.changes)
    if scenario.metric == "similarity_mean":
        return f"{mean:+.3f}"
    return f"{mean:+.1f}%" + (" (p95)" if scenario.metric is None else "")


def table(result: Result) -> str:
    """The Markdown table of the results (one row per scenario)."""
    lines = [
        "| scenario | runs | realised change (mean) | interval gate: fail | interval gate: warn "
        "| strict gate: fail | target | met |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for scenario in SCENARIOS:
        t = result.tallies[scenario.name]
        lines.append(
            f"| {scenario.name} | {t.runs} | {_realised(scenario, t)} "
            f"| {_pct(t.rate('interval', 'fail'))} | {_pct(t.rate('interval', 'warn'))} "
            f"| {_pct(t.rate('strict', 'fail'))} | {scenario.target} | {_met(scenario, t)} |"
        )
    return "\n".join(lines)


def command(settings: Settings) -> str:
    """The command line that reproduces ``settings``."""
    parts = [".venv/bin/python benchmarks/gate_quality.py"]
    defaults = Settings()
    for f in dataclasses.fields(Settings):
        value = getattr(settings, f.name)
        if value != getattr(defaults, f.name):
            flag = "--" + f.name.replace("_", "-")
            parts.append(flag if value is True else f"{flag} {value}")
    return " ".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    d = Settings()
    parser.add_argument("--serve", metavar="CONFIG", help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=d.runs, help=f"gate runs (default {d.runs})")
    parser.add_argument("--cases", type=int, default=d.cases, help=f"default {d.cases}")
    parser.add_argument(
        "--noise-sigma",
        type=float,
        default=d.noise_sigma,
        help=f"per-request lognormal latency jitter (default {d.noise_sigma})",
    )
    parser.add_argument(
        "--latency-scale",
        type=float,
        default=d.latency_scale,
        help=f"x simulator latencies, 120 ms median (default {d.latency_scale})",
    )
    parser.add_argument(
        "--concurrency", type=int, default=d.concurrency, help=f"default {d.concurrency}"
    )
    parser.add_argument(
        "--resamples",
        type=int,
        default=d.resamples,
        help=f"bootstrap resamples (default {d.resamples})",
    )
    parser.add_argument("--seed", type=int, default=d.seed, help=f"default {d.seed}")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run the simulator in a thread (default: its own process)",
    )
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args.serve)
    settings = Settings(
        runs=args.runs,
        cases=args.cases,
        noise_sigma=args.noise_sigma,
        latency_scale=args.latency_scale,
        concurrency=args.concurrency,
        resamples=args.resamples,
        seed=args.seed,
        in_process=args.in_process,
    )
    result = run_benchmark(settings, progress=True)
    print(
        f"\nGate quality: {settings.runs} runs x {settings.cases} cases, per-request jitter "
        f"sigma {settings.noise_sigma} on per-case latencies (sigma 0.25, median "
        f"{120 * settings.latency_scale:g} ms), {settings.resamples} resamples, "
        f"{result.seconds:.0f} s, {result.errors} failed calls\n"
    )
    print(table(result))
    others = {s.name: result.tallies[s.name].other_fails for s in SCENARIOS if s.metric}
    print(f"\ninterval-gate fails on the budgets that were not regressed: {others}")
    print(f"\nreproduce: {command(settings)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
