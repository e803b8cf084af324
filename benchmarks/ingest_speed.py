"""How fast production logs are ingested: iter_json_lines against a bare json.loads loop.

    .venv/bin/python benchmarks/ingest_speed.py [--mb 200] [--repeats 3]

Writes ``--mb`` MB of OpenAI chat request/response records (JSONL, and the same
gzip-compressed), then times each reader in a fresh process, interleaved, and prints the
median wall time, MB/s, speed relative to the bare loop (the log-replay target is at
least 0.5) and the process's peak RSS:

- bare loop: ``for line in f: json.loads(line)`` over the file opened in binary mode
  (and the same with orjson, for the reader's own overhead);
- iter_json_lines, with orjson (the default on CPython) and with the json fallback;
- iter_json_lines over the gzip file, and the bare loop over ``gzip.open``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

WORDS = [
    "refund",
    "order",
    "shipping",
    "account",
    "password",
    "invoice",
    "warranty",
    "delivery",
    "package",
    "store",
    "customer",
    "support",
    "replacement",
    "damaged",
    "cancel",
    "subscription",
    "billing",
    "address",
    "update",
    "please",
    "thanks",
    "help",
    "question",
    "answer",
    "policy",
    "days",
    "business",
    "receipt",
    "card",
    "payment",
]


def _text(rng: random.Random, low: int, high: int) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(low, high))]
    return " ".join(words).capitalize() + "."


def chat_record(rng: random.Random, i: int) -> dict[str, Any]:
    """One logged Chat Completions call: request, response, usage and timing."""
    messages = [{"role": "system", "content": _text(rng, 10, 40)}]
    for _ in range(rng.randint(0, 3)):
        messages.append({"role": "user", "content": _text(rng, 5, 60)})
        messages.append({"role": "assistant", "content": _text(rng, 5, 80)})
    messages.append({"role": "user", "content": _text(rng, 5, 120) + " Café №" + str(i)})
    prompt_tokens = sum(len(m["content"]) // 4 for m in messages)
    answer = _text(rng, 10, 200)
    completion_tokens = len(answer) // 4
    return {
        "timestamp": f"2024-05-{1 + i % 28:02d}T12:{i % 60:02d}:{i % 59:02d}.{i % 1000:03d}Z",
        "request_id": f"req_{rng.getrandbits(64):016x}",
        "request": {
            "model": rng.choice(["gpt-4o-mini", "gpt-4o", "gpt-4.1-mini"]),
            "temperature": rng.choice([0, 0.2, 0.7]),
            "max_tokens": rng.choice([256, 512, 1024]),
            "messages": messages,
        },
        "response": {
            "id": f"chatcmpl-{rng.getrandbits(48):012x}",
            "object": "chat.completion",
            "created": 1714564800 + i,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        },
        "latency_ms": round(rng.uniform(200, 3000), 1),
        "user": f"u_{rng.randint(1, 99999)}",
    }


def write_logs(directory: Path, megabytes: int) -> tuple[Path, Path, int]:
    """The plain and gzip log files, and their number of lines."""
    rng = random.Random(7)
    block = [json.dumps(chat_record(rng, i), ensure_ascii=False) + "\n" for i in range(5000)]
    data = "".join(block).encode("utf-8")
    plain = directory / "chat.jsonl"
    target = megabytes * 1_000_000
    lines = 0
    with open(plain, "wb") as fh:
        written = 0
        while written < target:
            fh.write(data)
            written += len(data)
            lines += len(block)
    packed = directory / "chat.log"  # no .gz: the reader goes by magic bytes
    with open(plain, "rb") as src, gzip.open(packed, "wb", compresslevel=1) as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    return plain, packed, lines


BARE = """
n = 0
with {opener} as f:
    for line in f:
        {loads}(line)
        n += 1
"""
READER = """
lines = iter_json_lines({path})
n = sum(1 for _ in lines)
assert lines.stats.bad_lines == 0
"""
IMPORT = "from pytest_llmguard.documents import iter_json_lines, stream"

# (imports, timed loop): imports are not timed, since they are paid once per process.
READERS = {
    "bare json.loads loop": (
        "import json",
        BARE.format(opener='open(PATH, "rb")', loads="json.loads"),
    ),
    "bare orjson.loads loop": (
        "import orjson",
        BARE.format(opener='open(PATH, "rb")', loads="orjson.loads"),
    ),
    "iter_json_lines (orjson)": (IMPORT, READER.format(path="PATH")),
    "iter_json_lines (json fallback)": (
        IMPORT + "\nstream._loads = None",
        READER.format(path="PATH"),
    ),
    "bare loop over gzip.open": (
        "import gzip, json",
        BARE.format(opener='gzip.open(GZ, "rb")', loads="json.loads"),
    ),
    "iter_json_lines, gzip (orjson)": (IMPORT, READER.format(path="GZ")),
}

TIMER = r"""
import re, time
PATH, GZ = {plain!r}, {packed!r}
{setup}
start = time.perf_counter()
{body}
wall = time.perf_counter() - start
# VmHWM (peak RSS) starts afresh at exec; ru_maxrss may keep the forking parent's.
with open("/proc/self/status") as status:
    rss = int(re.search(r"VmHWM:\s+(\d+) kB", status.read()).group(1)) / 1024
print(wall, rss, n)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="size of the log (default 200)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        plain, packed, count = write_logs(Path(tmp), args.mb)
        size = plain.stat().st_size
        print(
            f"{size / 1e6:,.0f} MB, {count:,} chat records "
            f"({size / count:,.0f} bytes a line); gzip {packed.stat().st_size / 1e6:,.0f} MB"
        )
        runs: dict[str, list[tuple[float, float]]] = {label: [] for label in READERS}
        for _ in range(args.repeats):
            for label, (setup, body) in READERS.items():
                code = TIMER.format(plain=str(plain), packed=str(packed), setup=setup, body=body)
                done = subprocess.run(
                    [sys.executable, "-c", code], capture_output=True, text=True, check=True
                )
                wall, rss, n = done.stdout.split()
                assert int(n) == count, (label, n, count)
                runs[label].append((float(wall), float(rss)))
    base = statistics.median(w for w, _ in runs["bare json.loads loop"])
    print(f"median of {args.repeats} interleaved runs, each in a fresh process\n")
    print(f"  {'reader':34}{'wall':>9}{'MB/s':>8}{'speed vs bare loop':>20}{'peak RSS':>11}")
    for label, values in runs.items():
        wall = statistics.median(w for w, _ in values)
        rss = max(r for _, r in values)
        print(f"  {label:34}{wall:8.2f}s{size / 1e6 / wall:8.0f}{base / wall:19.2f}x{rss:8.0f} MB")
    print(f"\npython {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
