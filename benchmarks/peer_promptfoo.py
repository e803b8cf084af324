"""Issue #5, optional peer row: the same cases through promptfoo, against the same server.

    .venv/bin/python benchmarks/peer_promptfoo.py [N] [--latency-ms 0] [--concurrency 64]
                                                  [--no-write] [--assertion rouge-n]

Run as a script, this is a self-test: it starts the simulator, runs ``promptfoo eval`` on N
distinct cases (default 200) with the cache off, then fills promptfoo's cache and runs warm
twice, printing wall times and how many requests the simulator saw for each run (a warm run
must send none).

promptfoo is a Node program; it is installed pinned, per checkout, in the gitignored
``benchmarks/.peers/`` (see :func:`install_hint`). ``PROMPTFOO_VERSION`` is the newest
release whose ``engines.node`` still admits Node 20 (``^20.20.0 || >=22.22.0``); 0.122.0
and later require Node >= 22.22. On Node 20 it still works (after July 30, 2026 it would
print an end-of-support notice, silenced here with ``PROMPTFOO_DISABLE_RUNTIME_WARNINGS``).

The cases are those of ``perf.py``: prompt ``Question number {i}: what is {i} plus {i}?``,
expected ``{i} plus {i} is {2i}.``, one per test. Each test carries one assertion promptfoo
evaluates locally, with no model (``icontains: question``, which the simulator's answers
pass; or ``rouge-n`` against the expected answer, the closer analogue of our similarity
score), so grading costs something but sends nothing. The provider is promptfoo's OpenAI
chat provider (``openai:chat:sim-stable``, ``apiBaseUrl`` = the simulator, the
``x-sim-latency-ms`` header through the provider's ``config.headers``, a dummy
``OPENAI_API_KEY``); concurrency is ``evaluateOptions.maxConcurrency`` and ``-j`` (which
also sizes promptfoo's HTTP connection pool).

Everything stays local and quiet (:func:`promptfoo_env`): no telemetry, no update check, no
sharing, no remote generation, no runtime notice, no per-run debug log; config, SQLite
database, error log and cache live under ``<project>/.promptfoo`` (nothing in
``~/.promptfoo``); no results table or progress bar; no output file. Each run is recorded in
that database, as a plain ``promptfoo eval`` does (``write=False`` passes ``--no-write``;
on this 2-core machine the database costs ~10 s of CPU per 2,000 results, the larger part of
promptfoo's time).

Exit codes of ``promptfoo eval``: 0 = every test passed; 100 (its default
``PROMPTFOO_FAILED_TEST_EXIT_CODE``, pinned here) = pass rate below 100 %, counted as a good
run when only assertions failed (provider errors count against the pass rate too, and raise here).
promptfoo crashes at exit on big runs when its debug log is on (winston: "write after end",
exit 1), sometimes after printing its summary, sometimes swallowing it; hence
``PROMPTFOO_DISABLE_DEBUG_LOG``, after which no crash was seen. A run that still exits
otherwise after a complete summary is counted (its wall time is valid) and flagged
(``PromptfooRun.crashed_after_summary``; ``run_promptfoo`` also issues a
:class:`PromptfooCrashedAfterSummary` warning); a run without its summary raises.

Cache: with ``cache=True`` promptfoo reads and writes its disk cache
(``<project>/.promptfoo/cache/cache.json``); the caller runs once to fill it, then again:
that warm run sends 0 requests (the self-test checks this against the simulator's request
log). The cache key includes the request headers, so a cache filled at one
``latency_ms`` does not serve another. ``cache=False`` passes ``--no-cache`` (neither read
nor written).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

PROMPTFOO_VERSION = "0.121.20"
PEERS_DIR = Path(__file__).resolve().parent / ".peers"
DEFAULT_BIN = PEERS_DIR / "node_modules" / ".bin" / "promptfoo"
CONFIG_FILE = "promptfooconfig.yaml"
TESTS_FILE = "tests.yaml"
META_FILE = "peer.json"
STATE_DIR = ".promptfoo"
EXIT_FAILED_TESTS = 100  # pinned through PROMPTFOO_FAILED_TEST_EXIT_CODE
DUMMY_API_KEY = "sk-llmguard-bench-not-a-key"

Assertion = Literal["icontains", "rouge-n"]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_COUNT = r"^\s*(?:\S+\s+)?([\d,]+) {}\b"
_PASSED = re.compile(_COUNT.format("passed"), re.M)
_FAILED = re.compile(_COUNT.format("failed"), re.M)
_ERRORS = re.compile(_COUNT.format("errors?"), re.M)
_COMPLETE = re.compile(r"\bEval complete\b")


class PromptfooCrashedAfterSummary(UserWarning):
    """promptfoo printed its results, then exited with an unexpected status."""


@dataclass(frozen=True)
class PromptfooRun:
    wall_s: float
    exit_code: int
    passed: int
    failed: int
    errors: int
    crashed_after_summary: bool  # counted, but worth a note in the table
    output: str  # stdout and stderr, interleaved, ANSI codes stripped


# ---- finding and installing promptfoo --------------------------------------------------------


def _runs(binary: Path) -> bool:
    try:
        with tempfile.TemporaryDirectory(prefix="llmguard-pf-version-") as tmp:
            proc = subprocess.run(
                [str(binary), "--version"],
                cwd=tmp,
                env=promptfoo_env(Path(tmp)),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=120,
                check=False,
            )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def find_promptfoo(explicit: str | None = None) -> Path | None:
    """The promptfoo executable: ``explicit``, else ``$PROMPTFOO_BIN``, else the pinned one in
    ``benchmarks/.peers``; None unless it exists and ``--version`` exits 0."""
    candidate = explicit or os.environ.get("PROMPTFOO_BIN") or str(DEFAULT_BIN)
    path = Path(candidate).expanduser()
    if not path.is_file() or not _runs(path):
        return None
    return path


def install_hint() -> str:
    """The command that installs the pinned promptfoo where :func:`find_promptfoo` looks."""
    try:
        prefix = str(PEERS_DIR.relative_to(Path.cwd()))
    except ValueError:
        prefix = str(PEERS_DIR)
    return (
        f"npm install --prefix {shlex.quote(prefix)} --no-audit --no-fund --save-exact "
        f"promptfoo@{PROMPTFOO_VERSION}"
    )


# ---- the throwaway project ------------------------------------------------------------------


def _q(text: str) -> str:
    """A YAML double-quoted scalar (a JSON string is one)."""
    return json.dumps(text)


def make_promptfoo_project(
    root: Path,
    n: int,
    base_url: str,
    *,
    latency_ms: int,
    concurrency: int,
    assertion: Assertion = "icontains",
) -> Path:
    """A promptfoo config and tests file for N distinct cases against ``base_url`` (…/v1)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / CONFIG_FILE).write_text(
        "# written by benchmarks/peer_promptfoo.py\n"
        f"description: {_q(f'pytest-llmguard perf peer: {n} cases, {latency_ms} ms')}\n"
        "prompts:\n"
        f"  - {_q('Question number {{i}}: what is {{i}} plus {{i}}?')}\n"
        "providers:\n"
        "  - id: openai:chat:sim-stable\n"
        "    label: bench\n"
        "    config:\n"
        f"      apiBaseUrl: {_q(base_url)}\n"
        "      headers:\n"
        f"        x-sim-latency-ms: {_q(str(latency_ms))}\n"
        f"tests: {_q('file://' + TESTS_FILE)}\n"
        "evaluateOptions:\n"
        f"  maxConcurrency: {concurrency}\n"
        "sharing: false\n"
    )
    with open(root / TESTS_FILE, "w") as fh:
        for i in range(n):
            if assertion == "icontains":
                check = '{type: icontains, value: "question"}'
            else:
                check = f"{{type: rouge-n, value: {_q(f'{i} plus {i} is {2 * i}.')}, threshold: 0}}"
            fh.write(f'- vars: {{i: "{i}"}}\n  assert:\n    - {check}\n')
    (root / META_FILE).write_text(
        json.dumps({"cases": n, "latency_ms": latency_ms, "concurrency": concurrency}) + "\n"
    )
    return root


