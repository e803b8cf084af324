"""Gate quality of the default gate: false failures on an unchanged model, detection of
real regressions, and what the decisions cost in calls.

    .venv/bin/python benchmarks/gate_quality.py                 # 200 runs per scenario
    .venv/bin/python benchmarks/gate_quality.py --runs 100      # quicker, coarser rates

Each run re-seeds a simulator (its own process, so every run draws fresh case latencies,
fresh per-request jitter, fresh faults and fresh output wording) that serves six model
versions, the knobs of ``pytest_llmguard.sim.models``:

  ref-a, ref-b   the same model version twice: identical knobs, independent draws
                 (accuracy 0.95: a sampled model rewords ~5 % of words)
  slower         latency x1.25, so every percentile, p95 included, is 25 % higher
  erring         5 % of requests answered with a 5xx (retries are off)
  wordier        verbosity 1.13: mean output tokens +15 % (measured and printed)
  drifted        accuracy 0.77: mean similarity to the reference 0.05 lower (printed)

and then makes one real gate per scenario: ``pytest_llmguard.session.GuardSession``
(the code path of the pytest plugin, without pytest) with targets ref-a and the
candidate, ``compare: {baseline: ref-a, candidate: ...}``, 150 golden cases (reference
answers in the simulator's answer book, so similarity means something) called over real
HTTP on 127.0.0.1, retries off, and **no gate settings**: ``GateConfig()``, the
defaults a team gets without a ``gate:`` section. Budgets, as a team would plausibly
write them, each between "no change" and the injected regression:

  latency_p95_ms      max_increase 10 %   p95 jitters run to run; below ~10 % is noise
  error_rate          max_increase 0.02   a point or two of 5xx comes and goes
  output_tokens_mean  max_increase 5 %    cost creep of a few percent is tolerated
  similarity_mean     max_decrease 0.02   wording noise of a sampled model is ~0.01

Every gate is judged three ways in the same run:

  default      what the session decided and reports: the sequential gate, which looks
               again (one more call per case on both targets) only while a budget is
               undecided, with alpha spending across its looks (``adaptive``)
  single look  the first calls only, one look at gate.confidence (``gate.adaptive: false``)
  strict       the first calls only, the naive point-estimate gate (``gate.strict``)

The same-version row counts a gate as failed when any budget fails; the other rows
count the verdict of the budget on the regressed metric ("fail" is a detection; "warn"
is reported separately) and, apart, failures of the budgets that were not regressed.
"calls x" is the calls the default gate made relative to one call per case and target
(300 for 150 cases on two targets).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pytest_llmguard.budgets import Budget
from pytest_llmguard.config import (
    CacheConfig,
    CompareConfig,
    Config,
    GateConfig,
    RetryPolicy,
    RunConfig,
    TargetConfig,
)
from pytest_llmguard.config.budgets import parse_budgets
from pytest_llmguard.golden import GoldenSet
from pytest_llmguard.outcome import Comparison
from pytest_llmguard.records import Case, Message
from pytest_llmguard.session import GuardSession
from pytest_llmguard.sim.answers import generate
from pytest_llmguard.sim.models import load_models
from pytest_llmguard.sim.server import SimServer
from pytest_llmguard.summary import RunSummary
from pytest_llmguard.verdict import overall_verdict

BASELINE = "ref-a"
# Knobs on top of sim-stable (120 ms median, per-case latency sigma 0.25).
MODELS: Mapping[str, Mapping[str, float]] = {
    "ref-a": {"accuracy": 0.95},
    "ref-b": {"accuracy": 0.95},
    "slower": {"accuracy": 0.95, "latency_ms": 150.0},
    "erring": {"accuracy": 0.95, "server_error_rate": 0.05},
    "wordier": {"accuracy": 0.95, "verbosity": 1.13},
    "drifted": {"accuracy": 0.77},
}
BUDGETS: Mapping[str, Mapping[str, Any]] = {
    "latency_p95_ms": {"max_increase": "10%"},
    "error_rate": {"max_increase": 0.02},
    "output_tokens_mean": {"max_increase": "5%"},
    "similarity_mean": {"max_decrease": 0.02},
}
GATES = ("default", "single look", "strict")
FALSE_FAIL_TARGET = 0.02
DETECTION_TARGET = 0.95
CALLS_TARGET = 1.3  # calls x on an unchanged model
SET_PATH = "golden_sets/gate.yaml"


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
    Scenario("5xx 0% -> 5%", "erring", "error_rate", "+5 pts", "detection >= 95%"),
    Scenario("output tokens +15%", "wordier", "output_tokens_mean", "+15%", "detection >= 95%"),
    Scenario("similarity -0.05", "drifted", "similarity_mean", "-0.05", "detection >= 95%"),
)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything that defines a benchmark run (printed with the results)."""

    runs: int = 200
    cases: int = 150
    noise_sigma: float = 0.15
    latency_scale: float = 0.25
    # 4, not 16: with 16 calls in flight on a busy 2-core machine, queueing in the client
    # and the simulator adds ~10 ms to every call, which dilutes the injected +25 % p95
    # to about +15 % measured; at 4 the measured change is the injected one.
    concurrency: int = 4
    seed: int = 1
    in_process: bool = False  # the simulator in a thread instead of its own process


