"""One night, start to end: judge tonight against the history, store it, alert.

The session calls ``Nightly.judge`` once the run is assessed (before the JSON report is
rendered, so the report carries the drift result) and ``Nightly.finish`` with the
rendered report: tonight is stored in the drift history (report, digest, samples),
the history is pruned, and alerts go out (``publish.alerts``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from pytest_llmguard.config.records import Config
from pytest_llmguard.drift.check import Tonight, check_drift
from pytest_llmguard.drift.findings import DriftResult
from pytest_llmguard.drift.history import SampleReader, load_history, save_night
from pytest_llmguard.drift.night import Digest, TargetDigest
from pytest_llmguard.drift.production import ProductionRecord
from pytest_llmguard.outcome import Outcome
from pytest_llmguard.report import Amend, render_json
from pytest_llmguard.store import RunMeta, open_store

if TYPE_CHECKING:
    from pytest_llmguard.outputs import RunOutputs


@dataclass
class Nightly:
    """The drift check of one run (see the module docstring)."""

    config: Config
    started_at: float
    git: dict[str, str | None] = field(default_factory=dict)
    alerts: bool = True  # False: judge and store, never notify (tests, `--no-alerts`)
    production: Iterable[ProductionRecord] | None = None  # None: read from ``logs:``
    now: float | None = None  # the production windows' end; None: started_at

    def __post_init__(self) -> None:
        self.store = open_store(self.config.drift_history, self.config.rootdir)

    def judge(self, outcome: Outcome) -> DriftResult:
        """Tonight against the stored nights (tonight is not stored yet)."""
        history = load_history(self.store)
        reader = SampleReader(self.store)
        tonight = Tonight(self.started_at, outcome.summaries, outcome.scored, outcome.cases)
        if not outcome.complete:
            return DriftResult(
                (), (), notes=("an interrupted or incomplete run is not judged for drift",)
            )
        production = self.production
        now = self.started_at if self.now is None else self.now
        notes: list[str] = []
        if production is None and self.config.logs.enabled:
            # Only the controller reads: the windows are read once, at the end of the run.
            from pytest_llmguard.drift.production_logs import read_production

            logs = read_production(self.config, now=now)
            production, notes = logs.records, logs.notes()
        result = check_drift(
            self.config, tonight, history, reader, production=production, production_now=now
        )
        return replace(result, notes=(*notes, *result.notes))

    def finish(self, outcome: Outcome, document: str, result: DriftResult) -> DriftResult:
        """Store tonight (whole report, digest, samples), prune, and alert."""
        digest = Digest(
            self.started_at,
            {name: TargetDigest.of(s) for name, s in outcome.summaries.items()},
            verdict=result.verdict,
            findings=tuple(f.title for f in result.findings if f.verdict == "fail"),
        )
        meta = RunMeta(self.started_at, self.git.get("commit"), self.git.get("branch"))
        meta = replace(meta, partial=not outcome.complete)
        tonight = Tonight(self.started_at, outcome.summaries, outcome.scored, outcome.cases)
        ref = save_night(self.store, document, meta, digest, outcome.scored, tonight.fingerprints())
        history = self.config.history
        self.store.prune(keep=history.keep, max_age_days=history.max_age_days, now=self.started_at)
        result = replace(result, saved=ref.location)
        if not self.alerts or not outcome.complete:
            return result
        from pytest_llmguard.publish.alerts import send_alerts

        report = send_alerts(self.config, result, now=self.started_at)
        return replace(result, alerts=report.lines, alerts_failed=report.failed)

    def write(
        self, outputs: RunOutputs, outcome: Outcome, amend: Amend | None
    ) -> tuple[Outcome, DriftResult]:
        """The run's reports and save with the drift result in them, then the night stored
        and alerted; the JSON report is rewritten to say what alerting did."""
        from pytest_llmguard.atomic import write_atomic

        drift = self.judge(outcome)
        # The night is stored as the report was written (rendered once); if a hook's
        # amendment broke that report, the night is stored without the amendment.
        written, document = outputs.write_documented(outcome, with_drift(amend, drift), render=True)
        if document is None:
            document = render_json(outcome, with_drift(None, drift))
        drift = self.finish(outcome, document + "\n", drift)
        json_path = outputs.report_paths().get("json")
        if json_path is not None and json_path in written.reports_written:
            final = render_json(outcome, with_drift(amend, drift))
            write_atomic(json_path, final + "\n")
        return written, drift


def with_drift(amend: Amend | None, drift: DriftResult) -> Amend:
    """``amend``, then the drift check's result as the report's ``drift`` key."""

    def both(report: dict[str, Any]) -> None:
        report["drift"] = drift.to_dict()
        if amend is not None:
            amend(report)

    return both
