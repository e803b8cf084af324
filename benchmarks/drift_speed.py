"""Issue #15: the drift check at the scale of a year of nights (README figure).

    python benchmarks/drift_speed.py                      # 90 nights x 2,000 cases
    python benchmarks/drift_speed.py --nights 20 --cases 500 --repeats 1   # a quick look

Builds a run store of ``--nights`` stored nights of ``--cases`` cases each, exactly as
``--llmguard-drift`` stores them (the whole JSON report, and beside it the night's digest
and samples), then times what the nightly check does before it can decide: load the
history (every night's digest), read the reference nights' samples, pool them, judge
the metric shifts with the gate, run the silent-change test, the control charts and
the trends. The target: under 3 s on the project's 2-core machine. It also times the
alternative the digests and samples exist for (parsing whole reports) and prints the
disk footprint per night.

Observations are synthetic (no network): realistic output texts of ~40 words, a third of
the cases answering differently each night, lognormal latencies.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from pytest_llmguard.config import Config
from pytest_llmguard.drift.check import Tonight, check_drift
from pytest_llmguard.drift.history import SampleReader, load_history, save_night
from pytest_llmguard.drift.night import Digest, TargetDigest, case_fingerprint
from pytest_llmguard.outcome import Outcome
from pytest_llmguard.records import Case, CheckResult, Message, Observation, ScoredObservation
from pytest_llmguard.report.json_report import build_report, dumps_report
from pytest_llmguard.store import FileRunStore, RunMeta, load_run
from pytest_llmguard.summary import summarize

DAY = 86400.0
WORDS = [
    *("refund", "order", "days", "receipt", "policy", "team", "account", "payment"),
    *("window", "support", "customer", "request", "settings", "update", "report"),
    *("service", "record", "review", "limit", "balance", "period"),
]


def make_cases(n: int) -> dict[str, Case]:
    cases = {}
    for i in range(n):
        case = Case(
            "nightly", "golden_sets/nightly.jsonl", f"q{i:05d}", (Message("user", f"q{i}"),)
        )
        cases[case.key] = case
    return cases


def make_night(cases: dict[str, Case], night: int) -> list[ScoredObservation]:
    rng = random.Random(night)
    scored = []
    for i, key in enumerate(cases):
        base = random.Random(i)
        words = [base.choice(WORDS) for _ in range(40)]
        if i % 3 == 0:  # a variable case: a few words differ every night
            words = [w if rng.random() > 0.2 else rng.choice(WORDS) for w in words]
        latency = base.lognormvariate(5.0, 0.25) * rng.lognormvariate(0.0, 0.1)
        obs = Observation(
            case_key=key,
            target="prod",
            repeat_index=0,
            model="prod-model",
            output=" ".join(words),
            latency_ms=latency,
            input_tokens=60 + i % 40,
            output_tokens=70 + base.randint(0, 40),
            cost_usd=1e-4 + (i % 7) * 1e-6,
            started_at=night * DAY + i,
        )
        scores = {"similarity": 0.9 + base.random() * 0.1, "refusal": 0.0, "pii": 0.0}
        scored.append(ScoredObservation(obs, (CheckResult("contains", True, "found"),), scores))
    return scored


def build_store(folder: Path, nights: int, cases: dict[str, Case], t0: float) -> dict[str, int]:
    store = FileRunStore(folder)
    fingerprints = {key: case_fingerprint(c) for key, c in cases.items()}
    for night in range(1, nights + 1):
        scored = make_night(cases, night)
        summary = summarize("prod", "sim", "prod-model", scored)
        started = t0 + night * DAY
        outcome = Outcome(
            started_at=str(started),
            finished_at=str(started),
            duration_s=1.0,
            config_path=None,
            summaries={"prod": summary},
            comparisons=(),
            verdict="pass",
            scored=tuple(scored),
            cases=cases,
            targets={},
        )
        digest = Digest(started, {"prod": TargetDigest.of(summary)}, verdict="ok")
        save_night(
            store,
            dumps_report(build_report(outcome)) + "\n",
            RunMeta(started),
            digest,
            scored,
            fingerprints,
        )
    sizes: dict[str, int] = {"report": 0, "digest": 0, "samples": 0}
    for path in folder.iterdir():
        kind = (
            "digest"
            if ".digest." in path.name
            else "samples"
            if ".samples." in path.name
            else "report"
        )
        if not path.name.startswith("."):
            sizes[kind] += path.stat().st_size
    return {k: v // nights for k, v in sizes.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nights", type=int, default=90)
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    cases = make_cases(args.cases)
    t0 = time.time() - (args.nights + 1) * DAY
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        sizes = build_store(Path(tmp), args.nights, cases, t0)
        built = time.perf_counter() - start
        print(f"built {args.nights} nights x {args.cases} cases in {built:.0f} s")
        tonight_scored = make_night(cases, args.nights + 1)
        tonight = Tonight(
            t0 + (args.nights + 1) * DAY,
            {"prod": summarize("prod", "sim", "prod-model", tonight_scored)},
            tonight_scored,
            cases,
        )
        config = Config(rootdir=tmp)
        timings: dict[str, list[float]] = {"load history": [], "decide": [], "total": []}
        for _ in range(args.repeats):
            store = FileRunStore(tmp)
            t_start = time.perf_counter()
            history = load_history(store)
            t_loaded = time.perf_counter()
            result = check_drift(config, tonight, history, SampleReader(store))
            t_done = time.perf_counter()
            timings["load history"].append(t_loaded - t_start)
            timings["decide"].append(t_done - t_loaded)
            timings["total"].append(t_done - t_start)
        assert len(history.nights) == args.nights and not history.warnings
        print(f"verdict {result.verdict}; findings: {[f.key for f in result.findings]}")
        store = FileRunStore(tmp)
        t_start = time.perf_counter()
        for ref in store.runs()[-7:]:
            load_run(ref.location)
        whole_7 = time.perf_counter() - t_start
    print()
    print(f"| step | median of {args.repeats} (s) |")
    print("|---|---:|")
    for name, values in timings.items():
        print(f"| {name} | {statistics.median(values):.2f} |")
    print(f"| (instead: parse 7 whole reports) | {whole_7:.2f} |")
    total = statistics.median(timings["total"])
    print(f"\ntotal {total:.2f} s: {'under' if total < 3 else 'OVER'} the 3 s target")
    print(
        "disk per night: report {:.2f} MB, digest {:.1f} kB, samples {:.2f} MB".format(
            sizes["report"] / 1e6, sizes["digest"] / 1e3, sizes["samples"] / 1e6
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
