"""The typed configuration: frozen records for every section, built once by ``load_config``.

Nothing here parses or validates: ``config.build`` turns a validated document into these
records and performs every cross-reference check, so no other module raises a config
error. Paths are kept as written (relative to ``Config.rootdir``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_llmguard.budgets import Budget, Delta
from pytest_llmguard.metrics.echo import DEFAULT_THRESHOLD as DEFAULT_ECHO_THRESHOLD
from pytest_llmguard.metrics.refusal import DEFAULT_THRESHOLD as DEFAULT_REFUSAL_THRESHOLD
from pytest_llmguard.metrics.repetition import DEFAULT_THRESHOLD as DEFAULT_REPETITION_THRESHOLD

CACHE_MODES = ("off", "replay", "record", "refresh")
PRODUCTION = "production"  # compare.baseline: the logged responses and metrics
DEFAULT_SCORER = "token_set_ratio"  # quality.similarity.scorer (metrics.similarity)
DEFAULT_EMBEDDING_MODEL = "text-embedding-3-small"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When and how often a failed call is retried."""

    max: int = 3
    on: tuple[str, ...] = ("timeout", "rate_limit", "server_error", "connection")
    respect_retry_after: bool = True
    backoff_base_s: float = 0.5
    backoff_max_s: float = 20.0


@dataclass(frozen=True, slots=True)
class RunConfig:
    concurrency: int = 16
    timeout_s: float = 60.0
    repeat: int = 1
    rpm: float | None = None
    tpm: float | None = None
    retries: RetryPolicy = field(default_factory=RetryPolicy)
    max_cost_usd: float | None = None


