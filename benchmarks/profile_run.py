"""Profile one ``pytest --llmguard`` run with py-spy: where the time of a benchmark row goes.

    python benchmarks/profile_run.py                    # live, 2,000 cases, 0 ms
    python benchmarks/profile_run.py --mode cached      # a cached replay
    python benchmarks/profile_run.py --mode trivial     # the floor: 2,000 trivial tests

It builds the same throwaway project as ``perf.py`` against the C loopback server, records
the run with ``py-spy record`` (every process, so a forked call child is included), writes
``<out>.txt`` (collapsed stacks) and ``<out>.svg`` (a flame graph), and prints the frames
with the largest inclusive share. Needs ``pip install py-spy`` (in the dev extras).
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fastserver
import perf

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>.*?):\d+\)$")


def inclusive_shares(collapsed: Path) -> tuple[collections.Counter[str], int]:
    """Samples per frame (function and file), each counted once per stack."""
    shares: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        samples = int(count)
        total += samples
        seen = set()
        for frame in stack.split(";"):
            m = _FRAME.match(frame)
            key = frame if m is None else f"{m['func']}  {m['file'].split('site-packages/')[-1]}"
            if key not in seen:
                seen.add(key)
                shares[key] += samples
    return shares, total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("live", "cached", "trivial"), default="live")
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--rate", type=int, default=500, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--out", default="llmguard-profile")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        print("py-spy is not installed: pip install py-spy", file=sys.stderr)
        return 2
    out = Path(args.out).resolve()
    with (
        tempfile.TemporaryDirectory(prefix="llmguard-profile-") as tmp,
        fastserver.fast_server() as server,
    ):
        root = perf.make_project(
            Path(tmp) / "p", args.cases, server.base_url, latency_ms=args.latency_ms, concurrency=64
        )
        env = perf.child_env(Path(tmp) / "pycache")
        run = perf.PYTEST + (
            ["trivial"] if args.mode == "trivial" else ["--llmguard", "golden_sets"]
        )
        if args.mode == "cached":
            subprocess.run(
                run + ["--llmguard-cache", "record"],
                cwd=root,
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            run += ["--llmguard-cache", "replay"]
        subprocess.run(run, cwd=root, env=env, stdout=subprocess.DEVNULL, check=False)  # warm-up
        for fmt, path in (
            ("raw", out.with_suffix(".txt")),
            ("flamegraph", out.with_suffix(".svg")),
        ):
            subprocess.run(
                [
                    py_spy,
                    "record",
                    "--subprocesses",
                    "-r",
                    str(args.rate),
                    "-f",
                    fmt,
                    "-o",
                    str(path),
                    "--",
                    *run,
                ],
                cwd=root,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=True,
            )
    shares, total = inclusive_shares(out.with_suffix(".txt"))
    print(
        f"{args.mode}, {args.cases} cases: {total} samples at {args.rate}/s "
        f"(all processes); {out.with_suffix('.svg')}"
    )
    for frame, samples in shares.most_common(args.top):
        print(f"{100.0 * samples / total:5.1f}%  {frame}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
