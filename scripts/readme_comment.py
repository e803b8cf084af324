"""Regenerate the README's failing-gate PR comment from a real run of the example sets.

    python scripts/readme_comment.py          # run the gate, save the run, rewrite README.md

It replays ``golden_sets/`` with the candidate swapped to the regressed simulator
version (the README's failing-gate command), saves the run to
``docs/examples/failing-gate.json``, and puts the PR comment rendered from that saved
run between the README's ``readme-comment`` markers. ``tests/test_readme_comment.py``
checks that the README shows exactly that rendering, and that the saved run is a run of
the example sets as they are now (rerun this script when they change).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN = "docs/examples/failing-gate.json"
START = "<!-- readme-comment:start -->"
END = "<!-- readme-comment:end -->"
OVERRIDE = "candidate=sim-regressed"


def quoted(markdown: str) -> str:
    """The comment as a block quote: the README shows it rendered, as the PR does."""
    return "\n".join(("> " + line).rstrip() for line in markdown.rstrip("\n").splitlines())


def readme_block() -> str:
    """The README's block for the saved run: rendered, never recomputed."""
    sys.path.insert(0, str(ROOT))
    from pytest_llmguard.report.markdown import render_markdown
    from pytest_llmguard.store import load_run, outcome_of

    outcome = outcome_of(load_run(str(ROOT / RUN)))
    return quoted(render_markdown(outcome))


def main() -> int:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--llmguard",
            "golden_sets/",
            "-q",
            "-p",
            "no:cacheprovider",
            "--llmguard-target",
            OVERRIDE,
            f"--llmguard-save={RUN}",
        ],
        cwd=ROOT,
        check=False,  # the gate fails: that is the point
        env={**os.environ, "LLMGUARD_GITHUB": "0"},
    )
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    block = f"{START}\n{readme_block()}\n{END}"
    (ROOT / "README.md").write_text(pattern.sub(lambda _: block, readme), encoding="utf-8")
    print(f"saved {RUN} and rewrote the README's comment")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