@dataclass(frozen=True, slots=True)
class TargetConfig:
    """One model version to replay cases against."""

    name: str
    provider: str  # a registered provider (targets.registry)
    model: str
    base_url: str | None = None
    api_key_env: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    stream: bool = False
    timeout_s: float | None = None  # overrides run.timeout_s
    concurrency: int | None = None  # overrides run.concurrency for this target
    extra: Mapping[str, Any] = field(default_factory=dict)  # provider-specific keys


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens.

    ``cached_input`` is a prompt-cache read, ``cache_write`` a prompt-cache write
    (Anthropic bills writes above the input price); None: the input price.
    """

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None


@dataclass(frozen=True, slots=True)
class CacheConfig:
    dir: str = ".llmguard/cache"
    mode: str = "off"  # one of CACHE_MODES
    max_age_days: float | None = None  # older entries are removed at the start of a run


@dataclass(frozen=True, slots=True)
class CompareConfig:
    baseline: str  # a target name, or a path to a saved run (.json)
    candidate: str  # a target name

    @property
    def saved_baseline(self) -> bool:
        """Whether the baseline is a saved run rather than a target of this run."""
        return self.baseline.endswith(".json")

    def production_baseline(self, targets: Mapping[str, Any]) -> bool:
        """Whether the baseline is what the logs recorded (``baseline: production``).

        A target named ``production`` wins: the word means the logs only when no target
        has that name.
        """
        return self.baseline == PRODUCTION and PRODUCTION not in targets


@dataclass(frozen=True, slots=True)
class GateConfig:
    confidence: float = 0.95
    min_cases: int = 20
    strict: bool = False
    # The sequential gate (``adaptive``): on by default, at most this many rounds of one
    # more call per case while a budget is undecided; README "Budgets and the gate".
    adaptive: bool = True
    adaptive_rounds: int = 5
    # Targets gated by their absolute bounds besides the candidate; any other target outside
    # ``compare`` is exploratory: reported, not gated.
    targets: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ReportConfig:
    json: str | None = None
    markdown: str | None = None
    html: str | None = None


@dataclass(frozen=True, slots=True)
class JudgeSettings:
    """The validated ``quality.judge`` section."""

    target: str
    rubric: str
    model: str | None = None  # None: the target's own model
    min_score: float | None = None  # None: only explicit `judge` checks use the score


@dataclass(frozen=True, slots=True)
class QualitySettings:
    """The validated ``quality`` configuration."""

    scorer: str = DEFAULT_SCORER
    normalize: bool = True
    groundedness_min: float = 0.6
    refusal_threshold: float = DEFAULT_REFUSAL_THRESHOLD
    repetition_threshold: float = DEFAULT_REPETITION_THRESHOLD
    echo_threshold: float = DEFAULT_ECHO_THRESHOLD
    embeddings_target: str | None = None
    embeddings_model: str = DEFAULT_EMBEDDING_MODEL
    embeddings_weight: float = 0.3
    judge: JudgeSettings | None = None

    def helper_targets(self) -> tuple[str, ...]:
        """Targets that score rather than answer: the embeddings endpoint and the judge."""
        names = (self.embeddings_target, self.judge.target if self.judge else None)
        return tuple(dict.fromkeys(n for n in names if n is not None))


@dataclass(frozen=True, slots=True)
class HistoryConfig:
    """The run store: saved runs, baselines and the nightly history are one folder."""

    dir: str = ".llmguard/history"
    keep: int | None = 90  # newest runs kept; None keeps every run
    max_age_days: float | None = None  # older runs are removed; None keeps them


LOG_FORMATS = ("auto", "openai-jsonl", "otel", "openinference", "langfuse", "litellm")
# Fields a log sample can be stratified by (sources.record.LogRecord.field).
STRATA_FIELDS = (
    "model",
    "provider",
    "route",
    "tag",
    "prompt_name",
    "prompt_version",
    "prompt",
    "feedback",
    "error",
    "source",
)
DEFAULT_NEGATIVE_VALUES = (
    "negative",
    "bad",
    "thumbs_down",
    "thumbsdown",
    "down",
    "dislike",
    "false",
    "no",
    "incorrect",
    "wrong",
    "fail",
    "failed",
    "not_relevant",
    "irrelevant",
    "-1",
    "0",
)


@dataclass(frozen=True, slots=True)
class LogSourceConfig:
    """One ``logs.sources`` entry: files (a glob, rootdir-relative) in one format."""

    path: str
    format: str = "auto"  # one of LOG_FORMATS
    fields: Mapping[str, str] = field(default_factory=dict)  # openai-jsonl field paths
    strict: bool | None = None  # None: logs.strict


@dataclass(frozen=True, slots=True)
class SampleConfig:
    """``logs.sample``: how many records to replay and how they are chosen."""

    n: int = 200
    by: tuple[str, ...] = ()  # STRATA_FIELDS
    min_per_stratum: int = 1
    since: str | None = None  # "7d", "12h", "2025-05-01", "2025-05-01T12:00:00Z"
    until: str | None = None
    seed: int = 0
    dedupe: float | None = 0.95  # near-duplicate prompt similarity (0..1); None: off


@dataclass(frozen=True, slots=True)
class FeedbackConfig:
    """``logs.feedback``: which logged feedback counts as negative."""

    names: tuple[str, ...] = ()  # score names that are user feedback; () = any
    negative_below: float = 0.5  # a numeric score in 0..1 below this is negative
    negative_values: tuple[str, ...] = DEFAULT_NEGATIVE_VALUES  # labels, case-insensitive


@dataclass(frozen=True, slots=True)
class LogsConfig:
    """The ``logs`` section: production-log sources, sampling and the log cases' checks."""

    sources: tuple[LogSourceConfig, ...] = ()
    sample: SampleConfig = field(default_factory=SampleConfig)
    feedback: FeedbackConfig = field(default_factory=FeedbackConfig)
    strict: bool = False
    checks: tuple[Mapping[str, Any], ...] = ()  # added to every case sampled from the logs

    @property
    def enabled(self) -> bool:
        return bool(self.sources)


@dataclass(frozen=True, slots=True)
class TrendBudget:
    """A budget on a metric's slope over the nightly history (``drift.trend.METRIC``)."""

    metric: str
    max_increase_per_week: Delta  # "10%": relative to the metric's level; a number: units


# Budgets on the slope when drift.trend names none: "half a second slower every week".
DEFAULT_TRENDS = (
    TrendBudget("latency_p95_ms", Delta(0.10, relative=True)),
    TrendBudget("cost_per_response_usd", Delta(0.10, relative=True)),
    TrendBudget("error_rate", Delta(0.01, relative=False)),
)


