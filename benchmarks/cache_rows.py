"""Issue #18's cache rows for perf.py: what recording costs, and carrying the cache in CI.

  record      the live run (0 ms) with ``--llmguard-cache record`` on an empty cache, and
              with ``refresh`` on a full one, against the same run with the cache off:
              ≤ 1.1 × off, at ``--cases`` and ``--big`` cases.
  tar         the cache folder ``--big`` entries strong, saved and restored as GitHub's
              cache action does (``tar --posix`` through ``zstd -T0``; gzip if zstd is
              missing): seconds each way, files and bytes, this layout against ``--before``'s.

Both are interleaved with ``--before``'s runs when it is given, like the other rows.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from perf import Row, Run, Server

CACHE_DIR = ".llmguard/cache"


def _fresh(run: Callable[[], Run], root: Path) -> Run:
    """``run`` on an empty cache (the removal is not timed)."""
    shutil.rmtree(root / CACHE_DIR, ignore_errors=True)
    return run()


def record_rows(
    server: Server, args: argparse.Namespace, env: dict[str, str], tmp: Path
) -> list[Row]:
    from perf import PYTEST, Row, before_cmd, interleaved, make_project, ratio_interval, run_child

    rows: list[Row] = []
    sizes = [args.cases] + ([args.big] if args.big and args.big != args.cases else [])
    for n in sizes:
        base = PYTEST + ["--llmguard", "golden_sets", "--llmguard-cache"]
        pythons = {"": lambda cmd: cmd}
        if args.before:
            pythons["before "] = partial(before_cmd, args)
        variants: dict[str, Callable[[], Run]] = {}
        for label, python in pythons.items():
            root = make_project(
                tmp / f"record{n}{label.strip()}", n, server.base_url, latency_ms=0,
                concurrency=args.concurrency,
            )  # fmt: skip
            variants[label + "off"] = partial(run_child, python(base + ["off"]), root, env)
            record = partial(run_child, python(base + ["record"]), root, env)
            variants[label + "record"] = partial(_fresh, record, root)
            variants[label + "refresh"] = partial(run_child, python(base + ["refresh"]), root, env)
        s = interleaved(variants, args.repeats)
        for label in pythons:
            off = s[label + "off"]
            for mode in ("record", "refresh"):
                got = s[label + mode]
                low, high = ratio_interval(got.walls, off.walls)
                ratio = got.wall / off.wall
                who = "before: " if label else ""
                rows.append(
                    Row(
                        f"{who}{mode} {n} cases, 0 ms",
                        f"{got.wall:.2f} s (off {off.wall:.2f} s)",
                        ratio,
                        "≤ 1.1 × off",
                        None if label else ratio <= 1.1,
                        f"95 % interval {low:.2f}–{high:.2f}; "
                        f"{1000 * (got.wall - off.wall) / n:.3f} ms per response",
                    )
                )
    return rows


def _compressor() -> list[str]:
    return ["--use-compress-program", "zstd -T0"] if shutil.which("zstd") else ["-z"]


def _tar_cycle(root: Path, work: Path) -> tuple[float, float, int]:
    """(save s, restore s, archive bytes) of ``root``'s cache folder, as actions/cache does."""
    archive = work / "cache.tar"
    archive.unlink(missing_ok=True)
    t0 = time.perf_counter()
    subprocess.run(
        ["tar", "--posix", "-cf", str(archive), *_compressor(), "-C", str(root), CACHE_DIR],
        check=True,
    )
    t1 = time.perf_counter()
    restored = work / "restored"
    shutil.rmtree(restored, ignore_errors=True)
    restored.mkdir()
    subprocess.run(["tar", "-xf", str(archive), *_compressor(), "-C", str(restored)], check=True)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, archive.stat().st_size


def tar_rows(server: Server, args: argparse.Namespace, env: dict[str, str], tmp: Path) -> list[Row]:
    from perf import PYTEST, Row, before_cmd, make_project, run_child

    n = args.big or args.cases
    record = PYTEST + ["--llmguard", "golden_sets", "--llmguard-cache", "record"]
    layouts = {"after": record} | ({"before": before_cmd(args, record)} if args.before else {})
    roots = {}
    for label, cmd in layouts.items():
        root = make_project(tmp / f"tar-{label}", n, server.base_url, latency_ms=0,
                            concurrency=args.concurrency)  # fmt: skip
        run_child(cmd, root, env)
        roots[label] = root
    times: dict[str, list[tuple[float, float, int]]] = {label: [] for label in layouts}
    for _ in range(args.repeats):  # interleaved
        for label, root in roots.items():
            times[label].append(_tar_cycle(root, tmp / f"tar-{label}"))
    rows: list[Row] = []
    medians = {}
    for label, root in roots.items():
        files = sum(1 for p in (root / CACHE_DIR).rglob("*") if p.is_file())
        save = statistics.median(t[0] for t in times[label])
        restore = statistics.median(t[1] for t in times[label])
        medians[label] = (save, restore)
        spread = [f"{min(t[i] for t in times[label]):.2f}–{max(t[i] for t in times[label]):.2f}"
                  for i in (0, 1)]  # fmt: skip
        rows.append(
            Row(
                f"{'before: ' if label == 'before' else ''}cache tar, {n} entries",
                f"save {save:.2f} s, restore {restore:.2f} s",
                None,
                "–",
                None,
                f"{files} files, archive {times[label][0][2] / 1e6:.1f} MB; "
                f"ranges save {spread[0]}, restore {spread[1]} s",
            )
        )
    if "before" in medians:
        (sa, ra), (sb, rb) = medians["after"], medians["before"]
        rows.append(Row("cache tar after/before", f"save {sa / sb:.2f}×, restore {ra / rb:.2f}×",
                        (sa + ra) / (sb + rb), "–", None))  # fmt: skip
    return rows
