"""``llmguard init``: a config, an example golden set and the two CI workflows."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from pytest_llmguard import __version__
from pytest_llmguard.atomic import write_atomic

CONFIG = """\
# pytest-llmguard configuration: see README.md#configuration
golden_sets: [golden_sets/]
targets:
  baseline:
    provider: sim            # the built-in simulator: no API key, no network
    model: sim-stable
  candidate:
    provider: sim
    model: sim-candidate
  # a real model, for example:
  # candidate:
  #   provider: openai
  #   model: gpt-4.1-mini-2025-04-14
  #   api_key_env: OPENAI_API_KEY
  #   params: {temperature: 0}
compare: {baseline: baseline, candidate: candidate}
run: {concurrency: 16, timeout_s: 30}
cache: {dir: .llmguard/cache, mode: record}
budgets:
  # The median: six example cases cannot pin a p95 (their slowest call is the p95). With
  # 20 or more cases, latency_p95_ms is the usual latency budget.
  latency_p50_ms: {max_increase: "15%"}
  cost_per_response_usd: {max_increase: "10%"}
  error_rate: {max: 0.02}
  check_pass_rate: {min: 0.95}
gate: {confidence: 0.95, min_cases: 5}
report: {json: llmguard-report.json, markdown: llmguard-report.md}
"""

GOLDEN_SET = """\
name: example
system: "You are a helpful support assistant for Acme."
# Six cases, so the example gate (gate.min_cases: 5) judges its budgets out of the box;
# a real set wants 20 or more (the default min_cases) for intervals worth trusting.
cases:
  - id: refund-window
    prompt: "How long do I have to ask for a refund?"
    expected: "You can ask for a refund within 30 days of purchase, with your receipt."
    checks:
      - contains: "30 days"
      - similarity: {min: 0.7}
      - no_pii: true
  - id: shipping-canada
    prompt: "How long does shipping to Canada take?"
    expected: "Shipping to Canada takes 5 to 7 business days."
    checks:
      - regex: '\\b5 to 7\\b'
  - id: reset-password
    prompt: "How do I reset my password?"
    expected: "Open Settings, choose Security, then select Reset password."
    checks:
      - contains: "Reset password"
  - id: cancel-subscription
    prompt: "How do I cancel my subscription?"
    expected: "Go to Billing, choose your plan, then select Cancel subscription."
    checks:
      - contains: "Cancel subscription"
  - id: opening-hours
    prompt: "When is your support team available?"
    expected: "Our support team is available Monday to Friday, 9:00 to 17:00 CET."
    checks:
      - facts: ["Monday to Friday"]
  - id: invoice-copy
    prompt: "Where can I download a copy of my invoice?"
    expected: "Open Billing, then Invoices, and select Download next to the invoice."
    checks:
      - contains: "Invoices"
      - not_refusal: true
"""

# Added to .gitignore (created if missing): the cache and run store, and the reports.
GITIGNORE = (".llmguard/", "llmguard-report.*")


WORKFLOWS = ("llmguard-pr.yml", "llmguard-nightly.yml")
INSTALL_MARK = "__LLMGUARD_INSTALL__"
PINNED_INSTALL = f'pip install "pytest-llmguard=={__version__}"'


def render_workflow(name: str, install: str = PINNED_INSTALL) -> str:
    """A workflow template shipped in the package, with its install step filled in.

    ``llmguard init`` pins the version that wrote it; this repository's own copies in
    ``.github/workflows`` install from the checkout (``pip install -e .``).
    """
    template = resources.files("pytest_llmguard").joinpath("templates", name)
    return template.read_text(encoding="utf-8").replace(INSTALL_MARK, install)


def scaffold(directory: Path, *, force: bool = False) -> tuple[list[Path], list[Path]]:
    """Write the starter files into ``directory``: (written, kept). Existing files are
    kept unless ``force``; ``.gitignore`` only gains the lines it lacks."""
    files = {
        directory / "llmguard.yaml": CONFIG,
        directory / "golden_sets" / "example.yaml": GOLDEN_SET,
    }
    for name in WORKFLOWS:
        files[directory / ".github" / "workflows" / name] = render_workflow(name)
    written, kept = [], []
    for path, text in files.items():
        if path.exists() and not force:
            kept.append(path)
            continue
        write_atomic(path, text)
        written.append(path)
    ignore = directory / ".gitignore"
    have = ignore.read_text(encoding="utf-8") if ignore.exists() else ""
    missing = [p for p in GITIGNORE if p not in have.splitlines()]
    if missing:
        head = have if not have or have.endswith("\n") else have + "\n"
        write_atomic(ignore, head + "# pytest-llmguard\n" + "".join(f"{p}\n" for p in missing))
        written.append(ignore)
    return written, kept