# ---- running it -----------------------------------------------------------------------------


def promptfoo_env(
    project: Path, base: Mapping[str, str] | None = None, *, quiet: bool = True
) -> dict[str, str]:
    """The environment of a local, quiet promptfoo whose state lives in ``project``."""
    env = {
        k: v
        for k, v in (os.environ if base is None else base).items()
        if not k.startswith("PROMPTFOO_")
        and k
        not in {
            "OPENAI_API_KEY",
            "OPENAI_BASE_URL",
            "OPENAI_API_BASE_URL",
            "OPENAI_API_HOST",
            "OPENAI_ORGANIZATION",
            "LOG_LEVEL",
        }
    }
    state = project / STATE_DIR
    no_proxy = ",".join(
        filter(None, [env.get("NO_PROXY") or env.get("no_proxy"), "127.0.0.1,localhost,::1"])
    )
    env.update(
        {
            # state: config (promptfoo.yaml), SQLite database, logs, cache
            "PROMPTFOO_CONFIG_DIR": str(state),
            "PROMPTFOO_LOG_DIR": str(state / "logs"),
            "PROMPTFOO_CACHE_PATH": str(state / "cache"),
            "PROMPTFOO_CACHE_TYPE": "disk",
            # nothing leaves the machine
            "PROMPTFOO_DISABLE_TELEMETRY": "1",
            "PROMPTFOO_DISABLE_UPDATE": "1",
            "PROMPTFOO_DISABLE_SHARING": "1",
            "PROMPTFOO_DISABLE_SHARE_EMAIL_REQUEST": "1",
            "PROMPTFOO_DISABLE_REMOTE_GENERATION": "1",
            "PROMPTFOO_DISABLE_RUNTIME_WARNINGS": "1",  # the Node 20 end-of-support notice
            # The per-run debug log (a winston file transport) is what crashes promptfoo at
            # exit ("write after end") and swallows its summary on big runs; it also writes
            # every request to disk. The error log stays (empty unless something failed).
            "PROMPTFOO_DISABLE_DEBUG_LOG": "1",
            "PROMPTFOO_FAILED_TEST_EXIT_CODE": str(EXIT_FAILED_TESTS),
            "OPENAI_API_KEY": DUMMY_API_KEY,
            "NO_PROXY": no_proxy,
            "no_proxy": no_proxy,
            "NO_COLOR": "1",
            "FORCE_COLOR": "0",
        }
    )
    if quiet:
        env["NODE_NO_WARNINGS"] = "1"  # undici's ExperimentalWarning on every start
    return env