@dataclass
class Tally:
    """Verdict counts of one scenario over all runs, per gate (``GATES``)."""

    runs: int = 0
    verdicts: dict[str, dict[str, int]] = field(default_factory=dict)
    other_fails: dict[str, int] = field(default_factory=dict)
    changes: list[float] = field(default_factory=list)  # realised change of the metric
    calls: list[float] = field(default_factory=list)  # default gate: calls / first calls
    rounds: dict[int, int] = field(default_factory=dict)  # rounds made -> gates

    def rate(self, gate: str, verdict: str) -> float:
        counts = self.verdicts.get(gate, {})
        return counts.get(verdict, 0) / self.runs if self.runs else 0.0

    def mean_calls(self) -> float:
        return sum(self.calls) / len(self.calls) if self.calls else 0.0

    def add(self, other: Tally) -> None:
        """Add another shard's tally of the same scenario (``--merge``)."""
        self.runs += other.runs
        for gate, counts in other.verdicts.items():
            mine = self.verdicts.setdefault(gate, {})
            for verdict, n in counts.items():
                mine[verdict] = mine.get(verdict, 0) + n
        for gate, n in other.other_fails.items():
            self.other_fails[gate] = self.other_fails.get(gate, 0) + n
        self.changes += other.changes
        self.calls += other.calls
        for k, n in other.rounds.items():
            self.rounds[int(k)] = self.rounds.get(int(k), 0) + n