@dataclass(frozen=True, slots=True)
class ProductionSettings:
    """``drift.production``: recent vs reference windows of production records."""

    recent_s: float = 86400.0
    reference_s: float = 7 * 86400.0
    alpha: float = 0.05  # family-wise, Holm-corrected across every test of the night
    psi: float = 0.1  # "moderate shift"
    wasserstein: float = 0.1  # normalised by the reference's standard deviation (Evidently)
    ks_max_rows: int = 1000  # up to this many rows per window KS alone decides (Evidently)
    bins: int = 10
    min_rows: int = 30  # fewer rows in a window: not tested, said plainly


@dataclass(frozen=True, slots=True)
class DriftConfig:
    """The ``drift`` section: the nightly check's reference window, tests and budgets."""

    history: str | None = None  # None: history.dir
    reference_runs: int = 7
    budgets: tuple[Budget, ...] | None = None  # None: the gate's budgets, else built-ins
    output_alpha: float = 0.001
    output_min_reference: int = 3
    output_top: int = 5
    trend_window: int = 8
    trends: tuple[TrendBudget, ...] = DEFAULT_TRENDS
    control_k: float = 3.0
    control_metrics: tuple[str, ...] = ("latency_p95_ms", "cost_per_response_usd", "error_rate")
    production: ProductionSettings = field(default_factory=ProductionSettings)


@dataclass(frozen=True, slots=True)
class GitHubIssueSettings:
    """``alerts.github_issue``: one issue per kind of drift, opened, updated and closed."""

    repo: str | None = None  # None: $GITHUB_REPOSITORY
    token_env: str = "GITHUB_TOKEN"
    api_url: str = "https://api.github.com"
    labels: tuple[str, ...] = ("llmguard-drift",)


@dataclass(frozen=True, slots=True)
class AlertsConfig:
    """The ``alerts`` section: where drift alerts go and how hard delivery tries."""

    webhook_url_env: str | None = None
    github_issue: GitHubIssueSettings | None = None
    state_dir: str | None = None  # None: <drift history>/alerts
    retries: int = 3
    backoff_s: float = 1.0
    timeout_s: float = 10.0
    worsen_factor: float = 1.5  # the same drift is alerted again once it is this much worse


@dataclass(frozen=True, slots=True)
class RedactPattern:
    """A user pattern of ``redact:``: matches become ``[REDACTED:label]``."""

    label: str
    pattern: str


@dataclass(frozen=True, slots=True)
class RedactConfig:
    """``redact:``: PII kinds and user patterns removed from every stored or sent artefact."""

    kinds: tuple[str, ...] = ()
    patterns: tuple[RedactPattern, ...] = ()

    @property
    def enabled(self) -> bool:
        return bool(self.kinds or self.patterns)


@dataclass(frozen=True, slots=True)
class Config:
    """The whole validated configuration. Paths are as written (relative to rootdir)."""

    rootdir: str
    path: str | None = None  # the file it was read from, None for built-in defaults
    golden_sets: tuple[str, ...] = ("golden_sets/",)
    targets: Mapping[str, TargetConfig] = field(default_factory=dict)
    compare: CompareConfig | None = None
    pricing: Mapping[str, Price] = field(default_factory=dict)
    run: RunConfig = field(default_factory=RunConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    budgets: tuple[Budget, ...] = ()
    gate: GateConfig = field(default_factory=GateConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    quality: QualitySettings = field(default_factory=QualitySettings)
    history: HistoryConfig = field(default_factory=HistoryConfig)
    # Provider sections (e.g. ``sim:``): checked by their provider, kept as written.
    sections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    logs: LogsConfig = field(default_factory=LogsConfig)
    drift: DriftConfig = field(default_factory=DriftConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    redact: RedactConfig = field(default_factory=RedactConfig)

    def unimplemented_notes(self) -> list[str]:
        """Said when the config uses a key this version does not fully act on yet."""
        return []

    @property
    def drift_history(self) -> str:
        """Where the nightly runs are kept: ``drift.history``, else the run store's folder."""
        return self.drift.history or self.history.dir

    @property
    def sim(self) -> Mapping[str, Any]:
        """The simulator's section (``sim:``), as written."""
        return self.sections.get("sim", {})
