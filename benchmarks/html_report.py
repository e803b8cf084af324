"""The HTML report at scale, in headless Chromium: file size, first render, sorting, filtering.

    python benchmarks/html_report.py                    # 10,000 cases, 5 fresh page loads
    python benchmarks/html_report.py --words 150        # longer outputs (about 900 characters)
    python benchmarks/html_report.py --nice -10         # the browser ahead of other work (root)
    python benchmarks/html_report.py --screenshot docs/html-report.png   # the README's picture

The report is rendered from a judged synthetic run (``tests/report/html_outcomes.py``: a
baseline and a candidate, outputs of about ``--words`` words drawn from this README's
words with their frequencies, so they compress about as real prose does; some rewritten,
some failing, a few errors), exactly as ``--llmguard-report-html`` renders a real one.
Measured:

- size of the file, and Python's time to render it (``render_html``);
- first render: from navigation start until the first frame after the page is built (the
  page's script records it), median of ``--loads`` fresh loads; and when the long texts
  (outputs, references, prompts), read after that frame, are there;
- sorting: a click on each column header, ascending then descending; filtering: a text
  filter (a rare and a common word), the status and the golden-set filters, and clearing
  them; each from the input event to the frame that shows the result (median and worst).

``--screenshot PATH`` instead runs the README's failing-gate command on the example golden
sets (in a temporary copy of them) and photographs the top of the report it writes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pytest_llmguard.report.html import render_html  # noqa: E402
from tests.browser import chromium, missing_reason  # noqa: E402
from tests.report.html_outcomes import synthetic_outcome  # noqa: E402

TARGETS = {"size": 5_000_000, "render": 1000.0, "sort": 200.0, "filter": 200.0}
UPDATES = "return Number(document.documentElement.getAttribute('data-updates') || 0)"


def wait_for(driver: Any, script: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := driver.execute_script(script)):
        if time.monotonic() > deadline:
            raise TimeoutError(script)
        time.sleep(0.02)
    return value


def load(driver: Any, page: Path) -> tuple[float, float]:
    """First render, and when the long texts (outputs) were read after it, in ms."""
    driver.get(page.as_uri())
    rendered = "return document.documentElement.getAttribute('data-render-ms')"
    texts = "return document.documentElement.getAttribute('data-texts-ms')"
    return float(wait_for(driver, rendered)), float(wait_for(driver, texts))


def timed(driver: Any, action: str, *args: Any) -> float:
    """Run ``action`` (JS that fires one input event) and return the page's own timing."""
    before = driver.execute_script(UPDATES)
    driver.execute_script(action, *args)
    wait_for(driver, f"{UPDATES} > {before}")
    return float(
        driver.execute_script("return document.documentElement.getAttribute('data-update-ms')")
    )


CLICK_HEADER = "document.querySelectorAll('#cases thead th')[arguments[0]].click();"
SET_CONTROL = (
    "const c = document.querySelector(arguments[0]); c.value = arguments[1];"
    "c.dispatchEvent(new Event(arguments[2]));"
)
SEARCH = "#cases-section input[type=search]"
STATUS = "#cases-section select[aria-label=status]"
GOLDEN_SET = "#cases-section select[aria-label='golden set']"


def measure(page: Path, loads: int, nice: int | None) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"render": [], "texts": [], "sort": [], "filter": []}
    with chromium(1280, 900, nice=nice) as driver:
        for _ in range(loads):
            render, texts = load(driver, page)
            times["render"].append(render)
            times["texts"].append(texts)
        columns = driver.execute_script(
            "return document.querySelectorAll('#cases thead th').length"
        )
        for column in range(columns):
            for _ in ("ascending", "descending"):
                times["sort"].append(timed(driver, CLICK_HEADER, column))
        for selector, value, event in (
            (SEARCH, "case-0042", "input"),  # a rare match
            (SEARCH, "refund", "input"),  # a common word in outputs
            (SEARCH, "", "input"),
            (STATUS, "regressed", "change"),
            (STATUS, "changed output", "change"),
            (STATUS, "all", "change"),
            (GOLDEN_SET, "1", "change"),
            (GOLDEN_SET, "-1", "change"),
        ):
            times["filter"].append(timed(driver, SET_CONTROL, selector, value, event))
        problems = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
        if problems:
            raise SystemExit(f"the page logged problems: {problems}")
    return times


