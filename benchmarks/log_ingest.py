"""How fast production logs become cases: the whole sources path against a bare json.loads loop.

    .venv/bin/python benchmarks/log_ingest.py [--mb 1000] [--repeats 3] [--n 200]

Writes ``--mb`` MB of OpenAI chat request/response records (``openai-jsonl``, the
records of ``benchmarks/ingest_speed.py``), then times, each in a fresh process,
interleaved:

- the bare loop: ``for line in f: json.loads(line)`` over the file opened in binary mode;
- the sources path, what ``pytest --llmguard`` with ``logs:`` and ``llmguard sample`` do:
  read every record (``sources.openai_jsonl``: streaming, tolerant, normalised to a
  ``LogRecord``), draw the sample (``--n`` records, stratified by model, near-duplicates
  removed, seeded) and make the redacted cases (``sources.loading.load_log_cases``).

It prints the median wall time, the speed relative to the bare loop (the target is at
least 0.5) and the peak RSS of each process (the target is under 200 MB whatever the
file size: the second table repeats the sources path on a quarter of the file).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_speed import write_logs  # a sibling script, not a package

BARE = """
import json
start, cpu_start = time.perf_counter(), time.process_time()
n = 0
with open(PATH, "rb") as f:
    for line in f:
        json.loads(line)
        n += 1
"""
SOURCES = """
from pytest_llmguard.config import Config, LogsConfig, LogSourceConfig, SampleConfig
from pytest_llmguard.sources.loading import load_log_cases
logs = LogsConfig(
    sources=(LogSourceConfig(path=PATH, format="openai-jsonl"),),
    sample=SampleConfig(n=N, by=("model",), seed=1),
)
config = Config(rootdir=os.path.dirname(PATH), logs=logs)
start, cpu_start = time.perf_counter(), time.process_time()
cases = load_log_cases(config, now=time.time())
n = cases.read.records + cases.read.bad
assert sum(len(s.cases) for s in cases.sets) == min(N, n), cases.sample.lines()
"""
TIMER = r"""
import os, re, time
PATH, N = {path!r}, {n}
{body}
wall = time.perf_counter() - start
cpu = time.process_time() - cpu_start
# VmHWM (peak RSS) starts afresh at exec; ru_maxrss may keep the forking parent's.
with open("/proc/self/status") as status:
    rss = int(re.search(r"VmHWM:\s+(\d+) kB", status.read()).group(1)) / 1024
print(wall, cpu, rss, n)
"""


def run(body: str, path: Path, n: int) -> tuple[float, float, float, int]:
    """(wall s, CPU s, peak RSS MB, records) of one fresh process."""
    code = TIMER.format(path=str(path), n=n, body=body)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    wall, cpu, rss, count = done.stdout.split()
    return float(wall), float(cpu), float(rss), int(count)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=1000, help="size of the log (default 1000)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n", type=int, default=200, help="records sampled (default 200)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        big, _, count = write_logs(Path(tmp), args.mb)
        (Path(tmp) / "chat.log").unlink()  # the gzip copy is ingest_speed's, not ours
        small = Path(tmp) / "quarter.jsonl"
        with open(big, "rb") as src, open(small, "wb") as dst:
            for i, line in enumerate(src):
                if i >= count // 4:
                    break
                dst.write(line)
        size = big.stat().st_size
        print(f"{size / 1e6:,.0f} MB, {count:,} chat records ({size / count:,.0f} bytes a line)")
        rows = {"bare json.loads loop": BARE, "sources path (read, sample, cases)": SOURCES}
        runs: dict[str, list[tuple[float, float, float]]] = {label: [] for label in rows}
        quarter: list[tuple[float, float, float]] = []
        for _ in range(args.repeats):
            for label, body in rows.items():
                wall, cpu, rss, n = run(body, big, args.n)
                assert n == count, (label, n, count)
                runs[label].append((wall, cpu, rss))
            wall, cpu, rss, _ = run(SOURCES, small, args.n)
            quarter.append((wall, cpu, rss))
    bare = runs["bare json.loads loop"]
    base_wall = statistics.median(w for w, _, _ in bare)
    base_cpu = statistics.median(c for _, c, _ in bare)
    print(f"median of {args.repeats} interleaved runs, each in a fresh process\n")
    head = (
        f"{'wall':>9}{'CPU':>9}{'MB/s':>7}{'speed (wall)':>14}{'speed (CPU)':>13}{'peak RSS':>10}"
    )
    print(f"  {'reader':38}{head}")
    for label, values in runs.items():
        wall = statistics.median(w for w, _, _ in values)
        cpu = statistics.median(c for _, c, _ in values)
        rss = max(r for _, _, r in values)
        print(
            f"  {label:38}{wall:8.2f}s{cpu:8.2f}s{size / 1e6 / wall:7.0f}"
            f"{base_wall / wall:13.2f}x{base_cpu / cpu:12.2f}x{rss:7.0f} MB"
        )
    wall = statistics.median(w for w, _, _ in quarter)
    cpu = statistics.median(c for _, c, _ in quarter)
    rss = max(r for _, _, r in quarter)
    print(
        f"  {'sources path, a quarter of the file':38}{wall:8.2f}s{cpu:8.2f}s{'':34}{rss:7.0f} MB"
    )
    print(f"\npython {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
