"""Replay speed: `pytest --llmguard` wall time against ideal network time and the pytest floor.

    python benchmarks/replay_speed.py                 # the walking-skeleton row set
    python benchmarks/replay_speed.py --cases 2000 --latency-ms 0 50 --concurrency 64

For each latency it builds a throwaway project with N distinct cases, starts the
simulator in its own process (so it never competes with the client for the GIL), and
times, in the same run:
  floor  pytest running N trivial tests (what N items cost with no network at all)
  ideal  N x latency / concurrency (pure network time at perfect concurrency)
  llmguard  `pytest --llmguard` replaying the N cases (single process)
  llmguard -n 2  the same under xdist
Each row is repeated (--repeats, default 3) and the median is reported, with ratios
against the floor and the ideal measured in the same run (machines here are noisy).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def simulator() -> Iterator[str]:
    """A simulator in a separate process; yields its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest_llmguard.sim.command", "--port", "0", "--noise-sigma", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "serving" not in line:
            raise RuntimeError(f"simulator did not start: {line!r}")
        yield line.split("serving", 1)[1].strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def make_project(root: Path, n: int, base_url: str, latency_ms: int, concurrency: int) -> None:
    (root / "golden_sets").mkdir(parents=True)
    with open(root / "golden_sets" / "bench.jsonl", "w") as fh:
        for i in range(n):
            case = {
                "id": f"c{i}",
                "prompt": f"Question number {i}: what is {i} plus {i}?",
                "expected": f"{i} plus {i} is {2 * i}.",
            }
            fh.write(json.dumps(case) + "\n")
    (root / "llmguard.yaml").write_text(
        "golden_sets: [golden_sets/]\n"
        "targets:\n"
        f'  bench: {{provider: openai, base_url: "{base_url}", model: sim-stable,\n'
        f'          headers: {{x-sim-latency-ms: "{latency_ms}"}}}}\n'
        f"run: {{concurrency: {concurrency}, timeout_s: 30}}\n"
    )
    tests = root / "trivial"
    tests.mkdir()
    (tests / "test_trivial.py").write_text(
        "import pytest\n\n"
        f"@pytest.mark.parametrize('i', range({n}))\n"
        "def test_trivial(i):\n    assert i >= 0\n"
    )


CALLS_DONE = re.compile(r"llmguard: calls done in ([\d.]+) s")


def timed(cmd: list[str], cwd: Path) -> tuple[float, float | None]:
    """Wall seconds of ``cmd``, and llmguard's own call-phase seconds if it printed them."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        raise RuntimeError(
            f"{cmd} exited {proc.returncode}:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        )
    match = CALLS_DONE.search(proc.stdout)
    return elapsed, float(match.group(1)) if match else None


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--latency-ms", type=int, nargs="+", default=[200])
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-xdist", action="store_true")
    args = parser.parse_args()
    pytest_cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
    ]
    rows = []
    with simulator() as base_url:
        for latency in args.latency_ms:
            with tempfile.TemporaryDirectory() as tmp:
                root = Path(tmp)
                make_project(root, args.cases, base_url, latency, args.concurrency)
                variants = {
                    "floor (trivial tests)": pytest_cmd + ["trivial"],
                    "pytest --llmguard": pytest_cmd + ["--llmguard", "golden_sets"],
                }
                if not args.no_xdist:
                    variants["pytest --llmguard -n 2"] = pytest_cmd + [
                        "--llmguard",
                        "golden_sets",
                        "-n",
                        "2",
                    ]
                times: dict[str, list[float]] = {k: [] for k in variants}
                call_phase: list[float] = []
                for _ in range(args.repeats):
                    for name, cmd in variants.items():  # interleaved: noise hits all rows alike
                        wall, calls = timed(cmd, root)
                        times[name].append(wall)
                        if calls is not None and name == "pytest --llmguard":
                            call_phase.append(calls)
                times["  of which: call phase"] = call_phase
                floor = statistics.median(times["floor (trivial tests)"])
                ideal = args.cases * latency / 1000 / args.concurrency
                for name, samples in times.items():
                    med = statistics.median(samples)
                    rows.append(
                        (
                            latency,
                            name,
                            med,
                            med / floor,
                            med / (ideal + floor),
                            med / ideal if ideal else None,
                        )
                    )
    print(
        f"\n{args.cases} cases, concurrency {args.concurrency}, {args.repeats} repeats (median)\n"
    )
    print("| latency | row | wall s | × floor | × (ideal + floor) | × ideal |")
    print("|---:|---|---:|---:|---:|---:|")
    for latency, name, med, r_floor, r_both, r_ideal in rows:
        ri = f"{r_ideal:.2f}" if r_ideal is not None else "–"
        print(f"| {latency} ms | {name} | {med:.2f} | {r_floor:.2f} | {r_both:.2f} | {ri} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