def benchmark(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    # Words of real prose, drawn with their frequencies: the outputs then compress about as
    # real answers do (a small vocabulary would flatter the gzipped size).
    vocabulary = (ROOT / "README.md").read_text(encoding="utf-8").split()
    outcome = synthetic_outcome(
        args.cases, words=args.words, repeat=args.repeat, vocabulary=vocabulary
    )
    built = time.perf_counter() - started
    renders = []
    for _ in range(3):
        started = time.perf_counter()
        page_text = render_html(outcome)
        renders.append(time.perf_counter() - started)
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(page_text, encoding="utf-8")
        size = page.stat().st_size
        times = measure(page, args.loads, args.nice)
    chars = statistics.mean(len(s.observation.output or "") for s in outcome.scored)
    print(
        f"{args.cases:,} cases x 2 targets x {args.repeat} repeat(s), outputs of "
        f"{chars:.0f} characters on average (synthetic run built in {built:.1f} s)"
    )
    print(f"python render_html: {statistics.median(renders):.2f} s (median of 3)")
    load_average = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    niceness = "" if args.nice is None else f"; browser at nice {args.nice}"
    print(f"load average {load_average} on {os.cpu_count()} CPUs{niceness}")
    rows = [
        ("file size", f"{size / 1e6:.2f} MB", "< 5 MB", size < TARGETS["size"]),
        _row("first render", times["render"], TARGETS["render"], f"{args.loads} loads"),
        _row("outputs readable", times["texts"], None, "after the first render"),
        _row("sort (click a header)", times["sort"], TARGETS["sort"], "every column, both ways"),
        _row("filter (text, status, set)", times["filter"], TARGETS["filter"], "8 changes"),
    ]
    print(f"{'':28}  {'measured':52}  {'target':10}  met")
    for name, value, target, met in rows:
        print(
            f"{name:28}  {value:52}  {target:10}  {'-' if met is None else 'yes' if met else 'NO'}"
        )


def _row(
    name: str, values: list[float], target: float | None, what: str
) -> tuple[str, str, str, bool | None]:
    median, worst = statistics.median(values), max(values)
    text = f"median {median:.0f} ms, worst {worst:.0f} ms ({what})"
    if target is None:
        return name, text, "-", None
    return name, text, f"< {target:.0f} ms", median < target


def screenshot(path: Path) -> None:
    """The README's failing-gate command on a copy of the example sets, photographed."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copytree(ROOT / "golden_sets", work / "golden_sets")
        shutil.copy(ROOT / "llmguard.yaml", work / "llmguard.yaml")
        command = [
            sys.executable, "-m", "pytest", "--llmguard", "golden_sets/",
            "--llmguard-target", "candidate=sim-regressed",
            "--llmguard-report-html", "report.html", "-q", "-p", "no:cacheprovider",
        ]  # fmt: skip
        print("$ " + " ".join(["pytest", *command[3:]]))
        done = subprocess.run(command, cwd=work, capture_output=True, text=True, env=os.environ)
        print(done.stdout.strip().splitlines()[-1])
        with chromium(1280, 900) as driver:
            load(driver, work / "report.html")
            # the top of the page: verdict, budgets, the worst regressed cases and the charts
            bottom = driver.execute_script(
                "return Math.ceil(document.querySelector('#charts').getBoundingClientRect().bottom)"
            )
            chrome = 900 - int(driver.execute_script("return window.innerHeight"))
            driver.set_window_size(1280, bottom + 16 + chrome)
            time.sleep(0.3)
            path.parent.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(path))
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--words", type=int, default=40, help="words per output (default 40)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--loads", type=int, default=5, help="fresh page loads (default 5)")
    parser.add_argument("--screenshot", type=Path, help="photograph the README example instead")
    parser.add_argument(
        "--nice",
        type=int,
        help="run the browser at this niceness (e.g. -10 as root: its share of a busy machine)",
    )
    args = parser.parse_args()
    reason = missing_reason()
    if reason:
        raise SystemExit(f"cannot run: {reason}")
    if args.screenshot:
        screenshot(args.screenshot)
    else:
        benchmark(args)


if __name__ == "__main__":
    main()