def build_cases(n: int, seed: int = 7) -> list[Case]:
    """``n`` support questions with ~135-word reference answers (deterministic)."""
    cases = []
    for i in range(n):
        prompt = f"Customer question {i}: how does the refund policy handle order {1000 + i}?"
        # Three generated paragraphs: long enough that +15 % tokens is a real amount of
        # text rather than a single filler sentence.
        expected = " ".join(generate(prompt, f"{i}-{k}", seed) for k in range(3))
        cases.append(
            Case("gate", SET_PATH, f"q{i:03d}", (Message("user", prompt),), expected=expected)
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


def gate_config(scenario: Scenario, base_url: str, settings: Settings, rootdir: str) -> Config:
    """The configuration a team would write for this comparison, as the loader builds it."""
    return Config(
        rootdir=rootdir,
        golden_sets=(SET_PATH,),
        targets={
            name: TargetConfig(name, "openai", name, base_url=base_url)
            for name in (BASELINE, scenario.candidate)
        },
        compare=CompareConfig(BASELINE, scenario.candidate),
        # Retries off: a 5xx is an error the gate sees, not one a retry hides.
        run=RunConfig(concurrency=settings.concurrency, timeout_s=10.0, retries=RetryPolicy(max=0)),
        cache=CacheConfig(mode="off"),
        budgets=parse_budgets(BUDGETS),
        gate=GateConfig(),  # no gate settings: the defaults are what is measured
    )


@dataclass(frozen=True, slots=True)
class GateRun:
    """One scenario's gate, judged as each gate of ``GATES`` would have judged it."""

    comparisons: Mapping[str, tuple[Comparison, ...]]
    calls: float  # calls the default gate made / one call per case and target
    summaries: Mapping[str, RunSummary]  # of the first calls
    rounds: int
    errors: int  # failed calls of the baseline (the candidate's may be the regression)


def run_gate(config: Config, golden: GoldenSet) -> GateRun:
    """Plan, call (further looks included) and judge one gate through ``GuardSession``."""
    session = GuardSession(config, [golden])
    assert config.compare is not None
    targets = (config.compare.baseline, config.compare.candidate)
    units = session.plan([(case, t) for case in golden.cases for t in targets])
    session.call(units)
    scored = session.all_results()
    first = [s for s in scored if s.observation.repeat_index == 0]
    one_look = replace(config, gate=GateConfig(adaptive=False))
    single = GuardSession(one_look, [golden]).assess(first)
    strict = GuardSession(replace(config, gate=GateConfig(strict=True)), [golden]).assess(first)
    return GateRun(
        comparisons={
            # What the session itself reports (the plugin's budget items use it too).
            "default": session.judgement_of_whole_run().comparisons,
            "single look": single.comparisons,
            "strict": strict.comparisons,
        },
        calls=len(scored) / len(units),
        summaries=single.summaries,
        rounds=session.rounds,
        errors=sum(not s.observation.ok for s in scored if s.observation.target == BASELINE),
    )


def _judged(comparisons: Sequence[Comparison], metric: str | None) -> str:
    if metric is None:
        return overall_verdict(comparisons)
    return next(c.verdict for c in comparisons if c.metric == metric)


def tally_gate(scenario: Scenario, gate: GateRun, tally: Tally) -> None:
    """Add one gate's verdicts, cost and realised change to its scenario's tally."""
    tally.runs += 1
    for mode, comps in gate.comparisons.items():
        counts = tally.verdicts.setdefault(mode, {})
        verdict = _judged(comps, scenario.metric)
        counts[verdict] = counts.get(verdict, 0) + 1
        if scenario.metric is not None:
            others = [c for c in comps if c.metric != scenario.metric]
            tally.other_fails[mode] = tally.other_fails.get(mode, 0) + (
                overall_verdict(others) == "fail"
            )
    tally.calls.append(gate.calls)
    tally.rounds[gate.rounds] = tally.rounds.get(gate.rounds, 0) + 1
    metric = scenario.metric or "latency_p95_ms"
    b = gate.summaries[BASELINE].metrics[metric]
    c = gate.summaries[scenario.candidate].metrics[metric]
    if b is not None and c is not None:
        points = metric in ("similarity_mean", "error_rate")
        tally.changes.append(c - b if points else (c / b - 1.0) * 100)


@dataclass
class Result:
    settings: Settings
    tallies: dict[str, Tally]
    seconds: float
    errors: int


def run_benchmark(settings: Settings, progress: bool = False) -> Result:
    """Run ``settings.runs`` gates per scenario and tally their verdicts."""
    cases = build_cases(settings.cases)
    golden = GoldenSet("gate", SET_PATH, tuple(cases))
    tallies = {s.name: Tally() for s in SCENARIOS}
    errors = 0
    start = time.perf_counter()
    with (
        tempfile.TemporaryDirectory() as rootdir,
        simulators(_server_config(cases, settings), settings.in_process) as sims,
    ):
        for i in range(settings.runs):
            # One simulator per run: its attempt counters give every call (the baseline's
            # in each scenario, every adaptive repeat) a fresh latency draw.
            url = sims.reseed(settings.seed * 1_000_003 + i)
            for scenario in SCENARIOS:
                gate = run_gate(gate_config(scenario, url, settings, rootdir), golden)
                errors += gate.errors
                tally_gate(scenario, gate, tallies[scenario.name])
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


def _met(scenario: Scenario, tally: Tally, gate: str) -> bool:
    rate = tally.rate(gate, "fail")
    if scenario.metric is None:
        return rate <= FALSE_FAIL_TARGET
    return rate >= DETECTION_TARGET


def _realised(scenario: Scenario, tally: Tally) -> str:
    if not tally.changes:
        return "–"
    mean = sum(tally.changes) / len(tally.changes)
    if scenario.metric == "similarity_mean":
        return f"{mean:+.3f}"
    if scenario.metric == "error_rate":
        return f"{mean * 100:+.1f} pts"
    return f"{mean:+.1f}%" + (" (p95)" if scenario.metric is None else "")


def table(result: Result) -> str:
    """The Markdown table of the results (one row per scenario)."""
    lines = [
        "| scenario | runs | realised change (mean) | default gate: fail | default gate: warn "
        "| calls × (mean) | looks made (1/2/3+) | single look: fail | strict: fail | target "
        "| met (default gate) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for s in SCENARIOS:
        t = result.tallies[s.name]
        met = _met(s, t, "default")
        target = s.target
        if s.metric is None:
            target += f", calls <= {CALLS_TARGET}×"
            met = met and t.mean_calls() <= CALLS_TARGET
        later = sum(n for k, n in t.rounds.items() if k > 1)
        looks = [t.rounds.get(0, 0), t.rounds.get(1, 0), later]
        lines.append(
            f"| {s.name} | {t.runs} | {_realised(s, t)} "
            f"| {_pct(t.rate('default', 'fail'))} | {_pct(t.rate('default', 'warn'))} "
            f"| {t.mean_calls():.2f}× | {'/'.join(map(str, looks))} "
            f"| {_pct(t.rate('single look', 'fail'))} | {_pct(t.rate('strict', 'fail'))} "
            f"| {target} | {'yes' if met else '**no**'} |"
        )
    return "\n".join(lines)


def save(result: Result, path: str) -> None:
    document = {
        "settings": dataclasses.asdict(result.settings),
        "tallies": {name: dataclasses.asdict(t) for name, t in result.tallies.items()},
        "seconds": result.seconds,
        "errors": result.errors,
    }
    Path(path).write_text(json.dumps(document), encoding="utf-8")


def load(path: str) -> Result:
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    tallies = {}
    for name, fields in document["tallies"].items():
        tallies[name] = Tally()
        tallies[name].add(Tally(**fields))  # add() turns the JSON's round keys back to int
    settings = Settings(**document["settings"])
    return Result(settings, tallies, document["seconds"], document["errors"])


def merge(shards: Sequence[Result]) -> Result:
    """One result of shards that differ only in their runs and seeds (distinct seeds)."""
    first = shards[0].settings
    same = {replace(r.settings, runs=first.runs, seed=first.seed) for r in shards}
    if same != {first} or len({r.settings.seed for r in shards}) != len(shards):
        raise SystemExit("--merge: the shards must differ only in --runs and (distinct) --seed")
    tallies = {s.name: Tally() for s in SCENARIOS}
    for shard in shards:
        for name, tally in shard.tallies.items():
            tallies[name].add(tally)
    runs = sum(r.settings.runs for r in shards)
    seconds = max(r.seconds for r in shards)  # side by side: the wall time of the slowest
    return Result(replace(first, runs=runs), tallies, seconds, sum(r.errors for r in shards))


def print_report(result: Result) -> None:
    settings = result.settings
    errors = f"{result.errors} failed calls of the baseline"
    print(
        f"\nGate quality: {settings.runs} runs x {len(SCENARIOS)} gates x {settings.cases} "
        f"cases, per-request jitter sigma {settings.noise_sigma} on per-case latencies "
        f"(sigma 0.25, median {120 * settings.latency_scale:g} ms), default gate settings, "
        f"{result.seconds:.0f} s, {errors}\n"
    )
    print(table(result))
    rounds = {s.name: dict(sorted(result.tallies[s.name].rounds.items())) for s in SCENARIOS}
    print(f"\nrounds made (rounds: gates): {rounds}")
    for gate in GATES:
        others = {s.name: result.tallies[s.name].other_fails[gate] for s in SCENARIOS if s.metric}
        print(f"{gate}: fails on the budgets that were not regressed: {others}")
    print(f"\nreproduce: {command(settings)}")


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
    parser.add_argument("--seed", type=int, default=d.seed, help=f"default {d.seed}")
    parser.add_argument("--save", metavar="PATH", help="also write the tallies to PATH (JSON)")
    parser.add_argument(
        "--merge",
        nargs="+",
        metavar="PATH",
        help="print the table of saved shards (runs made side by side with distinct --seed)",
    )
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
        seed=args.seed,
        in_process=args.in_process,
    )
    if args.merge:
        result = merge([load(path) for path in args.merge])
    else:
        result = run_benchmark(settings, progress=True)
    if args.save:
        save(result, args.save)
    print_report(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