def _count(pattern: re.Pattern[str], text: str) -> int | None:
    found = pattern.findall(text)
    return int(found[-1].replace(",", "")) if found else None


def run_promptfoo_detailed(
    binary: Path, project: Path, *, cache: bool, write: bool = True, timeout_s: float = 1800
) -> PromptfooRun:
    """One ``promptfoo eval`` of ``project``: wall time, exit status and the summary's counts.

    Raises RuntimeError (with the tail of its output) unless it printed its summary, every
    case passed or failed (no errors, all N accounted for) and it exited 0 or 100; exited
    otherwise after a complete summary is returned with ``crashed_after_summary``."""
    cmd = [
        str(binary),
        "eval",
        "--config",
        CONFIG_FILE,
        "--no-table",
        "--no-progress-bar",
        "--no-share",
    ]
    meta_path = project / META_FILE
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    if "concurrency" in meta:
        cmd += ["--max-concurrency", str(meta["concurrency"])]
    if not cache:
        cmd.append("--no-cache")
    if not write:
        cmd.append("--no-write")
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as out:
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(
                cmd,
                cwd=project,
                env=promptfoo_env(project),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            out.seek(0)
            tail = _ANSI.sub("", out.read())[-3000:]
            why = f"{shlex.join(cmd)} timed out after {timeout_s:g} s"
            raise RuntimeError(f"{why}:\n{tail}") from None
        wall = time.perf_counter() - t0
        out.seek(0)
        text = _ANSI.sub("", out.read())
    passed, failed, errors = (_count(p, text) for p in (_PASSED, _FAILED, _ERRORS))
    summary = bool(_COMPLETE.search(text)) and None not in (passed, failed, errors)

    def fail(why: str) -> RuntimeError:
        return RuntimeError(
            f"{shlex.join(cmd)} (in {project}) exited {proc.returncode}: {why}\n{text[-3000:]}"
        )

    if not summary:
        raise fail("no results summary")
    assert passed is not None and failed is not None and errors is not None
    if errors:
        raise fail(f"{errors} case(s) ended in errors, not in assertion results")
    if "cases" in meta and passed + failed != meta["cases"]:
        raise fail(f"{passed + failed} results for {meta['cases']} cases")
    crashed = proc.returncode not in (0, EXIT_FAILED_TESTS)
    if proc.returncode == EXIT_FAILED_TESTS and not failed:
        crashed = True  # 100 without a failed test is not promptfoo's verdict
    return PromptfooRun(wall, proc.returncode, passed, failed, errors, crashed, text)


def run_promptfoo(binary: Path, project: Path, *, cache: bool, write: bool = True) -> float:
    """Wall seconds of one ``promptfoo eval`` of ``project`` (see ``run_promptfoo_detailed``).

    A run that crashed after printing its summary is counted and noted with a
    :class:`PromptfooCrashedAfterSummary` warning."""
    run = run_promptfoo_detailed(binary, project, cache=cache, write=write)
    if run.crashed_after_summary:
        warnings.warn(
            f"promptfoo exited {run.exit_code} after its summary; run counted "
            f"({run.wall_s:.2f} s):\n{run.output[-800:]}",
            PromptfooCrashedAfterSummary,
            stacklevel=2,
        )
    return run.wall_s


# ---- self-test ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("cases", nargs="?", type=int, default=200, help="N (default: 200)")
    parser.add_argument("--latency-ms", type=int, default=0, help="server latency (default: 0)")
    parser.add_argument("--concurrency", type=int, default=64, help="in flight (default: 64)")
    parser.add_argument("--assertion", choices=["icontains", "rouge-n"], default="icontains")
    parser.add_argument("--no-write", action="store_true", help="pass --no-write (no database)")
    parser.add_argument("--promptfoo", help="executable (default: $PROMPTFOO_BIN or .peers)")
    parser.add_argument("--keep", action="store_true", help="keep the project directory")
    args = parser.parse_args(argv)

    binary = find_promptfoo(args.promptfoo)
    if binary is None:
        print(f"promptfoo not found or not runnable; install it with:\n  {install_hint()}")
        return 2
    print(f"promptfoo {PROMPTFOO_VERSION} (pinned) at {binary}")
    ok = True
    from perf import simulator  # the same handle perf.py uses (imported late: perf imports us)

    with simulator() as sim, tempfile.TemporaryDirectory(prefix="llmguard-pf-") as tmp:
        project = make_promptfoo_project(
            Path(tmp) / "project",
            args.cases,
            sim.base_url,
            latency_ms=args.latency_ms,
            concurrency=args.concurrency,
            assertion=args.assertion,
        )
        print(
            f"N = {args.cases} cases, {args.latency_ms} ms server latency, "
            f"{args.concurrency} concurrent, project {project}"
        )
        plan = [("cache off", False, args.cases), ("cache fill", True, args.cases)]
        plan += [("cache warm", True, 0), ("cache warm", True, 0)]
        for label, cache, want in plan:
            sim.reset()
            run = run_promptfoo_detailed(binary, project, cache=cache, write=not args.no_write)
            seen = len(sim.requests())
            note = ""
            if run.crashed_after_summary:
                note = f", exited {run.exit_code} after its summary"
            good = seen == want
            ok &= good
            print(
                f"  {label:<10}  {run.wall_s:7.2f} s   requests {seen:>6}"
                f" (want {want}){'' if good else '  MISMATCH'}   "
                f"passed {run.passed} failed {run.failed}{note}"
            )
        if args.keep:
            kept = Path(tempfile.mkdtemp(prefix="llmguard-pf-kept-"))
            os.rename(project, kept / "project")
            print(f"kept {kept / 'project'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
