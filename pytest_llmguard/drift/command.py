"""``llmguard drift`` and ``llmguard history``: the nightly check without pytest.

``llmguard drift`` replays every golden-set case against every configured target
through the same ``GuardSession`` the plugin uses, then judges, stores and alerts
exactly as ``pytest --llmguard --llmguard-drift`` does. Exit code 1 on drift (or on a
failed budget, or an alert that could not be delivered), 4 on a usage error.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence

from pytest_llmguard.exceptions import ConfigError
from pytest_llmguard.units import format_number


def run_drift(
    *,
    config_path: str | None,
    rootdir: str,
    targets: Sequence[str] = (),
    alerts: bool = True,
    markdown: str | None = None,
    report_json: str | None = None,
) -> int:
    from pytest_llmguard.atomic import write_atomic
    from pytest_llmguard.config import load_config
    from pytest_llmguard.config.overrides import Options
    from pytest_llmguard.drift.render import render_markdown
    from pytest_llmguard.drift.render import render_terminal as render_drift
    from pytest_llmguard.golden import load_golden_sets
    from pytest_llmguard.report.terminal import render_terminal
    from pytest_llmguard.session import GuardSession

    config = load_config(rootdir, config_path)
    if not config.targets:
        raise ConfigError("no targets configured", file=config.path, key_path="targets")
    golden = load_golden_sets(config)
    options = Options(targets=tuple(targets), drift=True, alerts=alerts, report_json=report_json)
    session = GuardSession(config, golden, options)
    try:
        cases = [case for g in golden for case in g.cases]
        session.call(session.plan([(case, t) for case in cases for t in session.targets]))
        outcome = session.finish()
    finally:
        session.close()
    print("\n".join(render_terminal(outcome)))
    result = session.drift_result
    if result is None:  # pragma: no cover - finish always judges with drift on
        return 1
    print()
    print("\n".join(render_drift(result)))
    if markdown:
        write_atomic(markdown, render_markdown(result))
    return 1 if outcome.verdict == "fail" or result.failed else 0


_COLUMNS = (
    ("n", None, "n"),
    ("p95 ms", "latency_p95_ms", "ms"),
    ("$/resp", "cost_per_response_usd", "usd"),
    ("errors", "error_rate", "ratio"),
    ("out tok", "output_tokens_mean", "tokens"),
    ("checks", "check_pass_rate", "ratio"),
)


def list_history(
    *, config_path: str | None, rootdir: str, limit: int = 30, as_json: bool = False
) -> int:
    """Print the newest ``limit`` nights, one line per night and target."""
    from pytest_llmguard.config import load_config
    from pytest_llmguard.drift.history import load_history
    from pytest_llmguard.store import open_store

    config = load_config(rootdir, config_path)
    store = open_store(config.drift_history, config.rootdir)
    history = load_history(store)
    for warning in history.warnings:
        print(f"llmguard history: warning: {warning}", file=sys.stderr)
    nights = history.nights[-limit:] if limit > 0 else history.nights
    if as_json:
        for night in nights:
            d = night.digest
            entry = {
                "run": night.ref.run_id,
                "started_at": d.started_at,
                "verdict": d.verdict,
                "findings": list(d.findings),
                "targets": {
                    name: {"model": t.model, "n": t.n, "metrics": dict(t.metrics)}
                    for name, t in d.targets.items()
                },
            }
            print(json.dumps(entry))
        return 0
    if not nights:
        print(f"no nights stored in {store.location} yet (run `llmguard drift`)")
        return 0
    header = ["run", "date (UTC)", "verdict", "target (model)", *(c[0] for c in _COLUMNS)]
    rows: list[list[str]] = []
    below: dict[int, list[str]] = {}  # findings, printed under their night's last row
    for night in nights:
        d = night.digest
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(d.started_at))
        for name, t in d.targets.items():
            cells = [str(t.n)] + [
                format_number(t.metrics.get(metric), unit)
                for _, metric, unit in _COLUMNS[1:]
                if metric is not None
            ]
            rows.append([night.ref.run_id, when, d.verdict, f"{name} ({t.model})", *cells])
        below[len(rows) - 1] = [f"       ↳ {f}" for f in d.findings[:3]]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for index, row in enumerate([header, ["-" * w for w in widths], *rows], start=-2):
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        for line in below.get(index, ()):
            print(line)
    print(f"{len(history.nights)} night(s) in {store.location}; {len(history.warnings)} skipped")
    return 0
