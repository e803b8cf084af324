"""Command-line (and ini) overrides of the configuration, applied once, checked once.

``apply_options`` returns a new ``Config`` in which every override has taken effect, so
downstream code reads one source of truth (``config.run.concurrency`` is the concurrency,
whoever set it). Options that do not change the config (where reports go, what the
baseline is) stay on ``Options`` for the session.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from pytest_llmguard.config.records import CACHE_MODES, Config, LogSourceConfig
from pytest_llmguard.exceptions import ConfigError
from pytest_llmguard.suggest import did_you_mean_hint


@dataclass(frozen=True, slots=True)
class Options:
    """Command-line / ini overrides of the config (None = keep the config's value)."""

    targets: tuple[str, ...] = ()  # "NAME" selects, "NAME=MODEL" overrides a model
    baseline: str | None = None  # a saved run's path, or from the run store: latest, id, commit
    save_path: str | None = None  # save the run to this file
    save_to_store: bool = False  # save the run into the run store (history.dir)
    cache_mode: str | None = None
    report_json: str | None = None
    report_markdown: str | None = None
    report_html: str | None = None
    repeat: int | None = None
    concurrency: int | None = None
    shard: tuple[int, int] | None = None  # (index, count): run only this shard's cases
    logs: tuple[str, ...] = ()  # log files or globs, replacing logs.sources (format: auto)
    sample: int | None = None  # logs.sample.n
    drift: bool = False  # the nightly drift check after the run (drift.history, alerts)
    alerts: bool = True  # with drift: send alerts (False: judge and store only)
    # How the user set each option (``--llmguard-target`` or ``ini option llmguard_target``),
    # so an error names what they wrote; by option suffix, the flag when absent.
    labels: Mapping[str, str] = field(default_factory=dict)

    def label(self, suffix: str) -> str:
        return self.labels.get(suffix, f"--llmguard-{suffix}")

    @property
    def selected_targets(self) -> tuple[str, ...]:
        """The targets named to run (``NAME``), not those only given a model (``NAME=MODEL``)."""
        names = (item.strip() for raw in self.targets for item in raw.split(","))
        return tuple(name for name in names if name and "=" not in name)


def as_set(label: str, value: object) -> str:
    """How the user wrote an option: ``--llmguard-cache bogus`` or
    ``ini option llmguard_cache = bogus`` (``label`` from ``Options.label``)."""
    return f"{label} = {value}" if label.startswith("ini ") else f"{label} {value}"


def apply_options(config: Config, options: Options) -> tuple[Config, tuple[str, ...]]:
    """``config`` with the options' overrides applied, and the names of the targets to run.

    ``--llmguard-target NAME`` runs only the named targets (the judge and embeddings
    targets stay configured: they score, they are not replayed); ``NAME=MODEL`` swaps a
    model. ConfigError for a bad option value.
    """
    if options.cache_mode is not None and options.cache_mode not in CACHE_MODES:
        raise ConfigError(
            f"{as_set(options.label('cache'), options.cache_mode)}: not a cache mode",
            hint=f"valid modes: {', '.join(CACHE_MODES)}",
        )
    run = config.run
    if options.concurrency:
        run = replace(run, concurrency=options.concurrency)
    if options.repeat:
        run = replace(run, repeat=options.repeat)
    cache = config.cache
    if options.cache_mode:
        cache = replace(cache, mode=options.cache_mode)
    targets = dict(config.targets)
    keep: list[str] = []
    for raw in options.targets:
        for item in raw.split(","):
            name, _, model = item.strip().partition("=")
            if not name:
                continue
            if name not in targets:
                raise ConfigError(
                    f"{options.label('target')} names unknown target '{name}'"
                    + did_you_mean_hint(name, targets),
                    hint=f"configured targets: {', '.join(targets) or '(none)'}",
                )
            if model:
                targets[name] = replace(targets[name], model=model)
            else:
                keep.append(name)
    selected = tuple(n for n in targets if not keep or n in keep)
    logs = config.logs
    if options.logs:
        logs = replace(logs, sources=tuple(LogSourceConfig(path=g) for g in options.logs))
    if options.sample:
        logs = replace(logs, sample=replace(logs.sample, n=options.sample))
    compare = config.compare
    if compare is not None and compare.production_baseline(targets) and not logs.enabled:
        raise ConfigError(
            "compare.baseline is 'production' (what the logs recorded), but no logs are configured",
            hint="add logs: {sources: [{path: logs/*.jsonl}]}, or pass --llmguard-logs GLOB",
            docs="replaying-production-logs",
        )
    changed = replace(config, run=run, cache=cache, targets=targets, logs=logs)
    return changed, selected
