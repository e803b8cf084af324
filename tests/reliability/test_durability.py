"""Files survive kills and concurrent writers: the old file stays whole, no entry is torn.

Real processes, real signals: a child writing a 200 MB file in a loop through
``atomic.write_atomic`` is killed with SIGKILL mid-write; several children record the
same cache keys through ``cache.ResponseCache`` at once.
"""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pytest_llmguard.cache import ResponseCache

PACKAGE = Path(__file__).parents[2] / "pytest_llmguard"
BIG = 200 * 1024 * 1024
ORIGINAL = b'{"version": 0, "pad": "the old, complete file"}\n'
DEADLINE_S = 60.0

WRITE_FOREVER = """
import sys
from pytest_llmguard.atomic import write_atomic

path, size = sys.argv[1], int(sys.argv[2])
pad = b"x" * size
version = 0
while True:
    version += 1
    write_atomic(path, b'{"version": %08d, "pad": "' % version + pad + b'"}\\n', durable=True)
"""


def _is_complete_version(path: Path) -> bool:
    """A whole document of WRITE_FOREVER, checked without parsing 200 MB of JSON."""
    head = b'{"version": 00000000, "pad": "'
    tail = b'"}\n'
    if path.stat().st_size != len(head) + BIG + len(tail):
        return False
    with path.open("rb") as fh:
        start = fh.read(len(head))
        fh.seek(-len(tail) - 1, os.SEEK_END)
        end = fh.read()
    return start[:12] == head[:12] and start[20:] == head[20:] and end == b"x" + tail


def test_sigkill_mid_write_leaves_the_old_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "baseline.json"
    target.write_bytes(ORIGINAL)
    child = subprocess.Popen(
        [sys.executable, "-c", WRITE_FOREVER, str(target), str(BIG)], cwd=tmp_path
    )
    try:
        deadline = time.monotonic() + DEADLINE_S
        while True:
            partial = [p for p in tmp_path.glob(".baseline.json.*.tmp") if p.stat().st_size]
            if partial:
                break
            assert child.poll() is None and time.monotonic() < deadline, "the writer never wrote"
            time.sleep(0.005)  # polling the writer's progress
        os.kill(child.pid, signal.SIGKILL)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    leftovers = list(tmp_path.glob(".baseline.json.*.tmp"))
    assert leftovers, "the kill landed mid-write (a temporary file was being written)"
    # Intact: the old file, or (if the kill raced a rename) one whole newer version.
    assert target.read_bytes() == ORIGINAL or _is_complete_version(target)


CACHE_WRITER = """
import sys
from pytest_llmguard.cache import ResponseCache
from pytest_llmguard.records import Observation

directory, writer, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
keys = [f"{k:02d}" + "ab" * 31 for k in range(4)]
cache = ResponseCache(directory, "record")
pad = "y" * 100_000
for i in range(rounds):
    for key in keys:
        cache.put(key, Observation(
            case_key="s.yaml::c", target="t", repeat_index=0, model="m",
            output=f"writer {writer} round {i} " + pad, latency_ms=1.0,
        ))
        # Once written, an entry must always read back whole (get() says None if torn).
        hit = cache.get(key, case_key="s.yaml::c", target="t", repeat_index=0)
        if hit is None or not (hit.output or "").startswith("writer "):
            print(f"torn entry {key} seen by writer {writer} in round {i}", flush=True)
            sys.exit(1)
"""


def test_concurrent_cache_writers_never_tear_an_entry(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", CACHE_WRITER, str(cache_dir), str(w), "40"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for w in range(4)
    ]
    outputs = [w.communicate(timeout=DEADLINE_S)[0] for w in writers]
    assert [w.returncode for w in writers] == [0, 0, 0, 0], outputs
    cache = ResponseCache(cache_dir, "replay")
    keys = sorted(set(cache.keys()))
    assert len(keys) == 4
    for key in keys:
        observation = cache.get(key, case_key="s.yaml::c", target="t", repeat_index=0)
        assert observation is not None and observation.output is not None
        assert observation.output.startswith("writer ")
    assert not [p for p in cache_dir.rglob("*") if p.name.endswith(".tmp")]


# ---- every write goes through write_atomic -------------------------------------------------


def _direct_writes(source: Path) -> list[str]:
    """Calls in ``source`` that write a file without write_atomic."""
    found = []
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in ("write_text", "write_bytes"):
            found.append(f"{source.relative_to(PACKAGE.parent)}:{node.lineno} .{func.attr}()")
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if name in ("open", "fdopen"):
            modes: list[ast.expr] = list(node.args[1:2])
            modes += [k.value for k in node.keywords if k.arg == "mode"]
            for mode in modes:
                if isinstance(mode, ast.Constant) and set(str(mode.value)) & set("wax+"):
                    found.append(f"{source.relative_to(PACKAGE.parent)}:{node.lineno} {name}()")
    return found


def test_every_file_the_tool_writes_goes_through_write_atomic() -> None:
    sources = [
        p
        for p in sorted(PACKAGE.rglob("*.py"))
        # the simulator writes sockets, not files; atomic.py is the one allowed writer
        if p.name != "atomic.py" and "sim" not in p.relative_to(PACKAGE).parts
    ]
    offenders = [w for source in sources for w in _direct_writes(source)]
    assert offenders == []
