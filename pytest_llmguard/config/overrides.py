"""Command-line (and ini) overrides of the configuration, applied once, checked once.

``apply_options`` returns a new ``Config`` in which every override has taken effect, so
downstream code reads one source of truth (``config.run.concurrency`` is the concurrency,
whoever set it). Options that do not change the config (where reports go, what the
baseline is) stay on ``Options`` for the session.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pytest_llmguard.config.records import CACHE_MODES, Config
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
    drift: bool = False  # the nightly drift check after the run (drift.history, alerts)
    alerts: bool = True  # with drift: send alerts (False: judge and store only)


def apply_options(config: Config, options: Options) -> tuple[Config, tuple[str, ...]]:
    """``config`` with the options' overrides applied, and the names of the targets to run.

    ``--llmguard-target NAME`` runs only the named targets (the judge and embeddings
    targets stay configured: they score, they are not replayed); ``NAME=MODEL`` swaps a
    model. ConfigError for a bad option value.
    """
    if options.cache_mode is not None and options.cache_mode not in CACHE_MODES:
        raise ConfigError(
            f"--llmguard-cache={options.cache_mode} is not a cache mode",
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
                    f"--llmguard-target names unknown target '{name}'"
                    + did_you_mean_hint(name, targets),
                    hint=f"configured targets: {', '.join(targets) or '(none)'}",
                )
            if model:
                targets[name] = replace(targets[name], model=model)
            else:
                keep.append(name)
    selected = tuple(n for n in targets if not keep or n in keep)
    return replace(config, run=run, cache=cache, targets=targets), selected
